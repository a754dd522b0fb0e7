"""Areas and floors for the picked rooms (an option offered when the entry is created).

Each picked room (Butlr room, Occuspace leaf location, Concordia library) goes
into a Home Assistant area of its name; where the provider has floors (Butlr),
those areas go on a Home Assistant floor of the floor's name. Existing areas
and floors of the same name are reused; a device the user moved stays where
the user put it; a renamed space does not move its device; turning the option
off leaves areas alone.
"""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    floor_registry as fr,
)
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.space_occupancy.const import (
    AUTH_BUTLR_ACCOUNT,
    AUTH_CONCORDIA,
    AUTH_OCCUSPACE,
    CONF_AREAS,
    CONF_SPACES,
    CONF_THRESHOLD_HIGH,
    CONF_THRESHOLD_LOW,
    CONF_THRESHOLD_MODERATE,
)

from .conftest import NOW, SimulatorServer, poll, setup_entry
from .selection_helpers import answer_spaces, devices_by_space, start_flow
from .simulator import concordia
from .simulator.butlr import ButlrFloor, ButlrRoom, ButlrScenario, ButlrSensor
from .simulator.occuspace import SEED_TOKEN, OccuspaceLocation, OccuspaceScenario

ROOMS = {
    "room_meeting": "Meeting room",
    "room_focus": "Focus room",
    "room_cafeteria": "Cafeteria",
}


def _area_names(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, str | None]:
    """Each of the entry's devices' area name, by space."""
    areas = ar.async_get(hass)
    return {
        space_id: (
            None
            if device.area_id is None
            else areas.async_get_area(device.area_id).name  # type: ignore[union-attr]
        )
        for space_id, device in devices_by_space(hass, entry).items()
    }


def _floor_of_area(hass: HomeAssistant, name: str) -> str | None:
    area = ar.async_get(hass).async_get_area_by_name(name)
    assert area is not None, name
    if area.floor_id is None:
        return None
    floor = fr.async_get(hass).async_get_floor(area.floor_id)
    assert floor is not None
    return floor.name


async def _butlr_entry_with_areas(
    hass: HomeAssistant, simulator: SimulatorServer, areas: bool = True
) -> MockConfigEntry:
    result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
    result = await answer_spaces(hass, result, areas=areas)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    return result["result"]


async def _set_areas_option(
    hass: HomeAssistant, entry: MockConfigEntry, on: bool
) -> None:
    """Turn the areas switch of the options' settings on or off."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    user_input = {
        key: value
        for key, value in result["data_schema"]({}).items()
        if key
        in (
            CONF_SCAN_INTERVAL,
            CONF_THRESHOLD_LOW,
            CONF_THRESHOLD_MODERATE,
            CONF_THRESHOLD_HIGH,
        )
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**user_input, CONF_AREAS: on}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_butlr_rooms_go_into_areas_on_their_floor(
    hass: HomeAssistant, simulator: SimulatorServer, butlr_scenario: ButlrScenario
) -> None:
    """Rooms in areas of their name, on a floor named after theirs; roll-ups in none."""
    entry = await _butlr_entry_with_areas(hass, simulator)
    assert entry.options[CONF_AREAS] is True
    assert _area_names(hass, entry) == {
        "site_hq": None,
        "building_main": None,
        "space_f1": None,
        **ROOMS,
    }
    for name in ROOMS.values():
        assert _floor_of_area(hass, name) == "First floor"
    floors = list(fr.async_get(hass).async_list_floors())
    assert [floor.name for floor in floors] == ["First floor"]
    # Butlr's data has no floor level.
    assert floors[0].level is None


async def test_existing_areas_and_floors_of_the_same_name_are_reused(
    hass: HomeAssistant, simulator: SimulatorServer, butlr_scenario: ButlrScenario
) -> None:
    """The user's "Meeting room" area and "First floor" floor are used, not doubled."""
    floor = fr.async_get(hass).async_create("First floor", level=1)
    mine = ar.async_get(hass).async_create("Meeting room")
    entry = await _butlr_entry_with_areas(hass, simulator)
    device = devices_by_space(hass, entry)["room_meeting"]
    assert device.area_id == mine.id
    assert len(fr.async_get(hass).async_list_floors()) == 1
    focus = ar.async_get(hass).async_get_area_by_name("Focus room")
    assert focus is not None
    assert focus.floor_id == floor.floor_id
    assert [area.name for area in ar.async_get(hass).async_list_areas()].count(
        "Meeting room"
    ) == 1


