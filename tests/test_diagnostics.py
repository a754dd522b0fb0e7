"""Diagnostics: useful, and never a secret."""

from __future__ import annotations

from datetime import UTC, datetime
import json

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.json import JSONEncoder
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.space_occupancy.const import (
    CONF_ACCOUNT_KEY,
    CONF_BASE_URL,
    CREDENTIAL_KEYS,
)
from custom_components.space_occupancy.diagnostics import (
    async_get_config_entry_diagnostics,
    async_get_device_diagnostics,
)

from .conftest import SimulatorServer, find_device, setup_entry
from .simulator.butlr import ACCOUNT, ButlrScenario
from .simulator.concordia import (
    SEED_API_KEY,
    SEED_USER_ID,
    seed_scenario as concordia_seed_scenario,
)
from .simulator.occuspace import SEED_TOKEN, seed_scenario as occuspace_seed_scenario


async def test_entry_diagnostics(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """The entry redacted, the provider's state and the snapshot."""
    await setup_entry(hass, butlr_entry)
    # Called directly: the frozen 2024 clock would make an HTTP token not yet valid.
    diagnostics = await async_get_config_entry_diagnostics(hass, butlr_entry)
    assert json.loads(json.dumps(diagnostics, cls=JSONEncoder)) == snapshot(
        exclude=props("entry_id", "created_at", "modified_at")
    )
    text = json.dumps(diagnostics, cls=JSONEncoder)
    # The base URL is redacted too: a test server's address, or credentials.
    assert diagnostics["entry"]["data"]["base_url"] == "**REDACTED**"
    assert simulator.base_url.removeprefix("http://") not in text
    for secret in (*ACCOUNT, ACCOUNT[0].lower()):
        assert secret not in text
    for token in butlr_scenario.tokens:
        assert token not in text


async def test_device_diagnostics(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """One space's definition, reading and derived state."""
    await setup_entry(hass, butlr_entry)
    device = find_device(hass, butlr_entry, "room_meeting")
    diagnostics = await async_get_device_diagnostics(hass, butlr_entry, device)
    assert diagnostics["space_id"] == "room_meeting"
    assert diagnostics["state"]["reading"]["occupancy"] == 3
    assert diagnostics["state"]["activity"] == "low"
    text = json.dumps(diagnostics, cls=JSONEncoder)
    assert ACCOUNT[0] not in text
    assert ACCOUNT[1] not in text


@pytest.mark.parametrize("entry_fixture", ["occuspace_entry", "concordia_entry"])
async def test_other_providers_diagnostics_hide_secrets(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    request: pytest.FixtureRequest,
    entry_fixture: str,
) -> None:
    """Occuspace's token and Concordia's user id and key never appear."""
    simulator.occuspace = occuspace_seed_scenario()
    simulator.concordia = concordia_seed_scenario(datetime.now(UTC))
    entry: MockConfigEntry = request.getfixturevalue(entry_fixture)
    await setup_entry(hass, entry)
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    text = json.dumps(diagnostics, cls=JSONEncoder)
    assert diagnostics["snapshot"]["readings"]
    for secret in (SEED_TOKEN, SEED_API_KEY, f'"{SEED_USER_ID}"'):
        assert secret not in text
    # The account key names the account too (a user id, a root location).
    hidden = {*CREDENTIAL_KEYS, CONF_ACCOUNT_KEY, CONF_BASE_URL}
    assert diagnostics["entry"]["data"] == {
        **{key: "**REDACTED**" for key in entry.data if key in hidden},
        **{key: value for key, value in entry.data.items() if key not in hidden},
    }
