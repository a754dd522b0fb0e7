"""Every answer shape of Butlr's reporting API, read live and for history.

Written from butlr-push.md §4.3 and the seeds: ``data`` holds statistics
objects nested by the ``group_by.order`` keys (seeds 000, 001), the same
nesting with lists of raw points as leaves (``group_by.raw``), or a flat list
of raw points, each ``{field, measurement, value, time, room_id, mac_address,
timezone_offset, …}``. The readers take each shape and give the same numbers,
and tell "no data" (unknown) from 0.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import ClientSession
import pytest

from custom_components.space_occupancy.providers import ProviderResponseError
from custom_components.space_occupancy.providers.butlr_history import (
    MAX,
    MEAN,
    MIN,
    presence_series,
    room_series,
)
from custom_components.space_occupancy.providers.butlr_live import (
    occupancy_by_traffic,
    presence_by_room,
    traffic_reading,
)
from custom_components.space_occupancy.providers.butlr_report import (
    asset_values,
    group_points,
    report_data,
    statistic,
)
from custom_components.space_occupancy.providers.butlr_series import series_values

from .conftest import SimulatorServer
from .simulator.common import load_fixture
from .test_butlr_counting import floor, graphql, room, sensor, serve
from .test_provider_butlr import NOW, Clock, make_client

T0 = datetime(2025, 10, 14, 15, 0, tzinfo=UTC)


def wire(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def point(value: Any, moment: datetime = T0, **fields: Any) -> dict[str, Any]:
    """A raw point with every field of butlr-push.md §4.3 (empty where unset)."""
    raw: dict[str, Any] = {
        "building_id": "",
        "building_name": "",
        "field": "",
        "hive_id": "",
        "hive_serial": "",
        "mac_address": "",
        "measurement": "",
        "preprocessed": True,
        "room_id": "",
        "room_name": "",
        "sensor_id": "",
        "space_id": "",
        "space_name": "",
        "start": wire(moment),
        "stop": wire(moment + timedelta(minutes=1)),
        "tag_id": "",
        "time": wire(moment),
        "timezone_offset": "-7h",
        "value": value,
        "zone_id": "",
        "zone_name": "",
    }
    raw.update(fields)
    return raw


# Seed 000 as raw points: room_xxx1 10 in (4 then 6), 11 out (1, 5, 5);
# room_xxx2 10 in (6, 2, 2), 7 out (1, 1, 1, 3, 1).
SEED_TRAFFIC = {
    "room_xxx1": {"in": [4, 6], "out": [1, 5, 5]},
    "room_xxx2": {"in": [6, 2, 2], "out": [1, 1, 1, 3, 1]},
}
# Seed 001 as raw points: the last value of each sensor is what counts.
SEED_PRESENCE = {
    "room_xxx1": {"00-00-00-00-00-00-00-00": [2, 1], "00-00-00-00-00-00-00-01": [3, 2]},
    "room_xxx2": {"00-00-00-00-00-00-00-02": [1], "00-00-00-00-00-00-00-03": [2, 1]},
}


def traffic_points(shape: str) -> Any:
    """Seed 000's traffic as grouped raw points or a flat list."""
    grouped: dict[str, Any] = {}
    flat: list[dict[str, Any]] = []
    for room_id, fields in SEED_TRAFFIC.items():
        for field_name, values in fields.items():
            points = [
                point(
                    value,
                    T0 + timedelta(hours=index),
                    field=field_name,
                    measurement="traffic",
                    room_id=room_id,
                    mac_address="00-17-0d-00-00-cc-bb-aa",
                )
                for index, value in enumerate(values)
            ]
            grouped.setdefault(room_id, {})[field_name] = points
            flat.extend(points)
    return {"data": grouped if shape == "raw" else flat}


def presence_points(shape: str) -> Any:
    """Seed 001's presence as grouped raw points or a flat list (newest last)."""
    grouped: dict[str, Any] = {}
    flat: list[dict[str, Any]] = []
    for room_id, sensors in SEED_PRESENCE.items():
        for mac, values in sensors.items():
            points = [
                point(
                    value,
                    T0 + timedelta(seconds=index),
                    field="occupancy",
                    measurement="presence",
                    room_id=room_id,
                    mac_address=mac,
                )
                for index, value in enumerate(values)
            ]
            # Newest first on the wire: the reader orders by time.
            grouped.setdefault(room_id, {})[mac] = points[::-1]
            flat.extend(points[::-1])
    return {"data": grouped if shape == "raw" else flat}


@pytest.mark.parametrize("shape", ["stats", "raw", "flat"])
def test_seed_examples_in_every_shape(shape: str) -> None:
    """Seed 000: room_xxx1 = 0, room_xxx2 = 3; seed 001: 3 and 2, in every shape."""
    traffic = (
        load_fixture("butlr_traffic_seed.json")
        if shape == "stats"
        else traffic_points(shape)
    )
    counts = occupancy_by_traffic(traffic)
    assert counts == {"room_xxx1": (10, 11), "room_xxx2": (10, 7)}
    assert {
        room_id: traffic_reading(pair, True).occupancy
        for room_id, pair in counts.items()
    } == {"room_xxx1": 0, "room_xxx2": 3}
    presence = (
        load_fixture("butlr_presence_seed.json")
        if shape == "stats"
        else presence_points(shape)
    )
    assert presence_by_room(presence)[0] == {"room_xxx1": 3, "room_xxx2": 2}


