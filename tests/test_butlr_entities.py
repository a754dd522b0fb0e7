"""What Home Assistant shows of Butlr's sensor health, calibrated occupancy and zones.

Sensor health (butlr-push.md §5.1): per room, a problem binary sensor that is
on while a sensor is offline or a battery is overdue (``battery_change_by_date``
passed), the next battery change, the offline sensors and the last heartbeat.
Traffic rooms show Butlr's calibrated occupancy unless the entry chose the
door-line count. Zones (§5.2) are spaces with the entities of rooms.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.space_occupancy.changes import Changes, changes_between
from custom_components.space_occupancy.const import CONF_DOOR_LINE_COUNT
from custom_components.space_occupancy.picking import AccountSpaces
from custom_components.space_occupancy.providers import (
    Reading,
    Snapshot,
    Space,
    SpaceKind,
)
from custom_components.space_occupancy.providers.models import SensorHealth
from custom_components.space_occupancy.providers.selection import PATH_SEPARATOR

from .conftest import NOW, find_device, poll, setup_entry
from .simulator.butlr import ButlrScenario, ButlrZone
from .test_butlr_answer_shapes import point


async def test_health_entities_of_a_room(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """The problem sensor is on by default; the rest not (each costs against the cap)."""
    await setup_entry(hass, butlr_entry)
    assert (
        hass.states.get("binary_sensor.meeting_room_sensor_problem").state == STATE_OFF
    )
    for entity_id in (
        "sensor.meeting_room_battery_change_due",
        "sensor.meeting_room_sensors_offline",
        "sensor.meeting_room_last_heartbeat",
    ):
        entry = entity_registry.async_get(entity_id)
        assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    # Floors and zones have no sensor health of their own.
    assert hass.states.get("binary_sensor.first_floor_sensor_problem") is None


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_the_next_battery_change_of_a_room(
    hass: HomeAssistant, butlr_scenario: ButlrScenario, butlr_entry: MockConfigEntry
) -> None:
    """The earliest change-by date of the room's battery sensors; none when wired."""
    await setup_entry(hass, butlr_entry)
    # Two battery sensors: the earlier date is the room's.
    due = hass.states.get("sensor.meeting_room_battery_change_due")
    assert due.state == (NOW + timedelta(days=20)).isoformat()
    # A wired sensor has no battery date: unknown, not unavailable.
    assert hass.states.get("sensor.cafeteria_battery_change_due").state == STATE_UNKNOWN


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_an_offline_sensor_and_an_overdue_battery(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A sensor offline at the hourly refresh: a problem, and the room's count is gone.

    Its health entities stay available: they are the point when data stops.
    A battery's date passing is a problem from the next poll on.
    """
    butlr_scenario.expires_in = 10_000_000
    await setup_entry(hass, butlr_entry)
    focus = butlr_scenario.sites[0].buildings[0].floors[0].rooms[1]
    focus.sensors[0].is_online = False
    await poll(hass, freezer, 3600)
    assert hass.states.get("binary_sensor.focus_room_sensor_problem").state == STATE_ON
    assert hass.states.get("sensor.focus_room_sensors_offline").state == "1"
    assert hass.states.get("sensor.focus_room_occupancy").state == STATE_UNAVAILABLE
    assert (
        hass.states.get("binary_sensor.focus_room_occupied").state == STATE_UNAVAILABLE
    )
    assert hass.states.get("sensor.focus_room_last_heartbeat").state == STATE_UNKNOWN
    assert (
        hass.states.get("sensor.meeting_room_last_heartbeat").state
        == (NOW - timedelta(minutes=2)).isoformat()
    )

    assert (
        hass.states.get("binary_sensor.meeting_room_sensor_problem").state == STATE_OFF
    )
    freezer.move_to(NOW + timedelta(days=20))
    await poll(hass, freezer, 1)
    assert (
        hass.states.get("binary_sensor.meeting_room_sensor_problem").state == STATE_ON
    )


def test_a_change_of_health_wakes_the_room() -> None:
    """Health that changed (or came, or went) wakes that room's entities only."""
    room = Space("r1", "Room", SpaceKind.ROOM)
    other = Space("r2", "Other", SpaceKind.ROOM)
    spaces = {"r1": room, "r2": other}
    readings = {"r1": Reading(occupancy=1), "r2": Reading(occupancy=1)}
    healthy = SensorHealth(sensors=2, offline=0)
    before = Snapshot(spaces, readings, NOW, {"r1": healthy, "r2": healthy})
    after = Snapshot(
        spaces, readings, NOW, {"r1": SensorHealth(sensors=2, offline=1), "r2": healthy}
    )
    assert changes_between(before, after) == Changes(frozenset({"r1"}), frozenset())
    gone = Snapshot(spaces, readings, NOW, {"r1": healthy})
    assert changes_between(before, gone).spaces == {"r2"}
    assert changes_between(before, before).spaces == set()


async def test_the_door_line_count_option_applies_at_once(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """Calibrated by default; the option shows in minus out, without a reload."""
    # Butlr's calibrated series says 9 people; the door lines say 7 in, 2 out.
    butlr_scenario.series_payload = {
        "data": [
            point(9, NOW - timedelta(minutes=1), room_id="room_cafeteria"),
        ]
    }
    await setup_entry(hass, butlr_entry)
    assert hass.states.get("sensor.cafeteria_occupancy").state == "9"
    assert hass.states.get("sensor.cafeteria_entries_today").state == "7"

    result = await hass.config_entries.options.async_init(butlr_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    defaults: dict[str, Any] = result["data_schema"]({})
    assert defaults[CONF_DOOR_LINE_COUNT] is False
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**defaults, CONF_DOOR_LINE_COUNT: True}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get("sensor.cafeteria_occupancy").state == "5"
    assert hass.states.get("sensor.cafeteria_entries_today").state == "7"
    assert butlr_entry.runtime_data.client.diagnostics()["traffic_rooms_show"] == (
        "door-line count"
    )


async def test_zones_are_spaces_of_their_own(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A zone gets a device under its room or floor, the entities of a room, no sum."""
    first_floor = butlr_scenario.sites[0].buildings[0].floors[0]
    first_floor.zones = [
        ButlrZone("zone_sofa", "Sofa corner", room_id="room_cafeteria", capacity=4),
        ButlrZone("zone_window", "Window desks"),
    ]
    butlr_scenario.series_payload = {
        "data": {
            "zone_sofa": [point(3, zone_id="zone_sofa", measurement="zone_occupancy")],
            "zone_window": [point(2, zone_id="zone_window")],
        }
    }
    await setup_entry(hass, butlr_entry)
    sofa = find_device(hass, butlr_entry, "zone_sofa")
    window = find_device(hass, butlr_entry, "zone_window")
    assert sofa.model == "Zone"
    assert sofa.via_device_id == find_device(hass, butlr_entry, "room_cafeteria").id
    assert window.via_device_id == find_device(hass, butlr_entry, "space_f1").id
    assert hass.states.get("sensor.sofa_corner_occupancy").state == "3"
    assert hass.states.get("sensor.sofa_corner_occupancy_percentage").state == "75.0"
    assert hass.states.get("sensor.sofa_corner_activity").state == "high"
    assert hass.states.get("binary_sensor.window_desks_occupied").state == STATE_ON
    assert hass.states.get("binary_sensor.sofa_corner_sensor_problem") is None
    # The floor holds its rooms' 8 people, not 8 + 3 + 2.
    assert hass.states.get("sensor.first_floor_occupancy").state == "8"
    assert hass.states.get("sensor.cafeteria_occupancy").state == "5"
    # Pickable like rooms, by their path.
    spaces = AccountSpaces.of(butlr_entry.runtime_data.last_snapshot())
    assert {"zone_sofa", "zone_window"} <= set(spaces.pickable())
    assert spaces.label("zone_sofa").endswith(
        PATH_SEPARATOR.join(("Cafeteria", "Sofa corner"))
    )
    # Picking the cafeteria brings its zone along.
    assert "zone_sofa" in spaces.shown_of(["room_cafeteria"])
