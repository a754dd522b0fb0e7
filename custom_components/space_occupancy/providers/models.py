"""Provider-neutral data model: what every provider turns its wire format into."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class SpaceKind(StrEnum):
    """What a space is, in the provider's hierarchy."""

    SITE = "site"
    BUILDING = "building"
    FLOOR = "floor"
    ROOM = "room"
    # A part of a floor or room the provider counts on its own (a desk, a
    # seating area): it overlaps its room, so it is never summed into a parent.
    ZONE = "zone"
    LOCATION = "location"
    LIBRARY = "library"


@dataclass(frozen=True, slots=True)
class Space:
    """A place that has an occupancy: room, floor, location, library."""

    id: str
    name: str
    kind: SpaceKind
    parent_id: str | None = None
    capacity: int | None = None
    timezone: str | None = None
    # True where the provider counts people crossing a door line, so that
    # entries and exits since midnight exist for this space.
    counts_traffic: bool = False


@dataclass(frozen=True, slots=True)
class Reading:
    """The current state of one space."""

    occupancy: int | None
    capacity: int | None = None
    percentage: float | None = None
    active: bool = True
    observed_at: datetime | None = None
    entries_today: int | None = None
    exits_today: int | None = None
    # When the provider's answer for this space last changed, by the client's
    # own clock: the freshness of a feed whose own times cannot be trusted.
    changed_at: datetime | None = None
    # Motion in the room (Butlr's PIR events, pushed); None: never told.
    motion: bool | None = None


@dataclass(frozen=True, slots=True)
class SensorHealth:
    """The state of a space's sensors, as the provider's inventory tells it.

    ``battery_change_by``: the earliest date by which a battery of the space's
    sensors is to be replaced (None: no battery sensor with a date; wired
    sensors have none). ``last_heartbeat``: the newest sign of life of any of
    its sensors. ``battery_overdue`` is judged at each poll.
    """

    sensors: int
    offline: int
    battery_change_by: datetime | None = None
    last_heartbeat: datetime | None = None
    battery_overdue: bool = False

    @property
    def problem(self) -> bool:
        """Whether a sensor is offline or a battery is overdue."""
        return self.offline > 0 or self.battery_overdue


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one poll learned.

    ``fetched_at`` is left out of equality, so that a poll that changed nothing
    compares equal to the previous one and writes no state. ``health`` holds
    the sensor health of the spaces whose provider reports it (Butlr rooms).
    """

    spaces: Mapping[str, Space]
    readings: Mapping[str, Reading]
    fetched_at: datetime = field(compare=False)
    health: Mapping[str, SensorHealth] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Account:
    """Who the credentials belong to: the config entry's unique id and title.

    ``organisation`` holds ids of spaces only this organisation has, where a
    provider has several kinds of credentials for one organisation (Butlr).
    """

    unique_id: str
    title: str
    organisation: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class HourStat:
    """One hour of a space's occupancy: its mean, and its extremes where known."""

    mean: float
    min: float | None = None
    max: float | None = None


# A provider's history: per space, per hour start (UTC), that hour's occupancy.
type History = dict[str, dict[datetime, HourStat]]


def percentage_of(occupancy: int | None, capacity: int | None) -> float | None:
    """Occupancy as a percentage of capacity, or None when either is unknown."""
    if occupancy is None or not capacity or capacity <= 0:
        return None
    return round(occupancy * 100 / capacity, 1)


@dataclass(frozen=True, slots=True)
class Subscription:
    """The outcome of subscribing to pushes: our webhook, or the types others hold."""

    webhook_id: str | None
    taken: frozenset[str] = frozenset()
    event_types: tuple[str, ...] = ()
