"""What entities a space has: the descriptions of both platforms, in one place.

The platforms build their entities from these; the entity budget (budget.py)
counts them, so that the flow and the platforms agree on what a space costs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntityDescription,
)
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory
from homeassistant.helpers.typing import StateType

from .providers import SpaceKind
from .state import ACTIVITY_GRADED, ACTIVITY_UNGRADED, VERSUS_USUAL, SpaceState

# The kinds of space whose readings carry the provider's observation time.
STAMPED_KINDS = frozenset({SpaceKind.LOCATION, SpaceKind.LIBRARY})
# The kinds of space whose provider reports the health of their sensors
# (Butlr rooms): they have the sensor health entities, by kind, not by data.
HEALTH_KINDS = frozenset({SpaceKind.ROOM})


def _is_active(state: SpaceState) -> bool:
    return state.reading.active


def _has_health(state: SpaceState) -> bool:
    return state.space.kind in HEALTH_KINDS


def _health_known(state: SpaceState) -> bool:
    """Health is known whatever the occupancy: offline sensors are the point."""
    return state.health is not None


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
    # Sensor health, from the provider's hourly inventory.
    SpaceSensorEntityDescription(
        key="battery_change_due",
        translation_key="battery_change_due",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # The date to plan battery rounds by ("due within 30 days"); unknown
        # where every sensor is wired or has no date. Disabled: each enabled
        # entity of a room counts against Home Assistant's cap per entry
        # (budget.py), and the problem sensor already turns on when a battery
        # is overdue.
        entity_registry_enabled_default=False,
        value_fn=lambda state: state.health.battery_change_by if state.health else None,
        exists_fn=_has_health,
        available_fn=_health_known,
    ),
    SpaceSensorEntityDescription(
        key="sensors_offline",
        translation_key="sensors_offline",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        # The problem binary sensor says it; the count is for those who ask.
        entity_registry_enabled_default=False,
        value_fn=lambda state: state.health.offline if state.health else None,
        exists_fn=_has_health,
        available_fn=_health_known,
    ),
    SpaceSensorEntityDescription(
        key="last_heartbeat",
        translation_key="last_heartbeat",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # Changes at every hourly inventory: disabled, as it would write hourly.
        entity_registry_enabled_default=False,
        value_fn=lambda state: state.health.last_heartbeat if state.health else None,
        exists_fn=_has_health,
        available_fn=_health_known,
    ),
)


@dataclass(frozen=True, kw_only=True)
class SpaceBinarySensorEntityDescription(BinarySensorEntityDescription):
    """A binary sensor of a space."""

    is_on_fn: Callable[[SpaceState], bool | None]
    exists_fn: Callable[[SpaceState], bool] = lambda _: True
    available_fn: Callable[[SpaceState], bool] = _is_active


BINARY_SENSORS: tuple[SpaceBinarySensorEntityDescription, ...] = (
    SpaceBinarySensorEntityDescription(
        key="occupied",
        translation_key="occupied",
        device_class=BinarySensorDeviceClass.OCCUPANCY,
        is_on_fn=lambda state: (
            None if state.reading.occupancy is None else state.reading.occupancy > 0
        ),
    ),
    SpaceBinarySensorEntityDescription(
        key="motion",
        translation_key="motion",
        device_class=BinarySensorDeviceClass.MOTION,
        is_on_fn=lambda state: state.reading.motion,
        # Butlr pushes motion for rooms whose sensors see it (Heatic 2+): the
        # sensor comes with the first event, and stays.
        exists_fn=lambda state: state.reading.motion is not None,
        available_fn=lambda state: state.reading.motion is not None,
    ),
    SpaceBinarySensorEntityDescription(
        key="sensor_problem",
        translation_key="sensor_problem",
        device_class=BinarySensorDeviceClass.PROBLEM,
        entity_category=EntityCategory.DIAGNOSTIC,
        # On while a sensor of the room is offline or its battery is overdue.
        is_on_fn=lambda state: state.health.problem if state.health else None,
        exists_fn=_has_health,
        available_fn=_health_known,
    ),
)


# Every description of every platform, for counting what a space costs.
ALL_DESCRIPTIONS: tuple[
    SpaceSensorEntityDescription | SpaceBinarySensorEntityDescription, ...
] = (
    *SENSORS,
    *BINARY_SENSORS,
)


def enabled_entity_count(state: SpaceState) -> int:
    """Return how many entities a space in this state has, enabled by default."""
    return sum(
        1
        for description in ALL_DESCRIPTIONS
        if description.entity_registry_enabled_default and description.exists_fn(state)
    )
