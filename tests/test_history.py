"""Butlr history in the long-term statistics, with the recorder running.

The history is what Butlr's reporting API serves for past hours (providers.md:
``group_by.order`` ending in ``time``, one object per window start, ``1h``
windows); the expected numbers are worked out by hand from the raw points.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.recorder import get_instance
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)

from custom_components.space_occupancy import history as history_module
from custom_components.space_occupancy.const import (
    CONF_HISTORY_DAYS,
    DOMAIN,
    SERVICE_IMPORT_HISTORY,
)
from custom_components.space_occupancy.history import add_range, remove_range
from custom_components.space_occupancy.providers import ButlrClient

from .conftest import NOW, SimulatorServer, setup_entry
from .simulator import occuspace
from .simulator.butlr import ButlrScenario

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Raw points every 20 minutes (minutes 0, 20, 40 of each hour).
POINTS = (0, 20, 40)

# Expected hourly statistics from the points below (mean, min, max).
MEETING = (4.0, None, None)  # 2 + mean(1, 1, 4); two sensors: no extremes
FOCUS = (3.0, 0.0, 6.0)  # one sensor: 0, 3, 6
CAFETERIA = (20.0, 10.0, 30.0)  # traffic_room_occupancy: 10, 20, 30
ROLL_UP = (27.0, None, None)  # 4 + 3 + 20; extremes do not add up

OCCUPANCY = {
    "room_meeting": "sensor.meeting_room_occupancy",
    "room_focus": "sensor.focus_room_occupancy",
    "room_cafeteria": "sensor.cafeteria_occupancy",
    "space_f1": "sensor.first_floor_occupancy",
    "building_main": "sensor.main_building_occupancy",
    "site_hq": "sensor.hq_occupancy",
}
EXPECTED = {
    "sensor.meeting_room_occupancy": MEETING,
    "sensor.focus_room_occupancy": FOCUS,
    "sensor.cafeteria_occupancy": CAFETERIA,
    "sensor.first_floor_occupancy": ROLL_UP,
    "sensor.main_building_occupancy": ROLL_UP,
    "sensor.hq_occupancy": ROLL_UP,
}


def give_history(scenario: ButlrScenario, since: datetime, until: datetime) -> None:
    """Give the demo organisation's sensors and traffic room raw points."""
    series: dict[str, tuple[float, float, float]] = {
        "00-01": (2, 2, 2),
        "00-02": (1, 1, 4),
        "00-03": (0, 3, 6),
    }
    hour = since
    while hour < until:
        for room in scenario.rooms():
            for sensor in room.sensors:
                if sensor.mac_address in series:
                    sensor.history.extend(
                        (hour + timedelta(minutes=minute), value)
                        for minute, value in zip(
                            POINTS, series[sensor.mac_address], strict=True
                        )
                    )
            if room.id == "room_cafeteria":
                room.occupancy_history.extend(
                    (hour + timedelta(minutes=minute), value)
                    for minute, value in zip(POINTS, (10, 20, 30), strict=True)
                )
        hour += HOUR


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Prepare the recorder's database before Home Assistant starts."""


@pytest.fixture(autouse=True)
def unpaced() -> Iterator[None]:
    """No pause between history requests, except where a test checks the pace."""
    with patch(
        "custom_components.space_occupancy.history.HISTORY_REQUEST_PACE",
        timedelta(0),
    ):
        yield


async def hourly(
    hass: HomeAssistant, start: datetime, end: datetime
) -> dict[str, dict[datetime, tuple[float | None, float | None, float | None]]]:
    """Read the occupancy sensors' hourly statistics: hour → (mean, min, max)."""
    await async_wait_recording_done(hass)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        start,
        end,
        set(OCCUPANCY.values()),
        "hour",
        None,
        {"mean", "min", "max"},
    )
    return {
        statistic_id: {
            datetime.fromtimestamp(row["start"], tz=NOW.tzinfo): (
                row.get("mean"),
                row.get("min"),
                row.get("max"),
            )
            for row in hours
        }
        for statistic_id, hours in rows.items()
    }


