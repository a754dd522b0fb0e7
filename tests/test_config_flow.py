"""The config flow, reauth, reconfigure and options, against the simulator."""

from __future__ import annotations

from datetime import timedelta
import json
import logging
from pathlib import Path
import socket
from typing import Any
from unittest.mock import AsyncMock, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
)
from homeassistant.const import (
    CONF_API_KEY,
    CONF_API_TOKEN,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_PASSWORD,
    CONF_SCAN_INTERVAL,
    CONF_USERNAME,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import (
    FlowResult,
    FlowResultType,
    InvalidData,
    section,
)
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

import custom_components.space_occupancy
from custom_components.space_occupancy.const import (
    AUTH_BUTLR_ACCOUNT,
    AUTH_BUTLR_API_CLIENT,
    AUTH_CONCORDIA,
    AUTH_OCCUSPACE,
    CONF_ACCOUNT_ID,
    CONF_ACCOUNT_KEY,
    CONF_AREAS,
    CONF_AUTH_METHOD,
    CONF_BASE_URL,
    CONF_CAPACITIES,
    CONF_DOOR_LINE_COUNT,
    CONF_HISTORY_DAYS,
    CONF_PROVIDER,
    CONF_PUSH,
    CONF_SPACES,
    CONF_STALE_MINUTES,
    CONF_THRESHOLD_HIGH,
    CONF_THRESHOLD_LOW,
    CONF_THRESHOLD_MODERATE,
    CONF_USER_ID,
    DEFAULT_HISTORY_DAYS,
    DOMAIN,
    PROVIDER_OF_AUTH,
)
from custom_components.space_occupancy.providers import (
    DEFAULT_BASE_URLS,
    Account,
    Reading,
    Snapshot,
    Space,
    SpaceKind,
)
from custom_components.space_occupancy.providers.selection import PATH_SEPARATOR

from .conftest import NOW, SimulatorServer, setup_entry, usage_reports
from .simulator import Fault, concordia, occuspace
from .simulator.butlr import (
    ACCOUNT,
    API_CLIENT,
    ButlrRoom,
    ButlrScenario,
    ButlrSensor,
    one_room_site,
)
from .simulator.occuspace import OccuspaceLocation, OccuspaceScenario

STRINGS = json.loads(
    (
        Path(custom_components.space_occupancy.__file__).parent / "strings.json"
    ).read_text(encoding="utf-8")
)
PROVIDERS = "custom_components.space_occupancy.providers"
VALIDATE = {
    AUTH_BUTLR_ACCOUNT: f"{PROVIDERS}.butlr.ButlrClient.async_validate",
    AUTH_BUTLR_API_CLIENT: f"{PROVIDERS}.butlr.ButlrClient.async_validate",
    AUTH_OCCUSPACE: f"{PROVIDERS}.occuspace.OccuspaceClient.async_validate",
    AUTH_CONCORDIA: f"{PROVIDERS}.concordia.ConcordiaClient.async_validate",
}
# Reading the whole account once credentials are accepted (the spaces step).
FETCH = {
    kind: path.replace("async_validate", "async_fetch")
    for kind, path in VALIDATE.items()
}
SETUP_ENTRY = "custom_components.space_occupancy.async_setup_entry"
# The collapsed section of the credential forms that holds the base URL.
ADVANCED = "advanced"
NEW_SECRET = "rotated-secret-value"


# Per credential kind: the simulator path of its API, the credentials the seed
# scenarios accept, the secret field, and the entry the flow makes of them.
CASES: dict[str, dict[str, Any]] = {
    AUTH_BUTLR_ACCOUNT: {
        "path": "",
        "credentials": {CONF_USERNAME: ACCOUNT[0], CONF_PASSWORD: ACCOUNT[1]},
        "secret": CONF_PASSWORD,
        "title": f"Butlr ({ACCOUNT[0]})",
        "unique_id": ACCOUNT[0],
    },
    AUTH_BUTLR_API_CLIENT: {
        "path": "",
        "credentials": {
            CONF_CLIENT_ID: API_CLIENT[0],
            CONF_CLIENT_SECRET: API_CLIENT[1],
        },
        "secret": CONF_CLIENT_SECRET,
        "title": f"Butlr ({API_CLIENT[0]})",
        "unique_id": API_CLIENT[0],
    },
    AUTH_OCCUSPACE: {
        "path": "/v1",
        "credentials": {CONF_API_TOKEN: occuspace.SEED_TOKEN},
        "secret": CONF_API_TOKEN,
        "title": "Occuspace (Sales)",
        "unique_id": "1",
    },
    AUTH_CONCORDIA: {
        "path": "/API/v1",
        "credentials": {
            CONF_USER_ID: concordia.SEED_USER_ID,
            CONF_API_KEY: concordia.SEED_API_KEY,
        },
        "secret": CONF_API_KEY,
        "title": f"Concordia University ({concordia.SEED_USER_ID})",
        "unique_id": concordia.SEED_USER_ID,
    },
}


def _rotate_secret(simulator: SimulatorServer, kind: str) -> None:
    """Make the provider accept NEW_SECRET instead of the seed's secret."""
    if kind == AUTH_BUTLR_ACCOUNT:
        simulator.butlr.accounts[ACCOUNT[0]] = NEW_SECRET
    elif kind == AUTH_BUTLR_API_CLIENT:
        simulator.butlr.api_clients[API_CLIENT[0]] = NEW_SECRET
    elif kind == AUTH_OCCUSPACE:
        simulator.occuspace.tokens = {NEW_SECRET}
    else:
        simulator.concordia.credentials = {concordia.SEED_USER_ID: NEW_SECRET}


@pytest.fixture
def providers(
    simulator: SimulatorServer, butlr_scenario: ButlrScenario
) -> SimulatorServer:
    """All three simulated providers serving their seed scenarios, clock at NOW."""
    simulator.occuspace = occuspace.seed_scenario()
    simulator.concordia = concordia.seed_scenario(NOW)
    return simulator


def _entry_unique_id(kind: str) -> str:
    """The entry's unique id: the account's id, scoped by its provider."""
    return f"{PROVIDER_OF_AUTH[kind]}_{CASES[kind]['unique_id']}"


def _entry_data(simulator: SimulatorServer, kind: str) -> dict[str, Any]:
    return {
        CONF_PROVIDER: PROVIDER_OF_AUTH[kind],
        CONF_AUTH_METHOD: kind,
        **CASES[kind]["credentials"],
        CONF_BASE_URL: simulator.base_url + CASES[kind]["path"],
        CONF_ACCOUNT_KEY: _entry_unique_id(kind),
    }


def _add_entry(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    kind: str,
    options: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """An entry of a credential kind, as the flow creates it, on the simulator."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=CASES[kind]["title"],
        unique_id=_entry_unique_id(kind),
        version=2,
        minor_version=2,
        data=_entry_data(simulator, kind),
        options=options or {},
    )
    entry.add_to_hass(hass)
    return entry


def _sections(result: FlowResult) -> dict[str, section]:
    """A form's sections by name."""
    return {
        str(key): value
        for key, value in result["data_schema"].schema.items()
        if isinstance(value, section)
    }


def _fields(result: FlowResult) -> dict[str, Any]:
    """A form's fields, those of its sections too, with their suggested values."""
    schemas = [result["data_schema"], *(s.schema for s in _sections(result).values())]
    return {
        str(key): (key.description or {}).get("suggested_value")
        for schema in schemas
        for key, value in schema.schema.items()
        if not isinstance(value, section)
    }


async def _configure(
    hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]
) -> FlowResult:
    """Submit a form as the frontend does: the base URL inside the advanced section."""
    if CONF_BASE_URL in user_input:
        user_input = {**user_input}
        user_input[ADVANCED] = {CONF_BASE_URL: user_input.pop(CONF_BASE_URL)}
    return await hass.config_entries.flow.async_configure(flow_id, user_input)


def _assert_form(
    result: FlowResult, step_id: str, errors: dict[str, str], flow: str = "config"
) -> None:
    """A form of this step with these errors, every field and error translated."""
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == step_id
    assert (result["errors"] or {}) == errors
    texts = STRINGS[flow]["step"][step_id]
    sections = _sections(result)
    for field in result["data_schema"].schema:
        if str(field) in sections:
            continue
        assert field in texts["data"]
        assert field in texts["data_description"]
    for name, form_section in sections.items():
        assert texts["sections"][name]["name"]
        for field in form_section.schema.schema:
            assert field in texts["sections"][name]["data"]
            assert field in texts["sections"][name]["data_description"]
    for error in errors.values():
        assert error in STRINGS[flow]["error"]


async def _pick_spaces(
    hass: HomeAssistant, result: FlowResult, picks: list[str] | None = None
) -> FlowResult:
    """Answer the spaces step: the default picks unless told."""
    _assert_form(result, "spaces", {})
    user_input = result["data_schema"]({})
    if picks is not None:
        user_input[CONF_SPACES] = picks
    return await hass.config_entries.flow.async_configure(result["flow_id"], user_input)


def _assert_abort(result: FlowResult, reason: str) -> None:
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    assert reason in STRINGS["config"]["abort"]


async def _open_form(hass: HomeAssistant, kind: str) -> FlowResult:
    """Walk the provider menus to a credential kind's form."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "user"
    assert result["menu_options"] == ["butlr", AUTH_OCCUSPACE, AUTH_CONCORDIA]
    if kind in (AUTH_BUTLR_ACCOUNT, AUTH_BUTLR_API_CLIENT):
        result = await _configure(hass, result["flow_id"], {"next_step_id": "butlr"})
        assert result["type"] is FlowResultType.MENU
        assert result["step_id"] == "butlr"
        assert result["menu_options"] == [AUTH_BUTLR_ACCOUNT, AUTH_BUTLR_API_CLIENT]
    result = await _configure(hass, result["flow_id"], {"next_step_id": kind})
    _assert_form(result, kind, {})
    return result


def _closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- Adding an entry ---------------------------------------------------------


@pytest.mark.parametrize("kind", list(CASES))
async def test_create_entry(
    hass: HomeAssistant, providers: SimulatorServer, kind: str
) -> None:
    """Each credential kind is tested against the provider and becomes a working entry."""
    case = CASES[kind]
    base_url = providers.base_url + case["path"]
    result = await _open_form(hass, kind)
    assert set(_fields(result)) == {*case["credentials"], CONF_BASE_URL}

    wrong = {**case["credentials"], case["secret"]: "wrong", CONF_BASE_URL: base_url}
    result = await _configure(hass, result["flow_id"], wrong)
    _assert_form(result, kind, {"base": "invalid_auth"})
    # What was typed stays in the form.
    assert _fields(result)[CONF_BASE_URL] == base_url

    result = await _configure(
        hass, result["flow_id"], {**case["credentials"], CONF_BASE_URL: base_url}
    )
    result = await _pick_spaces(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == case["title"]
    assert result["data"] == _entry_data(providers, kind)
    # The whole account (no list: new spaces come too), rooms into areas.
    assert result["options"] == {CONF_AREAS: True}
    entry = result["result"]
    assert entry.unique_id == _entry_unique_id(kind)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED


@pytest.mark.parametrize("kind", list(CASES))
async def test_create_entry_real_api(hass: HomeAssistant, kind: str) -> None:
    """The base URL waits in a collapsed section, set to the provider's real API.

    A user who never opens the section gets an entry on the real API.
    """
    case = CASES[kind]
    account = Account(unique_id=case["unique_id"], title=case["title"])
    lobby = Space("lobby", "Lobby", SpaceKind.ROOM)
    snapshot = Snapshot({"lobby": lobby}, {"lobby": Reading(occupancy=1)}, NOW)
    with (
        patch(VALIDATE[kind], AsyncMock(return_value=account)) as validate,
        patch(FETCH[kind], AsyncMock(return_value=snapshot)),
        patch(SETUP_ENTRY, return_value=True),
    ):
        result = await _open_form(hass, kind)
        advanced = _sections(result)[ADVANCED]
        assert advanced.options == {"collapsed": True}
        real_api = DEFAULT_BASE_URLS[PROVIDER_OF_AUTH[kind]]
        assert _fields(result) == {
            **dict.fromkeys(case["credentials"]),
            CONF_BASE_URL: real_api,
        }
        # What the frontend sends for an untouched section: its suggested values.
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {**case["credentials"], ADVANCED: {CONF_BASE_URL: real_api}},
        )
        result = await _pick_spaces(hass, result)
        await hass.async_block_till_done()
    validate.assert_awaited_once()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == case["title"]
    assert result["result"].unique_id == _entry_unique_id(kind)
    assert result["data"] == {
        CONF_PROVIDER: PROVIDER_OF_AUTH[kind],
        CONF_AUTH_METHOD: kind,
        **case["credentials"],
        CONF_BASE_URL: real_api,
        CONF_ACCOUNT_KEY: _entry_unique_id(kind),
    }


async def test_butlr_cannot_connect_then_recovers(
    hass: HomeAssistant, providers: SimulatorServer
) -> None:
    """A provider answering 5xx is cannot_connect; the next try creates the entry."""
    providers.inject(Fault("/api/v2/login", status=500))
    result = await _open_form(hass, AUTH_BUTLR_ACCOUNT)
    user_input = {
        **CASES[AUTH_BUTLR_ACCOUNT]["credentials"],
        CONF_BASE_URL: providers.base_url,
    }
    result = await _configure(hass, result["flow_id"], user_input)
    _assert_form(result, AUTH_BUTLR_ACCOUNT, {"base": "cannot_connect"})

    result = await _configure(hass, result["flow_id"], user_input)
    result = await _pick_spaces(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_cannot_connect_closed_port(
    hass: HomeAssistant, simulator: SimulatorServer
) -> None:
    """Nothing listening at the base URL is cannot_connect."""
    result = await _open_form(hass, AUTH_OCCUSPACE)
    result = await _configure(
        hass,
        result["flow_id"],
        {
            CONF_API_TOKEN: occuspace.SEED_TOKEN,
            CONF_BASE_URL: f"http://127.0.0.1:{_closed_port()}/v1",
        },
    )
    _assert_form(result, AUTH_OCCUSPACE, {"base": "cannot_connect"})


async def test_unexpected_error_then_recovers(
    hass: HomeAssistant, providers: SimulatorServer
) -> None:
    """An unexpected exception is unknown; the next try creates the entry."""
    result = await _open_form(hass, AUTH_BUTLR_API_CLIENT)
    user_input = {
        **CASES[AUTH_BUTLR_API_CLIENT]["credentials"],
        CONF_BASE_URL: providers.base_url,
    }
    with patch(VALIDATE[AUTH_BUTLR_API_CLIENT], side_effect=Exception("boom")):
        result = await _configure(hass, result["flow_id"], user_input)
    _assert_form(result, AUTH_BUTLR_API_CLIENT, {"base": "unknown"})

    result = await _configure(hass, result["flow_id"], user_input)
    result = await _pick_spaces(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == f"butlr_{API_CLIENT[0]}"
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://butlr.example.com",
        "http://127.0.0.1:8080",
        "http://localhost:8080",
        "http://LOCALHOST",
        "http://[::1]:8080",
    ],
)
async def test_base_url_accepted(hass: HomeAssistant, url: str) -> None:
    """Https anywhere, plain http for loopback hosts only."""
    account = Account(unique_id=ACCOUNT[0], title=CASES[AUTH_BUTLR_ACCOUNT]["title"])
    lobby = Space("lobby", "Lobby", SpaceKind.ROOM)
    snapshot = Snapshot({"lobby": lobby}, {"lobby": Reading(occupancy=1)}, NOW)
    with (
        patch(VALIDATE[AUTH_BUTLR_ACCOUNT], AsyncMock(return_value=account)),
        patch(FETCH[AUTH_BUTLR_ACCOUNT], AsyncMock(return_value=snapshot)),
        patch(SETUP_ENTRY, return_value=True),
    ):
        result = await _open_form(hass, AUTH_BUTLR_ACCOUNT)
        result = await _configure(
            hass,
            result["flow_id"],
            {**CASES[AUTH_BUTLR_ACCOUNT]["credentials"], CONF_BASE_URL: url},
        )
        result = await _pick_spaces(hass, result)
        await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_BASE_URL] == url


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://example.com", "insecure_url"),
        ("http://192.168.1.10:8080", "insecure_url"),
        ("http://localhost.example.com", "insecure_url"),
        ("not a url", "invalid_url"),
        ("ftp://example.com", "invalid_url"),
        ("https://", "invalid_url"),
        ("http://[::1", "invalid_url"),
        ("https://someone:secret@butlr.example.com", "url_with_credentials"),
        ("https://someone@butlr.example.com", "url_with_credentials"),
        ("https://:token@butlr.example.com", "url_with_credentials"),
        ("http://someone:secret@127.0.0.1:8080", "url_with_credentials"),
    ],
)
async def test_base_url_refused(hass: HomeAssistant, url: str, error: str) -> None:
    """A refused base URL is a field error, and the credentials are never sent."""
    with patch(VALIDATE[AUTH_BUTLR_ACCOUNT]) as validate:
        result = await _open_form(hass, AUTH_BUTLR_ACCOUNT)
        result = await _configure(
            hass,
            result["flow_id"],
            {**CASES[AUTH_BUTLR_ACCOUNT]["credentials"], CONF_BASE_URL: url},
        )
    _assert_form(result, AUTH_BUTLR_ACCOUNT, {ADVANCED: error})
    validate.assert_not_called()
    assert _fields(result)[CONF_BASE_URL] == url
    # The error is shown above the section, and the section opens to show the URL.
    assert _sections(result)[ADVANCED].options == {"collapsed": False}


async def test_already_configured(
    hass: HomeAssistant, providers: SimulatorServer, butlr_entry: MockConfigEntry
) -> None:
    """The same account twice aborts, leaving the first entry alone."""
    result = await _open_form(hass, AUTH_BUTLR_ACCOUNT)
    result = await _configure(
        hass,
        result["flow_id"],
        {
            **CASES[AUTH_BUTLR_ACCOUNT]["credentials"],
            CONF_BASE_URL: providers.base_url,
        },
    )
    _assert_abort(result, "already_configured")
    assert hass.config_entries.async_entries(DOMAIN) == [butlr_entry]


@pytest.mark.parametrize("kind", list(CASES))
async def test_account_without_spaces_aborts(
    hass: HomeAssistant, providers: SimulatorServer, kind: str
) -> None:
    """Credentials that work but show no space abort with no_spaces, creating nothing.

    Butlr's topology lists no site, Occuspace's location list is empty, the
    Concordia feed's object holds no library.
    """
    providers.butlr.sites = []
    providers.occuspace = OccuspaceScenario(locations=[], tokens={occuspace.SEED_TOKEN})
    providers.concordia.libraries = {}
    case = CASES[kind]
    result = await _open_form(hass, kind)
    result = await _configure(
        hass,
        result["flow_id"],
        {**case["credentials"], CONF_BASE_URL: providers.base_url + case["path"]},
    )
    _assert_abort(result, "no_spaces")
    assert hass.config_entries.async_entries(DOMAIN) == []


# --- Reauthentication -----------------------------------------------------------


@pytest.mark.parametrize("kind", list(CASES))
async def test_reauth(
    hass: HomeAssistant, providers: SimulatorServer, kind: str
) -> None:
    """Reauth asks only for the secret, tests it, stores it and reloads the entry."""
    entry = _add_entry(hass, providers, kind)
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    _rotate_secret(providers, kind)
    secret = CASES[kind]["secret"]

    result = await entry.start_reauth_flow(hass)
    _assert_form(result, "reauth_confirm", {})
    assert set(_fields(result)) == {secret}
    assert result["description_placeholders"]["account"] == entry.title

    # The old secret no longer works.
    result = await _configure(
        hass, result["flow_id"], {secret: CASES[kind]["credentials"][secret]}
    )
    _assert_form(result, "reauth_confirm", {"base": "invalid_auth"})

    result = await _configure(hass, result["flow_id"], {secret: NEW_SECRET})
    _assert_abort(result, "reauth_successful")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert dict(entry.data) == {**_entry_data(providers, kind), secret: NEW_SECRET}
    assert entry.unique_id == _entry_unique_id(kind)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not coordinator  # reloaded


async def test_reauth_account_without_spaces(
    hass: HomeAssistant, providers: SimulatorServer
) -> None:
    """Reauth of an account that has no space left aborts with no_spaces."""
    entry = _add_entry(hass, providers, AUTH_CONCORDIA)
    providers.concordia.libraries = {}
    result = await entry.start_reauth_flow(hass)
    result = await _configure(
        hass, result["flow_id"], {CONF_API_KEY: concordia.SEED_API_KEY}
    )
    _assert_abort(result, "no_spaces")


async def test_reauth_other_account(
    hass: HomeAssistant, simulator: SimulatorServer
) -> None:
    """A token of another Occuspace organisation aborts and changes nothing."""
    entry = _add_entry(hass, simulator, AUTH_OCCUSPACE)
    simulator.occuspace = OccuspaceScenario(
        locations=[OccuspaceLocation(7, "Marketing", None, 50, count=3)],
        tokens={"marketing-token"},
    )
    result = await entry.start_reauth_flow(hass)
    result = await _configure(
        hass, result["flow_id"], {CONF_API_TOKEN: "marketing-token"}
    )
    _assert_abort(result, "unique_id_mismatch")
    assert dict(entry.data) == _entry_data(simulator, AUTH_OCCUSPACE)
    assert entry.unique_id == "occuspace_1"


# --- Reconfiguration ------------------------------------------------------------


async def test_reconfigure_butlr_account(
    hass: HomeAssistant, providers: SimulatorServer, butlr_entry: MockConfigEntry
) -> None:
    """Butlr: pick the kind, see the current values (not the secret), change them."""
    await setup_entry(hass, butlr_entry)
    coordinator = butlr_entry.runtime_data
    _rotate_secret(providers, AUTH_BUTLR_ACCOUNT)

    result = await butlr_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "reconfigure"
    assert result["menu_options"] == [AUTH_BUTLR_ACCOUNT, AUTH_BUTLR_API_CLIENT]
    result = await _configure(
        hass, result["flow_id"], {"next_step_id": AUTH_BUTLR_ACCOUNT}
    )
    _assert_form(result, AUTH_BUTLR_ACCOUNT, {})
    assert _fields(result) == {
        CONF_USERNAME: ACCOUNT[0],
        CONF_PASSWORD: None,
        CONF_BASE_URL: providers.base_url,
    }

    user_input = {
        CONF_USERNAME: ACCOUNT[0],
        CONF_PASSWORD: ACCOUNT[1],
        CONF_BASE_URL: "http://example.com",
    }
    result = await _configure(hass, result["flow_id"], user_input)
    _assert_form(result, AUTH_BUTLR_ACCOUNT, {ADVANCED: "insecure_url"})

    user_input[CONF_BASE_URL] = providers.base_url
    result = await _configure(hass, result["flow_id"], user_input)
    _assert_form(result, AUTH_BUTLR_ACCOUNT, {"base": "invalid_auth"})

    user_input[CONF_PASSWORD] = NEW_SECRET
    result = await _configure(hass, result["flow_id"], user_input)
    result = await _pick_spaces(hass, result)
    _assert_abort(result, "reconfigure_successful")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert dict(butlr_entry.data) == {
        **_entry_data(providers, AUTH_BUTLR_ACCOUNT),
        CONF_PASSWORD: NEW_SECRET,
    }
    assert butlr_entry.state is ConfigEntryState.LOADED
    assert butlr_entry.runtime_data is not coordinator  # reloaded


async def test_reconfigure_butlr_to_api_client(
    hass: HomeAssistant, providers: SimulatorServer, butlr_entry: MockConfigEntry
) -> None:
    """Switching to an API client of the same organisation keeps the entry.

    Only the new kind's credentials stay in the data; the entry keeps its
    unique id (so its entities keep theirs) and remembers the client's id, so
    that a later reauthentication of the client is accepted.
    """
    await setup_entry(hass, butlr_entry)
    registry = er.async_get(hass)
    entities = {
        entry.unique_id
        for entry in er.async_entries_for_config_entry(registry, butlr_entry.entry_id)
    }

    result = await butlr_entry.start_reconfigure_flow(hass)
    result = await _configure(
        hass, result["flow_id"], {"next_step_id": AUTH_BUTLR_API_CLIENT}
    )
    _assert_form(result, AUTH_BUTLR_API_CLIENT, {})
    assert _fields(result) == {
        CONF_CLIENT_ID: None,
        CONF_CLIENT_SECRET: None,
        CONF_BASE_URL: providers.base_url,
    }
    result = await _configure(
        hass,
        result["flow_id"],
        {
            CONF_CLIENT_ID: API_CLIENT[0],
            CONF_CLIENT_SECRET: API_CLIENT[1],
            CONF_BASE_URL: providers.base_url,
        },
    )
    result = await _pick_spaces(hass, result)
    _assert_abort(result, "reconfigure_successful")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert dict(butlr_entry.data) == {
        CONF_PROVIDER: "butlr",
        CONF_AUTH_METHOD: AUTH_BUTLR_API_CLIENT,
        CONF_CLIENT_ID: API_CLIENT[0],
        CONF_CLIENT_SECRET: API_CLIENT[1],
        CONF_BASE_URL: providers.base_url,
        CONF_ACCOUNT_ID: API_CLIENT[0],
        CONF_ACCOUNT_KEY: f"butlr_{ACCOUNT[0]}",
    }
    assert butlr_entry.unique_id == f"butlr_{ACCOUNT[0]}"
    assert butlr_entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.meeting_room_occupancy").state == "3"
    assert {
        entry.unique_id
        for entry in er.async_entries_for_config_entry(registry, butlr_entry.entry_id)
    } == entities

    # The client's secret is rotated: reauth accepts the same client.
    providers.butlr.api_clients[API_CLIENT[0]] = NEW_SECRET
    result = await butlr_entry.start_reauth_flow(hass)
    result = await _configure(hass, result["flow_id"], {CONF_CLIENT_SECRET: NEW_SECRET})
    _assert_abort(result, "reauth_successful")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert butlr_entry.data[CONF_CLIENT_SECRET] == NEW_SECRET

    # Back to the account: its id is the unique id, nothing extra is kept.
    result = await butlr_entry.start_reconfigure_flow(hass)
    result = await _configure(
        hass, result["flow_id"], {"next_step_id": AUTH_BUTLR_ACCOUNT}
    )
    result = await _configure(
        hass,
        result["flow_id"],
        {
            CONF_USERNAME: ACCOUNT[0],
            CONF_PASSWORD: ACCOUNT[1],
            CONF_BASE_URL: providers.base_url,
        },
    )
    result = await _pick_spaces(hass, result)
    _assert_abort(result, "reconfigure_successful")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert dict(butlr_entry.data) == _entry_data(providers, AUTH_BUTLR_ACCOUNT)


@pytest.mark.parametrize(
    ("other_organisation", "loaded"),
    [
        (True, True),  # the client sees none of the entry's sites
        (False, False),  # no spaces of the entry to compare with
    ],
)
async def test_reconfigure_butlr_kind_not_proven_same(
    hass: HomeAssistant,
    providers: SimulatorServer,
    butlr_entry: MockConfigEntry,
    other_organisation: bool,
    loaded: bool,
) -> None:
    """An API client not shown to be of the entry's organisation aborts the switch."""
    if other_organisation:
        elsewhere = ButlrRoom("room_x", "Room X", sensors=[ButlrSensor("99-01")])
        providers.butlr.other_organisations[API_CLIENT[0]] = [
            one_room_site("site_elsewhere", "Elsewhere", None, elsewhere)
        ]
    if loaded:
        await setup_entry(hass, butlr_entry)
    result = await butlr_entry.start_reconfigure_flow(hass)
    result = await _configure(
        hass, result["flow_id"], {"next_step_id": AUTH_BUTLR_API_CLIENT}
    )
    result = await _configure(
        hass,
        result["flow_id"],
        {
            **CASES[AUTH_BUTLR_API_CLIENT]["credentials"],
            CONF_BASE_URL: providers.base_url,
        },
    )
    _assert_abort(result, "unique_id_mismatch")
    data = {**butlr_entry.data, CONF_ACCOUNT_KEY: _entry_unique_id(AUTH_BUTLR_ACCOUNT)}
    assert data == _entry_data(providers, AUTH_BUTLR_ACCOUNT)


async def test_reconfigure_keeps_base_url(
    hass: HomeAssistant, providers: SimulatorServer, butlr_entry: MockConfigEntry
) -> None:
    """Reconfigure shows the entry's own base URL: left alone, the entry keeps it."""
    await setup_entry(hass, butlr_entry)
    _rotate_secret(providers, AUTH_BUTLR_ACCOUNT)
    result = await butlr_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": AUTH_BUTLR_ACCOUNT}
    )
    assert _sections(result)[ADVANCED].options == {"collapsed": True}
    suggested = _fields(result)
    assert suggested[CONF_BASE_URL] == providers.base_url
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_USERNAME: suggested[CONF_USERNAME],
            CONF_PASSWORD: NEW_SECRET,
            ADVANCED: {CONF_BASE_URL: suggested[CONF_BASE_URL]},
        },
    )
    result = await _pick_spaces(hass, result)
    _assert_abort(result, "reconfigure_successful")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert butlr_entry.data[CONF_BASE_URL] == providers.base_url
    assert butlr_entry.data[CONF_PASSWORD] == NEW_SECRET
    assert butlr_entry.state is ConfigEntryState.LOADED


