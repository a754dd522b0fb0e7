"""Which entities a poll, a new usual occupancy or new settings wake.

An unchanged poll must call no entity at all (not merely write no new state):
on a 2,000-space account that is most of a poll's cost. A change wakes the
entities of the spaces that changed, and only them. Entity calls are counted
at ``async_write_ha_state``, which every woken entity reaches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.space_occupancy.changes import (
    NEW_ENTITY_LOG,
    Changes,
    NewEntitySpaces,
    SpaceContext,
    SpaceListeners,
    changes_between,
)
from custom_components.space_occupancy.providers import (
    Reading,
    Snapshot,
    Space,
    SpaceKind,
)

from .conftest import SimulatorServer, poll, setup_entry
from .simulator import Fault
from .simulator.butlr import ButlrScenario
from .simulator.occuspace import SEED_TOKEN, OccuspaceLocation, OccuspaceScenario

T0 = datetime(2024, 6, 12, 15, 0, tzinfo=UTC)
ROOM = Space("r1", "Room 1", SpaceKind.ROOM, parent_id="f1", capacity=4)
FLOOR = Space("f1", "Floor", SpaceKind.FLOOR)


def _snapshot(**readings: Reading) -> Snapshot:
    return Snapshot(spaces={"r1": ROOM, "f1": FLOOR}, readings=readings, fetched_at=T0)


# --- The comparison ------------------------------------------------------------


def test_equal_readings_change_nothing() -> None:
    """New reading objects that say the same thing are no change."""
    before = _snapshot(r1=Reading(occupancy=2), f1=Reading(occupancy=2))
    after = _snapshot(r1=Reading(occupancy=2), f1=Reading(occupancy=2))
    assert changes_between(before, after) == Changes(frozenset(), frozenset())


@pytest.mark.parametrize(
    "change",
    [
        {"occupancy": 3},
        {"active": False},
        {"capacity": 9},
        {"percentage": 60.0},
        {"entries_today": 4},
        {"exits_today": 1},
    ],
)
def test_a_count_that_changed_is_a_change(change: dict[str, object]) -> None:
    """Anything a reading says besides its times wakes the whole space."""
    reading = Reading(occupancy=2, capacity=4, percentage=50.0, entries_today=3)
    before = _snapshot(r1=reading, f1=Reading(occupancy=2))
    after = _snapshot(r1=replace(reading, **change), f1=Reading(occupancy=2))
    assert changes_between(before, after) == Changes(frozenset({"r1"}), frozenset())


def test_a_new_time_alone_only_restamps() -> None:
    """A reading whose times alone moved wakes only what shows the time."""
    before = _snapshot(r1=Reading(occupancy=2, observed_at=T0, changed_at=T0))
    later = T0 + timedelta(minutes=2)
    after = _snapshot(r1=Reading(occupancy=2, observed_at=later, changed_at=later))
    assert changes_between(before, after) == Changes(frozenset(), frozenset({"r1"}))


def test_spaces_that_come_go_or_change_are_changes() -> None:
    """A space added, gone or redefined, and a reading gone, are changes."""
    before = _snapshot(r1=Reading(occupancy=2), f1=Reading(occupancy=2))
    renamed = Snapshot(
        spaces={"r1": replace(ROOM, name="Room one"), "f2": FLOOR},
        readings={"r1": Reading(occupancy=2)},
        fetched_at=T0,
    )
    assert changes_between(before, renamed) == Changes(
        frozenset({"r1", "f1", "f2"}), frozenset()
    )


def test_time_followers_are_told_until_removed() -> None:
    """Restamped spaces tell their time followers (an index of them), and only them.

    A removed follower is told no more; a space without followers left tells
    nobody; one added again is told again.
    """
    listeners = SpaceListeners()
    told: list[str] = []
    remove_time = listeners.add(
        lambda: told.append("time"), SpaceContext("r1", follows_time=True)
    )
    listeners.add(lambda: told.append("count"), SpaceContext("r1"))
    listeners.add(lambda: told.append("other"), SpaceContext("f1", follows_time=True))
    restamped = Changes(frozenset(), frozenset({"r1"}))
    listeners.tell(restamped)
    assert told == ["time"]
    remove_time()
    told.clear()
    listeners.tell(restamped)
    listeners.tell(Changes(frozenset({"r1"}), frozenset()))
    assert told == ["count"]
    listeners.add(lambda: told.append("again"), SpaceContext("r1", follows_time=True))
    told.clear()
    listeners.tell(restamped)
    assert told == ["again"]


# --- In Home Assistant ------------------------------------------------------------


@pytest.fixture
def writes() -> Iterator[Counter[str]]:
    """Count the calls of async_write_ha_state, by entity id."""
    counter: Counter[str] = Counter()
    original = Entity.async_write_ha_state

    def counting(self: Entity) -> None:
        counter[self.entity_id] += 1
        original(self)

    with patch.object(Entity, "async_write_ha_state", counting):
        yield counter


async def test_unchanged_butlr_poll_calls_no_entity(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    writes: Counter[str],
) -> None:
    """A Butlr poll that changed nothing wakes no entity; one room wakes its own."""
    await setup_entry(hass, butlr_entry)
    writes.clear()
    await poll(hass, freezer, 60)
    assert writes == Counter()

    butlr_scenario.sites[0].buildings[0].floors[0].rooms[1].sensors[0].people = 1
    await poll(hass, freezer, 60)
    woken = {entity_id.split(".")[1].rsplit("_", 1)[0] for entity_id in writes}
    # The focus room and its roll-ups; not the meeting room nor the cafeteria.
    assert {name.split("_")[0] for name in woken} == {"focus", "first", "main", "hq"}
    assert all(count == 1 for count in writes.values())


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_occuspace_new_timestamps_wake_only_the_time_sensors(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    occuspace_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    writes: Counter[str],
) -> None:
    """Occuspace stamps every answer: only "last reading" sensors follow a new time."""
    simulator.occuspace = OccuspaceScenario(
        locations=[
            OccuspaceLocation(1, "Sales", None, 1000, count=100),
            OccuspaceLocation(2, "Office Building", 1, 500, count=100),
            OccuspaceLocation(3, "Office 1st Floor", 2, 400, count=70),
        ],
        tokens={SEED_TOKEN},
    )
    await setup_entry(hass, occuspace_entry)
    writes.clear()

    await poll(hass, freezer, 120)

    # The leaf takes its parent's time: its answer carries none of its own.
    assert set(writes) == {
        "sensor.sales_last_reading",
        "sensor.office_building_last_reading",
        "sensor.office_1st_floor_last_reading",
    }
    assert all(count == 1 for count in writes.values())


async def test_usual_occupancy_wakes_only_the_usual_sensors(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    writes: Counter[str],
) -> None:
    """A new usual occupancy of one space wakes its two usual sensors, no others."""
    await setup_entry(hass, butlr_entry)
    coordinator = butlr_entry.runtime_data.coordinator
    writes.clear()

    await coordinator.async_set_usual({"room_meeting": 2.0})
    await hass.async_block_till_done()

    assert set(writes) == {
        "sensor.meeting_room_usual_occupancy",
        "sensor.meeting_room_compared_with_usual",
    }
    assert (
        hass.states.get("sensor.meeting_room_compared_with_usual").state == "as_usual"
    )
    writes.clear()
    await coordinator.async_set_usual({"room_meeting": 2.0})
    assert writes == Counter()


async def test_failed_poll_and_recovery_wake_everyone(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatorServer,
    writes: Counter[str],
) -> None:
    """Availability concerns every entity: a failure and the recovery wake all."""
    await setup_entry(hass, butlr_entry)
    everyone = set(hass.states.async_entity_ids())

    writes.clear()
    simulator.inject(Fault("/api/v3/reporting", status=500, times=2))
    await poll(hass, freezer, 60)
    assert set(writes) == everyone
    writes.clear()
    await poll(hass, freezer, 60)
    assert set(writes) == everyone


def test_new_entity_spaces_are_told_since_a_generation() -> None:
    """A platform behind by a few generations looks at their spaces; far behind, all."""
    log = NewEntitySpaces()
    log.note(frozenset({"room_a"}))
    log.note(frozenset({"room_b"}))
    assert log.since(0) == {"room_a", "room_b"}
    assert log.since(1) == {"room_b"}
    assert log.since(2) == frozenset()
    for _ in range(NEW_ENTITY_LOG):
        log.note(frozenset({"room_c"}))
    assert log.since(2) is None
    assert log.since(log.generation - 1) == {"room_c"}
