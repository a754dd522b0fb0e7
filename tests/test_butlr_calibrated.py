"""Traffic rooms show Butlr's calibrated occupancy; floors and zones their own series.

Written from butlr-push.md §4 (calibrated ``traffic_room_occupancy`` and
``traffic_floor_occupancy``, ``zone_occupancy``; absolute start and stop,
1-minute windows with the median, the site's time zone, ``"calibrated":
"true"``), and seed 000 for the door-line count, which stays as an option
and as the fallback. Answers are served verbatim.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import logging
from typing import Any

from aiohttp import ClientSession
import pytest

from custom_components.space_occupancy.providers import (
    ButlrClient,
    ButlrLogin,
    ClientContext,
    HourStat,
    ProviderAuthError,
    ProviderRateLimitError,
)

from .conftest import SimulatorServer
from .simulator.butlr import ACCOUNT
from .test_butlr_answer_shapes import point, wire
from .test_butlr_counting import floor, graphql, presence, room, sensor, serve, traffic
from .test_provider_butlr import NOW, Clock, make_client

LOGGER_NAME = "custom_components.space_occupancy.providers.butlr"
# Local midnight in New York on NOW's day (EDT, UTC−4).
MIDNIGHT = datetime(2024, 6, 12, 4, 0, tzinfo=UTC)


def minutes(*values: float, asset: str = "room_door", **ids: str) -> dict[str, Any]:
    """One asset's 1-minute windows over the last minutes, raw points per window."""
    start = NOW - timedelta(minutes=len(values))
    return {
        wire(start + timedelta(minutes=index)): [
            point(
                value,
                start + timedelta(minutes=index),
                measurement="traffic_room_occupancy",
                **({"room_id": asset} | ids),
            )
        ]
        for index, value in enumerate(values)
    }


def one_door(**extra_floor: Any) -> dict[str, Any]:
    """A floor with a traffic room (the door) and a presence room."""
    built = floor(
        "space_f1",
        [
            room("room_door", 40, sensor("t1", "traffic")),
            room("room_desk", 4, sensor("p1")),
        ],
        capacity=60,
    )
    built.update(extra_floor)
    return graphql([built])


def series_bodies(simulator: SimulatorServer) -> list[dict[str, Any]]:
    return [
        body
        for body in simulator.butlr.report_bodies
        if not {"presence", "traffic"} & set(body["filter"]["measurements"])
    ]


