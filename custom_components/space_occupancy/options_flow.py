"""Options: settings (poll interval, thresholds, areas…), the spaces, capacities.

Saved options apply to the running entry at once, through its runtime data's
``async_apply_options`` (data.py): no reload.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigFlowResult, OptionsFlow
from homeassistant.const import CONF_SCAN_INTERVAL
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

from .compat import vol
from .const import (
    CONF_AREAS,
    CONF_BASE_URL,
    CONF_CAPACITIES,
    CONF_DOOR_LINE_COUNT,
    CONF_HISTORY_DAYS,
    CONF_PROVIDER,
    CONF_PUSH,
    CONF_STALE_MINUTES,
    CONF_THRESHOLD_HIGH,
    CONF_THRESHOLD_LOW,
    CONF_THRESHOLD_MODERATE,
    DEFAULT_HISTORY_DAYS,
    DEFAULT_STALE_MINUTES,
    DEFAULT_THRESHOLD_HIGH,
    DEFAULT_THRESHOLD_LOW,
    DEFAULT_THRESHOLD_MODERATE,
    MAX_HISTORY_DAYS,
)
from .data import SpaceOccupancyData
from .entry_picks import EntryPicks
from .forms import interval_selector, last_snapshot
from .providers import capabilities_of
from .providers.selection import space_path
from .push import push_possible
from .state import provider_capacity


class SpaceOccupancyOptionsFlow(OptionsFlow):
    """Poll interval, activity thresholds, areas, stale limit, spaces and capacities."""

    _picks: EntryPicks

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer the spaces and capacities where the entry is loaded."""
        if last_snapshot(self.config_entry) is None:
            return await self.async_step_settings()
        menu = ["settings", "spaces"]
        if self._spaces_without_capacity():
            menu.append("capacity")
        return self.async_show_menu(step_id="init", menu_options=menu)

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Poll interval, thresholds, areas, (Butlr) history days, (Concordia) stale limit."""
        errors: dict[str, str] = {}
        if user_input is not None:
            thresholds = (
                user_input[CONF_THRESHOLD_LOW],
                user_input[CONF_THRESHOLD_MODERATE],
                user_input[CONF_THRESHOLD_HIGH],
            )
            if not thresholds[0] < thresholds[1] < thresholds[2]:
                errors["base"] = "thresholds_not_increasing"
            elif user_input.get(CONF_PUSH) and not push_possible(
                self.hass, str(self.config_entry.data.get(CONF_BASE_URL, ""))
            ):
                errors[CONF_PUSH] = "push_needs_https"
            else:
                return self._async_save({**self.config_entry.options, **user_input})
        return self.async_show_form(
            step_id="settings",
            data_schema=self.add_suggested_values_to_schema(
                self._settings_schema(), user_input or {}
            ),
            errors=errors,
        )

    def _settings_schema(self) -> vol.Schema:
        """Return the settings form: numbers with their bounds, and the areas switch."""
        capabilities = capabilities_of(self.config_entry.data[CONF_PROVIDER])
        options = self.config_entry.options
        # (key, default, minimum, maximum, unit) of each number in the form.
        fields: list[tuple[str, float, float, float, str]] = [
            (CONF_THRESHOLD_LOW, DEFAULT_THRESHOLD_LOW, 1, 200, "%"),
            (CONF_THRESHOLD_MODERATE, DEFAULT_THRESHOLD_MODERATE, 1, 200, "%"),
            (CONF_THRESHOLD_HIGH, DEFAULT_THRESHOLD_HIGH, 1, 200, "%"),
        ]
        if capabilities.history:
            fields.append(
                (CONF_HISTORY_DAYS, DEFAULT_HISTORY_DAYS, 0, MAX_HISTORY_DAYS, "d")
            )
        if capabilities.stale_by_change:
            fields.append((CONF_STALE_MINUTES, DEFAULT_STALE_MINUTES, 10, 1440, "min"))
        interval = options.get(
            CONF_SCAN_INTERVAL, capabilities.poll_interval.total_seconds()
        )
        schema: dict[vol.Marker, Any] = {
            vol.Required(CONF_SCAN_INTERVAL, default=interval): interval_selector(
                capabilities
            )
        }
        schema |= {
            vol.Required(key, default=options.get(key, default)): NumberSelector(
                NumberSelectorConfig(
                    min=minimum,
                    max=maximum,
                    unit_of_measurement=unit,
                    mode=NumberSelectorMode.BOX,
                )
            )
            for key, default, minimum, maximum, unit in fields
        }
        schema[vol.Required(CONF_AREAS, default=options.get(CONF_AREAS, False))] = (
            BooleanSelector()
        )
        if capabilities.push:
            schema[vol.Required(CONF_PUSH, default=options.get(CONF_PUSH, False))] = (
                BooleanSelector()
            )
        if capabilities.door_line_count:
            schema[
                vol.Required(
                    CONF_DOOR_LINE_COUNT,
                    default=options.get(CONF_DOOR_LINE_COUNT, False),
                )
            ] = BooleanSelector()
        return vol.Schema(schema)

    async def async_step_spaces(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick again which spaces the entry shows; applied without a reload."""
        if not hasattr(self, "_picks"):
            picks = await EntryPicks.async_read(self.hass, self.config_entry)
            if isinstance(picks, str):
                return self.async_abort(reason=picks)
            self._picks = picks
        errors, placeholders, options = self._picks.answer(self.hass, user_input)
        if options is not None:
            return self._async_save(options)
        return self.async_show_form(
            step_id="spaces",
            data_schema=self._picks.schema(),
            description_placeholders=placeholders,
            errors=errors,
        )

    async def async_step_capacity(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set the capacity of a space whose provider gives none (0 clears it)."""
        if user_input is not None:
            capacities = dict(self.config_entry.options.get(CONF_CAPACITIES, {}))
            if capacity := int(user_input["capacity"]):
                capacities[user_input["space"]] = capacity
            else:
                capacities.pop(user_input["space"], None)
            return self._async_save(
                {**self.config_entry.options, CONF_CAPACITIES: capacities}
            )
        spaces = self._spaces_without_capacity()
        return self.async_show_form(
            step_id="capacity",
            data_schema=vol.Schema(
                {
                    vol.Required("space"): SelectSelector(
                        SelectSelectorConfig(
                            options=[
                                SelectOptionDict(value=space_id, label=name)
                                for space_id, name in sorted(
                                    spaces.items(), key=lambda item: item[1]
                                )
                            ],
                            mode=SelectSelectorMode.DROPDOWN,
                        )
                    ),
                    vol.Required("capacity", default=0): NumberSelector(
                        NumberSelectorConfig(
                            min=0, max=100000, mode=NumberSelectorMode.BOX
                        )
                    ),
                }
            ),
        )

    def _async_save(self, options: dict[str, Any]) -> ConfigFlowResult:
        """Store the options, and apply them to the running entry at once.

        Applied here rather than by an update listener: Home Assistant 2026
        reserves update listeners for reloading, and options need no reload.
        """
        data: SpaceOccupancyData | None = getattr(
            self.config_entry, "runtime_data", None
        )
        if data is not None:
            data.async_apply_options(options)
        return self.async_create_entry(data=options)

    def _spaces_without_capacity(self) -> dict[str, str]:
        """Shown spaces the provider gives no capacity for: id → path of names."""
        snapshot = last_snapshot(self.config_entry)
        if snapshot is None:
            return {}  # Only a loaded entry knows its spaces.
        return {
            space_id: space_path(snapshot.spaces, space_id)
            for space_id, space in snapshot.spaces.items()
            if space_id in snapshot.readings
            and provider_capacity(space, snapshot.readings[space_id]) is None
        }
