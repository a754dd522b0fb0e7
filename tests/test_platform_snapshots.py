"""Every entity of every provider as Home Assistant registers and shows it.

One snapshot per platform: entity ids, names, units, device and state
classes, enum options and states, for the demo Butlr organisation, the seed's
Occuspace locations and the seed's Concordia libraries (all entities enabled,
the diagnostic ones too). Home Assistant's registry entries and states carry
other fields from one line to the next: each line has its own snapshots
(``__snapshots__/<line>/``).
"""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from .conftest import SimulatorServer, setup_entry
from .simulator import concordia, occuspace

pytestmark = pytest.mark.usefixtures("entity_registry_enabled_by_default")


@pytest.fixture(autouse=True)
def seeds(simulator: SimulatorServer) -> None:
    """The seeds' Occuspace locations and Concordia libraries."""
    simulator.occuspace = occuspace.seed_scenario()


@pytest.mark.parametrize("platform", [Platform.SENSOR, Platform.BINARY_SENSOR])
@pytest.mark.parametrize(
    "entry_fixture", ["butlr_entry", "occuspace_entry", "concordia_entry"]
)
@pytest.mark.usefixtures("butlr_scenario")
async def test_platform(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    entity_registry: er.EntityRegistry,
    line_snapshot: SnapshotAssertion,
    request: pytest.FixtureRequest,
    platform: Platform,
    entry_fixture: str,
) -> None:
    """The entities of one platform of one provider's entry."""
    simulator.concordia = concordia.seed_scenario(simulator.clock())
    entry: MockConfigEntry = request.getfixturevalue(entry_fixture)
    with patch("custom_components.space_occupancy.PLATFORMS", [platform]):
        await setup_entry(hass, entry)
    await snapshot_platform(hass, entity_registry, line_snapshot, entry.entry_id)
