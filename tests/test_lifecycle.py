"""Spaces that come and go, rate limits, and polls that change nothing."""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.entity_platform import async_get_platforms
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.space_occupancy import async_remove_config_entry_device
from custom_components.space_occupancy.const import DOMAIN

from .conftest import SimulatorServer, find_device, poll, setup_entry
from .simulator import Fault
from .simulator.butlr import ButlrRoom, ButlrScenario, ButlrSensor


async def _set_up_first_floor(
    hass: HomeAssistant, scenario: ButlrScenario, entry: MockConfigEntry
) -> list[ButlrRoom]:
    """Set the Butlr entry up; return the demo floor's rooms, to change at will.

    The token outlives the test, so that only topology reads and reports are sent.
    """
    await setup_entry(hass, entry)
    scenario.expires_in = 100_000
    return scenario.sites[0].buildings[0].floors[0].rooms


async def test_new_space_added_without_reload(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A room added at the provider gets its device and entities at the next refresh."""
    rooms = await _set_up_first_floor(hass, butlr_scenario, butlr_entry)
    rooms.append(
        ButlrRoom(
            "room_new", "Phone booth", capacity=1, sensors=[ButlrSensor("n1", people=1)]
        )
    )
    await poll(hass, freezer, 3600)  # the topology is re-read hourly
    assert hass.states.get("sensor.phone_booth_occupancy").state == "1"
    assert hass.states.get("sensor.phone_booth_activity").state == "full"
    assert hass.states.get("binary_sensor.phone_booth_occupied").state == "on"
    assert (
        find_device(hass, butlr_entry, "room_new").via_device_id
        == find_device(hass, butlr_entry, "space_f1").id
    )


async def _hours(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, hours: int
) -> None:
    """Poll once an hour (the topology is re-read hourly) for this many hours."""
    for _ in range(hours):
        await poll(hass, freezer, 3600)


async def test_gone_space_removed_after_a_day_of_answers(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A room gone for 24 hours of topology answers loses its device, not before.

    Meanwhile its entities are unavailable, and the user may delete it.
    """
    rooms = await _set_up_first_floor(hass, butlr_scenario, butlr_entry)
    focus = find_device(hass, butlr_entry, "room_focus")
    meeting = find_device(hass, butlr_entry, "room_meeting")
    assert not await async_remove_config_entry_device(hass, butlr_entry, meeting)
    rooms[:] = [room for room in rooms if room.id != "room_focus"]

    await poll(hass, freezer, 3600)
    assert hass.states.get("sensor.focus_room_occupancy").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.focus_room_activity").state == STATE_UNAVAILABLE
    assert (
        hass.states.get("binary_sensor.focus_room_occupied").state == STATE_UNAVAILABLE
    )
    entities = {
        entity.entity_id: entity
        for platform in async_get_platforms(hass, DOMAIN)
        for entity in platform.entities.values()
    }
    # The entities of a vanished space have no value at all.
    assert entities["sensor.focus_room_occupancy"].native_value is None
    assert entities["binary_sensor.focus_room_occupied"].is_on is None
    assert find_device(hass, butlr_entry, "room_focus") is not None
    # Gone from the provider: the user may delete it now.
    assert await async_remove_config_entry_device(hass, butlr_entry, focus)
    assert not await async_remove_config_entry_device(hass, butlr_entry, meeting)

    # Seen missing first an hour ago: 23 more hours, and an outage could explain it.
    await _hours(hass, freezer, 23)
    assert find_device(hass, butlr_entry, "room_focus") is not None
    await _hours(hass, freezer, 1)
    assert find_device(hass, butlr_entry, "room_focus") is None
    assert entity_registry.async_get("sensor.focus_room_occupancy") is None
    assert find_device(hass, butlr_entry, "room_meeting") is not None


async def test_a_day_long_outage_of_most_rooms_keeps_every_device(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A topology that loses most rooms for 23 hours, then has them back, removes nothing.

    The user's settings on the devices (a name, an area) survive.
    """
    rooms = await _set_up_first_floor(hass, butlr_scenario, butlr_entry)
    focus = find_device(hass, butlr_entry, "room_focus")
    device_registry.async_update_device(focus.id, name_by_user="Quiet room")
    kept = list(rooms)
    rooms[:] = rooms[:1]
    await _hours(hass, freezer, 23)
    rooms[:] = kept
    await _hours(hass, freezer, 2)
    for room in kept:
        if room.sensors:  # a room without sensors never had a device
            assert find_device(hass, butlr_entry, room.id) is not None
    assert find_device(hass, butlr_entry, "room_focus").name_by_user == "Quiet room"
    assert hass.states.get("sensor.focus_room_occupancy").state == "0"


async def test_rate_limit_respected_and_reported(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """After a 429 nothing is sent before Retry-After; a lasting limit raises an issue."""
    await setup_entry(hass, butlr_entry)
    issue_id = f"rate_limited_{butlr_entry.entry_id}"
    simulator.inject(
        Fault("/api/v3/reporting", status=429, headers={"Retry-After": "200"})
    )
    await poll(hass, freezer, 60)
    assert hass.states.get("sensor.meeting_room_occupancy").state == STATE_UNAVAILABLE
    sent = len(simulator.requests)
    for _ in range(3):
        await poll(hass, freezer, 60)
    assert len(simulator.requests) == sent  # 180 s < Retry-After: nothing sent
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    await poll(hass, freezer, 60)
    assert hass.states.get("sensor.meeting_room_occupancy").state == "3"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_unchanged_poll_writes_no_state(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    state_changes: list[str],
) -> None:
    """A poll that changed nothing writes nothing; a change writes only what changed."""
    await setup_entry(hass, butlr_entry)
    state_changes.clear()  # Setup wrote every state once; count from here.
    await poll(hass, freezer, 60)
    assert state_changes == []

    butlr_scenario.sites[0].buildings[0].floors[0].rooms[1].sensors[0].people = 1
    await poll(hass, freezer, 60)
    assert sorted(state_changes) == sorted(
        [
            "sensor.focus_room_occupancy",
            "sensor.focus_room_activity",
            "binary_sensor.focus_room_occupied",
            "sensor.first_floor_occupancy",
            "sensor.first_floor_occupancy_percentage",
            "sensor.main_building_occupancy",
            "sensor.main_building_occupancy_percentage",
            "sensor.hq_occupancy",
            "sensor.hq_occupancy_percentage",
        ]
    )


async def test_capacity_set_at_the_provider_adds_percentage(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A capacity the provider starts to give brings the percentage and grades."""
    await setup_entry(hass, butlr_entry)
    butlr_scenario.expires_in = 100_000
    assert hass.states.get("sensor.focus_room_occupancy_percentage") is None
    focus = butlr_scenario.sites[0].buildings[0].floors[0].rooms[1]
    focus.capacity = 4
    focus.sensors[0].people = 1
    await poll(hass, freezer, 3600)  # the topology is re-read hourly
    assert hass.states.get("sensor.focus_room_occupancy_percentage").state == "25.0"
    assert hass.states.get("sensor.focus_room_activity").state == "low"


async def test_space_that_returns_gets_everything_back(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A room gone long enough to lose its device comes back whole, without reload.

    Butlr's topology is the account's current rooms: a room taken out (sensors
    moved for a refit, say) and put back is the same room id again.
    """
    rooms = await _set_up_first_floor(hass, butlr_scenario, butlr_entry)
    focus = next(room for room in rooms if room.id == "room_focus")
    rooms.remove(focus)
    await _hours(hass, freezer, 25)
    assert find_device(hass, butlr_entry, "room_focus") is None
    assert entity_registry.async_get("sensor.focus_room_occupancy") is None

    focus.sensors[0].people = 2
    rooms.append(focus)
    await poll(hass, freezer, 3600)
    device = find_device(hass, butlr_entry, "room_focus")
    assert device is not None
    assert device.name == "Focus room"
    assert device.via_device_id == find_device(hass, butlr_entry, "space_f1").id
    assert hass.states.get("sensor.focus_room_occupancy").state == "2"
    assert hass.states.get("sensor.focus_room_activity").state == "occupied"
    assert hass.states.get("binary_sensor.focus_room_occupied").state == "on"
    # Its disabled diagnostic sensor is registered again too.
    capacity = entity_registry.async_get("sensor.focus_room_capacity")
    assert capacity is not None
    assert capacity.device_id == device.id


async def test_space_whose_device_the_user_deleted_returns(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    """The user deletes the device of a vanished room; the room comes back whole."""
    rooms = await _set_up_first_floor(hass, butlr_scenario, butlr_entry)
    focus = next(room for room in rooms if room.id == "room_focus")
    rooms.remove(focus)
    await poll(hass, freezer, 3600)
    device = find_device(hass, butlr_entry, "room_focus")
    assert await async_remove_config_entry_device(hass, butlr_entry, device)
    # What Home Assistant does once the integration agreed.
    device_registry.async_remove_device(device.id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.focus_room_occupancy") is None

    focus.sensors[0].people = 1
    rooms.append(focus)
    await poll(hass, freezer, 3600)
    device = find_device(hass, butlr_entry, "room_focus")
    assert device is not None
    assert (device.name, device.model) == ("Focus room", "Room")
    assert hass.states.get("sensor.focus_room_occupancy").state == "1"


async def test_renamed_space_renames_its_device(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A name changed at the provider reaches the device; the user's own name stays."""
    await setup_entry(hass, butlr_entry)
    butlr_scenario.expires_in = 100_000
    floor = butlr_scenario.sites[0].buildings[0].floors[0]
    meeting = find_device(hass, butlr_entry, "room_meeting")
    device_registry.async_update_device(meeting.id, name_by_user="Board room")
    floor.name = "Ground floor"
    floor.rooms[0].name = "Meeting room A"
    floor.rooms[1].name = "Quiet room"

    await poll(hass, freezer, 3600)  # the topology is re-read hourly
    assert find_device(hass, butlr_entry, "space_f1").name == "Ground floor"
    meeting = find_device(hass, butlr_entry, "room_meeting")
    assert (meeting.name, meeting.name_by_user) == ("Meeting room A", "Board room")
    assert find_device(hass, butlr_entry, "room_focus").name == "Quiet room"
    # Entity names follow the device's; entity ids stay, so automations keep working.
    occupancy = hass.states.get("sensor.focus_room_occupancy")
    assert occupancy.attributes["friendly_name"] == "Quiet room Occupancy"
    board = hass.states.get("sensor.meeting_room_occupancy")
    assert board.attributes["friendly_name"] == "Board room Occupancy"
