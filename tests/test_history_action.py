"""The import_history action: who may call it, what it may ask, and beside what.

It spends the Butlr quota and writes the recorder: administrators only, one
at a time per entry, within the import window, never twice for the same
hours (beside the background import too), and it ends with its entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.auth.models import User
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.statistics import async_import_statistics
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import (
    HomeAssistantError,
    ServiceValidationError,
    Unauthorized,
    UnknownUser,
)
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.space_occupancy.const import (
    CONF_HISTORY_DAYS,
    DOMAIN,
    SERVICE_IMPORT_HISTORY,
)

from .conftest import NOW, setup_entry
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


async def test_only_an_administrator_imports_history(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    hass_read_only_user: User,
    hass_admin_user: User,
) -> None:
    """A read-only user's call is refused before anything is asked of Butlr."""
    await start(
        hass, butlr_scenario, butlr_entry, days=0, history=(NOW - DAY, NOW + HOUR)
    )
    data = call(hass, butlr_entry, NOW - 3 * HOUR, NOW)
    for context, error in (
        (Context(user_id=hass_read_only_user.id), Unauthorized),
        (Context(user_id="nobody"), UnknownUser),
    ):
        with pytest.raises(error):
            await hass.services.async_call(
                DOMAIN,
                SERVICE_IMPORT_HISTORY,
                data,
                blocking=True,
                return_response=True,
                context=context,
            )
    assert butlr_scenario.history_requests == []
    response = await hass.services.async_call(
        DOMAIN,
        SERVICE_IMPORT_HISTORY,
        data,
        blocking=True,
        return_response=True,
        context=Context(user_id=hass_admin_user.id),
    )
    assert response is not None
    assert response["hours"] == 18


@pytest.mark.parametrize(
    ("first", "last", "error"),
    [
        # Year 0001 was once sent to Butlr.
        ("0001-01-01 00:00:00", "0001-01-02 00:00:00", "history_start_too_old"),
        (NOW - 91 * DAY, NOW - 89 * DAY, "history_start_too_old"),
        # Dates Python cannot shift into UTC (the tests' zone is US/Pacific).
        (NOW - DAY, "9999-12-31 23:00:00", "history_date_out_of_range"),
        ("0001-01-01 00:00:00+05:00", NOW, "history_date_out_of_range"),
    ],
)
async def test_the_range_stays_in_the_import_window(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    first: Any,
    last: Any,
    error: str,
) -> None:
    """A start older than the last 90 days, or a date out of the calendar: refused."""
    await start(hass, butlr_scenario, butlr_entry, days=0, history=(NOW, NOW))
    with pytest.raises(ServiceValidationError) as raised:
        await import_history(hass, call(hass, butlr_entry, first, last))
    assert raised.value.translation_key == error
    assert butlr_scenario.history_requests == []


