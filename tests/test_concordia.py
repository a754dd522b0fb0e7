"""Concordia University libraries in Home Assistant: states, staleness and the quota."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.space_occupancy.const import DOMAIN
from custom_components.space_occupancy.diagnostics import (
    async_get_config_entry_diagnostics,
)

from .conftest import SimulatorServer, poll, setup_entry
from .simulator.concordia import record_time, seed_scenario

# 17:00 in Montreal (EDT), like the seed's reading.
SEED_NOW = datetime(2018, 8, 27, 21, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def concordia_seed(simulator: SimulatorServer, freezer: FrozenDateTimeFactory) -> None:
    """The seed's libraries, fresh relative to a frozen clock."""
    freezer.move_to(SEED_NOW)
    simulator.concordia = seed_scenario(SEED_NOW)


async def _next_montreal_day(
    hass: HomeAssistant, simulator: SimulatorServer, freezer: FrozenDateTimeFactory
) -> None:
    """Move to 00:20 in Montreal the next day, fresh records, and let a poll run."""
    morning = datetime(2018, 8, 28, 4, 20, tzinfo=UTC)
    freezer.move_to(morning)
    simulator.concordia.libraries = seed_scenario(morning).libraries
    await poll(hass, freezer, 1800)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_seed_example(
    hass: HomeAssistant, concordia_entry: MockConfigEntry
) -> None:
    """Webster 367, Vanier 104, Grey Nuns 0 (from -5), with their record times."""
    await setup_entry(hass, concordia_entry)
    assert hass.states.get("sensor.webster_library_occupancy").state == "367"
    assert hass.states.get("sensor.vanier_library_occupancy").state == "104"
    assert hass.states.get("sensor.grey_nuns_reading_room_occupancy").state == "0"
    assert hass.states.get("sensor.grey_nuns_reading_room_activity").state == "empty"
    assert hass.states.get("binary_sensor.webster_library_occupied").state == "on"
    assert hass.states.get("sensor.webster_library_activity").state == "occupied"
    # Vanier's record was 45 minutes old: 16:15 Montreal time.
    assert (
        hass.states.get("sensor.vanier_library_last_reading").state
        == "2018-08-27T20:15:00+00:00"
    )
    # No capacity from Concordia: no percentage until the user sets one.
    assert hass.states.get("sensor.webster_library_occupancy_percentage") is None


