"""Choosing the spaces an entry shows: the form, what picks cost in requests, re-picking.

The issue's requirements: after the credentials (and from reconfigure and the
options) a step lists the account's tree by path; picking a parent brings its
children, now and later; unpicked spaces get no device, no entity and no
request where the API allows (Occuspace asks ``now`` only for the picked
locations' parents, Butlr's reports are filtered to the picked rooms) while the
hourly topology refresh still reads the whole account; a new selection applies
without a restart; one account may be split over entries with disjoint
selections, whose unique ids say which part each holds.
"""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_RECONFIGURE, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.space_occupancy.const import (
    AUTH_BUTLR_ACCOUNT,
    AUTH_CONCORDIA,
    AUTH_OCCUSPACE,
    CONF_ACCOUNT_KEY,
    CONF_AREAS,
    CONF_SPACES,
    DOMAIN,
)
from custom_components.space_occupancy.forms import check_picks
from custom_components.space_occupancy.picking import AccountSpaces, part_unique_id
from custom_components.space_occupancy.providers import (
    Reading,
    Snapshot,
    Space,
    SpaceKind,
)
from custom_components.space_occupancy.providers.selection import (
    PATH_SEPARATOR,
    Expansion,
    expand,
    ordered_space_ids,
    space_path,
)

from .conftest import NOW, SimulatorServer, poll, setup_entry
from .selection_helpers import (
    ROOM_KEYS,
    STRINGS,
    answer_spaces,
    assert_spaces_form,
    default_picks,
    devices_by_space,
    enabled_entities,
    keys_by_space,
    offered,
    open_options_spaces,
    start_flow,
)
from .simulator import Fault, concordia
from .simulator.butlr import ACCOUNT, ButlrRoom, ButlrScenario, ButlrSensor, paris_lobby
from .simulator.occuspace import SEED_TOKEN, OccuspaceLocation, OccuspaceScenario

BUTLR_KEY = f"butlr_{ACCOUNT[0]}"
DEMO_SHOWN = [
    "site_hq",
    "building_main",
    "space_f1",
    "room_meeting",
    "room_focus",
    "room_cafeteria",
]
DEMO_ROOMS = {"room_meeting", "room_focus", "room_cafeteria"}


def _path(*names: str) -> str:
    return PATH_SEPARATOR.join(names)


def _butlr_reports(
    simulator: SimulatorServer, measurement: str, since: int = 0
) -> list[dict]:
    """The live (not history) report bodies of one measurement, in order."""
    return [
        body
        for body in simulator.butlr.report_bodies[since:]
        if body["filter"]["measurements"] == [measurement]
        and body["group_by"]["order"][-1] != "time"
    ]


# --- The selection itself ------------------------------------------------------

TREE = {
    "s": Space("s", "Site", SpaceKind.SITE),
    "b": Space("b", "Building", SpaceKind.BUILDING, parent_id="s"),
    "f1": Space("f1", "Floor 1", SpaceKind.FLOOR, parent_id="b"),
    "f2": Space("f2", "Floor 2", SpaceKind.FLOOR, parent_id="b"),
    "r1": Space("r1", "Room 1", SpaceKind.ROOM, parent_id="f1", capacity=4),
    "r2": Space("r2", "Room 1", SpaceKind.ROOM, parent_id="f2"),
    "r3": Space("r3", "Room 3", SpaceKind.ROOM, parent_id="f2", counts_traffic=True),
}


def _account(
    held: frozenset[str] = frozenset(), shown: set[str] | None = None
) -> AccountSpaces:
    readings = {space_id: Reading(occupancy=0) for space_id in shown or TREE}
    return AccountSpaces.of(Snapshot(TREE, readings, NOW), held)


