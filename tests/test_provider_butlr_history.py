"""Butlr's hourly history, read from answers shaped as providers.md shows them.

``group_by.order`` ending in ``time``: each room (or sensor) holds one object
per window start (RFC 3339 UTC) with the statistics ``sum, min, max, count,
mean, median, stddev, first, last``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import ClientSession
import pytest

from custom_components.space_occupancy.providers import (
    ButlrClient,
    ButlrLogin,
    ClientContext,
    HistoryProvider,
    HourStat,
    ProviderResponseError,
)
from custom_components.space_occupancy.providers.butlr_history import (
    MAX,
    MEAN,
    MIN,
    history_body,
    presence_series,
    roll_up_history,
    room_history,
    room_series,
)

from .conftest import SimulatorServer
from .simulator.butlr import ACCOUNT, ButlrScenario, demo_scenario

H0 = datetime(2024, 1, 1, 4, 0, tzinfo=UTC)
H1 = H0 + timedelta(hours=1)
H2 = H0 + timedelta(hours=2)
START, STOP = H0, H0 + timedelta(hours=3)


def stats(value: float) -> dict[str, float]:
    """One window's statistics: every one is the window function's value."""
    return {
        "sum": value,
        "min": value,
        "max": value,
        "count": 1,
        "mean": value,
        "median": value,
        "stddev": 0,
        "first": value,
        "last": value,
    }


def windows(**values: float) -> dict[str, Any]:
    """``{"2024-01-01T04:00:00Z": stats, ...}`` from h0=…, h1=…, h2=…."""
    hours = {"h0": H0, "h1": H1, "h2": H2}
    return {
        hours[key].strftime("%Y-%m-%dT%H:%M:%SZ"): stats(value)
        for key, value in values.items()
    }


def test_presence_mean_is_the_sum_of_the_sensors_means() -> None:
    """Two sensors: their hourly means add up; an hour one of them lacks is a hole."""
    payload = {
        "data": {
            "room_a": {
                "00-01": windows(h0=1.5, h1=2, h2=0.25),
                "00-02": windows(h0=1, h1=0.5),
            },
            "room_b": {"00-03": windows(h0=3)},
            "room_unknown": {"00-09": windows(h0=7)},
        }
    }
    rooms = {"room_a": 2, "room_b": 1}
    assert presence_series(payload, MEAN, START, STOP, rooms) == {
        "room_a": {H0: 2.5, H1: 2.5},
        "room_b": {H0: 3.0},
    }
    # Extremes only where a room has one presence sensor.
    assert presence_series(payload, MAX, START, STOP, rooms) == {"room_b": {H0: 3.0}}


def test_presence_skips_a_sensor_listed_under_a_second_room() -> None:
    """A repeated MAC address counts once, in the first room that lists it."""
    payload = {
        "data": {
            "room_a": {"00-01": windows(h0=2)},
            "room_b": {"00-01": windows(h0=2), "00-02": windows(h0=1)},
        }
    }
    assert presence_series(payload, MEAN, START, STOP, {"room_a": 1, "room_b": 2}) == {
        "room_a": {H0: 2.0},
        "room_b": {H0: 1.0},
    }


@pytest.mark.parametrize(
    "key",
    [
        "2024-01-01T04:30:00Z",  # not a window on the hour
        "2024-01-01T03:00:00Z",  # before the range
        "2024-01-01T07:00:00Z",  # at its end
        "2024-01-01T04:00:00",  # no zone
        "yesterday",
        17,
        # Out of the calendar once in UTC (astimezone raises OverflowError).
        "9999-12-31T23:00:00-01:00",
        "0001-01-01T00:00:00+01:00",
    ],
)
def test_windows_outside_the_hours_asked_for_are_ignored(key: Any) -> None:
    """Only window starts on a UTC hour within the range count."""
    payload = {
        "data": {"room_c": {key: stats(4), "2024-01-01T05:00:00+00:00": stats(2)}}
    }
    assert room_series(payload, MEAN, START, STOP, ["room_c"]) == {"room_c": {H1: 2.0}}


@pytest.mark.parametrize(
    "value",
    # 10**400: too large for a float (math.isfinite raises OverflowError).
    [
        -1,
        float("nan"),
        float("inf"),
        "3",
        None,
        True,
        2_000_000,
        pytest.param(10**400, id="10**400"),
    ],
)
def test_values_that_are_not_people_are_holes(value: Any) -> None:
    """Negative, non-finite, non-numeric or absurd values: the hour is left out."""
    payload = {"data": {"room_c": {"2024-01-01T04:00:00Z": {"mean": value}}}}
    assert room_series(payload, MEAN, START, STOP, ["room_c"]) == {"room_c": {}}


def test_no_data_means_no_hours_and_a_wrong_shape_is_an_error() -> None:
    """``data`` null or [] holds no rows; anything but an object is an error."""
    for payload in ({"data": None}, {"data": []}, {}):
        assert room_series(payload, MEAN, START, STOP, ["room_c"]) == {}
    with pytest.raises(ProviderResponseError):
        room_series({"data": "x"}, MEAN, START, STOP, ["room_c"])
    with pytest.raises(ProviderResponseError):
        room_series([], MEAN, START, STOP, ["room_c"])


def test_room_history_keeps_extremes_only_where_they_bracket_the_mean() -> None:
    """An hour needs its mean; extremes that disagree with it are left out."""
    history = room_history(
        {"room_c": {H0: 20.0, H1: 5.0, H2: 1.0}},
        {"room_c": {H0: 30.0, H1: 4.0}},
        {"room_c": {H0: 10.0, H1: 0.0, H2: 0.0}},
    )
    assert history == {
        "room_c": {
            H0: HourStat(mean=20.0, min=10.0, max=30.0),
            H1: HourStat(mean=5.0),  # a max below the mean: not shown
            H2: HourStat(mean=1.0),  # no max: no extremes
        }
    }


def test_roll_up_sums_the_means_of_the_rooms_that_have_the_hour() -> None:
    """Floors and up: the sum of their rooms' means, without extremes."""
    history = {
        "room_a": {H0: HourStat(2.0, 1.0, 3.0), H1: HourStat(1.0)},
        "room_b": {H0: HourStat(0.5)},
    }
    roll_up_history(
        history,
        {
            "site": ("building",),
            "building": ("floor", "empty_floor"),
            "floor": ("room_a", "room_b", "room_without_data"),
        },
    )
    assert history["floor"] == {H0: HourStat(2.5), H1: HourStat(1.0)}
    assert history["site"] == history["building"] == history["floor"]
    assert "empty_floor" not in history


