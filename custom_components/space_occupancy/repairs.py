"""Repairs that fix: the way out of an issue, where it is one of our settings, in place.

- ``rate_limited`` and ``concordia_quota``: poll less often (the poll interval).
- ``entity_cap``: pick fewer spaces (the options' spaces form).

Finishing a flow deletes its issue (Home Assistant's repairs do); an issue
whose cause lasts comes back at the next poll that meets it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult

from .compat import vol
from .const import (
    CONF_PROVIDER,
    ISSUE_DATA_ENTRY_ID,
    ISSUE_ENTITY_CAP,
    MAX_SCAN_INTERVAL,
)
from .entry_picks import EntryPicks, async_apply_options
from .forms import interval_selector
from .providers import capabilities_of


class _EntryRepairFlow(RepairsFlow):
    """A repair of one entry's settings."""

    def __init__(self, entry: ConfigEntry | None) -> None:
        """Repair ``entry`` (None: it was removed meanwhile)."""
        self._entry = entry

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> FlowResult:
        """Open the form (Home Assistant passes the issue's id, not an answer, here)."""
        return await self.async_step_fix()

    async def async_step_fix(
        self, user_input: dict[str, Any] | None = None
    ) -> FlowResult:
        """Ask for the setting that fixes the issue."""
        raise NotImplementedError


class PollIntervalRepairFlow(_EntryRepairFlow):
    """Poll less often: the provider rate-limits the entry, or its quota is spent."""

    async def async_step_fix(
        self, user_input: dict[str, Any] | None = None
    ) -> FlowResult:
        """Ask for a longer poll interval, twice the current one suggested."""
        entry = self._entry
        if entry is None:
            return self.async_abort(reason="entry_removed")
        if user_input is not None:
            seconds = int(user_input[CONF_SCAN_INTERVAL])
            async_apply_options(
                self.hass, entry, {**entry.options, CONF_SCAN_INTERVAL: seconds}
            )
            return self.async_create_entry(data={})
        capabilities = capabilities_of(entry.data[CONF_PROVIDER])
        current = timedelta(
            seconds=entry.options.get(
                CONF_SCAN_INTERVAL, capabilities.poll_interval.total_seconds()
            )
        )
        suggested = min(current * 2, MAX_SCAN_INTERVAL)
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SCAN_INTERVAL, default=suggested.total_seconds()
                ): interval_selector(capabilities)
            }
        )
        return self.async_show_form(
            step_id="fix",
            data_schema=schema,
            description_placeholders={
                "account": entry.title,
                "current": str(round(current.total_seconds())),
            },
        )


class FewerSpacesRepairFlow(_EntryRepairFlow):
    """Pick fewer spaces: the entry would pass Home Assistant's entity cap."""

    _picks: EntryPicks

    async def async_step_fix(
        self, user_input: dict[str, Any] | None = None
    ) -> FlowResult:
        """Show the spaces form; store picks the cap takes."""
        entry = self._entry
        if entry is None:
            return self.async_abort(reason="entry_removed")
        if not hasattr(self, "_picks"):
            picks = await EntryPicks.async_read(self.hass, entry)
            if isinstance(picks, str):
                return self.async_abort(reason=picks)
            self._picks = picks
        errors, placeholders, options = self._picks.answer(self.hass, user_input)
        if options is not None:
            async_apply_options(self.hass, entry, options)
            return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="fix",
            data_schema=self._picks.schema(),
            description_placeholders=placeholders,
            errors=errors,
        )


async def async_create_fix_flow(
    hass: HomeAssistant,
    issue_id: str,
    data: dict[str, str | int | float | None] | None,
) -> RepairsFlow:
    """Return the flow that fixes one of our fixable issues."""
    entry_id = (data or {}).get(ISSUE_DATA_ENTRY_ID)
    entry = hass.config_entries.async_get_entry(str(entry_id))
    if issue_id.startswith(f"{ISSUE_ENTITY_CAP}_"):
        return FewerSpacesRepairFlow(entry)
    return PollIntervalRepairFlow(entry)
