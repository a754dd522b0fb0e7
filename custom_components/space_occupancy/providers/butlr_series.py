"""Butlr's own occupancy series, read live: calibrated traffic rooms and floors, zones.

Butlr computes some occupancies on its side (butlr-push.md §4.1, §4.4):

- ``traffic_room_occupancy`` and ``traffic_floor_occupancy`` with
  ``"calibrated": "true"``: people in a traffic room (or on a floor, from its
  main-entrance sensors), with the door lines' drift corrected day by day.
  It is what Butlr's dashboard shows by default, and what the history import
  reads, so the live value and the statistics agree.
- ``zone_occupancy``: people in a zone, from the floor's presence sensors.

They are read the way Butlr's guidance says: absolute ``start`` and ``stop``
over the last few minutes, one-minute windows with the ``median``, the site's
time zone, values ≥ 0. An asset's value is the median of its windows in that
span: one noisy minute does not move it. An asset without a value in the span
has no data (None), which is not 0.

One report per poll and site time zone carries all three measurements. Butlr
documents no rule against it; should it refuse the mix (HTTP 400), the client
asks one report per measurement from then on (``split_bodies``).

A series without a value in the span keeps its last one (``SeriesMemory``):
a traffic occupancy changes only when someone crosses a door line, so a
quiet series (or a failed report) holds the day's last value until local
midnight; a zone's value is held ``ZONE_HOLD``, then it has no data.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
import statistics
from typing import Any

from .base import whole_people
from .butlr_report import asset_values
from .timeutil import utc_iso

MEASUREMENT_ROOMS = "traffic_room_occupancy"
MEASUREMENT_FLOORS = "traffic_floor_occupancy"
MEASUREMENT_ZONES = "zone_occupancy"
# Each measurement's asset filter (floors are ``spaces`` in the reporting API).
FILTER_KEYS = {
    MEASUREMENT_ROOMS: "rooms",
    MEASUREMENT_FLOORS: "spaces",
    MEASUREMENT_ZONES: "zones",
}
CALIBRATED = frozenset({MEASUREMENT_ROOMS, MEASUREMENT_FLOORS})
# The span read, and its windows: Butlr's "current occupancy" reads.
SERIES_SPAN = timedelta(minutes=5)
SERIES_WINDOW = "1m"
SERIES_FUNCTION = "median"
# From a window's statistics: the window function's value, else the newest.
PREFERRED = (SERIES_FUNCTION, "last", "mean")
# A zone's last value stands this long after its series fell silent.
ZONE_HOLD = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class SeriesAssets:
    """The assets one time zone's report asks for, by measurement."""

    timezone: str
    rooms: tuple[str, ...] = ()
    floors: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()

    def by_measurement(self) -> dict[str, tuple[str, ...]]:
        """Return the assets of each measurement asked for (those with any)."""
        assets = {
            MEASUREMENT_ROOMS: self.rooms,
            MEASUREMENT_FLOORS: self.floors,
            MEASUREMENT_ZONES: self.zones,
        }
        return {measurement: ids for measurement, ids in assets.items() if ids}

    def all_ids(self) -> frozenset[str]:
        """Every asset asked for."""
        return frozenset((*self.rooms, *self.floors, *self.zones))


def series_body(
    now: datetime,
    timezone: str,
    assets: dict[str, tuple[str, ...]],
    filtered: bool,
) -> dict[str, Any]:
    """Return one report of these measurements' assets over the last minutes.

    ``filtered``: the assets are named (some of the account is left out, by
    selection or by another time zone's report); else the account's all.
    """
    measurements = list(assets)
    report_filter: dict[str, Any] = {
        "start": utc_iso(now - SERIES_SPAN),
        "stop": utc_iso(now),
        "measurements": measurements,
        "value": {"gte": 0},
    }
    if CALIBRATED.intersection(measurements):
        report_filter["calibrated"] = "true"
    if filtered:
        for measurement, ids in assets.items():
            report_filter[FILTER_KEYS[measurement]] = {"eq": list(ids)}
    return {
        "group_by": {"raw": True},
        "window": {
            "every": SERIES_WINDOW,
            "function": SERIES_FUNCTION,
            "timezone": timezone,
        },
        "filter": report_filter,
    }


def split_bodies(
    now: datetime, request: SeriesAssets, filtered: bool
) -> list[dict[str, Any]]:
    """Return one report per measurement, for a Butlr that refuses a mix."""
    return [
        series_body(now, request.timezone, {measurement: ids}, filtered)
        for measurement, ids in request.by_measurement().items()
    ]


def series_values(payload: Any, assets: Collection[str]) -> tuple[dict[str, int], int]:
    """Return each asset's people now (assets without data are left out).

    Also returns how many raw points belonged to no asset asked for.
    """
    values, unowned = asset_values(payload, assets, PREFERRED)
    people: dict[str, int] = {}
    for asset, found in values.items():
        if found and (value := whole_people(_median(found))) is not None:
            people[asset] = value
    return people, unowned


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


class SeriesMemory:
    """The last value of each asset's series, and when it was read."""

    def __init__(self) -> None:
        """Remember nothing yet."""
        self._last: dict[str, tuple[int, datetime]] = {}

    def hold(
        self, values: Mapping[str, int], now: datetime, since: Mapping[str, datetime]
    ) -> dict[str, int]:
        """Return each asset's value: read now, else its last since ``since[asset]``.

        ``since`` names the assets asked for this time, and from when a
        remembered value still stands; assets not asked are forgotten.
        """
        result: dict[str, int] = {}
        last: dict[str, tuple[int, datetime]] = {}
        for asset, valid_from in since.items():
            if asset in values:
                last[asset] = (values[asset], now)
            elif (held := self._last.get(asset)) is not None and held[1] >= valid_from:
                last[asset] = held
            else:
                continue
            result[asset] = last[asset][0]
        self._last = last
        return result