def test_request_bodies() -> None:
    """Absolute UTC times, hourly windows, the statistic as the window function."""
    assert history_body("presence", MAX, START, STOP) == {
        "group_by": {"order": ["room_id", "mac_address", "time"]},
        "window": {"every": "1h", "function": "max"},
        "filter": {
            "start": "2024-01-01T04:00:00Z",
            "stop": "2024-01-01T07:00:00Z",
            "measurements": ["presence"],
            "value": {"gte": 0},
        },
    }
    body = history_body("traffic_room_occupancy", MIN, START, STOP)
    assert body["group_by"] == {"order": ["room_id", "time"]}
    assert body["filter"]["calibrated"] == "true"


async def test_client_reads_each_statistic_once_per_kind_of_room(
    simulator: SimulatorServer, session: ClientSession
) -> None:
    """The demo has presence rooms (one with a single sensor) and a traffic room."""
    scenario: ButlrScenario = demo_scenario(H0)
    simulator.butlr = scenario
    for room in scenario.rooms():
        for sensor in room.sensors:
            sensor.history = [(H0 + timedelta(minutes=10), 2), (H1, 4)]
        room.occupancy_history = [(H0, 6), (H0 + timedelta(minutes=30), 2)]
    client = ButlrClient(
        ClientContext(session=session, clock=lambda: H0 + timedelta(days=1)),
        ButlrLogin(ACCOUNT[0], ACCOUNT[1]),
        simulator.base_url,
    )
    assert isinstance(client, HistoryProvider)
    paced: list[int] = []

    async def pace() -> None:
        paced.append(client.history_request_count)

    history = await client.async_history(H0, H2, pace)
    assert paced == [0, 1, 2, 3, 4, 5]
    assert client.history_request_count == 6
    assert [
        (body["filter"]["measurements"][0], body["window"]["function"])
        for _, body in scenario.history_requests
    ] == [
        ("presence", "mean"),
        ("presence", "max"),
        ("presence", "min"),
        ("traffic_room_occupancy", "mean"),
        ("traffic_room_occupancy", "max"),
        ("traffic_room_occupancy", "min"),
    ]
    assert history["room_meeting"] == {H0: HourStat(4.0), H1: HourStat(8.0)}
    assert history["room_focus"] == {
        H0: HourStat(2.0, 2.0, 2.0),
        H1: HourStat(4.0, 4.0, 4.0),
    }
    assert history["room_cafeteria"] == {H0: HourStat(4.0, 2.0, 6.0)}
    assert history["space_f1"] == {H0: HourStat(10.0), H1: HourStat(12.0)}
    assert "room_storage" not in history  # no sensors, no history
    assert client.diagnostics()["history_request_count"] == 6

    with pytest.raises(ValueError, match="1 to 48 hours"):
        await client.async_history(H0, H0 + timedelta(hours=49), pace)
