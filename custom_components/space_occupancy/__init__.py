"""Space Occupancy: people counts from occupancy sensor clouds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.device_registry import DeviceEntry
from homeassistant.util import dt as dt_util

from .const import CONF_PROVIDER, DOMAIN
from .coordinator import OccupancyCoordinator, SpaceOccupancyConfigEntry
from .providers import ClientContext, Provider, create_provider

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]


def build_provider(
    hass: HomeAssistant,
    entry_data: Mapping[str, Any],
    settings: Mapping[str, Any] | None = None,
) -> Provider:
    """Build the provider client for a config entry's data on HA's session."""
    context = ClientContext(
        session=async_get_clientsession(hass),
        default_timezone=str(hass.config.time_zone),
        clock=dt_util.utcnow,
        settings=settings if settings is not None else {},
    )
    return create_provider(entry_data[CONF_PROVIDER], context, entry_data)


async def async_setup_entry(
    hass: HomeAssistant, entry: SpaceOccupancyConfigEntry
) -> bool:
    """Set up a provider account from a config entry."""
    # The provider reads its settings (the Concordia stale limit) from this dict
    # on every poll, so that changed options apply without a reload.
    settings: dict[str, Any] = {}
    coordinator = OccupancyCoordinator(
        hass, entry, build_provider(hass, entry.data, settings), settings
    )
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(
    hass: HomeAssistant, entry: SpaceOccupancyConfigEntry
) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: SpaceOccupancyConfigEntry, device: DeviceEntry
) -> bool:
    """Let the user delete a device only when its space is gone from the provider."""
    prefix = f"{entry.unique_id}_"
    coordinator = entry.runtime_data
    return not any(
        domain == DOMAIN
        and identifier.startswith(prefix)
        and coordinator.space_state(identifier.removeprefix(prefix)) is not None
        for domain, identifier in device.identifiers
    )
