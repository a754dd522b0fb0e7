"""Space Occupancy: people counts from occupancy sensor clouds."""

from __future__ import annotations

from typing import Any

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.device_registry import DeviceEntry
from homeassistant.helpers.typing import ConfigType

from .const import CONF_PROVIDER, DOMAIN, LOGGER
from .data import SpaceOccupancyConfigEntry, async_setup_runtime_data
from .history import async_remove_history_store
from .ids import entry_unique_id
from .services import async_setup_services

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]


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
    """Forget a deleted entry's history import state."""
    await async_remove_history_store(hass, entry.entry_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: SpaceOccupancyConfigEntry, device: DeviceEntry
) -> bool:
    """Let the user delete a device only when its space is gone from the provider."""
    data = entry.runtime_data
    space_id = data.ids.space_id_of(device)
    return space_id is None or data.coordinator.space_state(space_id) is None


async def async_migrate_entry(
    hass: HomeAssistant, entry: SpaceOccupancyConfigEntry
) -> bool:
    """Migrate an entry from an older version.

    Version 2 scopes the entry's unique id by provider ("1" → "occuspace_1").
    The entity unique ids and device identifiers built on it move along, so
    that every entity keeps its entity id, its history and its settings.
    """
    if entry.version > 2:
        return False  # Made by a newer version of the integration.
    # Version 1 (the only older one): every entry had its account id as unique id.
    old = str(entry.unique_id)
    new = entry_unique_id(entry.data[CONF_PROVIDER], old)
    await _rename_prefix(hass, entry, f"{old}_", f"{new}_")
    hass.config_entries.async_update_entry(entry, unique_id=new, version=2)
    LOGGER.debug("Migrated entry %s to version 2", entry.entry_id)
    return True


async def _rename_prefix(
    hass: HomeAssistant, entry: SpaceOccupancyConfigEntry, old: str, new: str
) -> None:
    """Move the entry's entity unique ids and device identifiers to a new prefix."""

    @callback
    def entity_update(entity: er.RegistryEntry) -> dict[str, Any] | None:
        if not entity.unique_id.startswith(old):
            return None
        return {"new_unique_id": new + entity.unique_id.removeprefix(old)}

    await er.async_migrate_entries(hass, entry.entry_id, entity_update)
    devices = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(devices, entry.entry_id):
        identifiers = {
            (domain, new + identifier.removeprefix(old))
            if domain == DOMAIN and identifier.startswith(old)
            else (domain, identifier)
            for domain, identifier in device.identifiers
        }
        if identifiers != device.identifiers:
            devices.async_update_device(device.id, new_identifiers=identifiers)