async def start(
    hass: HomeAssistant,
    scenario: ButlrScenario,
    entry: MockConfigEntry,
    *,
    days: int,
    history: tuple[datetime, datetime],
) -> None:
    """Give Butlr a history, set the entry's days to import, set it up, settle."""
    give_history(scenario, *history)
    hass.config_entries.async_update_entry(entry, options={CONF_HISTORY_DAYS: days})
    await setup_entry(hass, entry)
    await settle(hass)


async def import_history(hass: HomeAssistant, data: dict[str, Any]) -> Any:
    """Call the import_history action and return its response."""
    return await hass.services.async_call(
        DOMAIN, SERVICE_IMPORT_HISTORY, data, blocking=True, return_response=True
    )


async def settle(hass: HomeAssistant) -> None:
    """Let the background import and the recorder finish."""
    await hass.async_block_till_done(wait_background_tasks=True)
    await async_wait_recording_done(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    await async_wait_recording_done(hass)


async def test_new_entry_imports_30_days_of_hourly_statistics(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """Every room and roll-up gets 720 hours: the method's numbers, exactly."""
    give_history(butlr_scenario, NOW - 31 * DAY, NOW + HOUR)
    await setup_entry(hass, butlr_entry)
    await settle(hass)

    statistics = await hourly(hass, NOW - 40 * DAY, NOW + HOUR)
    first = NOW - 30 * DAY
    for statistic_id, expected in EXPECTED.items():
        hours = statistics[statistic_id]
        # The 30 days before this hour, and not this hour (still running).
        assert sorted(hours) == [first + n * HOUR for n in range(720)], statistic_id
        assert set(hours.values()) == {expected}, statistic_id

    # 15 chunks of 48 hours, each: presence mean, max, min (a room has a single
    # presence sensor) and traffic occupancy mean, max, min.
    assert len(butlr_scenario.history_requests) == 15 * 6
    # The usual occupancy sees the imported weeks at once, not at the next hour.
    assert hass.states.get("sensor.meeting_room_usual_occupancy").state == "4.0"
    assert hass.states.get("sensor.hq_usual_occupancy").state == "27.0"
    diagnostics = butlr_entry.runtime_data.history.diagnostics()
    assert diagnostics["pending"] == []
    assert diagnostics["hours_imported"] == 6 * 720
    assert diagnostics["requests"] == 90


async def test_importing_twice_changes_nothing(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """The action over imported hours imports none and leaves them as they were."""
    await start(
        hass, butlr_scenario, butlr_entry, days=2, history=(NOW - 3 * DAY, NOW + HOUR)
    )
    before = await hourly(hass, NOW - 3 * DAY, NOW)
    assert len(before["sensor.focus_room_occupancy"]) == 48

    response = await import_history(
        hass,
        {
            "config_entry_id": butlr_entry.entry_id,
            "start": NOW - 2 * DAY,
            "end": NOW,
        },
    )
    await settle(hass)
    assert response == {
        "sensors": dict.fromkeys(sorted(EXPECTED), 0),
        "hours": 0,
        "requests": 0,  # every hour has a statistic: Butlr is not asked
    }
    assert await hourly(hass, NOW - 3 * DAY, NOW) == before


async def test_action_imports_a_range_and_says_how_many_hours(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """An entry set to import nothing imports the range the action names."""
    await start(
        hass, butlr_scenario, butlr_entry, days=0, history=(NOW - 3 * DAY, NOW + HOUR)
    )
    assert butlr_scenario.history_requests == []

    response = await import_history(
        hass,
        {
            "config_entry_id": butlr_entry.entry_id,
            # Not on the hour: the hour of the start, to the last hour ending by the end.
            "start": NOW - 3 * HOUR + timedelta(minutes=20),
            # Beyond now: only hours the recorder compiled, never this one.
            "end": NOW + 2 * HOUR,
        },
    )
    await settle(hass)
    assert response == {
        "sensors": dict.fromkeys(sorted(EXPECTED), 3),
        "hours": 18,
        "requests": 6,
    }
    statistics = await hourly(hass, NOW - DAY, NOW + 3 * HOUR)
    assert sorted(statistics["sensor.hq_occupancy"]) == [
        NOW - 3 * HOUR,
        NOW - 2 * HOUR,
        NOW - HOUR,
    ]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"config_entry_id": "nope"}, "entry_not_found"),
        ({"start": NOW, "end": NOW + timedelta(minutes=59)}, "history_range_empty"),
        ({"start": NOW - 91 * DAY, "end": NOW}, "history_range_too_long"),
    ],
)
async def test_action_refuses_what_it_cannot_do(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    data: dict[str, Any],
    error: str,
) -> None:
    """A wrong entry or range is a validation error with its own message."""
    await setup_entry(hass, butlr_entry)
    with pytest.raises(ServiceValidationError) as raised:
        await import_history(
            hass,
            {
                "config_entry_id": butlr_entry.entry_id,
                "start": NOW - DAY,
                "end": NOW,
                **data,
            },
        )
    assert raised.value.translation_key == error


