"""The base entity: one device per space, unique ids, availability."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import (
    AddConfigEntryEntitiesCallback,
    async_get_current_platform,
)
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import OccupancyCoordinator, SpaceOccupancyConfigEntry
from .devices import ordered_space_ids
from .providers import Snapshot, Space
from .state import SpaceState


class SpaceEntity(CoordinatorEntity[OccupancyCoordinator]):
    """An entity of one space, on that space's device."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: OccupancyCoordinator,
        space: Space,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to its space's device."""
        super().__init__(coordinator)
        self.entity_description = description
        self.space_id = space.id
        self._attr_unique_id = coordinator.entity_unique_id(space.id, description.key)
        # The coordinator created the device (and its link to the parent's).
        self._attr_device_info = DeviceInfo(
            identifiers={coordinator.device_identifier(space.id)}
        )
        self._shown: tuple[bool, object] | None = None
        # Whether the entity shows the reading's time (a new time alone changes it).
        self._follows_time: bool = getattr(description, "follows_time", False)
        # Whether it shows the usual occupancy, which changes between polls.
        self._follows_usual: bool = getattr(description, "follows_usual", False)

    @property
    def state_of_space(self) -> SpaceState | None:
        """The space's current state, None once the provider dropped the space."""
        return self.coordinator.space_state(self.space_id)

    @property
    def available(self) -> bool:
        """Available while polls succeed and the space still exists."""
        return super().available and self.state_of_space is not None

    @property
    def shown_value(self) -> object:
        """Everything this entity shows besides availability (its state, options)."""
        raise NotImplementedError

    @callback
    def _handle_coordinator_update(self) -> None:
        """Write state only when what this entity shows changed: most polls change few."""
        changed = self.coordinator.changed_spaces
        if (
            changed is not None
            and self.space_id not in changed
            and not (
                self._follows_time
                and self.space_id in self.coordinator.restamped_spaces
            )
        ):
            return  # Its space's reading is the same as last time.
        self._write_if_shown_changed()

    @callback
    def _handle_usual_update(self) -> None:
        """Write state when the usual occupancy of this entity's space changed."""
        if self.space_id in self.coordinator.usual_changed_spaces:
            self._write_if_shown_changed()

    @callback
    def _write_if_shown_changed(self) -> None:
        shown = (self.available, self.shown_value)
        if shown == self._shown:
            return
        self._shown = shown
        self.async_write_ha_state()

    async def async_added_to_hass(self) -> None:
        """Remember what was first written; follow the usual where it is shown."""
        await super().async_added_to_hass()
        self._shown = (self.available, self.shown_value)
        if self._follows_usual:
            self.async_on_remove(
                self.coordinator.async_add_usual_listener(self._handle_usual_update)
            )


class SpaceEntityDescriptionLike(Protocol):
    """What async_add_space_entities needs of an entity description."""

    @property
    def key(self) -> str:
        """The entity's key within its space."""

    @property
    def exists_fn(self) -> Callable[[SpaceState], bool]:
        """Whether a space in this state has the entity."""


@callback
def async_add_space_entities[DescriptionT: SpaceEntityDescriptionLike](
    entry: SpaceOccupancyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    descriptions: Iterable[DescriptionT],
    entity_class: Callable[[OccupancyCoordinator, Space, DescriptionT], Entity],
) -> None:
    """Keep this platform's entities in step with the provider's spaces.

    An entity is added when it starts to apply (a space the provider added or
    brought back, a capacity just set) and removed, with its registry entry,
    when the user's change made it stop applying (a capacity cleared). The
    entities of a space gone from the provider stay, unavailable, until the
    coordinator removes its device; the registry then removes them, and they
    are added again should the space come back.
    """
    coordinator = entry.runtime_data
    domain = async_get_current_platform().domain
    registry = er.async_get(coordinator.hass)
    added: dict[tuple[str, str], Entity] = {}
    decided_for: tuple[Mapping[str, Space], dict[str, int]] | None = None

    def registered(space_id: str, key: str) -> bool:
        unique_id = coordinator.entity_unique_id(space_id, key)
        return registry.async_get_entity_id(domain, DOMAIN, unique_id) is not None

    @callback
    def sync() -> None:
        nonlocal decided_for
        snapshot: Snapshot | None = coordinator.data
        if snapshot is None:
            return  # Not one good poll yet (Concordia's quota spent at startup).
        # Providers re-read their spaces at most hourly and hand out the same
        # mapping in between: only a new mapping or new user capacities can
        # change which entities apply, and most polls skip the walk.
        if (
            decided_for is not None
            and decided_for[0] is snapshot.spaces
            and decided_for[1] == coordinator.user_capacities
        ):
            return
        # Spaces whose capacity the user just cleared: the entities that no
        # longer apply to them go. Elsewhere an entity that stops applying
        # stays, unavailable: a roll-up's capacity may come and go with its
        # rooms' activity, and an entity removed loses its history.
        cleared = (
            set()
            if decided_for is None
            else decided_for[1].keys() - coordinator.user_capacities.keys()
        )
        decided_for = (snapshot.spaces, dict(coordinator.user_capacities))
        new: list[Entity] = []
        for space_id in ordered_space_ids(snapshot.spaces):
            state = coordinator.space_state(space_id)
            if state is None:
                continue
            for description in descriptions:
                key = (space_id, description.key)
                if description.exists_fn(state):
                    # Gone from the registry: its device was removed meanwhile.
                    if key not in added or not registered(*key):
                        added[key] = entity_class(coordinator, state.space, description)
                        new.append(added[key])
                elif (
                    space_id in cleared
                    and (entity := added.pop(key, None)) is not None
                    and entity.registry_entry is not None
                ):
                    registry.async_remove(entity.registry_entry.entity_id)
        if new:
            async_add_entities(new)

    sync()
    entry.async_on_unload(coordinator.async_add_listener(sync))
