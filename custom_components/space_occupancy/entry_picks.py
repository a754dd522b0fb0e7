"""Picking a loaded entry's spaces again: the options' spaces step, the entity-cap repair.

Both read the whole account now (not the entry's last poll, which holds only
its picks), refuse what the config flow refuses, and store the picks with the
unique id that says which part of the account the entry holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .compat import vol
from .const import CONF_CAPACITIES, CONF_SPACES, DOMAIN
from .data import SpaceOccupancyData
from .forms import (
    account_key_of,
    check_picks,
    held_by,
    spaces_placeholders,
    spaces_schema,
)
from .options import picked_of
from .picking import AccountSpaces, part_unique_id
from .providers import ProviderError


class EntryPicks:
    """One loaded entry's spaces form: what it offers, refuses and stores."""

    def __init__(self, entry: ConfigEntry, account: AccountSpaces) -> None:
        """Serve ``entry``, whose account now reads as ``account``."""
        self._entry = entry
        self.account = account

    @classmethod
    async def async_read(
        cls, hass: HomeAssistant, entry: ConfigEntry
    ) -> EntryPicks | str:
        """Read the entry's whole account; return why not (an abort reason) if it cannot."""
        data: SpaceOccupancyData | None = getattr(entry, "runtime_data", None)
        if data is None:
            return "not_loaded"
        try:
            snapshot = await data.async_account_snapshot()
        except ProviderError:
            return "cannot_connect"
        account_key = account_key_of(entry)
        siblings = [
            other
            for other in hass.config_entries.async_entries(DOMAIN)
            if other.entry_id != entry.entry_id and account_key_of(other) == account_key
        ]
        account = AccountSpaces.of(
            snapshot,
            held_by(siblings, snapshot),
            split=bool(siblings),
            pushes=data.coordinator.settings.push,
        )
        # Another entry holds every space: whatever this one picked would overlap.
        return cls(entry, account) if account.pickable() else "already_configured"

    @property
    def _capacities(self) -> Mapping[str, int]:
        return dict(self._entry.options.get(CONF_CAPACITIES, {}))

    def placeholders(self) -> dict[str, str]:
        """Return what the form tells: the account's size, its cost, the cap."""
        return {
            "account": self._entry.title,
            **spaces_placeholders(self.account, self._capacities),
            "picked_entities": "0",
            "picked_spaces": "0",
        }

    def check(self, picks: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        """Return the form's errors for these picks, and the numbers they quote."""
        return check_picks(self.account, picks, self._capacities)

    def answer(
        self, hass: HomeAssistant, user_input: Mapping[str, Any] | None
    ) -> tuple[dict[str, str], dict[str, str], dict[str, Any] | None]:
        """Take the form's answer: its errors and numbers, and the options to store.

        No options while there is nothing to store (no answer yet, or one refused).
        """
        placeholders = self.placeholders()
        if user_input is None:
            return {}, placeholders, None
        picked = list(user_input[CONF_SPACES])
        errors, numbers = self.check(picked)
        placeholders.update(numbers)
        if errors:
            return errors, placeholders, None
        return {}, placeholders, self.options_with(hass, picked)

    def schema(self) -> vol.Schema:
        """Return the form, the entry's current picks ticked."""
        default = self.account.current(picked_of(self._entry.options))
        return spaces_schema(self.account, default, with_areas=False)

    def options_with(self, hass: HomeAssistant, picks: list[str]) -> dict[str, Any]:
        """Return the entry's options with these picks; give the entry its new unique id."""
        stored = self.account.stored(picks)
        options = {
            key: value
            for key, value in self._entry.options.items()
            if key != CONF_SPACES
        }
        if stored is not None:
            options[CONF_SPACES] = stored
        hass.config_entries.async_update_entry(
            self._entry,
            unique_id=part_unique_id(account_key_of(self._entry), stored),
        )
        return options


def async_apply_options(
    hass: HomeAssistant, entry: ConfigEntry, options: dict[str, Any]
) -> None:
    """Store options outside the options flow (a repair), and apply them at once."""
    hass.config_entries.async_update_entry(entry, options=options)
    data: SpaceOccupancyData | None = getattr(entry, "runtime_data", None)
    if data is not None:
        data.async_apply_options(options)