async def test_action_needs_a_loaded_butlr_entry(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    occuspace_entry: MockConfigEntry,
    simulator: SimulatorServer,
) -> None:
    """Occuspace serves no history; an unloaded entry imports nothing."""
    simulator.occuspace = occuspace.seed_scenario()
    await setup_entry(hass, butlr_entry)
    assert occuspace_entry.state is ConfigEntryState.LOADED
    call = {"start": NOW - DAY, "end": NOW}
    with pytest.raises(ServiceValidationError) as raised:
        await import_history(
            hass, {"config_entry_id": occuspace_entry.entry_id, **call}
        )
    assert raised.value.translation_key == "history_not_supported"
    assert await hass.config_entries.async_unload(butlr_entry.entry_id)
    with pytest.raises(ServiceValidationError) as raised:
        await import_history(hass, {"config_entry_id": butlr_entry.entry_id, **call})
    assert raised.value.translation_key == "entry_not_loaded"


async def test_action_reports_a_provider_failure(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """Butlr refusing the history is an error the caller sees; entities stay."""
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_HISTORY_DAYS: 0})
    await setup_entry(hass, butlr_entry)
    butlr_scenario.report_refusals["traffic_room_occupancy"] = 500
    with pytest.raises(HomeAssistantError) as raised:
        await import_history(
            hass,
            {"config_entry_id": butlr_entry.entry_id, "start": NOW - DAY, "end": NOW},
        )
    assert raised.value.translation_key == "history_failed"
    assert hass.states.get("sensor.meeting_room_occupancy").state == "3"


async def test_action_reports_any_failure_as_its_own(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """Not only Butlr's errors: the caller gets the action's error, diagnostics count it."""
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_HISTORY_DAYS: 0})
    await setup_entry(hass, butlr_entry)
    with (
        patch.object(ButlrClient, "async_history", side_effect=RecursionError),
        pytest.raises(HomeAssistantError) as raised,
    ):
        await import_history(
            hass,
            {"config_entry_id": butlr_entry.entry_id, "start": NOW - DAY, "end": NOW},
        )
    assert raised.value.translation_key == "history_failed"
    assert raised.value.translation_placeholders == {"error": "RecursionError"}
    diagnostics = butlr_entry.runtime_data.history.diagnostics()
    assert (diagnostics["failures"], diagnostics["last_error"]) == (1, "RecursionError")


