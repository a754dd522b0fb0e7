"""What a space's entities show, from a reading and the user's options.

Pure functions and frozen data, no I/O: the coordinator and the entities share
them, and the tests can call them directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
import math
from operator import attrgetter
from typing import Any

from .const import (
    CONF_STALE_MINUTES,
    CONF_THRESHOLD_HIGH,
    CONF_THRESHOLD_LOW,
    CONF_THRESHOLD_MODERATE,
    DEFAULT_STALE_MINUTES,
    DEFAULT_THRESHOLD_HIGH,
    DEFAULT_THRESHOLD_LOW,
    DEFAULT_THRESHOLD_MODERATE,
)
from .providers import Reading, Snapshot, Space
from .providers.models import SensorHealth, percentage_of

ACTIVITY_INACTIVE = "inactive"
ACTIVITY_EMPTY = "empty"
ACTIVITY_OCCUPIED = "occupied"
ACTIVITY_LOW = "low"
ACTIVITY_MODERATE = "moderate"
ACTIVITY_HIGH = "high"
ACTIVITY_FULL = "full"
ACTIVITY_GRADED = [
    ACTIVITY_INACTIVE,
    ACTIVITY_EMPTY,
    ACTIVITY_LOW,
    ACTIVITY_MODERATE,
    ACTIVITY_HIGH,
    ACTIVITY_FULL,
]
ACTIVITY_UNGRADED = [ACTIVITY_INACTIVE, ACTIVITY_EMPTY, ACTIVITY_OCCUPIED]

# Occupancy compared with the usual one for this weekday and hour: "as usual"
# within a margin of USUAL_MARGIN_SHARE of the usual count, and never less
# than USUAL_MARGIN_PEOPLE people (one person more in an empty room is usual).
VERSUS_QUIETER = "quieter"
VERSUS_AS_USUAL = "as_usual"
VERSUS_BUSIER = "busier"
VERSUS_USUAL = [VERSUS_QUIETER, VERSUS_AS_USUAL, VERSUS_BUSIER]
USUAL_MARGIN_SHARE = 0.25
USUAL_MARGIN_PEOPLE = 1.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Upper bounds (percent of capacity) of the low, moderate and high states."""

    low: float = DEFAULT_THRESHOLD_LOW
    moderate: float = DEFAULT_THRESHOLD_MODERATE
    high: float = DEFAULT_THRESHOLD_HIGH

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Thresholds:
        """Read the thresholds from a config entry's options."""
        return cls(
            low=options.get(CONF_THRESHOLD_LOW, DEFAULT_THRESHOLD_LOW),
            moderate=options.get(CONF_THRESHOLD_MODERATE, DEFAULT_THRESHOLD_MODERATE),
            high=options.get(CONF_THRESHOLD_HIGH, DEFAULT_THRESHOLD_HIGH),
        )


@dataclass(frozen=True, slots=True)
class SpaceState:
    """What the entities of one space show: the reading plus the user's options."""

    space: Space
    reading: Reading
    capacity: int | None
    percentage: float | None
    activity: str
    # People usually here at this weekday and hour; None until it is known.
    usual: float | None = None
    versus_usual: str | None = None
    # The space's sensors, where the provider reports them (Butlr rooms).
    health: SensorHealth | None = None


# Everything a reading says but its times: what the entities of a space show,
# the last-reading sensor's timestamp aside.
_TIMES = frozenset({"observed_at", "changed_at"})
_COUNTS = attrgetter(*(f.name for f in fields(Reading) if f.name not in _TIMES))


def counts_of(reading: Reading) -> tuple[object, ...]:
    """Return what a reading says besides its observation time."""
    counts: tuple[object, ...] = _COUNTS(reading)
    return counts


def provider_capacity(space: Space, reading: Reading) -> int | None:
    """Return the provider's capacity of a space: the reading's, else the space's."""
    return reading.capacity or space.capacity or None


def stale_limit(options: Mapping[str, Any]) -> timedelta:
    """Return the stale limit of the options; only a positive number of minutes counts."""
    minutes = options.get(CONF_STALE_MINUTES)
    if isinstance(minutes, str):
        try:
            minutes = float(minutes)
        except ValueError:
            minutes = None
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int | float)
        or not math.isfinite(minutes)
        or minutes <= 0
    ):
        minutes = DEFAULT_STALE_MINUTES
    return timedelta(minutes=minutes)


def is_stale(reading: Reading, now: datetime, stale_after: timedelta) -> bool:
    """Tell whether a reading has not changed for longer than the stale limit.

    Judged by when the client saw it change (our clock), never by the
    provider's own time, which may run ahead or behind (Concordia).
    """
    return reading.changed_at is not None and now - reading.changed_at > stale_after