def test_a_room_entry_without_in_or_out_is_unknown() -> None:
    """No in/out at all is no count (inactive); one missing field counts zero."""
    counts = occupancy_by_traffic(
        {
            "data": {
                "room_a": {},
                "room_b": {"aggregator_occupancy": {"sum": 4}},
                "room_c": {"in": {"sum": 4}},
                "room_d": {"in": [], "out": [point(2, field="out")]},
                "room_e": {"in": [point("many", field="in")]},
            }
        }
    )
    assert counts["room_a"] == counts["room_b"] == (None, None)
    assert not traffic_reading(counts["room_a"], True).active
    assert counts["room_c"] == (4, 0)
    assert counts["room_d"] == (0, 2)
    # Points without a number are unreadable, not zero.
    assert counts["room_e"] == (None, 0)
    # A room absent from the report saw nobody today (seed 000's rule).
    assert traffic_reading(None, True).occupancy == 0


def test_flat_points_without_their_keys_are_skipped() -> None:
    """A point without the grouping keys belongs nowhere; it does not break the rest."""
    grouped = group_points(
        [
            point(3, field="in", room_id="room_a"),
            point(1, field="in"),  # no room
            {"field": "out", "room_id": "room_a"},  # no value: not a point
            "not a point",
        ],
        ("room_id", "field"),
    )
    assert list(grouped) == ["room_a"]
    assert statistic(grouped["room_a"]["in"], "sum") == 3
    assert report_data({"data": [point(1, room_id="r")]}, ("room_id",)) == {
        "r": [point(1, room_id="r")]
    }
    with pytest.raises(ProviderResponseError):
        report_data({"data": [point(1)]})  # a list, and no order to group it by


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sum", 10.0),
        ("min", 1.0),
        ("max", 6.0),
        ("count", 4.0),
        ("mean", 2.5),
        ("median", 1.5),
        ("first", 6.0),
        ("last", 1.0),
        ("stddev", pytest.approx(2.0616, abs=1e-3)),
    ],
)
def test_statistics_of_raw_points_follow_their_times(name: str, expected: Any) -> None:
    """The statistic of raw points, in time order whatever the answer's order."""
    points = [
        point(1, T0 + timedelta(minutes=3)),
        point(6, T0),
        point(2, T0 + timedelta(minutes=1)),
        point(1, T0 + timedelta(minutes=2)),
        point(None, T0 + timedelta(minutes=4)),  # no number: not counted
    ]
    assert statistic(points, name) == expected


def test_no_data_is_not_zero() -> None:
    """An empty leaf has no value but a count of 0; a statistics object reads as sent."""
    assert statistic([], "last") is None
    assert statistic([], "count") == 0
    assert statistic({"last": 0}, "last") == 0
    assert statistic({"last": None}, "last") is None
    assert statistic("3", "last") is None
    assert statistic(point(4), "last") == 4  # one point alone
    # Not numbers: strings, booleans, infinities, integers no float holds.
    assert statistic([point("4"), point(True), point(float("inf"))], "sum") is None
    assert statistic([point(10**400)], "sum") is None


@pytest.mark.parametrize("shape", ["stats", "raw", "flat"])
def test_history_in_every_shape(shape: str) -> None:
    """Hourly history: statistics per window, raw points per window, or flat points."""
    h0, h1 = T0, T0 + timedelta(hours=1)
    start, stop = T0, T0 + timedelta(hours=2)
    values = {"00-01": {h0: 2.0, h1: 1.0}, "00-02": {h0: 1.0}}
    if shape == "stats":
        data: Any = {
            "room_a": {
                mac: {wire(hour): {"mean": value} for hour, value in hours.items()}
                for mac, hours in values.items()
            }
        }
    else:
        points = [
            point(
                value, hour, room_id="room_a", mac_address=mac, measurement="presence"
            )
            for mac, hours in values.items()
            for hour, value in hours.items()
        ]
        data = points
        if shape == "raw":
            data = {"room_a": {}}
            for raw in points:
                data["room_a"].setdefault(raw["mac_address"], {})[raw["time"]] = [raw]
    series = presence_series({"data": data}, MEAN, start, stop, {"room_a": 2})
    # The hour one sensor lacks is a hole, in every shape.
    assert series == {"room_a": {h0: 3.0}}


