"""Which spaces changed, and the entities to tell: the one change-detection layer.

After every poll (or pushed reading, or hourly usual occupancy) the coordinator
compares what it last told the entities with what it has now, space by space,
and calls only the listeners of the spaces that changed:

- a space whose reading says something else (count, activity, capacity,
  traffic), whose sensor health or definition changed, or that appeared or
  went: every entity of that space;
- a space whose reading changed its time alone (providers stamp every answer):
  only the entities that show the time (``follows_time``);
- a space whose usual occupancy changed: only the entities that show it
  (``follows_usual``).

Availability (a failed poll, the first good one after it) and the user's
settings concern every entity: everything is told. A poll that changed
nothing calls no entity at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
import logging

from homeassistant.core import CALLBACK_TYPE

from .providers import Reading, Snapshot, Space
from .providers.models import SensorHealth
from .state import counts_of

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Changes:
    """The spaces a snapshot changed against the one before it."""

    # Every entity of these spaces shows something else.
    spaces: frozenset[str]
    # Only the time of these spaces' readings changed.
    times: frozenset[str]
    # Spaces that may need entities of their own: a first reading (newly
    # picked, or added), a first pushed motion.
    appeared: frozenset[str] = frozenset()


def _changed_spaces(
    before: Mapping[str, Space], after: Mapping[str, Space]
) -> set[str]:
    """Spaces added, removed or redefined (name, capacity, parent…)."""
    if before is after:
        return set()
    changed = set(before.keys() ^ after.keys())
    changed.update(
        space_id
        for space_id, space in after.items()
        if space_id in before and before[space_id] != space
    )
    return changed


def _changed_readings(
    before: Mapping[str, Reading], after: Mapping[str, Reading]
) -> tuple[set[str], set[str], set[str]]:
    """Spaces whose reading changed, whose time alone did, and new-entity spaces.

    A space may need entities of its own at its first reading or first motion.
    """
    changed: set[str] = set(before.keys() - after.keys())
    restamped: set[str] = set()
    appeared: set[str] = set()
    for space_id, reading in after.items():
        old = before.get(space_id)
        if old is reading:
            continue
        if old is None or (old.motion is None and reading.motion is not None):
            appeared.add(space_id)
        if old is None or counts_of(old) != counts_of(reading):
            changed.add(space_id)
        # The counts are equal: the reading is, unless a time moved. Compared
        # apart, not by the whole reading: a provider that stamps its answers
        # restamps every space at every poll.
        elif (
            old.observed_at != reading.observed_at
            or old.changed_at != reading.changed_at
        ):
            restamped.add(space_id)
    return changed, restamped, appeared


def _changed_health(
    before: Mapping[str, SensorHealth], after: Mapping[str, SensorHealth]
) -> set[str]:
    """Spaces whose sensor health changed, appeared or went."""
    # Equal dicts (the same health objects, most polls) hold no change.
    if before is after or before == after:
        return set()
    return {
        space_id
        for space_id in before.keys() | after.keys()
        if before.get(space_id) != after.get(space_id)
    }


def changes_between(before: Snapshot, after: Snapshot) -> Changes:
    """Compare two snapshots space by space."""
    spaces = _changed_spaces(before.spaces, after.spaces)
    readings, times, appeared = _changed_readings(before.readings, after.readings)
    spaces |= readings
    spaces |= _changed_health(before.health, after.health)
    return Changes(
        spaces=frozenset(spaces),
        times=frozenset(times - spaces),
        appeared=frozenset(appeared),
    )


# Generations of new-entity spaces remembered: a platform further behind
# looks at every space again.
NEW_ENTITY_LOG = 32


class NewEntitySpaces:
    """The spaces that may need new entities, by generation.

    A first reading or a first pushed motion may start entities without a new
    topology or new settings: each platform looks again at these spaces only,
    never at all of an account's thousands for one room's first motion.
    """

    def __init__(self) -> None:
        """Start at generation 0, nothing noted."""
        self.generation = 0
        self._log: dict[int, frozenset[str]] = {}

    def note(self, space_ids: frozenset[str]) -> None:
        """Start a generation: these spaces may need new entities."""
        self.generation += 1
        self._log[self.generation] = space_ids
        self._log.pop(self.generation - NEW_ENTITY_LOG, None)

    def since(self, generation: int) -> frozenset[str] | None:
        """Return the spaces noted after a generation; None: too long ago to tell."""
        if self.generation - generation >= NEW_ENTITY_LOG:
            return None
        return frozenset().union(
            *(self._log[noted] for noted in range(generation + 1, self.generation + 1))
        )


@dataclass(slots=True)
class _Listener:
    update: CALLBACK_TYPE
    follows_time: bool
    follows_usual: bool


@dataclass(frozen=True, slots=True)
class SpaceContext:
    """What an entity follows: its space, and whether it shows the time or the usual."""

    space_id: str
    follows_time: bool = False
    follows_usual: bool = False


class SpaceListeners:
    """Entity callbacks by space: each is called only when its space changed."""

    def __init__(self) -> None:
        """Start without listeners."""
        self._by_space: dict[str, list[_Listener]] = {}
        # The listeners that show the time, by space: most polls restamp every
        # space of a provider that stamps its answers, and few entities (the
        # last-reading sensors, disabled by default) follow the time.
        self._time_followers: dict[str, list[_Listener]] = {}

    def add(self, update: CALLBACK_TYPE, context: SpaceContext) -> Callable[[], None]:
        """Call ``update`` when the space of ``context`` changes; return the remover."""
        listener = _Listener(update, context.follows_time, context.follows_usual)
        space_id = context.space_id
        listeners = self._by_space.setdefault(space_id, [])
        listeners.append(listener)
        if listener.follows_time:
            self._time_followers.setdefault(space_id, []).append(listener)

        def remove() -> None:
            listeners.remove(listener)
            if not listeners:
                self._by_space.pop(space_id, None)
            if listener.follows_time:
                followers = self._time_followers[space_id]
                followers.remove(listener)
                if not followers:
                    del self._time_followers[space_id]

        return remove

    def tell(self, changes: Changes) -> None:
        """Call the listeners of the changed spaces (and time followers of restamped)."""
        by_space = self._by_space
        for space_id in changes.spaces:
            for listener in by_space.get(space_id, ()):
                _call(listener.update)
        time_followers = self._time_followers
        if not time_followers:
            return
        for space_id in changes.times:
            for listener in time_followers.get(space_id, ()):
                _call(listener.update)

    def tell_usual(self, space_ids: Iterable[str]) -> None:
        """Call the listeners that show the usual occupancy of these spaces."""
        for space_id in space_ids:
            for listener in self._by_space.get(space_id, ()):
                if listener.follows_usual:
                    _call(listener.update)

    def tell_everyone(self) -> None:
        """Call every listener: availability or the settings changed."""
        for listeners in list(self._by_space.values()):
            for listener in list(listeners):
                _call(listener.update)


def _call(update: CALLBACK_TYPE) -> None:
    """Call one listener; a failing entity must not keep the others from their update."""
    try:
        update()
    except Exception:
        _LOGGER.exception("Error updating an entity of space occupancy")