async def test_traffic_room_shows_the_calibrated_series(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """Door lines drifted to more out than in: 0 by door line, 12 calibrated.

    Entries and exits today are the door lines' still; the floor sums its rooms.
    """
    serve(
        simulator,
        one_door(),
        presence(room_desk={"p1": 2}),
        traffic(room_door=(30, 75)),
    )
    simulator.butlr.series_payload = {
        "data": {"room_door": minutes(11, 12, 40, 12, 13)}
    }
    snapshot = await make_client(session, simulator, Clock(NOW)).async_fetch()
    door = snapshot.readings["room_door"]
    # The median of the last five minutes: one odd minute does not move it.
    assert (door.occupancy, door.entries_today, door.exits_today) == (12, 30, 75)
    assert door.percentage == 30.0
    assert snapshot.readings["space_f1"].occupancy == 14
    [body] = series_bodies(simulator)
    assert body == {
        "group_by": {"raw": True},
        "window": {"every": "1m", "function": "median", "timezone": "America/New_York"},
        "filter": {
            "start": "2024-06-12T14:55:00Z",
            "stop": "2024-06-12T15:00:00Z",
            "measurements": ["traffic_room_occupancy"],
            "value": {"gte": 0},
            "calibrated": "true",
        },
    }


async def test_door_line_count_until_the_series_has_a_value_today(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """No calibrated value yet: the door-line count. Then the day's last value stands.

    A traffic occupancy changes only when someone crosses a door line: a quiet
    series (or a failed report) keeps the day's last value until local
    midnight, when the door-line count is back until the first value.
    """
    serve(
        simulator, one_door(), presence(room_desk={"p1": 0}), traffic(room_door=(9, 4))
    )
    simulator.butlr.series_payload = {"data": {}}
    clock = Clock(NOW)
    client = make_client(session, simulator, clock)
    assert (await client.async_fetch()).readings["room_door"].occupancy == 5

    simulator.butlr.series_payload = {"data": {"room_door": minutes(7)}}
    clock.advance(minutes=1)
    assert (await client.async_fetch()).readings["room_door"].occupancy == 7

    simulator.butlr.series_payload = {"data": []}
    clock.advance(hours=3)
    assert (await client.async_fetch()).readings["room_door"].occupancy == 7
    simulator.butlr.report_refusals = {"traffic_room_occupancy": 502}
    clock.advance(minutes=1)
    assert (await client.async_fetch()).readings["room_door"].occupancy == 7
    simulator.butlr.report_refusals = {}

    # After local midnight: a new day, door lines from zero.
    simulator.butlr.traffic_payload = traffic(room_door=(1, 0))
    clock.now = MIDNIGHT + timedelta(days=1, minutes=5)
    assert (await client.async_fetch()).readings["room_door"].occupancy == 1


async def test_the_door_line_count_option(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """With the option, traffic rooms show in minus out; no calibrated report is sent."""
    serve(
        simulator,
        one_door(),
        presence(room_desk={"p1": 1}),
        traffic(room_door=(30, 75)),
    )
    simulator.butlr.series_payload = {"data": {"room_door": minutes(12)}}
    counting = {"door_line": True}
    client = ButlrClient(
        ClientContext(
            session=session,
            default_timezone=lambda: "Europe/Paris",
            clock=Clock(NOW),
            door_line_count=lambda: counting["door_line"],
        ),
        ButlrLogin(ACCOUNT[0], ACCOUNT[1]),
        simulator.base_url,
    )
    snapshot = await client.async_fetch()
    assert snapshot.readings["room_door"].occupancy == 0  # drifted below zero
    assert series_bodies(simulator) == []
    assert client.request_count == 4  # login, GraphQL, presence, traffic
    assert client.diagnostics()["traffic_rooms_show"] == "door-line count"

    counting["door_line"] = False  # the option turned off: read at each poll
    assert (await client.async_fetch()).readings["room_door"].occupancy == 12
    assert client.diagnostics()["traffic_rooms_show"] == "calibrated"


async def test_entrance_floor_and_zones_in_the_same_report(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """One report a poll for calibrated rooms and floors, and zones.

    The floor with main-entrance sensors shows its own calibrated series (and
    the building sums floors); zones show theirs and count in no parent.
    """
    topology = one_door(
        sensors=[
            {
                "mac_address": "e1",
                "mode": "traffic",
                "is_entrance": True,
                "is_online": True,
            }
        ],
        zones=[
            {
                "id": "zone_sofa",
                "name": "Sofa",
                "room_id": "room_desk",
                "capacity": {"max": 3, "mid": 1},
            },
            {"id": "zone_window", "name": "Window", "room_id": None},
        ],
    )
    serve(simulator, topology, presence(room_desk={"p1": 2}), traffic(room_door=(5, 1)))
    simulator.butlr.series_payload = {
        "data": {
            "room_door": minutes(3),
            "space_f1": {wire(NOW - timedelta(minutes=1)): {"median": 25, "count": 1}},
            "zone_sofa": [point(2, zone_id="zone_sofa", measurement="zone_occupancy")],
            "zone_window": [],
        }
    }
    client = make_client(session, simulator, Clock(NOW))
    snapshot = await client.async_fetch()
    readings = snapshot.readings
    assert readings["room_door"].occupancy == 3
    assert readings["space_f1"].occupancy == 25  # not 3 + 2: the entrances say 25
    assert readings["space_f1"].capacity == 60
    assert readings["building_main"].occupancy == 25
    assert (readings["zone_sofa"].occupancy, readings["zone_sofa"].percentage) == (
        2,
        66.7,
    )
    assert not readings["zone_window"].active  # no data: unknown, not 0
    assert readings["room_desk"].occupancy == 2  # its zone is not added
    [body] = series_bodies(simulator)
    assert body["filter"]["measurements"] == [
        "traffic_room_occupancy",
        "traffic_floor_occupancy",
        "zone_occupancy",
    ]
    assert body["filter"]["calibrated"] == "true"
    assert "rooms" not in body["filter"]  # the whole account: nothing to name
    assert client.request_count == 5  # login, GraphQL, presence, traffic, series
    assert client.diagnostics()["zones_polled"] == 2
    assert client.diagnostics()["entrance_floors"] == 1


async def test_picked_spaces_are_named_by_kind(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """Picked spaces: each measurement's assets under its own filter key."""
    topology = one_door(
        sensors=[{"mac_address": "e1", "mode": "traffic", "is_entrance": True}],
        zones=[{"id": "zone_sofa", "name": "Sofa", "room_id": "room_desk"}],
    )
    serve(simulator, topology, presence(room_desk={"p1": 2}), traffic(room_door=(5, 1)))
    simulator.butlr.series_payload = {"data": {}}
    client = make_client(session, simulator, Clock(NOW))
    await client.async_fetch(["space_f1"])
    [body] = series_bodies(simulator)
    assert body["filter"]["rooms"] == {"eq": ["room_door"]}
    assert body["filter"]["spaces"] == {"eq": ["space_f1"]}
    assert body["filter"]["zones"] == {"eq": ["zone_sofa"]}
    # A zone picked alone: only it, and no calibration asked.
    simulator.butlr.report_bodies.clear()
    snapshot = await client.async_fetch(["zone_sofa"])
    [body] = series_bodies(simulator)
    assert body["filter"]["measurements"] == ["zone_occupancy"]
    assert "calibrated" not in body["filter"]
    assert set(snapshot.readings) == {"zone_sofa"}


async def test_a_butlr_that_refuses_mixed_measurements(
    session: ClientSession,
    simulator: SimulatorServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """HTTP 400 to the mixed report: one report per measurement from then on."""
    topology = one_door(zones=[{"id": "zone_sofa", "name": "Sofa"}])
    serve(simulator, topology, presence(room_desk={"p1": 2}), traffic(room_door=(5, 1)))
    # The simulator answers each measurement alone (its own organisation's).
    simulator.butlr.series_payload = None
    simulator.butlr.mixes_measurements = False
    clock = Clock(NOW)
    client = make_client(session, simulator, clock)
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        await client.async_fetch()
    assert "one report per measurement" in caplog.text
    assert client.diagnostics()["series_reports_split"]
    simulator.butlr.report_bodies.clear()
    clock.advance(minutes=1)
    await client.async_fetch()
    assert sorted(
        body["filter"]["measurements"][0] for body in series_bodies(simulator)
    ) == [
        "traffic_room_occupancy",
        "zone_occupancy",
    ]


@pytest.mark.parametrize(
    ("refusal", "payload", "why"),
    [
        (None, {"data": 5}, "ProviderResponseError"),
        (404, None, "HTTP 404"),
        (503, None, "ProviderConnectionError"),
    ],
)
async def test_a_failing_series_report_is_not_the_polls_failure(
    session: ClientSession,
    simulator: SimulatorServer,
    caplog: pytest.LogCaptureFixture,
    refusal: int | None,
    payload: Any,
    why: str,
) -> None:
    """Presence and door lines stand; the failure is logged once and counted."""
    serve(
        simulator, one_door(), presence(room_desk={"p1": 2}), traffic(room_door=(9, 4))
    )
    simulator.butlr.series_payload = payload
    if refusal:
        simulator.butlr.report_refusals = {"traffic_room_occupancy": refusal}
    clock = Clock(NOW)
    client = make_client(session, simulator, clock)
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        for _ in range(2):
            snapshot = await client.async_fetch()
            clock.advance(minutes=1)
    assert snapshot.readings["room_door"].occupancy == 5
    assert snapshot.readings["room_desk"].occupancy == 2
    assert caplog.text.count("failed") == 1
    assert client.diagnostics()["series_last_failure"] == why
    assert client.diagnostics()["series_failures"] == 2


@pytest.mark.parametrize(
    ("status", "error"), [(401, ProviderAuthError), (429, ProviderRateLimitError)]
)
async def test_rejected_credentials_or_rate_limit_fail_the_poll(
    session: ClientSession,
    simulator: SimulatorServer,
    status: int,
    error: type[Exception],
) -> None:
    """Those are the account's, not the series': the poll fails as for any report."""
    serve(
        simulator, one_door(), presence(room_desk={"p1": 2}), traffic(room_door=(9, 4))
    )
    simulator.butlr.series_payload = {"data": {}}
    client = make_client(session, simulator, Clock(NOW))
    await client.async_fetch()
    simulator.butlr.report_refusals = {"traffic_room_occupancy": status}
    with pytest.raises(error):
        await client.async_fetch()


async def test_zone_values_are_held_a_little_then_unknown(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """A zone (presence, server-side) keeps its last value ten minutes, no longer."""
    topology = one_door(zones=[{"id": "zone_sofa", "name": "Sofa"}])
    serve(simulator, topology, presence(room_desk={"p1": 0}), traffic())
    zone_point = point(3, zone_id="zone_sofa", measurement="zone_occupancy")
    simulator.butlr.series_payload = {"data": [zone_point]}
    clock = Clock(NOW)
    client = make_client(session, simulator, clock)
    assert (await client.async_fetch()).readings["zone_sofa"].occupancy == 3
    simulator.butlr.series_payload = {"data": []}
    clock.advance(minutes=10)
    assert (await client.async_fetch()).readings["zone_sofa"].occupancy == 3
    clock.advance(minutes=1)
    assert not (await client.async_fetch()).readings["zone_sofa"].active


async def test_history_of_entrance_floors_and_zones(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """Their own series, mean, max and min, as live: twelve requests at most."""
    topology = one_door(
        sensors=[{"mac_address": "e1", "mode": "traffic", "is_entrance": True}],
        zones=[{"id": "zone_sofa", "name": "Sofa", "room_id": "room_desk"}],
    )
    serve(simulator, topology)
    h0 = datetime(2024, 6, 11, 12, 0, tzinfo=UTC)
    means = {
        "traffic_floor_occupancy": {"space_f1": 20},
        "zone_occupancy": {"zone_sofa": 2},
        "traffic_room_occupancy": {"room_door": 7},
    }
    asked: list[tuple[str, str]] = []

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        """Statistics per window (the window function's value), by measurement."""
        measurement = body["filter"]["measurements"][0]
        function = body["window"]["function"]
        asked.append((measurement, function))
        offset = {"mean": 0, "max": 1, "min": -1}[function]
        if measurement == "presence":
            return {"data": {"room_desk": {"p1": {wire(h0): {function: 1}}}}}
        return {
            "data": {
                asset: {wire(h0): {function: mean + offset}}
                for asset, mean in means[measurement].items()
            }
        }

    simulator.butlr.answer_hook = answer

    async def pace() -> None:
        return None

    client = make_client(session, simulator, Clock(NOW))
    history = await client.async_history(h0, h0 + timedelta(hours=1), pace)
    assert len(asked) == 12
    assert {measurement for measurement, _ in asked} == {
        "presence",
        "traffic_room_occupancy",
        "traffic_floor_occupancy",
        "zone_occupancy",
    }
    assert history["space_f1"] == {h0: HourStat(20.0, 19.0, 21.0)}
    assert history["zone_sofa"] == {h0: HourStat(2.0, 1.0, 3.0)}
    assert history["room_door"] == {h0: HourStat(7.0, 6.0, 8.0)}
    # The building sums its floor's own series; the zone is in no sum.
    assert history["building_main"] == {h0: HourStat(20.0)}
    # Counting by door line, floors sum their rooms' series, as live.
    asked.clear()
    counting = ButlrClient(
        ClientContext(session=session, clock=Clock(NOW), door_line_count=lambda: True),
        ButlrLogin(ACCOUNT[0], ACCOUNT[1]),
        simulator.base_url,
    )
    history = await counting.async_history(h0, h0 + timedelta(hours=1), pace)
    assert "traffic_floor_occupancy" not in {measurement for measurement, _ in asked}
    assert history["space_f1"] == {h0: HourStat(8.0)}  # 7 + 1
