"""A provider's history into Home Assistant's long-term statistics (Butlr).

What is imported: the hourly mean (and, where the provider's data makes them
exact, min and max) of every space's occupancy, into that occupancy sensor's
own statistics (statistic id = its entity id), through the recorder's import.

When: the last ``history_days`` days (an option) when an entry is first set
up, and the hours missing since the last good poll after Home Assistant was
stopped or the provider unreachable (at most ``GAP_FILL_LIMIT`` back). The
ranges still to import are stored, so an import cut short by a restart goes on;
the stored state is read back item by item (``history_store``): a damaged file
never fails a setup.

Rules that keep the recorder's own data safe:
- An hour that has a statistic is never written: the recorder compiled it
  from what the sensor showed, or an earlier import did (importing twice
  changes nothing). Hours written since setup are kept in memory too: the
  recorder may not have committed them when another import (the action and
  the background one) looks at the same hours.
- An hour is imported only once the recorder has compiled it (its last
  5-minute statistics run ends at or after the hour's end): the recorder would
  otherwise compile that hour later and collide with the imported row.
- The current hour is never imported.

Politeness: one history request at a time, ``HISTORY_REQUEST_PACE`` apart, in
a background task that polls never wait for; a failure of any kind leaves the
entities alone and the import retries ``HISTORY_RETRY_AFTER`` later, doubling
the wait while it keeps failing (at most ``HISTORY_RETRY_MAX``). Hours the
provider had no data for are remembered (stored), so that asking again costs
nothing. The ``import_history`` action runs one at a time per entry, as a
task of the entry (an unload stops it), and takes turns with the background
import chunk by chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.recorder.db_schema import StatisticsRuns
from homeassistant.components.recorder.models import StatisticData, process_timestamp
from homeassistant.components.recorder.statistics import (
    async_import_statistics,
    statistics_during_period,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.recorder import get_instance, session_scope
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from sqlalchemy import func

from .compat import statistic_metadata
from .const import (
    DOMAIN,
    GAP_FILL_LIMIT,
    HISTORY_REQUEST_PACE,
    HISTORY_RETRY_AFTER,
    HISTORY_RETRY_MAX,
    LOGGER,
    MAX_HISTORY_DAYS,
)
from .history_store import (
    MAX_EMPTY_RANGES,
    ImportState,
    Range,
    add_hours,
    add_range,
    dump_state,
    hour_starts,
    load_state,
    remove_range,
    window_of,
)
from .providers import HistoryProvider, HourStat, ProviderError, Snapshot
from .providers.timeutil import HOUR, hour_floor

# A chunk of history is what one request may cover (Butlr: 48 hourly windows).
CHUNK = timedelta(hours=48)
# The recorder compiles statistics in 5-minute runs.
STATISTICS_RUN = timedelta(minutes=5)
STORE_VERSION = 1
# The last good poll is saved at most this often: after a crash the gap starts
# a little early, which costs nothing (hours with a statistic are skipped).
LAST_GOOD_SAVE_INTERVAL = timedelta(minutes=5)
# An hour the provider had no data for is remembered (never asked again) once
# it ended at least this long before it was asked: data of the hours just
# past may still be on its way to the provider (a sensor catching up).
EMPTY_AFTER = timedelta(days=1)

__all__ = [
    "HistoryImporter",
    "ImportResult",
    "add_range",
    "async_remove_history_store",
    "remove_range",
    "retry_delay",
]


def retry_delay(failures_in_a_row: int) -> timedelta:
    """How long the import waits after this many failed chunks in a row.

    ``HISTORY_RETRY_AFTER`` after the first, doubling with each one more, never
    more than ``HISTORY_RETRY_MAX``.
    """
    doublings = min(max(failures_in_a_row, 1) - 1, 16)
    delay: timedelta = HISTORY_RETRY_AFTER * (1 << doublings)
    return min(delay, HISTORY_RETRY_MAX)


@dataclass
class ImportResult:
    """Hours imported per occupancy statistic, and the requests it took."""

    hours: dict[str, int] = field(default_factory=dict)
    requests: int = 0


class HistoryImporter:
    """Imports one entry's provider history, a chunk at a time, in the background."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        provider: HistoryProvider,
        *,
        days: int,
        statistic_ids: Callable[[], dict[str, str]],
        on_imported: Callable[[], None] | None = None,
    ) -> None:
        """Prepare the importer; nothing runs before async_start.

        ``statistic_ids`` returns the statistic id (the occupancy sensor's
        entity id) of each space to import, by space id; ``on_imported`` is
        called after each chunk that imported hours.
        """
        self.hass = hass
        self._entry = entry
        self.provider = provider
        self.days = days
        self._statistic_ids = statistic_ids
        self._store = _store(hass, entry.entry_id)
        self.pending: list[Range] = []
        self.covered_from: datetime | None = None
        self.last_good: datetime | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._retry_at: datetime | None = None
        self._next_request_at = 0.0
        self._saved_last_good: datetime | None = None
        self._on_imported = on_imported
        # Per space id: hours the provider had no data for (stored), and hours
        # written since setup (the recorder may not have committed them yet).
        self._empty: dict[str, list[Range]] = {}
        self._imported: dict[str, list[Range]] = {}
        # The import_history action running, if one is.
        self._action: asyncio.Task[None] | None = None
        # Diagnostics.
        self.hours_imported = 0
        self.failures = 0
        self.failures_in_a_row = 0
        self.last_error: str | None = None

    async def async_load(self) -> None:
        """Read what is left to import; a first setup queues the initial import.

        A damaged state (edited by hand, cut short) never fails the setup:
        what does not fit is dropped, once logged; with nothing usable left,
        the initial import is queued again (hours with a statistic cost no
        request).
        """
        now = dt_util.utcnow()
        now_hour = hour_floor(now)
        stored: Any
        try:
            stored = await self._store.async_load()
        except Exception:  # noqa: BLE001 - an unreadable file is a damaged one
            stored = "unreadable"
        state, dropped = (
            (None, [])
            if stored is None
            else load_state(stored, window_of(now_hour, MAX_HISTORY_DAYS))
        )
        if dropped:
            LOGGER.warning(
                "The stored history import state of entry %s was damaged;"
                " dropped %d item(s): %s",
                self._entry.entry_id,
                len(dropped),
                ", ".join(dropped[:5]) + (", …" if len(dropped) > 5 else ""),
            )
        if state is None:
            self.covered_from = now_hour - timedelta(days=self.days)
            self.pending = add_range([], (self.covered_from, now_hour))
            self._save()
            return
        self.pending = state.pending
        self.covered_from = state.covered_from
        self.last_good = state.last_good
        self._empty = state.empty
        if self.last_good is not None:
            self._queue_gap(now)

    @callback
    def async_start(self) -> None:
        """Start importing: the entities exist now, so their statistics can."""
        self._started = True
        self._schedule()

    @callback
    async def async_poll_succeeded(
        self, snapshot: Snapshot, after_failure: bool
    ) -> None:
        """Note a good poll; after failed ones, queue the hours they missed."""
        now = snapshot.fetched_at
        if after_failure and self.last_good is not None:
            self._queue_gap(now)
        self.last_good = now
        saved = self._saved_last_good
        if saved is None or now - saved >= LAST_GOOD_SAVE_INTERVAL:
            self._save()
        self._schedule()

    @callback
    def async_set_days(self, days: int) -> None:
        """Take a new number of days to import; more days queue the older ones."""
        self.days = days
        start = hour_floor(dt_util.utcnow()) - timedelta(days=days)
        if self.covered_from is None or start < self.covered_from:
            self.pending = add_range(
                self.pending, (start, self.covered_from or hour_floor(start))
            )
            self.covered_from = start
            self._save()
            self._schedule()

    async def async_stop(self) -> None:
        """Stop the background import and the action, and save what is left."""
        self._started = False
        for task in (self._task, self._action):
            if task is not None:
                task.cancel()
        await self._store.async_save(self._stored())

    async def async_import(self, start: datetime, end: datetime) -> ImportResult:
        """Import a range now (the ``import_history`` action), paced as always.

        One at a time per entry. It runs as a task of the entry, so that
        unloading (or reloading) the entry stops it, and takes the lock per
        chunk, so that the background import is not held up for its whole
        range (nor it for the background import's).
        """
        if self._action is not None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="history_import_running",
                translation_placeholders={"entry": self._entry.title},
            )
        result = ImportResult()
        self._action = self._entry.async_create_background_task(
            self.hass, self._import_range(start, end, result), f"{DOMAIN} action"
        )
        try:
            await self._action
        except asyncio.CancelledError:
            if (caller := asyncio.current_task()) is not None and caller.cancelling():
                raise  # The caller was cancelled, not the import.
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="history_import_stopped"
            ) from None
        except Exception as err:
            # Counted in diagnostics; the caller sees it. The background
            # import's own schedule does not change.
            self.failures += 1
            self.last_error = type(err).__name__
            raise
        finally:
            self._action = None
        return result

    async def _import_range(
        self, start: datetime, end: datetime, result: ImportResult
    ) -> None:
        """Import a range, newest chunk first, up to what the recorder compiled."""
        chunk_end = min(end, await self._compiled_until())
        while chunk_end > start:
            chunk = (max(start, chunk_end - CHUNK), chunk_end)
            async with self._lock:
                await self._import_chunk(chunk, result)
            self._save()
            chunk_end = chunk[0]

    def diagnostics(self) -> dict[str, Any]:
        """Return what the import did and has left to do."""
        return {
            "days": self.days,
            "pending": [[start, end] for start, end in self.pending],
            "last_good_poll": self.last_good,
            "requests": self.provider.history_request_count,
            "hours_imported": self.hours_imported,
            "failures": self.failures,
            "failures_in_a_row": self.failures_in_a_row,
            "last_error": self.last_error,
            "retry_at": self._retry_at,
            "action_running": self._action is not None,
            "hours_without_data": sum(
                (end - start) // HOUR
                for ranges in self._empty.values()
                for start, end in ranges
            ),
        }

    def _queue_gap(self, now: datetime) -> None:
        """Queue the hours since the last good poll (bounded) up to this hour."""
        since = self.last_good or now
        start = max(hour_floor(since), hour_floor(now) - GAP_FILL_LIMIT)
        self.pending = add_range(self.pending, (start, hour_floor(now)))
        self._save()

    def _schedule(self) -> None:
        """Run the background import if there is work, unless it runs or waits."""
        if (
            not self._started
            or not self.pending
            or (self._task is not None and not self._task.done())
            or (self._retry_at is not None and dt_util.utcnow() < self._retry_at)
        ):
            return
        self._task = self._entry.async_create_background_task(
            self.hass, self._async_run(), f"{DOMAIN} history import"
        )

    async def _async_run(self) -> None:
        """Import the pending ranges, newest chunk first, up to what is compiled.

        The lock is taken per chunk: an ``import_history`` action waits for
        one chunk at most, not for a whole 30-day import.
        """
        while True:
            async with self._lock:
                hours_before = self.hours_imported
                try:
                    chunk = self._next_chunk(await self._compiled_until())
                    if chunk is None:
                        return
                    await self._import_chunk(chunk, ImportResult())
                except Exception as err:  # noqa: BLE001 - every failure waits
                    self._failed(err)
                    return
                self._retry_at = None
                self.failures_in_a_row = 0
                self.pending = remove_range(self.pending, chunk)
                self._save()
            if self.hours_imported > hours_before and self._on_imported:
                self._on_imported()

    def _failed(self, err: Exception) -> None:
        """Count a failed chunk and wait before the next try, longer while they fail.

        Whatever failed (the provider, an answer no parser expected, the
        recorder), the background import waits: never a task that ends with
        an exception nobody reads, to start again on the same chunk at the
        next poll.
        """
        self.failures += 1
        self.failures_in_a_row += 1
        self.last_error = type(err).__name__
        self._retry_at = dt_util.utcnow() + retry_delay(self.failures_in_a_row)
        if isinstance(err, ProviderError):
            LOGGER.debug(
                "History import failed (%s), retrying after %s", err, self._retry_at
            )
            return
        LOGGER.warning(
            "History import failed unexpectedly (%s), retrying after %s",
            type(err).__name__,
            self._retry_at,
        )
        LOGGER.debug("The unexpected history failure", exc_info=err)

    def _next_chunk(self, compiled_until: datetime) -> Range | None:
        """Return the newest chunk of pending hours that the recorder has compiled."""
        for start, pending_end in reversed(self.pending):
            end = min(pending_end, compiled_until)
            if end > start:
                return (max(start, end - CHUNK), end)
        return None

    async def _import_chunk(self, chunk: Range, result: ImportResult) -> None:
        """Fetch one chunk of history and import the hours that have no statistic.

        A chunk whose every hour, for every space, has a statistic, was
        written since setup or is known to have no data costs no request:
        importing twice asks the provider nothing the second time.
        """
        statistic_ids = self._statistic_ids()
        if not statistic_ids:
            return
        for statistic_id in statistic_ids.values():
            result.hours.setdefault(statistic_id, 0)
        existing = await get_instance(self.hass).async_add_executor_job(
            _hours_with_statistics, self.hass, set(statistic_ids.values()), *chunk
        )
        written = {
            space_id: existing.get(statistic_id, set())
            | hour_starts(self._imported.get(space_id, ()), chunk)
            for space_id, statistic_id in statistic_ids.items()
        }
        hours = int((chunk[1] - chunk[0]) / HOUR)
        if all(
            len(written[space_id] | hour_starts(self._empty.get(space_id, ()), chunk))
            >= hours
            for space_id in statistic_ids
        ):
            return
        asked_at = dt_util.utcnow()
        requests_before = self.provider.history_request_count
        history = await self.provider.async_history(*chunk, self._pace)
        result.requests += self.provider.history_request_count - requests_before
        for space_id, statistic_id in statistic_ids.items():
            space_hours = history.get(space_id, {})
            if rows := _new_rows(space_hours, written[space_id]):
                self._write(space_id, statistic_id, rows)
                result.hours[statistic_id] += len(rows)
            self._remember_empty(
                space_id, (chunk[0], min(chunk[1], asked_at - EMPTY_AFTER)), space_hours
            )

    def _write(
        self, space_id: str, statistic_id: str, rows: list[StatisticData]
    ) -> None:
        """Queue a statistic's new rows for the recorder, and remember them."""
        # The unit as the sensor's state shows it: the recorder's own compile
        # takes it from there.
        state = self.hass.states.get(statistic_id)
        unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) if state else None
        async_import_statistics(self.hass, statistic_metadata(statistic_id, unit), rows)
        self._imported[space_id] = add_hours(
            self._imported.get(space_id, []), (row["start"] for row in rows)
        )
        self.hours_imported += len(rows)

    def _remember_empty(
        self, space_id: str, settled: Range, space_hours: dict[datetime, HourStat]
    ) -> None:
        """Remember the settled hours of a chunk the provider had no data for."""
        hour = settled[0]
        missing: list[datetime] = []
        while hour + HOUR <= settled[1]:
            if hour not in space_hours:
                missing.append(hour)
            hour += HOUR
        if missing:
            ranges = add_hours(self._empty.get(space_id, []), missing)
            self._empty[space_id] = ranges[-MAX_EMPTY_RANGES:]

    async def _pace(self) -> None:
        """Wait until the next history request is due (one per pace interval)."""
        loop = asyncio.get_running_loop()
        if (wait := self._next_request_at - loop.time()) > 0:
            await asyncio.sleep(wait)
        self._next_request_at = loop.time() + HISTORY_REQUEST_PACE.total_seconds()

    async def _compiled_until(self) -> datetime:
        """Return the end of the hours the recorder has compiled (never the current one)."""
        last_run = await get_instance(self.hass).async_add_executor_job(
            _last_statistics_run, self.hass
        )
        now_hour = hour_floor(dt_util.utcnow())
        if last_run is None:
            return now_hour
        return min(now_hour, hour_floor(last_run + STATISTICS_RUN))

    def _save(self) -> None:
        self._saved_last_good = self.last_good
        self.hass.async_create_task(self._store.async_save(self._stored()))

    def _stored(self) -> dict[str, Any]:
        window = window_of(hour_floor(dt_util.utcnow()), MAX_HISTORY_DAYS)
        # Hours out of the window are never asked again: forget them.
        for memory in (self._empty, self._imported):
            for space_id, ranges in list(memory.items()):
                if not (kept := [r for r in ranges if r[1] > window[0]]):
                    del memory[space_id]
                else:
                    memory[space_id] = kept
        return dump_state(
            ImportState(self.pending, self.covered_from, self.last_good, self._empty)
        )


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Where an entry's import state is kept."""
    return Store(hass, STORE_VERSION, f"{DOMAIN}.history.{entry_id}")