async def test_reconfigure_occuspace(
    hass: HomeAssistant, providers: SimulatorServer
) -> None:
    """Occuspace has one kind: reconfigure opens its form straight away."""
    entry = _add_entry(hass, providers, AUTH_OCCUSPACE)
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    _rotate_secret(providers, AUTH_OCCUSPACE)

    result = await entry.start_reconfigure_flow(hass)
    _assert_form(result, AUTH_OCCUSPACE, {})
    base_url = f"{providers.base_url}/v1"
    assert _fields(result) == {CONF_API_TOKEN: None, CONF_BASE_URL: base_url}
    result = await _configure(
        hass, result["flow_id"], {CONF_API_TOKEN: NEW_SECRET, CONF_BASE_URL: base_url}
    )
    result = await _pick_spaces(hass, result)
    _assert_abort(result, "reconfigure_successful")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert dict(entry.data) == {
        **_entry_data(providers, AUTH_OCCUSPACE),
        CONF_API_TOKEN: NEW_SECRET,
    }
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not coordinator


async def test_reconfigure_concordia_other_user(
    hass: HomeAssistant, providers: SimulatorServer
) -> None:
    """Concordia: another application's user id aborts; the entry is unchanged."""
    entry = _add_entry(hass, providers, AUTH_CONCORDIA)
    providers.concordia.credentials["5678"] = "other-key"

    result = await entry.start_reconfigure_flow(hass)
    _assert_form(result, AUTH_CONCORDIA, {})
    base_url = f"{providers.base_url}/API/v1"
    assert _fields(result) == {
        CONF_USER_ID: concordia.SEED_USER_ID,
        CONF_API_KEY: None,
        CONF_BASE_URL: base_url,
    }
    result = await _configure(
        hass,
        result["flow_id"],
        {CONF_USER_ID: "5678", CONF_API_KEY: "other-key", CONF_BASE_URL: base_url},
    )
    _assert_abort(result, "unique_id_mismatch")
    assert dict(entry.data) == _entry_data(providers, AUTH_CONCORDIA)