def test_history_window_of_several_raw_points_takes_the_window_function() -> None:
    """Raw samples in one window: mean, max and min are computed from them."""
    hour = wire(T0)
    payload = {"data": {"room_t": {hour: [point(2), point(6), point(4), point("x")]}}}
    start, stop = T0, T0 + timedelta(hours=1)
    assert room_series(payload, MEAN, start, stop, ["room_t"]) == {"room_t": {T0: 4.0}}
    assert room_series(payload, MAX, start, stop, ["room_t"]) == {"room_t": {T0: 6.0}}
    assert room_series(payload, MIN, start, stop, ["room_t"]) == {"room_t": {T0: 2.0}}
    flat = {"data": [point(5, T0, zone_id="zone_1", measurement="zone_occupancy")]}
    assert room_series(
        flat, MEAN, start, stop, ["zone_1"], order=("zone_id", "time")
    ) == {"zone_1": {T0: 5.0}}


def test_series_keyed_by_asset_in_every_nesting() -> None:
    """Whole spaces (rooms, floors, zones): statistics, windows, raw points, flat."""
    assets = {"room_t", "space_f", "zone_z", "zone_q", "room_empty"}
    payload = {
        "data": {
            # Windows of statistics: the median of each window.
            "room_t": {
                wire(T0): {"median": 11, "last": 40},
                wire(T0 + timedelta(minutes=1)): {"median": 12},
                wire(T0 + timedelta(minutes=2)): {"median": 13},
            },
            # One statistics object over the span.
            "space_f": {"median": 20, "count": 5},
            # Windows of raw points (group_by raw).
            "zone_z": {
                wire(T0): [point(2)],
                wire(T0 + timedelta(minutes=1)): [point(3)],
            },
            # Raw points straight under the asset.
            "zone_q": [point(0), point(0), point(1)],
            # An asset with a window and no value: no data.
            "room_empty": {wire(T0): {"median": None, "count": 0}},
            # A key that is no asset of ours: its points say whose they are.
            "room_000401": {
                wire(T0): [
                    point(7, room_id="room_t", space_id="space_f"),
                    point(9, room_id="room_other", space_id="space_f"),
                    point(5),  # no id at all: nobody's
                ]
            },
            "zone_000402": point(1, zone_id="zone_q"),
        }
    }
    values, unowned = asset_values(payload, assets, ("median", "last"))
    assert values == {
        "room_t": [11.0, 12.0, 13.0, 7.0],
        "space_f": [20.0],
        "zone_z": [2.0, 3.0],
        "zone_q": [0.0, 0.0, 1.0, 1.0],
        "room_empty": [],
    }
    # room_other's point names its floor too, but is its room's: not ours.
    assert unowned == 2
    people, _ = series_values(payload, assets)
    assert people == {"room_t": 12, "space_f": 20, "zone_z": 2, "zone_q": 0}
    assert "room_empty" not in people  # no data, not 0


def test_series_as_a_flat_list_is_read_by_each_point_ids() -> None:
    """A flat list: the measurement names the asset key, else the most specific id."""
    payload = {
        "data": [
            point(
                3,
                room_id="room_t",
                space_id="space_f",
                measurement="traffic_room_occupancy",
            ),
            point(
                5,
                room_id="room_t",
                space_id="space_f",
                measurement="traffic_room_occupancy",
            ),
            point(30, space_id="space_f", measurement="traffic_floor_occupancy"),
            point(2, zone_id="zone_z", room_id="room_t", space_id="space_f"),
            point(4, room_id="room_x", measurement="aggregator_headcount"),
            point("n/a", room_id="room_t"),
            "junk",
        ]
    }
    people, unowned = series_values(payload, {"room_t", "space_f", "zone_z"})
    assert people == {"room_t": 4, "space_f": 30, "zone_z": 2}
    assert unowned == 2  # room_x's point and the junk
    assert series_values({"data": None}, {"room_t"}) == ({}, 0)
    with pytest.raises(ProviderResponseError):
        series_values({"data": 5}, {"room_t"})


@pytest.mark.parametrize("shape", ["raw", "flat"])
async def test_raw_answers_through_the_client(
    session: ClientSession, simulator: SimulatorServer, shape: str
) -> None:
    """Flat or raw answers to the live reports: the poll reads them, never fails."""
    serve(
        simulator,
        graphql(
            [
                floor(
                    "space_f1",
                    [
                        room("room_xxx1", 0, sensor("t1", "traffic")),
                        room("room_xxx2", 0, sensor("t2", "traffic")),
                        room("room_p1", 0, sensor("p1")),
                    ],
                )
            ]
        ),
        presence_report={
            "data": [point(4, room_id="room_p1", mac_address="p1", field="occupancy")]
            if shape == "flat"
            else {"room_p1": {"p1": [point(4, field="occupancy")]}}
        },
        traffic_report=traffic_points(shape),
    )
    snapshot = await make_client(session, simulator, Clock(NOW)).async_fetch()
    readings = snapshot.readings
    assert (readings["room_xxx1"].occupancy, readings["room_xxx2"].occupancy) == (0, 3)
    assert readings["room_xxx2"].entries_today == 10
    assert readings["room_p1"].occupancy == 4