async def async_remove_history_store(hass: HomeAssistant, entry_id: str) -> None:
    """Forget a deleted entry's import state."""
    await _store(hass, entry_id).async_remove()


def _new_rows(
    hours: dict[datetime, HourStat], written: set[float]
) -> list[StatisticData]:
    """Return the rows of a statistic's hours that have not been written yet."""
    rows: list[StatisticData] = []
    for hour, stat in sorted(hours.items()):
        if hour.timestamp() in written:
            continue
        row = StatisticData(start=hour, mean=stat.mean)
        if stat.min is not None and stat.max is not None:
            row["min"] = stat.min
            row["max"] = stat.max
        rows.append(row)
    return rows


def _hours_with_statistics(
    hass: HomeAssistant, statistic_ids: set[str], start: datetime, end: datetime
) -> dict[str, set[float]]:
    """Return the hour starts (timestamps) that already have a statistic, per id."""
    rows = statistics_during_period(
        hass, start, end, statistic_ids, "hour", None, {"mean"}
    )
    return {
        statistic_id: {row["start"] for row in hours}
        for statistic_id, hours in rows.items()
    }


def _last_statistics_run(hass: HomeAssistant) -> datetime | None:
    """Return the start of the recorder's newest 5-minute statistics run."""
    with session_scope(hass=hass, read_only=True) as session:
        last = session.query(func.max(StatisticsRuns.start)).scalar()
    return None if last is None else process_timestamp(last)
