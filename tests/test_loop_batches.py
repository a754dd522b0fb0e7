"""Thousands of entities, and their hourly usual occupancy, leave the event loop free.

Home Assistant adds a batch of entities without yielding to the event loop,
and a state write is a few hundredths of a millisecond: an account of 2,000
rooms added, or told its new usual occupancy, in one go freezes Home
Assistant for seconds. Both go a batch per loop step (scripts/bench measures
the steps); these tests show that the loop runs between two batches and that
every entity still comes, and writes, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
import itertools
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.entity_platform import EntityPlatform
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.space_occupancy import (
    coordinator as coordinator_module,
    devices as devices_module,
    entity as entity_module,
)
from custom_components.space_occupancy.const import CONF_SPACES

from .conftest import setup_entry
from .selection_helpers import answer_spaces, enabled_entities, open_options_spaces
from .simulator.butlr import ButlrScenario


class LoopTurns:
    """Counts the loop's turns: each record schedules a tick for the next one."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self.ticks = 0
        # (what, how many, ticks seen when it came)
        self.records: list[tuple[str, int, int]] = []
        # Of each batch of entities: how many spaces they belong to.
        self.spaces: list[int] = []

    def clear(self) -> None:
        self.records.clear()
        self.spaces.clear()

    def _tick(self) -> None:
        self.ticks += 1

    def record(self, what: str, size: int) -> None:
        self.records.append((what, size, self.ticks))
        self.hass.loop.call_soon(self._tick)

    def of(self, what: str) -> list[tuple[int, int]]:
        return [(size, ticks) for name, size, ticks in self.records if name == what]


@pytest.fixture
def turns(hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch) -> LoopTurns:
    """Small batches; every batch of entities a platform adds is recorded."""
    monkeypatch.setattr(entity_module, "SPACE_BATCH", 1)
    monkeypatch.setattr(coordinator_module, "USUAL_BATCH", 1)
    recorder = LoopTurns(hass)
    original = EntityPlatform._async_schedule_add_entities_for_entry

    def spy(
        self: EntityPlatform, new_entities: Iterable[Any], *args: Any, **kwargs: Any
    ) -> None:
        entities = list(new_entities)
        recorder.record(self.domain, len(entities))
        recorder.spaces.append(len({entity.space_id for entity in entities}))
        original(self, entities, *args, **kwargs)

    monkeypatch.setattr(EntityPlatform, "_async_schedule_add_entities_for_entry", spy)
    return recorder


def _one_batch_per_turn(batches: list[tuple[int, int]]) -> bool:
    """Several batches, the loop turned between each two."""
    ticks = [seen for _, seen in batches]
    return len(batches) > 1 and all(
        later > earlier for earlier, later in itertools.pairwise(ticks)
    )


async def test_setup_adds_entities_a_batch_per_loop_turn(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    turns: LoopTurns,
) -> None:
    """Every entity comes, a few at a time, the loop running in between."""
    await setup_entry(hass, butlr_entry)
    sensors = turns.of("sensor")
    assert _one_batch_per_turn(sensors)
    assert set(turns.spaces) == {1}  # One space's entities per turn.
    assert _one_batch_per_turn(turns.of("binary_sensor"))
    added = sum(size for size, _ in sensors) + sum(
        size for size, _ in turns.of("binary_sensor")
    )
    assert added == len(enabled_entities(hass, butlr_entry)) + _disabled(
        hass, butlr_entry
    )
    assert hass.states.get("sensor.meeting_room_occupancy").state == "3"


def _disabled(hass: HomeAssistant, entry: MockConfigEntry) -> int:
    return sum(
        1
        for registry_entry in er.async_entries_for_config_entry(
            er.async_get(hass), entry.entry_id
        )
        if registry_entry.disabled_by is not None
    )


