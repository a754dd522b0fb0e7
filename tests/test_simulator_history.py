"""The simulated Butlr's hourly history (POST /api/v3/reporting grouped by time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import random
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import ClientSession
import pytest

from custom_components.space_occupancy.providers import (
    ButlrClient,
    ButlrLogin,
    ClientContext,
)

from .conftest import NOW, SimulatorServer
from .simulator.__main__ import (
    HISTORY_KEPT,
    HISTORY_STEP,
    _site_midnight,
    advance,
    demo_simulator,
)
from .simulator.butlr import (
    ACCOUNT,
    ButlrBuilding,
    ButlrFloor,
    ButlrRoom,
    ButlrScenario,
    ButlrSensor,
    ButlrSite,
    ButlrZone,
    demo_scenario,
)

T0 = datetime(2024, 1, 1, 4, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _stats(value: float) -> dict[str, float]:
    """The statistics of one windowed value: all of them equal it, count 1."""
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


def presence_history(
    function: str, start: str | None = _iso(T0), stop: str | None = _iso(T0 + 3 * HOUR)
) -> dict[str, Any]:
    report_filter: dict[str, Any] = {"measurements": ["presence"], "value": {"gte": 0}}
    if start is not None:
        report_filter["start"] = start
    if stop is not None:
        report_filter["stop"] = stop
    return {
        "group_by": {"order": ["room_id", "mac_address", "time"]},
        "window": {"every": "1h", "function": function},
        "filter": report_filter,
    }


def occupancy_history(function: str) -> dict[str, Any]:
    return {
        "group_by": {"order": ["room_id", "time"]},
        "window": {"every": "1h", "function": function},
        "filter": {
            "start": _iso(T0),
            "stop": _iso(T0 + 3 * HOUR),
            "measurements": ["traffic_room_occupancy"],
            "calibrated": "true",
            "value": {"gte": 0},
        },
    }


def history_scenario() -> ButlrScenario:
    """Known raw points from 04:00 to 07:00 UTC; nothing between 05:00 and 06:00."""
    meeting = ButlrRoom(
        "room_meeting",
        "Meeting room",
        8,
        sensors=[
            ButlrSensor(
                "00-01",
                history=[
                    (T0 + 5 * MINUTE, 1),
                    (T0 + 20 * MINUTE, 3),
                    (T0 + 50 * MINUTE, 2),
                    (T0 + 2 * HOUR + 10 * MINUTE, 4),
                    (T0 + 3 * HOUR, 7),  # at stop: outside [start, stop)
                ],
            ),
            ButlrSensor("00-02", is_online=False, history=[(T0 + 30 * MINUTE, 5)]),
            ButlrSensor("00-09"),  # no points at all
        ],
    )
    focus = ButlrRoom(
        "room_focus",
        "Focus room",
        sensors=[ButlrSensor("00-03", history=[(T0 - timedelta(days=1), 2)])],
    )
    cafeteria = ButlrRoom(
        "room_cafeteria",
        "Cafeteria",
        40,
        # A traffic sensor's own points are no presence history.
        sensors=[ButlrSensor("00-04", "traffic", history=[(T0 + MINUTE, 9)])],
        occupancy_history=[
            (T0 + 10 * MINUTE, 10),
            (T0 + 40 * MINUTE, 20),
            (T0 + HOUR + 15 * MINUTE, 30),
            (T0 + HOUR + 45 * MINUTE, -1),  # dropped by value.gte 0
        ],
    )
    floor = ButlrFloor("space_f1", "First floor", rooms=[meeting, focus, cafeteria])
    return ButlrScenario(
        accounts={ACCOUNT[0]: ACCOUNT[1]},
        sites=[
            ButlrSite(
                "site_hq", "HQ", buildings=[ButlrBuilding("b", "Main", floors=[floor])]
            )
        ],
    )


async def _report(
    session: ClientSession, simulator: SimulatorServer, body: dict[str, Any]
) -> tuple[int, Any]:
    async with session.post(
        f"{simulator.base_url}/api/v2/login",
        json={"username": ACCOUNT[0], "password": ACCOUNT[1]},
    ) as response:
        token = (await response.json())["access_token"]
    async with session.post(
        f"{simulator.base_url}/api/v3/reporting",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("function", "first_hour", "third_hour"),
    [("mean", 2, 4), ("max", 3, 4), ("min", 1, 4), ("first", 1, 4), ("last", 2, 4)],
)
async def test_presence_history_buckets(
    session: ClientSession,
    simulator: SimulatorServer,
    function: str,
    first_hour: float,
    third_hour: float,
) -> None:
    """One key per UTC hour with points; the window function over its raw points."""
    simulator.butlr = history_scenario()
    status, payload = await _report(session, simulator, presence_history(function))
    assert status == 200
    # 05:00 has no point, room_focus none in range, 00-09 none at all, and the
    # traffic sensor is no presence sensor: all left out. Offline 00-02 is in.
    assert payload == {
        "data": {
            "room_meeting": {
                "00-01": {
                    "2024-01-01T04:00:00Z": _stats(first_hour),
                    "2024-01-01T06:00:00Z": _stats(third_hour),
                },
                "00-02": {"2024-01-01T04:00:00Z": _stats(5)},
            }
        }
    }


async def test_history_accepts_utc_offsets_and_leaves_empty_ranges_out(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    simulator.butlr = history_scenario()
    body = presence_history(
        "max",
        start=(T0 + HOUR).isoformat(),  # "+00:00", not "Z"
        stop=(T0 + 2 * HOUR).isoformat(),
    )
    assert await _report(session, simulator, body) == (200, {"data": {}})


@pytest.mark.parametrize(("function", "first_hour"), [("mean", 15), ("max", 20)])
async def test_traffic_room_occupancy_history(
    session: ClientSession, simulator: SimulatorServer, function: str, first_hour: float
) -> None:
    simulator.butlr = history_scenario()
    status, payload = await _report(session, simulator, occupancy_history(function))
    assert status == 200
    assert payload == {
        "data": {
            "room_cafeteria": {
                "2024-01-01T04:00:00Z": _stats(first_hour),
                "2024-01-01T05:00:00Z": _stats(30),
            }
        }
    }


@pytest.mark.parametrize(
    ("start", "stop"),
    [
        (_iso(T0), _iso(T0 + timedelta(hours=48, seconds=1))),  # over 48 h
        (_iso(T0), None),  # no stop
        (_iso(T0), "now()"),  # no absolute stop
        (_iso(T0 + HOUR), _iso(T0 + HOUR)),  # start == stop
        (_iso(T0 + 2 * HOUR), _iso(T0 + HOUR)),  # start after stop
        ("-2h", _iso(T0)),  # relative start
    ],
)
async def test_bad_history_ranges_are_refused(
    session: ClientSession, simulator: SimulatorServer, start: str, stop: str | None
) -> None:
    simulator.butlr = history_scenario()
    status, payload = await _report(
        session, simulator, presence_history("mean", start, stop)
    )
    assert status == 400
    assert isinstance(payload["error"], str)


async def test_48_hours_is_the_longest_range(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    simulator.butlr = history_scenario()
    body = presence_history("mean", _iso(T0), _iso(T0 + timedelta(hours=48)))
    status, _ = await _report(session, simulator, body)
    assert status == 200


async def test_history_requests_are_recorded(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """History requests (and only they) land in history_requests, in order."""
    simulator.butlr = scenario = history_scenario()
    current = {
        "group_by": {"order": ["room_id", "mac_address"]},
        "window": {"every": "1s", "function": "max"},
        "filter": {
            "start": _iso(T0),
            "stop": _iso(T0 + 2 * MINUTE),
            "measurements": ["presence"],
        },
    }
    bodies = [presence_history("mean"), current, occupancy_history("max")]
    for body in bodies:
        status, _ = await _report(session, simulator, body)
        assert status == 200
    assert scenario.report_bodies == bodies
    assert [body for _, body in scenario.history_requests] == [bodies[0], bodies[2]]
    first, second = (moment for moment, _ in scenario.history_requests)
    assert first <= second


async def test_history_refused_by_measurement(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    simulator.butlr = scenario = history_scenario()
    scenario.report_refusals["traffic_room_occupancy"] = 429
    assert (await _report(session, simulator, occupancy_history("mean")))[0] == 429
    assert (await _report(session, simulator, presence_history("mean")))[0] == 200
    assert scenario.reports_answered == ["traffic_room_occupancy", "presence"]


async def test_history_needs_a_token(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    simulator.butlr = scenario = history_scenario()
    async with session.post(
        f"{simulator.base_url}/api/v3/reporting", json=presence_history("mean")
    ) as response:
        assert response.status == 401
    assert scenario.history_requests == []


async def test_current_reports_answer_as_before(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """Reports without time grouping: the last value per sensor, traffic sums."""
    simulator.butlr = demo_scenario(NOW)
    presence = {
        "group_by": {"order": ["room_id", "mac_address"]},
        "window": {"every": "1s", "function": "max"},
        "filter": {
            "start": _iso(NOW - 2 * MINUTE),
            "stop": _iso(NOW),
            "measurements": ["presence"],
            "value": {"gte": 0},
        },
    }
    status, payload = await _report(session, simulator, presence)
    assert status == 200
    assert payload == {
        "data": {
            "room_meeting": {"00-01": _stats(2), "00-02": _stats(1)},
            "room_focus": {"00-03": _stats(0)},
        }
    }
    traffic = {
        "group_by": {"order": ["room_id", "field"]},
        "window": {"every": "1h", "function": "sum", "timezone": "America/New_York"},
        "filter": {
            "start": _iso(NOW - 3 * HOUR),
            "stop": _iso(NOW),
            "measurements": ["traffic"],
        },
    }
    status, payload = await _report(session, simulator, traffic)
    assert status == 200
    cafeteria = payload["data"]["room_cafeteria"]
    assert (cafeteria["in"]["sum"], cafeteria["out"]["sum"]) == (7, 2)
    assert simulator.butlr.history_requests == []


def test_demo_history_follows_the_weekly_profile() -> None:
    """90 days every 10 minutes, busy on weekday office hours, rooms start from it."""
    now = datetime(2024, 6, 12, 15, 3, 7, tzinfo=UTC)  # a Wednesday, 11:03 in NY
    simulator = demo_simulator(now)
    scenario = simulator.butlr
    rooms = {room.id: room for room in scenario.rooms()}
    meeting = rooms["room_meeting"].sensors
    for sensor in (*meeting, *rooms["room_focus"].sensors):
        assert len(sensor.history) == 90 * 144 + 1
        assert sensor.history[0][0] >= now - timedelta(days=90)
        assert sensor.history[1][0] - sensor.history[0][0] == HISTORY_STEP
        assert sensor.history[-1] == (now, sensor.people)
    cafeteria = rooms["room_cafeteria"]
    assert len(cafeteria.occupancy_history) == 90 * 144 + 1
    today = [
        event
        for event in cafeteria.traffic
        if event[0] >= _site_midnight(scenario.sites[0], now)
    ]
    inside = sum(event[1] for event in today) - sum(event[2] for event in today)
    assert cafeteria.occupancy_history[-1] == (now, inside)

    zone = ZoneInfo("America/New_York")
    by_time: dict[str, list[float]] = {"office": [], "night": [], "weekend": []}
    for (moment, first), (_, second) in zip(
        meeting[0].history, meeting[1].history, strict=True
    ):
        local = moment.astimezone(zone)
        people = first + second
        assert 0 <= people <= 8
        if local.weekday() >= 5:
            by_time["weekend"].append(people)
        elif 9 <= local.hour < 17:
            by_time["office"].append(people)
        elif local.hour < 6:
            by_time["night"].append(people)
    average = {key: sum(values) / len(values) for key, values in by_time.items()}
    assert average["office"] > 3
    assert average["night"] < 0.2
    assert average["weekend"] < 0.5
    # Reproducible: the same seed gives the same history.
    assert demo_simulator(now).butlr.rooms()[0].sensors[0].history == meeting[0].history


def test_demo_steps_record_and_prune_history() -> None:
    now = datetime(2024, 6, 12, 15, 3, 7, tzinfo=UTC)
    simulator = demo_simulator(now)
    rooms = {room.id: room for room in simulator.butlr.rooms()}
    later = now + HISTORY_KEPT - timedelta(days=1) + HOUR
    advance(simulator, later, random.Random(1))  # noqa: S311
    for sensor in rooms["room_meeting"].sensors:
        assert sensor.history[-1] == (later, sensor.people)
        assert sensor.history[0][0] >= later - HISTORY_KEPT
    cafeteria = rooms["room_cafeteria"]
    assert cafeteria.occupancy_history[-1][0] == later
    assert cafeteria.occupancy_history[0][0] >= later - HISTORY_KEPT


def test_demo_zones_follow_the_profile_and_step() -> None:
    """The demo's zones: 90 days of zone_occupancy, a point at every step."""
    now = datetime(2024, 6, 12, 15, 3, 7, tzinfo=UTC)
    simulator = demo_simulator(now)
    zones = simulator.butlr.sites[0].buildings[0].floors[0].zones
    assert [zone.id for zone in zones] == ["zone_sofa", "zone_window"]
    for zone in zones:
        assert len(zone.occupancy_history) == 90 * 144 + 1
        assert all(0 <= value <= zone.capacity for _, value in zone.occupancy_history)
    later = now + HOUR
    advance(simulator, later, random.Random(1))  # noqa: S311
    assert all(zone.occupancy_history[-1][0] == later for zone in zones)


