"""Config entry migrations.

- Version 2 scopes the entry's unique id by provider ("1" → "occuspace_1");
  the entity unique ids and device identifiers built on it move along, so
  that every entity keeps its entity id, its history and its settings.
- Minor version 2 keeps the account key (the version 2 unique id) in the
  entry's data: ids are built on it, while the unique id may name a part of
  the account (space selection).
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import CONF_ACCOUNT_KEY, CONF_PROVIDER, DOMAIN, LOGGER
from .ids import entry_unique_id


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry[Any]) -> bool:
    """Migrate an entry from an older version (see the module's docstring)."""
    if entry.version > 2:
        return False  # Made by a newer version of the integration.
    if entry.version == 1:
        # Every version 1 entry had its account id as unique id.
        old = str(entry.unique_id)
        new = entry_unique_id(entry.data[CONF_PROVIDER], old)
        await _rename_prefix(hass, entry, f"{old}_", f"{new}_")
        hass.config_entries.async_update_entry(entry, unique_id=new, version=2)
        LOGGER.debug("Migrated entry %s to version 2", entry.entry_id)
    if entry.minor_version < 2:
        hass.config_entries.async_update_entry(
            entry,
            data={**entry.data, CONF_ACCOUNT_KEY: str(entry.unique_id)},
            minor_version=2,
        )
    return True


async def _rename_prefix(
    hass: HomeAssistant, entry: ConfigEntry[Any], old: str, new: str
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
