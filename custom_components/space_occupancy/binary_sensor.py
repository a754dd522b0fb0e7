"""Binary sensors: is anyone in the space, does a sensor of it need attention."""

from __future__ import annotations

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .data import SpaceOccupancyConfigEntry
from .descriptions import BINARY_SENSORS, SpaceBinarySensorEntityDescription
from .entity import SpaceEntity, async_add_space_entities

# Entities only read the coordinator's snapshot.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SpaceOccupancyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the binary sensors of every space."""
    await async_add_space_entities(
        entry, async_add_entities, BINARY_SENSORS, SpaceBinarySensor
    )


class SpaceBinarySensor(SpaceEntity, BinarySensorEntity):
    """A binary sensor of a space."""

    entity_description: SpaceBinarySensorEntityDescription

    @property
    def available(self) -> bool:
        """Unavailable while the space's data is not valid for this sensor."""
        return (
            super().available
            and (state := self.state_of_space) is not None
            and self.entity_description.available_fn(state)
        )

    @property
    def is_on(self) -> bool | None:
        """The sensor's state from the space's state."""
        if (state := self.state_of_space) is None:
            return None
        return self.entity_description.is_on_fn(state)