def test_picking_a_parent_brings_everything_below_it() -> None:
    """A picked floor brings its rooms; none picks everything; unknown ids pick nothing."""
    assert expand(TREE, ["f2"]) == {"f2", "r2", "r3"}
    assert expand(TREE, ["b"]) == {"b", "f1", "f2", "r1", "r2", "r3"}
    assert expand(TREE, ["r1", "f2"]) == {"r1", "f2", "r2", "r3"}
    assert expand(TREE, None) is None
    assert expand(TREE, ["gone"]) == frozenset()
    # A room that comes later under a picked floor is picked too.
    grown = {**TREE, "r4": Space("r4", "Room 4", SpaceKind.ROOM, parent_id="f1")}
    assert expand(grown, ["f1"]) == {"f1", "r1", "r4"}


def test_an_expansion_is_kept_while_the_tree_and_picks_stay() -> None:
    """A client's polls expand their picks once per topology, not once per poll."""
    expansion = Expansion()
    first = expansion(TREE, ["f2"])
    assert first == {"f2", "r2", "r3"}
    assert expansion(TREE, ("f2",)) is first  # The same picks: not walked again.
    assert expansion(TREE, ["f1"]) == {"f1", "r1"}
    assert expansion(TREE, None) is None
    # A new topology (a new mapping) is walked again, its new rooms picked.
    grown = {**TREE, "r4": Space("r4", "Room 4", SpaceKind.ROOM, parent_id="f2")}
    assert expansion(grown, ["f2"]) == {"f2", "r2", "r3", "r4"}


def test_spaces_are_listed_parents_first_by_path() -> None:
    """Paths tell rooms of the same name apart; parents come before their children."""
    assert ordered_space_ids(TREE) == ["s", "b", "f1", "r1", "f2", "r2", "r3"]
    assert space_path(TREE, "r1") == _path("Site", "Building", "Floor 1", "Room 1")
    assert space_path(TREE, "r2") == _path("Site", "Building", "Floor 2", "Room 1")
    # A parent cycle neither loops nor loses a space.
    cycle = {
        "a": Space("a", "A", SpaceKind.LOCATION, parent_id="c"),
        "c": Space("c", "C", SpaceKind.LOCATION, parent_id="a"),
        "top": Space("top", "Top", SpaceKind.LOCATION),
    }
    assert ordered_space_ids(cycle) == ["top", "a", "c"]
    assert space_path(cycle, "a") == _path("C", "A")
    account = AccountSpaces.of(
        Snapshot(cycle, {space_id: Reading(0) for space_id in cycle}, NOW)
    )
    assert account.pickable() == ["top", "a", "c"]
    assert account.stored(["a"]) == ["a"]


def test_whole_account_is_stored_as_everything_else_the_fewest_ids() -> None:
    """All of an unsplit account is "everything"; a picked child under a picked parent adds nothing."""
    account = _account()
    assert account.stored(["s"]) is None
    assert account.stored(["f1", "f2"]) == ["f1", "f2"]
    assert account.stored(["r3", "f2", "r1"]) == ["r1", "f2"]
    assert part_unique_id("butlr_x", None) == "butlr_x"
    assert part_unique_id("butlr_x", ["f2", "f1"]) == "butlr_x/f1+f2"


def test_spaces_another_entry_holds_are_not_offered() -> None:
    """Neither the held spaces nor their parents (which would bring them) are offered."""
    account = _account(held=frozenset({"f1", "r1"}))
    assert account.pickable() == ["f2", "r2", "r3"]
    # A split account is never stored as "everything".
    assert account.stored(["f2"]) == ["f2"]
    assert check_picks(account, ["f2"], {}) == ({}, {})
    assert check_picks(account, ["b"], {}) == ({CONF_SPACES: "spaces_overlap"}, {})
    assert check_picks(account, ["r1"], {}) == ({CONF_SPACES: "spaces_overlap"}, {})
    assert check_picks(account, [], {}) == ({CONF_SPACES: "no_spaces_picked"}, {})


# --- The form after the credentials -------------------------------------------


