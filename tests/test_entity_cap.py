"""The entity budget: never a silent drop under Home Assistant's per-entry cap.

Home Assistant 2026.x adds at most ``MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY``
enabled entities per entry and drops the rest, warning "Reached the maximum
of …". These tests make the cap small (``entity_cap``) so that the demo
accounts pass it. On 2026.x Home Assistant then enforces that small cap
itself, so a budget mistake shows as a dropped entity and its warning; on
2025.4 (no cap in Home Assistant, the constant is created for the test) the
warning cannot appear, and the tests check the budget by the entities the
entry has.

The demo Butlr organisation costs 40 enabled entities: the site, building and
floor 6 each (a roll-up's percentage counted), Meeting room 7, Focus room 6
(no capacity: no percentage), Cafeteria 9 (traffic: entries and exits); each
room's count includes its sensor problem sensor.
"""

from __future__ import annotations

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    entity_platform,
    entity_registry as er,
    issue_registry as ir,
)
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.space_occupancy.budget import entity_cap, possible_entities
from custom_components.space_occupancy.const import (
    AUTH_BUTLR_ACCOUNT,
    CONF_ACCOUNT_KEY,
    CONF_CAPACITIES,
    CONF_SPACES,
    DOMAIN,
)
from custom_components.space_occupancy.migration import async_migrate_entry
from custom_components.space_occupancy.picking import AccountSpaces
from custom_components.space_occupancy.providers import (
    Reading,
    Snapshot,
    Space,
    SpaceKind,
)

from .conftest import NOW, SimulatorServer, poll, setup_entry
from .selection_helpers import (
    CAP_CONSTANT,
    ROOM_KEYS,
    STRINGS,
    TRAFFIC_KEYS,
    add_rooms,
    answer_spaces,
    assert_spaces_form,
    cap_warnings,
    default_picks,
    devices_by_space,
    enabled_entities,
    entity_cap as capped,
    ha_has_cap,
    keys_by_space,
    open_options_spaces,
    start_flow,
    states_of_entry,
)
from .simulator import Fault
from .simulator.butlr import ACCOUNT, ButlrScenario

BUTLR_KEY = f"butlr_{ACCOUNT[0]}"
DEMO_ENTITIES = 40
DEMO_SHOWN = [
    "site_hq",
    "building_main",
    "space_f1",
    "room_meeting",
    "room_focus",
    "room_cafeteria",
]
PERCENT = {"occupancy_percentage"}


def _cap_issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"entity_cap_{entry.entry_id}")


def test_cap_is_read_from_home_assistant() -> None:
    """The cap is Home Assistant's constant where the line has one, else none."""
    real = getattr(entity_platform, CAP_CONSTANT, None)
    assert entity_cap() == real
    assert (real is None) is not ha_has_cap()
    with capped(123):
        assert entity_cap() == 123


async def test_flow_counts_what_the_entry_then_has(
    hass: HomeAssistant, simulator: SimulatorServer, butlr_scenario: ButlrScenario
) -> None:
    """The form's entity count of the whole account is what the platforms add."""
    result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
    assert result["description_placeholders"]["entities"] == str(DEMO_ENTITIES)
    result = await answer_spaces(hass, result, areas=False)
    await hass.async_block_till_done(wait_background_tasks=True)
    entry = result["result"]
    assert len(enabled_entities(hass, entry)) == DEMO_ENTITIES


def test_a_roll_up_is_counted_with_its_percentage() -> None:
    """A floor without a capacity of its own may get one from its rooms: counted."""
    floor = Space("f", "Floor", SpaceKind.FLOOR)
    room = Space("r", "Room", SpaceKind.ROOM, parent_id="f")
    assert possible_entities(floor, None, has_children=True) == 6
    assert possible_entities(room, None, has_children=False) == 6
    assert possible_entities(room, 12, has_children=False) == 7


def test_a_room_of_an_entry_taking_pushes_counts_its_motion_sensor() -> None:
    """Pushes may bring a room a motion sensor: counted only where they are on."""
    room = Space("r", "Room", SpaceKind.ROOM, parent_id="f")
    floor = Space("f", "Floor", SpaceKind.FLOOR)
    assert possible_entities(room, 12, has_children=False, pushes=True) == 8
    assert possible_entities(floor, 12, has_children=True, pushes=True) == 6


