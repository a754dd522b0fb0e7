"""Butlr's topology (GraphQL): sites, buildings, floors, rooms, zones and sensors.

Read at setup and hourly. Sites and floors name a timezone (a site's wins);
capacity ``max`` 0 means unset. An id listed twice keeps its first listing.

Sensors come in any of three listings (butlr-push.md §5): under their room,
under their floor with a ``room_id``, or as the flat ``sensors`` list with
``room_id`` and ``floor_id``. The query asks for the flat list, the one
Butlr's own tools read sensor health from; the other two are read all the
same. A sensor whose ``mode`` is not ``presence`` or ``traffic`` is classified
from what the topology says: a floor's main entrance (``is_entrance``) counts
traffic, and a sensor in a room whose other sensors all have one mode has
theirs. Any other is named in ``unclassified`` (the client logs it once and
shows it in diagnostics); a sensor of no known room that is no entrance is
named in ``unplaced``.

What is polled: a room with presence or traffic sensors; a floor with
main-entrance traffic sensors (Butlr's ``traffic_floor_occupancy``); every
zone (``zone_occupancy`` is computed by Butlr from the floor's presence
sensors, whatever sensors the zone lists). Zones hang under their room, or
their floor, but never count in a parent's sum: they overlap their room.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
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
from .butlr_report import number
from .models import SensorHealth, Space, SpaceKind

TOPOLOGY_QUERY = """query { sites { data { id name timezone
  buildings { id name capacity { max mid }
    floors { id name timezone capacity { max mid }
      rooms { id name floor_id capacity { max mid } }
      zones { id name floor_id room_id capacity { max mid } } } } } }
  sensors { data { id mac_address mode floor_id room_id is_entrance is_online
    power_type battery_change_by_date last_heartbeat } } }"""

MODE_PRESENCE = "presence"
MODE_TRAFFIC = "traffic"
MODES = (MODE_PRESENCE, MODE_TRAFFIC)

# The topology's levels, outermost first, with the key that holds each one's children.
LEVELS: tuple[tuple[SpaceKind, str | None], ...] = (
    (SpaceKind.SITE, "buildings"),
    (SpaceKind.BUILDING, "floors"),
    (SpaceKind.FLOOR, "rooms"),
    (SpaceKind.ROOM, None),
)
# Unix times above this are in milliseconds, not seconds (the year 5138 in seconds).
_MILLISECONDS_FROM = 1e11


@dataclass(frozen=True, slots=True)
class Room:
    """What polling needs to know about one room (or one floor's main entrances)."""

    id: str
    timezone: str | None  # None: the site names none, the host's applies
    presence_online: bool | None  # None: the room has no presence sensor
    traffic_online: bool | None  # None: the room has no traffic sensor
    presence_sensors: int = 0


@dataclass(frozen=True, slots=True)
class Topology:
    """The account's spaces, what is polled of it, and each parent's children."""

    spaces: dict[str, Space]
    rooms: tuple[Room, ...]
    # Children whose readings add up to their parent's: zones are not among them.
    children: dict[str, tuple[str, ...]]
    fetched_at: datetime
    # Ids listed more than once ("room room_1", "sensor 00-01"): skipped.
    duplicates: tuple[str, ...] = ()
    # Floors with main-entrance traffic sensors (their ``traffic_online``).
    entrance_floors: tuple[Room, ...] = ()
    zones: tuple[str, ...] = ()
    # Each room's sensor health (``battery_overdue`` is judged at each poll).
    health: dict[str, SensorHealth] = field(default_factory=dict)
    # Sensors whose mode nothing tells, and sensors of no known room.
    unclassified: tuple[str, ...] = ()
    unplaced: tuple[str, ...] = ()
    # The rooms by id (a pushed event names its room).
    room_by_id: dict[str, Room] = field(default_factory=dict)


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


def moment(value: Any) -> datetime | None:
    """Read a time: Unix seconds (or milliseconds), or an RFC 3339 string."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            seconds = number(_float(value))
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    else:
        seconds = number(value)
    if seconds is None or seconds <= 0:
        return None
    if seconds >= _MILLISECONDS_FROM:
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _mode(value: Any) -> str | None:
    """Return a sensor's mode, whatever its case; None when it says none we know."""
    mode = value.strip().lower() if isinstance(value, str) else None
    return mode if mode in MODES else None


@dataclass(frozen=True, slots=True)
class _Sensor:
    """One sensor as the topology lists it."""

    key: str  # its MAC address, else its id, else where it was listed
    room_id: str | None
    floor_id: str | None
    mode: str | None
    entrance: bool
    online: bool
    wired: bool
    battery_change_by: datetime | None
    last_heartbeat: datetime | None


def _sensor(
    raw: Any, room_id: str | None, floor_id: str | None, position: str
) -> _Sensor:
    """Read one sensor; where it was listed (room, floor) wins over what it says."""
    sensor = expect_dict(raw, "sensor")
    sensor_id = sensor.get("id")
    key = optional_str(sensor.get("mac_address")) or (
        str(sensor_id) if isinstance(sensor_id, str | int) and sensor_id != "" else None
    )
    return _Sensor(
        key=key or position,
        room_id=room_id or optional_str(sensor.get("room_id")),
        floor_id=floor_id or optional_str(sensor.get("floor_id")),
        mode=_mode(sensor.get("mode")),
        entrance=sensor.get("is_entrance") is True,
        # A sensor that does not say is taken as online.
        online=sensor.get("is_online") is not False,
        wired=str(sensor.get("power_type") or "").strip().lower() == "wired",
        battery_change_by=moment(sensor.get("battery_change_by_date")),
        last_heartbeat=moment(sensor.get("last_heartbeat")),
    )


@dataclass
class _Builder:
    """Collects spaces, children, zones and sensors while the answer is walked."""

    spaces: dict[str, Space] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    zone_nodes: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    sensors: list[_Sensor] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    # Zones of no known floor: named in ``Topology.unplaced``.
    orphans: list[str] = field(default_factory=list)

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
        self.spaces[node_id] = Space(
            id=node_id,
            name=optional_str(node.get("name")) or node_id,
            kind=kind,
            parent_id=parent_id,
            capacity=_capacity(node),
            timezone=tz,
        )
        if parent_id is not None and kind is not SpaceKind.ZONE:
            self.children.setdefault(parent_id, []).append(node_id)
        return node_id

    def listed(
        self, raw_sensors: Any, room_id: str | None, floor_id: str | None
    ) -> None:
        """Take the sensors listed under a room or a floor (or the flat list)."""
        for raw in expect_list(raw_sensors or [], "sensors"):
            position = f"#{len(self.sensors) + 1}"
            self.sensors.append(_sensor(raw, room_id, floor_id, position))

    def walk(self, node: dict[str, Any], kind: SpaceKind, node_id: str) -> None:
        """Take what a floor or a room lists besides its children."""
        if kind is SpaceKind.FLOOR:
            self.listed(node.get("sensors"), None, node_id)
            for raw in expect_list(node.get("zones") or [], "zones"):
                self.zone_nodes.append((expect_dict(raw, "zone"), node_id))
        elif kind is SpaceKind.ROOM:
            floor_id = self.spaces[node_id].parent_id
            self.listed(node.get("sensors"), node_id, floor_id)


def _list_of(data: Mapping[str, Any], key: str) -> list[Any]:
    """Return a top-level list of the answer (``data.<key>.data``, or a bare list)."""
    value = data.get(key)
    if isinstance(value, dict):
        value = value.get("data")
    return expect_list(value or [], key)


def _add_zones(builder: _Builder, data: Mapping[str, Any]) -> list[str]:
    """Add the zones, under their room where the topology has it, else their floor."""
    nodes = [*builder.zone_nodes]
    nodes.extend((expect_dict(raw, "zone"), None) for raw in _list_of(data, "zones"))
    zones: list[str] = []
    for node, listed_floor in nodes:
        floor_id = listed_floor or optional_str(node.get("floor_id"))
        room_id = optional_str(node.get("room_id"))
        parent = (
            room_id
            if room_id in builder.spaces
            and builder.spaces[room_id].kind is SpaceKind.ROOM
            else floor_id
        )
        if parent not in builder.spaces:
            builder.orphans.append(f"zone {node.get('id')}")
            continue
        tz = builder.spaces[parent].timezone
        if (zone_id := builder.add(node, SpaceKind.ZONE, parent, tz)) is not None:
            zones.append(zone_id)
    return zones


@dataclass
class _Sensors:
    """The sensors of each room and floor, once every listing is read."""

    by_room: dict[str, list[_Sensor]] = field(default_factory=dict)
    entrances: dict[str, list[_Sensor]] = field(default_factory=dict)
    unplaced: list[str] = field(default_factory=list)


def _place(builder: _Builder) -> _Sensors:
    """Put each sensor in its room; main entrances count for their floor too.

    A sensor listed again in the same room is the same sensor (one listing
    under its room, one in the flat list); in another room it is a duplicate,
    and its first listing stands.
    """
    placed = _Sensors()
    rooms_of: dict[str, str | None] = {}
    spaces = builder.spaces
    for sensor in builder.sensors:
        room_id = sensor.room_id
        if room_id is not None and (
            room_id not in spaces or spaces[room_id].kind is not SpaceKind.ROOM
        ):
            room_id = None
        if sensor.key in rooms_of:
            if rooms_of[sensor.key] != room_id:
                builder.duplicates.append(f"sensor {sensor.key}")
            continue
        rooms_of[sensor.key] = room_id
        floor_id = spaces[room_id].parent_id if room_id else sensor.floor_id
        if (
            sensor.entrance
            and sensor.mode in (MODE_TRAFFIC, None)
            and floor_id in spaces
            and spaces[floor_id].kind is SpaceKind.FLOOR
        ):
            placed.entrances.setdefault(floor_id, []).append(sensor)
        if room_id is not None:
            placed.by_room.setdefault(room_id, []).append(sensor)
        elif not sensor.entrance:
            placed.unplaced.append(sensor.key)
    return placed


def _classified(
    sensors: list[_Sensor],
) -> tuple[list[tuple[_Sensor, str | None]], bool]:
    """Each sensor of a room with its mode, told where the topology does not say it.

    A main entrance counts traffic; otherwise the one mode of the room's other
    sensors, where they have one. Also returns whether a mode stayed unknown.
    """
    known = {sensor.mode for sensor in sensors if sensor.mode is not None}
    inferred = known.pop() if len(known) == 1 else None
    result = [
        (sensor, sensor.mode or (MODE_TRAFFIC if sensor.entrance else inferred))
        for sensor in sensors
    ]
    return result, any(mode is None for _, mode in result)


def _health(sensors: list[_Sensor]) -> SensorHealth:
    """Return a room's sensor health: offline sensors, next battery, last heartbeat."""
    batteries = [
        sensor.battery_change_by
        for sensor in sensors
        if not sensor.wired and sensor.battery_change_by is not None
    ]
    heartbeats = [sensor.last_heartbeat for sensor in sensors if sensor.last_heartbeat]
    return SensorHealth(
        sensors=len(sensors),
        offline=sum(not sensor.online for sensor in sensors),
        battery_change_by=min(batteries, default=None),
        last_heartbeat=max(heartbeats, default=None),
    )


def _room(
    room_id: str, tz: str | None, modes: list[tuple[_Sensor, str | None]]
) -> Room:
    """Return what polling needs of a room, from its sensors' modes."""
    online: dict[str, bool] = {}
    for sensor, mode in modes:
        if mode is not None:
            online[mode] = online.get(mode, False) or sensor.online
    return Room(
        id=room_id,
        timezone=tz,
        presence_online=online.get(MODE_PRESENCE),
        traffic_online=online.get(MODE_TRAFFIC),
        presence_sensors=sum(mode == MODE_PRESENCE for _, mode in modes),
    )


def _sites(payload: Any) -> tuple[dict[str, Any], list[Any]]:
    """Return a GraphQL answer's ``data`` and its list of sites (``data.sites.data``)."""
    data = expect_dict(expect_dict(payload, "GraphQL answer").get("data"), "data")
    sites = expect_list(
        expect_dict(data.get("sites"), "sites").get("data"), "sites.data"
    )
    return data, sites


def _walk(payload: Any) -> tuple[_Builder, dict[str, Any]]:
    """Walk the sites' tree depth-first, in the answer's order: four levels deep."""
    builder = _Builder()
    data, sites = _sites(payload)

    def visit(
        raw_nodes: Any, depth: int, parent_id: str | None, tz: str | None
    ) -> None:
        kind, children_key = LEVELS[depth]
        for raw in expect_list(raw_nodes, f"{kind}s"):
            node = expect_dict(raw, kind)
            # Sites and floors name a timezone; a site's wins over its floors'.
            zone_name = tz or _valid_timezone(optional_str(node.get("timezone")))
            node_id = builder.add(node, kind, parent_id, zone_name)
            if node_id is None:
                continue
            builder.walk(node, kind, node_id)
            if children_key is not None:
                visit(node.get(children_key) or [], depth + 1, node_id, zone_name)

    visit(sites, 0, None, None)
    builder.listed(_list_of(data, "sensors"), None, None)
    return builder, data


def parse_topology(payload: Any, fetched_at: datetime) -> Topology:
    """Turn the GraphQL topology answer into spaces and what is polled of them."""
    builder, data = _walk(payload)
    zones = _add_zones(builder, data)
    placed = _place(builder)
    rooms: list[Room] = []
    health: dict[str, SensorHealth] = {}
    unclassified: list[str] = []
    spaces = builder.spaces
    for room_id, sensors in placed.by_room.items():
        modes, unknown = _classified(sensors)
        if unknown:
            unclassified.extend(sensor.key for sensor, mode in modes if mode is None)
        room = _room(room_id, spaces[room_id].timezone, modes)
        health[room_id] = _health(sensors)
        if room.presence_online is not None or room.traffic_online is not None:
            rooms.append(room)
            if room.traffic_online is not None:
                spaces[room_id] = replace(spaces[room_id], counts_traffic=True)
    order = {space_id: index for index, space_id in enumerate(spaces)}
    rooms.sort(key=lambda room: order[room.id])
    entrances = [
        Room(
            id=floor_id,
            timezone=spaces[floor_id].timezone,
            presence_online=None,
            traffic_online=any(sensor.online for sensor in sensors),
        )
        for floor_id, sensors in sorted(
            placed.entrances.items(), key=lambda item: order[item[0]]
        )
    ]
    return Topology(
        spaces=spaces,
        rooms=tuple(rooms),
        children={parent: tuple(ids) for parent, ids in builder.children.items()},
        fetched_at=fetched_at,
        duplicates=tuple(builder.duplicates),
        entrance_floors=tuple(entrances),
        zones=tuple(zones),
        health={
            room_id: health[room_id]
            for room_id in sorted(health, key=order.__getitem__)
        },
        unclassified=tuple(unclassified),
        unplaced=(*placed.unplaced, *builder.orphans),
        room_by_id={room.id: room for room in rooms},
    )