async def test_six_hour_outage_is_filled_without_touching_compiled_hours(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Hours the recorder compiled keep their values; the outage's hours come in."""
    await start(
        hass, butlr_scenario, butlr_entry, days=0, history=(NOW - DAY, NOW + DAY)
    )

    # 15:00–16:00: Home Assistant records the live 3 people and compiles the hour.
    await _advance(hass, freezer, NOW + timedelta(minutes=55))
    do_adhoc_statistics(hass, start=NOW + timedelta(minutes=55))
    await settle(hass)
    compiled = await hourly(hass, NOW, NOW + HOUR)
    assert compiled["sensor.meeting_room_occupancy"][NOW][0] == pytest.approx(3.0)

    # 16:00–22:00: Butlr is unreachable; the entities are unavailable.
    for measurement in ("presence", "traffic"):
        butlr_scenario.report_refusals[measurement] = 500
    await _advance(hass, freezer, NOW + HOUR + timedelta(minutes=1))
    assert hass.states.get("sensor.meeting_room_occupancy").state == "unavailable"
    outage_end = NOW + 7 * HOUR
    await _advance(hass, freezer, outage_end + timedelta(seconds=10))
    # The recorder's run at 22:00:10 for 21:55–22:00 (nothing to compile).
    do_adhoc_statistics(hass, start=outage_end - timedelta(minutes=5))
    await settle(hass)
    assert butlr_scenario.history_requests == []

    # 22:00: Butlr answers again; the next good poll (polls back off while
    # they fail: at most 30 minutes later) fills 16:00–22:00.
    butlr_scenario.report_refusals.clear()
    await _advance(hass, freezer, outage_end + timedelta(minutes=31))
    await settle(hass)
    assert hass.states.get("sensor.meeting_room_occupancy").state == "3"
    statistics = await hourly(hass, NOW - DAY, outage_end + HOUR)
    for statistic_id, expected in EXPECTED.items():
        hours = statistics[statistic_id]
        # The compiled hour kept, the six hours of the outage imported.
        assert sorted(hours) == [NOW + n * HOUR for n in range(7)], statistic_id
        assert {hours[NOW + n * HOUR] for n in range(1, 7)} == {expected}
        assert hours[NOW][0] != expected[0]


async def test_restart_after_a_stop_fills_the_gap(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The last good poll is stored: after a stop, setup queues the hours since."""
    await start(
        hass, butlr_scenario, butlr_entry, days=0, history=(NOW - DAY, NOW + DAY)
    )
    assert await hass.config_entries.async_unload(butlr_entry.entry_id)
    await settle(hass)

    back = NOW + 6 * HOUR + timedelta(minutes=10)
    freezer.move_to(back)
    do_adhoc_statistics(hass, start=back - timedelta(minutes=10))
    await settle(hass)
    await setup_entry(hass, butlr_entry)
    await settle(hass)
    statistics = await hourly(hass, NOW - DAY, back + HOUR)
    assert sorted(statistics["sensor.cafeteria_occupancy"]) == [
        NOW + n * HOUR for n in range(6)
    ]


async def test_history_requests_are_paced_and_polls_do_not_wait(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """One history request per 15 s; the polls in between go out on time."""
    give_history(butlr_scenario, NOW - 3 * DAY, NOW + HOUR)
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_HISTORY_DAYS: 2})
    with patch(
        "custom_components.space_occupancy.history.HISTORY_REQUEST_PACE",
        timedelta(seconds=15),
    ):
        await setup_entry(hass, butlr_entry)
        await _recorder_round(hass)
        assert len(butlr_scenario.history_requests) == 1
        for second in range(1, 76):
            freezer.tick(timedelta(seconds=1))
            async_fire_time_changed(hass)
            await _recorder_round(hass)
            # Request n goes out 15 s after request n - 1, never sooner.
            assert len(butlr_scenario.history_requests) == 1 + second // 15
        # Polls every 60 s went out meanwhile, unaffected by the pending import.
        polls = [
            body
            for body in butlr_scenario.report_bodies
            if body["filter"]["measurements"] == ["presence"]
            and body["group_by"]["order"][-1] != "time"
        ]
        assert len(polls) == 2
        await settle(hass)
    assert len(butlr_scenario.history_requests) == 6


async def test_failed_history_leaves_entities_alone_and_retries_later(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A refused history request: entities as they were, a retry 15 minutes on."""
    give_history(butlr_scenario, NOW - 3 * DAY, NOW + HOUR)
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_HISTORY_DAYS: 1})
    butlr_scenario.report_refusals["traffic_room_occupancy"] = 503
    await setup_entry(hass, butlr_entry)
    await settle(hass)
    importer = butlr_entry.runtime_data.history
    assert importer.diagnostics()["failures"] == 1
    assert importer.pending
    assert hass.states.get("sensor.meeting_room_occupancy").state == "3"

    butlr_scenario.report_refusals.clear()
    requests = len(butlr_scenario.history_requests)
    await _advance(hass, freezer, NOW + timedelta(minutes=5))
    assert len(butlr_scenario.history_requests) == requests  # not yet
    await _advance(hass, freezer, NOW + timedelta(minutes=16))
    await settle(hass)
    assert importer.pending == []
    statistics = await hourly(hass, NOW - 2 * DAY, NOW)
    assert len(statistics["sensor.cafeteria_occupancy"]) == 24


