"""What the space selection, entity cap, areas and scale tests share.

Flows are driven as the frontend drives them; what an entry made is read back
from Home Assistant's registries, never from the integration's own objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
import json
import logging
from pathlib import Path
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntry
from homeassistant.const import (
    CONF_API_KEY,
    CONF_API_TOKEN,
    CONF_PASSWORD,
    CONF_USERNAME,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType
from homeassistant.helpers import (
    device_registry as dr,
    entity_platform,
    entity_registry as er,
)
import pytest

import custom_components.space_occupancy
from custom_components.space_occupancy.const import (
    AUTH_BUTLR_ACCOUNT,
    AUTH_CONCORDIA,
    AUTH_OCCUSPACE,
    CONF_ACCOUNT_KEY,
    CONF_AREAS,
    CONF_BASE_URL,
    CONF_SPACES,
    CONF_USER_ID,
    DOMAIN,
)

from .simulator.butlr import ACCOUNT, ButlrRoom, ButlrScenario, ButlrSensor
from .simulator.concordia import SEED_API_KEY, SEED_USER_ID
from .simulator.occuspace import SEED_TOKEN

STRINGS = json.loads(
    (
        Path(custom_components.space_occupancy.__file__).parent / "strings.json"
    ).read_text(encoding="utf-8")
)
CAP_CONSTANT = "MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY"
# Home Assistant's own warning when it drops an entity over its cap (2026.x).
CAP_WARNING = "Reached the maximum of"
# Every space's entities enabled by default, whatever it is.
BASE_KEYS = frozenset(
    {"occupancy", "activity", "usual_occupancy", "versus_usual", "occupied"}
)
# A Butlr room's too: its sensors' health (the other health entities are disabled).
ROOM_KEYS = BASE_KEYS | {"sensor_problem"}
PERCENTAGE_KEY = "occupancy_percentage"
TRAFFIC_KEYS = frozenset({"entries_today", "exits_today"})
# Per credential kind: how to reach its menu, its credentials, its API's path.
KINDS: dict[str, dict[str, Any]] = {
    AUTH_BUTLR_ACCOUNT: {
        "menu": ["butlr", AUTH_BUTLR_ACCOUNT],
        "credentials": {CONF_USERNAME: ACCOUNT[0], CONF_PASSWORD: ACCOUNT[1]},
        "path": "",
    },
    AUTH_OCCUSPACE: {
        "menu": [AUTH_OCCUSPACE],
        "credentials": {CONF_API_TOKEN: SEED_TOKEN},
        "path": "/v1",
    },
    AUTH_CONCORDIA: {
        "menu": [AUTH_CONCORDIA],
        "credentials": {CONF_USER_ID: SEED_USER_ID, CONF_API_KEY: SEED_API_KEY},
        "path": "/API/v1",
    },
}


def ha_has_cap() -> bool:
    """Whether this Home Assistant line caps the enabled entities of an entry."""
    return hasattr(entity_platform, CAP_CONSTANT)


@contextmanager
def entity_cap(cap: int) -> Iterator[None]:
    """Make Home Assistant's per-entry cap ``cap``.

    On 2026.x Home Assistant itself then drops entities past it (and warns);
    2025.4 has no cap at all: the constant is created for the integration to
    read, and only the integration's own budget can keep to it.
    """
    with patch.object(entity_platform, CAP_CONSTANT, cap, create=True):
        yield


def cap_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Home Assistant's 'reached the maximum' warnings logged so far.

    Only 2026.x can log it: on 2025.4 the list is empty whatever happens.
    """
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING and CAP_WARNING in record.getMessage()
    ]


async def start_flow(hass: HomeAssistant, kind: str, base_url: str) -> FlowResult:
    """Walk a new entry's flow to its spaces step, past the credentials."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    for step in KINDS[kind]["menu"]:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": step}
        )
    return await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            **KINDS[kind]["credentials"],
            "advanced": {CONF_BASE_URL: base_url + KINDS[kind]["path"]},
        },
    )


def assert_spaces_form(
    result: FlowResult, errors: dict[str, str] | None = None, flow: str = "config"
) -> None:
    """A spaces form with these errors, its fields and errors translated."""
    assert result["type"] is FlowResultType.FORM, result
    assert result["step_id"] == "spaces"
    assert (result["errors"] or {}) == (errors or {})
    texts = STRINGS[flow]["step"]["spaces"]
    for field in result["data_schema"].schema:
        assert field in texts["data"]
    for error in (errors or {}).values():
        assert error in STRINGS[flow]["error"]


def offered(result: FlowResult) -> dict[str, str]:
    """The spaces a spaces form offers: id -> label, in the form's order."""
    for key, selector in result["data_schema"].schema.items():
        if key == CONF_SPACES:
            return {
                option["value"]: option["label"]
                for option in selector.config["options"]
            }
    raise AssertionError("no spaces field")


