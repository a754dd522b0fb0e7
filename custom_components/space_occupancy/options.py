"""An entry's options, read once into typed settings.

The options flow writes ``entry.options``; everything else reads
``EntrySettings``: the poll interval (the client's default unless the user set
one), the activity thresholds, user capacities, the stale limit where the
client's readings go stale, the days of history to import, the picked spaces,
whether their rooms get areas, and whether traffic rooms show their door-line
count (where the client offers it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from homeassistant.const import CONF_SCAN_INTERVAL

from .const import (
    CONF_AREAS,
    CONF_CAPACITIES,
    CONF_DOOR_LINE_COUNT,
    CONF_HISTORY_DAYS,
    CONF_PUSH,
    CONF_SPACES,
    DEFAULT_HISTORY_DAYS,
)
from .providers import Capabilities
from .state import Thresholds, stale_limit


@dataclass(frozen=True, slots=True)
class EntrySettings:
    """What an entry's options mean for polling and for the entities."""

    interval: timedelta
    thresholds: Thresholds = field(default_factory=Thresholds)
    capacities: Mapping[str, int] = field(default_factory=dict)
    # None where the client's readings never go stale.
    stale_after: timedelta | None = None
    history_days: int = DEFAULT_HISTORY_DAYS
    # The picked spaces (with everything below them); None: the whole account.
    picked: frozenset[str] | None = None
    # Whether new devices of picked rooms go into areas (and floors) of their name.
    areas: bool = False
    # Real-time updates (push), where the client can push.
    push: bool = False
    # Traffic rooms show in minus out since midnight, not the calibrated occupancy.
    door_line_count: bool = False

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], capabilities: Capabilities
    ) -> EntrySettings:
        """Read an entry's options for a client with these capabilities."""
        interval = options.get(CONF_SCAN_INTERVAL)
        return cls(
            interval=(
                timedelta(seconds=interval) if interval else capabilities.poll_interval
            ),
            thresholds=Thresholds.from_options(options),
            capacities={
                space_id: int(capacity)
                for space_id, capacity in options.get(CONF_CAPACITIES, {}).items()
            },
            stale_after=stale_limit(options) if capabilities.stale_by_change else None,
            history_days=int(options.get(CONF_HISTORY_DAYS, DEFAULT_HISTORY_DAYS)),
            picked=picked_of(options),
            areas=bool(options.get(CONF_AREAS, False)),
            push=capabilities.push and bool(options.get(CONF_PUSH, False)),
            door_line_count=capabilities.door_line_count
            and bool(options.get(CONF_DOOR_LINE_COUNT, False)),
        )


def picked_of(options: Mapping[str, Any]) -> frozenset[str] | None:
    """Return the picked space ids of an entry's options; None for everything."""
    picked = options.get(CONF_SPACES)
    return None if picked is None else frozenset(str(space_id) for space_id in picked)
