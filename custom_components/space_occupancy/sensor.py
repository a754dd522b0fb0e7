"""Sensors: occupancy, percentage, activity, traffic and diagnostics per space."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .data import SpaceOccupancyConfigEntry
from .entity import SpaceEntity, async_add_space_entities
from .providers import Snapshot, SpaceKind
from .providers.timeutil import local_midnight
from .state import ACTIVITY_GRADED, ACTIVITY_UNGRADED, VERSUS_USUAL, SpaceState

# The kinds of space whose readings carry the provider's observation time.
STAMPED_KINDS = frozenset({SpaceKind.LOCATION, SpaceKind.LIBRARY})

# Entities only read the coordinator's snapshot.
PARALLEL_UPDATES = 0


def _is_active(state: SpaceState) -> bool:
    return state.reading.active


@dataclass(frozen=True, kw_only=True)
class SpaceSensorEntityDescription(SensorEntityDescription):
    """A sensor of a space: how to read it, when it exists, when it is available."""

    value_fn: Callable[[SpaceState], StateType | datetime]
    exists_fn: Callable[[SpaceState], bool] = lambda _: True
    available_fn: Callable[[SpaceState], bool] = _is_active
    # Shows the reading's observation time, which a poll may change alone.
    follows_time: bool = False
    # Counts since local midnight of the space's site: last_reset says which day.
    resets_daily: bool = False
    # Shows the usual occupancy, which the hourly refresh changes between polls.
    follows_usual: bool = False
    # The states of an enum sensor, which may depend on the space's state.
    options_fn: Callable[[SpaceState | None], list[str]] | None = None


def _activities(state: SpaceState | None) -> list[str]:
    """Activity states: graded by percentage only where a capacity is known."""
    return ACTIVITY_GRADED if state and state.capacity else ACTIVITY_UNGRADED


SENSORS: tuple[SpaceSensorEntityDescription, ...] = (
    SpaceSensorEntityDescription(
        key="occupancy",
        translation_key="occupancy",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda state: state.reading.occupancy,
    ),
    SpaceSensorEntityDescription(
        key="occupancy_percentage",
        translation_key="occupancy_percentage",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda state: state.percentage,
        exists_fn=lambda state: state.capacity is not None,
        # A roll-up has no percentage while its rooms' capacities do not add up.
        available_fn=lambda state: (
            state.reading.active and state.percentage is not None
        ),
    ),
    SpaceSensorEntityDescription(
        key="activity",
        translation_key="activity",
        device_class=SensorDeviceClass.ENUM,
        value_fn=lambda state: state.activity,
        available_fn=lambda _: True,
        options_fn=_activities,
    ),
    SpaceSensorEntityDescription(
        key="usual_occupancy",
        translation_key="usual_occupancy",
        suggested_display_precision=1,
        # Unknown (not unavailable) until two weeks of statistics have it.
        value_fn=lambda state: state.usual,
        available_fn=lambda _: True,
        follows_usual=True,
    ),
    SpaceSensorEntityDescription(
        key="versus_usual",
        translation_key="versus_usual",
        device_class=SensorDeviceClass.ENUM,
        value_fn=lambda state: state.versus_usual,
        available_fn=lambda _: True,
        options_fn=lambda _: VERSUS_USUAL,
        follows_usual=True,
    ),
    SpaceSensorEntityDescription(
        key="entries_today",
        translation_key="entries_today",
        # A daily counter: a total since its last reset, local midnight.
        state_class=SensorStateClass.TOTAL,
        resets_daily=True,
        value_fn=lambda state: state.reading.entries_today,
        exists_fn=lambda state: state.space.counts_traffic,
        available_fn=lambda state: state.reading.entries_today is not None,
    ),
    SpaceSensorEntityDescription(
        key="exits_today",
        translation_key="exits_today",
        state_class=SensorStateClass.TOTAL,
        resets_daily=True,
        value_fn=lambda state: state.reading.exits_today,
        exists_fn=lambda state: state.space.counts_traffic,
        available_fn=lambda state: state.reading.exits_today is not None,
    ),
    SpaceSensorEntityDescription(
        key="capacity",
        translation_key="capacity",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda state: state.capacity,
        available_fn=lambda _: True,
    ),
    SpaceSensorEntityDescription(
        key="last_reading",
        translation_key="last_reading",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # Providers stamp every answer: enabled, it would write on every poll.
        entity_registry_enabled_default=False,
        value_fn=lambda state: state.reading.observed_at,
        follows_time=True,
        # Which entities a space has must not follow its data, or a reading
        # without a time would remove the sensor: Occuspace locations and
        # Concordia libraries are stamped, Butlr's spaces are not.
        exists_fn=lambda state: state.space.kind in STAMPED_KINDS,
        available_fn=lambda state: state.reading.observed_at is not None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SpaceOccupancyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the sensors of every space."""
    async_add_space_entities(entry, async_add_entities, SENSORS, SpaceSensor)


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
