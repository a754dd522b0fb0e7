"""An entry's runtime data: everything a loaded entry runs, built in one place.

``async_setup_runtime_data`` builds the client, the coordinator and, where the
recorder runs, the history import (clients that serve history) and the usual
occupancy; it wires them together and does the first refresh. The config and
options flows talk to a loaded entry only through the two methods of
``SpaceOccupancyData`` documented below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.components.recorder.const import DOMAIN as RECORDER_DOMAIN
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er

from .budget import EntityBudget
from .clients import build_client
from .const import CONF_ACCOUNT_KEY, CONF_PROVIDER, DOMAIN, PROVIDER_NAMES
from .coordinator import OccupancyCoordinator
from .devices import SpaceDevices
from .history import HistoryImporter
from .ids import SpaceIds
from .issues import PollProblems
from .migration import async_repair_ids
from .options import EntrySettings
from .providers import Provider, Snapshot, capabilities_of, pushes, serves_history
from .push import PushReceiver
from .usual import UsualOccupancy

type SpaceOccupancyConfigEntry = ConfigEntry[SpaceOccupancyData]


@dataclass(slots=True)
class SpaceOccupancyData:
    """What a loaded entry runs."""

    client: Provider
    ids: SpaceIds
    coordinator: OccupancyCoordinator
    devices: SpaceDevices
    budget: EntityBudget
    # Only where the recorder runs; history only for clients that serve it.
    history: HistoryImporter | None
    usual: UsualOccupancy | None
    # Only for clients that can push.
    push: PushReceiver | None = None

    @callback
    def async_apply_options(self, options: Mapping[str, Any]) -> None:
        """Apply options the options flow saved, without a reload (flow interface)."""
        settings = EntrySettings.from_options(options, self.client.capabilities)
        old = self.coordinator.settings
        self.devices.async_apply_settings(settings, self.coordinator.data)
        self.coordinator.async_apply_settings(settings)
        if self.push is not None and settings.push != old.push:
            self._async_push(settings.push)
        entry = self.coordinator.config_entry
        if (
            settings.door_line_count != old.door_line_count
            and settings.picked == old.picked  # else the coordinator polls anyway
            and entry is not None
        ):
            # Traffic rooms change their count: a poll now shows it.
            entry.async_create_background_task(
                self.coordinator.hass,
                self.coordinator.async_refresh(),
                f"{DOMAIN} poll with the new count",
            )
        if self.history is not None:
            self.history.async_set_days(settings.history_days)

    @callback
    def async_start(self, entry: ConfigEntry[Any]) -> None:
        """Start what needs the entities: their statistics can be read and written now.

        New room devices go into areas now that their entities (and ids) exist.
        """
        self.devices.async_place_new(self.coordinator.data)
        if self.push is not None:
            entry.async_on_unload(self.push.async_stop)
            if self.coordinator.settings.push:
                self._async_push(True)
        if self.usual is not None:
            entry.async_on_unload(self.usual.async_start())
        if self.history is not None:
            self.history.async_start()
            entry.async_on_unload(self.history.async_stop)

    @callback
    def _async_push(self, enabled: bool) -> None:
        """Subscribe (or unsubscribe) in the background: nothing waits for it."""
        if self.push is not None and (entry := self.coordinator.config_entry):
            entry.async_create_background_task(
                self.coordinator.hass,
                self.push.async_set_enabled(enabled),
                "space_occupancy push subscription",
            )

    def last_snapshot(self) -> Snapshot | None:
        """Return the last good poll's spaces and readings (flow interface)."""
        snapshot: Snapshot | None = self.coordinator.data
        return snapshot

    async def async_account_snapshot(self) -> Snapshot:
        """Poll the whole account once, picked or not (flow interface).

        The space selection counts what every space would cost; the entry's
        own polls read only the picked ones.
        """
        return await self.client.async_fetch(None)


@dataclass(slots=True)
class _LiveSettings:
    """The entry's settings as the client reads them at each poll: the coordinator's.

    The coordinator takes new options at once (``async_apply_options``), before
    Home Assistant stores them: a poll right after a change sees it.
    """

    settings: EntrySettings
    coordinator: OccupancyCoordinator | None = None

    def door_line_count(self) -> bool:
        """Whether traffic rooms show their door-line count."""
        coordinator = self.coordinator
        return (coordinator.settings if coordinator else self.settings).door_line_count


async def async_setup_runtime_data(
    hass: HomeAssistant, entry: SpaceOccupancyConfigEntry
) -> SpaceOccupancyData:
    """Build an entry's runtime data and poll its provider once."""
    # Ids a stopped migration left behind are moved before anything uses them.
    async_repair_ids(hass, entry)
    capabilities = capabilities_of(entry.data[CONF_PROVIDER])
    settings = EntrySettings.from_options(entry.options, capabilities)
    live = _LiveSettings(settings)
    client = build_client(hass, entry.data, live.door_line_count)
    ids = SpaceIds(str(entry.data.get(CONF_ACCOUNT_KEY) or entry.unique_id))
    coordinator = live.coordinator = OccupancyCoordinator(
        hass,
        entry,
        client,
        settings,
        PollProblems(hass, entry, capabilities.quota_reset_timezone),
    )
    budget = EntityBudget(hass, entry, ids)
    devices = SpaceDevices(
        hass,
        entry,
        ids,
        PROVIDER_NAMES[entry.data[CONF_PROVIDER]],
        settings=settings,
        admitted=lambda snapshot: budget.plan(snapshot, coordinator.settings).admitted,
    )
    entry.async_on_unload(coordinator.async_add_poll_observer(devices.async_sync))

    history, usual = await _async_recorded_parts(hass, entry, coordinator, ids)
    await coordinator.async_config_entry_first_refresh()
    push_client = pushes(client)
    push = (
        None
        if push_client is None
        else PushReceiver(hass, entry, push_client, coordinator)
    )
    return SpaceOccupancyData(
        client,
        ids,
        coordinator,
        devices,
        budget,
        history,
        usual,
        push,
    )


async def _async_recorded_parts(
    hass: HomeAssistant,
    entry: SpaceOccupancyConfigEntry,
    coordinator: OccupancyCoordinator,
    ids: SpaceIds,
) -> tuple[HistoryImporter | None, UsualOccupancy | None]:
    """Build what lives in the recorder's statistics: history import, usual occupancy."""
    if RECORDER_DOMAIN not in hass.config.components:
        return None, None

    def statistic_ids() -> dict[str, str]:
        data = coordinator.data
        spaces = () if data is None else data.spaces
        return ids.occupancy_entity_ids(er.async_get(hass), spaces)

    usual = UsualOccupancy(hass, entry, statistic_ids, coordinator.async_set_usual)
    history_client = serves_history(coordinator.client)
    if history_client is None:
        return None, usual
    history = HistoryImporter(
        hass,
        entry,
        history_client,
        days=coordinator.settings.history_days,
        statistic_ids=statistic_ids,
        # The usual occupancy need not wait for the next hour to see them.
        on_imported=usual.async_refresh_after_import,
    )
    await history.async_load()
    entry.async_on_unload(
        coordinator.async_add_poll_observer(history.async_poll_succeeded)
    )
    return history, usual
