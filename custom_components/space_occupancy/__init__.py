"""Space Occupancy: people counts from occupancy sensor clouds."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.device_registry import DeviceEntry
from homeassistant.helpers.typing import ConfigType

from .clients import build_client
from .const import DOMAIN
from .data import SpaceOccupancyConfigEntry, async_setup_runtime_data
from .history import async_remove_history_store
from .issues import async_remove_issues
from .migration import async_migrate_entry
from .providers import pushes
from .push import async_remove_subscription
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]

__all__ = ["async_migrate_entry"]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions."""
    async_setup_services(hass)
    return True


async def async_setup_entry(
    hass: HomeAssistant, entry: SpaceOccupancyConfigEntry
) -> bool:
    """Set up a provider account from a config entry."""
    entry.runtime_data = await async_setup_runtime_data(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.runtime_data.async_start(entry)
    return True


async def async_unload_entry(
    hass: HomeAssistant, entry: SpaceOccupancyConfigEntry
) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(
    hass: HomeAssistant, entry: SpaceOccupancyConfigEntry
) -> None:
    """Forget a deleted entry's history and issues; delete its webhook at the provider."""
    await async_remove_history_store(hass, entry.entry_id)
    async_remove_issues(hass, entry)
    if (client := pushes(build_client(hass, entry.data))) is not None:
        await async_remove_subscription(hass, entry, client)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: SpaceOccupancyConfigEntry, device: DeviceEntry
) -> bool:
    """Let the user delete a device only when its space is gone from the provider."""
    data = entry.runtime_data
    space_id = data.ids.space_id_of(device)
    return space_id is None or data.coordinator.space_state(space_id) is None
