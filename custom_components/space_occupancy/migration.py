"""Config entry migrations.

- Version 2 scopes the entry's unique id by provider ("1" → "occuspace_1");
  the entity unique ids and device identifiers built on it move along, so
  that every entity keeps its entity id, its history and its settings.
- Minor version 2 keeps the account key (the version 2 unique id) in the
  entry's data: ids are built on it, while the unique id may name a part of
  the account (space selection).

The registry part is idempotent and runs at every setup (``async_repair_ids``):
Home Assistant saves a migrated entry at once but the registries up to minutes
later, so a hard stop in between must not leave version 1 ids for good.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import CONF_ACCOUNT_KEY, CONF_PROVIDER, DOMAIN, LOGGER
from .ids import entry_unique_id


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry[Any]) -> bool:
    """Migrate an entry from an older version (see the module's docstring).

    The entry is updated first (it is saved at once); the registries follow
    in ``async_repair_ids``, which every setup runs again, so that a stop
    between the two (the registries are saved later) is repaired next time.
    """
    if entry.version > 2:
        return False  # Made by a newer version of the integration.
    if entry.version == 1:
        # Every version 1 entry had its account id as unique id.
        new = entry_unique_id(entry.data[CONF_PROVIDER], str(entry.unique_id))
        hass.config_entries.async_update_entry(entry, unique_id=new, version=2)
        LOGGER.debug("Migrated entry %s to version 2", entry.entry_id)
    if entry.minor_version < 2:
        hass.config_entries.async_update_entry(
            entry,
            data={**entry.data, CONF_ACCOUNT_KEY: str(entry.unique_id)},
            minor_version=2,
        )
    async_repair_ids(hass, entry)
    return True


@callback
def async_repair_ids(hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
    """Move any version 1 ids of the entry to the version 2 ones; idempotent.

    A version 1 id is the account id without its provider ("1_3_occupancy"
    for "occuspace_1_3_occupancy"). Where both exist (a setup ran between a
    migrated entry and registries saved without it), the version 2 duplicate
    goes and the original, with the user's settings and history, is renamed.
    """
    key = str(entry.data.get(CONF_ACCOUNT_KEY) or entry.unique_id)
    new = f"{key}_"
    old = f"{key.removeprefix(f'{entry.data[CONF_PROVIDER]}_')}_"
    if old == new:
        return
    _repair_entities(hass, entry, old, new)
    _repair_devices(hass, entry, old, new)


def _repair_entities(
    hass: HomeAssistant, entry: ConfigEntry[Any], old: str, new: str
) -> None:
    registry = er.async_get(hass)
    for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
        unique_id = entity.unique_id
        if not unique_id.startswith(old) or unique_id.startswith(new):
            continue
        renamed = new + unique_id.removeprefix(old)
        duplicate = registry.async_get_entity_id(entity.domain, DOMAIN, renamed)
        if duplicate is not None:
            registry.async_remove(duplicate)
        registry.async_update_entity(entity.entity_id, new_unique_id=renamed)
        LOGGER.debug("Moved %s to the unique id %s", entity.entity_id, renamed)


def _repair_devices(
    hass: HomeAssistant, entry: ConfigEntry[Any], old: str, new: str
) -> None:
    registry = dr.async_get(hass)
    devices = dr.async_entries_for_config_entry(registry, entry.entry_id)
    by_identifier = {
        identifier: device for device in devices for identifier in device.identifiers
    }
    for device in devices:
        identifiers = {
            (domain, new + identifier.removeprefix(old))
            if domain == DOMAIN
            and identifier.startswith(old)
            and not identifier.startswith(new)
            else (domain, identifier)
            for domain, identifier in device.identifiers
        }
        if identifiers == device.identifiers:
            continue
        for identifier in identifiers - device.identifiers:
            if (duplicate := by_identifier.get(identifier)) is not None:
                registry.async_remove_device(duplicate.id)
        registry.async_update_device(device.id, new_identifiers=identifiers)