async def test_hours_without_data_cost_nothing_the_second_time(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """Days Butlr has nothing for are remembered, across a restart too."""
    await start(
        hass, butlr_scenario, butlr_entry, days=0, history=(NOW - DAY, NOW + HOUR)
    )
    data = call(hass, butlr_entry, NOW - 6 * DAY, NOW - 4 * DAY)
    first = await import_history(hass, data)
    assert (first["hours"], first["requests"]) == (0, 6)
    again = await import_history(hass, data)
    assert (again["hours"], again["requests"]) == (0, 0)
    history = butlr_entry.runtime_data.history
    assert history.diagnostics()["hours_without_data"] == len(EXPECTED) * 48
    assert await hass.config_entries.async_reload(butlr_entry.entry_id)
    await settle(hass)
    after_restart = await import_history(hass, data)
    assert (after_restart["hours"], after_restart["requests"]) == (0, 0)
    assert len(butlr_scenario.history_requests) == 6


async def test_hours_just_past_are_asked_again(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """Butlr may still receive the last day's data: only older hours are remembered."""
    await start(hass, butlr_scenario, butlr_entry, days=0, history=(NOW, NOW))
    data = call(hass, butlr_entry, NOW - 2 * DAY, NOW)
    assert (await import_history(hass, data))["requests"] == 6
    history = butlr_entry.runtime_data.history
    assert history.diagnostics()["hours_without_data"] == len(EXPECTED) * 24
    assert (await import_history(hass, data))["requests"] == 6


async def test_one_action_at_a_time_per_entry(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A second call while the first imports is refused, not queued behind it."""
    give_history(butlr_scenario, NOW - 3 * DAY, NOW + HOUR)
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_HISTORY_DAYS: 0})
    with patch(PACE, timedelta(seconds=15)):
        await setup_entry(hass, butlr_entry)
        data = call(hass, butlr_entry, NOW - 2 * DAY, NOW)
        first = background(hass, import_history(hass, data))
        await _recorder_round(hass)
        second = background(hass, import_history(hass, data))
        await drive(hass, freezer, lambda: first.done() and second.done())
    assert first.result()["hours"] == 6 * 48
    assert isinstance(second.exception(), ServiceValidationError)
    assert second.exception().translation_key == "history_import_running"
    assert len(butlr_scenario.history_requests) == 6
    assert butlr_entry.runtime_data.history.diagnostics()["action_running"] is False


async def test_the_action_ends_with_its_entry(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Reloaded mid-import: the old import stops, no two run side by side."""
    give_history(butlr_scenario, NOW - 3 * DAY, NOW + HOUR)
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_HISTORY_DAYS: 0})
    with patch(PACE, timedelta(seconds=15)):
        await setup_entry(hass, butlr_entry)
        action = background(
            hass, import_history(hass, call(hass, butlr_entry, NOW - 2 * DAY, NOW))
        )
        await _recorder_round(hass)
        assert len(butlr_scenario.history_requests) == 1
        assert await hass.config_entries.async_reload(butlr_entry.entry_id)
        await drive(hass, freezer, lambda: False, steps=12)
    assert action.done()
    assert isinstance(action.exception(), HomeAssistantError)
    assert action.exception().translation_key == "history_import_stopped"
    assert len(butlr_scenario.history_requests) == 1


async def test_a_cancelled_call_stops_its_import(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A call cancelled (a script stopped) takes its import with it."""
    give_history(butlr_scenario, NOW - 3 * DAY, NOW + HOUR)
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_HISTORY_DAYS: 0})
    with patch(PACE, timedelta(seconds=15)):
        await setup_entry(hass, butlr_entry)
        action = background(
            hass, import_history(hass, call(hass, butlr_entry, NOW - 2 * DAY, NOW))
        )
        await _recorder_round(hass)
        action.cancel()
        await drive(hass, freezer, lambda: False, steps=12)
    assert action.cancelled()
    assert len(butlr_scenario.history_requests) == 1
    assert butlr_entry.runtime_data.history.diagnostics()["action_running"] is False


async def test_the_background_import_takes_turns_with_the_action(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A long action does not hold the background import up for its whole range."""
    give_history(butlr_scenario, NOW - 7 * DAY, NOW + HOUR)
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_HISTORY_DAYS: 0})
    with patch(PACE, timedelta(seconds=15)):
        await setup_entry(hass, butlr_entry)
        action = background(
            hass,
            import_history(hass, call(hass, butlr_entry, NOW - 6 * DAY, NOW - 2 * DAY)),
        )
        await _recorder_round(hass)
        history = butlr_entry.runtime_data.history
        history.async_set_days(1)  # Queues the last day for the background import.
        await drive(hass, freezer, lambda: action.done() and not history.pending)
    assert action.result()["hours"] == 6 * 96
    chunks = [windows(butlr_scenario)[n] for n in range(0, 18, 6)]
    # The action's first chunk, the background's day, the action's second chunk.
    assert chunks == [
        "2024-06-08T15:00:00Z",
        "2024-06-11T15:00:00Z",
        "2024-06-06T15:00:00Z",
    ]


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
