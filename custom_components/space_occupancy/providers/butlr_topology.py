"""Butlr's topology (GraphQL): sites, buildings, floors, rooms and their sensors.

Read at setup and hourly. Sites and floors name a timezone (a site's wins);
capacity ``max`` 0 means unset; a room is polled when it has presence or
traffic sensors. An id listed twice keeps its first listing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .base import (
    check_space_count,
    expect_dict,
    expect_id,
    expect_list,
    optional_str,
    whole_people,
)
from .models import Space, SpaceKind

TOPOLOGY_QUERY = """query { sites { data { id name timezone
  buildings { id name capacity { max mid }
    floors { id name timezone capacity { max mid }
      rooms { id name floor_id capacity { max mid }
        sensors { mac_address mode is_online } } } } } } }"""

MODE_PRESENCE = "presence"
MODE_TRAFFIC = "traffic"

# The topology's levels, outermost first, with the key that holds each one's children.
LEVELS: tuple[tuple[SpaceKind, str | None], ...] = (
    (SpaceKind.SITE, "buildings"),
    (SpaceKind.BUILDING, "floors"),
    (SpaceKind.FLOOR, "rooms"),
    (SpaceKind.ROOM, None),
)


@dataclass(frozen=True, slots=True)
class Room:
    """What polling needs to know about one room."""

    id: str
    timezone: str | None  # None: the site names none, the host's applies
    presence_online: bool | None  # None: the room has no presence sensor
    traffic_online: bool | None  # None: the room has no traffic sensor
    presence_sensors: int = 0


@dataclass(frozen=True, slots=True)
class Topology:
    """The account's spaces, its pollable rooms and each parent's children."""

    spaces: dict[str, Space]
    rooms: tuple[Room, ...]
    children: dict[str, tuple[str, ...]]
    fetched_at: datetime
    # Ids listed more than once ("room room_1", "sensor 00-01"): skipped.
    duplicates: tuple[str, ...] = ()


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo | None:
    """Return a timezone, None if there is no such zone.

    Loading a zone reads its file: the client loads the zones a topology names
    off the event loop first (``load_timezones``); this cache then keeps them.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a directory of the zone database, or a name too long for a file.
        return None


def load_timezones(payload: Any, default_timezone: str) -> None:
    """Load every timezone a topology answer names (in an executor: file I/O)."""
    zone(default_timezone)
    pending = [payload]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(name := node.get("timezone"), str) and name:
                zone(name)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)


def _valid_timezone(name: str | None) -> str | None:
    return name if name and zone(name) is not None else None


def _capacity(node: Mapping[str, Any]) -> int | None:
    """Butlr's capacity.max, where 0 (unset) means unknown."""
    capacity = node.get("capacity")
    if not isinstance(capacity, dict):
        return None
    value = whole_people(capacity.get("max"))
    return value if value else None


@dataclass
class _Builder:
    """Collects spaces, rooms and children while the answer is walked."""

    spaces: dict[str, Space] = field(default_factory=dict)
    rooms: list[Room] = field(default_factory=list)
    children: dict[str, list[str]] = field(default_factory=dict)
    sensors_seen: set[str] = field(default_factory=set)
    duplicates: list[str] = field(default_factory=list)

    def sensor_modes(self, room: Mapping[str, Any]) -> tuple[dict[str, bool], int]:
        """Return a room's sensor modes (each online or not) and its presence sensors.

        A sensor (MAC address) already listed, in this room or another, is skipped.
        """
        online: dict[str, bool] = {}
        presence_sensors = 0
        for raw_sensor in expect_list(room.get("sensors") or [], "sensors"):
            sensor = expect_dict(raw_sensor, "sensor")
            mac_address = sensor.get("mac_address")
            if isinstance(mac_address, str) and mac_address:
                if mac_address in self.sensors_seen:
                    self.duplicates.append(f"sensor {mac_address}")
                    continue
                self.sensors_seen.add(mac_address)
            mode = sensor.get("mode")
            presence_sensors += mode == MODE_PRESENCE
            if mode in (MODE_PRESENCE, MODE_TRAFFIC):
                # A sensor that does not say is taken as online.
                online[mode] = online.get(mode, False) or (
                    sensor.get("is_online") is not False
                )
        return online, presence_sensors

    def add(
        self,
        node: Mapping[str, Any],
        kind: SpaceKind,
        parent_id: str | None,
        tz: str | None,
    ) -> str | None:
        """Add one node; return its id, or None when it was listed before."""
        node_id = expect_id(node.get("id"), kind)
        if node_id in self.spaces:
            # Listed twice: the first listing stands, this one and what it
            # holds are skipped.
            self.duplicates.append(f"{kind} {node_id}")
            return None
        check_space_count(len(self.spaces) + 1)
        modes, presence_sensors = (
            self.sensor_modes(node) if kind is SpaceKind.ROOM else ({}, 0)
        )
        self.spaces[node_id] = Space(
            id=node_id,
            name=optional_str(node.get("name")) or node_id,
            kind=kind,
            parent_id=parent_id,
            capacity=_capacity(node),
            timezone=tz,
            counts_traffic=MODE_TRAFFIC in modes,
        )
        if parent_id is not None:
            self.children.setdefault(parent_id, []).append(node_id)
        if modes:
            self.rooms.append(
                Room(
                    id=node_id,
                    timezone=tz,
                    presence_online=modes.get(MODE_PRESENCE),
                    traffic_online=modes.get(MODE_TRAFFIC),
                    presence_sensors=presence_sensors,
                )
            )
        return node_id


def _sites(payload: Any) -> list[Any]:
    """Return the list of sites of a GraphQL answer (``data.sites.data``)."""
    data = expect_dict(expect_dict(payload, "GraphQL answer").get("data"), "data")
    return expect_list(
        expect_dict(data.get("sites"), "sites").get("data"), "sites.data"
    )


def parse_topology(payload: Any, fetched_at: datetime) -> Topology:
    """Turn the GraphQL topology answer into spaces and pollable rooms."""
    builder = _Builder()

    def visit(
        raw_nodes: Any, depth: int, parent_id: str | None, tz: str | None
    ) -> None:
        # Depth-first, in the answer's order: four fixed levels deep.
        kind, children_key = LEVELS[depth]
        for raw in expect_list(raw_nodes, f"{kind}s"):
            node = expect_dict(raw, kind)
            # Sites and floors name a timezone; a site's wins over its floors'.
            zone_name = tz or _valid_timezone(optional_str(node.get("timezone")))
            node_id = builder.add(node, kind, parent_id, zone_name)
            if node_id is not None and children_key is not None:
                visit(node.get(children_key) or [], depth + 1, node_id, zone_name)

    visit(_sites(payload), 0, None, None)
    return Topology(
        spaces=builder.spaces,
        rooms=tuple(builder.rooms),
        children={parent: tuple(ids) for parent, ids in builder.children.items()},
        fetched_at=fetched_at,
        duplicates=tuple(builder.duplicates),
    )
