"""Polls back off while a provider keeps failing, and come back at the first good one."""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.space_occupancy.const import MAX_FAILURE_INTERVAL

from .conftest import SimulatorServer, poll, setup_entry
from .simulator.butlr import ButlrScenario


def _report_polls(simulator: SimulatorServer) -> int:
    # Three per poll: presence, traffic and the calibrated traffic occupancy.
    return len(simulator.requests_to("/api/v3/reporting")) // 3


async def test_hours_of_errors_back_off_and_recover(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Three hours of 5xx: a dozen polls, not 180; the first good poll restores 60 s."""
    butlr_scenario.expires_in = 100_000
    await setup_entry(hass, butlr_entry)
    coordinator = butlr_entry.runtime_data.coordinator
    for measurement in ("presence", "traffic"):
        butlr_scenario.report_refusals[measurement] = 503
    before = _report_polls(simulator)
    for _ in range(3 * 60):
        await poll(hass, freezer, 60)
    failed = _report_polls(simulator) - before
    # 60 s three times, then 2, 4, 8, 16 minutes, then every 30 minutes.
    assert 8 <= failed <= 12, failed
    assert coordinator.update_interval == MAX_FAILURE_INTERVAL

    butlr_scenario.report_refusals.clear()
    for _ in range(30):  # the next poll is at most 30 minutes away
        await poll(hass, freezer, 60)
    assert coordinator.last_update_success
    assert coordinator.update_interval == timedelta(seconds=60)
    assert hass.states.get("sensor.meeting_room_occupancy").state == "3"
    good = _report_polls(simulator)
    await poll(hass, freezer, 60)
    assert _report_polls(simulator) == good + 1
