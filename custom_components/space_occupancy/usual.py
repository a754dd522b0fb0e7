"""Usual occupancy: how many people a space holds at this weekday and hour.

From Home Assistant's own long-term statistics of each space's occupancy
sensor (compiled, or imported from the provider's history): the mean of the
hourly means at the same local weekday and hour in each of the last
``USUAL_WEEKS`` weeks, known once at least ``USUAL_MIN_WEEKS`` of them have a
statistic. Weeks are counted in Home Assistant's time zone, on the wall clock,
so a daylight saving change does not shift the hour compared.

Cost: refreshed once an hour, by one recorder job per entry that reads those
few hours for all of the entry's spaces at once; never per space or per poll.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_change
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util

from .const import DOMAIN, USUAL_MIN_WEEKS, USUAL_WEEKS
from .providers.timeutil import HOUR


def same_hour_in_past_weeks(now: datetime, weeks: int) -> list[datetime]:
    """Return the starts (UTC) of this local hour on the same weekday 1…weeks weeks ago."""
    local = dt_util.as_local(now).replace(minute=0, second=0, microsecond=0)
    zone = local.tzinfo
    return [
        dt_util.as_utc(
            # Wall-clock arithmetic: the same local hour, whatever the offset then.
            (local.replace(tzinfo=None) - timedelta(weeks=week)).replace(tzinfo=zone)
        )
        for week in range(1, weeks + 1)
    ]


def usual_from_means(means: list[float]) -> float | None:
    """Return the usual occupancy from the same hour's means: None below the minimum."""
    if len(means) < USUAL_MIN_WEEKS:
        return None
    return round(sum(means) / len(means), 1)


def read_usual(
    hass: HomeAssistant, statistic_ids: dict[str, str], hours: list[datetime]
) -> dict[str, float]:
    """Read the hours' means of every space and average them (recorder thread)."""
    means: dict[str, list[float]] = {}
    wanted = set(statistic_ids.values())
    for start in hours:
        rows = statistics_during_period(
            hass, start, start + HOUR, wanted, "hour", None, {"mean"}
        )
        for statistic_id, hour_rows in rows.items():
            for row in hour_rows:
                if (mean := row.get("mean")) is not None:
                    means.setdefault(statistic_id, []).append(mean)
    usual: dict[str, float] = {}
    for space_id, statistic_id in statistic_ids.items():
        if (value := usual_from_means(means.get(statistic_id, []))) is not None:
            usual[space_id] = value
    return usual


class UsualOccupancy:
    """Keeps an entry's usual occupancy per space, refreshed every hour."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        statistic_ids: Callable[[], dict[str, str]],
        on_usual: Callable[[dict[str, float]], Awaitable[None]],
    ) -> None:
        """Prepare; nothing runs before async_start.

        ``statistic_ids`` returns the occupancy statistic id of each space;
        ``on_usual`` takes the usual occupancy of each space that has one.
        """
        self.hass = hass
        self._entry = entry
        self._statistic_ids = statistic_ids
        self._on_usual = on_usual

    @callback
    def async_start(self) -> Callable[[], None]:
        """Refresh now and at the start of every hour; return the stop callback."""
        self.async_refresh_in_background()
        # A few seconds past the hour: the hour compared has just changed.
        return async_track_time_change(self.hass, self._on_hour, minute=0, second=5)

    @callback
    def _on_hour(self, now: datetime) -> None:
        self.async_refresh_in_background()

    @callback
    def async_refresh_in_background(self) -> None:
        """Refresh in a task of the entry's, which nothing waits for."""
        self._entry.async_create_background_task(
            self.hass, self.async_refresh(), f"{DOMAIN} usual occupancy"
        )

    @callback
    def async_refresh_after_import(self) -> None:
        """Refresh once the recorder has written the statistics just imported."""

        async def refresh() -> None:
            # Imports are tasks in the recorder's queue: read after them.
            await get_instance(self.hass).async_block_till_done()
            await self.async_refresh()

        self._entry.async_create_background_task(
            self.hass, refresh(), f"{DOMAIN} usual occupancy after import"
        )

    async def async_refresh(self) -> None:
        """Read the statistics (in the recorder's executor) and tell the entities."""
        now = dt_util.utcnow()
        statistic_ids = self._statistic_ids()
        usual = (
            await get_instance(self.hass).async_add_executor_job(
                read_usual,
                self.hass,
                statistic_ids,
                same_hour_in_past_weeks(now, USUAL_WEEKS),
            )
            if statistic_ids
            else {}
        )
        await self._on_usual(usual)
