"""Butlr's hourly history: which requests give which number, and how exact it is.

Butlr's reporting API answers any past range. With ``window.every = "1h"`` and
``group_by.order`` ending in ``time``, every room (or sensor) holds one object
per window start with the statistics of that window's value: the window
function picks the value, so each statistic of an hour needs its own request
(``mean``, ``max``, ``min``).

- Presence rooms: the seeds' client-side method, the sum of the room's presence
  sensors. An hour's mean of a sum is the sum of the sensors' hourly means:
  **exact**. A maximum does not add up like that (two sensors peaking at
  different minutes): a room's max and min are taken only where the room has
  one presence sensor, whose extremes are the room's: **exact** there, left out
  elsewhere.
- Traffic rooms: Butlr's own server-side series ``traffic_room_occupancy``
  (calibrated), the series their live value shows. Mean, max and min of the
  room itself: **exact** as Butlr computes them. (The door-line count, an
  option for the live value, has no hourly series: hourly sums could only
  sample it at the hour's end.)
- Floors with main-entrance sensors: ``traffic_floor_occupancy`` (calibrated),
  as live; zones: ``zone_occupancy``. Mean, max and min: **exact**.
- Other floors, buildings and sites: the sum of their rooms' hourly means
  (exact, as for sensors); no max or min, which do not add up. Zones overlap
  their room and are in no sum.

Leaves may hold raw points instead of statistics, and the whole answer may be
a flat list of raw points (``butlr_report``): the window function is applied
to the points of a window.

An hour counts for a presence room only when every sensor the room reported in
the range has that hour; otherwise it is a hole, left out rather than
under-counted. Values that are not finite non-negative numbers are holes too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
import math
from typing import Any

from .base import MAX_PEOPLE
from .butlr_report import report_data, statistic
from .models import History, HourStat
from .timeutil import utc_iso

# Butlr serves 1-hour windows over at most 48 hours per request.
MAX_HISTORY_SPAN = timedelta(hours=48)
# The most a history answer may hold (as sent and decompressed; see
# http.MAX_RESPONSE_BYTES). One statistic of every sensor over 48 hours: for
# scripts/bench's account (2,000 rooms, 6,000 presence sensors among 8,000)
# the presence answer is 34 MB with the simulator's short values, about 60 MB
# with full-precision floats. 256 MiB leaves a margin of 4 to 7 times.
MAX_HISTORY_RESPONSE_BYTES = 256 * 1024 * 1024

MEASUREMENT_PRESENCE = "presence"
MEASUREMENT_TRAFFIC_OCCUPANCY = "traffic_room_occupancy"
MEASUREMENT_FLOOR_OCCUPANCY = "traffic_floor_occupancy"
MEASUREMENT_ZONE_OCCUPANCY = "zone_occupancy"
# Butlr corrects the drift of these (``"calibrated": "true"``).
CALIBRATED_MEASUREMENTS = frozenset(
    {MEASUREMENT_TRAFFIC_OCCUPANCY, MEASUREMENT_FLOOR_OCCUPANCY}
)
# The statistics read per hour; each is the window function of one request.
MEAN = "mean"
MAX = "max"
MIN = "min"

# Per room (or sensor), per hour start: the value one request gave.
_Series = dict[str, dict[datetime, float]]

# The group_by orders of history requests: a flat answer is grouped by them.
PRESENCE_HISTORY_ORDER = ("room_id", "mac_address", "time")
ROOM_HISTORY_ORDER = ("room_id", "time")
_ORDERS = {
    MEASUREMENT_PRESENCE: PRESENCE_HISTORY_ORDER,
    MEASUREMENT_TRAFFIC_OCCUPANCY: ROOM_HISTORY_ORDER,
    MEASUREMENT_FLOOR_OCCUPANCY: ("space_id", "time"),
    MEASUREMENT_ZONE_OCCUPANCY: ("zone_id", "time"),
}


def history_order(measurement: str) -> tuple[str, ...]:
    """Return the ``group_by.order`` of a measurement's history requests."""
    return _ORDERS.get(measurement, ROOM_HISTORY_ORDER)


def history_body(
    measurement: str, function: str, start: datetime, stop: datetime
) -> dict[str, Any]:
    """Return the reporting request for one statistic of one kind of room."""
    order = list(history_order(measurement))
    report_filter: dict[str, Any] = {
        "start": utc_iso(start),
        "stop": utc_iso(stop),
        "measurements": [measurement],
        "value": {"gte": 0},
    }
    if measurement in CALIBRATED_MEASUREMENTS:
        report_filter["calibrated"] = "true"
    return {
        "group_by": {"order": order},
        "window": {"every": "1h", "function": function},
        "filter": report_filter,
    }