async def _recorder_round(hass: HomeAssistant) -> None:
    """Let queued work, the recorder's included, run without waiting on timers."""
    for _ in range(3):
        await hass.async_block_till_done()
        await async_wait_recording_done(hass)


async def _advance(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, moment: datetime
) -> None:
    """Move the clock to a moment, letting every poll due on the way run."""
    while (now := datetime.now(tz=NOW.tzinfo)) < moment:
        freezer.tick(min(timedelta(seconds=60), moment - now))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)


async def test_more_days_in_the_options_import_the_older_ones(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """From 1 day to 3: the two older days come in, the first is not asked again."""
    await start(
        hass, butlr_scenario, butlr_entry, days=1, history=(NOW - 4 * DAY, NOW + HOUR)
    )
    assert len(butlr_scenario.history_requests) == 6

    result = await hass.config_entries.options.async_init(butlr_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**butlr_entry.options, CONF_HISTORY_DAYS: 3}
    )
    await settle(hass)
    # One more chunk of 48 hours: the two days before the first.
    assert len(butlr_scenario.history_requests) == 12
    starts = {body["filter"]["start"] for _, body in butlr_scenario.history_requests}
    assert starts == {"2024-06-11T15:00:00Z", "2024-06-09T15:00:00Z"}
    statistics = await hourly(hass, NOW - 10 * DAY, NOW)
    assert len(statistics["sensor.hq_occupancy"]) == 72


async def test_removing_the_entry_forgets_its_import(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """The stored import state goes with the entry."""
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_HISTORY_DAYS: 0})
    await setup_entry(hass, butlr_entry)
    await settle(hass)
    key = f"{DOMAIN}.history.{butlr_entry.entry_id}"
    assert hass_storage[key]["data"]["last_good"] == NOW.isoformat()
    assert await hass.config_entries.async_remove(butlr_entry.entry_id)
    await settle(hass)
    assert key not in hass_storage


def test_pending_ranges_merge_and_shrink() -> None:
    """Ranges to import merge when they touch and shrink as chunks are done."""
    t = [NOW + n * HOUR for n in range(10)]
    ranges = add_range([], (t[0], t[2]))
    ranges = add_range(ranges, (t[5], t[6]))
    ranges = add_range(ranges, (t[2], t[3]))  # touching: merged
    ranges = add_range(ranges, (t[4], t[4]))  # empty: ignored
    assert ranges == [(t[0], t[3]), (t[5], t[6])]
    assert add_range(ranges, (t[1], t[2])) == ranges  # inside: no change
    assert remove_range(ranges, (t[1], t[2])) == [
        (t[0], t[1]),
        (t[2], t[3]),
        (t[5], t[6]),
    ]
    assert remove_range(ranges, (t[0], t[9])) == []
    assert remove_range(ranges, (t[7], t[9])) == ranges


async def test_an_import_cut_short_goes_on_after_a_restart(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """The ranges left to import are stored; setup takes them up again."""
    key = f"{DOMAIN}.history.{butlr_entry.entry_id}"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {
            "pending": [
                [(NOW - 2 * DAY).isoformat(), (NOW - DAY).isoformat()],
                [None, NOW.isoformat()],  # unreadable: skipped
            ],
            "covered_from": (NOW - 2 * DAY).isoformat(),
            "last_good": None,
        },
    }
    await start(
        hass,
        butlr_scenario,
        butlr_entry,
        days=2,
        history=(NOW - 3 * DAY, NOW + HOUR),
    )
    statistics = await hourly(hass, NOW - 3 * DAY, NOW + HOUR)
    assert sorted(statistics["sensor.hq_occupancy"]) == [
        NOW - 2 * DAY + n * HOUR for n in range(24)
    ]
    assert butlr_entry.runtime_data.history.pending == []


