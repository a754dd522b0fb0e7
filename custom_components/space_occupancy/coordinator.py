"""The coordinator: one poll of the provider per interval, one snapshot per poll."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_SCAN_INTERVAL, Platform
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .const import (
    CONF_CAPACITIES,
    CONF_HISTORY_DAYS,
    CONF_PROVIDER,
    DEFAULT_HISTORY_DAYS,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    ISSUE_QUOTA,
    ISSUE_RATE_LIMITED,
    LOGGER,
    PROVIDER_NAMES,
    QUOTA_BACKOFF_INTERVAL,
    QUOTA_RESET_GRACE,
    QUOTA_RESET_TIMEZONE,
    RATE_LIMIT_ISSUE_AFTER,
    STALE_LIMITED,
)
from .devices import SpaceDevices
from .providers import (
    Provider,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderRateLimitError,
    ProviderResponseError,
    Snapshot,
)
from .state import (
    SpaceState,
    Thresholds,
    counts_of,
    space_state,
    stale_limit,
    without_stale,
)

if TYPE_CHECKING:
    from .history import HistoryImporter

type SpaceOccupancyConfigEntry = ConfigEntry[OccupancyCoordinator]


def next_local_midnight(moment: datetime, timezone: str) -> datetime:
    """Return the first local midnight after a moment, in a timezone."""
    zone = ZoneInfo(timezone)
    local_day = moment.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(local_day, time(0), tzinfo=zone)


class OccupancyCoordinator(DataUpdateCoordinator[Snapshot]):
    """Polls one provider account and keeps its latest snapshot."""

    config_entry: SpaceOccupancyConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: SpaceOccupancyConfigEntry,
        provider: Provider,
    ) -> None:
        """Set up the coordinator for a config entry."""
        self.provider_key: str = entry.data[CONF_PROVIDER]
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=DEFAULT_SCAN_INTERVAL[self.provider_key],
            # A poll that changed nothing compares equal and writes no state.
            always_update=False,
        )
        self.provider = provider
        self._configured_interval = DEFAULT_SCAN_INTERVAL[self.provider_key]
        self._rate_limited_polls = 0
        # True while refusals look like a spent quota (polls back off).
        self.quota_backoff = False
        # Issues raised by this run; a quota issue from an earlier setup attempt
        # is found in the registry and cleared on the first good poll as well.
        self._open_issues: set[str] = {ISSUE_QUOTA, ISSUE_RATE_LIMITED}
        self.thresholds = Thresholds()
        self.user_capacities: dict[str, int] = {}
        # The states of the current snapshot's spaces, made on first use: all
        # entities of a space ask for the same state on every update.
        self._states: dict[str, SpaceState | None] = {}
        self._states_of: Snapshot | None = None
        # What changed since the entities were last told (see _note_changes).
        self.changed_spaces: frozenset[str] | None = None
        self.restamped_spaces: frozenset[str] = frozenset()
        self._told: tuple[Snapshot | None, bool, int] | None = None
        self._options_version = 0
        # Usual occupancy per space (usual.py) and the history import
        # (history.py): both need the recorder; async_setup_entry attaches
        # them where it runs.
        self.usual: dict[str, float] = {}
        self.usual_changed_spaces: frozenset[str] = frozenset()
        self._usual_listeners: list[CALLBACK_TYPE] = []
        self.history: HistoryImporter | None = None
        self.apply_options(entry.options, initial=True)
        self.devices = SpaceDevices(hass, entry, PROVIDER_NAMES[self.provider_key])

    @callback
    def apply_options(
        self, options: Mapping[str, Any], *, initial: bool = False
    ) -> None:
        """Take the entry's options: poll interval, thresholds, capacities, stale limit."""
        interval = options.get(CONF_SCAN_INTERVAL)
        self._configured_interval = (
            timedelta(seconds=interval)
            if interval
            else DEFAULT_SCAN_INTERVAL[self.provider_key]
        )
        self.update_interval = self._configured_interval
        self.thresholds = Thresholds.from_options(options)
        self.user_capacities = {
            space_id: int(capacity)
            for space_id, capacity in options.get(CONF_CAPACITIES, {}).items()
        }
        self._states_of = None  # The options change the states.
        self._options_version += 1
        self.stale_after = (
            stale_limit(options) if self.provider_key in STALE_LIMITED else None
        )
        if self.history is not None:
            self.history.async_set_days(
                int(options.get(CONF_HISTORY_DAYS, DEFAULT_HISTORY_DAYS))
            )
        if not initial:
            # Entities recompute from the same snapshot with the new options.
            self.async_update_listeners()

    @callback
    def async_set_usual(self, usual: dict[str, float]) -> None:
        """Take the hour's usual occupancy and tell the entities that show it.

        Only the entities that show the usual listen (two per space), and of
        those only the spaces whose usual changed write: the other entities
        are not woken every hour.
        """
        changed = frozenset(
            space_id
            for space_id in self.usual.keys() | usual.keys()
            if self.usual.get(space_id) != usual.get(space_id)
        )
        self.usual = usual
        if not changed:
            return
        self._states_of = None
        self.usual_changed_spaces = changed
        for update in list(self._usual_listeners):
            update()

    @callback
    def async_add_usual_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call update when the usual occupancy changes; return the remover."""
        self._usual_listeners.append(update)
        return lambda: self._usual_listeners.remove(update)

    def occupancy_statistic_ids(self) -> dict[str, str]:
        """Return the statistic id (entity id) of each space's enabled occupancy sensor."""
        registry = er.async_get(self.hass)
        data: Snapshot | None = self.data
        ids: dict[str, str] = {}
        for space_id in data.spaces if data is not None else ():
            entity_id = registry.async_get_entity_id(
                Platform.SENSOR, DOMAIN, self.entity_unique_id(space_id, "occupancy")
            )
            if entity_id is not None and not (
                (entry := registry.async_get(entity_id)) and entry.disabled
            ):
                ids[space_id] = entity_id
        return ids

    @callback
    def async_update_listeners(self) -> None:
        """Note what changed since the entities were last told, then tell them."""
        self._note_changes()
        super().async_update_listeners()

    def _note_changes(self) -> None:
        """Find the spaces whose reading changed since the last notification.

        Entities of other spaces skip their update at the cost of a set lookup:
        on a big tree most polls change few spaces, and Occuspace stamps every
        answer anew, so without this every entity would re-derive its state on
        every poll. Only the last-reading sensors follow a new time alone
        (``restamped_spaces``). ``changed_spaces`` is None when everything may
        have changed: the first notification, availability, options or the
        spaces themselves.
        """
        data: Snapshot | None = self.data
        told, self._told = (
            self._told,
            (data, self.last_update_success, self._options_version),
        )
        if (
            told is None
            or data is None
            or told[0] is None
            or told[0].spaces is not data.spaces
            or told[1:] != self._told[1:]
        ):
            self.changed_spaces = None
            self.restamped_spaces = frozenset()
            return
        before = told[0].readings
        changed: set[str] = set(before.keys() - data.readings.keys())
        restamped: set[str] = set()
        for space_id, reading in data.readings.items():
            old = before.get(space_id)
            if old is reading:
                continue
            if old is None or counts_of(old) != counts_of(reading):
                changed.add(space_id)
            elif old.observed_at != reading.observed_at:
                restamped.add(space_id)
        self.changed_spaces = frozenset(changed)
        self.restamped_spaces = frozenset(restamped)

    def space_state(self, space_id: str) -> SpaceState | None:
        """Return the state of a space, None when the provider no longer has it."""
        data: Snapshot | None = self.data
        if data is None:
            return None  # Not one good poll yet.
        if data is not self._states_of:
            self._states = {}
            self._states_of = data
        elif space_id in self._states:
            return self._states[space_id]
        space = data.spaces.get(space_id)
        reading = data.readings.get(space_id)
        state = (
            None
            if space is None or reading is None
            else space_state(
                space,
                reading,
                self.user_capacities.get(space_id),
                self.thresholds,
                self.usual.get(space_id),
            )
        )
        self._states[space_id] = state
        return state

    async def async_config_entry_first_refresh(self) -> None:
        """Refresh before setup; while a quota looks spent, set up all the same.

        Home Assistant retries a setup that failed every 80 s at most, each
        time with a new coordinator: a spent Concordia quota at startup would
        cost hundreds of refused calls a day. Instead the entry loads, its
        entities stay unavailable (those known from before) and the 30-minute
        back-off and the repair issue hold from the very first refusal.
        """
        try:
            await super().async_config_entry_first_refresh()
        except ConfigEntryNotReady:
            if not self.quota_backoff:
                raise
            LOGGER.debug(
                "%s: quota spent at setup, polling every %s",
                self.name,
                self.update_interval,
            )

    async def _async_update_data(self) -> Snapshot:
        try:
            snapshot = await self.provider.async_fetch()
        except ProviderAuthError as err:
            if self.provider_key in QUOTA_RESET_TIMEZONE:
                self._quota_or_auth_failure(err)
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="auth_failed"
            ) from err
        except ProviderRateLimitError as err:
            self._rate_limited_polls += 1
            if self._rate_limited_polls >= RATE_LIMIT_ISSUE_AFTER:
                self._raise_issue(ISSUE_RATE_LIMITED)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="rate_limited",
                translation_placeholders={
                    "retry_after": str(round(err.retry_after or 0))
                },
            ) from err
        except ProviderConnectionError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"error": str(err)},
            ) from err
        except ProviderResponseError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="invalid_response",
                translation_placeholders={"error": str(err)},
            ) from err
        if self.history is not None:
            self.history.async_poll_succeeded(
                snapshot.fetched_at, after_failure=not self.last_update_success
            )
        self._recovered()
        if self.stale_after is not None:
            snapshot = without_stale(snapshot, self.stale_after)
        self.devices.async_sync(snapshot)
        return snapshot

    def _quota_or_auth_failure(self, err: ProviderAuthError) -> None:
        """Handle a 401 that may mean "quota spent" rather than "bad credentials".

        Reauth starts only if the 401s outlast the provider's next quota reset
        (local midnight); until then entities are unavailable, a repair issue
        says why, and polling slows down. The issue's creation time is when
        the 401s began, so it survives setup retries.
        """
        issue = ir.async_get(self.hass).async_get_issue(
            DOMAIN, self._issue_id(ISSUE_QUOTA)
        )
        now = dt_util.utcnow()
        since = issue.created if issue is not None else now
        if (
            now
            >= next_local_midnight(since, QUOTA_RESET_TIMEZONE[self.provider_key])
            + QUOTA_RESET_GRACE
        ):
            return  # Still refused after the quota reset: the credentials are wrong.
        self._raise_issue(ISSUE_QUOTA)
        self.quota_backoff = True
        self.update_interval = max(self._configured_interval, QUOTA_BACKOFF_INTERVAL)
        raise UpdateFailed(
            translation_domain=DOMAIN, translation_key="quota_or_auth"
        ) from err

    def _recovered(self) -> None:
        """Close the repair issues: a good poll ends what they were about."""
        self._rate_limited_polls = 0
        self.quota_backoff = False
        self.update_interval = self._configured_interval
        if self._open_issues:
            for issue in self._open_issues:
                ir.async_delete_issue(self.hass, DOMAIN, self._issue_id(issue))
            self._open_issues.clear()

    def _issue_id(self, issue: str) -> str:
        return f"{issue}_{self.config_entry.entry_id}"

    def _raise_issue(self, issue: str) -> None:
        self._open_issues.add(issue)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self._issue_id(issue),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=issue,
            translation_placeholders={"account": self.config_entry.title},
        )

    def entity_unique_id(self, space_id: str, key: str) -> str:
        """Return the unique id of a space's entity."""
        return f"{self.config_entry.unique_id}_{space_id}_{key}"

    def device_identifier(self, space_id: str) -> tuple[str, str]:
        """Return the device registry identifier of a space."""
        return self.devices.identifier(space_id)
