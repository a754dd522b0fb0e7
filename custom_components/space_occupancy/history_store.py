"""What the history import keeps between runs, read back item by item.

Ranges of whole hours (start, end), merged and sorted; the stored form is JSON
written by ``dump_state`` and read by ``load_state``. The file may be damaged
(edited by hand, written by a broken version, cut short): whatever does not fit
is dropped, item by item, ranges are clamped to the import window, and the
import goes on with the rest. Nothing read from it can fail a setup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .providers.timeutil import HOUR

type Range = tuple[datetime, datetime]

# The most ranges of empty hours remembered per space (the newest are kept): a
# space whose data comes and goes cannot grow the file without bound.
MAX_EMPTY_RANGES = 100


def window_of(now_hour: datetime, days: int) -> Range:
    """Return the hours an import may cover: the last ``days`` days before an hour."""
    return (now_hour - timedelta(days=days), now_hour)


def add_range(ranges: list[Range], new: Range) -> list[Range]:
    """Return the ranges with a new one merged in, sorted, none overlapping."""
    merged: list[Range] = []
    for start, end in sorted([*ranges, new]):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def remove_range(ranges: list[Range], done: Range) -> list[Range]:
    """Return the ranges without the part a finished range covers."""
    left: list[Range] = []
    for start, end in ranges:
        if end <= done[0] or start >= done[1]:
            left.append((start, end))
            continue
        if start < done[0]:
            left.append((start, done[0]))
        if end > done[1]:
            left.append((done[1], end))
    return left


def add_hours(ranges: list[Range], hours: Iterable[datetime]) -> list[Range]:
    """Return the ranges with these hours (their starts) merged in."""
    merged = ranges
    for hour in hours:
        merged = add_range(merged, (hour, hour + HOUR))
    return merged


def clamp(ranges: Iterable[Range], window: Range) -> list[Range]:
    """Return the parts of the ranges within a window, merged."""
    clamped: list[Range] = []
    for start, end in ranges:
        clamped = add_range(clamped, (max(start, window[0]), min(end, window[1])))
    return clamped


def hour_starts(ranges: Iterable[Range], within: Range) -> set[float]:
    """Return the starts (timestamps) of the hours the ranges cover within a range."""
    starts: set[float] = set()
    for start, end in ranges:
        hour = max(start, within[0])
        while hour < min(end, within[1]):
            starts.add(hour.timestamp())
            hour += HOUR
    return starts


@dataclass
class ImportState:
    """What is left to import, how far back it was queued, and what Butlr lacks.

    ``empty``: per space id, the hours the provider was asked for and had no
    data for, so that asking again costs nothing.
    """

    pending: list[Range] = field(default_factory=list)
    covered_from: datetime | None = None
    last_good: datetime | None = None
    empty: dict[str, list[Range]] = field(default_factory=dict)


def dump_state(state: ImportState) -> dict[str, Any]:
    """Return the state as stored (JSON)."""
    return {
        "pending": _dump_ranges(state.pending),
        "covered_from": _dump_moment(state.covered_from),
        "last_good": _dump_moment(state.last_good),
        "empty": {
            space_id: _dump_ranges(ranges)
            for space_id, ranges in state.empty.items()
            if ranges
        },
    }


def load_state(stored: Any, window: Range) -> tuple[ImportState | None, list[str]]:
    """Read a stored state; return it (None if nothing of it is usable) and what was dropped.

    Ranges are clamped to ``window`` (the hours an import may cover).
    """
    if not isinstance(stored, Mapping):
        return None, [f"the whole state ({type(stored).__name__})"]
    dropped: list[str] = []
    state = ImportState(
        pending=_load_ranges(stored.get("pending", []), window, "pending", dropped),
        covered_from=_load_moment(stored.get("covered_from"), "covered_from", dropped),
        last_good=_load_moment(stored.get("last_good"), "last_good", dropped),
    )
    empty = stored.get("empty", {})
    if not isinstance(empty, Mapping):
        dropped.append("empty")
        empty = {}
    for space_id, ranges in empty.items():
        if kept := _load_ranges(ranges, window, f"empty {space_id}", dropped):
            state.empty[str(space_id)] = kept[-MAX_EMPTY_RANGES:]
    if state.covered_from is not None:
        state.covered_from = min(max(state.covered_from, window[0]), window[1])
    return state, dropped


def _dump_moment(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _dump_ranges(ranges: Iterable[Range]) -> list[list[str]]:
    return [[start.isoformat(), end.isoformat()] for start, end in ranges]


def _load_moment(value: Any, what: str, dropped: list[str]) -> datetime | None:
    """Read an aware time (ISO 8601); anything else is dropped (None stays None)."""
    if value is None:
        return None
    moment = _moment(value)
    if moment is None:
        dropped.append(what)
    return moment


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
        return None if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _on_the_hour(moment: datetime) -> bool:
    return not (moment.minute or moment.second or moment.microsecond)


def _load_ranges(
    value: Any, window: Range, what: str, dropped: list[str]
) -> list[Range]:
    """Read a list of [start, end] pairs; a pair that does not fit is dropped."""
    if not isinstance(value, list):
        dropped.append(what)
        return []
    ranges: list[Range] = []
    for item in value:
        pair = (
            [_moment(moment) for moment in item]
            if isinstance(item, list) and len(item) == 2
            else []
        )
        match pair:
            case [datetime() as start, datetime() as end] if (
                start < end and _on_the_hour(start) and _on_the_hour(end)
            ):
                ranges.append((start, end))
            case _:
                dropped.append(f"a range of {what}")
    return clamp(ranges, window)
