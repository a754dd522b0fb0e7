"""Diagnostics: the entry with its secrets redacted, and the latest snapshot."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceEntry

from .const import CONF_ACCOUNT_ID, CONF_ACCOUNT_KEY, CONF_BASE_URL, CREDENTIAL_KEYS
from .data import SpaceOccupancyConfigEntry
from .providers import Snapshot
from .push import CONF_PUSH_SECRET, CONF_WEBHOOK_ID

# Every credential (user names and ids identify a person or a customer too),
# the entry's account id and title, any token a provider might report, and the
# base URL (a test server's address, or credentials typed into it).
TO_REDACT = {
    *CREDENTIAL_KEYS,
    CONF_ACCOUNT_ID,
    CONF_ACCOUNT_KEY,
    CONF_BASE_URL,
    # Who can deliver pushes: the webhook's address and its secret.
    CONF_PUSH_SECRET,
    CONF_WEBHOOK_ID,
    "unique_id",
    "title",
    "access_token",
    "token",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: SpaceOccupancyConfigEntry
) -> dict[str, Any]:
    """Return the entry, its options, the provider's state and the last snapshot."""
    data = entry.runtime_data
    coordinator = data.coordinator
    snapshot: Snapshot | None = coordinator.data
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "provider": async_redact_data(data.client.diagnostics(), TO_REDACT),
        "last_update_success": coordinator.last_update_success,
        "quota_backoff": coordinator.problems.quota_backoff,
        "failed_polls": coordinator.problems.failed_polls,
        "poll_interval_seconds": (
            coordinator.update_interval.total_seconds()
            if coordinator.update_interval
            else None
        ),
        # Providers that serve history (Butlr), where the recorder runs.
        "history": None if data.history is None else data.history.diagnostics(),
        "usual_known_for": len(coordinator.states.usual),
        # Clients that can push (Butlr): state, deliveries, the last one's time.
        "push": None if data.push is None else asdict(data.push.stats),
        # None until the first good poll (a quota spent since setup).
        "snapshot": None
        if snapshot is None
        else {
            "fetched_at": snapshot.fetched_at,
            "spaces": {key: asdict(space) for key, space in snapshot.spaces.items()},
            "readings": {
                key: asdict(reading) for key, reading in snapshot.readings.items()
            },
            "health": {key: asdict(health) for key, health in snapshot.health.items()},
        },
    }


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: SpaceOccupancyConfigEntry, device: DeviceEntry
) -> dict[str, Any]:
    """One space: its definition, reading and what the entities show."""
    data = entry.runtime_data
    space_id = data.ids.space_id_of(device)
    state = None if space_id is None else data.coordinator.space_state(space_id)
    return {
        "space_id": space_id,
        "state": asdict(state) if state is not None else None,
    }
