"""Drive a Home Assistant process over its HTTP API, for scripts/develop and the e2e test.

Prepares a config directory with this integration linked in, starts and stops
``hass``, waits until it answers, completes onboarding, adds config entries
through the config-flow API and reads ``/api/states``. Standard library and
aiohttp only. Every URL it is given must be a loopback one: this talks to the
Home Assistant and the simulator on this machine, nowhere else.

As a command, from the repository root::

    python -m scripts.hass_bootstrap config DIR --port 8123
    python -m scripts.hass_bootstrap setup --url http://127.0.0.1:8123 \
        --simulator http://127.0.0.1:8124
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import importlib
from importlib import metadata
import importlib.util
import ipaddress
import json
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys
import time
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
INTEGRATION_DIR = REPO / "custom_components" / "space_occupancy"
DOMAIN = "space_occupancy"
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)


class BootstrapError(RuntimeError):
    """Home Assistant did not do what a step needed."""


# --- Config directory and process -------------------------------------------


@dataclass(frozen=True)
class HassConfig:
    """What goes into configuration.yaml.

    ``frontend_stub``: serve an empty frontend folder instead of the
    home-assistant-frontend package, for a Home Assistant that is only talked
    to over the API (the e2e test). ``components``: integrations to list
    besides ``http``, ``frontend`` and ``logger``, each with an empty config.
    ``link_integration``: link this checkout's integration into
    custom_components; without, the caller installs it there (the release
    test unpacks the release zip).
    """

    port: int
    host: str = "127.0.0.1"
    frontend_stub: bool = False
    components: tuple[str, ...] = ("api", "config", "onboarding")
    debug_integration: bool = True
    comment: str = ""
    link_integration: bool = True


def configuration_yaml(
    config: HassConfig, config_dir: Path, *, http_section: bool = True
) -> str:
    """Return the text of configuration.yaml.

    ``http_section``: configure the HTTP server here; not for a Home
    Assistant that keeps it in its storage (see ``http_store_module``).
    """
    lines = [f"# {line}".rstrip() for line in config.comment.splitlines()]
    if http_section:
        lines += [
            "http:",
            f"  server_host: {config.host}",
            f"  server_port: {config.port}",
        ]
    else:
        lines.append(
            f"# The HTTP server ({config.host}:{config.port}) is set in .storage/http."
        )
    lines.append("frontend:")
    if config.frontend_stub:
        lines.append(f"  development_repo: {json.dumps(str(config_dir / 'frontend'))}")
    lines += [f"{component}:" for component in config.components]
    lines += ["logger:", "  default: warning"]
    if config.debug_integration:
        lines += ["  logs:", f"    custom_components.{DOMAIN}: debug"]
    return "\n".join(lines) + "\n"


def http_store_module() -> ModuleType | None:
    """Return Home Assistant's HTTP config store module, where it has one.

    Home Assistant 2026 keeps the HTTP server's settings in .storage/http, as
    a ``stable`` config and an unconfirmed ``pending`` one that is tried on
    the next start. An ``http:`` section of configuration.yaml is imported
    once, as ``pending`` when it differs from ``stable``: unless confirmed
    (``http/config/promote``) within 5 minutes, it is reverted and Home
    Assistant restarts on the default HTTP config (port 8123, every
    interface); later starts ignore the section and raise a repair issue.
    Older releases (the oldest line) read ``http:`` on every start and have
    no such module.
    """
    name = "homeassistant.components.http.config"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name != name:
            raise
        return None
    return module if hasattr(module, "HTTPConfigStore") else None


def http_store_data(store: ModuleType, config: HassConfig) -> dict[str, Any]:
    """Return the data of .storage/http that makes ``config`` the stable config.

    Nothing pending and the YAML migration done: Home Assistant starts with
    this config as confirmed, nothing to revert, no repair issue. Validated
    by Home Assistant's own storage schema, which fills in its defaults.
    """
    stable = store.HTTP_STORAGE_SCHEMA(
        {
            store.CONF_SERVER_HOST: [config.host],
            store.CONF_SERVER_PORT: config.port,
        }
    )
    return {
        store.KEY_STABLE: {
            **stable,
            store.HTTP_CONFIG_CREATED_AT: datetime.now(UTC).isoformat(),
            store.HTTP_CONFIG_ERROR: None,
            store.HTTP_CONFIG_ERROR_MESSAGE: None,
        },
        store.KEY_PENDING: None,
        store.KEY_YAML_MIGRATION_DONE: True,
    }


def write_http_store(config_dir: Path, config: HassConfig, store: ModuleType) -> None:
    """Write .storage/http as Home Assistant's Store would, unless it agrees.

    A file whose stable config is this one, with nothing pending, is kept
    (with its ``created_at``); anything else is replaced.
    """
    path = config_dir / ".storage" / store.STORAGE_KEY
    data = http_store_data(store, config)
    meta = (
        store.HTTP_CONFIG_CREATED_AT,
        store.HTTP_CONFIG_ERROR,
        store.HTTP_CONFIG_ERROR_MESSAGE,
    )

    def settings(slot: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in slot.items() if key not in meta}

    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        stored = json.loads(path.read_text(encoding="utf-8"))
        if (
            stored["version"] == store.STORAGE_VERSION
            and stored["minor_version"] == store.STORAGE_MINOR_VERSION
            and stored["data"][store.KEY_PENDING] is None
            and stored["data"][store.KEY_YAML_MIGRATION_DONE] is True
            and settings(stored["data"][store.KEY_STABLE])
            == settings(data[store.KEY_STABLE])
        ):
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(
        {
            "version": store.STORAGE_VERSION,
            "minor_version": store.STORAGE_MINOR_VERSION,
            "key": store.STORAGE_KEY,
            "data": data,
        },
        indent=2,
    )
    # Private, as Home Assistant writes it; replaced in one step.
    partial = path.with_name(f"{path.name}.partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text + "\n")
    partial.replace(path)


def check_ha_version(config_dir: Path) -> None:
    """Refuse a config directory a newer Home Assistant has run on.

    Home Assistant migrates its storage forward, never back: an older one
    fails to load what a newer one wrote (one state directory per line).
    """
    try:
        written = (config_dir / ".HA_VERSION").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return
    installed = metadata.version("homeassistant")
    if written and Version(written) > Version(installed):
        raise BootstrapError(
            f"{config_dir} was last used by Home Assistant {written}, newer than "
            f"this virtualenv's {installed}: delete it, or use another directory "
            "(scripts/develop: DEVELOP_DIR)"
        )


def prepare_config_dir(config_dir: Path, config: HassConfig) -> None:
    """Write configuration.yaml and link this integration into custom_components.

    An existing directory keeps its state (.storage, database): only the
    configuration (and, on Home Assistant 2026, its stored HTTP config) and
    the link are rewritten. No link where ``config.link_integration`` is off.
    """
    check_ha_version(config_dir)
    custom = config_dir / "custom_components"
    custom.mkdir(parents=True, exist_ok=True)
    if config.link_integration:
        link_integration(custom)
    if config.frontend_stub:
        (config_dir / "frontend" / "hass_frontend").mkdir(parents=True, exist_ok=True)
    if (store := http_store_module()) is not None:
        write_http_store(config_dir, config, store)
    (config_dir / "configuration.yaml").write_text(
        configuration_yaml(config, config_dir, http_section=store is None),
        encoding="utf-8",
    )


def link_integration(custom: Path) -> None:
    """Link this checkout's integration into a custom_components directory."""
    link = custom / DOMAIN
    target = os.path.relpath(INTEGRATION_DIR, custom)
    if link.is_symlink() or link.exists():
        if not link.is_symlink() or str(link.readlink()) != target:
            raise BootstrapError(f"{link} exists and is not a link to {target}")
    else:
        link.symlink_to(target, target_is_directory=True)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port nothing listens on at the moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def hass_command(config_dir: Path) -> list[str]:
    """Return the command line that runs Home Assistant from this virtualenv.

    ``--skip-pip``: nothing is installed at run time. The integrations that
    onboarding offers (weather, radio, text-to-speech) then fail to load, which
    keeps them from reaching the internet.
    """
    hass = Path(sys.executable).with_name("hass")
    program = [str(hass)] if hass.exists() else [sys.executable, "-m", "homeassistant"]
    return [*program, "--config", str(config_dir), "--skip-pip", "--log-no-color"]


