"""What the flows share: entries of one account, the spaces form, the poll interval."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from .budget import entity_cap
from .compat import vol
from .const import CONF_ACCOUNT_KEY, CONF_AREAS, CONF_SPACES, MAX_SCAN_INTERVAL
from .data import SpaceOccupancyData
from .options import picked_of
from .picking import AccountSpaces
from .providers import Capabilities, Snapshot
from .providers.selection import expand


def account_key_of(entry: ConfigEntry) -> str:
    """Return the account (provider-scoped) an entry belongs to, whatever its part."""
    return str(entry.data.get(CONF_ACCOUNT_KEY) or entry.unique_id)


def last_snapshot(entry: ConfigEntry) -> Snapshot | None:
    """Return the last snapshot of an entry, None unless it is loaded and polled."""
    data: SpaceOccupancyData | None = getattr(entry, "runtime_data", None)
    return None if data is None else data.last_snapshot()


def held_by(
    entries: Iterable[ConfigEntry], snapshot: Snapshot
) -> frozenset[str] | None:
    """Return the spaces other entries of an account hold; None if one holds all."""
    held: set[str] = set()
    for entry in entries:
        wanted = expand(snapshot.spaces, picked_of(entry.options))
        if wanted is None:
            return None
        held |= wanted
    return frozenset(held)


def interval_selector(capabilities: Capabilities) -> NumberSelector:
    """Return the poll interval's field, in seconds, within the provider's bounds."""
    return NumberSelector(
        NumberSelectorConfig(
            min=capabilities.min_poll_interval.total_seconds(),
            max=MAX_SCAN_INTERVAL.total_seconds(),
            unit_of_measurement="s",
            mode=NumberSelectorMode.BOX,
        )
    )


def spaces_schema(
    account: AccountSpaces, default: list[str], *, with_areas: bool
) -> vol.Schema:
    """Return the spaces form: a searchable list of paths, and (new entries) areas."""
    schema: dict[vol.Marker, Any] = {
        vol.Required(CONF_SPACES, default=default): SelectSelector(
            SelectSelectorConfig(
                options=[
                    SelectOptionDict(value=space_id, label=account.label(space_id))
                    for space_id in account.pickable()
                ],
                multiple=True,
                # A searchable picker, not one checkbox per space.
                mode=SelectSelectorMode.DROPDOWN,
                sort=False,
            )
        )
    }
    if with_areas:
        schema[vol.Required(CONF_AREAS, default=True)] = BooleanSelector()
    return vol.Schema(schema)


def spaces_placeholders(
    account: AccountSpaces, capacities: Mapping[str, int]
) -> dict[str, str]:
    """Return what the spaces form tells: the account's size, spaces and entities."""
    everything = account.shown_of(None)
    return {
        "spaces": f"{len(everything):,}",
        "entities": f"{account.cost(None, capacities):,}",
        "cap": f"{entity_cap() or 0:,}",
    }


def check_picks(
    account: AccountSpaces, picks: list[str], capacities: Mapping[str, int]
) -> tuple[dict[str, str], dict[str, str]]:
    """Return the form's errors for these picks, and the numbers they quote."""
    if not picks:
        return {CONF_SPACES: "no_spaces_picked"}, {}
    wanted = expand(account.spaces, picks) or frozenset()
    if wanted & account.held:
        return {CONF_SPACES: "spaces_overlap"}, {}
    cost = account.cost(picks, capacities)
    if (cap := entity_cap()) is not None and cost > cap:
        return {CONF_SPACES: "too_many_entities"}, {
            "picked_entities": f"{cost:,}",
            "picked_spaces": f"{len(account.shown_of(picks)):,}",
            "cap": f"{cap:,}",
        }
    return {}, {}
