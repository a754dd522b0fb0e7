"""Big accounts: a 2,000-room Butlr organisation and a 2,000-location Occuspace tree.

On Home Assistant 2026.x these exercise its real cap of 10,000 enabled
entities per entry: both accounts pass it (about 14,100 and 11,700 entities).
The default selection of a new entry must then fit, with every entity of
every picked space and never Home Assistant's "Reached the maximum" warning;
a second entry takes the rest (one account split over two entries); an
account that grows past the cap gets the repair issue. On 2025.4 (no cap) a
new entry takes the whole account and every entity is added. Areas and floors
are placed at scale, and a device the user moved stays.

Run time: each test sets up 10,000 to 14,000 entities. The event loop's debug
mode (which the test harness turns on) and DEBUG logging are off here: they
triple the time and check nothing these tests are about.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import logging
import random

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    floor_registry as fr,
    issue_registry as ir,
)
import pytest

from custom_components.space_occupancy.budget import entity_cap
from custom_components.space_occupancy.const import (
    AUTH_BUTLR_ACCOUNT,
    AUTH_OCCUSPACE,
    CONF_SPACES,
    DOMAIN,
)

from .conftest import NOW, SimulatorServer, poll
from .selection_helpers import (
    BASE_KEYS,
    PERCENTAGE_KEY,
    ROOM_KEYS,
    TRAFFIC_KEYS,
    answer_spaces,
    cap_warnings,
    default_picks,
    devices_by_space,
    enabled_entities,
    keys_by_space,
    offered,
    start_flow,
)
from .simulator.butlr import ButlrScenario
from .simulator.large import BUTLR_SITE, large_butlr, large_butlr_room, large_occuspace

HA_CAP = 10_000


@pytest.fixture(autouse=True)
async def enable_event_loop_debug() -> None:
    """Leave the event loop's debug mode off (the harness turns it on)."""
    asyncio.get_running_loop().set_debug(False)


@pytest.fixture(autouse=True)
def warnings_only(caplog: pytest.LogCaptureFixture) -> None:
    """Capture warnings and worse only (Home Assistant's cap warning among them)."""
    caplog.set_level(logging.WARNING)


def _butlr_expected(scenario: ButlrScenario) -> dict[str, set[str]]:
    """Every shown Butlr space's enabled entity keys, from the simulated account."""
    expected: dict[str, set[str]] = {}
    for site in scenario.sites:
        expected[site.id] = set(BASE_KEYS)
        for building in site.buildings:
            expected[building.id] = set(BASE_KEYS)
            for floor in building.floors:
                # A floor without capacity has rooms without one: no sum either.
                percent = {PERCENTAGE_KEY} if floor.capacity else set()
                expected[floor.id] = BASE_KEYS | percent
                for room in floor.rooms:
                    keys = set(ROOM_KEYS)
                    if room.capacity:
                        keys.add(PERCENTAGE_KEY)
                    if any(sensor.mode == "traffic" for sensor in room.sensors):
                        keys |= TRAFFIC_KEYS
                    expected[room.id] = keys
    return expected


def _assert_complete(
    hass: HomeAssistant, entry: object, expected: Mapping[str, set[str]]
) -> set[str]:
    """Every space with a device has all its entities; return those spaces."""
    shown = set(devices_by_space(hass, entry))  # type: ignore[arg-type]
    assert shown
    assert shown <= expected.keys()
    keys = keys_by_space(hass, entry, shown)  # type: ignore[arg-type]
    incomplete = {
        space_id: (keys[space_id], expected[space_id])
        for space_id in shown
        if keys[space_id] != expected[space_id]
    }
    assert incomplete == {}
    count = len(enabled_entities(hass, entry))  # type: ignore[arg-type]
    assert count == sum(len(expected[space_id]) for space_id in shown)
    return shown


def _cap_issue(hass: HomeAssistant, entry: object) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(
        DOMAIN,
        f"entity_cap_{entry.entry_id}",  # type: ignore[attr-defined]
    )


