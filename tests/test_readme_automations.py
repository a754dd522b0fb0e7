"""The README's floor automation runs as written, on the line it is written for.

Home Assistant 2025.12 and newer: the ``occupancy.cleared`` trigger with a
floor as target. Older lines: the Butlr floor's own Occupied sensor. Both are
read from README.md itself, so that the README cannot drift from what works.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import floor_registry as fr
from homeassistant.loader import async_get_integration
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
)
import yaml

from custom_components.space_occupancy.const import CONF_AREAS

from .conftest import poll, setup_entry
from .simulator.butlr import ButlrScenario

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)


def _block_with(text: str) -> str:
    (block,) = [block for block in YAML_BLOCKS if text in block]
    return block


async def _has_occupancy_triggers(hass: HomeAssistant) -> bool:
    """Whether this line has the ``occupancy`` triggers (2025.12 and newer)."""
    try:
        integration = await async_get_integration(hass, "occupancy")
    except Exception:  # noqa: BLE001 - the loader's IntegrationNotFound on older lines
        return False
    return integration.file_path.joinpath("trigger.py").exists()


async def _floor_automation(hass: HomeAssistant) -> dict[str, Any]:
    """The README's automation, with the older lines' trigger where it must be."""
    automation: dict[str, Any] = yaml.safe_load(
        _block_with("First floor lights off when the floor is empty")
    )["automation"][0]
    if not await _has_occupancy_triggers(hass):
        older = yaml.safe_load(_block_with("binary_sensor.first_floor_occupied"))
        automation = {
            "alias": automation["alias"],
            **older,
            "actions": automation["actions"],
        }
    return automation


def _empty_every_room(scenario: ButlrScenario) -> None:
    """Everyone leaves: presence sensors see nobody, the cafeteria's 5 walk out."""
    for room in scenario.sites[0].buildings[0].floors[0].rooms:
        for sensor in room.sensors:
            sensor.people = 0
        if room.id == "room_cafeteria":
            room.traffic.append((dt_util.utcnow(), 0, 5))


async def test_the_floor_goes_dark_ten_minutes_after_its_last_room_empties(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Rooms in areas on the First floor; all empty for 10 minutes: lights off."""
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_AREAS: True})
    await setup_entry(hass, butlr_entry)
    await hass.async_block_till_done(wait_background_tasks=True)
    floor = fr.async_get(hass).async_get_floor_by_name("First floor")
    assert floor is not None
    assert floor.floor_id == "first_floor"
    turned_off = async_mock_service(hass, "light", "turn_off")
    automation = await _floor_automation(hass)
    assert await async_setup_component(hass, "automation", {"automation": [automation]})
    await hass.async_block_till_done()

    _empty_every_room(butlr_scenario)
    await poll(hass, freezer, 60)
    for room in ("meeting_room", "focus_room", "cafeteria", "first_floor"):
        assert hass.states.get(f"binary_sensor.{room}_occupied").state == "off"
    freezer.tick(timedelta(minutes=9))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert turned_off == []
    freezer.tick(timedelta(minutes=1, seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert [call.data for call in turned_off] in (
        [{"floor_id": "first_floor"}],
        [{"floor_id": ["first_floor"]}],  # 2025.4 makes a list of the target
    )


@pytest.mark.parametrize(
    "text", ["occupancy.cleared", "binary_sensor.first_floor_occupied"]
)
def test_both_variants_are_in_the_readme(text: str) -> None:
    """The README shows the trigger of each line."""
    assert _block_with(text)
