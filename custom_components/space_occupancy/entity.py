"""The base entity (one device per space) and the entities that follow the spaces."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import (
    AddConfigEntryEntitiesCallback,
    async_get_current_platform,
)
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .budget import EntityPlan
from .changes import SpaceContext
from .const import DOMAIN
from .coordinator import OccupancyCoordinator
from .data import SpaceOccupancyConfigEntry
from .ids import SpaceIds
from .options import EntrySettings
from .providers import Snapshot, Space
from .providers.selection import ordered_space_ids
from .state import SpaceState
from .turns import in_turns

# Spaces whose entities are made and added per event-loop step: Home
# Assistant adds a batch without yielding (about 0.2 ms an entity, a space
# has up to a dozen), so an account's thousands at once would freeze it.
SPACE_BATCH = 12
# An entry adds entities while setting up or loaded, never while unloading.
_ADDING_STATES = (ConfigEntryState.SETUP_IN_PROGRESS, ConfigEntryState.LOADED)


class SpaceEntity(CoordinatorEntity[OccupancyCoordinator]):
    """An entity of one space, on that space's device.

    It listens to its own space only (its coordinator context): a poll that
    did not change its space does not call it.
    """

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: OccupancyCoordinator,
        ids: SpaceIds,
        space: Space,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to its space's device."""
        super().__init__(
            coordinator,
            SpaceContext(
                space.id,
                follows_time=getattr(description, "follows_time", False),
                follows_usual=getattr(description, "follows_usual", False),
            ),
        )
        self.entity_description = description
        self.space_id = space.id
        self._attr_unique_id = ids.entity_unique_id(space.id, description.key)
        # The device exists (devices.py), linked to its parent's.
        self._attr_device_info = DeviceInfo(
            identifiers={ids.device_identifier(space.id)}
        )

    @property
    def state_of_space(self) -> SpaceState | None:
        """The space's current state, None once the provider dropped the space."""
        return self.coordinator.space_state(self.space_id)

    @property
    def available(self) -> bool:
        """Available while polls succeed and the space still exists."""
        return super().available and self.state_of_space is not None


class SpaceEntityDescriptionLike(Protocol):
    """What the platforms need of an entity description."""

    @property
    def key(self) -> str:
        """The entity's key within its space."""

    @property
    def exists_fn(self) -> Callable[[SpaceState], bool]:
        """Whether a space in this state has the entity."""


type EntityFactory[DescriptionT] = Callable[
    [OccupancyCoordinator, SpaceIds, Space, DescriptionT], Entity
]


