"""Butlr topologies as real organisations send them: sensors three ways, zones, health.

Written from butlr-push.md §5: sensors carry ``id, mac_address, mode,
floor_id, room_id, is_entrance, is_online, power_type,
battery_change_by_date, last_heartbeat`` (Unix seconds), and are listed under
their room, under their floor with a ``room_id``, or in the top-level
``sensors { data }`` list; zones (``id, name, floor_id, room_id``) are listed
under floors, ``room_id`` optional. Topologies are served verbatim.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import logging
from typing import Any

from aiohttp import ClientSession
import pytest

from custom_components.space_occupancy.providers import SpaceKind
from custom_components.space_occupancy.providers.butlr_topology import (
    moment,
    parse_topology,
)
from custom_components.space_occupancy.providers.models import SensorHealth

from .conftest import SimulatorServer
from .test_butlr_counting import presence, serve, traffic
from .test_provider_butlr import NOW, Clock, make_client

LOGGER_NAME = "custom_components.space_occupancy.providers.butlr"
HEARTBEAT = 1760455326  # butlr-push.md §5.1's fixture value, Unix seconds


def sensor(
    mac: str,
    mode: Any = "presence",
    *,
    room_id: str | None = None,
    floor_id: str | None = None,
    entrance: bool = False,
    online: bool = True,
    power: str | None = None,
    battery: str | None = None,
    heartbeat: Any = None,
) -> dict[str, Any]:
    """A sensor with the fields of butlr-push.md §5.1."""
    return {
        "id": f"sensor_{mac}",
        "mac_address": mac,
        "mode": mode,
        "floor_id": floor_id,
        "room_id": room_id,
        "is_entrance": entrance,
        "is_online": online,
        "power_type": power,
        "battery_change_by_date": battery,
        "last_heartbeat": heartbeat,
    }


# One organisation: a floor with a meeting room (two presence sensors, one on
# battery, one wired), a café (a traffic sensor at its door that is also the
# floor's main entrance), a lobby door in no room (the floor's other main
# entrance), and two zones (one in the café, one on the floor).
ROOMS = {
    "room_meet": [
        sensor(
            "00-01",
            power="Battery",
            battery="2026-04-24T02:47:20.809134Z",
            heartbeat=HEARTBEAT,
        ),
        sensor("00-02", power="Wired", heartbeat=HEARTBEAT - 600, online=False),
    ],
    "room_cafe": [sensor("00-03", "traffic", entrance=True)],
}
FLOOR_SENSORS = [sensor("00-04", "traffic", entrance=True)]
ZONES = [
    {"id": "zone_sofa", "name": "Sofa", "floor_id": "space_1", "room_id": "room_cafe"},
    {"id": "zone_desks", "name": "Desks", "floor_id": "space_1", "room_id": None},
]


def organisation(listing: str) -> dict[str, Any]:
    """The organisation's topology, its sensors listed one of the three ways."""
    rooms = []
    for room_id, sensors in ROOMS.items():
        entry: dict[str, Any] = {
            "id": room_id,
            "name": room_id.removeprefix("room_").title(),
            "floor_id": "space_1",
            "capacity": {"max": 10, "mid": 5},
        }
        if listing == "rooms":
            entry["sensors"] = sensors
        rooms.append(entry)
    placed = [
        {**each, "room_id": room_id, "floor_id": "space_1"}
        for room_id, sensors in ROOMS.items()
        for each in sensors
    ]
    placed += [{**each, "floor_id": "space_1"} for each in FLOOR_SENSORS]
    floor: dict[str, Any] = {
        "id": "space_1",
        "name": "Ground floor",
        "timezone": None,
        "capacity": {"max": 0, "mid": 0},
        "rooms": rooms,
        "zones": ZONES,
    }
    if listing == "floors":
        floor["sensors"] = placed
    elif listing == "rooms":
        floor["sensors"] = FLOOR_SENSORS
    data: dict[str, Any] = {
        "sites": {
            "data": [
                {
                    "id": "site_1",
                    "name": "Campus",
                    "timezone": "America/Los_Angeles",
                    "buildings": [
                        {
                            "id": "building_1",
                            "name": "North",
                            "capacity": {"max": 0, "mid": 0},
                            "floors": [floor],
                        }
                    ],
                }
            ]
        }
    }
    if listing == "flat":
        data["sensors"] = {"data": placed}
    return {"data": data}


