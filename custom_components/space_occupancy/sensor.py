"""Sensors: occupancy, percentage, activity, traffic and diagnostics per space."""

from __future__ import annotations

from datetime import datetime

from homeassistant.components.sensor import SensorEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .data import SpaceOccupancyConfigEntry
from .descriptions import SENSORS, SpaceSensorEntityDescription
from .entity import SpaceEntity, async_add_space_entities
from .providers import Snapshot
from .providers.timeutil import local_midnight

# Entities only read the coordinator's snapshot.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SpaceOccupancyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the sensors of every space."""
    await async_add_space_entities(entry, async_add_entities, SENSORS, SpaceSensor)


class SpaceSensor(SpaceEntity, SensorEntity):
    """A sensor of a space."""

    entity_description: SpaceSensorEntityDescription

    @property
    def available(self) -> bool:
        """Unavailable while the space's data is not valid for this sensor."""
        return (
            super().available
            and (state := self.state_of_space) is not None
            and self.entity_description.available_fn(state)
        )

    @property
    def last_reset(self) -> datetime | None:
        """Local midnight of the day a daily counter counts, in its site's time zone.

        That is how Home Assistant's statistics tell a new day from a dip: the
        counter is a ``total`` whose ``last_reset`` moves at midnight.
        """
        if not self.entity_description.resets_daily:
            return None
        state = self.state_of_space
        snapshot: Snapshot | None = self.coordinator.data
        if state is None or snapshot is None:
            return None
        zone = dt_util.get_time_zone(state.space.timezone or self.hass.config.time_zone)
        return local_midnight(
            snapshot.fetched_at, zone or dt_util.get_default_time_zone()
        )

    @property
    def native_value(self) -> StateType | datetime:
        """The sensor's value from the space's state."""
        if (state := self.state_of_space) is None:
            return None
        return self.entity_description.value_fn(state)

    @property
    def options(self) -> list[str] | None:
        """The states of an enum sensor."""
        if (options_fn := self.entity_description.options_fn) is None:
            return None
        return options_fn(self.state_of_space)