@pytest.mark.parametrize("listing", ["rooms", "floors", "flat"])
@pytest.mark.parametrize("shape", ["stats", "raw", "flat"])
async def test_every_shape_and_listing_gives_the_same_account(
    session: ClientSession, simulator: SimulatorServer, shape: str, listing: str
) -> None:
    """The simulator answers each documented shape; the client reads them alike."""
    scenario = demo_scenario(NOW)
    floor = scenario.sites[0].buildings[0].floors[0]
    floor.zones = [ButlrZone("zone_sofa", "Sofa", "room_cafeteria", 4)]
    floor.zones[0].occupancy_history = [(NOW - 2 * MINUTE, 2.0), (NOW - MINUTE, 3.0)]
    floor.sensors = [ButlrSensor("e1", "traffic", is_entrance=True)]
    floor.occupancy_history = [(NOW - MINUTE, 30.0)]
    floor.rooms[2].occupancy_history = [(NOW - MINUTE, 9.0), (T0, 4.0)]
    scenario.answer_shape = shape
    scenario.sensor_listing = listing
    simulator.butlr = scenario
    client = ButlrClient(
        ClientContext(session=session, clock=lambda: NOW),
        ButlrLogin(ACCOUNT[0], ACCOUNT[1]),
        simulator.base_url,
    )
    readings = (await client.async_fetch()).readings
    assert {
        space_id: readings[space_id].occupancy
        for space_id in ("room_meeting", "room_focus", "room_cafeteria", "zone_sofa")
    } == {"room_meeting": 3, "room_focus": 0, "room_cafeteria": 9, "zone_sofa": 2}
    assert readings["room_cafeteria"].entries_today == 7
    assert readings["space_f1"].occupancy == 30

    async def pace() -> None:
        return None

    history = await client.async_history(T0, T0 + HOUR, pace)
    assert history["room_cafeteria"][T0].mean == 4.0
