"""The entity budget: what a selection of spaces costs, and what fits.

Home Assistant 2026 adds at most ``MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY``
(10,000) enabled entities per config entry and silently drops the rest; older
lines have no cap. This module reads the cap where the line has one and keeps
every entry under it, so that Home Assistant never drops an entity:

- A space costs the enabled entities it can ever have (``possible_entities``):
  a floor, building or site counts its percentage even before its rooms'
  capacities add up, since it appears when they do.
- The config flow refuses a selection that costs more than the cap.
- At run time (``EntityBudget``), spaces are admitted in tree order while their
  new entities fit next to those already registered; spaces left out (the
  account grew past the cap) get no new entity and are named in a repair
  issue. Registered entities are never lost: Home Assistant adds them past
  its cap too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_platform, entity_registry as er

from .descriptions import ALL_DESCRIPTIONS, enabled_entity_count
from .ids import SpaceIds
from .issues import async_entity_cap_issue
from .options import EntrySettings
from .providers import Reading, Snapshot, Space, SpaceKind
from .providers.selection import children_of, ordered_space_ids
from .state import ACTIVITY_EMPTY, SpaceState


def entity_cap() -> int | None:
    """Return Home Assistant's cap of enabled entities per entry, where it has one."""
    cap = getattr(entity_platform, "MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY", None)
    return cap if isinstance(cap, int) else None


def _sized_state(
    space: Space, user_capacity: int | None, has_children: bool, pushes: bool
) -> SpaceState:
    """Return a space's state with every entity it can ever have.

    A roll-up's capacity may come and go with its rooms': it is counted as
    sized, so that its percentage always has room; where the entry takes
    pushes, a room's motion sensor, which comes with its first pushed motion,
    is counted too.
    """
    capacity = space.capacity or user_capacity or (1 if has_children else None)
    motion = True if pushes and space.kind is SpaceKind.ROOM else None
    return SpaceState(
        space=space,
        reading=Reading(occupancy=0, capacity=capacity, motion=motion),
        capacity=capacity,
        percentage=None,
        activity=ACTIVITY_EMPTY,
    )


def possible_entities(
    space: Space, user_capacity: int | None, has_children: bool, pushes: bool = False
) -> int:
    """Return the most enabled entities a space can have."""
    return enabled_entity_count(
        _sized_state(space, user_capacity, has_children, pushes)
    )


def possible_keys(
    space: Space, user_capacity: int | None, has_children: bool, pushes: bool = False
) -> frozenset[str]:
    """Return the keys of the enabled entities a space can have."""
    state = _sized_state(space, user_capacity, has_children, pushes)
    return frozenset(
        description.key
        for description in ALL_DESCRIPTIONS
        if description.entity_registry_enabled_default and description.exists_fn(state)
    )


def selection_cost(
    spaces: Mapping[str, Space],
    shown: Iterable[str],
    capacities: Mapping[str, int],
    pushes: bool = False,
) -> int:
    """Return the enabled entities of the shown spaces (those with a reading)."""
    children = children_of(spaces)
    return sum(
        possible_entities(
            spaces[space_id], capacities.get(space_id), space_id in children, pushes
        )
        for space_id in shown
        if space_id in spaces
    )


@dataclass(frozen=True, slots=True)
class EntityPlan:
    """Which spaces may have entities: all of them, or those that fit."""

    admitted: frozenset[str] | None  # None: every space
    left_out: tuple[str, ...] = ()


class EntityBudget:
    """Decides, once per new topology or settings, which spaces get entities."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry[Any], ids: SpaceIds
    ) -> None:
        """Keep one entry's entities under Home Assistant's cap."""
        self._hass = hass
        self._entry = entry
        self._ids = ids
        self._planned_for: tuple[object, object, frozenset[str]] | None = None
        self._plan = EntityPlan(admitted=None)

    def plan(self, snapshot: Snapshot, settings: EntrySettings) -> EntityPlan:
        """Return the plan for this snapshot's spaces, readings and these settings.

        Made again only for a new topology, new settings or new spaces with a
        reading (the devices and both platforms ask for the same plan).
        """
        planned = self._planned_for
        if (
            planned is None
            or planned[0] is not snapshot.spaces
            or planned[1] is not settings
            or planned[2] != snapshot.readings.keys()
        ):
            self._planned_for = (
                snapshot.spaces,
                settings,
                frozenset(snapshot.readings),
            )
            self._plan = self._make_plan(snapshot, settings)
            async_entity_cap_issue(
                self._hass,
                self._entry,
                snapshot.spaces,
                self._plan.left_out,
                entity_cap(),
            )
        return self._plan

    def _make_plan(self, snapshot: Snapshot, settings: EntrySettings) -> EntityPlan:
        """Admit spaces in tree order while their new entities fit under the cap.

        Home Assistant counts every enabled entity of the entry in its
        registry, and refuses only new ones past its cap: an entity already
        registered (enabled or not) is added whatever the count. So a space
        whose entities are all registered costs nothing and is always
        admitted, and never loses its entities to the cap; a space that needs
        new ones is admitted while they fit next to everything registered,
        else left out whole. An entry already past the cap (made where there
        was none) keeps what it has; the spaces past the cap, in tree order,
        are named all the same: they get no new entity.
        """
        cap = entity_cap()
        if cap is None:
            return EntityPlan(admitted=None)
        registered, enabled = self._registered_per_space()
        total = sum(enabled.values())
        room = cap - total  # the new enabled entities Home Assistant still adds
        counted = enabled.get("", 0)  # entities of no space of ours count too
        children = children_of(snapshot.spaces)
        admitted: set[str] = set()
        past_cap: list[str] = []
        for space_id in ordered_space_ids(snapshot.spaces):
            if space_id not in snapshot.readings:
                continue
            keys = possible_keys(
                snapshot.spaces[space_id],
                settings.capacities.get(space_id),
                space_id in children,
                settings.push,
            )
            new = len(keys - registered.get(space_id, frozenset()))
            counted += enabled.get(space_id, 0)
            if new == 0 or new <= room:
                admitted.add(space_id)
                room -= new
                counted += new
                if counted <= cap:
                    continue
            past_cap.append(space_id)
        return EntityPlan(admitted=frozenset(admitted), left_out=tuple(past_cap))

    def _registered_per_space(self) -> tuple[dict[str, frozenset[str]], dict[str, int]]:
        """Return the entry's registered entity keys, and its enabled entities, by space.

        Entities of no space of ours are counted under "" (they count against
        the cap all the same).
        """
        registry = er.async_get(self._hass)
        keys = [description.key for description in ALL_DESCRIPTIONS]
        registered: dict[str, set[str]] = {}
        enabled: dict[str, int] = {}
        for entry in er.async_entries_for_config_entry(registry, self._entry.entry_id):
            space_id = self._ids.space_of_unique_id(entry.unique_id, keys) or ""
            if space_id:
                key = entry.unique_id.removeprefix(f"{self._ids.prefix}_{space_id}_")
                registered.setdefault(space_id, set()).add(key)
            if entry.disabled_by is None:
                enabled[space_id] = enabled.get(space_id, 0) + 1
        return {
            space_id: frozenset(space_keys)
            for space_id, space_keys in registered.items()
        }, enabled