def default_picks(result: FlowResult) -> list[str]:
    """The spaces a spaces form has picked when it opens."""
    return list(result["data_schema"]({})[CONF_SPACES])


async def answer_spaces(
    hass: HomeAssistant,
    result: FlowResult,
    picks: list[str] | None = None,
    *,
    areas: bool | None = None,
    options_flow: bool = False,
) -> FlowResult:
    """Submit a spaces form: its default picks unless told."""
    user_input = dict(result["data_schema"]({}))
    if picks is not None:
        user_input[CONF_SPACES] = picks
    if areas is not None:
        user_input[CONF_AREAS] = areas
    manager = hass.config_entries.options if options_flow else hass.config_entries.flow
    return await manager.async_configure(result["flow_id"], user_input)


async def open_options_spaces(hass: HomeAssistant, entry: ConfigEntry) -> FlowResult:
    """Open an entry's options at the spaces step."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert "spaces" in result["menu_options"]
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "spaces"}
    )


def account_key(entry: ConfigEntry) -> str:
    """The account key an entry's ids are built on."""
    return str(entry.data.get(CONF_ACCOUNT_KEY) or entry.unique_id)


def space_of_device(entry: ConfigEntry, device: dr.DeviceEntry) -> str | None:
    """The space a device of the entry stands for."""
    prefix = f"{account_key(entry)}_"
    return next(
        (
            identifier.removeprefix(prefix)
            for domain, identifier in device.identifiers
            if domain == DOMAIN and identifier.startswith(prefix)
        ),
        None,
    )


def devices_by_space(
    hass: HomeAssistant, entry: ConfigEntry
) -> dict[str, dr.DeviceEntry]:
    """The entry's devices, by space id."""
    return {
        space_id: device
        for device in dr.async_entries_for_config_entry(
            dr.async_get(hass), entry.entry_id
        )
        if (space_id := space_of_device(entry, device)) is not None
    }


def enabled_entities(hass: HomeAssistant, entry: ConfigEntry) -> list[er.RegistryEntry]:
    """The entry's enabled entities in the entity registry (what the cap counts)."""
    return [
        registry_entry
        for registry_entry in er.async_entries_for_config_entry(
            er.async_get(hass), entry.entry_id
        )
        if registry_entry.disabled_by is None
    ]


def keys_by_space(
    hass: HomeAssistant, entry: ConfigEntry, spaces: Iterable[str]
) -> dict[str, set[str]]:
    """The keys of each space's enabled entities: ``{account}_{space}_{key}``."""
    wanted = set(spaces)
    prefix = f"{account_key(entry)}_"
    found: dict[str, set[str]] = {space_id: set() for space_id in wanted}
    for registry_entry in enabled_entities(hass, entry):
        rest = registry_entry.unique_id.removeprefix(prefix)
        # Space ids hold underscores: the longest space id that fits.
        for space_id in sorted(wanted, key=len, reverse=True):
            if rest.startswith(f"{space_id}_"):
                found[space_id].add(rest.removeprefix(f"{space_id}_"))
                break
    return found


def states_of_entry(hass: HomeAssistant, entry: ConfigEntry) -> dict[str, str]:
    """The state of each of the entry's enabled entities (missing: not added)."""
    return {
        registry_entry.entity_id: state.state
        for registry_entry in enabled_entities(hass, entry)
        if (state := hass.states.get(registry_entry.entity_id)) is not None
    }


def add_rooms(scenario: ButlrScenario, *names: str) -> None:
    """Add presence rooms of capacity 4 (7 enabled entities each) to the demo's floor."""
    floor = scenario.sites[0].buildings[0].floors[0]
    for name in names:
        room_id = f"room_{name.lower().replace(' ', '_')}"
        floor.rooms.append(
            ButlrRoom(
                room_id,
                name,
                capacity=4,
                sensors=[ButlrSensor(f"mac-{room_id}", "presence", people=1)],
            )
        )
