"""The import_history action beside the background import.

Never twice for the same hours, even before the recorder has committed them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.statistics import async_import_statistics
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from .conftest import NOW
from .simulator.butlr import ButlrScenario
from .test_history import (  # noqa: F401 - the fixtures apply here too
    DAY,
    EXPECTED,
    HOUR,
    _recorder_round,
    give_history,
    hourly,
    import_history,
    mock_recorder_before_hass,
    settle,
    start,
    unpaced,
)

PACE = "custom_components.space_occupancy.history.HISTORY_REQUEST_PACE"


def call(
    hass: HomeAssistant, entry: MockConfigEntry, first: Any, last: Any
) -> dict[str, Any]:
    """The action's data for an entry and a range."""
    return {"config_entry_id": entry.entry_id, "start": first, "end": last}


def windows(scenario: ButlrScenario) -> list[str]:
    """The start of the window of each history request, in order."""
    return [body["filter"]["start"] for _, body in scenario.history_requests]


def background(
    hass: HomeAssistant, coroutine: Coroutine[Any, Any, Any]
) -> asyncio.Task[Any]:
    """Run a call beside the test (a background task: waiting for others skips it)."""
    return hass.async_create_background_task(coroutine, "test call")


async def drive(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    until: Callable[[], bool],
    steps: int = 60,
) -> None:
    """Move the clock 15 s at a time (one paced request each) until ``until``."""
    for _ in range(steps):
        if until():
            return
        freezer.tick(timedelta(seconds=15))
        async_fire_time_changed(hass)
        await _recorder_round(hass)


async def test_concurrent_imports_request_and_write_each_hour_once(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """The action and the background import over the same days, rows not committed.

    The check for existing statistics cannot see rows queued for the recorder
    but not committed: two imports over the same 4 days once made 12 + 12
    requests and wrote most hours twice. Here the rows stay queued until both
    imports are done.
    """
    await start(
        hass, butlr_scenario, butlr_entry, days=0, history=(NOW - 5 * DAY, NOW + HOUR)
    )
    queued: list[tuple[Any, list[Any]]] = []
    with patch(
        "custom_components.space_occupancy.history.async_import_statistics",
        lambda _, metadata, rows: queued.append((metadata, rows)),
    ):
        action = background(
            hass, import_history(hass, call(hass, butlr_entry, NOW - 4 * DAY, NOW))
        )
        butlr_entry.runtime_data.history.async_set_days(4)
        await hass.async_block_till_done(wait_background_tasks=True)
        response = await action
    for metadata, rows in queued:
        async_import_statistics(hass, metadata, rows)
    await settle(hass)

    assert len(butlr_scenario.history_requests) == 12
    written: dict[str, list[datetime]] = {}
    for metadata, rows in queued:
        written.setdefault(metadata["statistic_id"], []).extend(
            row["start"] for row in rows
        )
    for statistic_id in EXPECTED:
        assert sorted(written[statistic_id]) == sorted(set(written[statistic_id]))
        assert len(written[statistic_id]) == 96
    history = butlr_entry.runtime_data.history
    assert history.diagnostics()["hours_imported"] == len(EXPECTED) * 96
    assert history.pending == []
    # Whichever took each chunk first imported it; the other asked nothing.
    assert response["hours"] in (0, len(EXPECTED) * 48, len(EXPECTED) * 96)
    statistics = await hourly(hass, NOW - 5 * DAY, NOW)
    for statistic_id, expected in EXPECTED.items():
        assert len(statistics[statistic_id]) == 96
        assert set(statistics[statistic_id].values()) == {expected}