# --- Options --------------------------------------------------------------------


async def _options_step(
    hass: HomeAssistant, entry: MockConfigEntry, step: str
) -> FlowResult:
    """Open the options menu and pick a step."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "init"
    assert result["menu_options"] == ["settings", "spaces", "capacity"]
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )


async def _tick(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float
) -> None:
    """Move the clock on and let any poll due run."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def _settings(
    scan_interval: float, low: float, moderate: float, high: float
) -> dict[str, float]:
    return {
        CONF_SCAN_INTERVAL: scan_interval,
        CONF_THRESHOLD_LOW: low,
        CONF_THRESHOLD_MODERATE: moderate,
        CONF_THRESHOLD_HIGH: high,
        CONF_AREAS: False,
    }


def _butlr_settings(
    scan_interval: float, low: float, moderate: float, high: float
) -> dict[str, float]:
    """Butlr's settings also hold the days of history to import (default 30).

    And whether traffic rooms show their door-line count (default off).
    """
    return {
        **_settings(scan_interval, low, moderate, high),
        CONF_HISTORY_DAYS: DEFAULT_HISTORY_DAYS,
        CONF_PUSH: False,
        CONF_DOOR_LINE_COUNT: False,
    }


async def test_options_thresholds_and_interval(
    hass: HomeAssistant,
    providers: SimulatorServer,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """New thresholds regrade activity at once; the new interval drives polls."""
    await setup_entry(hass, butlr_entry)
    coordinator = butlr_entry.runtime_data
    assert hass.states.get("sensor.meeting_room_activity").state == "low"  # 37.5 %

    result = await _options_step(hass, butlr_entry, "settings")
    _assert_form(result, "settings", {}, flow="options")
    # Butlr has no stale limit; the defaults are the design's.
    assert result["data_schema"]({}) == _butlr_settings(60, 40, 75, 100)

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], _settings(60, 50, 50, 100)
    )
    _assert_form(
        result, "settings", {"base": "thresholds_not_increasing"}, flow="options"
    )
    assert _fields(result)[CONF_THRESHOLD_MODERATE] == 50
    assert butlr_entry.options == {}

    # The poll interval has a floor per provider (Butlr: 30 s).
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], _settings(29, 20, 30, 50)
        )

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], _settings(30, 20, 30, 50)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert butlr_entry.options == _butlr_settings(30, 20, 30, 50)
    # Applied in place: the same coordinator, no reload.
    assert butlr_entry.runtime_data is coordinator
    assert hass.states.get("sensor.meeting_room_activity").state == "high"

    # The form opens with the stored values.
    result = await _options_step(hass, butlr_entry, "settings")
    assert result["data_schema"]({}) == _butlr_settings(30, 20, 30, 50)