async def test_spaces_step_lists_the_account_by_path(
    hass: HomeAssistant, simulator: SimulatorServer, butlr_scenario: ButlrScenario
) -> None:
    """Sites, buildings, floors, rooms: parents first, the whole account picked."""
    result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
    assert_spaces_form(result)
    floor = ("HQ", "Main building", "First floor")
    assert offered(result) == {
        "site_hq": "HQ",
        "building_main": _path("HQ", "Main building"),
        "space_f1": _path(*floor),
        "room_meeting": _path(*floor, "Meeting room"),
        "room_focus": _path(*floor, "Focus room"),
        "room_cafeteria": _path(*floor, "Cafeteria"),
    }
    # A room without sensors has no reading: nothing to pick.
    assert "room_storage" not in offered(result)
    assert default_picks(result) == ["site_hq"]
    assert result["data_schema"]({})[CONF_AREAS] is True
    assert result["description_placeholders"]["spaces"] == "6"


async def test_a_picked_room_alone_gets_a_device_and_reports_ask_for_it(
    hass: HomeAssistant, simulator: SimulatorServer, butlr_scenario: ButlrScenario
) -> None:
    """One room picked: its device and entities only; the reports name that room."""
    result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
    # The flow read the whole account; the entry's own polls start here.
    since = len(butlr_scenario.report_bodies)
    result = await answer_spaces(hass, result, ["room_meeting"], areas=False)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.options == {CONF_AREAS: False, CONF_SPACES: ["room_meeting"]}
    assert entry.unique_id == f"{BUTLR_KEY}/room_meeting"
    assert entry.data[CONF_ACCOUNT_KEY] == BUTLR_KEY
    assert entry.title == (
        f"Butlr ({ACCOUNT[0]}): "
        + _path("HQ", "Main building", "First floor", "Meeting room")
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert set(devices_by_space(hass, entry)) == {"room_meeting"}
    keys = keys_by_space(hass, entry, DEMO_SHOWN)
    assert keys["room_meeting"] == ROOM_KEYS | {"occupancy_percentage"}
    assert len(enabled_entities(hass, entry)) == 7
    presence = _butlr_reports(simulator, "presence", since)
    assert [body["filter"]["rooms"] for body in presence] == [{"eq": ["room_meeting"]}]
    # The only traffic room is not picked: no traffic report at all.
    assert _butlr_reports(simulator, "traffic", since) == []


async def test_a_picked_traffic_room_alone_is_the_only_one_reported(
    hass: HomeAssistant, simulator: SimulatorServer, butlr_scenario: ButlrScenario
) -> None:
    """The traffic report is filtered to the picked rooms; no presence report is needed."""
    result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
    result = await answer_spaces(hass, result, ["room_cafeteria"], areas=False)
    entry = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    butlr_scenario.report_bodies.clear()
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    traffic = _butlr_reports(simulator, "traffic")
    assert [body["filter"]["rooms"] for body in traffic] == [{"eq": ["room_cafeteria"]}]
    assert _butlr_reports(simulator, "presence") == []
    assert set(devices_by_space(hass, entry)) == {"room_cafeteria"}
    state = hass.states.get("sensor.cafeteria_entries_today")
    assert state is not None
    assert state.state == "7"


async def test_the_whole_account_is_reported_unfiltered(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """With everything picked the reports need no room filter (as before)."""
    await setup_entry(hass, butlr_entry)
    presence = _butlr_reports(simulator, "presence")
    assert presence
    assert "rooms" not in presence[-1]["filter"]
    assert set(devices_by_space(hass, butlr_entry)) == set(DEMO_SHOWN)


async def test_a_picked_floor_brings_its_rooms_now_and_later(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A floor picked: itself and its rooms; a room added later comes too.

    The hourly topology refresh reads the whole account (another site's rooms
    too), while the reports ask for the picked floor's rooms only.
    """
    butlr_scenario.sites.append(paris_lobby())
    result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
    assert "room_lobby" in offered(result)
    result = await answer_spaces(hass, result, ["space_f1"], areas=False)
    entry = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    assert set(devices_by_space(hass, entry)) == {"space_f1", *DEMO_ROOMS}
    assert "rooms" in _butlr_reports(simulator, "presence")[-1]["filter"]
    assert _butlr_reports(simulator, "traffic")[-1]["filter"]["rooms"] == {
        "eq": ["room_cafeteria"]
    }

    floor = butlr_scenario.sites[0].buildings[0].floors[0]
    floor.rooms.append(
        ButlrRoom(
            "room_new",
            "New room",
            capacity=4,
            sensors=[ButlrSensor("00-09", "presence", people=1)],
        )
    )
    graphql_before = len(simulator.requests_to("/api/v3/graphql"))
    await poll(hass, freezer, 3600)
    assert len(simulator.requests_to("/api/v3/graphql")) > graphql_before
    snapshot = entry.runtime_data.last_snapshot()
    assert snapshot is not None
    # The whole account is known; the picked part alone is read.
    assert {"site_paris", "room_lobby", "room_new"} <= snapshot.spaces.keys()
    assert set(snapshot.readings) == {"space_f1", *DEMO_ROOMS, "room_new"}
    presence_rooms = _butlr_reports(simulator, "presence")[-1]["filter"]["rooms"]
    assert sorted(presence_rooms["eq"]) == ["room_focus", "room_meeting", "room_new"]
    assert set(devices_by_space(hass, entry)) == {"space_f1", *DEMO_ROOMS, "room_new"}
    keys = keys_by_space(hass, entry, ["room_new"])
    assert keys["room_new"] == ROOM_KEYS | {"occupancy_percentage"}
    assert hass.states.get("sensor.new_room_occupancy").state == "1"


# --- Occuspace and Concordia ----------------------------------------------------


def _campus() -> OccuspaceScenario:
    """A campus of two buildings: North (N1, N2) and South (S1)."""
    return OccuspaceScenario(
        locations=[
            OccuspaceLocation(1, "Campus", None, 0),
            OccuspaceLocation(2, "North", 1, 100),
            OccuspaceLocation(3, "South", 1, 100),
            OccuspaceLocation(4, "N1", 2, 40, count=4),
            OccuspaceLocation(5, "N2", 2, 40, count=5),
            OccuspaceLocation(6, "S1", 3, 40, count=6),
        ],
        tokens={SEED_TOKEN},
    )


def _now_calls(simulator: SimulatorServer) -> list[str]:
    return sorted(
        path.split("/")[3]
        for path in simulator.occuspace.requests
        if path.endswith("/now")
    )


@pytest.mark.parametrize(
    ("picks", "calls", "devices"),
    [
        # A leaf is answered by its parent's call.
        (["4"], ["2"], {"4"}),
        (["4", "6"], ["2", "3"], {"4", "6"}),
        # A parent answers for itself and its leaves.
        (["2"], ["2"], {"2", "4", "5"}),
        # Everything: every location with children.
        (["1"], ["1", "2", "3"], {"1", "2", "3", "4", "5", "6"}),
    ],
)
async def test_occuspace_asks_now_only_for_the_picked_locations_parents(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    freezer: FrozenDateTimeFactory,
    picks: list[str],
    calls: list[str],
    devices: set[str],
) -> None:
    """Unpicked locations cost no ``now`` call, no device and no entity."""
    freezer.move_to(NOW)
    simulator.occuspace = _campus()
    result = await start_flow(hass, AUTH_OCCUSPACE, simulator.base_url)
    assert offered(result) == {
        "1": "Campus",
        "2": _path("Campus", "North"),
        "4": _path("Campus", "North", "N1"),
        "5": _path("Campus", "North", "N2"),
        "3": _path("Campus", "South"),
        "6": _path("Campus", "South", "S1"),
    }
    result = await answer_spaces(hass, result, picks, areas=False)
    entry = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    simulator.occuspace.requests.clear()
    await poll(hass, freezer, 120)
    assert _now_calls(simulator) == calls
    assert set(devices_by_space(hass, entry)) == devices
    assert set(keys_by_space(hass, entry, ["1", "2", "3", "4", "5", "6"])) >= devices
    for space_id, keys in keys_by_space(
        hass, entry, ["1", "2", "3", "4", "5", "6"]
    ).items():
        assert bool(keys) == (space_id in devices)


async def test_concordia_picked_libraries_only(
    hass: HomeAssistant, simulator: SimulatorServer, freezer: FrozenDateTimeFactory
) -> None:
    """Concordia's libraries are listed by name; an unpicked one gets nothing."""
    freezer.move_to(NOW)
    simulator.concordia = concordia.seed_scenario(NOW)
    result = await start_flow(hass, AUTH_CONCORDIA, simulator.base_url)
    assert set(offered(result)) == {"Webster", "Vanier", "GreyNuns"}
    result = await answer_spaces(hass, result, ["Webster"], areas=False)
    entry = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    assert set(devices_by_space(hass, entry)) == {"Webster"}
    assert entry.unique_id.endswith("/Webster")


# --- A new selection, without a restart ----------------------------------------


async def test_options_unpicking_removes_devices_at_once_without_reload(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """Narrowed in the options: the others' devices and entities go, no reload."""
    await setup_entry(hass, butlr_entry)
    runtime = butlr_entry.runtime_data
    result = await open_options_spaces(hass, butlr_entry)
    assert_spaces_form(result, flow="options")
    # Everything is picked: the form shows the top of the tree.
    assert default_picks(result) == ["site_hq"]
    result = await answer_spaces(hass, result, ["room_focus"], options_flow=True)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert butlr_entry.options[CONF_SPACES] == ["room_focus"]
    assert butlr_entry.unique_id == f"{BUTLR_KEY}/room_focus"
    assert butlr_entry.runtime_data is runtime  # not reloaded
    assert set(devices_by_space(hass, butlr_entry)) == {"room_focus"}
    assert set(keys_by_space(hass, butlr_entry, DEMO_SHOWN)["room_focus"]) == ROOM_KEYS
    assert len(enabled_entities(hass, butlr_entry)) == 6
    assert hass.states.get("sensor.meeting_room_occupancy") is None
    # The form opens on the current picks.
    result = await open_options_spaces(hass, butlr_entry)
    assert default_picks(result) == ["room_focus"]

    # Everything again: stored as the whole account, new sites come too.
    result = await answer_spaces(hass, result, ["site_hq"], options_flow=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert CONF_SPACES not in butlr_entry.options
    assert butlr_entry.unique_id == BUTLR_KEY
    assert set(devices_by_space(hass, butlr_entry)) == set(DEMO_SHOWN)
    assert len(enabled_entities(hass, butlr_entry)) == 40


async def test_options_picking_more_adds_devices_and_entities_without_reload(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """Widened in the options: the new spaces' devices and entities come at once."""
    hass.config_entries.async_update_entry(
        butlr_entry, options={CONF_SPACES: ["room_focus"]}
    )
    await setup_entry(hass, butlr_entry)
    assert set(devices_by_space(hass, butlr_entry)) == {"room_focus"}
    result = await open_options_spaces(hass, butlr_entry)
    result = await answer_spaces(
        hass, result, ["room_focus", "room_meeting"], options_flow=True
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert set(devices_by_space(hass, butlr_entry)) == {"room_focus", "room_meeting"}
    keys = keys_by_space(hass, butlr_entry, DEMO_SHOWN)
    assert keys["room_meeting"] == ROOM_KEYS | {"occupancy_percentage"}
    state = hass.states.get("sensor.meeting_room_occupancy")
    assert state is not None
    assert state.state == "3"


async def test_options_spaces_form_errors(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """Nothing picked is refused; an account that cannot be read aborts."""
    await setup_entry(hass, butlr_entry)
    result = await open_options_spaces(hass, butlr_entry)
    result = await answer_spaces(hass, result, [], options_flow=True)
    assert_spaces_form(result, {CONF_SPACES: "no_spaces_picked"}, flow="options")
    simulator.inject(Fault("/api/v3/reporting", status=500, times=3))
    result = await hass.config_entries.options.async_init(butlr_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "spaces"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


async def test_reconfigure_offers_the_current_picks_and_changes_them(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """Reconfigure ends on the spaces step: current picks shown, new ones stored."""
    hass.config_entries.async_update_entry(
        butlr_entry, options={CONF_SPACES: ["room_focus"]}
    )
    await setup_entry(hass, butlr_entry)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_RECONFIGURE, "entry_id": butlr_entry.entry_id},
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": AUTH_BUTLR_ACCOUNT}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            "username": ACCOUNT[0],
            "password": ACCOUNT[1],
            "advanced": {"base_url": simulator.base_url},
        },
    )
    assert_spaces_form(result)
    assert default_picks(result) == ["room_focus"]
    assert CONF_AREAS not in result["data_schema"].schema
    result = await answer_spaces(hass, result, ["space_f1"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert butlr_entry.options[CONF_SPACES] == ["space_f1"]
    assert butlr_entry.unique_id == f"{BUTLR_KEY}/space_f1"
    assert butlr_entry.state is ConfigEntryState.LOADED
    assert set(devices_by_space(hass, butlr_entry)) == {"space_f1", *DEMO_ROOMS}


# --- One account, several entries ---------------------------------------------


async def test_two_entries_split_one_account(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
) -> None:
    """A second entry is offered what the first does not hold; a third has nothing left."""
    butlr_scenario.sites.append(paris_lobby())
    result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
    first = (await answer_spaces(hass, result, ["site_hq"], areas=False))["result"]
    assert first.unique_id == f"{BUTLR_KEY}/site_hq"
    await hass.async_block_till_done(wait_background_tasks=True)

    result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
    assert_spaces_form(result)
    assert list(offered(result)) == [
        "site_paris",
        "building_site_paris",
        "space_site_paris",
        "room_lobby",
    ]
    assert default_picks(result) == ["site_paris"]
    second = (await answer_spaces(hass, result, areas=False))["result"]
    assert second.unique_id == f"{BUTLR_KEY}/site_paris"
    assert second.options[CONF_SPACES] == ["site_paris"]
    await hass.async_block_till_done(wait_background_tasks=True)
    first_devices = set(devices_by_space(hass, first))
    second_devices = set(devices_by_space(hass, second))
    assert first_devices == set(DEMO_SHOWN)
    assert second_devices == {
        "site_paris",
        "building_site_paris",
        "space_site_paris",
        "room_lobby",
    }
    # The same ids as one entry would have made: built on the account.
    registry = er.async_get(hass)
    assert registry.async_get_entity_id(
        "sensor", DOMAIN, f"{BUTLR_KEY}_room_lobby_occupancy"
    )

    result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"

    # Each entry's options offer its own part and what nobody holds, never the other's.
    result = await open_options_spaces(hass, second)
    assert set(offered(result)) == set(second_devices)


async def test_an_entry_of_the_whole_account_leaves_nothing_to_add(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """Adding an account a whole-account entry holds aborts: already configured."""
    await setup_entry(hass, butlr_entry)
    result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_an_entry_whose_picks_vanished_still_splits_the_account(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
) -> None:
    """A second entry beside one holding nothing now (its room gone) stays a part.

    Were it stored as the whole account, the two would overlap once the room
    comes back: both would build the same device and entity ids.
    """
    first = MockConfigEntry(
        domain=DOMAIN,
        title="First part",
        unique_id=f"{BUTLR_KEY}/room_gone",
        version=2,
        minor_version=2,
        data={CONF_ACCOUNT_KEY: BUTLR_KEY, "provider": "butlr"},
        options={CONF_SPACES: ["room_gone"]},
    )
    first.add_to_hass(hass)
    result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
    assert default_picks(result) == ["site_hq"]
    result = await answer_spaces(hass, result, areas=False)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    second = result["result"]
    assert second.options[CONF_SPACES] == ["site_hq"]
    assert second.unique_id == f"{BUTLR_KEY}/site_hq"


async def test_options_offer_nothing_when_a_sibling_holds_everything(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """An entry whose sibling holds the whole account cannot pick: it would overlap."""
    hass.config_entries.async_update_entry(
        butlr_entry,
        unique_id=f"{BUTLR_KEY}/room_focus",
        data={**butlr_entry.data, CONF_ACCOUNT_KEY: BUTLR_KEY},
        options={CONF_SPACES: ["room_focus"]},
        minor_version=2,
    )
    whole = MockConfigEntry(
        domain=DOMAIN,
        title="Whole",
        unique_id=BUTLR_KEY,
        version=2,
        minor_version=2,
        data={**butlr_entry.data, CONF_ACCOUNT_KEY: BUTLR_KEY},
    )
    whole.add_to_hass(hass)
    await setup_entry(hass, butlr_entry)
    result = await open_options_spaces(hass, butlr_entry)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert result["reason"] in STRINGS["options"]["abort"]
    assert butlr_entry.options[CONF_SPACES] == ["room_focus"]


async def test_unpicked_space_entities_are_gone_not_unavailable(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """After re-picking and a poll, no entity of an unpicked space lingers unavailable."""
    await setup_entry(hass, butlr_entry)
    result = await open_options_spaces(hass, butlr_entry)
    await answer_spaces(hass, result, ["room_meeting"], options_flow=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    await poll(hass, freezer, 60)
    unavailable = [
        state.entity_id
        for state in hass.states.async_all()
        if state.state == STATE_UNAVAILABLE
    ]
    assert unavailable == []
    meeting = devices_by_space(hass, butlr_entry)["room_meeting"].id
    registry = er.async_get(hass)
    assert {
        registry_entry.device_id
        for registry_entry in er.async_entries_for_config_entry(
            registry, butlr_entry.entry_id
        )
    } == {meeting}


async def test_a_picked_location_the_token_may_not_see_is_no_revoked_token(
    hass: HomeAssistant, simulator: SimulatorServer, freezer: FrozenDateTimeFactory
) -> None:
    """Only hidden locations picked: they are unavailable, the token is not doubted.

    With the whole tree polled, one refused location among many answered ones
    is a location the token may not see; picked alone, its refusal must not
    read as a revoked token (a re-authentication the user cannot satisfy).
    """
    freezer.move_to(NOW)
    simulator.occuspace = _campus()
    result = await start_flow(hass, AUTH_OCCUSPACE, simulator.base_url)
    entry = (await answer_spaces(hass, result, ["4"], areas=False))["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    simulator.occuspace.hidden = {2}
    await poll(hass, freezer, 120)
    await poll(hass, freezer, 120)
    assert entry.state is ConfigEntryState.LOADED
    assert not list(hass.config_entries.flow.async_progress_by_handler(DOMAIN))
    assert hass.states.get("sensor.n1_occupancy").state == STATE_UNAVAILABLE


async def test_a_revoked_token_is_still_told_with_few_locations_picked(
    hass: HomeAssistant, simulator: SimulatorServer, freezer: FrozenDateTimeFactory
) -> None:
    """Every picked location refused and the location list too: re-authenticate."""
    freezer.move_to(NOW)
    simulator.occuspace = _campus()
    result = await start_flow(hass, AUTH_OCCUSPACE, simulator.base_url)
    entry = (await answer_spaces(hass, result, ["4"], areas=False))["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    simulator.occuspace.tokens = set()
    await poll(hass, freezer, 120)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    assert flows[0]["context"]["entry_id"] == entry.entry_id


async def test_a_picked_occuspace_location_brings_later_children(
    hass: HomeAssistant, simulator: SimulatorServer, freezer: FrozenDateTimeFactory
) -> None:
    """A location added under a picked one comes at the hourly list refresh."""
    freezer.move_to(NOW)
    simulator.occuspace = _campus()
    result = await start_flow(hass, AUTH_OCCUSPACE, simulator.base_url)
    entry = (await answer_spaces(hass, result, ["2"], areas=False))["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    simulator.occuspace.locations.append(OccuspaceLocation(7, "N3", 2, 20, count=2))
    simulator.occuspace.locations.append(OccuspaceLocation(8, "S2", 3, 20, count=2))
    await poll(hass, freezer, 3600)
    assert set(devices_by_space(hass, entry)) == {"2", "4", "5", "7"}
    assert hass.states.get("sensor.n3_occupancy").state == "2"