async def test_spaces_picked_later_are_added_a_batch_per_loop_turn(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    turns: LoopTurns,
) -> None:
    """Widening the selection adds its entities in the background, in batches."""
    hass.config_entries.async_update_entry(
        butlr_entry, options={CONF_SPACES: ["room_focus"]}
    )
    await setup_entry(hass, butlr_entry)
    turns.clear()
    result = await open_options_spaces(hass, butlr_entry)
    result = await answer_spaces(
        hass,
        result,
        ["room_focus", "room_meeting", "room_cafeteria"],
        options_flow=True,
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert _one_batch_per_turn(turns.of("sensor"))
    assert hass.states.get("sensor.meeting_room_occupancy").state == "3"
    assert hass.states.get("sensor.cafeteria_entries_today").state == "7"


async def test_batches_stop_when_the_entry_unloads(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    turns: LoopTurns,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An entry unloaded between two batches adds nothing more to its platforms."""
    hass.config_entries.async_update_entry(
        butlr_entry, options={CONF_SPACES: ["room_focus"]}
    )
    await setup_entry(hass, butlr_entry)
    turns.clear()
    original = turns.record

    def unload_after_the_first(what: str, size: int) -> None:
        original(what, size)
        if len(turns.records) == 1:  # The unload starts at the loop's next turn.
            hass.loop.call_soon(
                hass.async_create_task,
                hass.config_entries.async_unload(butlr_entry.entry_id),
            )

    monkeypatch.setattr(turns, "record", unload_after_the_first)
    result = await open_options_spaces(hass, butlr_entry)
    await answer_spaces(
        hass,
        result,
        ["room_focus", "room_meeting", "room_cafeteria"],
        options_flow=True,
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    # Each platform's first batch came in the turn of the change; no other.
    assert len(turns.of("sensor")) == len(turns.of("binary_sensor")) == 1
    assert turns.spaces == [1, 1]
    assert butlr_entry.state is ConfigEntryState.NOT_LOADED


async def test_usual_occupancy_is_written_a_batch_per_loop_turn(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    turns: LoopTurns,
) -> None:
    """The hour's usual occupancy of many spaces: a few spaces per loop turn."""
    await setup_entry(hass, butlr_entry)
    coordinator = butlr_entry.runtime_data.coordinator
    tell = coordinator._spaces.tell_usual

    def spy(space_ids: Iterable[str]) -> None:
        told = list(space_ids)
        turns.record("usual", len(told))
        tell(told)

    coordinator._spaces.tell_usual = spy  # type: ignore[method-assign]
    usual = {"room_meeting": 2.0, "room_focus": 1.0, "room_cafeteria": 4.0}
    await coordinator.async_set_usual(usual)
    batches = turns.of("usual")
    assert len(batches) == 3
    assert all(
        later > earlier for (_, earlier), (_, later) in itertools.pairwise(batches)
    )
    for room in ("meeting_room", "focus_room", "cafeteria"):
        state = hass.states.get(f"sensor.{room}_usual_occupancy")
        assert state is not None
        assert state.state != "unknown"


async def test_devices_are_made_a_batch_per_loop_turn(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    turns: LoopTurns,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The spaces' devices, parents first, a few per loop turn; every one made."""
    monkeypatch.setattr(devices_module, "DEVICE_BATCH", 2)
    original = devices_module.SpaceDevices._sync_device

    def spy(self: Any, registry: Any, space: Any, device_ids: Any) -> str:
        turns.record(space.id, 1)
        return original(self, registry, space, device_ids)

    monkeypatch.setattr(devices_module.SpaceDevices, "_sync_device", spy)
    await setup_entry(hass, butlr_entry)
    platforms = {"sensor", "binary_sensor"}
    ticks = [seen for what, _, seen in turns.records if what not in platforms]
    devices = dr.async_entries_for_config_entry(
        dr.async_get(hass), butlr_entry.entry_id
    )
    assert len(ticks) == len(devices) > 2
    # Two devices per turn: the loop ran between each pair.
    assert all(later > earlier for earlier, later in itertools.pairwise(ticks[::2]))