async def test_options_poll_interval(
    hass: HomeAssistant,
    providers: SimulatorServer,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A new poll interval drives the polls from the next one on, without reload."""
    await setup_entry(hass, butlr_entry)
    coordinator = butlr_entry.runtime_data.coordinator
    result = await _options_step(hass, butlr_entry, "settings")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], _settings(30, 40, 75, 100)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)

    # The poll already scheduled comes 60 s after the last one; then every 30 s.
    await _tick(hass, freezer, 60)
    for _ in range(2):
        polls = len(providers.requests_to("/api/v3/reporting"))
        await _tick(hass, freezer, 30)
        assert len(providers.requests_to("/api/v3/reporting")) > polls
    assert coordinator.update_interval == timedelta(seconds=30)
    assert butlr_entry.runtime_data.coordinator is coordinator


async def test_options_capacity(
    hass: HomeAssistant, providers: SimulatorServer, butlr_entry: MockConfigEntry
) -> None:
    """A capacity for a space without one adds its percentage; 0 clears it."""
    focus = providers.butlr.sites[0].buildings[0].floors[0].rooms[1]
    assert focus.id == "room_focus"
    focus.sensors[0].people = 2
    hass.config_entries.async_update_entry(
        butlr_entry, options={CONF_THRESHOLD_LOW: 30}
    )
    await setup_entry(hass, butlr_entry)
    coordinator = butlr_entry.runtime_data
    assert hass.states.get("sensor.focus_room_activity").state == "occupied"
    assert hass.states.get("sensor.focus_room_occupancy_percentage") is None

    result = await _options_step(hass, butlr_entry, "capacity")
    _assert_form(result, "capacity", {}, flow="options")
    options = result["data_schema"].schema["space"].config["options"]
    # Only spaces without a capacity from the provider are offered.
    # Labelled by path, since names repeat across floors and buildings.
    assert {
        "value": "room_focus",
        "label": PATH_SEPARATOR.join(
            ["HQ", "Main building", "First floor", "Focus room"]
        ),
    } in options
    assert "room_meeting" not in {option["value"] for option in options}

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"space": "room_focus", "capacity": 4}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert butlr_entry.options == {
        CONF_THRESHOLD_LOW: 30,
        CONF_CAPACITIES: {"room_focus": 4},
    }
    assert butlr_entry.runtime_data is coordinator
    assert hass.states.get("sensor.focus_room_occupancy_percentage").state == "50.0"
    activity = hass.states.get("sensor.focus_room_activity")
    assert activity.state == "moderate"
    assert "full" in activity.attributes["options"]

    # The space is still offered, so that its capacity can be changed or cleared.
    result = await _options_step(hass, butlr_entry, "capacity")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"space": "room_focus", "capacity": 0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert butlr_entry.options == {CONF_THRESHOLD_LOW: 30, CONF_CAPACITIES: {}}
    assert hass.states.get("sensor.focus_room_activity").state == "occupied"
    # The percentage goes at once, rather than staying behind as "unknown".
    assert hass.states.get("sensor.focus_room_occupancy_percentage") is None
    assert (
        er.async_get(hass).async_get("sensor.focus_room_occupancy_percentage") is None
    )


async def test_options_no_capacity_when_every_space_has_one(
    hass: HomeAssistant, providers: SimulatorServer
) -> None:
    """Occuspace gives every capacity: no capacity step; settings without stale limit."""
    entry = _add_entry(hass, providers, AUTH_OCCUSPACE)
    await setup_entry(hass, entry)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["settings", "spaces"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    _assert_form(result, "settings", {}, flow="options")
    assert result["data_schema"]({}) == _settings(120, 40, 75, 100)
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], _settings(59, 40, 75, 100)
        )


async def test_options_concordia_stale_limit(
    hass: HomeAssistant, providers: SimulatorServer, freezer: FrozenDateTimeFactory
) -> None:
    """Concordia's stale limit applies from the next poll, without a reload."""
    entry = _add_entry(hass, providers, AUTH_CONCORDIA)
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    assert hass.states.get("sensor.vanier_library_activity").state == "occupied"

    result = await _options_step(hass, entry, "settings")
    _assert_form(result, "settings", {}, flow="options")
    defaults = {**_settings(300, 40, 75, 100), CONF_STALE_MINUTES: 90}
    assert result["data_schema"]({}) == defaults
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], {**defaults, CONF_SCAN_INTERVAL: 119}
        )
    new = {**defaults, CONF_SCAN_INTERVAL: 120, CONF_STALE_MINUTES: 30}
    result = await hass.config_entries.options.async_configure(result["flow_id"], new)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == new

    # The poll already scheduled (300 s after setup), then every 120 s: Webster's
    # feed moves, Vanier's stays the same for 31 minutes.
    await _tick(hass, freezer, 300)
    assert hass.states.get("sensor.vanier_library_activity").state == "occupied"
    webster = dt_util.utcnow() + timedelta(minutes=80)
    providers.concordia.libraries["Webster"] = (
        "300.0000",
        concordia.record_time(webster),
    )
    await _tick(hass, freezer, 26 * 60)
    assert entry.runtime_data is coordinator
    assert hass.states.get("sensor.vanier_library_activity").state == "inactive"
    assert hass.states.get("sensor.vanier_library_occupancy").state == (
        STATE_UNAVAILABLE
    )
    assert hass.states.get("sensor.webster_library_activity").state == "occupied"


