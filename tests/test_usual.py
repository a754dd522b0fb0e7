"""Usual occupancy: the mean of the same weekday and hour over the last 4 weeks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.models import StatisticData
from homeassistant.components.recorder.statistics import (
    async_import_statistics,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.space_occupancy.compat import statistic_metadata
from custom_components.space_occupancy.const import CONF_HISTORY_DAYS
from custom_components.space_occupancy.state import (
    VERSUS_AS_USUAL,
    VERSUS_BUSIER,
    VERSUS_QUIETER,
    versus_usual,
)
from custom_components.space_occupancy.usual import same_hour_in_past_weeks

from .conftest import NOW, SimulatorServer, setup_entry
from .simulator import occuspace
from .simulator.butlr import ButlrScenario

WEEK = timedelta(weeks=1)
HOUR = timedelta(hours=1)
MEETING = "sensor.meeting_room_occupancy"


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Prepare the recorder's database before Home Assistant starts."""


@pytest.fixture
def no_import(butlr_entry: MockConfigEntry, hass: HomeAssistant) -> MockConfigEntry:
    """The Butlr entry, set to import no history: statistics come from the test."""
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_HISTORY_DAYS: 0})
    return butlr_entry


async def give_statistics(
    hass: HomeAssistant, statistic_id: str, means: dict[datetime, float]
) -> None:
    """Put hourly means into a sensor's long-term statistics."""
    async_import_statistics(
        hass,
        statistic_metadata(statistic_id, "people"),
        [StatisticData(start=hour, mean=mean) for hour, mean in means.items()],
    )
    await async_wait_recording_done(hass)


@pytest.mark.parametrize(
    ("occupancy", "usual", "expected"),
    [
        (3, 5.0, VERSUS_QUIETER),  # margin 25 % of 5: 1.25
        (4, 5.0, VERSUS_AS_USUAL),
        (6, 5.0, VERSUS_AS_USUAL),
        (7, 5.0, VERSUS_BUSIER),
        (1, 0.0, VERSUS_AS_USUAL),  # at least one person of margin
        (2, 0.0, VERSUS_BUSIER),
        (0, 0.8, VERSUS_AS_USUAL),
        (0, 1.5, VERSUS_QUIETER),
        (0, 2.5, VERSUS_QUIETER),
        (None, 5.0, None),
        (3, None, None),
    ],
)
def test_versus_usual_thresholds(
    occupancy: int | None, usual: float | None, expected: str | None
) -> None:
    """As usual within 25 % of the usual count, or one person, whichever is more."""
    assert versus_usual(occupancy, usual) == expected


async def test_same_hour_is_the_wall_clock_hour_across_daylight_saving(
    hass: HomeAssistant,
) -> None:
    """A week before a DST change, the same local hour is another UTC hour."""
    await hass.config.async_set_time_zone("America/Los_Angeles")
    # Tuesday 12 March 2024, 08:20 PDT; DST began on Sunday 10 March.
    now = datetime(2024, 3, 12, 15, 20, tzinfo=UTC)
    assert same_hour_in_past_weeks(now, 2) == [
        datetime(2024, 3, 5, 16, 0, tzinfo=UTC),  # 08:00 PST
        datetime(2024, 2, 27, 16, 0, tzinfo=UTC),
    ]


