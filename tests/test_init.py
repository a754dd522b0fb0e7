"""Setting up an entry end to end through the simulator."""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.space_occupancy import binary_sensor, sensor
from custom_components.space_occupancy.const import DOMAIN

from .conftest import NOW, SimulatorServer, find_device, setup_entry
from .simulator import Fault
from .simulator.butlr import ButlrScenario, demo_scenario


async def test_butlr_setup_states(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Every room and parent gets its device and the expected entity states."""
    await setup_entry(hass, butlr_entry)
    assert butlr_entry.state is ConfigEntryState.LOADED

    expected = {
        "sensor.meeting_room_occupancy": "3",
        "sensor.meeting_room_occupancy_percentage": "37.5",
        "sensor.meeting_room_activity": "low",
        "binary_sensor.meeting_room_occupied": STATE_ON,
        "sensor.focus_room_occupancy": "0",
        "sensor.focus_room_activity": "empty",
        "binary_sensor.focus_room_occupied": STATE_OFF,
        "sensor.cafeteria_occupancy": "5",
        "sensor.cafeteria_entries_today": "7",
        "sensor.cafeteria_exits_today": "2",
        "sensor.cafeteria_occupancy_percentage": "12.5",
        "sensor.first_floor_occupancy": "8",
        "sensor.main_building_occupancy": "8",
        "sensor.hq_occupancy": "8",
    }
    assert {
        entity_id: hass.states.get(entity_id).state for entity_id in expected
    } == expected
    occupancy = hass.states.get("sensor.meeting_room_occupancy")
    assert occupancy.attributes["unit_of_measurement"] == "people"
    assert occupancy.attributes["state_class"] == "measurement"
    assert hass.states.get("sensor.focus_room_activity").attributes["options"] == [
        "inactive",
        "empty",
        "occupied",
    ]
    # No capacity, no percentage; no traffic sensor, no entries; no sensors, no device.
    assert hass.states.get("sensor.focus_room_occupancy_percentage") is None
    assert hass.states.get("sensor.meeting_room_entries_today") is None
    assert find_device(hass, butlr_entry, "room_storage") is None
    # Butlr reports no observation time.
    assert hass.states.get("sensor.meeting_room_last_reading") is None

    capacity = entity_registry.async_get("sensor.meeting_room_capacity")
    assert capacity.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert capacity.unique_id == "butlr_facilities@example.com_room_meeting_capacity"

    room = find_device(hass, butlr_entry, "room_meeting")
    floor = find_device(hass, butlr_entry, "space_f1")
    building = find_device(hass, butlr_entry, "building_main")
    assert room.via_device_id == floor.id
    assert floor.via_device_id == building.id
    assert (room.manufacturer, room.model, room.name) == (
        "Butlr",
        "Room",
        "Meeting room",
    )
    # Spaces are devices of a hub, not services.
    assert room.entry_type is None


async def test_butlr_polls_and_recovers(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A failed poll makes entities unavailable; the next good poll brings them back."""
    await setup_entry(hass, butlr_entry)
    butlr_scenario.sites[0].buildings[0].floors[0].rooms[0].sensors[0].people = 6

    simulator.inject(Fault("/api/v3/reporting", status=500))
    freezer.tick(timedelta(seconds=60))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get("sensor.meeting_room_occupancy").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.meeting_room_activity").state == STATE_UNAVAILABLE

    freezer.tick(timedelta(seconds=60))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get("sensor.meeting_room_occupancy").state == "7"
    assert hass.states.get("sensor.meeting_room_activity").state == "high"  # 87.5 %


async def test_setup_retries_when_provider_down(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """A provider that is down at startup means: try again later."""
    simulator.inject(Fault("/api/v2/login", status=503))
    await hass.config_entries.async_setup(butlr_entry.entry_id)
    assert butlr_entry.state is ConfigEntryState.SETUP_RETRY


async def test_setup_rejected_credentials_start_reauth(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """Rejected credentials at startup open a reauth flow."""
    butlr_scenario.accounts.clear()
    await hass.config_entries.async_setup(butlr_entry.entry_id)
    assert butlr_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_unload(
    hass: HomeAssistant, butlr_scenario: ButlrScenario, butlr_entry: MockConfigEntry
) -> None:
    """An entry unloads cleanly."""
    await setup_entry(hass, butlr_entry)
    assert await hass.config_entries.async_unload(butlr_entry.entry_id)
    assert butlr_entry.state is ConfigEntryState.NOT_LOADED


async def test_entity_categories_and_parallel_updates(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Capacity, last reading and sensor health are diagnostics; no parallel polls."""
    await setup_entry(hass, butlr_entry)
    assert (
        entity_registry.async_get("sensor.meeting_room_capacity").entity_category
        is EntityCategory.DIAGNOSTIC
    )
    assert (
        entity_registry.async_get("sensor.meeting_room_occupancy").entity_category
        is None
    )
    assert sensor.PARALLEL_UPDATES == 0
    assert binary_sensor.PARALLEL_UPDATES == 0
    assert {
        description.key: description.entity_category
        for description in sensor.SENSORS
        if description.entity_category
    } == {
        "capacity": EntityCategory.DIAGNOSTIC,
        "last_reading": EntityCategory.DIAGNOSTIC,
        "battery_change_due": EntityCategory.DIAGNOSTIC,
        "sensors_offline": EntityCategory.DIAGNOSTIC,
        "last_heartbeat": EntityCategory.DIAGNOSTIC,
    }
    assert {
        description.key: description.entity_category
        for description in binary_sensor.BINARY_SENSORS
        if description.entity_category
    } == {"sensor_problem": EntityCategory.DIAGNOSTIC}


async def test_daily_counters_reset_at_the_sites_midnight(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Entries and exits today are totals since the site's local midnight.

    Seed 000: a traffic room's counts are sums since local midnight of its
    site (New York here, Home Assistant in another zone), so the statistics
    must learn the day from ``last_reset``, not read a new day as a dip.
    """
    await setup_entry(hass, butlr_entry)
    entries = hass.states.get("sensor.cafeteria_entries_today")
    assert entries.state == "7"
    assert entries.attributes["state_class"] == "total"
    # NOW is 11:00 in New York on 12 June 2024 (EDT, UTC-4).
    assert entries.attributes["last_reset"] == "2024-06-12T00:00:00-04:00"
    assert hass.states.get("sensor.cafeteria_exits_today").attributes["last_reset"] == (
        "2024-06-12T00:00:00-04:00"
    )

    # 13 hours later it is 00:00 on the 13th in New York: a new day from 0.
    freezer.tick(timedelta(hours=13))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    entries = hass.states.get("sensor.cafeteria_entries_today")
    assert entries.state == "0"
    assert entries.attributes["last_reset"] == "2024-06-13T00:00:00-04:00"


async def test_time_zone_change_applies_without_reload(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A site that names no timezone counts its day in Home Assistant's, as it is now."""
    freezer.move_to(NOW)
    simulator.butlr = demo_scenario(NOW, timezone=None)
    await hass.config.async_update(time_zone="America/New_York")
    await setup_entry(hass, butlr_entry)
    coordinator = butlr_entry.runtime_data
    entries = hass.states.get("sensor.cafeteria_entries_today")
    assert entries.attributes["last_reset"] == "2024-06-12T00:00:00-04:00"

    await hass.config.async_update(time_zone="Asia/Tokyo")
    freezer.tick(timedelta(seconds=60))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert butlr_entry.runtime_data is coordinator  # no reload
    # 15:00 UTC is already the 13th in Tokyo (UTC+9).
    entries = hass.states.get("sensor.cafeteria_entries_today")
    assert entries.attributes["last_reset"] == "2024-06-13T00:00:00+09:00"
    tokyo_midnight = "2024-06-12T15:00:00Z"
    assert any(tokyo_midnight in str(body) for body in simulator.butlr.report_bodies)