@pytest.mark.parametrize("listing", ["rooms", "floors", "flat"])
def test_the_three_listings_read_alike(listing: str) -> None:
    """Under rooms, under floors with room ids, or flat: the same account."""
    topology = parse_topology(organisation(listing), NOW)
    rooms = {room.id: room for room in topology.rooms}
    assert set(rooms) == {"room_meet", "room_cafe"}
    assert (rooms["room_meet"].presence_online, rooms["room_meet"].traffic_online) == (
        True,
        None,
    )
    assert rooms["room_meet"].presence_sensors == 2
    assert rooms["room_cafe"].traffic_online is True
    assert topology.spaces["room_cafe"].counts_traffic
    assert rooms["room_meet"].timezone == "America/Los_Angeles"
    # Both doors are the floor's main entrances: the floor is read from its series.
    assert [floor.id for floor in topology.entrance_floors] == ["space_1"]
    # Zones hang under their room, or their floor, and are nobody's children.
    assert topology.zones == ("zone_sofa", "zone_desks")
    assert topology.spaces["zone_sofa"].parent_id == "room_cafe"
    assert topology.spaces["zone_desks"].parent_id == "space_1"
    assert topology.spaces["zone_desks"].kind is SpaceKind.ZONE
    assert topology.spaces["zone_sofa"].timezone == "America/Los_Angeles"
    assert topology.children["space_1"] == ("room_meet", "room_cafe")
    assert "room_cafe" not in topology.children
    assert topology.unclassified == topology.unplaced == topology.duplicates == ()
    assert topology.health["room_meet"] == SensorHealth(
        sensors=2,
        offline=1,
        # The wired sensor has no battery; the other's date is the room's.
        battery_change_by=datetime(2026, 4, 24, 2, 47, 20, 809134, tzinfo=UTC),
        last_heartbeat=datetime.fromtimestamp(HEARTBEAT, UTC),
    )
    assert topology.health["room_cafe"] == SensorHealth(sensors=1, offline=0)


def test_real_organisation_shape_has_pollable_rooms() -> None:
    """Many rooms whose sensors are listed under floors only: every room is polled.

    Read naively (sensors under rooms only) such an account had no room to poll.
    """
    floors = []
    for number in range(9):
        floor_id = f"space_{number}"
        rooms = [
            {
                "id": f"room_{number}_{index}",
                "name": f"Room {index}",
                "floor_id": floor_id,
            }
            for index in range(18)
        ]
        floors.append(
            {
                "id": floor_id,
                "name": f"Floor {number}",
                "rooms": rooms,
                "sensors": [
                    sensor(
                        f"{number:02d}-{index:02d}",
                        "traffic" if index % 7 == 0 else "presence",
                        room_id=room["id"],
                    )
                    for index, room in enumerate(rooms)
                ],
            }
        )
    payload = {
        "data": {
            "sites": {
                "data": [
                    {
                        "id": "site_1",
                        "name": "HQ",
                        "buildings": [
                            {"id": "building_1", "name": "A", "floors": floors}
                        ],
                    }
                ]
            }
        }
    }
    topology = parse_topology(payload, NOW)
    assert len(topology.rooms) == 9 * 18
    assert sum(room.traffic_online is not None for room in topology.rooms) == 9 * 3


def test_a_sensor_without_a_known_mode_is_classified_or_reported() -> None:
    """is_entrance says traffic; a room's other sensors say theirs; else it is named."""
    payload = organisation("flat")
    listed = payload["data"]["sensors"]["data"]
    listed += [
        # Case and spaces do not matter.
        sensor(" Presence ", room_id="room_meet"),
        # No mode, in a room whose sensors all count presence: presence.
        sensor("00-10", None, room_id="room_meet"),
        # No mode, but a main entrance: traffic (room and floor).
        sensor("00-11", "", room_id="room_side", entrance=True),
        # No mode, in a room with no other sensor: nothing tells.
        sensor("00-12", "thermal", room_id="room_lone"),
        # A presence sensor in no room: counts nowhere.
        sensor("00-13", floor_id="space_1"),
        # A sensor of a room the topology does not have.
        sensor("00-14", room_id="room_gone"),
    ]
    floor = payload["data"]["sites"]["data"][0]["buildings"][0]["floors"][0]
    floor["rooms"] += [
        {"id": "room_side", "name": "Side door"},
        {"id": "room_lone", "name": "Lone"},
    ]
    topology = parse_topology(payload, NOW)
    rooms = {room.id: room for room in topology.rooms}
    assert rooms["room_meet"].presence_sensors == 4
    assert rooms["room_side"].traffic_online is True
    assert "room_lone" not in rooms
    assert topology.unclassified == ("00-12",)
    assert set(topology.unplaced) == {"00-13", "00-14"}
    # Its health is known all the same: it is a sensor of the room.
    assert topology.health["room_lone"].sensors == 1