async def test_usual_is_the_mean_of_the_same_hour_in_four_weeks(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    no_import: MockConfigEntry,
) -> None:
    """2, 4, 6 and 8 people at this hour in the last 4 weeks: usually 5."""
    slot = dt_util.as_utc(NOW)
    await give_statistics(
        hass,
        MEETING,
        {
            slot - WEEK: 2,
            slot - 2 * WEEK: 4,
            slot - 3 * WEEK: 6,
            slot - 4 * WEEK: 8,
            # Other hours and a fifth week do not count.
            slot - 5 * WEEK: 100,
            slot - WEEK + HOUR: 100,
            slot - WEEK - HOUR: 100,
            slot - 6 * timedelta(days=1): 100,
        },
    )
    await setup_entry(hass, no_import)
    await hass.async_block_till_done(wait_background_tasks=True)

    usual = hass.states.get("sensor.meeting_room_usual_occupancy")
    assert usual.state == "5.0"
    assert usual.attributes["unit_of_measurement"] == "people"
    # 3 people now, usually 5: quieter than usual (below 5 - 1.25).
    versus = hass.states.get("sensor.meeting_room_compared_with_usual")
    assert versus.state == VERSUS_QUIETER
    assert versus.attributes["options"] == ["quieter", "as_usual", "busier"]
    # No statistics for the focus room: unknown, yet available.
    assert hass.states.get("sensor.focus_room_usual_occupancy").state == "unknown"
    assert hass.states.get("sensor.focus_room_compared_with_usual").state == "unknown"


async def test_usual_needs_two_weeks_and_follows_the_hour(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    no_import: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    state_changes: list[str],
) -> None:
    """One week is not usual yet; at the next hour, that hour's weeks count."""
    freezer.move_to(NOW + timedelta(minutes=20))  # clear of the hourly refresh
    slot = dt_util.as_utc(NOW)
    await give_statistics(
        hass,
        MEETING,
        {slot - WEEK: 3, slot + HOUR - WEEK: 1, slot + HOUR - 3 * WEEK: 2},
    )
    reads: list[datetime] = []

    def counted(hass: HomeAssistant, start: datetime, *args: Any) -> Any:
        reads.append(start)
        return statistics_during_period(hass, start, *args)

    with patch(
        "custom_components.space_occupancy.usual.statistics_during_period", counted
    ):
        await setup_entry(hass, no_import)
        await hass.async_block_till_done(wait_background_tasks=True)
        assert hass.states.get("sensor.meeting_room_usual_occupancy").state == (
            "unknown"
        )
        # One refresh: four one-hour reads for all the entry's spaces together.
        assert len(reads) == 4

        # Polls do not read statistics.
        for _ in range(5):
            freezer.tick(timedelta(seconds=60))
            async_fire_time_changed(hass)
            await hass.async_block_till_done(wait_background_tasks=True)
        assert len(reads) == 4

        # 16:00:05: the hour compared is 16:00, which has two weeks: (1 + 2) / 2.
        state_changes.clear()
        freezer.move_to(NOW + HOUR + timedelta(seconds=5))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert len(reads) == 8
    assert hass.states.get("sensor.meeting_room_usual_occupancy").state == "1.5"
    # Only the entities showing the usual of the space whose usual changed.
    assert sorted(state_changes) == [
        "sensor.meeting_room_compared_with_usual",
        "sensor.meeting_room_usual_occupancy",
    ]
    # 3 people now, usually 1.5: busier than usual (above 1.5 + 1).
    assert (
        hass.states.get("sensor.meeting_room_compared_with_usual").state
        == VERSUS_BUSIER
    )


async def test_every_provider_has_usual_occupancy(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    simulator: SimulatorServer,
    occuspace_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Occuspace serves no history, but its statistics make the usual all the same."""
    freezer.move_to(NOW)
    simulator.occuspace = occuspace.seed_scenario()
    await setup_entry(hass, occuspace_entry)
    await hass.async_block_till_done(wait_background_tasks=True)
    occupancy = next(
        state.entity_id
        for state in hass.states.async_all("sensor")
        if state.entity_id.endswith("_occupancy")
        and not state.entity_id.endswith("_usual_occupancy")
    )
    usual = occupancy.removesuffix("_occupancy") + "_usual_occupancy"
    assert hass.states.get(usual).state == "unknown"
    assert occuspace_entry.runtime_data.history is None

    slot = dt_util.as_utc(NOW + HOUR)
    await give_statistics(hass, occupancy, {slot - WEEK: 10, slot - 2 * WEEK: 20})
    freezer.move_to(NOW + HOUR + timedelta(seconds=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(usual).state == "15.0"