async def test_options_entry_not_loaded(
    hass: HomeAssistant, simulator: SimulatorServer
) -> None:
    """An entry that is not loaded knows no spaces: settings only, capacities kept."""
    entry = _add_entry(
        hass, simulator, AUTH_CONCORDIA, options={CONF_CAPACITIES: {"Webster": 500}}
    )
    result = await hass.config_entries.options.async_init(entry.entry_id)
    _assert_form(result, "settings", {}, flow="options")
    new = {**_settings(600, 30, 60, 90), CONF_STALE_MINUTES: 120}
    result = await hass.config_entries.options.async_configure(result["flow_id"], new)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {**new, CONF_CAPACITIES: {"Webster": 500}}
    assert entry.state is ConfigEntryState.NOT_LOADED


def test_every_flow_message_is_translated() -> None:
    """The errors and aborts the flows can produce all have texts."""
    assert set(STRINGS["config"]["error"]) >= {
        "invalid_auth",
        "cannot_connect",
        "unknown",
        "invalid_url",
        "insecure_url",
    }
    assert set(STRINGS["config"]["abort"]) >= {
        "already_configured",
        "reauth_successful",
        "reconfigure_successful",
        "unique_id_mismatch",
    }
    assert "thresholds_not_increasing" in STRINGS["options"]["error"]