class SpaceEntities[DescriptionT: SpaceEntityDescriptionLike]:
    """Keeps one platform's entities in step with the provider's spaces.

    An entity is added when it starts to apply (a space the provider added or
    brought back, a capacity just set) and removed, with its registry entry,
    when the user's change made it stop applying (a capacity cleared). The
    entities of a space gone from the provider stay, unavailable, until its
    device is removed (devices.py); the registry then removes them, and they
    are added again should the space come back.
    """

    def __init__(
        self,
        entry: SpaceOccupancyConfigEntry,
        async_add_entities: AddConfigEntryEntitiesCallback,
        descriptions: Iterable[DescriptionT],
        factory: EntityFactory[DescriptionT],
    ) -> None:
        """Serve one platform of one entry."""
        self._entry = entry
        self._data = entry.runtime_data
        self._add = async_add_entities
        self._descriptions = tuple(descriptions)
        self._factory = factory
        self._domain = async_get_current_platform().domain
        self._registry = er.async_get(entry.runtime_data.coordinator.hass)
        self._added: dict[tuple[str, str], Entity] = {}
        # The spaces and settings the entities were last decided for.
        # ... and the coordinator's entity generation (pushes that add entities).
        self._decided_for: (
            tuple[Mapping[str, Space], EntrySettings, int, EntityPlan] | None
        ) = None
        # The spaces in order, parents first, of the last topology.
        self._order: tuple[Mapping[str, Space], list[str]] | None = None

    async def async_start(self) -> None:
        """Add the entities that apply at setup, a batch of spaces per loop step."""
        await self._async_sync_spaces(*self._to_look_at())

    @callback
    def async_sync(self) -> None:
        """Add the entities that apply now (a task for many spaces); remove ended ones."""
        space_ids, cleared = self._to_look_at()
        if len(space_ids) > SPACE_BATCH:
            self._entry.async_create_task(
                self._data.coordinator.hass,
                self._async_sync_spaces(space_ids, cleared),
                f"{DOMAIN} add {self._domain} entities",
            )
        elif new := self._sync_spaces(space_ids, cleared):
            self._add(new)

    async def _async_sync_spaces(self, space_ids: list[str], cleared: set[str]) -> None:
        async for batch in in_turns(space_ids, SPACE_BATCH):
            if self._entry.state not in _ADDING_STATES:
                return  # Unloading: the platform is going away.
            if new := self._sync_spaces(batch, cleared):
                self._add(new)

    def _sync_spaces(self, space_ids: Sequence[str], cleared: set[str]) -> list[Entity]:
        """Return these spaces' entities to add; remove those that stopped applying."""
        new: list[Entity] = []
        for space_id in space_ids:
            if (state := self._data.coordinator.space_state(space_id)) is not None:
                new.extend(self._sync_space(state, space_id in cleared))
        return new

    def _to_look_at(self) -> tuple[list[str], set[str]]:
        """Return the spaces whose entities may have changed, and those of a cleared capacity.

        Providers re-read their spaces at most hourly and hand out the same
        mapping in between: only a new mapping or new user capacities can
        change which entities apply, and most polls skip the walk.
        """
        coordinator = self._data.coordinator
        snapshot: Snapshot | None = coordinator.data
        if snapshot is None:
            return [], set()  # No good poll yet (Concordia's quota spent at startup).
        settings = coordinator.settings
        generation = coordinator.new_entities.generation
        # The cap's plan changes when other spaces leave room (fewer picked).
        plan = self._data.budget.plan(snapshot, settings)
        decided = self._decided_for
        only: frozenset[str] | None = None  # The spaces to look at; None: all.
        if (
            decided is not None
            and decided[0] is snapshot.spaces
            and decided[1] is settings
            and decided[3] is plan
        ):
            if decided[2] == generation:
                return [], set()
            only = coordinator.new_entities.since(decided[2])
        # Elsewhere an entity that stops applying stays, unavailable: a
        # roll-up's capacity may come and go with its rooms' activity, and an
        # entity removed loses its history.
        cleared = (
            set()
            if decided is None
            else decided[1].capacities.keys() - settings.capacities.keys()
        )
        self._decided_for = (snapshot.spaces, settings, generation, plan)
        admitted = plan.admitted  # Over Home Assistant's entity cap: budget.py.
        return [
            space_id
            for space_id in self._ordered(snapshot.spaces, only)
            if admitted is None or space_id in admitted
        ], cleared

    def _ordered(
        self, spaces: Mapping[str, Space], only: frozenset[str] | None
    ) -> list[str]:
        """Return the spaces to look at, parents first (their devices come first)."""
        if self._order is None or self._order[0] is not spaces:
            self._order = (spaces, ordered_space_ids(spaces))
        ordered = self._order[1]
        return ordered if only is None else [id_ for id_ in ordered if id_ in only]

    def _sync_space(self, state: SpaceState, capacity_cleared: bool) -> list[Entity]:
        """Return the space's entities to add; remove those that stopped applying."""
        new: list[Entity] = []
        for description in self._descriptions:
            key = (state.space.id, description.key)
            # A registered entity comes back even while it does not apply (a
            # pushed motion sensor after a restart): no orphaned registry entry.
            if description.exists_fn(state) or (
                key not in self._added and self._registered(key)
            ):
                # Gone from the registry: its device was removed meanwhile.
                if key not in self._added or not self._registered(key):
                    self._added[key] = self._factory(
                        self._data.coordinator, self._data.ids, state.space, description
                    )
                    new.append(self._added[key])
            elif (
                capacity_cleared
                and (entity := self._added.pop(key, None)) is not None
                and entity.registry_entry is not None
            ):
                self._registry.async_remove(entity.registry_entry.entity_id)
        return new

    def _registered(self, key: tuple[str, str]) -> bool:
        unique_id = self._data.ids.entity_unique_id(*key)
        return (
            self._registry.async_get_entity_id(self._domain, DOMAIN, unique_id)
            is not None
        )


async def async_add_space_entities[DescriptionT: SpaceEntityDescriptionLike](
    entry: SpaceOccupancyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    descriptions: Iterable[DescriptionT],
    factory: EntityFactory[DescriptionT],
) -> None:
    """Add a platform's entities now, and keep them in step with every poll."""
    entities = SpaceEntities(entry, async_add_entities, descriptions, factory)
    await entities.async_start()
    entry.async_on_unload(
        entry.runtime_data.coordinator.async_add_listener(entities.async_sync)
    )