async def test_butlr_2000_rooms(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Default selection, a second entry for the rest, growth past the cap, areas."""
    freezer.move_to(NOW)
    scenario = simulator.butlr = large_butlr(NOW)
    expected = _butlr_expected(scenario)
    assert len(expected) == 2056
    total = sum(len(keys) for keys in expected.values())
    assert total > HA_CAP

    result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
    assert len(offered(result)) == 2056
    # The count reserves the percentage of every roll-up without a capacity
    # (its rooms' may add up to one): 15 floors, 5 buildings, the site.
    counted = int(result["description_placeholders"]["entities"].replace(",", ""))
    assert counted == total + 21
    result = await answer_spaces(hass, result, areas=True)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    first = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    first_spaces = _assert_complete(hass, first, expected)
    assert _cap_issue(hass, first) is None

    # Areas: each room in the area of its name, on its floor's floor.
    room = devices_by_space(hass, first)["room_00000"]
    area = ar.async_get(hass).async_get_area(room.area_id or "")
    assert area is not None
    assert area.name == "Room 0"
    floor = fr.async_get(hass).async_get_floor(area.floor_id or "")
    assert floor is not None
    assert floor.name == "Building 0 floor 0"
    kitchen = ar.async_get(hass).async_create("Kitchen")
    dr.async_get(hass).async_update_device(room.id, area_id=kitchen.id)

    if entity_cap() is None:
        # No cap (2025.4): the whole account in one entry, everything added.
        assert CONF_SPACES not in first.options
        assert first_spaces == expected.keys()
        assert len(enabled_entities(hass, first)) == total
        return

    assert entity_cap() == HA_CAP
    assert len(enabled_entities(hass, first)) <= HA_CAP
    assert first_spaces != expected.keys()

    # A second entry is offered the rest of the account, and takes it.
    result = await start_flow(hass, AUTH_BUTLR_ACCOUNT, simulator.base_url)
    assert set(offered(result)).isdisjoint(first_spaces)
    assert default_picks(result)
    result = await answer_spaces(hass, result, areas=True)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    second = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    second_spaces = _assert_complete(hass, second, expected)
    # The rest fits. Neither entry holds the roll-ups above both parts: the
    # site, one building and one floor at most (the first part is a prefix of
    # the tree, not rooms picked here and there).
    assert first_spaces.isdisjoint(second_spaces)
    assert first.unique_id != second.unique_id
    left = expected.keys() - first_spaces - second_spaces
    assert BUTLR_SITE in left
    assert len(left) <= 3
    assert all(not space_id.startswith("room_") for space_id in left)
    assert _cap_issue(hass, second) is None

    # The account grows: 80 new rooms on a floor the first entry holds.
    grown = next(
        floor
        for building in scenario.sites[0].buildings
        for floor in building.floors
        if floor.id in first_spaces
    )
    rng = random.Random(5000)  # noqa: S311 - a test account, not a secret
    grown.rooms.extend(large_butlr_room(5000 + n, NOW, rng) for n in range(80))
    await poll(hass, freezer, 3600)
    assert len(enabled_entities(hass, first)) <= HA_CAP
    issue = _cap_issue(hass, first)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert int(issue.translation_placeholders["count"]) > 0
    assert "Room 50" in issue.translation_placeholders["spaces"]
    # The user's choice of area survives the syncs.
    assert devices_by_space(hass, first)["room_00000"].area_id == kitchen.id
    assert cap_warnings(caplog) == []


async def test_occuspace_2000_locations(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Default selection within the cap, a second entry for the rest, areas."""
    freezer.move_to(NOW)
    scenario = simulator.occuspace = large_occuspace()
    parents = {
        location.parent_id
        for location in scenario.locations
        if location.parent_id is not None
    }
    expected = {
        str(location.id): BASE_KEYS | ({PERCENTAGE_KEY} if location.capacity else set())
        for location in scenario.locations
    }
    total = sum(len(keys) for keys in expected.values())
    assert total > HA_CAP

    result = await start_flow(hass, AUTH_OCCUSPACE, simulator.base_url)
    assert len(offered(result)) == 2000
    result = await answer_spaces(hass, result, areas=True)
    first = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    first_spaces = _assert_complete(hass, first, expected)
    assert _cap_issue(hass, first) is None

    # Leaf locations in areas of their name; parents in none; no floors.
    devices = devices_by_space(hass, first)
    areas = ar.async_get(hass)
    for space_id in first_spaces:
        device = devices[space_id]
        if int(space_id) in parents:
            assert device.area_id is None
        else:
            area = areas.async_get_area(device.area_id or "")
            assert area is not None
            assert area.name == device.name
    assert list(fr.async_get(hass).async_list_floors()) == []
    leaf = next(s for s in sorted(first_spaces, key=int) if int(s) not in parents)
    kitchen = areas.async_create("Kitchen")
    dr.async_get(hass).async_update_device(devices[leaf].id, area_id=kitchen.id)

    if entity_cap() is None:
        assert CONF_SPACES not in first.options
        assert first_spaces == expected.keys()
    else:
        assert len(enabled_entities(hass, first)) <= HA_CAP
        result = await start_flow(hass, AUTH_OCCUSPACE, simulator.base_url)
        assert set(offered(result)).isdisjoint(first_spaces)
        result = await answer_spaces(hass, result, areas=True)
        second = result["result"]
        await hass.async_block_till_done(wait_background_tasks=True)
        second_spaces = _assert_complete(hass, second, expected)
        assert first_spaces.isdisjoint(second_spaces)
        # Neither holds the roll-ups above both parts: the campus, one
        # building and one floor at most (the first part is a tree prefix).
        left = expected.keys() - first_spaces - second_spaces
        assert "1" in left
        assert len(left) <= 3
        assert left.isdisjoint(
            str(location.id)
            for location in scenario.locations
            if location.id not in parents
        )

    await poll(hass, freezer, 3600)
    assert devices_by_space(hass, first)[leaf].area_id == kitchen.id
    assert cap_warnings(caplog) == []