def start_hass(
    config_dir: Path, log_path: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start Home Assistant in the background, its output going to log_path.

    ``env``: variables to add to this process's environment (``DEVELOP_ENV``).
    Coverage's variables are left out, so that the child does not write
    coverage data of its own into the test run's.
    """
    env = {
        **{
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("COV_CORE_", "COVERAGE_"))
        },
        **(env or {}),
    }
    with log_path.open("ab") as log:
        return subprocess.Popen(
            hass_command(config_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=config_dir,
            env=env,
        )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """Stop a process: SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def log_tail(log_path: Path, lines: int = 60) -> str:
    """Return the end of a log file, for error messages."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _ha_package() -> Path:
    """Return the directory of the installed homeassistant package."""
    spec = importlib.util.find_spec("homeassistant")
    if spec is None or not spec.submodule_search_locations:
        raise BootstrapError("Home Assistant is not installed in this environment")
    return Path(spec.submodule_search_locations[0])


def package_constraints() -> Path:
    """Return Home Assistant's package_constraints.txt, which pip honours for it."""
    return _ha_package() / "package_constraints.txt"


def setup_domains(components: Sequence[str]) -> set[str]:
    """Return the integrations a Home Assistant configured with these sets up.

    As its bootstrap does: the configured ones, this integration (its config
    entries), Home Assistant's core and default integrations, and all their
    dependencies. The base entity platforms too: they are imported to check
    service descriptions (the frontend's ``get_services``) whether set up or
    not.
    """
    from homeassistant import bootstrap  # noqa: PLC0415
    from homeassistant.const import BASE_PLATFORMS  # noqa: PLC0415

    domains = {
        *components,
        DOMAIN,
        *bootstrap.CORE_INTEGRATIONS,
        *bootstrap.DEFAULT_INTEGRATIONS,
        *BASE_PLATFORMS,
    }
    found: set[str] = set()
    while domains:
        domain = domains.pop()
        if domain in found:
            continue
        found.add(domain)
        domains.update(_manifest(domain).get("dependencies", []))
    return found


def _manifest(domain: str) -> dict[str, Any]:
    """Return an integration's manifest (empty when there is no such one)."""
    directory = (
        INTEGRATION_DIR if domain == DOMAIN else _ha_package() / "components" / domain
    )
    try:
        text = (directory / "manifest.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    manifest: dict[str, Any] = json.loads(text)
    return manifest


def missing_requirements(components: Sequence[str]) -> list[str]:
    """Return the requirements Home Assistant would install, where not installed.

    Each requirement, as an integration's manifest pins it, of the
    integrations ``setup_domains`` finds, when no matching version is
    installed. Run with ``--skip-pip``, Home Assistant installs nothing
    itself: requirements_dev.txt should hold these; this catches the day
    it does not.
    """
    missing: set[str] = set()
    for domain in setup_domains(components):
        for line in _manifest(domain).get("requirements", []):
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate():
                continue
            try:
                installed = metadata.version(requirement.name)
            except metadata.PackageNotFoundError:
                missing.add(line)
                continue
            if not requirement.specifier.contains(installed, prereleases=True):
                missing.add(line)
    return sorted(missing, key=str.lower)


# --- HTTP API ----------------------------------------------------------------


def require_loopback(url: str) -> str:
    """Return the URL without a trailing slash; refuse any host off this machine."""
    host = urlsplit(url).hostname or ""
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise BootstrapError(f"{url} is not a loopback URL")
    return url.rstrip("/")


def client_session() -> aiohttp.ClientSession:
    """Return a session that resolves names with the system's resolver.

    aiohttp's default resolver is aiodns when installed, and the harness's
    aiodns 3.2.0 does not work with pycares 5 ("localhost" fails with a
    TypeError); IP addresses need no resolver at all.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=aiohttp.ThreadedResolver())
    )


@dataclass(frozen=True)
class Owner:
    """The owner account onboarding creates."""

    name: str = "Developer"
    username: str = "dev"
    password: str = "space-occupancy-dev"  # noqa: S105 - a local demo login
    language: str = "en"


@dataclass
class HassClient:
    """A Home Assistant's HTTP API, signed in once ``token`` is set.

    ``tokens``: the whole answer of the last sign-in (with its refresh token),
    for a browser to be signed in with (scripts/screenshot).
    """

    session: aiohttp.ClientSession
    base_url: str
    token: str | None = None
    tokens: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check and normalise the URL."""
        self.base_url = require_loopback(self.base_url)

    @property
    def client_id(self) -> str:
        """The OAuth client id: the instance's own URL, as the frontend uses."""
        return f"{self.base_url}/"

    @property
    def redirect_uri(self) -> str:
        """Where the frontend would be sent back after signing in."""
        return f"{self.base_url}/?auth_callback=1"

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        expect: Sequence[int] = (200,),
    ) -> Any:
        """Call the API; return the decoded JSON answer (None when not JSON)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.session.request(
            method,
            f"{self.base_url}{path}",
            json=json_body,
            data=dict(form) if form is not None else None,
            headers=headers,
            timeout=REQUEST_TIMEOUT,
        ) as response:
            text = await response.text()
            if response.status not in expect:
                raise BootstrapError(
                    f"{method} {path} answered {response.status}: {text[:500]}"
                )
            if not text or response.content_type != "application/json":
                return None
            return json.loads(text)

    async def websocket_command(self, command: Mapping[str, Any]) -> Any:
        """Send one websocket command and return its result."""
        url = f"{self.base_url.replace('http', 'ws', 1)}/api/websocket"
        async with (
            asyncio.timeout(REQUEST_TIMEOUT.total),
            self.session.ws_connect(url) as ws,
        ):
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.token})
            if (answer := await ws.receive_json())["type"] != "auth_ok":
                raise BootstrapError(f"websocket authentication failed: {answer}")
            await ws.send_json({"id": 1, **command})
            answer = await ws.receive_json()
            if not answer.get("success"):
                raise BootstrapError(f"{command['type']} failed: {answer}")
            return answer.get("result")


async def wait_until_up(
    client: HassClient,
    *,
    within: float = 180.0,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Wait until Home Assistant's HTTP server answers.

    ``/api/onboarding`` answers without signing in while onboarding is not
    finished, and 404 once it is: either way the server is up. ``alive`` tells
    whether the process still runs, to stop waiting for one that died.
    """
    deadline = time.monotonic() + within
    while True:
        if alive is not None and not alive():
            raise BootstrapError("Home Assistant exited while starting")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with client.session.get(
                f"{client.base_url}/api/onboarding",
                timeout=aiohttp.ClientTimeout(total=5),
            ) as response:
                if response.status in (200, 404):
                    return
        if time.monotonic() > deadline:
            raise BootstrapError(f"Home Assistant did not answer within {within} s")
        await asyncio.sleep(0.5)


async def wait_until_running(client: HassClient, *, within: float = 180.0) -> None:
    """Wait until Home Assistant has finished starting (signed in)."""
    deadline = time.monotonic() + within
    while (await client.request("GET", "/api/config"))["state"] != "RUNNING":
        if time.monotonic() > deadline:
            raise BootstrapError(f"Home Assistant not running after {within} s")
        await asyncio.sleep(0.5)


async def onboarding_status(client: HassClient) -> dict[str, bool] | None:
    """Each onboarding step and whether it is done; None once all are."""
    status = await client.request("GET", "/api/onboarding", expect=(200, 404))
    if status is None or not isinstance(status, list):
        return None
    return {step["step"]: step["done"] for step in status}


async def _exchange_code(client: HassClient, code: str) -> None:
    tokens = await client.request(
        "POST",
        "/auth/token",
        form={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client.client_id,
        },
    )
    client.token = tokens["access_token"]
    client.tokens = tokens


async def log_in(client: HassClient, owner: Owner) -> None:
    """Sign in with the owner's username and password (the login flow)."""
    flow = await client.request(
        "POST",
        "/auth/login_flow",
        json_body={
            "client_id": client.client_id,
            "handler": ["homeassistant", None],
            "redirect_uri": client.redirect_uri,
        },
    )
    result = await client.request(
        "POST",
        f"/auth/login_flow/{flow['flow_id']}",
        json_body={
            "client_id": client.client_id,
            "username": owner.username,
            "password": owner.password,
        },
    )
    if result.get("type") != "create_entry":
        raise BootstrapError(
            f"cannot sign in as {owner.username!r}: {result.get('errors')}"
        )
    await _exchange_code(client, result["result"])


async def onboard(client: HassClient, owner: Owner) -> bool:
    """Complete onboarding (each step not done yet) and sign in as the owner.

    Returns whether the owner was created now. A Home Assistant onboarded
    before is only signed in to.
    """
    status = await onboarding_status(client)
    created = False
    if status is not None and not status.get("user", True):
        answer = await client.request(
            "POST",
            "/api/onboarding/users",
            json_body={
                "name": owner.name,
                "username": owner.username,
                "password": owner.password,
                "client_id": client.client_id,
                "language": owner.language,
            },
        )
        await _exchange_code(client, answer["auth_code"])
        created = True
    else:
        await log_in(client, owner)
    if status is not None:
        if not status.get("core_config", True):
            await client.request("POST", "/api/onboarding/core_config", json_body={})
        if not status.get("analytics", True):
            await client.request("POST", "/api/onboarding/analytics", json_body={})
        if not status.get("integration", True):
            await client.request(
                "POST",
                "/api/onboarding/integration",
                json_body={
                    "client_id": client.client_id,
                    "redirect_uri": client.redirect_uri,
                },
            )
    return created


async def update_core_config(client: HassClient, **changes: Any) -> None:
    """Change the core configuration (country, time zone, ...)."""
    await client.websocket_command({"type": "config/core/update", **changes})


@dataclass(frozen=True)
class EntrySpec:
    """A config entry to add: the menu choices in order, then the forms' data.

    ``data`` answers the credentials form; ``spaces`` the spaces step, whose
    other fields keep the form's defaults (the default picks: the account).
    """

    label: str
    menu: tuple[str, ...]
    data: Mapping[str, Any] = field(default_factory=dict)
    spaces: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FlowOutcome:
    """How adding an entry ended: ``created`` or ``aborted`` with a reason."""

    label: str
    kind: str
    detail: str


def _form_defaults(result: Mapping[str, Any]) -> dict[str, Any]:
    """Return the defaults of a form's fields, as the HTTP API describes them."""
    return {
        field["name"]: field["default"]
        for field in result.get("data_schema") or ()
        if "default" in field
    }


def _next_answer(
    spec: EntrySpec, result: Mapping[str, Any], menu: list[str], *, submitted: set[str]
) -> Mapping[str, Any]:
    """Return what to send to a menu or form step; raise on anything else.

    A form is answered once: shown again, it carries errors.
    """
    kind = result["type"]
    if kind == "menu":
        if not menu or menu[0] not in result["menu_options"]:
            raise BootstrapError(
                f"{spec.label}: menu {result['step_id']} offers "
                f"{result['menu_options']}, wanted {menu[:1]}"
            )
        return {"next_step_id": menu.pop(0)}
    step = result.get("step_id", "")
    if kind == "form" and step not in submitted:
        submitted.add(step)
        if step == "spaces":
            return {**_form_defaults(result), **spec.spaces}
        return spec.data
    raise BootstrapError(
        f"{spec.label}: step {result.get('step_id')} answered {kind} "
        f"with errors {result.get('errors')}"
    )


async def add_entry(
    client: HassClient, spec: EntrySpec, *, domain: str = DOMAIN
) -> FlowOutcome:
    """Add a config entry through the config-flow HTTP API, as the UI would.

    An abort (``already_configured`` on a re-run) is an outcome, not an
    error; a form shown again with errors is an error, and the flow is
    then removed.
    """
    path = "/api/config/config_entries/flow"
    result = await client.request("POST", path, json_body={"handler": domain})
    flow_id = result.get("flow_id")
    menu = list(spec.menu)
    submitted: set[str] = set()
    try:
        while result["type"] not in ("create_entry", "abort"):
            body = _next_answer(spec, result, menu, submitted=submitted)
            result = await client.request("POST", f"{path}/{flow_id}", json_body=body)
    except BootstrapError:
        with contextlib.suppress(BootstrapError, aiohttp.ClientError):
            await client.request("DELETE", f"{path}/{flow_id}", expect=(200, 404))
        raise
    if result["type"] == "create_entry":
        return FlowOutcome(spec.label, "created", result["title"])
    return FlowOutcome(spec.label, "aborted", result["reason"])


async def enable_push(client: HassClient, title_start: str) -> bool:
    """Turn real-time updates on for the entry whose title starts so; True if done."""
    entries = await client.request("GET", "/api/config/config_entries/entry")
    entry = next(
        (
            item
            for item in entries
            if item["domain"] == DOMAIN and item["title"].startswith(title_start)
        ),
        None,
    )
    if entry is None:
        return False
    path = "/api/config/config_entries/options/flow"
    result = await client.request(
        "POST", path, json_body={"handler": entry["entry_id"]}
    )
    flow = f"{path}/{result['flow_id']}"
    if result["type"] == "menu":
        result = await client.request(
            "POST", flow, json_body={"next_step_id": "settings"}
        )
    answer = {**_form_defaults(result), "push": True}
    result = await client.request("POST", flow, json_body=answer)
    return bool(result["type"] == "create_entry")


async def get_states(client: HassClient) -> dict[str, dict[str, Any]]:
    """Every entity's state object, by entity id."""
    return {
        state["entity_id"]: state
        for state in await client.request("GET", "/api/states")
    }


async def remove_failed_entries(
    client: HassClient, domains: Sequence[str]
) -> list[str]:
    """Remove the entries of these domains that failed to set up; return titles."""
    removed = []
    for entry in await client.request("GET", "/api/config/config_entries/entry"):
        if entry["domain"] in domains and entry["state"] in (
            "setup_error",
            "migration_error",
            "not_loaded",
        ):
            await client.request(
                "DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}"
            )
            removed.append(entry["title"])
    return removed


async def wait_for_states(
    client: HassClient,
    entity_ids: Sequence[str],
    *,
    within: float = 60.0,
) -> dict[str, dict[str, Any]]:
    """Wait until the entities exist and are not ``unavailable``; return all states."""
    deadline = time.monotonic() + within
    while True:
        states = await get_states(client)
        missing = [
            entity_id
            for entity_id in entity_ids
            if states.get(entity_id, {}).get("state") in (None, "unavailable")
        ]
        if not missing:
            return states
        if time.monotonic() > deadline:
            raise BootstrapError(f"no state for {missing} after {within} s")
        await asyncio.sleep(0.5)


# --- The simulator's entries -------------------------------------------------


def simulator_entries(simulator_url: str) -> list[EntrySpec]:
    """One entry per provider, with the simulator's seed credentials."""
    # The simulator is the project's own test code; it needs only aiohttp.
    from tests.simulator import butlr, concordia, occuspace  # noqa: PLC0415

    root = require_loopback(simulator_url)
    return [
        EntrySpec(
            "Butlr",
            ("butlr", "butlr_account"),
            {
                "username": butlr.ACCOUNT[0],
                "password": butlr.ACCOUNT[1],
                "advanced": {"base_url": root},
            },
        ),
        EntrySpec(
            "Occuspace",
            ("occuspace",),
            {"api_token": occuspace.SEED_TOKEN, "advanced": {"base_url": f"{root}/v1"}},
        ),
        EntrySpec(
            "Concordia",
            ("concordia",),
            {
                "user_id": concordia.SEED_USER_ID,
                "api_key": concordia.SEED_API_KEY,
                "advanced": {"base_url": f"{root}/API/v1"},
            },
        ),
    ]


# --- The develop dashboard ---------------------------------------------------

DASHBOARD_URL_PATH = "space-occupancy"
DASHBOARD_TITLE = "Space Occupancy"
DASHBOARD_ICON = "mdi:account-group"
HISTORY = timedelta(hours=3)

# One view per provider (path, title), by the manufacturer the integration
# gives its devices, in this order; a provider not listed gets a view after.
PROVIDER_VIEWS: Mapping[str, tuple[str, str]] = {
    "Butlr": ("butlr", "Butlr"),
    "Occuspace": ("occuspace", "Occuspace"),
    "Concordia University": ("concordia", "Concordia"),
}
# A space's icon, by the device model the integration gives it (its kind).
SPACE_ICONS: Mapping[str, str] = {
    "Site": "mdi:map-marker",
    "Campus": "mdi:map-marker",
    "Building": "mdi:office-building",
    "Floor": "mdi:layers",
    "Room": "mdi:door",
    "Zone": "mdi:floor-plan",
    "Library": "mdi:library",
}
# The entities shown as tiles, by translation key, with their names: two a
# row, the usual occupancy next to the occupancy. "Usual occupancy" and
# "Compared with usual" are cut short in a tile half a section wide: "Usually
# 2.5 people", "Right now Busier than usual" say the same.
TILES = (
    ("occupancy", "Occupancy"),
    ("usual_occupancy", "Usually"),
    ("versus_usual", "Right now"),
    ("activity", "Activity"),
    ("entries_today", "Entries today"),
    ("exits_today", "Exits today"),
)
# The providers whose history the integration imports into the occupancy
# sensors' statistics: their view gets a statistics graph of the first rooms
# (leaves), which reaches back STATISTICS_DAYS on day one.
STATISTICS_PROVIDERS = ("Butlr",)
STATISTICS_ROOMS = 3
STATISTICS_DAYS = 30


@dataclass(frozen=True)
class DashboardSpace:
    """A space (a device of the integration) and its entities by translation key."""

    name: str
    kind: str
    entities: Mapping[str, str]
    leaf: bool


@dataclass(frozen=True)
class ProviderSpaces:
    """A provider's spaces, over all its entries, children before parents."""

    provider: str
    spaces: tuple[DashboardSpace, ...]


def _tree_order(
    device_ids: Sequence[str], parent_of: Mapping[str, str | None]
) -> list[tuple[str, bool]]:
    """Order devices children first, each followed by its parent; tell leaves.

    Rooms, where people move, come first; then the floor, building and site
    that add them up.
    """
    children: dict[str | None, list[str]] = {}
    for device_id in device_ids:
        parent = parent_of[device_id]
        children.setdefault(parent if parent in parent_of else None, []).append(
            device_id
        )
    ordered: list[tuple[str, bool]] = []

    def visit(device_id: str) -> None:
        for child in children.get(device_id, ()):
            visit(child)
        ordered.append((device_id, device_id not in children))

    for root in children.get(None, ()):
        visit(root)
    return ordered


def group_spaces(
    entities: Sequence[Mapping[str, Any]],
    devices: Sequence[Mapping[str, Any]],
    states: Mapping[str, Mapping[str, Any]],
) -> list[ProviderSpaces]:
    """Group the integration's entities by provider and space.

    ``entities`` and ``devices`` are the entity and device registries' lists;
    only entities that are enabled and have a live state (not one restored for
    a space the provider dropped) count.
    """
    by_device: dict[str, dict[str, str]] = {}
    for entity in entities:
        state = states.get(entity["entity_id"])
        if (
            entity["platform"] != DOMAIN
            or entity["disabled_by"]
            or entity["hidden_by"]
            or not entity["device_id"]
            or not entity.get("translation_key")
            or state is None
            or state["attributes"].get("restored")
        ):
            continue
        by_device.setdefault(entity["device_id"], {})[entity["translation_key"]] = (
            entity["entity_id"]
        )
    known = {device["id"]: device for device in devices if device["id"] in by_device}
    providers: dict[str, list[str]] = {}
    for device_id, device in known.items():
        providers.setdefault(device["manufacturer"] or DOMAIN, []).append(device_id)
    order = list(PROVIDER_VIEWS)
    grouped = []
    for provider in sorted(
        providers, key=lambda name: (order.index(name) if name in order else 99, name)
    ):
        parent_of = {
            device_id: known[device_id]["via_device_id"]
            for device_id in providers[provider]
        }
        # Entry by entry, in the order the entries were added; by name within.
        device_ids = sorted(
            providers[provider],
            key=lambda device_id: (
                known[device_id]["config_entries"][:1],
                (known[device_id]["name_by_user"] or known[device_id]["name"] or ""),
            ),
        )
        spaces = tuple(
            DashboardSpace(
                name=known[device_id]["name_by_user"] or known[device_id]["name"],
                kind=known[device_id]["model"] or "",
                entities=by_device[device_id],
                leaf=leaf,
            )
            for device_id, leaf in _tree_order(device_ids, parent_of)
        )
        grouped.append(ProviderSpaces(provider, spaces))
    return grouped


def _space_section(space: DashboardSpace) -> dict[str, Any]:
    """Return the section of one space: heading, percentage gauge, tiles."""
    heading: dict[str, Any] = {
        "type": "heading",
        "heading": space.name,
        "icon": SPACE_ICONS.get(space.kind, "mdi:floor-plan"),
    }
    if occupied := space.entities.get("occupied"):
        heading["badges"] = [{"type": "entity", "entity": occupied}]
    cards: list[dict[str, Any]] = [heading]
    if percentage := space.entities.get("occupancy_percentage"):
        cards.append(
            {
                "type": "gauge",
                "entity": percentage,
                "name": "Of capacity",
                "min": 0,
                "max": 100,
                "severity": {"green": 0, "yellow": 40, "red": 75},
            }
        )
    cards += [
        {"type": "tile", "entity": space.entities[key], "name": name}
        for key, name in TILES
        if key in space.entities
    ]
    return {"type": "grid", "cards": cards}


def _duration_text(window: timedelta) -> str:
    """Say how long a window is: "3 hours", "hour", "2 minutes", "minute"."""
    minutes = max(1, round(window.total_seconds() / 60))
    if minutes % 60 == 0:
        value, unit = minutes // 60, "hour"
    else:
        value, unit = minutes, "minute"
    return unit if value == 1 else f"{value} {unit}s"


def _history_section(
    provider: ProviderSpaces, window: timedelta
) -> dict[str, Any] | None:
    """Return a section with the history of the spaces' occupancy (leaves).

    The occupancy of a floor or building is the sum of its rooms': the rooms'
    lines say more. Where no space has children, all spaces are leaves.
    """
    lines = [
        {"entity": space.entities["occupancy"], "name": space.name}
        for space in provider.spaces
        if space.leaf and "occupancy" in space.entities
    ]
    if not lines:
        return None
    hours = window.total_seconds() / 3600
    return {
        "type": "grid",
        "column_span": 2,
        "cards": [
            {
                "type": "heading",
                "heading": f"Occupancy, last {_duration_text(window)}",
                "icon": "mdi:chart-line",
            },
            {
                "type": "history-graph",
                "hours_to_show": int(hours) if hours.is_integer() else hours,
                "entities": lines,
                "grid_options": {"columns": "full"},
            },
        ],
    }


def _statistics_section(provider: ProviderSpaces) -> dict[str, Any] | None:
    """Return a section with the hourly mean and peak occupancy of a few rooms.

    Only for providers whose history is imported (``STATISTICS_PROVIDERS``):
    elsewhere the statistics start with Home Assistant, and the history graph
    shows as much. By hour, not by day: a day's mean counts the empty night
    in, where the hours show the busy ones, the quiet weekends, and what the
    usual occupancy (the same weekday and hour in past weeks) is made of.
    """
    if provider.provider not in STATISTICS_PROVIDERS:
        return None
    lines = [
        {"entity": space.entities["occupancy"], "name": space.name}
        for space in provider.spaces
        if space.leaf and "occupancy" in space.entities
    ][:STATISTICS_ROOMS]
    if not lines:
        return None
    return {
        "type": "grid",
        "column_span": 2,
        "cards": [
            {
                "type": "heading",
                "heading": f"Occupancy by hour, last {STATISTICS_DAYS} days",
                "icon": "mdi:chart-timeline-variant",
            },
            {
                "type": "statistics-graph",
                "entities": lines,
                "period": "hour",
                "days_to_show": STATISTICS_DAYS,
                "stat_types": ["mean", "max"],
                "chart_type": "line",
                "grid_options": {"columns": "full"},
            },
        ],
    }


def dashboard_config(
    providers: Sequence[ProviderSpaces], *, history: timedelta = HISTORY
) -> dict[str, Any]:
    """Return the dashboard's configuration: a sections view per provider.

    ``history``: the history graph's window. A provider whose history is
    imported gets a statistics graph too (``_statistics_section``).
    """
    views = []
    for provider in providers:
        path, title = PROVIDER_VIEWS.get(
            provider.provider,
            (provider.provider.lower().replace(" ", "-"), provider.provider),
        )
        sections = [_space_section(space) for space in provider.spaces]
        if history_section := _history_section(provider, history):
            sections.append(history_section)
        if statistics_section := _statistics_section(provider):
            sections.append(statistics_section)
        views.append(
            {
                "title": title,
                "path": path,
                "type": "sections",
                "max_columns": 4,
                "dense_section_placement": True,
                "sections": sections,
            }
        )
    if not views:
        views.append(
            {
                "title": DASHBOARD_TITLE,
                "cards": [
                    {
                        "type": "markdown",
                        "content": "No Space Occupancy entities yet: add an entry "
                        "and run scripts/develop again.",
                    }
                ],
            }
        )
    return {"title": DASHBOARD_TITLE, "views": views}


async def ensure_dashboard(client: HassClient, *, history: timedelta = HISTORY) -> bool:
    """Create or update the Space Occupancy dashboard; return whether created.

    The dashboard is generated from the spaces that exist now, and its
    configuration is rewritten on every run (edit a copy to keep changes).
    ``history``: the history graph's window (scripts/screenshot shortens it
    to the minutes its Home Assistant has run).
    """
    entities = await client.websocket_command({"type": "config/entity_registry/list"})
    devices = await client.websocket_command({"type": "config/device_registry/list"})
    providers = group_spaces(entities, devices, await get_states(client))
    fields = {
        "title": DASHBOARD_TITLE,
        "icon": DASHBOARD_ICON,
        "show_in_sidebar": True,
        "require_admin": False,
    }
    dashboards = await client.websocket_command({"type": "lovelace/dashboards/list"})
    existing = next(
        (item for item in dashboards if item["url_path"] == DASHBOARD_URL_PATH), None
    )
    if existing is None:
        await client.websocket_command(
            {
                "type": "lovelace/dashboards/create",
                "url_path": DASHBOARD_URL_PATH,
                "mode": "storage",
                **fields,
            }
        )
    elif any(existing.get(key) != value for key, value in fields.items()):
        await client.websocket_command(
            {
                "type": "lovelace/dashboards/update",
                "dashboard_id": existing["id"],
                **fields,
            }
        )
    await client.websocket_command(
        {
            "type": "lovelace/config/save",
            "url_path": DASHBOARD_URL_PATH,
            "config": dashboard_config(providers, history=history),
        }
    )
    return existing is None


# --- Command line --------------------------------------------------------------


DEVELOP_COMMENT = """\
Written by scripts/develop on every run; changes here are overwritten.
A small Home Assistant for trying Space Occupancy against the simulator:
no default_config, so nothing discovers the network or calls a cloud."""
DEVELOP_COMPONENTS = ("api", "config", "onboarding", "history", "logbook")
# The environment scripts/develop starts Home Assistant with (it sets the same
# in bash): against the local simulator, Butlr's history requests go every
# 0.2 s rather than every 15 s, so that the 30 days (~90 requests) are in the
# statistics within a minute of start instead of ~22 minutes.
DEVELOP_ENV: Mapping[str, str] = {"SPACE_OCCUPANCY_HISTORY_PACE": "0.2"}
# Every integration configuration.yaml lists for scripts/develop.
DEVELOP_CONFIGURED = ("http", "frontend", "logger", *DEVELOP_COMPONENTS)

# What onboarding sets up by itself. Run with --skip-pip, the ones that need a
# package fail to load (keeping them off the internet); their failed entries
# are removed so that the demo shows no error.
ONBOARDING_DOMAINS = ("google_translate", "met", "radio_browser")


def pid_alive(pid: int) -> bool:
    """Tell whether a process runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/status")
    with contextlib.suppress(OSError):
        return "\nState:\tZ" not in status.read_text(encoding="utf-8")
    return True


async def develop_setup(
    url: str,
    simulator_url: str,
    owner: Owner,
    *,
    within: float,
    hass_pid: int | None = None,
    language: str | None = None,
    skip: Collection[str] = (),
) -> None:
    """Onboard the develop instance and add an entry per provider.

    Each step is safe to repeat: on a re-run the owner signs in and the
    entries that exist are skipped; the dashboard is rewritten to show the
    spaces that exist now. New steps go at the end.

    ``language``: the instance's language, set before the entries are added,
    so that their entities are named in it (Home Assistant names entities in
    its own language, whatever language a user's profile picks).
    ``skip``: the labels of the entries not to add (``simulator_entries``;
    scripts/screenshot adds the Butlr one through the frontend).
    """
    async with client_session() as session:
        client = HassClient(session, url)
        alive = None if hass_pid is None else lambda: pid_alive(hass_pid)
        await wait_until_up(client, within=within, alive=alive)
        created = await onboard(client, owner)
        print(f"Owner {owner.username!r} " + ("created" if created else "signed in"))
        await wait_until_running(client, within=within)
        config = await client.request("GET", "/api/config")
        if not config.get("country"):
            # Next to the simulated sites; without a country HA raises a repair.
            await update_core_config(client, country="US", time_zone="America/New_York")
        # Butlr pushes to this address: the simulator on this machine.
        await update_core_config(client, internal_url=url)
        if language is not None:
            await update_core_config(client, language=language)
        for spec in simulator_entries(simulator_url):
            if spec.label in skip:
                print(f"{spec.label}: not added here")
                continue
            outcome = await add_entry(client, spec)
            if outcome.kind == "created":
                print(f"Added {outcome.label}: {outcome.detail}")
            else:
                print(f"{outcome.label}: {outcome.detail}, skipped")
        if await enable_push(client, "Butlr"):
            print("Butlr: real-time updates (webhooks) on")
        for title in await remove_failed_entries(client, ONBOARDING_DOMAINS):
            print(f"Removed {title!r}: it needs a package --skip-pip does not install")
        await print_occupancy(client)
        new_dashboard = await ensure_dashboard(client)
        print(
            f"Dashboard {DASHBOARD_TITLE!r} ({DASHBOARD_URL_PATH}) "
            + ("created" if new_dashboard else "updated")
        )


async def print_occupancy(client: HassClient) -> None:
    """Print the occupancy sensors and their states."""
    entities = await client.websocket_command({"type": "config/entity_registry/list"})
    occupancy = {
        entity["entity_id"]
        for entity in entities
        if entity["platform"] == DOMAIN and entity.get("translation_key") == "occupancy"
    }
    states = await get_states(client)
    rows = [
        (state["attributes"].get("friendly_name", entity_id), state["state"])
        for entity_id, state in sorted(states.items())
        if entity_id in occupancy
    ]
    if rows:
        print("Occupancy now:")
        for name, value in rows:
            print(f"  {name}: {value}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m scripts.hass_bootstrap")
    commands = parser.add_subparsers(dest="command", required=True)
    config = commands.add_parser("config", help="prepare a config directory")
    config.add_argument("config_dir", type=Path)
    config.add_argument("--port", type=int, default=8123)
    config.add_argument("--host", default="127.0.0.1", help="a loopback address")
    commands.add_parser(
        "requirements",
        help="print the requirements of the integrations Home Assistant sets up "
        "that are not installed, one a line",
    )
    commands.add_parser(
        "constraints", help="print the path of Home Assistant's package constraints"
    )
    setup = commands.add_parser("setup", help="onboard and add the simulator's entries")
    setup.add_argument("--url", default="http://127.0.0.1:8123")
    setup.add_argument("--simulator", default="http://127.0.0.1:8124")
    setup.add_argument("--name", default=Owner.name)
    setup.add_argument("--username", default=Owner.username)
    setup.add_argument("--password", default=Owner.password)
    setup.add_argument("--timeout", type=float, default=300.0)
    setup.add_argument("--pid", type=int, help="Home Assistant's process id")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand; return the exit status."""
    args = parse_args(argv)
    try:
        if args.command == "config":
            require_loopback(f"http://{args.host}")
            prepare_config_dir(
                args.config_dir,
                HassConfig(
                    port=args.port,
                    host=args.host,
                    components=DEVELOP_COMPONENTS,
                    comment=DEVELOP_COMMENT,
                ),
            )
        elif args.command == "requirements":
            for requirement in missing_requirements(DEVELOP_CONFIGURED):
                print(requirement)
        elif args.command == "constraints":
            print(package_constraints())
        else:
            asyncio.run(
                develop_setup(
                    args.url,
                    args.simulator,
                    Owner(args.name, args.username, args.password),
                    within=args.timeout,
                    hass_pid=args.pid,
                )
            )
    except BootstrapError as err:
        print(f"hass_bootstrap: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
