"""Fixtures for the Space Occupancy tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
import logging
from pathlib import Path
from unittest.mock import PropertyMock, patch

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import (
    CONF_API_KEY,
    CONF_API_TOKEN,
    CONF_PASSWORD,
    CONF_USERNAME,
    EVENT_STATE_CHANGED,
    MAJOR_VERSION,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.entity import Entity
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion
from syrupy.location import PyTestLocation

# Import the integration before any test runs: otherwise Home Assistant's loader
# finds the test harness's own (empty) custom_components package first.
import custom_components.space_occupancy  # noqa: F401
from custom_components.space_occupancy.const import (
    AUTH_BUTLR_ACCOUNT,
    AUTH_CONCORDIA,
    AUTH_OCCUSPACE,
    CONF_AUTH_METHOD,
    CONF_BASE_URL,
    CONF_PROVIDER,
    CONF_USER_ID,
    DOMAIN,
)
from custom_components.space_occupancy.providers import (
    PROVIDER_BUTLR,
    PROVIDER_CONCORDIA,
    PROVIDER_OCCUSPACE,
)

from .simulator import Simulator, create_app
from .simulator.butlr import ACCOUNT, ButlrScenario, demo_scenario
from .simulator.concordia import SEED_API_KEY, SEED_USER_ID
from .simulator.occuspace import SEED_TOKEN

# The harness logs every SQL statement at INFO; the recorder's thread writes
# them past the test's output capture, thousands per recorder test.
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


def usage_reports(records: Iterable[logging.LogRecord]) -> list[str]:
    """Return what Home Assistant logged against the integration's use of its API.

    Home Assistant logs a warning, naming the integration and asking users to
    report it, for every deprecated or wrong call an integration makes.
    """
    return [
        message
        for record in records
        if record.levelno >= logging.WARNING
        and (
            f"custom integration '{DOMAIN}'" in (message := record.getMessage())
            or ("deprecat" in message.lower() and DOMAIN in message)
        )
    ]


@pytest.fixture(autouse=True)
def no_usage_report(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail any test in which Home Assistant reports the integration's use of its API."""
    yield
    assert usage_reports(caplog.get_records("call")) == []


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components."""


class LineSnapshotExtension(HomeAssistantSnapshotExtension):
    """Snapshots kept per Home Assistant line: its registry and states differ."""

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        """Return ``snapshots/ha<major version>`` beside the test file."""
        return str(
            Path(test_location.filepath).parent / "snapshots" / f"ha{MAJOR_VERSION}"
        )


@pytest.fixture
def line_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """A snapshot assertion for what differs between Home Assistant lines."""
    return snapshot.use_extension(LineSnapshotExtension)


class SimulatorServer(Simulator):
    """A simulator with the URL it listens on."""

    base_url: str = ""


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Create every entity enabled, those disabled by default too."""
    with patch.object(
        Entity,
        "entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
async def simulator(socket_enabled: None) -> AsyncIterator[SimulatorServer]:
    """The provider simulator listening on loopback."""
    sim = SimulatorServer()
    server = TestServer(create_app(sim), host="127.0.0.1")
    await server.start_server()
    sim.base_url = str(server.make_url("")).rstrip("/")
    yield sim
    await server.close()


@pytest.fixture
async def session(socket_enabled: None) -> AsyncIterator[ClientSession]:
    """A plain aiohttp session for testing the provider clients on their own."""
    async with ClientSession() as client_session:
        yield client_session


NOW = datetime(2024, 6, 12, 15, 0, tzinfo=UTC)


@pytest.fixture
def butlr_scenario(
    simulator: SimulatorServer, freezer: FrozenDateTimeFactory
) -> ButlrScenario:
    """The demo Butlr organisation, on a frozen clock."""
    freezer.move_to(NOW)
    simulator.butlr = demo_scenario(NOW)
    return simulator.butlr


@pytest.fixture
def butlr_entry(hass: HomeAssistant, simulator: SimulatorServer) -> MockConfigEntry:
    """A Butlr account entry pointing at the simulator."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"Butlr ({ACCOUNT[0]})",
        unique_id=f"butlr_{ACCOUNT[0]}",
        version=2,
        data={
            CONF_PROVIDER: PROVIDER_BUTLR,
            CONF_AUTH_METHOD: AUTH_BUTLR_ACCOUNT,
            CONF_USERNAME: ACCOUNT[0],
            CONF_PASSWORD: ACCOUNT[1],
            CONF_BASE_URL: simulator.base_url,
        },
    )
    entry.add_to_hass(hass)
    return entry


def find_device(
    hass: HomeAssistant, entry: MockConfigEntry, space_id: str
) -> dr.DeviceEntry | None:
    """Return the device of a space, looked up the same way on every HA line.

    (``DeviceRegistry.async_get_device`` is deprecated on 2026.x.)
    """
    wanted = (DOMAIN, f"{entry.unique_id}_{space_id}")
    return next(
        (
            device
            for device in dr.async_entries_for_config_entry(
                dr.async_get(hass), entry.entry_id
            )
            if wanted in device.identifiers
        ),
        None,
    )


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set up an entry and wait until its entities exist."""
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
def occuspace_entry(hass: HomeAssistant, simulator: SimulatorServer) -> MockConfigEntry:
    """An Occuspace entry (root location 1 of the seed) pointing at the simulator."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Occuspace (Sales)",
        unique_id="occuspace_1",
        version=2,
        data={
            CONF_PROVIDER: PROVIDER_OCCUSPACE,
            CONF_AUTH_METHOD: AUTH_OCCUSPACE,
            CONF_API_TOKEN: SEED_TOKEN,
            CONF_BASE_URL: f"{simulator.base_url}/v1",
        },
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
def concordia_entry(hass: HomeAssistant, simulator: SimulatorServer) -> MockConfigEntry:
    """A Concordia entry pointing at the simulator."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"Concordia University ({SEED_USER_ID})",
        unique_id=f"concordia_{SEED_USER_ID}",
        version=2,
        data={
            CONF_PROVIDER: PROVIDER_CONCORDIA,
            CONF_AUTH_METHOD: AUTH_CONCORDIA,
            CONF_USER_ID: SEED_USER_ID,
            CONF_API_KEY: SEED_API_KEY,
            CONF_BASE_URL: f"{simulator.base_url}/API/v1",
        },
    )
    entry.add_to_hass(hass)
    return entry


async def poll(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float
) -> None:
    """Move the clock on and let the coordinator poll."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
def state_changes(hass: HomeAssistant) -> list[str]:
    """The entity ids whose state changed, in order, from now on."""
    changed: list[str] = []

    @callback
    def record(event: Event) -> None:
        changed.append(event.data["entity_id"])

    hass.bus.async_listen(EVENT_STATE_CHANGED, record)
    return changed
