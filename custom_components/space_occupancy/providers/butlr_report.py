"""Butlr's reporting API (``/api/v3/reporting``): the one reader of its answers.

The shape of ``data`` depends on the request's ``group_by`` (butlr-push.md
§4.3), and Butlr documents no rule that maps one to the other, so every reader
accepts each shape it has been seen in:

- statistics objects (``sum, min, max, count, mean, median, stddev, first,
  last``) nested by the ``group_by.order`` keys, as in the seeds;
- the same nesting with lists of raw points as leaves (``group_by.raw``), each
  point ``{field, measurement, value, time, room_id, mac_address, …}``;
- a flat list of raw points, which is grouped here by the order's keys, read
  from each point.

A statistic of a list of raw points is computed from the points' values (in
time order); a leaf with no value at all is "no data", never 0.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
import logging
import math
import statistics
from typing import Any

from .base import expect_dict
from .exceptions import ProviderResponseError

REPORTING_PATH = "/api/v3/reporting"

# What Butlr computes for a group of values (seeds 000 and 001).
STATISTICS = frozenset(
    {"sum", "min", "max", "count", "mean", "median", "stddev", "first", "last"}
)
# The keys of a raw point that name what it belongs to, the most specific
# first: a zone lies in a room, a room on a floor (a floor is a ``space_``).
ASSET_KEYS = ("zone_id", "room_id", "space_id")
# The asset key of each server-side occupancy measurement.
MEASUREMENT_ASSET_KEY = {
    "zone_occupancy": "zone_id",
    "room_occupancy": "room_id",
    "traffic_room_occupancy": "room_id",
    "floor_occupancy": "space_id",
    "traffic_floor_occupancy": "space_id",
}
# A raw point's time: ``time``, else the start of its window.
TIME_KEYS = ("time", "start")

_LOGGER = logging.getLogger(__name__)


def report_data(payload: Any, order: Sequence[str] = ()) -> dict[str, Any]:
    """Return the ``data`` object of a report; no data at all means no rows.

    A flat list of raw points is grouped by ``order`` (the request's
    ``group_by.order``): ``{room_id: {field: [points]}}`` for ``["room_id",
    "field"]``. Points that lack one of the keys belong nowhere: they are
    skipped, and counted in the debug log.
    """
    data = expect_dict(payload, "reporting answer").get("data")
    if data is None or data == []:
        return {}
    if isinstance(data, list) and order:
        return group_points(data, order)
    return expect_dict(data, "reporting data")


def is_point(value: Any) -> bool:
    """Tell a raw point (it carries a ``value``) from statistics and groups."""
    return isinstance(value, dict) and "value" in value


def _key(point: dict[str, Any], name: str) -> str | None:
    """Return one grouping key of a raw point, None where it has none."""
    names = TIME_KEYS if name == "time" else (name,)
    for key in names:
        value = point.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def group_points(points: list[Any], order: Sequence[str]) -> dict[str, Any]:
    """Group a flat list of raw points by the keys of ``order``; leaves are lists."""
    grouped: dict[str, Any] = {}
    skipped = 0
    for point in points:
        keys = [_key(point, name) for name in order] if is_point(point) else [None]
        if any(key is None for key in keys):
            skipped += 1
            continue
        node = grouped
        for key in keys[:-1]:
            node = node.setdefault(str(key), {})
        node.setdefault(str(keys[-1]), []).append(point)
    if skipped:
        _LOGGER.debug(
            "Butlr's report held %d raw points without %s: skipped",
            skipped,
            "/".join(order),
        )
    return grouped


def number(value: Any) -> float | None:
    """Return a JSON number as a float; None for anything else (or NaN, infinity)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def _time_of(point: dict[str, Any]) -> str:
    return _key(point, "time") or ""


def point_values(points: list[Any]) -> list[float]:
    """Return the numeric values of a list of raw points, in time order."""
    valued = [
        (_time_of(point), value)
        for point in points
        if is_point(point) and (value := number(point["value"])) is not None
    ]
    valued.sort(key=lambda item: item[0])
    return [value for _, value in valued]