def without_stale(snapshot: Snapshot, stale_after: timedelta) -> Snapshot:
    """Return the snapshot with its stale readings made inactive, as of its poll.

    A stale reading (a feed frozen for longer than the limit) shows as the
    provider's inactive ones do: no occupancy, activity ``inactive``, its
    times kept. Done on the snapshot, so that a reading going stale is a
    change like any other.
    """
    now = snapshot.fetched_at
    stale = {
        space_id: replace(reading, occupancy=None, active=False)
        for space_id, reading in snapshot.readings.items()
        if reading.active and is_stale(reading, now, stale_after)
    }
    if not stale:
        return snapshot
    return replace(snapshot, readings={**snapshot.readings, **stale})


def versus_usual(occupancy: int | None, usual: float | None) -> str | None:
    """Compare an occupancy with the usual one: quieter, as usual or busier."""
    if occupancy is None or usual is None:
        return None
    margin = max(USUAL_MARGIN_PEOPLE, USUAL_MARGIN_SHARE * usual)
    if occupancy > usual + margin:
        return VERSUS_BUSIER
    if occupancy < usual - margin:
        return VERSUS_QUIETER
    return VERSUS_AS_USUAL


def space_state(
    space: Space,
    reading: Reading,
    user_capacity: int | None,
    thresholds: Thresholds,
    usual: float | None = None,
    *,
    health: SensorHealth | None = None,
) -> SpaceState:
    """Combine a reading with the user's capacity and thresholds, the usual, the health."""
    # The provider's capacity wins; the user's fills in where it gives none.
    capacity = provider_capacity(space, reading) or user_capacity
    percentage = reading.percentage
    if percentage is None and reading.active:
        percentage = percentage_of(reading.occupancy, capacity)
    return SpaceState(
        space=space,
        reading=reading,
        capacity=capacity,
        percentage=percentage,
        activity=_activity(reading, percentage, capacity, thresholds),
        usual=usual,
        versus_usual=versus_usual(reading.occupancy if reading.active else None, usual),
        health=health,
    )


def _activity(
    reading: Reading,
    percentage: float | None,
    capacity: int | None,
    thresholds: Thresholds,
) -> str:
    if not reading.active or reading.occupancy is None:
        return ACTIVITY_INACTIVE
    if reading.occupancy == 0:
        return ACTIVITY_EMPTY
    if not capacity or percentage is None:
        return ACTIVITY_OCCUPIED
    if percentage < thresholds.low:
        return ACTIVITY_LOW
    if percentage < thresholds.moderate:
        return ACTIVITY_MODERATE
    if percentage < thresholds.high:
        return ACTIVITY_HIGH
    return ACTIVITY_FULL


class SpaceStates:
    """The state of every space of the current snapshot, made on first use.

    All entities of a space ask for the same state when they are written: it
    is combined once per snapshot, settings or usual occupancy, not per entity.
    """

    def __init__(self, thresholds: Thresholds, capacities: Mapping[str, int]) -> None:
        """Start without a snapshot (no good poll yet) and without a usual."""
        self.snapshot: Snapshot | None = None
        self.usual: dict[str, float] = {}
        self._thresholds = thresholds
        self._capacities = capacities
        self._cache: dict[str, SpaceState | None] = {}

    @property
    def capacities(self) -> Mapping[str, int]:
        """The capacities the user set, by space id."""
        return self._capacities

    def set_snapshot(self, snapshot: Snapshot | None) -> None:
        """Take a new snapshot: the states follow it."""
        if snapshot is not self.snapshot:
            self.snapshot = snapshot
            self._cache = {}

    def set_settings(
        self, thresholds: Thresholds, capacities: Mapping[str, int]
    ) -> None:
        """Take new thresholds and user capacities: every state may change."""
        self._thresholds = thresholds
        self._capacities = capacities
        self._cache = {}

    def set_usual(self, usual: dict[str, float]) -> frozenset[str]:
        """Take the hour's usual occupancy; return the spaces whose usual changed."""
        changed = frozenset(
            space_id
            for space_id in self.usual.keys() | usual.keys()
            if self.usual.get(space_id) != usual.get(space_id)
        )
        self.usual = usual
        for space_id in changed:
            self._cache.pop(space_id, None)
        return changed

    def get(self, space_id: str) -> SpaceState | None:
        """Return the state of a space, None when the snapshot has no reading of it."""
        try:
            return self._cache[space_id]
        except KeyError:
            pass
        snapshot = self.snapshot
        space = None if snapshot is None else snapshot.spaces.get(space_id)
        reading = None if snapshot is None else snapshot.readings.get(space_id)
        state = (
            None
            if space is None or reading is None
            else space_state(
                space,
                reading,
                self._capacities.get(space_id),
                self._thresholds,
                self.usual.get(space_id),
                health=snapshot.health.get(space_id) if snapshot is not None else None,
            )
        )
        self._cache[space_id] = state
        return state