def test_retry_delay_doubles_up_to_six_hours() -> None:
    """15, 30, 60, 120, 240 minutes, then 6 hours however long it fails."""
    delay = history_module.retry_delay
    minutes = [delay(n) / timedelta(minutes=1) for n in (1, 2, 3, 4, 5, 6, 7)]
    assert minutes == [15, 30, 60, 120, 240, 360, 360]
    assert delay(10_000) == timedelta(hours=6)


async def test_any_history_failure_waits_longer_while_it_lasts(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Not only Butlr's errors: any failure counts and waits, longer while it lasts.

    An OverflowError (as a value out of the calendar raised) once ended the
    import's task unread, and every poll started it again on the same chunk.
    """
    give_history(butlr_scenario, NOW - 3 * DAY, NOW + DAY)
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_HISTORY_DAYS: 1})
    calls: list[datetime] = []
    failing = True
    real = ButlrClient.async_history

    async def history(client: ButlrClient, *args: Any) -> Any:
        calls.append(datetime.now(tz=NOW.tzinfo))
        if failing:
            raise OverflowError("date value out of range")
        return await real(client, *args)

    with patch.object(ButlrClient, "async_history", history):
        await setup_entry(hass, butlr_entry)
        await settle(hass)
        importer = butlr_entry.runtime_data.history
        diagnostics = importer.diagnostics()
        assert (diagnostics["failures"], diagnostics["last_error"]) == (
            1,
            "OverflowError",
        )
        assert diagnostics["retry_at"] == calls[0] + timedelta(minutes=15)
        # Each wait doubles: no try before it ends, one at the first poll after.
        for wait in (15, 30):
            await _advance(hass, freezer, calls[-1] + timedelta(minutes=wait - 1))
            tries = len(calls)
            await _advance(hass, freezer, calls[-1] + timedelta(minutes=wait + 1))
            assert len(calls) == tries + 1
            assert calls[-1] - calls[-2] >= timedelta(minutes=wait)
        assert importer.diagnostics()["failures_in_a_row"] == 3
        assert importer.diagnostics()["retry_at"] == calls[-1] + HOUR

        # The first success ends the back-off: a later failure waits 15 minutes.
        failing = False
        await _advance(hass, freezer, calls[-1] + timedelta(minutes=61))
        await settle(hass)
        assert importer.pending == []
        assert importer.diagnostics()["failures_in_a_row"] == 0
        assert importer.diagnostics()["retry_at"] is None
        failing = True
        importer.async_set_days(3)
        await settle(hass)
    diagnostics = importer.diagnostics()
    assert (diagnostics["failures"], diagnostics["failures_in_a_row"]) == (4, 1)
    assert diagnostics["retry_at"] == calls[-1] + timedelta(minutes=15)


async def test_answers_no_parser_expected_are_holes(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """An integer too large for a float, a window out of the calendar: holes."""
    hour = NOW - HOUR
    good = {"mean": 5, "min": 5, "max": 5}
    butlr_scenario.history_payload = {
        "data": {
            "room_cafeteria": {
                (hour - HOUR).strftime("%Y-%m-%dT%H:%M:%SZ"): {
                    "mean": 10**400,
                    "min": 10**400,
                    "max": 10**400,
                },
                "9999-12-31T23:00:00-01:00": good,
                hour.strftime("%Y-%m-%dT%H:%M:%SZ"): good,
            }
        }
    }
    await start(hass, butlr_scenario, butlr_entry, days=1, history=(NOW, NOW))
    importer = butlr_entry.runtime_data.history
    assert importer.pending == []
    assert importer.diagnostics()["failures"] == 0
    statistics = await hourly(hass, NOW - 2 * DAY, NOW)
    assert statistics["sensor.cafeteria_occupancy"] == {hour: (5.0, 5.0, 5.0)}