async def test_flow_refuses_a_selection_over_the_cap_with_the_numbers(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Over the cap: refused with entities, spaces and cap; the default fits."""
    with capped(22):
        result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
        assert_spaces_form(result)
        # The whole account (40) does not fit: its rooms, one by one, do (22).
        assert default_picks(result) == [
            "room_meeting",
            "room_focus",
            "room_cafeteria",
        ]
        refused = await answer_spaces(hass, result, ["site_hq"], areas=False)
        assert_spaces_form(refused, {CONF_SPACES: "too_many_entities"})
        placeholders = refused["description_placeholders"]
        assert placeholders["picked_entities"] == str(DEMO_ENTITIES)
        assert placeholders["picked_spaces"] == "6"
        assert placeholders["cap"] == "22"
        result = await answer_spaces(hass, refused, default_picks(result), areas=False)
        assert result["type"] is FlowResultType.CREATE_ENTRY
        entry = result["result"]
        await hass.async_block_till_done(wait_background_tasks=True)
        assert len(enabled_entities(hass, entry)) == 22
        assert _cap_issue(hass, entry) is None
    assert cap_warnings(caplog) == []


async def test_the_refusal_says_what_to_do(hass: HomeAssistant) -> None:
    """The error names its numbers and both ways out: fewer spaces, a second entry."""
    for flow in ("config", "options"):
        text = STRINGS[flow]["error"]["too_many_entities"]
        for placeholder in ("{picked_spaces}", "{picked_entities}", "{cap}"):
            assert placeholder in text
        assert "fewer" in text
        assert "second entry" in text


async def test_account_growing_past_the_cap_raises_a_repair_issue(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """New rooms under a picked floor past the cap: named in an issue, never dropped.

    The floor and its rooms cost 28; the cap is 35: one new room (7) fits,
    the second does not and is left out, whole. Picking less clears the issue.
    """
    hass.config_entries.async_update_entry(
        butlr_entry, options={CONF_SPACES: ["space_f1"]}
    )
    with capped(35):
        await setup_entry(hass, butlr_entry)
        assert len(enabled_entities(hass, butlr_entry)) == 28
        assert _cap_issue(hass, butlr_entry) is None

        add_rooms(butlr_scenario, "Annex", "Booth")
        await poll(hass, freezer, 3600)
        assert len(enabled_entities(hass, butlr_entry)) == 35
        keys = keys_by_space(hass, butlr_entry, ["room_annex", "room_booth"])
        assert keys["room_annex"] == ROOM_KEYS | PERCENT
        assert keys["room_booth"] == set()
        issue = _cap_issue(hass, butlr_entry)
        assert issue is not None
        assert issue.translation_key == "entity_cap"
        assert issue.translation_placeholders is not None
        assert issue.translation_placeholders["count"] == "1"
        assert "Booth" in issue.translation_placeholders["spaces"]
        assert "Annex" not in issue.translation_placeholders["spaces"]
        assert issue.translation_placeholders["cap"] == "35"
        # No entity of the entry is left behind unavailable.
        assert STATE_UNAVAILABLE not in states_of_entry(hass, butlr_entry).values()

        # Picking less in the options: the issue goes.
        result = await open_options_spaces(hass, butlr_entry)
        await answer_spaces(
            hass, result, ["room_meeting", "room_booth"], options_flow=True
        )
        await hass.async_block_till_done(wait_background_tasks=True)
        await poll(hass, freezer, 60)
        assert _cap_issue(hass, butlr_entry) is None
        keys = keys_by_space(hass, butlr_entry, ["room_meeting", "room_booth"])
        assert keys["room_booth"] == ROOM_KEYS | PERCENT
    assert cap_warnings(caplog) == []


async def test_migrated_entry_over_the_cap_gets_the_issue_at_first_setup(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An entry from before the selection: everything picked, over the cap: the issue."""
    assert butlr_entry.minor_version == 1
    with capped(20):
        await setup_entry(hass, butlr_entry)
        assert butlr_entry.minor_version == 2
        assert butlr_entry.data[CONF_ACCOUNT_KEY] == BUTLR_KEY
        assert CONF_SPACES not in butlr_entry.options
        assert len(enabled_entities(hass, butlr_entry)) <= 20
        issue = _cap_issue(hass, butlr_entry)
        assert issue is not None
        assert issue.translation_placeholders is not None
        # Tree order: the site, building and floor (18) fit; no room fits
        # in the 2 entities left.
        assert issue.translation_placeholders["count"] == "3"
    assert cap_warnings(caplog) == []


async def test_entry_already_over_the_cap_keeps_every_entity_it_had(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Made on a line without a cap, then run under one: nothing is lost.

    Home Assistant adds registered entities past its cap (it refuses only new
    ones): the entry keeps all 40, and the issue says it is past the cap.
    """
    await setup_entry(hass, butlr_entry)
    assert len(enabled_entities(hass, butlr_entry)) == DEMO_ENTITIES
    assert await hass.config_entries.async_unload(butlr_entry.entry_id)
    await hass.async_block_till_done()
    with capped(20):
        await setup_entry(hass, butlr_entry)
        states = states_of_entry(hass, butlr_entry)
        assert len(states) == DEMO_ENTITIES
        assert STATE_UNAVAILABLE not in states.values()
        assert hass.states.get("sensor.meeting_room_occupancy").state == "3"
        issue = _cap_issue(hass, butlr_entry)
        assert issue is not None
    assert cap_warnings(caplog) == []


async def test_entities_the_user_disabled_do_not_cost_a_space_its_others(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A space whose entities are all registered needs no room, disabled or not."""
    await setup_entry(hass, butlr_entry)
    registry = er.async_get(hass)
    for entity_id in ("sensor.meeting_room_activity", "sensor.meeting_room_occupancy"):
        registry.async_update_entity(
            entity_id, disabled_by=er.RegistryEntryDisabler.USER
        )
    assert await hass.config_entries.async_unload(butlr_entry.entry_id)
    await hass.async_block_till_done()
    # 38 enabled: one more fits, the two disabled ones need none.
    with capped(DEMO_ENTITIES - 1):
        await setup_entry(hass, butlr_entry)
        state = hass.states.get("sensor.meeting_room_occupancy_percentage")
        assert state is not None
        assert state.state != STATE_UNAVAILABLE
        assert _cap_issue(hass, butlr_entry) is None
    assert cap_warnings(caplog) == []


async def test_a_user_capacity_that_passes_the_cap_is_left_out_not_dropped(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A capacity set in the options makes a percentage: over the cap, no warning."""
    with capped(DEMO_ENTITIES):
        await setup_entry(hass, butlr_entry)
        assert len(enabled_entities(hass, butlr_entry)) == DEMO_ENTITIES
        result = await hass.config_entries.options.async_init(butlr_entry.entry_id)
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": "capacity"}
        )
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"space": "room_focus", "capacity": 6}
        )
        assert butlr_entry.options[CONF_CAPACITIES] == {"room_focus": 6}
        await hass.async_block_till_done(wait_background_tasks=True)
        await poll(hass, freezer, 60)
        assert len(enabled_entities(hass, butlr_entry)) <= DEMO_ENTITIES
        issue = _cap_issue(hass, butlr_entry)
        assert issue is not None
        assert "Focus room" in (issue.translation_placeholders or {})["spaces"]
    assert cap_warnings(caplog) == []


def test_traffic_keys_are_counted() -> None:
    """A traffic room's entries and exits are among what it costs."""
    room = Space("r", "Room", SpaceKind.ROOM, capacity=4, counts_traffic=True)
    assert possible_entities(room, None, has_children=False) == len(
        ROOM_KEYS | PERCENT | TRAFFIC_KEYS
    )


async def test_entities_of_no_space_count_against_the_cap(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Home Assistant counts every enabled entity of the entry: so does the budget.

    Two registry entries of the entry name no space of the account (one not
    ours at all, one of an unknown kind): with them the demo's 40 do not fit
    under a cap of 41, and the last space in tree order is left out.
    """
    registry = er.async_get(hass)
    registry.async_get_or_create(
        "sensor", DOMAIN, "elsewhere", config_entry=butlr_entry
    )
    registry.async_get_or_create(
        "sensor", DOMAIN, f"{BUTLR_KEY}_room_meeting_mystery", config_entry=butlr_entry
    )
    with capped(DEMO_ENTITIES + 1):
        await setup_entry(hass, butlr_entry)
        assert len(enabled_entities(hass, butlr_entry)) <= DEMO_ENTITIES + 1
        issue = _cap_issue(hass, butlr_entry)
        assert issue is not None
        assert (issue.translation_placeholders or {})["spaces"].endswith("Cafeteria")
    assert cap_warnings(caplog) == []


async def test_flow_aborts_when_the_account_cannot_be_read(
    hass: HomeAssistant, simulator: SimulatorServer, butlr_scenario: ButlrScenario
) -> None:
    """Credentials accepted but the account's readings fail: abort, nothing made."""
    simulator.inject(Fault("/api/v3/reporting", status=500, times=10))
    result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"
    assert hass.config_entries.async_entries(DOMAIN) == []


def test_default_picks_are_a_prefix_of_the_tree() -> None:
    """Under a cap the default takes whole parts in tree order, then stops.

    It never skips a space that does not fit for smaller ones further on:
    a second entry can then still pick the rest whole.
    """
    spaces = {
        "s": Space("s", "Site", SpaceKind.SITE),
        "f1": Space("f1", "F1", SpaceKind.FLOOR, parent_id="s", capacity=10),
        "a": Space("a", "A", SpaceKind.ROOM, parent_id="f1"),
        "b": Space("b", "B", SpaceKind.ROOM, parent_id="f1", counts_traffic=True),
        "f2": Space("f2", "F2", SpaceKind.FLOOR, parent_id="s", capacity=10),
        "c": Space("c", "C", SpaceKind.ROOM, parent_id="f2"),
    }
    snapshot = Snapshot(spaces, {s: Reading(occupancy=0) for s in spaces}, NOW)
    account = AccountSpaces.of(snapshot)
    # Site 6, F1 6, A 6, B 8 (traffic), F2 6, C 6: 38 in all; F1's part 20, F2's 12.
    assert account.default({}, None) == ["s"]
    assert account.default({}, 38) == ["s"]
    assert account.default({}, 32) == ["f1", "f2"]
    # 10: F1's part does not fit, A does, B does not: the part ends there.
    # C would fit, but taking it would leave F2 to no entry whole.
    assert account.default({}, 10) == ["a"]
    assert account.default({}, 4) == []


async def test_a_space_left_out_gets_no_device(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """A space the cap leaves out has no device: an empty device says nothing."""
    with capped(20):
        await setup_entry(hass, butlr_entry)
        issue = _cap_issue(hass, butlr_entry)
        assert issue is not None
        keys = keys_by_space(hass, butlr_entry, DEMO_SHOWN)
        empty = {space_id for space_id, found in keys.items() if not found}
        assert empty == {"room_meeting", "room_focus", "room_cafeteria"}
        assert empty.isdisjoint(devices_by_space(hass, butlr_entry))


async def test_removing_an_entry_removes_its_cap_issue(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """The issue is about the entry: removing the entry ends it."""
    with capped(20):
        await setup_entry(hass, butlr_entry)
        assert _cap_issue(hass, butlr_entry) is not None
        assert await hass.config_entries.async_remove(butlr_entry.entry_id)
        await hass.async_block_till_done()
        assert _cap_issue(hass, butlr_entry) is None


async def test_migration_leaves_newer_and_current_entries_alone(
    hass: HomeAssistant, butlr_entry: MockConfigEntry
) -> None:
    """A newer release's entry is refused; one already at 2.2 is kept as it is.

    (Called directly: Home Assistant 2026.x refuses a newer entry itself,
    without asking the integration.)
    """
    hass.config_entries.async_update_entry(butlr_entry, version=3)
    assert not await async_migrate_entry(hass, butlr_entry)
    data = {**butlr_entry.data, CONF_ACCOUNT_KEY: "kept"}
    hass.config_entries.async_update_entry(
        butlr_entry, version=2, minor_version=2, data=data
    )
    assert await async_migrate_entry(hass, butlr_entry)
    assert butlr_entry.data[CONF_ACCOUNT_KEY] == "kept"


async def test_options_refuse_a_selection_over_the_cap(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Re-picking in the options meets the same budget as the first pick."""
    hass.config_entries.async_update_entry(
        butlr_entry, options={CONF_SPACES: ["room_meeting"]}
    )
    with capped(20):
        await setup_entry(hass, butlr_entry)
        result = await open_options_spaces(hass, butlr_entry)
        refused = await answer_spaces(hass, result, ["site_hq"], options_flow=True)
        assert_spaces_form(refused, {CONF_SPACES: "too_many_entities"}, flow="options")
        assert refused["description_placeholders"]["picked_entities"] == "40"
        assert refused["description_placeholders"]["cap"] == "20"
        assert butlr_entry.options[CONF_SPACES] == ["room_meeting"]
        result = await answer_spaces(
            hass, refused, ["room_meeting", "room_cafeteria"], options_flow=True
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done(wait_background_tasks=True)
        assert len(enabled_entities(hass, butlr_entry)) == 16
    assert cap_warnings(caplog) == []