async def test_frozen_feed_makes_library_inactive(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    concordia_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A library whose answer has not changed for 90 minutes shows inactive."""
    await setup_entry(hass, concordia_entry)
    await poll(hass, freezer, 90 * 60)  # unchanged for exactly the limit
    assert hass.states.get("sensor.vanier_library_occupancy").state == "104"
    simulator.concordia.libraries["Webster"] = (
        "370.0000",
        record_time(SEED_NOW + timedelta(minutes=90)),
    )
    await poll(hass, freezer, 300)  # Vanier unchanged for 95 minutes
    assert hass.states.get("sensor.vanier_library_occupancy").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.vanier_library_activity").state == "inactive"
    assert (
        hass.states.get("binary_sensor.vanier_library_occupied").state
        == STATE_UNAVAILABLE
    )
    # Webster's feed moved meanwhile.
    assert hass.states.get("sensor.webster_library_occupancy").state == "370"


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_record_times_ahead_of_our_clock_are_readings(
    hass: HomeAssistant, simulator: SimulatorServer, concordia_entry: MockConfigEntry
) -> None:
    """The real feed's record times run up to 86 minutes ahead: still readings.

    A 1900 record (never reported) is no reading.
    """
    simulator.concordia.libraries["GreyNuns"] = (".0000", "1900-01-01 00:00:00.000")
    simulator.concordia.libraries["Vanier"] = (
        "12.0000",
        record_time(SEED_NOW + timedelta(minutes=82)),
    )
    await setup_entry(hass, concordia_entry)
    assert hass.states.get("sensor.grey_nuns_reading_room_activity").state == "inactive"
    assert (
        hass.states.get("sensor.grey_nuns_reading_room_occupancy").state
        == STATE_UNAVAILABLE
    )
    assert hass.states.get("sensor.vanier_library_occupancy").state == "12"
    assert hass.states.get("sensor.vanier_library_activity").state == "occupied"
    # The feed's own time, as it says it.
    assert (
        hass.states.get("sensor.vanier_library_last_reading").state
        == "2018-08-27T22:22:00+00:00"
    )


async def test_one_request_per_poll(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    concordia_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Every 300 s, one request."""
    await setup_entry(hass, concordia_entry)
    assert len(simulator.requests_to("/API/v1/library/occupancy/")) == 1
    await poll(hass, freezer, 299)
    assert len(simulator.requests_to("/API/v1/library/occupancy/")) == 1
    await poll(hass, freezer, 1)
    assert len(simulator.requests_to("/API/v1/library/occupancy/")) == 2


async def test_quota_401_waits_for_montreal_midnight_before_reauth(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    concordia_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A 401 on a working entry: unavailable, a repair issue, slower polls, no reauth.

    Reauth starts only if the 401s continue after the next Montreal midnight.
    """
    await setup_entry(hass, concordia_entry)
    simulator.concordia.quota = simulator.concordia.calls_today  # quota spent
    await poll(hass, freezer, 300)
    assert (
        hass.states.get("sensor.webster_library_occupancy").state == STATE_UNAVAILABLE
    )
    issue_id = f"concordia_quota_{concordia_entry.entry_id}"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)

    # Polling slows down: no request at the usual 300 s.
    calls = simulator.concordia.refused
    await poll(hass, freezer, 300)
    assert simulator.concordia.refused == calls
    await poll(hass, freezer, 1500)
    assert simulator.concordia.refused == calls + 1

    # 17:35 → past 00:00 Montreal (04:00 UTC): the quota resets, data comes back.
    await _next_montreal_day(hass, simulator, freezer)
    assert hass.states.get("sensor.webster_library_occupancy").state == "367"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert concordia_entry.state is ConfigEntryState.LOADED


async def test_quota_spent_at_startup_backs_off_from_the_first_refusal(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    concordia_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The quota already spent when Home Assistant starts: no retry storm.

    Concordia allows 10,000 calls a day and answers 401 once they are spent.
    Setup must not fail and be retried (every 80 s at most, ~700 calls a day):
    the entry loads, says why in a repair issue, and asks every 30 minutes.
    """
    simulator.concordia.calls_today = simulator.concordia.quota  # spent already
    await setup_entry(hass, concordia_entry)
    assert concordia_entry.state is ConfigEntryState.LOADED
    issue_id = f"concordia_quota_{concordia_entry.entry_id}"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert simulator.concordia.refused == 1
    assert hass.states.get("sensor.webster_library_occupancy") is None
    diagnostics = await async_get_config_entry_diagnostics(hass, concordia_entry)
    assert (diagnostics["quota_backoff"], diagnostics["snapshot"]) == (True, None)

    for _ in range(8):  # two hours
        await poll(hass, freezer, 15 * 60)
    assert simulator.concordia.refused == 1 + 4
    assert concordia_entry.state is ConfigEntryState.LOADED
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)

    # Past 00:00 in Montreal (04:00 UTC) the quota resets: the libraries appear.
    await _next_montreal_day(hass, simulator, freezer)
    assert hass.states.get("sensor.webster_library_occupancy").state == "367"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_401_past_montreal_midnight_starts_reauth(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    concordia_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Credentials still refused after the quota reset: ask for them again."""
    await setup_entry(hass, concordia_entry)
    simulator.concordia.credentials.clear()  # the key was revoked
    await poll(hass, freezer, 300)
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    # 23:30 Montreal (03:30 UTC next day): still before the reset.
    freezer.move_to(datetime(2018, 8, 28, 3, 30, tzinfo=UTC))
    await poll(hass, freezer, 0)
    await poll(hass, freezer, 1800)
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    # 00:30 Montreal: past the reset and its grace, still refused.
    await poll(hass, freezer, 1800)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert issue_registry.async_get_issue(
        DOMAIN, f"concordia_quota_{concordia_entry.entry_id}"
    )


async def test_stale_limit_option_applies_without_reload(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    concordia_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A longer stale limit keeps an older record active, from the next poll on."""
    await setup_entry(hass, concordia_entry)
    await poll(hass, freezer, 100 * 60)  # nothing changed for 100 minutes
    assert hass.states.get("sensor.vanier_library_activity").state == "inactive"
    result = await hass.config_entries.options.async_init(concordia_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**result["data_schema"]({}), "stale_minutes": 180}
    )
    await poll(hass, freezer, 300)
    assert hass.states.get("sensor.vanier_library_occupancy").state == "104"
    assert concordia_entry.state is ConfigEntryState.LOADED
