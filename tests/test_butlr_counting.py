"""How Butlr's spaces are counted: roll-ups, glitches, presence, duplicates, reports.

Written from the seeds (000 traffic, 001 presence) and reference/providers.md:
topologies are GraphQL answers of the documented shape, served verbatim, and
reports are the documented ``{"data": {room: {field or MAC: {statistics}}}}``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import gc
import logging
from typing import Any

from aiohttp import ClientSession
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.space_occupancy.providers import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderRateLimitError,
    ProviderResponseError,
    Reading,
)

from .conftest import SimulatorServer, setup_entry
from .simulator.butlr import demo_scenario, paris_lobby
from .simulator.common import load_fixture
from .test_provider_butlr import NOW, Clock, make_client

LOGGER_NAME = "custom_components.space_occupancy.providers.butlr"

# --- Documented shapes ------------------------------------------------------------


def sensor(mac: str, mode: str = "presence", online: bool = True) -> dict[str, Any]:
    """A sensor of the topology query."""
    return {"mac_address": mac, "mode": mode, "is_online": online}


def room(room_id: str, capacity: int = 0, *sensors: dict[str, Any]) -> dict[str, Any]:
    """A room of the topology query; capacity 0 is Butlr's "unset"."""
    return {
        "id": room_id,
        "name": room_id,
        "floor_id": "space_f1",
        "capacity": {"max": capacity, "mid": capacity // 2},
        "sensors": list(sensors),
    }


def floor(
    floor_id: str, rooms: list[dict[str, Any]], capacity: int = 0
) -> dict[str, Any]:
    """A floor (``space_`` id) of the topology query."""
    return {
        "id": floor_id,
        "name": floor_id,
        "timezone": None,
        "capacity": {"max": capacity, "mid": capacity // 2},
        "rooms": rooms,
    }


def graphql(
    floors: list[dict[str, Any]],
    timezone: str | None = "America/New_York",
    building_capacity: int = 0,
) -> dict[str, Any]:
    """A topology answer: one site, one building holding the floors."""
    return {
        "data": {
            "sites": {
                "data": [
                    {
                        "id": "site_hq",
                        "name": "HQ",
                        "timezone": timezone,
                        "buildings": [
                            {
                                "id": "building_main",
                                "name": "Main",
                                "capacity": {
                                    "max": building_capacity,
                                    "mid": building_capacity // 2,
                                },
                                "floors": floors,
                            }
                        ],
                    }
                ]
            }
        }
    }


def presence(**rooms: dict[str, int]) -> dict[str, Any]:
    """A presence report (seed 001): per room, per MAC, the statistics with ``last``."""
    return {
        "data": {
            room_id: {
                mac: {"sum": last, "min": last, "max": last, "count": 1, "last": last}
                for mac, last in sensors.items()
            }
            for room_id, sensors in rooms.items()
        }
    }


def traffic(**rooms: tuple[int, int]) -> dict[str, Any]:
    """A traffic report (seed 000): per room, the ``in`` and ``out`` sums."""
    return {
        "data": {
            room_id: {
                "in": {"sum": entries, "count": 1},
                "out": {"sum": exits, "count": 1},
            }
            for room_id, (entries, exits) in rooms.items()
        }
    }


def serve(
    simulator: SimulatorServer,
    topology: dict[str, Any],
    presence_report: Any = None,
    traffic_report: Any = None,
) -> None:
    """Serve these answers verbatim (the scenario still handles the logins)."""
    simulator.butlr = demo_scenario(NOW)
    simulator.butlr.expires_in = 100_000
    simulator.butlr.topology_payload = topology
    simulator.butlr.presence_payload = presence_report
    simulator.butlr.traffic_payload = traffic_report


def people(reading: Reading) -> tuple[int | None, bool]:
    return reading.occupancy, reading.active


# --- 1. Roll-ups that add up ----------------------------------------------------------


async def test_unsized_busy_room_gives_its_floor_no_percentage(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """12 people over the 4 seats of the only sized room is not a 300 % floor."""
    serve(
        simulator,
        graphql(
            [
                floor(
                    "space_f1",
                    [
                        room("room_sized", 4, sensor("m1")),
                        room("room_unsized", 0, sensor("m2")),
                    ],
                )
            ]
        ),
        presence(room_sized={"m1": 2}, room_unsized={"m2": 10}),
    )
    readings = (
        await make_client(session, simulator, Clock(NOW)).async_fetch()
    ).readings
    assert readings["room_sized"].percentage == 50.0
    for parent in ("space_f1", "building_main", "site_hq"):
        reading = readings[parent]
        assert (reading.occupancy, reading.active) == (12, True), parent
        assert (reading.capacity, reading.percentage) == (None, None), parent


async def test_inactive_room_counts_in_neither_people_nor_capacity(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """A floor of two 10-seat rooms, one without data: 3 of 10, not 3 of 20."""
    serve(
        simulator,
        graphql(
            [
                floor(
                    "space_f1",
                    [
                        room("room_a", 10, sensor("m1")),
                        room("room_b", 10, sensor("m2", online=False)),
                    ],
                )
            ]
        ),
        presence(room_a={"m1": 3}),
    )
    readings = (
        await make_client(session, simulator, Clock(NOW)).async_fetch()
    ).readings
    assert not readings["room_b"].active
    assert readings["room_b"].capacity == 10  # the room keeps its own capacity
    for parent in ("space_f1", "building_main", "site_hq"):
        reading = readings[parent]
        assert (reading.occupancy, reading.capacity, reading.percentage) == (
            3,
            10,
            30.0,
        ), parent


async def test_parent_capacity_of_its_own_wins(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """Butlr's own capacity of a floor wins; an unsized parent sums only if it can.

    The building (unsized) sums its floors' capacities only while each of its
    active floors has one: here one has none, so the building has none.
    """
    serve(
        simulator,
        graphql(
            [
                floor(
                    "space_f1",
                    [
                        room("room_sized", 4, sensor("m1")),
                        room("room_unsized", 0, sensor("m2")),
                    ],
                    capacity=50,
                ),
                floor("space_f2", [room("room_c", 0, sensor("m3"))]),
                floor("space_f3", [room("room_d", 8, sensor("m4", online=False))]),
            ]
        ),
        presence(room_sized={"m1": 2}, room_unsized={"m2": 10}, room_c={"m3": 1}),
    )
    readings = (
        await make_client(session, simulator, Clock(NOW)).async_fetch()
    ).readings
    assert (readings["space_f1"].capacity, readings["space_f1"].percentage) == (
        50,
        24.0,
    )
    assert (readings["space_f2"].capacity, readings["space_f2"].percentage) == (
        None,
        None,
    )
    # space_f3 is inactive (its one room has no data) but keeps Butlr's capacity
    # of its room in neither sum; the building's active floors are f1 and f2,
    # and f2 has no capacity: the building has none.
    assert not readings["space_f3"].active
    assert readings["space_f3"].capacity is None
    building = readings["building_main"]
    assert (building.occupancy, building.capacity, building.percentage) == (
        13,
        None,
        None,
    )


# --- 2. A glitch is not an empty room --------------------------------------------------

GLITCHES = {
    "data_null": {"data": None},
    "data_empty_object": {"data": {}},
    "data_empty_list": {"data": []},
    "room_dropped": traffic(room_other=(1, 0)),
    "entries_lower": traffic(room_door=(3, 2)),
    "exits_lower": traffic(room_door=(7, 1)),
}


@pytest.mark.parametrize(
    ("timezone", "local_midnight"),
    [
        # Midnight of the site, not of Home Assistant (Europe/Paris here).
        ("America/New_York", datetime(2024, 6, 13, 4, 0, tzinfo=UTC)),
        ("Pacific/Auckland", datetime(2024, 6, 13, 12, 0, tzinfo=UTC)),
    ],
)
@pytest.mark.parametrize("glitch", list(GLITCHES), ids=list(GLITCHES))
async def test_traffic_never_goes_down_within_the_local_day(
    session: ClientSession,
    simulator: SimulatorServer,
    timezone: str,
    local_midnight: datetime,
    glitch: str,
) -> None:
    """A report lowering today's counts makes the room inactive, never empty.

    The next consistent report restores it; after local midnight zeros are real.
    """
    clock = Clock(local_midnight - timedelta(hours=6))
    serve(
        simulator,
        graphql(
            [
                floor(
                    "space_f1",
                    [
                        room("room_door", 40, sensor("t1", "traffic")),
                        room("room_quiet", 10, sensor("t2", "traffic")),
                    ],
                )
            ],
            timezone=timezone,
        ),
        traffic_report=traffic(room_door=(7, 2)),
    )
    client = make_client(session, simulator, clock)
    snapshot = await client.async_fetch()
    door = snapshot.readings["room_door"]
    assert (door.occupancy, door.entries_today, door.exits_today) == (5, 7, 2)
    # A room nobody went through today is at zero: no row is no traffic.
    assert people(snapshot.readings["room_quiet"]) == (0, True)

    simulator.butlr.traffic_payload = GLITCHES[glitch]
    clock.advance(seconds=60)
    snapshot = await client.async_fetch()
    door = snapshot.readings["room_door"]
    assert (door.occupancy, door.active) == (None, False)
    assert (door.entries_today, door.exits_today) == (None, None)
    assert door.percentage is None
    assert people(snapshot.readings["room_quiet"]) == (0, True)
    # The floor counts the rooms it has data for, and only their capacity.
    floor_reading = snapshot.readings["space_f1"]
    assert (floor_reading.occupancy, floor_reading.capacity) == (0, 10)

    simulator.butlr.traffic_payload = traffic(room_door=(8, 2))
    clock.advance(seconds=60)
    door = (await client.async_fetch()).readings["room_door"]
    assert (door.occupancy, door.entries_today, door.exits_today) == (6, 8, 2)

    # Just after local midnight a new day starts from zero: not a glitch.
    simulator.butlr.traffic_payload = GLITCHES[glitch]
    clock.now = local_midnight + timedelta(minutes=1)
    door = (await client.async_fetch()).readings["room_door"]
    if glitch in ("entries_lower", "exits_lower"):
        # The new day's first counts stand, whatever yesterday's were.
        assert door.active
    else:
        assert (door.occupancy, door.entries_today, door.exits_today) == (0, 0, 0)
        assert door.active


async def test_traffic_day_survives_unreadable_reports(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """An unreadable report or an offline sensor does not forget today's counts."""
    clock = Clock(NOW)
    topology = graphql(
        [floor("space_f1", [room("room_door", 40, sensor("t1", "traffic"))])]
    )
    serve(simulator, topology, traffic_report=traffic(room_door=(7, 2)))
    client = make_client(session, simulator, clock)
    assert people((await client.async_fetch()).readings["room_door"]) == (5, True)

    simulator.butlr.traffic_payload = {"data": {"room_door": {"in": {"sum": "x"}}}}
    clock.advance(seconds=60)
    assert people((await client.async_fetch()).readings["room_door"]) == (
        None,
        False,
    )
    # Still below the 7 in, 2 out counted earlier today.
    simulator.butlr.traffic_payload = traffic(room_door=(3, 2))
    clock.advance(seconds=60)
    assert people((await client.async_fetch()).readings["room_door"]) == (
        None,
        False,
    )
    simulator.butlr.traffic_payload = traffic(room_door=(7, 2))
    clock.advance(seconds=60)
    assert people((await client.async_fetch()).readings["room_door"]) == (5, True)


async def test_traffic_of_another_timezone_does_not_overwrite(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """Each timezone's report keeps its own rooms, even if the API ignores the filter.

    Paris's day began at 22:00 UTC, New York's at 04:00 UTC: a New York room
    counted from Paris's midnight would hold the night's traffic too.
    """
    clock = Clock(NOW)
    simulator.butlr = demo_scenario(NOW)
    simulator.butlr.honours_room_filter = False
    cafeteria = simulator.butlr.sites[0].buildings[0].floors[0].rooms[2]
    cafeteria.traffic.append((datetime(2024, 6, 12, 2, 0, tzinfo=UTC), 10, 0))
    simulator.butlr.sites.append(
        paris_lobby(
            [
                (datetime(2024, 6, 11, 23, tzinfo=UTC), 2, 0),
                (NOW - timedelta(hours=1), 4, 1),
            ]
        )
    )
    for _ in range(3):  # whichever report comes back last
        snapshot = await make_client(session, simulator, clock).async_fetch()
        cafeteria_reading = snapshot.readings["room_cafeteria"]
        lobby = snapshot.readings["room_lobby"]
        assert (cafeteria_reading.occupancy, cafeteria_reading.entries_today) == (5, 7)
        assert (lobby.occupancy, lobby.entries_today) == (5, 6)


# --- 3. Presence from the data, not the hourly snapshot ------------------------------


async def test_presence_rows_count_whatever_the_topology_says(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """Seed 001's rooms count 3 and 2 even while the hourly topology says offline."""
    serve(
        simulator,
        graphql(
            [
                floor(
                    "space_f1",
                    [
                        room(
                            "room_xxx1",
                            0,
                            sensor("00-00-00-00-00-00-00-00", online=False),
                            sensor("00-00-00-00-00-00-00-01", online=False),
                        ),
                        room(
                            "room_xxx2",
                            0,
                            sensor("00-00-00-00-00-00-00-02", online=False),
                            sensor("00-00-00-00-00-00-00-03"),
                        ),
                        room("room_gone", 0, sensor("00-09", online=False)),
                    ],
                )
            ]
        ),
        {"data": {}},
    )
    clock = Clock(NOW)
    client = make_client(session, simulator, clock)
    readings = (await client.async_fetch()).readings
    assert people(readings["room_xxx1"]) == (None, False)
    # The sensors come back a minute later; the topology is not read again yet.
    simulator.butlr.presence_payload = load_fixture("butlr_presence_seed.json")
    clock.advance(seconds=60)
    readings = (await client.async_fetch()).readings
    assert people(readings["room_xxx1"]) == (3, True)
    assert people(readings["room_xxx2"]) == (2, True)
    # No rows and offline: inactive, not empty.
    assert people(readings["room_gone"]) == (None, False)
    assert people(readings["space_f1"]) == (5, True)
    assert len(simulator.requests_to("/api/v3/graphql")) == 1


async def test_room_without_presence_rows_uses_its_traffic(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """A room with both kinds: presence wins when it reports, else traffic counts."""
    serve(
        simulator,
        graphql(
            [
                floor(
                    "space_f1",
                    [
                        room(
                            "room_both",
                            20,
                            sensor("p1", "presence"),
                            sensor("t1", "traffic"),
                        ),
                    ],
                )
            ]
        ),
        presence(room_other={"p9": 4}),
        traffic(room_both=(7, 2)),
    )
    clock = Clock(NOW)
    client = make_client(session, simulator, clock)
    reading = (await client.async_fetch()).readings["room_both"]
    assert (reading.occupancy, reading.active, reading.percentage) == (5, True, 25.0)
    assert (reading.entries_today, reading.exits_today) == (7, 2)

    simulator.butlr.presence_payload = presence(room_both={"p1": 3})
    clock.advance(seconds=60)
    reading = (await client.async_fetch()).readings["room_both"]
    assert (reading.occupancy, reading.entries_today) == (3, 7)


# --- 4. Duplicated ids -----------------------------------------------------------------


def duplicate_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == LOGGER_NAME and "more than once" in record.getMessage()
    ]


async def test_duplicates_in_the_topology_are_skipped(
    session: ClientSession,
    simulator: SimulatorServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A room listed twice and a sensor listed in two rooms: first listing stands."""
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    serve(
        simulator,
        graphql(
            [
                floor(
                    "space_f1",
                    [
                        room("room_a", 8, sensor("m1")),
                        room("room_a", 8, sensor("m1")),
                    ],
                ),
                floor(
                    "space_f2",
                    [
                        room("room_b", 8, sensor("m1"), sensor("m2")),
                        room("room_a", 8, sensor("m7")),
                        room("room_c", 8, sensor("m1")),
                    ],
                ),
            ]
        ),
        presence(room_a={"m1": 2}, room_b={"m2": 1}),
    )
    clock = Clock(NOW)
    client = make_client(session, simulator, clock)
    for _ in range(3):
        snapshot = await client.async_fetch()
        clock.advance(minutes=30)  # the topology is read again on the way
    assert len(simulator.requests_to("/api/v3/graphql")) == 2
    assert snapshot.spaces["room_a"].parent_id == "space_f1"
    assert people(snapshot.readings["room_a"]) == (2, True)
    assert people(snapshot.readings["room_b"]) == (1, True)
    # room_c's only sensor is room_a's: it has no sensor of its own.
    assert "room_c" not in snapshot.readings
    assert people(snapshot.readings["space_f1"]) == (2, True)
    assert people(snapshot.readings["space_f2"]) == (1, True)
    records = duplicate_records(caplog)
    assert len(records) == 1  # once, not every poll nor every topology read
    assert records[0].levelno == logging.DEBUG
    assert "room room_a" in records[0].getMessage()
    assert "sensor m1" in records[0].getMessage()


async def test_sensor_twice_in_a_presence_report_counts_once(
    session: ClientSession,
    simulator: SimulatorServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A MAC address under two rooms of one report counts in the first only."""
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    serve(
        simulator,
        graphql(
            [
                floor(
                    "space_f1",
                    [
                        room("room_a", 0, sensor("m1")),
                        room("room_b", 0, sensor("m2")),
                    ],
                )
            ]
        ),
        presence(room_a={"m1": 2}, room_b={"m1": 2, "m2": 1}),
    )
    clock = Clock(NOW)
    client = make_client(session, simulator, clock)
    for _ in range(3):
        readings = (await client.async_fetch()).readings
        clock.advance(seconds=60)
    assert people(readings["room_a"]) == (2, True)
    assert people(readings["room_b"]) == (1, True)
    assert people(readings["space_f1"]) == (3, True)
    records = duplicate_records(caplog)
    assert [record.levelno for record in records] == [logging.DEBUG]
    assert "sensor m1" in records[0].getMessage()


# --- 5. The two reports side by side -----------------------------------------------------


async def test_reports_are_sent_side_by_side(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """Presence, and every timezone's traffic and series reports, are in flight together."""
    clock = Clock(NOW)
    simulator.butlr = demo_scenario(NOW)
    simulator.butlr.reports_side_by_side = 3
    client = make_client(session, simulator, clock)
    await client.async_fetch()
    assert simulator.butlr.most_reports_in_flight == 3
    # login, GraphQL, presence, traffic, calibrated series
    assert client.request_count == 5
    clock.advance(seconds=60)
    await client.async_fetch()
    assert client.request_count == 8
    assert simulator.butlr.logins == 1

    # Two timezones: presence, two traffic and two series reports at once.
    paris = paris_lobby()
    simulator.butlr.sites.append(paris)
    simulator.butlr.reports_side_by_side = 5
    simulator.butlr.most_reports_in_flight = 0
    await make_client(session, simulator, clock).async_fetch()
    assert simulator.butlr.most_reports_in_flight == 5


async def test_one_login_for_reports_side_by_side(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """All reports need a new token at once (renewal, rejection): one login each time."""
    clock = Clock(NOW)
    simulator.butlr = demo_scenario(NOW)
    simulator.butlr.expires_in = 120
    simulator.butlr.reports_side_by_side = 3
    client = make_client(session, simulator, clock)
    await client.async_fetch()
    # The topology is fresh, the token is near its end: the reports renew it.
    clock.advance(seconds=95)
    await client.async_fetch()
    assert simulator.butlr.logins == 2
    simulator.butlr.revoke_tokens()
    clock.advance(seconds=10)
    snapshot = await client.async_fetch()
    assert simulator.butlr.logins == 3
    assert snapshot.readings["room_meeting"].occupancy == 3


FAILURES = [
    ({"presence": 500}, ProviderConnectionError),
    ({"presence": 429}, ProviderRateLimitError),
    ({"presence": 401}, ProviderAuthError),
    ({"presence": 400, "traffic": 502}, ProviderResponseError),
    ({"presence": 503, "traffic": 401}, ProviderConnectionError),
]


@pytest.mark.parametrize(("refusals", "error"), FAILURES)
async def test_failing_report_fails_the_poll_and_leaves_nothing_behind(
    session: ClientSession,
    simulator: SimulatorServer,
    refusals: dict[str, int],
    error: type[Exception],
) -> None:
    """The first report's failure is the poll's; the other reports are awaited too."""
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    clock = Clock(NOW)
    simulator.butlr = demo_scenario(NOW)
    simulator.butlr.expires_in = 100_000
    client = make_client(session, simulator, clock)
    await client.async_fetch()
    simulator.butlr.reports_answered.clear()
    simulator.butlr.report_refusals = refusals
    # The traffic report comes back after the presence report has failed.
    simulator.butlr.report_delays = {"traffic": 0.2}
    clock.advance(seconds=60)
    with pytest.raises(error):
        await client.async_fetch()
    assert sorted(set(simulator.butlr.reports_answered)) == [
        "presence",
        "traffic",
        "traffic_room_occupancy",
    ]
    assert simulator.butlr.reports_in_flight == 0
    pending = [
        task
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task()
        and not task.done()
        and "ButlrClient" in getattr(task.get_coro(), "__qualname__", "")
    ]
    assert pending == []
    gc.collect()
    await asyncio.sleep(0)
    assert unhandled == []
    loop.set_exception_handler(None)

    # And the next poll is whole again.
    simulator.butlr.report_refusals = {}
    simulator.butlr.report_delays = {}
    clock.advance(seconds=60)
    snapshot = await client.async_fetch()
    assert snapshot.readings["room_cafeteria"].occupancy == 5


async def test_floor_without_a_sound_capacity_is_occupied_not_full(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """In Home Assistant: no percentage, and activity ``occupied`` for the floor."""
    freezer.move_to(NOW)
    serve(
        simulator,
        graphql(
            [
                floor(
                    "space_f1",
                    [
                        room("room_sized", 4, sensor("m1")),
                        room("room_unsized", 0, sensor("m2")),
                    ],
                )
            ]
        ),
        presence(room_sized={"m1": 2}, room_unsized={"m2": 10}),
    )
    await setup_entry(hass, butlr_entry)
    assert hass.states.get("sensor.space_f1_occupancy").state == "12"
    assert hass.states.get("sensor.space_f1_activity").state == "occupied"
    assert hass.states.get("sensor.space_f1_occupancy_percentage") is None
    assert hass.states.get("sensor.room_sized_occupancy_percentage").state == "50.0"


async def test_floor_percentage_that_comes_and_goes_is_kept(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A roll-up's percentage follows its rooms' activity: unavailable, never removed.

    An entity removed and added back would lose its history each time.
    """
    freezer.move_to(NOW)
    topology = graphql(
        [
            floor(
                "space_f1",
                [
                    room("room_sized", 4, sensor("m1")),
                    room("room_unsized", 0, sensor("m2")),
                ],
            )
        ]
    )
    # The unsized room reports nothing: the floor's capacity is the sized room's.
    serve(simulator, topology, presence(room_sized={"m1": 2}))
    await setup_entry(hass, butlr_entry)
    assert hass.states.get("sensor.space_f1_occupancy_percentage").state == "50.0"

    simulator.butlr.presence_payload = presence(
        room_sized={"m1": 2}, room_unsized={"m2": 10}
    )
    for _ in range(61):  # past the hourly topology read, where entities are decided
        freezer.tick(timedelta(seconds=60))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get("sensor.space_f1_activity").state == "occupied"
    assert hass.states.get("sensor.space_f1_occupancy_percentage").state == (
        STATE_UNAVAILABLE
    )

    simulator.butlr.presence_payload = presence(room_sized={"m1": 3})
    freezer.tick(timedelta(seconds=60))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get("sensor.space_f1_occupancy_percentage").state == "75.0"