# --- Deprecations -----------------------------------------------------------------


@pytest.mark.parametrize("kind", [AUTH_BUTLR_ACCOUNT, AUTH_OCCUSPACE, AUTH_CONCORDIA])
async def test_no_deprecation_warning(
    hass: HomeAssistant,
    providers: SimulatorServer,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    recwarn: pytest.WarningsRecorder,
    kind: str,
) -> None:
    """Nothing the integration does makes Home Assistant or a library warn.

    Home Assistant logs a warning naming the integration for each deprecated
    call it makes (``via_device``, ``show_advanced_options``, ...), and asks
    users to report it. Walk the whole life of an entry: the user flow, polls,
    options, reconfigure, reauth and unload.
    """
    caplog.set_level(logging.DEBUG)
    case = CASES[kind]
    result = await _open_form(hass, kind)
    result = await _configure(
        hass,
        result["flow_id"],
        {**case["credentials"], CONF_BASE_URL: providers.base_url + case["path"]},
    )
    result = await _pick_spaces(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    await hass.async_block_till_done(wait_background_tasks=True)
    coordinator = entry.runtime_data.coordinator

    for _ in range(2):  # polls
        freezer.tick(coordinator.update_interval)
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)

    result = await hass.config_entries.options.async_init(entry.entry_id)
    if result["type"] is FlowResultType.MENU:
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": "settings"}
        )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], result["data_schema"]({})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    if result["type"] is FlowResultType.MENU:
        result = await _configure(hass, result["flow_id"], {"next_step_id": kind})
    result = await _configure(
        hass,
        result["flow_id"],
        {**case["credentials"], CONF_BASE_URL: providers.base_url + case["path"]},
    )
    result = await _pick_spaces(hass, result)
    _assert_abort(result, "reconfigure_successful")
    await hass.async_block_till_done(wait_background_tasks=True)

    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_REAUTH, "entry_id": entry.entry_id},
        data=entry.data,
    )
    secret = case["secret"]
    result = await _configure(
        hass, result["flow_id"], {secret: case["credentials"][secret]}
    )
    _assert_abort(result, "reauth_successful")
    await hass.async_block_till_done(wait_background_tasks=True)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert usage_reports(caplog.records) == []
    integration = Path(custom_components.space_occupancy.__file__).parent
    warned = [
        f"{warning.filename}:{warning.lineno}: {warning.message}"
        for warning in recwarn
        if str(integration) in warning.filename or DOMAIN in str(warning.message)
    ]
    assert warned == []