async def test_unclassified_sensors_are_logged_once_and_in_diagnostics(
    session: ClientSession,
    simulator: SimulatorServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A warning names them at the first topology read, not at every refresh."""
    payload = organisation("floors")
    floor = payload["data"]["sites"]["data"][0]["buildings"][0]["floors"][0]
    floor["sensors"].append(sensor("00-12", None, room_id="room_lone"))
    floor["sensors"].append(sensor("00-13", floor_id="space_1"))
    floor["rooms"].append({"id": "room_lone", "name": "Lone"})
    serve(simulator, payload, presence(room_meet={"00-01": 1}), traffic())
    clock = Clock(NOW)
    client = make_client(session, simulator, clock)
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        await client.async_fetch()
        clock.advance(hours=1)
        await client.async_fetch()
    warnings = [
        record.getMessage()
        for record in caplog.records
        if record.name == LOGGER_NAME and record.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert "00-12" in warnings[0]
    diagnostics = client.diagnostics()
    assert diagnostics["sensors_without_mode"] == {"count": 1, "first": ["00-12"]}
    assert diagnostics["sensors_outside_rooms"] == {"count": 1, "first": ["00-13"]}


def test_a_sensor_listed_twice() -> None:
    """In its room and in the flat list: one sensor. In two rooms: the first stands."""
    payload = organisation("rooms")
    payload["data"]["sensors"] = {
        "data": [
            sensor("00-01", room_id="room_meet", floor_id="space_1"),
            sensor("00-03", "traffic", room_id="room_meet"),
        ]
    }
    topology = parse_topology(payload, NOW)
    assert topology.health["room_meet"].sensors == 2
    assert topology.duplicates == ("sensor 00-03",)
    assert {room.id: room.traffic_online for room in topology.rooms} == {
        "room_meet": None,
        "room_cafe": True,
    }


def test_zones_of_no_known_floor_and_twice_listed() -> None:
    """A zone whose floor the topology lacks is named; an id twice keeps the first."""
    payload = organisation("flat")
    payload["data"]["zones"] = {
        "data": [
            {"id": "zone_far", "name": "Far", "floor_id": "space_9"},
            {
                "id": "zone_top",
                "name": "Top",
                "floor_id": "space_1",
                "room_id": "room_9",
            },
            {"id": "zone_sofa", "name": "Again", "floor_id": "space_1"},
        ]
    }
    topology = parse_topology(payload, NOW)
    assert topology.zones == ("zone_sofa", "zone_desks", "zone_top")
    # A room the topology does not have: the zone hangs under its floor.
    assert topology.spaces["zone_top"].parent_id == "space_1"
    assert topology.spaces["zone_sofa"].name == "Sofa"
    assert "zone zone_far" in topology.unplaced
    assert "zone zone_sofa" in topology.duplicates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (HEARTBEAT, datetime.fromtimestamp(HEARTBEAT, UTC)),
        (HEARTBEAT * 1000, datetime.fromtimestamp(HEARTBEAT, UTC)),  # milliseconds
        (str(HEARTBEAT), datetime.fromtimestamp(HEARTBEAT, UTC)),
        ("2026-04-24T02:47:20Z", datetime(2026, 4, 24, 2, 47, 20, tzinfo=UTC)),
        ("2026-04-24T02:47:20", datetime(2026, 4, 24, 2, 47, 20, tzinfo=UTC)),
        ("soon", None),
        (0, None),
        (-5, None),
        (True, None),
        (None, None),
        (10**300, None),
        (float("inf"), None),
    ],
)
def test_times_of_the_topology(value: Any, expected: datetime | None) -> None:
    """Unix seconds (or milliseconds), RFC 3339 strings; anything else is unknown."""
    assert moment(value) == expected


def test_health_without_any_date() -> None:
    """Sensors that say nothing of power or heartbeat: counted, dates unknown."""
    payload = organisation("flat")
    for each in payload["data"]["sensors"]["data"]:
        each.pop("battery_change_by_date")
        each.pop("last_heartbeat")
        each.pop("is_online")
    topology = parse_topology(payload, NOW + timedelta(days=1))
    assert topology.health["room_meet"] == SensorHealth(sensors=2, offline=0)
