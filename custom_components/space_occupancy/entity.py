"""The base entity: one device per space, unique ids, availability."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import (
    OccupancyCoordinator,
    SpaceOccupancyConfigEntry,
    ordered_space_ids,
)
from .providers import Space
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
        self._attr_unique_id = (
            f"{coordinator.config_entry.unique_id}_{space.id}_{description.key}"
        )
        # The coordinator created the device (and its link to the parent's).
        self._attr_device_info = DeviceInfo(
            identifiers={coordinator.device_identifier(space.id)}
        )
        self._shown: tuple[bool, object] | None = None

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
        shown = (self.available, self.shown_value)
        if shown == self._shown:
            return
        self._shown = shown
        super()._handle_coordinator_update()

    async def async_added_to_hass(self) -> None:
        """Remember what was first written."""
        await super().async_added_to_hass()
        self._shown = (self.available, self.shown_value)


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
    """Add the entities of every space now, and of new spaces as they appear.

    Each (space, key) is added once, so an entity that starts to apply (a
    capacity the user just set, a space the provider just added) is added on
    the next update.
    """
    coordinator = entry.runtime_data
    added: set[tuple[str, str]] = set()
    decided_for: tuple[Mapping[str, Space], dict[str, int]] | None = None

    @callback
    def add_new() -> None:
        nonlocal decided_for
        snapshot = coordinator.data
        # Providers re-read their spaces at most hourly and hand out the same
        # mapping in between: only a new mapping or new user capacities can
        # add entities, and most polls skip the walk over every space.
        if (
            decided_for is not None
            and decided_for[0] is snapshot.spaces
            and decided_for[1] == coordinator.user_capacities
        ):
            return
        decided_for = (snapshot.spaces, dict(coordinator.user_capacities))
        new: list[Entity] = []
        for space_id in ordered_space_ids(snapshot.spaces):
            state = coordinator.space_state(space_id)
            if state is None:
                continue
            for description in descriptions:
                if (space_id, description.key) not in added and description.exists_fn(
                    state
                ):
                    added.add((space_id, description.key))
                    new.append(entity_class(coordinator, state.space, description))
        if new:
            async_add_entities(new)

    add_new()
    entry.async_on_unload(coordinator.async_add_listener(add_new))
