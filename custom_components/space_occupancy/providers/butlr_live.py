"""What Butlr's live reports and pushes say, room by room, and the spaces above.

- Presence reports: people per room, the sum of its sensors' last counts.
- Traffic reports: entries and exits per room since local midnight.
- A room's reading of its numbers, and the roll-up of floors, buildings and
  sites as the sum of their active children (Butlr's calibrated floor series
  where it has a value).
- A pushed event's effect on a room's reading.

Pure functions over parsed answers; ``butlr.py`` asks for the reports and
keeps what must outlive a poll.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from typing import Any

from .base import whole_people
from .butlr_push import PIR_MOTION, PIR_NO_MOTION, ROOM_OCCUPANCY, TRAFFIC, PushEvent
from .butlr_report import report_data, statistic
from .butlr_topology import Room, Topology
from .models import Reading, Space, percentage_of

# Entries and exits of a traffic room: None where the report holds no number.
TrafficCounts = tuple[int | None, int | None]


# The group_by orders of the live reports (a flat answer is grouped by them).
TRAFFIC_ORDER = ("room_id", "field")
PRESENCE_ORDER = ("room_id", "mac_address")


def _field_sum(fields: Mapping[str, Any], name: str) -> int | None:
    """Return a traffic field's sum; a field with no rows counts zero (as Butlr's guide)."""
    stats = fields.get(name)
    if stats is None or stats == []:
        return 0
    if isinstance(stats, dict) and "value" not in stats:
        value = stats.get("sum")
        return 0 if value is None else whole_people(value)
    # Raw points: their values add up; points without a number are unreadable.
    return whole_people(statistic(stats, "sum"))


def _last(metrics: Any) -> int | None:
    """Return a sensor's people now: its statistics' ``last``, or its newest raw point."""
    if type(metrics) is dict and "value" not in metrics:
        return whole_people(metrics.get("last"))  # The usual leaf, as below.
    if isinstance(metrics, dict) and "value" not in metrics:
        return whole_people(metrics.get("last"))
    return whole_people(statistic(metrics, "last"))


def _room_traffic(fields: Any) -> TrafficCounts:
    """Entries and exits of one room's entry; one holding neither is unknown."""
    if not isinstance(fields, dict) or ("in" not in fields and "out" not in fields):
        return (None, None)
    return (_field_sum(fields, "in"), _field_sum(fields, "out"))


def occupancy_by_traffic(payload: Any) -> dict[str, TrafficCounts]:
    """Entries and exits per room from a traffic report (room_id, field grouping)."""
    return {
        room_id: _room_traffic(fields)
        for room_id, fields in report_data(payload, TRAFFIC_ORDER).items()
    }


def presence_by_room(payload: Any) -> tuple[dict[str, int | None], list[str]]:
    """People per room, and the sensors listed again under a later room (skipped)."""
    occupancy: dict[str, int | None] = {}
    seen: set[str] = set()
    duplicates: list[str] = []
    for room_id, sensors in report_data(payload, PRESENCE_ORDER).items():
        # The sum of the sensors that have a count; None if none has.
        people: int | None = None
        for mac_address, metrics in (
            sensors.items() if isinstance(sensors, dict) else ()
        ):
            if mac_address in seen:
                duplicates.append(f"sensor {mac_address}")
                continue
            seen.add(mac_address)
            if (value := _last(metrics)) is not None:
                people = value if people is None else people + value
        occupancy[room_id] = people
    return occupancy, duplicates


def traffic_reading(entries_exits: TrafficCounts | None, online: bool) -> Reading:
    """Return a traffic room's reading; a room absent from the report saw nobody."""
    entries, exits = entries_exits if entries_exits is not None else (0, 0)
    if entries is None or exits is None or not online:
        return Reading(occupancy=None, active=False)
    return Reading(
        occupancy=max(0, entries - exits), entries_today=entries, exits_today=exits
    )


def reading_of(
    occupancy: int | None,
    capacity: int | None,
    entries_today: int | None = None,
    exits_today: int | None = None,
) -> Reading:
    """Build a reading: active when there is an occupancy, with its percentage."""
    return Reading(
        occupancy=occupancy,
        capacity=capacity,
        percentage=percentage_of(occupancy, capacity),
        active=occupancy is not None,
        entries_today=entries_today,
        exits_today=exits_today,
    )


def roll_up(
    topology: Topology,
    readings: dict[str, Reading],
    wanted: Collection[str] | None,
    calibrated: Mapping[str, int | None],
) -> None:
    """Floors, buildings and sites (the wanted ones) hold the sum of their active children.

    People and capacity are summed over the same children: the active ones.
    A parent's capacity is Butlr's own when it has one; otherwise the sum of
    its active children's, but only when every one of them has a capacity
    (else no capacity, and no percentage, rather than a wrong one). A wanted
    parent's children are all wanted (``selection.expand``). A floor read
    from Butlr's calibrated series (``calibrated``, None while it has no
    value) shows that series where it has a value; zones are no children.
    """

    def visit(space_id: str) -> Reading | None:
        if space_id in readings:
            return readings[space_id]
        child_readings = [
            reading
            for child in topology.children.get(space_id, ())
            if (reading := visit(child)) is not None
        ]
        if not child_readings and space_id not in calibrated:
            return None
        active = [reading for reading in child_readings if reading.active]
        capacity = topology.spaces[space_id].capacity
        if capacity is None and active and all(r.capacity for r in active):
            capacity = sum(r.capacity or 0 for r in active)
        occupancy = calibrated.get(space_id)
        if occupancy is None and active:
            occupancy = sum(r.occupancy or 0 for r in active)
        reading = reading_of(occupancy, capacity)
        readings[space_id] = reading
        return reading

    for space_id in topology.spaces:
        if wanted is None or space_id in wanted:
            visit(space_id)


def ancestors_of(spaces: Mapping[str, Space], space_ids: Iterable[str]) -> set[str]:
    """Return the spaces above any of these, up to their tops."""
    found: set[str] = set()
    for space_id in space_ids:
        parent = spaces[space_id].parent_id if space_id in spaces else None
        while parent is not None and parent in spaces and parent not in found:
            found.add(parent)
            parent = spaces[parent].parent_id
    return found


def pushed_reading(room: Room, reading: Reading, event: PushEvent) -> Reading:
    """Return a room's reading after a pushed event (the same if it does not apply).

    A traffic room's people move with each crossing (presence rooms count by
    presence); the next poll brings the reports' own numbers again.
    """
    if event.type in (PIR_MOTION, PIR_NO_MOTION):
        return replace(reading, motion=event.type == PIR_MOTION)
    if event.type == ROOM_OCCUPANCY and room.presence_online is not None:
        people = event.occupancy
    elif (
        event.type == TRAFFIC
        and room.traffic_online is not None
        and reading.entries_today is not None
        and reading.exits_today is not None
    ):
        reading = replace(
            reading,
            entries_today=reading.entries_today + event.entries,
            exits_today=reading.exits_today + event.exits,
        )
        people = reading.occupancy
        if room.presence_online is None:
            people = max(0, (people or 0) + event.entries - event.exits)
    else:
        return reading
    return replace(
        reading,
        occupancy=people,
        percentage=percentage_of(people, reading.capacity),
        active=people is not None,
    )
