"""Occuspace locations in Home Assistant."""

from __future__ import annotations

import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.space_occupancy.diagnostics import (
    async_get_config_entry_diagnostics,
)

from .conftest import SimulatorServer, find_device, poll, setup_entry
from .simulator.occuspace import (
    SEED_TOKEN,
    OccuspaceLocation,
    OccuspaceScenario,
    seed_scenario,
)


@pytest.fixture(autouse=True)
def occuspace_seed(simulator: SimulatorServer) -> OccuspaceScenario:
    """The seed's locations."""
    simulator.occuspace = seed_scenario()
    return simulator.occuspace


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_seed_example(
    hass: HomeAssistant,
    occuspace_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Office Building 100 people at 20 %; floors 70 at 18 % and 30 at 30 %."""
    await setup_entry(hass, occuspace_entry)
    states = {
        name: (
            hass.states.get(f"sensor.{name}_occupancy").state,
            hass.states.get(f"sensor.{name}_occupancy_percentage").state,
        )
        for name in ("office_building", "office_1st_floor", "office_2nd_floor")
    }
    assert states == {
        "office_building": ("100", "20.0"),
        "office_1st_floor": ("70", "18.0"),
        "office_2nd_floor": ("30", "30.0"),
    }
    assert hass.states.get("sensor.office_2nd_floor_activity").state == "low"
    assert (
        hass.states.get("sensor.office_1st_floor_last_reading").state
        == "2020-02-15T15:30:00+00:00"
    )
    floor = find_device(hass, occuspace_entry, "3")
    building = find_device(hass, occuspace_entry, "2")
    root = find_device(hass, occuspace_entry, "1")
    assert floor.via_device_id == building.id
    assert building.via_device_id == root.id
    assert (floor.manufacturer, floor.model) == ("Occuspace", "Location")


async def test_inactive_child(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    occuspace_entry: MockConfigEntry,
) -> None:
    """An inactive location: occupancy unavailable, activity inactive."""
    simulator.occuspace = OccuspaceScenario(
        locations=[
            OccuspaceLocation(1, "Campus", None, 300, count=20),
            OccuspaceLocation(2, "Library", 1, 200, count=20),
            OccuspaceLocation(3, "Gym", 1, 100, count=0, is_active=False),
        ],
        tokens={SEED_TOKEN},
    )
    await setup_entry(hass, occuspace_entry)
    assert hass.states.get("sensor.gym_occupancy").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.gym_activity").state == "inactive"
    assert hass.states.get("binary_sensor.gym_occupied").state == STATE_UNAVAILABLE
    assert hass.states.get("sensor.library_occupancy").state == "20"
    assert hass.states.get("sensor.library_activity").state == "low"


async def test_requests_per_poll_in_a_large_tree(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    occuspace_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """1 campus → 6 buildings → 60 rooms: 7 ``now`` calls a poll, never one per room."""
    locations = [OccuspaceLocation(1, "Campus", None, 600, count=0)]
    for building in range(6):
        building_id = 10 + building
        locations.append(OccuspaceLocation(building_id, f"Building {building}", 1, 100))
        locations.extend(
            OccuspaceLocation(
                100 + building * 10 + room,
                f"Room {building}-{room}",
                building_id,
                10,
                count=room,
            )
            for room in range(10)
        )
    simulator.occuspace = OccuspaceScenario(locations=locations, tokens={SEED_TOKEN})
    await setup_entry(hass, occuspace_entry)
    assert len(simulator.requests_to("/v1/locations")) == 1 + 7
    assert hass.states.get("sensor.room_3_7_occupancy").state == "7"

    await poll(hass, freezer, 120)
    now_calls = [path for _, path in simulator.requests if path.endswith("/now")]
    assert len(now_calls) == 14
    assert len([path for _, path in simulator.requests if path == "/v1/locations"]) == 1


@pytest.mark.parametrize("enabled", [False, True])
async def test_new_timestamp_writes_only_last_reading(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    occuspace_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    state_changes: list[str],
    request: pytest.FixtureRequest,
    enabled: bool,
) -> None:
    """Occuspace stamps every answer anew: only the last-reading sensors change.

    Those are disabled by default, so that a poll where no count changed
    writes no state at all; enabled, they alone change.
    """
    if enabled:
        request.getfixturevalue("entity_registry_enabled_by_default")
    simulator.occuspace = OccuspaceScenario(
        locations=[
            OccuspaceLocation(1, "Campus", None, 300, count=20),
            OccuspaceLocation(2, "Library", 1, 200, count=20),
        ],
        tokens={SEED_TOKEN},
    )
    await setup_entry(hass, occuspace_entry)
    state_changes.clear()  # Setup wrote every state once; count from here.
    await poll(hass, freezer, 120)
    assert sorted(state_changes) == (
        ["sensor.campus_last_reading", "sensor.library_last_reading"] if enabled else []
    )


async def test_location_over_capacity_shows_over_100_percent(
    hass: HomeAssistant, simulator: SimulatorServer, occuspace_entry: MockConfigEntry
) -> None:
    """A library at 1.2 on the wire shows 120 % and is full."""
    simulator.occuspace = OccuspaceScenario(
        locations=[
            OccuspaceLocation(1, "Campus", None, 300, count=260),
            OccuspaceLocation(2, "Library", 1, 200, count=240),
            OccuspaceLocation(3, "Gym", 1, 100, count=20),
        ],
        tokens={SEED_TOKEN},
    )
    await setup_entry(hass, occuspace_entry)
    assert hass.states.get("sensor.library_occupancy").state == "240"
    assert hass.states.get("sensor.library_occupancy_percentage").state == "120.0"
    assert hass.states.get("sensor.library_activity").state == "full"


def chain(depth: int) -> OccuspaceScenario:
    """Locations 1 → 2 → … → depth, each the only child of the one before.

    Answered verbatim (the simulator's own counts recurse down the tree).
    """
    locations = [
        OccuspaceLocation(n, f"Level {n}", n - 1 if n > 1 else None, 0, count=1)
        for n in range(1, depth + 1)
    ]

    def now(n: int) -> dict[str, Any]:
        child = {"id": n + 1, "name": f"Level {n + 1}", "count": 1, "isActive": True}
        data = {"id": n, "count": 1, "isActive": True, "childCounts": [child]}
        return {"message": "OK", "data": data}

    return OccuspaceScenario(
        locations=locations,
        tokens={SEED_TOKEN},
        locations_payload={
            "message": "OK",
            "data": [
                {"id": loc.id, "name": loc.name, "parentID": loc.parent_id}
                for loc in locations
            ],
        },
        now_payloads={n: now(n) for n in range(1, depth)},
    )


async def test_a_tree_1000_levels_deep(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    occuspace_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A chain as deep as Python's recursion limit polls, links and lists.

    Nothing walks the tree by recursion: not the client, not the devices (each
    linked to its parent's), not diagnostics, not the options' list of spaces.
    """
    simulator.occuspace = chain(1000)
    await setup_entry(hass, occuspace_entry)
    await poll(hass, freezer, 120)
    assert hass.states.get("sensor.level_1000_occupancy").state == "1"
    deepest = find_device(hass, occuspace_entry, "1000")
    assert deepest.via_device_id == find_device(hass, occuspace_entry, "999").id
    diagnostics = await async_get_config_entry_diagnostics(hass, occuspace_entry)
    assert len(diagnostics["snapshot"]["spaces"]) == 1000
    result = await hass.config_entries.options.async_init(occuspace_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "capacity"}
    )
    assert result["step_id"] == "capacity"
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert "RecursionError" not in caplog.text