def _people(value: Any) -> float | None:
    """Read a statistic as people: a finite number from 0 to MAX_PEOPLE, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    # Compared before math.isfinite, which fails on integers too large for a
    # float (NaN fails the comparison too).
    if not 0 <= value <= MAX_PEOPLE or not math.isfinite(value):
        return None
    return float(value)


def _hour(key: Any, start: datetime, stop: datetime) -> datetime | None:
    """Read a window start: an RFC 3339 time on a UTC hour within the range."""
    if not isinstance(key, str):
        return None
    try:
        moment = datetime.fromisoformat(key.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        return None  # Year 1 or 9999 with an offset that takes it out of the calendar.
    if moment.minute or moment.second or moment.microsecond:
        return None  # Not an hour's window: the request asked for hours.
    return moment if start <= moment < stop else None


def _hours(
    windows: Any, function: str, start: datetime, stop: datetime
) -> dict[datetime, float]:
    """Return the hourly values of one room or sensor: ``{hour: stats[function]}``.

    A window holds a statistics object, or raw points (``window_value``).
    """
    series: dict[datetime, float] = {}
    if not isinstance(windows, dict):
        return series
    for key, stats in windows.items():
        if (hour := _hour(key, start, stop)) is not None and (
            value := _people(window_value(stats, function))
        ) is not None:
            series[hour] = value
    return series


def window_value(window: Any, function: str) -> float | None:
    """Return one window's value: its statistic ``function``, or of its raw points.

    Raw points (``{value, time, field, …}``) are what Butlr answers to some
    groupings instead of statistics: the window function is applied to them.
    """
    return statistic(window, function)


def presence_series(
    payload: Any,
    function: str,
    start: datetime,
    stop: datetime,
    rooms: Mapping[str, int],
) -> _Series:
    """Per presence room, per hour: the sum of its sensors' values.

    ``rooms`` maps each presence room to its number of presence sensors; for
    ``max`` and ``min`` only rooms of one sensor count (see the module's
    docstring). A sensor listed under a second room is skipped there, as live.
    """
    series: _Series = {}
    seen: set[str] = set()
    for room_id, sensors in report_data(payload, PRESENCE_HISTORY_ORDER).items():
        if room_id not in rooms or not isinstance(sensors, dict):
            continue
        if function != MEAN and rooms[room_id] != 1:
            continue
        by_sensor = []
        for mac_address, windows in sensors.items():
            if mac_address in seen:
                continue
            seen.add(mac_address)
            by_sensor.append(_hours(windows, function, start, stop))
        if not by_sensor:
            continue
        # An hour missing from any sensor the room reported is a hole.
        hours = set.intersection(*(set(values) for values in by_sensor))
        series[room_id] = {
            hour: sum(values[hour] for values in by_sensor) for hour in sorted(hours)
        }
    return series


def room_series(
    payload: Any,
    function: str,
    start: datetime,
    stop: datetime,
    rooms: Iterable[str],
    *,
    order: tuple[str, ...] = ROOM_HISTORY_ORDER,
) -> _Series:
    """Per space, per hour: the value of a whole space's series (traffic occupancy).

    ``order`` is the request's grouping: a flat answer is grouped by it.
    """
    wanted = set(rooms)
    return {
        room_id: _hours(windows, function, start, stop)
        for room_id, windows in report_data(payload, order).items()
        if room_id in wanted
    }


def room_history(means: _Series, maxima: _Series, minima: _Series) -> History:
    """Combine a kind of room's statistics: an hour needs its mean.

    Extremes that do not bracket the mean came from answers that disagree:
    they are left out rather than shown wrong.
    """
    history: History = {}
    for room_id, hours in means.items():
        room_max = maxima.get(room_id, {})
        room_min = minima.get(room_id, {})
        stats: dict[datetime, HourStat] = {}
        for hour, mean in hours.items():
            high = room_max.get(hour)
            low = room_min.get(hour)
            if high is None or low is None or not low <= mean <= high:
                high = low = None
            stats[hour] = HourStat(mean=mean, min=low, max=high)
        history[room_id] = stats
    return history


def roll_up_history(history: History, children: Mapping[str, Iterable[str]]) -> None:
    """Give every parent the sum of its children's hourly means (no extremes).

    An hour is a parent's when at least one child has it, as a live roll-up
    sums the rooms that are active.
    """

    def visit(space_id: str) -> dict[datetime, HourStat]:
        if space_id in history:
            return history[space_id]
        sums: dict[datetime, float] = {}
        for child in children.get(space_id, ()):
            for hour, stat in visit(child).items():
                sums[hour] = sums.get(hour, 0.0) + stat.mean
        stats = {hour: HourStat(mean=mean) for hour, mean in sorted(sums.items())}
        if stats:
            history[space_id] = stats
        return stats

    for parent in list(children):
        visit(parent)