def _computed(values: list[float], name: str) -> float | None:
    """Return one statistic of values in time order; None when there are none."""
    if name == "count":
        return float(len(values))
    if not values:
        return None
    match name:
        case "sum":
            return math.fsum(values)
        case "min":
            return min(values)
        case "max":
            return max(values)
        case "mean":
            return statistics.fmean(values)
        case "median":
            return float(statistics.median(values))
        case "first":
            return values[0]
        case "stddev":
            return statistics.pstdev(values)
    return values[-1]  # "last", and any other name: the newest value


def statistic(leaf: Any, name: str) -> float | None:
    """Return statistic ``name`` of a leaf: a statistics object or raw points.

    None where the leaf holds no such number: no data, never zero.
    """
    if is_point(leaf):
        leaf = [leaf]
    if isinstance(leaf, list):
        values = point_values(leaf)
        if not values and leaf:
            return None  # Points, none with a number: unreadable, not empty.
        return _computed(values, name)
    if isinstance(leaf, dict):
        return number(leaf.get(name))
    return None


def _is_statistics(node: dict[str, Any]) -> bool:
    return not STATISTICS.isdisjoint(node)


def node_values(node: Any, preferred: Sequence[str]) -> list[float]:
    """Return every value below one asset of a report, whatever its nesting.

    An asset holds a statistics object, raw points, or either of these per
    window (``{time: ...}``). From a statistics object the first of the
    ``preferred`` statistics that it has is taken.
    """
    values: list[float] = []
    pending: list[tuple[Any, int]] = [(node, 0)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, list) or is_point(current):
            values.extend(
                point_values(current if isinstance(current, list) else [current])
            )
        elif isinstance(current, dict) and _is_statistics(current):
            value = next(
                (
                    found
                    for name in preferred
                    if (found := number(current.get(name))) is not None
                ),
                None,
            )
            if value is not None:
                values.append(value)
        elif isinstance(current, dict) and depth < 2:
            # Windows (and at most one more level of grouping) below the asset,
            # taken in the answer's order.
            pending.extend((child, depth + 1) for child in reversed(current.values()))
    return values


def owner(point: dict[str, Any], assets: Collection[str]) -> str | None:
    """Return the asset of ours a raw point belongs to, by its own ids.

    The point's measurement names its asset key where it is one of Butlr's
    occupancy measurements; otherwise its most specific id says (a room's
    point names its floor too, and is still the room's).
    """
    named = MEASUREMENT_ASSET_KEY.get(str(point.get("measurement")))
    for key in (named,) if named else ASSET_KEYS:
        value = point.get(key)
        if isinstance(value, str) and value:
            return value if value in assets else None
    return None


def _loose_points(node: Any) -> Iterator[dict[str, Any]]:
    """Yield the raw points below a node (two levels at most)."""
    pending: list[tuple[Any, int]] = [(node, 0)]
    while pending:
        current, depth = pending.pop()
        if is_point(current):
            yield current
        elif isinstance(current, list):
            yield from (point for point in current if is_point(point))
        elif isinstance(current, dict) and depth < 2:
            pending.extend((child, depth + 1) for child in reversed(current.values()))


def asset_values(
    payload: Any, assets: Collection[str], preferred: Sequence[str]
) -> tuple[dict[str, list[float]], int]:
    """Return the values per asset of a report on whole assets (rooms, floors, zones).

    The answer may be keyed by asset id (statistics, windows or raw points
    below), or a flat list of raw points. Points under a key that is no asset
    of ours say whose they are themselves. Also returns how many raw points
    belonged to no asset asked for.
    """
    data = expect_dict(payload, "reporting answer").get("data")
    values: dict[str, list[float]] = {}
    unowned = 0
    if data is None or data == []:
        return values, unowned
    if isinstance(data, list):
        loose: list[Any] = data
    elif isinstance(data, dict):
        loose = []
        for key, node in data.items():
            if key in assets:
                values.setdefault(key, []).extend(node_values(node, preferred))
            else:
                loose.extend(_loose_points(node))
    else:
        raise ProviderResponseError("reporting data is neither an object nor a list")
    for point in loose:
        asset = owner(point, assets) if is_point(point) else None
        if asset is None:
            unowned += 1
        elif (value := number(point["value"])) is not None:
            values.setdefault(asset, []).append(value)
    return values, unowned
