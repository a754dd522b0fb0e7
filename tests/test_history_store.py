"""The history import's stored state: a damaged file never stops a setup.

The state is read item by item; what does not fit is dropped (logged once),
ranges are clamped to the import window, and the import goes on.
"""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.components.recorder import Recorder
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.space_occupancy.const import DOMAIN
from custom_components.space_occupancy.history_store import (
    MAX_EMPTY_RANGES,
    ImportState,
    dump_state,
    load_state,
    window_of,
)

from .conftest import NOW
from .simulator.butlr import ButlrScenario
from .test_history import DAY, HOUR, hourly, mock_recorder_before_hass, start, unpaced  # noqa: F401 - the fixtures apply here too

WINDOW = window_of(NOW, 90)
MINUTE = HOUR / 60


def iso(moment: Any) -> str:
    """A time as stored."""
    return moment.isoformat()


GOOD_RANGE = [iso(NOW - 2 * DAY), iso(NOW - DAY)]


@pytest.mark.parametrize(
    ("data", "imported_hours"),
    [
        # Not an object at all: the initial import (1 day) is queued again.
        ([GOOD_RANGE], 24),
        ("pending", 24),
        # A 3-item range, a number for a time, naive times: dropped, one by one.
        (
            {
                "pending": [
                    [iso(NOW - 3 * DAY), iso(NOW - 2 * DAY), iso(NOW)],
                    [12, iso(NOW)],
                    ["2024-06-10T15:00:00", "2024-06-11T15:00:00"],
                    GOOD_RANGE,
                ],
                "covered_from": 5,
                "last_good": "2024-06-12T14:00:00",
                "empty": {"room_focus": [[1, 2]], "room_meeting": "x"},
            },
            24,
        ),
        # Wrong shapes at every key: nothing is left to import.
        ({"pending": "x", "covered_from": [], "last_good": {}, "empty": []}, 0),
        # Times that are no hours, or out of the calendar, or backwards.
        (
            {
                "pending": [
                    [iso(NOW - DAY + MINUTE), iso(NOW)],
                    ["9999-12-31T23:00:00-05:00", iso(NOW)],
                    [iso(NOW), iso(NOW - DAY)],
                    GOOD_RANGE,
                ]
            },
            24,
        ),
    ],
    ids=["list", "string", "items", "keys", "times"],
)
async def test_a_damaged_state_does_not_stop_the_setup(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    data: Any,
    imported_hours: int,
) -> None:
    """Valid JSON of a wrong shape: what fits is used, the rest dropped, logged once."""
    key = f"{DOMAIN}.history.{butlr_entry.entry_id}"
    hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": data}
    await start(
        hass, butlr_scenario, butlr_entry, days=1, history=(NOW - 3 * DAY, NOW + HOUR)
    )
    assert butlr_entry.state is ConfigEntryState.LOADED
    assert butlr_entry.runtime_data.history.pending == []
    statistics = await hourly(hass, NOW - 3 * DAY, NOW)
    assert len(statistics.get("sensor.hq_occupancy", {})) == imported_hours
    damaged = [
        record
        for record in caplog.records
        if "was damaged" in record.getMessage() and record.levelno == logging.WARNING
    ]
    assert len(damaged) == 1


async def test_an_unreadable_state_does_not_stop_the_setup(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """A file the store cannot read at all (a version from the future): started afresh."""
    key = f"{DOMAIN}.history.{butlr_entry.entry_id}"
    hass_storage[key] = {"version": 99, "minor_version": 1, "key": key, "data": {}}
    await start(
        hass, butlr_scenario, butlr_entry, days=1, history=(NOW - 3 * DAY, NOW + HOUR)
    )
    assert butlr_entry.state is ConfigEntryState.LOADED
    statistics = await hourly(hass, NOW - 3 * DAY, NOW)
    assert len(statistics["sensor.hq_occupancy"]) == 24


def test_ranges_are_clamped_to_the_import_window() -> None:
    """Hours older than the window, or after its end, are never asked: dropped."""
    stored = {
        "pending": [
            [iso(NOW - 200 * DAY), iso(NOW - 80 * DAY)],
            [iso(NOW - DAY), iso(NOW + 5 * DAY)],
            [iso(NOW - 300 * DAY), iso(NOW - 200 * DAY)],
        ],
        "covered_from": iso(NOW - 365 * DAY),
        "last_good": iso(NOW - HOUR),
        "empty": {"room_focus": [[iso(NOW - 100 * DAY), iso(NOW - 89 * DAY)]]},
    }
    state, dropped = load_state(stored, WINDOW)
    assert dropped == []
    assert state == ImportState(
        pending=[(NOW - 90 * DAY, NOW - 80 * DAY), (NOW - DAY, NOW)],
        covered_from=NOW - 90 * DAY,
        last_good=NOW - HOUR,
        empty={"room_focus": [(NOW - 90 * DAY, NOW - 89 * DAY)]},
    )
    assert load_state(dump_state(state), WINDOW) == (state, [])


def test_empty_hours_are_bounded_per_space() -> None:
    """A space whose data comes and goes keeps its newest ranges only."""
    ranges = [
        [iso(NOW - (2 * n + 1) * HOUR), iso(NOW - 2 * n * HOUR)] for n in range(200)
    ]
    state, _ = load_state({"empty": {"room_focus": ranges}}, WINDOW)
    assert state is not None
    kept = state.empty["room_focus"]
    assert len(kept) == MAX_EMPTY_RANGES
    assert kept[-1] == (NOW - HOUR, NOW)