async def test_a_moved_device_stays_and_a_renamed_space_does_not_move(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The user's area choice wins over every later sync; renames move nothing."""
    entry = await _butlr_entry_with_areas(hass, simulator)
    kitchen = ar.async_get(hass).async_create("Kitchen")
    devices = dr.async_get(hass)
    meeting = devices_by_space(hass, entry)["room_meeting"]
    devices.async_update_device(meeting.id, area_id=kitchen.id)

    rooms = butlr_scenario.sites[0].buildings[0].floors[0].rooms
    rooms[1].name = "Quiet room"  # the Focus room, renamed at Butlr
    await poll(hass, freezer, 3600)  # the hourly topology refresh
    await poll(hass, freezer, 60)
    names = _area_names(hass, entry)
    assert names["room_meeting"] == "Kitchen"
    assert names["room_focus"] == "Focus room"
    assert devices_by_space(hass, entry)["room_focus"].name == "Quiet room"
    assert ar.async_get(hass).async_get_area_by_name("Quiet room") is None

    # Turning the option off and on again leaves placed devices where they are.
    await _set_areas_option(hass, entry, on=False)
    await _set_areas_option(hass, entry, on=True)
    assert _area_names(hass, entry)["room_meeting"] == "Kitchen"


async def test_turning_the_option_off_leaves_areas_and_on_places_the_rest(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Off: placed devices stay, new ones get none. On: the unplaced rooms are placed."""
    entry = await _butlr_entry_with_areas(hass, simulator)
    await _set_areas_option(hass, entry, on=False)
    assert entry.options[CONF_AREAS] is False
    assert _area_names(hass, entry)["room_meeting"] == "Meeting room"

    floor = butlr_scenario.sites[0].buildings[0].floors[0]
    floor.rooms.append(
        ButlrRoom("room_new", "New room", sensors=[ButlrSensor("0a", "presence")])
    )
    await poll(hass, freezer, 3600)
    assert _area_names(hass, entry)["room_new"] is None
    assert ar.async_get(hass).async_get_area_by_name("New room") is None

    await _set_areas_option(hass, entry, on=True)
    assert _area_names(hass, entry)["room_new"] == "New room"
    assert _floor_of_area(hass, "New room") == "First floor"


async def test_no_areas_when_the_option_is_off_at_creation(
    hass: HomeAssistant, simulator: SimulatorServer, butlr_scenario: ButlrScenario
) -> None:
    """Declined when the entry is created: no area, no floor."""
    entry = await _butlr_entry_with_areas(hass, simulator, areas=False)
    assert set(_area_names(hass, entry).values()) == {None}
    assert list(ar.async_get(hass).async_list_areas()) == []
    assert list(fr.async_get(hass).async_list_floors()) == []


async def test_rooms_of_the_same_name_on_two_floors_get_areas_of_their_own(
    hass: HomeAssistant, simulator: SimulatorServer, butlr_scenario: ButlrScenario
) -> None:
    """Two "Meeting room"s on two floors: two areas, each on its floor."""
    building = butlr_scenario.sites[0].buildings[0]
    building.floors.append(
        ButlrFloor(
            "space_f2",
            "Second floor",
            rooms=[
                ButlrRoom(
                    "room_meeting_2",
                    "Meeting room",
                    sensors=[ButlrSensor("0b", "presence")],
                )
            ],
        )
    )
    entry = await _butlr_entry_with_areas(hass, simulator)
    names = _area_names(hass, entry)
    assert names["room_meeting"] == "Meeting room"
    assert names["room_meeting_2"] == "Meeting room (Second floor)"
    assert _floor_of_area(hass, "Meeting room (Second floor)") == "Second floor"
    assert _floor_of_area(hass, "Meeting room") == "First floor"


async def test_an_existing_area_named_with_its_floor_is_reused(
    hass: HomeAssistant, simulator: SimulatorServer, butlr_scenario: ButlrScenario
) -> None:
    """The second floor's "Meeting room (Second floor)" area, already there, is used."""
    butlr_scenario.sites[0].buildings[0].floors.append(
        ButlrFloor(
            "space_f2",
            "Second floor",
            rooms=[
                ButlrRoom(
                    "room_meeting_2",
                    "Meeting room",
                    sensors=[ButlrSensor("0b", "presence")],
                )
            ],
        )
    )
    first = fr.async_get(hass).async_create("First floor")
    ar.async_get(hass).async_create("Meeting room", floor_id=first.floor_id)
    theirs = ar.async_get(hass).async_create("Meeting room (Second floor)")
    entry = await _butlr_entry_with_areas(hass, simulator)
    assert devices_by_space(hass, entry)["room_meeting_2"].area_id == theirs.id
    assert len(list(ar.async_get(hass).async_list_areas())) == 4


async def test_occuspace_leaf_locations_get_areas_without_floors(
    hass: HomeAssistant, simulator: SimulatorServer, freezer: FrozenDateTimeFactory
) -> None:
    """Occuspace has no floors: leaf locations get areas, parents none, no HA floor."""
    freezer.move_to(NOW)
    simulator.occuspace = OccuspaceScenario(
        locations=[
            OccuspaceLocation(1, "Campus", None, 0),
            OccuspaceLocation(2, "Library", 1, 100),
            OccuspaceLocation(3, "Reading room", 2, 40, count=3),
            OccuspaceLocation(4, "Stacks", 2, 40, count=1),
        ],
        tokens={SEED_TOKEN},
    )
    result = await start_flow(hass, AUTH_OCCUSPACE, simulator.base_url)
    result = await answer_spaces(hass, result, areas=True)
    entry = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _area_names(hass, entry) == {
        "1": None,
        "2": None,
        "3": "Reading room",
        "4": "Stacks",
    }
    assert list(fr.async_get(hass).async_list_floors()) == []


async def test_concordia_libraries_get_areas(
    hass: HomeAssistant, simulator: SimulatorServer, freezer: FrozenDateTimeFactory
) -> None:
    """Each picked library in an area of its name; unpicked ones make no area."""
    freezer.move_to(NOW)
    simulator.concordia = concordia.seed_scenario(NOW)
    result = await start_flow(hass, AUTH_CONCORDIA, simulator.base_url)
    result = await answer_spaces(hass, result, ["Webster", "Vanier"], areas=True)
    entry = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.options[CONF_SPACES] == ["Webster", "Vanier"]
    assert _area_names(hass, entry) == {
        "Webster": "Webster Library",
        "Vanier": "Vanier Library",
    }
    assert [area.name for area in ar.async_get(hass).async_list_areas()] == [
        "Webster Library",
        "Vanier Library",
    ]


async def test_existing_entry_keeps_its_devices_where_they_are(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """An entry from before the option has it off: its devices are not moved."""
    await setup_entry(hass, butlr_entry)
    assert set(_area_names(hass, butlr_entry).values()) == {None}


async def test_areas_do_not_change_entity_ids(
    hass: HomeAssistant, simulator: SimulatorServer, butlr_scenario: ButlrScenario
) -> None:
    """A room's entity ids are the same with the areas option on as off."""
    entry = await _butlr_entry_with_areas(hass, simulator)
    assert _area_names(hass, entry)["room_meeting"] == "Meeting room"
    assert hass.states.get("sensor.meeting_room_occupancy") is not None
