"""What a space's entities show, from a reading and the user's settings (state.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.space_occupancy.changes import Changes, changes_between
from custom_components.space_occupancy.providers import (
    Reading,
    Snapshot,
    Space,
    SpaceKind,
)
from custom_components.space_occupancy.state import (
    Thresholds,
    space_state,
    without_stale,
)

NOW = datetime(2024, 6, 12, 15, 0, tzinfo=UTC)
ROOM = Space("r1", "Room", SpaceKind.ROOM, capacity=10)
UNSIZED = Space("r2", "Hall", SpaceKind.ROOM)


@pytest.mark.parametrize(
    ("people", "activity"),
    [
        (0, "empty"),
        (3, "low"),  # 30 %
        (4, "moderate"),  # exactly 40 %: low ends below it
        (7, "moderate"),
        (8, "high"),  # 80 %
        (9, "high"),
        (10, "full"),  # exactly 100 %
        (12, "full"),  # over capacity
    ],
)
def test_activity_thresholds_are_upper_bounds(people: int, activity: str) -> None:
    """Low below 40 %, moderate below 75 %, high below 100 %, full from 100 %."""
    state = space_state(ROOM, Reading(occupancy=people), None, Thresholds())
    assert state.activity == activity


def test_moderate_ends_below_its_threshold() -> None:
    """75 % exactly is high, not moderate."""
    room = Space("r", "Room", SpaceKind.ROOM, capacity=4)
    assert (
        space_state(room, Reading(occupancy=3), None, Thresholds()).activity == "high"
    )


def test_the_readings_capacity_wins_over_the_spaces() -> None:
    """Occuspace's answer carries the current capacity: it beats the listed one."""
    state = space_state(ROOM, Reading(occupancy=5, capacity=20), None, Thresholds())
    assert (state.capacity, state.percentage, state.activity) == (20, 25.0, "low")


def test_the_providers_capacity_wins_over_the_users() -> None:
    """A capacity the user set only fills in where the provider gives none."""
    assert space_state(ROOM, Reading(occupancy=5), 100, Thresholds()).capacity == 10
    unsized = space_state(UNSIZED, Reading(occupancy=5), 100, Thresholds())
    assert (unsized.capacity, unsized.percentage) == (100, 5.0)


def test_inactive_space_has_no_percentage() -> None:
    """No valid data: no percentage is made up from a capacity, nor from a count."""
    state = space_state(ROOM, Reading(occupancy=3, active=False), None, Thresholds())
    assert (state.percentage, state.activity) == (None, "inactive")


def test_a_reading_that_went_is_a_change() -> None:
    """A space still listed whose reading went changes (it shows unavailable)."""
    before = Snapshot({"r1": ROOM}, {"r1": Reading(occupancy=1)}, NOW)
    after = Snapshot({"r1": ROOM}, {}, NOW)
    assert changes_between(before, after) == Changes(frozenset({"r1"}), frozenset())


def test_stale_only_turns_active_readings_inactive() -> None:
    """A reading unchanged past the limit goes inactive; a fresh one stays."""
    old = NOW - timedelta(minutes=91)
    snapshot = Snapshot(
        {"r1": ROOM, "r2": UNSIZED},
        {
            "r1": Reading(occupancy=4, changed_at=old),
            "r2": Reading(occupancy=4, changed_at=NOW),
        },
        NOW,
    )
    shown = without_stale(snapshot, timedelta(minutes=90)).readings
    assert shown["r1"] == Reading(occupancy=None, active=False, changed_at=old)
    assert shown["r2"].active
