"""Take the README's screenshot: the develop dashboard's Butlr view, in Chromium.

Run by ``scripts/screenshot``, which installs what this needs. Starts what
``scripts/develop`` starts, in a temporary directory and on free loopback
ports (a running ``scripts/develop`` is not disturbed): the simulator, with
people moving every 2 s, and Home Assistant, onboarded, with an entry per
provider and the dashboard. It lets people move for a minute, asking Home
Assistant to poll every few seconds (``homeassistant.update_entity``) so that
the history graph has a line, waits until Butlr's history is in the
statistics (paced as ``scripts/develop`` paces it, ``hass_bootstrap.DEVELOP_ENV``)
for the statistics graph's 30 days, then signs headless Chromium in (the owner's
tokens in the page's ``localStorage``, as the frontend keeps them), opens the
view and saves a PNG. Everything it started is stopped before it returns.

``--config-flow`` takes, instead, the first form of the config flow as a user
reaches it (Add integration, Space Occupancy, Butlr, Butlr account) and the
integration's page, and fails when either shows a raw translation key, when
the form's "Advanced" section is not there and collapsed, or when the
integration's page counts services rather than devices.

``--actions`` takes, instead, the ``import_history`` action in Developer
tools > Actions (UI mode; the Butlr account picked in its account picker,
a past week entered as its range, then performed, so that its response
shows) and the "settings" form of the Butlr entry's options flow (Configure,
then the menu's "settings"), and fails when either shows a raw translation
key or a field labelled with its key, or lacks a text of the integration's
translations (the action's name, description and fields; the form's labels
and descriptions; the form's "History to import").

``--language fr`` takes, instead, the config flow's first form, the device
page of a room (which shows its area) and the options' settings form in that
language, into ``docs/fr/``: the instance speaks it (Home Assistant names
entities in its own language, set before the entries are added) and so does
the owner's profile (``frontend/set_user_data``, as the profile's language
picker does). It fails when the frontend does not speak the language, or a
page shows a raw translation key, lacks a text of that language's
translations or shows one of the integration's English texts instead.

``--selection`` takes, instead, what a user meets when choosing spaces and
when something goes wrong, into ``docs/``: the config flow's "Choose the
spaces" step of a Butlr account (the credentials entered as a user enters
them, to the simulator; the spaces' dropdown opened, listing them by path),
which it then submits with its defaults (rooms in areas); the device page of
the room that puts in its area, on its floor; and the repair dialog of the
Concordia entry's fixable issue (the simulator, run with ``--control``,
spends the application's daily quota; the entry's next poll is refused and
raises ``concordia_quota``; Settings > System > Repairs, the issue clicked
with the mouse opens our fix flow's form). It fails when a page shows a raw
translation key or lacks a text of the translations (the step's and the fix
form's title, description, labels and helpers, with their numbers), when the
dropdown lists no path, when the description's numbers do not add up (the
spaces it counts against the options; the entities against what the entry
then has), when the room is not in its area or the area not on its floor.

``--url`` takes the shots of a Home Assistant that runs already (a
``scripts/develop``), signed in as its owner, without changing it: with
``--actions``, the action is filled in but not performed; with
``--language``, only the browser asks for the language (its entities keep
the names of the instance's language).

Chromium is driven over its DevTools protocol with aiohttp, and kept off the
network: every host name but localhost fails to resolve, every request not to
loopback goes to a proxy that is not there, and background services are off.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from collections.abc import AsyncIterator, Mapping, Sequence
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
import json
import os
from pathlib import Path
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp

from scripts import hass_bootstrap as hb
from tests.simulator.control import SPEND_CONCORDIA_QUOTA

OUTPUT = hb.REPO / "docs" / "dashboard.png"
CONFIG_FLOW_OUTPUT = hb.REPO / "docs" / "config_flow.png"
INTEGRATION_OUTPUT = hb.REPO / "docs" / "integration.png"
ACTION_OUTPUT = hb.REPO / "docs" / "action.png"
OPTIONS_OUTPUT = hb.REPO / "docs" / "options.png"
# --selection: the spaces step, a room's device page in its area, a repair.
SPACES_OUTPUT = hb.REPO / "docs" / "spaces_step.png"
DEVICE_AREA_OUTPUT = hb.REPO / "docs" / "device_area.png"
REPAIR_OUTPUT = hb.REPO / "docs" / "repair.png"
# The entry --selection adds through the frontend (not the bootstrap), the
# step whose picture it takes, and the room and floor it then looks at.
SELECTION_ENTRY = "Butlr"
SPACES_STEP = "spaces"
AREA_ROOM = "Meeting room"
AREA_FLOOR = "First floor"
# What a path joins its names with (providers/selection.PATH_SEPARATOR).
PATH_SEPARATOR = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "
# The fixable issue --selection provokes, of the entry whose devices have
# this manufacturer, and its fix flow's form.
REPAIR_ISSUE = "concordia_quota"
REPAIR_MANUFACTURER = "Concordia University"
REPAIR_STEP = "fix"
# --language LANG: these shots, in docs/LANG/.
LANGUAGE_SHOTS = ("config_flow.png", "device.png", "options.png")
# The device --language shows: a room (the device model the integration gives
# it) that is in an area, Butlr's first (its rooms are on floors).
ROOM_MODEL = "Room"
PREFERRED_MANUFACTURER = "Butlr"
# What a profile's language picker stores beside the language: every format
# as the language has it.
PROFILE_LOCALE = {
    "number_format": "language",
    "time_format": "language",
    "date_format": "language",
    "time_zone": "local",
    "first_weekday": "language",
}
# The menu choices that lead to the first form, and the form's step.
INTEGRATION_NAME = "Space Occupancy"
CONFIG_FLOW_MENU = ("butlr", "butlr_account")
CONFIG_FLOW_FORM = "butlr_account"
# The action --actions takes, and the range it imports: a week older than the
# 30 days an entry imports when it is added, so that it has hours to import.
ACTION = "import_history"
ACTION_RANGE_AGO = timedelta(days=40)
ACTION_RANGE = timedelta(days=7)
# The options flow's menu choice that leads to the form, and the form's step.
OPTIONS_MENU_CHOICE = "settings"
OPTIONS_FORM = "settings"
# The config and options flows' forms show in a dialog, and a device page
# fits: shots this high (the dashboard's is HEIGHT).
DIALOG_HEIGHT = 1000
VIEW = "butlr"
WIDTH, HEIGHT = 1600, 1500
MOVE_SECONDS = 60.0
SIMULATOR_INTERVAL = 2.0
# Home Assistant polls a coordinator at most every 10 s on request.
POLL_EVERY = 5.0
# The same people move in every screenshot, as far as timing allows.
SIMULATOR_SEED = 6
# Debian's browser itself, without the wrapper script /usr/bin/chromium, which adds
# flags of its own (remote extensions among them); then whatever is on PATH.
CHROMIUM_BINARY = Path("/usr/lib/chromium/chromium")
CHROMIUM = ("chromium", "chromium-browser")

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-breakpad",
    "--disable-domain-reliability",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--metrics-recording-only",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    # Loopback bypasses a proxy; anything else would go to this closed port.
    "--proxy-server=http://127.0.0.1:9",
    "--hide-scrollbars",
    "--lang=en-US",
    "--remote-debugging-address=127.0.0.1",
)

# Counts the elements of the given tags through every shadow root, and tells
# whether the page is the sign-in page.
PAGE_PROBE = """
(() => {
  const wanted = new Set(%s);
  const found = {};
  const walk = (root) => {
    for (const element of root.querySelectorAll("*")) {
      if (wanted.has(element.localName)) {
        found[element.localName] = (found[element.localName] || 0) + 1;
      }
      if (element.shadowRoot) walk(element.shadowRoot);
    }
  };
  walk(document);
  return JSON.stringify({path: location.pathname, found: found});
})()
"""

# Helpers for the page scripts below: every element, and the text shown (a line
# per text node), through every shadow root.
DEEP_HELPERS = """
  const deepElements = (root = document) => {
    const all = [];
    const walk = (node) => {
      for (const element of node.querySelectorAll("*")) {
        all.push(element);
        if (element.shadowRoot) walk(element.shadowRoot);
      }
    };
    walk(root);
    return all;
  };
  const skipped = new Set(["style", "script", "template"]);
  const deepText = (root) => {
    const lines = [];
    const walk = (node) => {
      for (const child of node.childNodes) {
        if (child.nodeType === Node.TEXT_NODE) {
          const text = child.textContent.trim();
          if (text) lines.push(text);
        } else if (child.nodeType === Node.ELEMENT_NODE && !skipped.has(child.localName)) {
          if (child.shadowRoot) walk(child.shadowRoot);
          walk(child);
        }
      }
    };
    walk(root);
    return lines;
  };
"""


def page_script(body: str) -> str:
    """Return a page script: ``body`` in a function of its own, with the helpers."""
    return f"(() => {{{DEEP_HELPERS}{body}}})()"


# "main" once the frontend shows its main view, "sign-in" on the sign-in page.
FRONTEND_SHOWN = page_script("""
  const names = new Set(deepElements().map((element) => element.localName));
  if (names.has("ha-authorize") || location.pathname.startsWith("/auth/")) {
    return "sign-in";
  }
  return names.has("home-assistant-main") ? "main" : null;
""")

# The text the page shows.
PAGE_TEXT = page_script('return deepText(document.body).join("\\n");')

# Each tile card's text (name and state), a string per tile.
TILE_TEXTS = page_script("""
  return deepElements()
    .filter((element) => element.localName === "hui-tile-card")
    .map((tile) => deepText(tile.shadowRoot || tile).join(" "));
""")

# Where the first element for which %s holds (an expression of ``element``)
# shows, scrolled into view; null while there is none, or none shown.
ELEMENT_CENTER = page_script("""
  const found = deepElements().find((element) => %s);
  if (!found) return null;
  found.scrollIntoView({block: "center"});
  const box = found.getBoundingClientRect();
  if (!box.width || !box.height) return null;
  return JSON.stringify({x: box.x + box.width / 2, y: box.y + box.height / 2});
""")

# The config flow's form: its step, and whether each expandable section is
# expanded, by its header; null while no form shows.
FLOW_FORM = page_script("""
  const form = deepElements().find((element) => element.localName === "step-flow-form");
  if (!form || !form.step || !form.shadowRoot) return null;
  const sections = {};
  for (const panel of deepElements(form.shadowRoot)) {
    if (panel.localName === "ha-expansion-panel") {
      const slotted = [...panel.children].filter((child) => child.slot === "header");
      const header = panel.header || slotted.flatMap((child) => deepText(child)).join(" ");
      sections[header.trim()] = Boolean(panel.expanded);
    }
  }
  return JSON.stringify({step: form.step.step_id, sections: sections});
""")

# The page's text once it counts devices or services (the integration's page).
COUNTS_SHOWN = page_script("""
  const text = deepText(document.body).join("\\n");
  return /\\d+\\s+(devices?|services?)\\b/i.test(text) ? text : null;
""")

# What shows a translation key instead of its text: a reference left
# unresolved, or a key the frontend fell back to ("component.<domain>....",
# "config.step.<step>.title").
RAW_KEY = re.compile(
    r"\[%key:|component\.space_occupancy\.|\b(?:config|options)\.(?:step|error|abort)\."
    r"|\b(?:config_subentries|selector|entity)\.[a-z_]+\.[a-z_]+\."
)
# How the integration's page counts what an entry has: "3 devices", "1 service".
COUNT_WORDING = re.compile(r"\b\d+\s+(?:devices?|services?|entit(?:y|ies))\b", re.I)

# Whether the frontend has a translation of the given key (a JSON string):
# the integrations' titles load after the first page shows.
TRANSLATED = page_script("""
  const ha = document.querySelector("home-assistant");
  return Boolean(ha && ha.hass && ha.hass.localize(%s));
""")

# Open a path of the frontend as its own links do, without loading the page.
NAVIGATE_IN_APP = """
  history.pushState(null, "", %s);
  window.dispatchEvent(new CustomEvent("location-changed", {detail: {replace: false}}));
  true;
"""

# Developer tools > Actions: the action chosen, its data, whether the UI (not
# YAML) shows, the action picker's text, the fields' keys, the text shown
# (text nodes and the inputs' values), the response and the error shown;
# null while the panel is not there.
ACTION_PANEL = page_script("""
  const panel = deepElements().find((element) => element.localName === "developer-tools-action");
  if (!panel || !panel.shadowRoot) return null;
  const inside = deepElements(panel.shadowRoot);
  const inputValue = (element) => {
    const input = element && deepElements(element.shadowRoot || element)
      .find((each) => each.localName === "input");
    return input ? input.value : null;
  };
  const action = panel._serviceData && panel._serviceData.action;
  const [domain, service] = (action || ".").split(".", 2);
  const services = document.querySelector("home-assistant").hass.services;
  const alert = inside.find((element) => element.localName === "ha-alert");
  return JSON.stringify({
    action: action || null,
    data: (panel._serviceData && panel._serviceData.data) || {},
    yaml: Boolean(panel._yamlMode),
    ui: inside.some((element) => element.localName === "ha-service-control"),
    picker: inputValue(inside.find((element) => element.localName === "ha-service-picker")),
    fields: Object.keys((services[domain] && services[domain][service] || {}).fields || {}),
    lines: [
      ...deepText(panel.shadowRoot),
      ...inside.filter((element) => element.localName === "input" && element.value)
        .map((input) => input.value),
    ],
    response: panel._response === undefined ? null : panel._response,
    error: panel._error ? String(panel._error) : alert ? deepText(alert).join(" ") : null,
  });
""")

# The config entries the open config entry picker offers; null while none shows.
ENTRY_CHOICES = page_script("""
  const items = deepElements().filter(
    (element) => element.localName === "vaadin-combo-box-item" && element.item
      && element.item.entry_id
  );
  if (!items.length) return null;
  return JSON.stringify(items.map((item) => ({
    entry_id: item.item.entry_id, text: deepText(item).join(" / "),
  })));
""")

# Change the action's data (merged with %s) as its form does when edited.
SET_ACTION_DATA = page_script("""
  const panel = deepElements().find((element) => element.localName === "developer-tools-action");
  const control = panel && deepElements(panel.shadowRoot)
    .find((element) => element.localName === "ha-service-control");
  if (!control) return false;
  const value = {...panel._serviceData, data: {...panel._serviceData.data, ...%s}};
  control.dispatchEvent(
    new CustomEvent("value-changed", {detail: {value: value}, bubbles: true, composed: true})
  );
  return true;
""")

# Take the focus off the element that has it (no caret in the shot).
BLUR = """
  (() => {
    let active = document.activeElement;
    while (active && active.shadowRoot && active.shadowRoot.activeElement) {
      active = active.shadowRoot.activeElement;
    }
    if (active && active.blur) active.blur();
    return true;
  })()
"""

# The bottom of what the actions panel shows, in CSS pixels.
ACTION_PANEL_BOTTOM = page_script("""
  const panel = deepElements().find((element) => element.localName === "developer-tools-action");
  let bottom = 0;
  for (const element of panel ? deepElements(panel.shadowRoot) : []) {
    const box = element.getBoundingClientRect();
    if (box.width && box.height) bottom = Math.max(bottom, box.bottom);
  }
  return bottom;
""")

# What a config or options flow's dialog shows: "menu" or "form"; null while
# neither shows.
FLOW_SHOWN = page_script("""
  const all = deepElements();
  if (all.some((element) => element.localName === "step-flow-menu")) return "menu";
  const form = all.find((element) => element.localName === "step-flow-form");
  return form && form.step ? "form" : null;
""")

# The text of the flow's dialog (a menu's title and options).
FLOW_DIALOG_TEXT = page_script("""
  const dialog = deepElements().find((element) => element.localName === "dialog-data-entry-flow");
  return dialog ? deepText(dialog.shadowRoot || dialog) : null;
""")

# The flow form's step, its fields' keys and selectors, and the text fields'
# label, value and unit; null while no form shows.
FLOW_FIELDS = page_script("""
  const form = deepElements().find((element) => element.localName === "step-flow-form");
  if (!form || !form.step || !form.shadowRoot) return null;
  return JSON.stringify({
    step: form.step.step_id,
    schema: (form.step.data_schema || []).map(
      (field) => ({name: field.name, selector: field.selector || null})
    ),
    fields: deepElements(form.shadowRoot)
      .filter((element) => element.localName === "ha-textfield")
      .map((field) => ({
        label: String(field.label || ""),
        value: String(field.value === undefined ? "" : field.value),
        unit: String(field.suffix || ""),
      })),
  });
""")


# The language the frontend speaks: the page's lang attribute and hass's.
LANGUAGE_SHOWN = """
  (() => {
    const ha = document.querySelector("home-assistant");
    return JSON.stringify({
      page: document.documentElement.lang || null,
      hass: (ha && ha.hass && ha.hass.language) || null,
    });
  })()
"""

# The frontend's own text for a key (a JSON string), "" while it has none.
LOCALIZED = """
  (() => {
    const ha = document.querySelector("home-assistant");
    return (ha && ha.hass && ha.hass.localize(%s)) || "";
  })()
"""

# The device page's text once it shows the device (its name, a JSON string)
# and an entity row; null before.
DEVICE_SHOWN = page_script("""
  const page = deepElements().find((element) => element.localName === "ha-config-device-page");
  if (!page || !page.shadowRoot) return null;
  const text = deepText(page.shadowRoot).join("\\n");
  const rows = deepElements(page.shadowRoot).some(
    (element) => element.localName === "state-badge"
  );
  return rows && text.includes(%s) ? text : null;
""")

# Change the flow form's data (to %s) as its fields do when edited; return
# the data the form now holds (what it submits), null while no form shows.
FILL_FLOW_FORM = page_script("""
  const form = deepElements().find((element) => element.localName === "step-flow-form");
  const fields = form && form.shadowRoot && deepElements(form.shadowRoot)
    .find((element) => element.localName === "ha-form");
  if (!fields) return null;
  fields.dispatchEvent(
    new CustomEvent("value-changed", {detail: {value: %s}, bubbles: true, composed: true})
  );
  return JSON.stringify(form._stepData || null);
""")

# What a flow's form shows and holds: its step, the placeholders of its
# texts, its data, each select field's option labels, the chips shown (picked
# options), the dropdown items shown (their labels) and the error shown;
# null while no form shows.
FLOW_FORM_STATE = page_script("""
  const form = deepElements().find((element) => element.localName === "step-flow-form");
  if (!form || !form.step || !form.shadowRoot) return null;
  const inside = deepElements(form.shadowRoot);
  const shown = (element) => {
    const box = element.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  const options = {};
  for (const field of form.step.data_schema || []) {
    const select = field.selector && field.selector.select;
    if (select) options[field.name] = (select.options || []).map(
      (option) => typeof option === "string" ? option : option.label
    );
  }
  const alert = inside.find((element) => element.localName === "ha-alert");
  return JSON.stringify({
    step: form.step.step_id,
    placeholders: form.step.description_placeholders || {},
    data: form._stepData || null,
    options: options,
    chips: inside.filter((element) => element.localName === "ha-input-chip")
      .map((chip) => String(chip.label || deepText(chip).join(" "))),
    items: deepElements().filter(
      (element) => element.localName === "vaadin-combo-box-item" && element.item
        && shown(element)
    ).map((item) => String(item.item.label || item.item.value || "")),
    errors: form.step.errors || null,
    alert: alert ? deepText(alert).join(" ") : null,
  });
""")

# Whether the config flow shows its last step: the entry created.
FLOW_CREATED = page_script("""
  return deepElements().some((element) => element.localName === "step-flow-create-entry");
""")


class ScreenshotError(RuntimeError):
    """The screenshot could not be taken."""


# --- Chromium ------------------------------------------------------------------


def find_chromium() -> str:
    """Return the path of Chromium; raise when it is not installed."""
    if os.access(CHROMIUM_BINARY, os.X_OK):
        return str(CHROMIUM_BINARY)
    for name in CHROMIUM:
        if path := shutil.which(name):
            return path
    raise ScreenshotError("Chromium is not installed (apt-get install chromium)")


@dataclass
class DevTools:
    """One page of Chromium, over the DevTools protocol's websocket."""

    ws: aiohttp.ClientWebSocketResponse
    last_id: int = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command and return its result (events are ignored)."""
        self.last_id += 1
        await self.ws.send_json(
            {"id": self.last_id, "method": method, "params": params}
        )
        while True:
            message = await self.ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise ScreenshotError(f"DevTools connection closed during {method}")
            answer = json.loads(message.data)
            if answer.get("id") != self.last_id:
                continue
            if "error" in answer:
                raise ScreenshotError(f"{method}: {answer['error']}")
            result: dict[str, Any] = answer.get("result", {})
            return result

    async def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page; return its value."""
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise ScreenshotError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")


async def page_websocket(session: aiohttp.ClientSession, port: int) -> str:
    """Wait for Chromium's DevTools; return the websocket URL of its page."""
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(
                f"http://127.0.0.1:{port}/json/list",
                timeout=aiohttp.ClientTimeout(total=5),
            ) as response:
                targets = await response.json(content_type=None)
                for target in targets:
                    if target.get("type") == "page":
                        url: str = target["webSocketDebuggerUrl"]
                        hb.require_loopback(url.replace("ws", "http", 1))
                        return url
        if time.monotonic() > deadline:
            raise ScreenshotError("Chromium's DevTools did not answer within 30 s")
        await asyncio.sleep(0.3)


def start_chromium(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    """Start headless Chromium with DevTools on 127.0.0.1:port."""
    command = [
        find_chromium(),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={workdir / 'chromium'}",
        f"--remote-debugging-port={port}",
        f"--window-size={WIDTH},{HEIGHT}",
        "about:blank",
    ]
    # Its crash handler (which has no upload URL) keeps its database under
    # XDG_CONFIG_HOME, its singleton socket goes to TMPDIR: all of it in the
    # temporary directory, with everything else.
    (workdir / "tmp").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(workdir / "xdg-config"),
        "XDG_CACHE_HOME": str(workdir / "xdg-cache"),
        "TMPDIR": str(workdir / "tmp"),
    }
    with (workdir / "chromium.log").open("ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


@contextlib.asynccontextmanager
async def open_chromium(
    session: aiohttp.ClientSession, workdir: Path
) -> AsyncIterator[DevTools]:
    """Run headless Chromium; yield its page; close it and wait until it ends.

    Closed over DevTools, Chromium ends its helper processes itself. It runs
    in a process group of its own, so that any helper left can be ended too.
    """
    port = hb.free_port()
    process = start_chromium(port, workdir)
    closing = False
    try:
        async with session.ws_connect(
            await page_websocket(session, port), max_msg_size=0
        ) as ws:
            page = DevTools(ws)
            try:
                yield page
            finally:
                closing = True
                with contextlib.suppress(
                    ScreenshotError, aiohttp.ClientError, TimeoutError
                ):
                    async with asyncio.timeout(5):
                        await page.call("Browser.close")
    finally:
        if closing:
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(process.wait, 10)
        await asyncio.to_thread(hb.stop_process, process, 10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def tokens_script(
    base_url: str, tokens: Mapping[str, Any], *, language: str | None = None
) -> str:
    """Return a script that signs the frontend in, as it keeps its own tokens.

    ``language``: the language picked, as the frontend keeps it too.
    """
    stored = {
        "hassUrl": base_url,
        "clientId": f"{base_url}/",
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "token_type": tokens.get("token_type", "Bearer"),
        "expires_in": tokens["expires_in"],
        "expires": int(time.time() * 1000) + int(tokens["expires_in"]) * 1000,
    }
    script = (
        f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(stored))});"
        # The sidebar narrowed to its icons: more room for the dashboard.
        "localStorage.setItem('dockedSidebar', '\"auto\"');"
    )
    if language is not None:
        picked = json.dumps(json.dumps(language))
        script += f"localStorage.setItem('selectedLanguage', {picked});"
    return script


async def wait_for_view(
    page: DevTools, expected: Mapping[str, int], *, within: float = 60.0
) -> None:
    """Wait until the view shows the expected cards, and a little longer."""
    probe = PAGE_PROBE % json.dumps([*expected, "ha-authorize"])
    deadline = time.monotonic() + within
    while True:
        seen = json.loads(await page.evaluate(probe))
        found: dict[str, int] = seen["found"]
        if found.get("ha-authorize") or seen["path"].startswith("/auth/"):
            raise ScreenshotError("Chromium shows the sign-in page: the tokens failed")
        if all(found.get(tag, 0) >= count for tag, count in expected.items()):
            break
        if time.monotonic() > deadline:
            raise ScreenshotError(
                f"the view did not render within {within} s: found {found}, "
                f"wanted {dict(expected)}"
            )
        await asyncio.sleep(0.5)
    # Gauges sweep to their value and the chart fades in.
    await asyncio.sleep(3)


def expected_cards(config: Mapping[str, Any], view_path: str) -> dict[str, int]:
    """Return the elements the view must show, by tag, from its configuration."""
    view = next((v for v in config["views"] if v.get("path") == view_path), None)
    if view is None:
        raise ScreenshotError(f"the dashboard has no view {view_path!r}")
    cards = [
        *view.get("cards", []),
        *(card for section in view.get("sections", []) for card in section["cards"]),
    ]
    types = [card["type"] for card in cards]
    wanted = {
        "ha-gauge": types.count("gauge"),
        "hui-tile-card": types.count("tile"),
        "ha-chart-base": types.count("history-graph") + types.count("statistics-graph"),
    }
    return {tag: count for tag, count in wanted.items() if count}


async def wait_until(
    page: DevTools, expression: str, what: str, *, within: float = 60.0
) -> Any:
    """Evaluate ``expression`` until its value is truthy; return that value."""
    deadline = time.monotonic() + within
    while not (value := await page.evaluate(expression)):
        if time.monotonic() > deadline:
            raise ScreenshotError(f"{what} did not show within {within} s")
        await asyncio.sleep(0.5)
    return value


async def open_path(page: DevTools, base_url: str, path: str) -> None:
    """Open a page of the frontend; fail on the sign-in page."""
    await page.call("Page.navigate", url=f"{base_url}{path}")
    if await wait_until(page, FRONTEND_SHOWN, "the frontend") == "sign-in":
        raise ScreenshotError("Chromium shows the sign-in page: the tokens failed")


async def screenshot_png(page: DevTools, *, height: float | None = None) -> bytes:
    """Return a PNG of the page as it shows now (its top ``height`` pixels)."""
    clip = (
        {}
        if height is None
        else {"clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}}
    )
    shot = await page.call("Page.captureScreenshot", format="png", **clip)
    return base64.b64decode(shot["data"])


async def set_viewport(page: DevTools, height: int) -> None:
    """Make the page WIDTH by ``height`` pixels."""
    await page.call(
        "Emulation.setDeviceMetricsOverride",
        width=WIDTH,
        height=height,
        deviceScaleFactor=1,
        mobile=False,
    )


async def park_mouse(page: DevTools, height: int) -> None:
    """Move the mouse to the page's bottom right corner: nothing shows it hovered."""
    await page.call(
        "Input.dispatchMouseEvent", type="mouseMoved", x=WIDTH - 1, y=height - 1
    )


@dataclass
class Shot:
    """A PNG to save and what checking the page found wrong, if anything."""

    output: Path
    png: bytes
    problems: list[str] = field(default_factory=list)


async def shoot_dashboard(
    page: DevTools,
    base_url: str,
    *,
    view_path: str,
    expected: Mapping[str, int],
    output: Path,
) -> Shot:
    """Open the dashboard's view; return a PNG of it and what its tiles show.

    A tile whose entity has no value (unavailable, unknown, missing) is a
    problem.
    """
    await page.call(
        "Page.navigate", url=f"{base_url}/{hb.DASHBOARD_URL_PATH}/{view_path}"
    )
    await wait_for_view(page, expected)
    shot = Shot(output, await screenshot_png(page))
    tiles: list[str] = await page.evaluate(TILE_TEXTS)
    print(f"The {view_path!r} view shows {len(tiles)} tiles, among them:")
    for text in tiles[:6]:
        print(f"  {text}")
    shot.problems += [
        f"a tile shows no value: {text!r}"
        for text in tiles
        if re.search(r"unavailable|unknown|not available|not found", text, re.I)
    ]
    return shot


def raw_keys(text: str) -> list[str]:
    """Return the lines of a page's text that show a translation key."""
    return [line for line in text.splitlines() if RAW_KEY.search(line)]


async def click(page: DevTools, predicate: str, what: str) -> None:
    """Click, with the mouse, the middle of the first element ``predicate`` finds.

    ``predicate`` is a JavaScript expression of ``element``; the element is
    waited for.
    """
    center = json.loads(await wait_until(page, ELEMENT_CENTER % predicate, what))
    for kind in ("mousePressed", "mouseReleased"):
        await page.call(
            "Input.dispatchMouseEvent",
            type=kind,
            x=center["x"],
            y=center["y"],
            button="left",
            clickCount=1,
        )


async def open_config_flow_form(page: DevTools, base_url: str) -> None:
    """Add the integration as a user does, up to the first form.

    Settings > Devices & services: Add integration, search for it, pick it,
    then the menu options to the form, each clicked with the mouse.
    """
    await set_viewport(page, DIALOG_HEIGHT)
    await open_path(page, base_url, "/config/integrations/dashboard")
    await click(
        page,
        # ha-fab (2025.4) or ha-button (2026) in the page's "fab" slot.
        'element.getAttribute("slot") === "fab"',
        "the Add integration button",
    )
    await wait_until(
        page,
        page_script(
            "return deepElements().some("
            '(element) => element.localName === "dialog-add-integration");'
        ),
        "the Add integration dialog",
    )
    await asyncio.sleep(1)  # the search field takes the focus
    await page.call("Input.insertText", text=INTEGRATION_NAME)
    await click(
        page,
        'element.localName === "ha-integration-list-item"'
        f" && element.integration?.domain === {json.dumps(hb.DOMAIN)}",
        f"{INTEGRATION_NAME} in the Add integration dialog",
    )
    for step in CONFIG_FLOW_MENU:
        await click(
            page,
            f"element.step === {json.dumps(step)}",  # a menu option's item
            f"the config flow's menu option {step!r}",
        )
    form = json.loads(
        await wait_until(
            page, FLOW_FORM, f"the config flow's form {CONFIG_FLOW_FORM!r}"
        )
    )
    if form["step"] != CONFIG_FLOW_FORM:
        raise ScreenshotError(f"the config flow showed form {form['step']!r}")


async def shoot_config_flow(
    page: DevTools, base_url: str, output: Path, wording: Wording
) -> Shot:
    """Add the integration as a user does; return a PNG of the first form.

    The form (``open_config_flow_form``) must speak the wording's language,
    show no translation key, its title, labels and descriptions, no English
    text of a translated language, and have its "Advanced" section collapsed.
    """
    await open_config_flow_form(page, base_url)
    # The dialog grows to its content, and the fields fade in.
    await asyncio.sleep(2)
    shot = Shot(output, await screenshot_png(page))
    lines = (await page.evaluate(PAGE_TEXT)).splitlines()
    form_texts = wording.texts["config"]["step"][CONFIG_FLOW_FORM]
    advanced = form_texts["sections"]["advanced"]["name"]
    shot.problems += await language_problems(page, wording)
    shot.problems += check_texts(
        lines,
        keys=[*form_texts["data"], *form_texts["sections"]],
        expected=[
            form_texts["title"],
            *form_texts["data"].values(),
            *form_texts["data_description"].values(),
        ],
    )
    shot.problems += wording.english_shown(lines)
    # The sections render after the form: read them now, as shown.
    sections: dict[str, bool] = json.loads(await page.evaluate(FLOW_FORM))["sections"]
    print(f"The config flow's form {CONFIG_FLOW_FORM!r} has sections {sections}")
    if sections.get(advanced) is not False:
        shot.problems.append(f"no collapsed {advanced!r} section: {sections}")
    return shot


async def shoot_integration_page(page: DevTools, base_url: str, output: Path) -> Shot:
    """Open the integration's page; return a PNG of it and check its wording.

    Its entries must show no translation key, and count devices, not
    services (the integration is a hub of devices).
    """
    await open_path(page, base_url, f"/config/integrations/integration/{hb.DOMAIN}")
    await wait_until(page, COUNTS_SHOWN, "the integration's entries")
    await asyncio.sleep(2)
    text = await page.evaluate(PAGE_TEXT)
    shot = Shot(output, await screenshot_png(page))
    wording = sorted({match.group(0) for match in COUNT_WORDING.finditer(text)})
    print(f"The integration's page counts: {', '.join(wording)}")
    shot.problems += [f"a translation key shows: {line!r}" for line in raw_keys(text)]
    if not any("device" in words.lower() for words in wording):
        shot.problems.append(f"the integration's page counts no devices: {wording}")
    if any("service" in words.lower() for words in wording):
        shot.problems.append(f"the integration's page counts services: {wording}")
    return shot


@dataclass(frozen=True)
class Entry:
    """A config entry of the integration."""

    entry_id: str
    title: str


async def history_entry(client: hb.HassClient) -> Entry:
    """Return the first loaded entry that imports history (the Butlr one).

    Its diagnostics tell: an entry whose provider serves no history has none.
    """
    entries = await client.request(
        "GET", f"/api/config/config_entries/entry?domain={hb.DOMAIN}"
    )
    for entry in entries:
        if entry["state"] != "loaded":
            continue
        answer = await client.request(
            "GET", f"/api/diagnostics/config_entry/{entry['entry_id']}"
        )
        if answer["data"].get("history") is not None:
            return Entry(entry["entry_id"], entry["title"])
    raise ScreenshotError("no loaded entry imports history (no Butlr entry)")


def integration_texts(language: str = "en") -> tuple[str, dict[str, Any]]:
    """Return the integration's name and texts in a language, as Home Assistant has them."""
    manifest = json.loads((hb.INTEGRATION_DIR / "manifest.json").read_text("utf-8"))
    texts = json.loads(
        (hb.INTEGRATION_DIR / "translations" / f"{language}.json").read_text("utf-8")
    )
    return manifest["name"], texts


def shipped_languages() -> list[str]:
    """Return the languages the integration has translations of, English aside."""
    folder = hb.INTEGRATION_DIR / "translations"
    return sorted(path.stem for path in folder.glob("*.json") if path.stem != "en")


def _leaves(node: Any, path: str = "") -> dict[str, str]:
    """Return every text of a translation tree by its dotted key."""
    if isinstance(node, dict):
        leaves: dict[str, str] = {}
        for key, value in node.items():
            leaves |= _leaves(value, f"{path}.{key}" if path else key)
        return leaves
    return {path: str(node)}


@dataclass(frozen=True)
class Wording:
    """The integration's texts in the language a page must speak.

    ``english``: the integration's English texts this language does not
    share (it has another text at the same key, and none like it anywhere):
    a page of that language that shows one shows an untranslated text.
    """

    language: str
    name: str
    texts: Mapping[str, Any]
    english: tuple[str, ...] = ()

    @classmethod
    def of(cls, language: str) -> Wording:
        """Return the wording of a language."""
        name, texts = integration_texts(language)
        if language == "en":
            return cls(language, name, texts)
        translated = _leaves(texts)
        shared = set(translated.values())
        english = {
            text
            for key, text in _leaves(integration_texts("en")[1]).items()
            if translated.get(key) != text and text not in shared
        }
        return cls(language, name, texts, tuple(sorted(english)))

    def english_shown(self, lines: Sequence[str]) -> list[str]:
        """Return a problem per English text the lines show (placeholders: any text).

        The integration's name ("Space Occupancy") is a name in every language.
        """
        lines = sorted({line.replace(self.name, "") for line in lines})
        problems = []
        for text in self.english:
            parts = re.split(r"{\w+}", text)
            pattern = re.compile(
                r"(?<!\w)" + ".+?".join(re.escape(part) for part in parts) + r"(?!\w)"
            )
            problems += [
                f"shows the English {text!r} (in {line!r})"
                for line in lines
                if pattern.search(line)
            ]
        return problems


async def language_problems(page: DevTools, wording: Wording) -> list[str]:
    """Return a problem when the frontend does not speak the wording's language."""
    shown = json.loads(await page.evaluate(LANGUAGE_SHOWN))
    if shown["page"] == shown["hass"] == wording.language:
        return []
    speaks = f"{shown['hass']!r} (page {shown['page']!r})"
    return [f"the frontend speaks {speaks}, not {wording.language!r}"]


def check_texts(
    lines: Sequence[str], *, keys: Sequence[str], expected: Sequence[str]
) -> list[str]:
    """Return what is wrong with the text a page shows, a line per text node.

    A translation key shows, a line is a field's key (its label left
    untranslated), or an expected text (a label, a description) is not there.
    """
    problems = [
        f"a translation key shows: {line!r}" for line in raw_keys("\n".join(lines))
    ]
    problems += [
        f"a field is labelled with its key: {line!r}"
        for line in sorted({line for line in lines if line.strip(" *") in keys})
    ]
    shown = " ".join(" ".join(lines).split())
    problems += [
        f"does not show {text!r}"
        for text in expected
        if " ".join(text.split()) not in shown
    ]
    return problems


def action_range(today: date) -> dict[str, str]:
    """Return the range the action imports: a week, ACTION_RANGE_AGO back."""
    start = today - ACTION_RANGE_AGO
    return {
        "start": f"{start.isoformat()} 00:00:00",
        "end": f"{(start + ACTION_RANGE).isoformat()} 00:00:00",
    }


async def action_panel(page: DevTools) -> dict[str, Any]:
    """Return what Developer tools > Actions shows (ACTION_PANEL)."""
    state: dict[str, Any] = json.loads(
        await wait_until(page, ACTION_PANEL, "Developer tools > Actions")
    )
    return state


async def shoot_action(
    page: DevTools, base_url: str, entry: Entry, output: Path, *, perform: bool
) -> Shot:
    """Fill in the action in Developer tools > Actions; return a PNG of it.

    The frontend opens on another tab of Developer tools until it has the
    integrations' titles, then on the action (as its "My" link does): opened
    at once, the action picker would show the domain rather than the
    integration's name. The UI mode shows (switched to if need be); the
    account is picked in the account picker, with the mouse; the range is
    entered as the form enters it; ``perform``: the action is performed
    (with the mouse) and its response shown. The page must show no
    translation key, its fields labelled and described, and no error.
    """
    name, texts = integration_texts()
    service = f"{hb.DOMAIN}.{ACTION}"
    action_texts = texts["services"][ACTION]
    await open_path(page, base_url, "/developer-tools/state")
    await wait_until(
        page,
        TRANSLATED % json.dumps(f"component.{hb.DOMAIN}.title"),
        "the integrations' titles",
    )
    await page.evaluate(
        NAVIGATE_IN_APP % json.dumps(f"/developer-tools/action?service={service}")
    )
    await wait_until(
        page,
        page_script(
            f"return deepElements().some((element) => element.localName === "
            f'"developer-tools-action" && element._serviceData?.action === '
            f"{json.dumps(service)});"
        ),
        f"the action {service}",
    )
    if (await action_panel(page))["yaml"]:
        await click(
            page,
            'element.parentElement?.classList.contains("switch-mode-container")',
            "the Go to UI mode button",
        )
    await click(
        page, 'element.localName === "ha-config-entry-picker"', "the account picker"
    )
    choices = json.loads(await wait_until(page, ENTRY_CHOICES, "the accounts"))
    print("The account picker offers: " + "; ".join(c["text"] for c in choices))
    problems = []
    if any(choice["entry_id"] == entry.entry_id for choice in choices):
        await click(
            page,
            'element.localName === "vaadin-combo-box-item"'
            f" && element.item?.entry_id === {json.dumps(entry.entry_id)}",
            f"{entry.title} in the account picker",
        )
    else:
        problems.append(f"the account picker does not offer {entry.title!r}")
    if not await page.evaluate(
        SET_ACTION_DATA % json.dumps(action_range(datetime.now(UTC).date()))
    ):
        raise ScreenshotError("the action's form did not take the range")
    await asyncio.sleep(1)
    if perform:
        await click(
            page, 'element.localName === "ha-progress-button"', "Perform action"
        )
        await wait_until(
            page,
            page_script(
                "const panel = deepElements().find((element) => element.localName"
                ' === "developer-tools-action");'
                " return Boolean(panel && (panel._response !== undefined"
                " || panel._error));"
            ),
            "the action's response",
            within=180,
        )
        # The button shows its tick for 2 s.
        await asyncio.sleep(3)
    await park_mouse(page, HEIGHT)
    await page.evaluate(BLUR)
    await asyncio.sleep(0.5)
    bottom = await page.evaluate(ACTION_PANEL_BOTTOM)
    shot = Shot(output, await screenshot_png(page, height=min(HEIGHT, bottom + 24)))
    state = await action_panel(page)
    print(f"The action picker shows {state['picker']!r}, with data {state['data']}")
    expected_picker = f"{name}: {action_texts['name']}"
    if state["picker"] != expected_picker:
        problems.append(
            f"the action picker shows {state['picker']!r}, not {expected_picker!r}"
        )
    if state["yaml"] or not state["ui"]:
        problems.append("the action's form shows in YAML mode, not the UI")
    if state["data"].get("config_entry_id") != entry.entry_id:
        problems.append(f"the account picked is not {entry.title!r}: {state['data']}")
    problems += check_texts(
        state["lines"],
        keys=[ACTION, *state["fields"]],
        expected=[
            action_texts["description"],
            *(
                text
                for field_texts in action_texts["fields"].values()
                for text in (field_texts["name"], field_texts["description"])
            ),
        ],
    )
    if state["error"]:
        problems.append(f"the action failed: {state['error']}")
    if perform and state["response"] is not None:
        print(f"The action answered: {json.dumps(state['response'])}")
    shot.problems += problems
    return shot


async def shoot_options(
    page: DevTools, base_url: str, entry: Entry, output: Path, wording: Wording
) -> Shot:
    """Open the entry's options flow at its settings form; return a PNG of it.

    Configure, on the integration's page, then the menu's "settings" (the
    menu shows when some space has no capacity), each clicked with the
    mouse. The menu and the form must speak the wording's language and show
    no translation key and no English text of a translated language, the
    form its fields' labels and descriptions and a "history_days" field.
    """
    step_texts = wording.texts["options"]["step"]
    await set_viewport(page, DIALOG_HEIGHT)
    await open_path(page, base_url, f"/config/integrations/integration/{hb.DOMAIN}")
    # The button's text in the frontend's language ("Configure", "Configurer"),
    # waited for below (the page counts its devices in that language too).
    configure = await wait_until(
        page,
        LOCALIZED % json.dumps("ui.panel.config.integrations.config_entry.configure"),
        "the frontend's translations",
    )
    # The entry's Configure button: the entry is a property of an ancestor.
    entry_of = (
        "(() => { for (let node = element; node; node = node.parentNode || node.host)"
        " { const entry = node.configEntry || node.entry;"
        f" if (entry && entry.entry_id) return entry.entry_id === "
        f"{json.dumps(entry.entry_id)}; }} return false; }})()"
    )
    await click(
        page,
        '["ha-button", "mwc-button"].includes(element.localName)'
        f' && deepText(element).join(" ") === {json.dumps(configure)}'
        f" && {entry_of}",
        f"the Configure button of {entry.title}",
    )
    problems = []
    if await wait_until(page, FLOW_SHOWN, "the options flow") == "menu":
        menu: list[str] = await page.evaluate(FLOW_DIALOG_TEXT)
        print("The options flow's menu: " + " / ".join(menu))
        problems += check_texts(
            menu,
            keys=list(step_texts["init"]["menu_options"]),
            expected=list(step_texts["init"]["menu_options"].values()),
        )
        problems += wording.english_shown(menu)
        await click(
            page,
            f"element.step === {json.dumps(OPTIONS_MENU_CHOICE)}",
            f"the options flow's menu option {OPTIONS_MENU_CHOICE!r}",
        )
    else:
        print("The options flow shows no menu: every space has a capacity")
    form = json.loads(
        await wait_until(
            page,
            page_script(
                f"const form = JSON.parse({FLOW_FIELDS.strip()} || 'null');"
                " return form && form.step === "
                f"{json.dumps(OPTIONS_FORM)} && form.fields.length"
                " ? JSON.stringify(form) : null;"
            ),
            f"the options flow's form {OPTIONS_FORM!r}",
        )
    )
    # The dialog grows to its content, and the fields fade in.
    await asyncio.sleep(2)
    await park_mouse(page, DIALOG_HEIGHT)
    shot = Shot(output, await screenshot_png(page))
    form = json.loads(await page.evaluate(FLOW_FIELDS))
    text = (await page.evaluate(PAGE_TEXT)).splitlines()
    keys = [field["name"] for field in form["schema"]]
    print(f"The options flow's form {form['step']!r}:")
    for schema, shown in zip(form["schema"], form["fields"], strict=False):
        number = (schema["selector"] or {}).get("number") or {}
        print(
            f"  {schema['name']}: {shown['label']!r} = {shown['value']} {shown['unit']}"
            f" ({number.get('min')} to {number.get('max')})"
        )
    form_texts = step_texts[OPTIONS_FORM]
    problems += check_texts(
        [*text, *(field["label"] for field in form["fields"])],
        keys=keys,
        expected=[
            form_texts["title"],
            *(form_texts["data"][key] for key in keys if key in form_texts["data"]),
            *(
                form_texts["data_description"][key]
                for key in keys
                if key in form_texts["data_description"]
            ),
        ],
    )
    problems += wording.english_shown(
        [*text, *(field["label"] for field in form["fields"])]
    )
    problems += await language_problems(page, wording)
    problems += [
        f"the form's field {key!r} has no label in the translations"
        for key in keys
        if key not in form_texts["data"]
    ]
    if "history_days" not in keys:
        problems.append(f"the form has no 'history_days' field: {keys}")
    shot.problems += problems
    return shot


@dataclass(frozen=True)
class RoomDevice:
    """A room's device, its area and its entities shown on its page."""

    device_id: str
    name: str
    area: str
    # (entity id, platform, translation key) of each enabled, visible entity.
    entities: tuple[tuple[str, str, str], ...]
    # The floor its area is on (None: none), and its config entry.
    floor: str | None = None
    entry_id: str = ""


async def room_device(client: hb.HassClient, name: str | None = None) -> RoomDevice:
    """Return the first room of the integration that is in an area, Butlr's first.

    ``name``: the first room of that name that is in an area.
    """
    registry = await client.websocket_command({"type": "config/device_registry/list"})
    entries = {
        entry["entry_id"]
        for entry in await client.request(
            "GET", f"/api/config/config_entries/entry?domain={hb.DOMAIN}"
        )
    }
    rooms = sorted(
        (
            device
            for device in registry
            if device["model"] == ROOM_MODEL
            and device["area_id"]
            and entries & set(device["config_entries"])
            and name in (None, device["name_by_user"] or device["name"])
        ),
        key=lambda device: (
            device["manufacturer"] != PREFERRED_MANUFACTURER,
            device["name"],
        ),
    )
    if not rooms:
        room = "no room device" if name is None else f"no room {name!r}"
        raise ScreenshotError(f"{room} is in an area (the areas option is off?)")
    device = rooms[0]
    areas = await client.websocket_command({"type": "config/area_registry/list"})
    area = next(area for area in areas if area["area_id"] == device["area_id"])
    floors = await client.websocket_command({"type": "config/floor_registry/list"})
    entities = await client.websocket_command({"type": "config/entity_registry/list"})
    return RoomDevice(
        device["id"],
        device["name_by_user"] or device["name"],
        area["name"],
        tuple(
            (
                entity["entity_id"],
                entity["entity_id"].split(".", 1)[0],
                entity["translation_key"],
            )
            for entity in entities
            if entity["device_id"] == device["id"]
            and entity["platform"] == hb.DOMAIN
            and entity["translation_key"]
            and not entity["disabled_by"]
            and not entity["hidden_by"]
        ),
        next(
            (
                floor["name"]
                for floor in floors
                if floor["floor_id"] == area["floor_id"]
            ),
            None,
        ),
        next(iter(entries & set(device["config_entries"]))),
    )


async def device_texts(
    client: hb.HassClient, device: RoomDevice, wording: Wording
) -> list[str]:
    """Return the texts the device's page must show: area, entity names, states.

    A state shows translated where the entity's texts have states (activity,
    compared with usual).
    """
    texts = wording.texts["entity"]
    expected = [device.area]
    for entity_id, platform, key in device.entities:
        entity_texts = texts[platform][key]
        expected.append(entity_texts["name"])
        state = (await client.request("GET", f"/api/states/{entity_id}"))["state"]
        if state in entity_texts.get("state", {}):
            expected.append(entity_texts["state"][state])
    return expected


async def shoot_device(
    page: DevTools,
    base_url: str,
    device: RoomDevice,
    output: Path,
    *,
    wording: Wording,
    expected: Sequence[str],
) -> Shot:
    """Open a room's device page; return a PNG of it and check its wording.

    The page must speak the wording's language and show the room's area,
    its entities' names and translated states, no translation key and no
    English text of a translated language.
    """
    await set_viewport(page, DIALOG_HEIGHT)
    await open_path(page, base_url, f"/config/devices/device/{device.device_id}")
    await wait_until(
        page, DEVICE_SHOWN % json.dumps(device.name), f"the page of {device.name}"
    )
    # The cards fill in: states, the area, the related items.
    await asyncio.sleep(3)
    await park_mouse(page, DIALOG_HEIGHT)
    shot = Shot(output, await screenshot_png(page))
    lines = (await page.evaluate(PAGE_TEXT)).splitlines()
    print(f"The page of {device.name} (area {device.area!r}) shows:")
    print("  " + " | ".join(lines[:60]))
    shot.problems += await language_problems(page, wording)
    shot.problems += check_texts(lines, keys=[], expected=expected)
    shot.problems += wording.english_shown(lines)
    return shot


# --- --selection: the spaces step, a room in its area, a repair ------------------


def with_placeholders(text: str, placeholders: Mapping[str, Any]) -> str:
    """Return a translation with its placeholders filled in, as the frontend does."""
    return re.sub(
        r"{(\w+)}",
        lambda match: str(placeholders.get(match.group(1), match.group(0))),
        text,
    )


def step_expected(
    texts: Mapping[str, Any], placeholders: Mapping[str, Any]
) -> list[str]:
    """Return the texts a form of these translations must show, filled in."""
    return [
        with_placeholders(text, placeholders)
        for text in (
            texts.get("title"),
            texts.get("description"),
            *texts.get("data", {}).values(),
            *texts.get("data_description", {}).values(),
        )
        if text
    ]


async def wait_for_step(
    page: DevTools, step: str, what: str, *, within: float = 120.0
) -> dict[str, Any]:
    """Wait until a flow shows the form of ``step``; return what it shows.

    A form shown with an error (the answer refused) fails at once.
    """
    deadline = time.monotonic() + within
    while True:
        raw = await page.evaluate(FLOW_FORM_STATE)
        if raw:
            state: dict[str, Any] = json.loads(raw)
            if state["step"] == step:
                return state
            if state["errors"] or state["alert"]:
                raise ScreenshotError(
                    f"{what}: the form {state['step']!r} answered "
                    f"{state['errors'] or state['alert']}"
                )
        if time.monotonic() > deadline:
            raise ScreenshotError(f"{what} did not show within {within} s")
        await asyncio.sleep(0.5)


async def submit_flow_form(page: DevTools, what: str) -> None:
    """Click the flow form's submit button, as a user does."""
    await click(
        page,
        '["mwc-button", "ha-button"].includes(element.localName)'
        ' && element.closest(".buttons")'
        ' && element.getRootNode().host?.localName === "step-flow-form"',
        what,
    )


async def press_key(page: DevTools, key: str, code: int) -> None:
    """Press and release a key in the element that has the focus."""
    for kind in ("keyDown", "keyUp"):
        await page.call(
            "Input.dispatchKeyEvent",
            type=kind,
            key=key,
            code=key,
            windowsVirtualKeyCode=code,
        )


def butlr_form_answer(simulator_url: str) -> dict[str, Any]:
    """Return what the Butlr account form is answered: the simulator's account."""
    spec = next(
        spec
        for spec in hb.simulator_entries(simulator_url)
        if spec.label == SELECTION_ENTRY
    )
    return json.loads(json.dumps(spec.data))


async def enter_butlr_account(
    page: DevTools, base_url: str, simulator_url: str
) -> None:
    """Add a Butlr account through the frontend, up to the spaces step.

    The credentials form is filled in as its fields fill it, with the
    simulator as the API base URL (checked before it is sent: this Home
    Assistant asks no other Butlr), and submitted with the mouse.
    """
    await open_config_flow_form(page, base_url)
    answer = butlr_form_answer(simulator_url)
    held = json.loads(
        await wait_until(
            page, FILL_FLOW_FORM % json.dumps(answer), "the credentials form"
        )
        or "null"
    )
    sent_to = ((held or {}).get("advanced") or {}).get("base_url")
    if held != answer or hb.require_loopback(str(sent_to)) != hb.require_loopback(
        simulator_url
    ):
        raise ScreenshotError(
            f"the credentials form holds {held}, not the simulator's account: not sent"
        )
    await submit_flow_form(page, "the credentials form's Next button")


async def open_spaces_dropdown(page: DevTools) -> dict[str, Any]:
    """Open the spaces field's dropdown with the mouse; return the form's state.

    Clicked, the field takes the focus; the dropdown opens on the click, or
    on the down arrow, as the keyboard opens it.
    """
    await click(
        page,
        'element.localName === "ha-combo-box"'
        ' && element.getRootNode().host?.localName === "ha-selector-select"',
        "the spaces field",
    )
    deadline = time.monotonic() + 10
    arrow = False
    while True:
        state: dict[str, Any] = json.loads(await page.evaluate(FLOW_FORM_STATE))
        if state["items"]:
            return state
        if time.monotonic() > deadline:
            raise ScreenshotError("the spaces field's dropdown did not open")
        if not arrow and time.monotonic() > deadline - 7:
            await press_key(page, "ArrowDown", 40)
            arrow = True
        await asyncio.sleep(0.5)


def spaces_problems(state: Mapping[str, Any]) -> list[str]:
    """Return what is wrong with the spaces step's numbers and paths."""
    problems = []
    placeholders = state["placeholders"]
    options = state["options"].get(SPACES_STEP, [])
    numbers = {}
    for key in ("spaces", "entities"):
        value = str(placeholders.get(key, ""))
        if not re.fullmatch(r"\d{1,3}(,\d{3})*", value) or value == "0":
            problems.append(f"the description's {{{key}}} is {value!r}")
        else:
            numbers[key] = int(value.replace(",", ""))
    if "spaces" in numbers and numbers["spaces"] != len(options):
        problems.append(
            f"the description counts {numbers['spaces']} spaces, the field offers "
            f"{len(options)}"
        )
    if numbers.get("entities", 1) < numbers.get("spaces", 0):
        problems.append(f"fewer entities than spaces: {numbers}")
    room_path = PATH_SEPARATOR.join(("HQ", "Main building", AREA_FLOOR, AREA_ROOM))
    if not any(PATH_SEPARATOR in label for label in state["items"]):
        problems.append(f"the dropdown lists no path: {state['items']}")
    if room_path not in state["items"]:
        problems.append(f"the dropdown does not show {room_path!r}: {state['items']}")
    problems += [
        f"a translation key shows in the dropdown: {label!r}"
        for label in state["items"]
        if RAW_KEY.search(label)
    ]
    if not state["chips"]:
        problems.append("no space is picked by default")
    return problems


async def shoot_spaces_step(
    page: DevTools, base_url: str, simulator_url: str, output: Path
) -> tuple[Shot, dict[str, str]]:
    """Take the spaces step of a Butlr account, its dropdown open; then add it.

    The step must show its title, its description (the account's spaces and
    entities in it, the spaces counting the field's options), its fields'
    labels and helpers, no translation key, and list the spaces by path. It
    is then submitted as it is (the default picks, rooms in areas). Returns
    the shot and the step's placeholders (what it said the account costs).
    """
    await enter_butlr_account(page, base_url, simulator_url)
    await wait_for_step(page, SPACES_STEP, "the spaces step")
    # The dialog grows to its content, and the fields fade in.
    await asyncio.sleep(2)
    state = await open_spaces_dropdown(page)
    await asyncio.sleep(1)  # the dropdown opens
    await park_mouse(page, DIALOG_HEIGHT)
    state = json.loads(await page.evaluate(FLOW_FORM_STATE))
    shot = Shot(output, await screenshot_png(page))
    lines = (await page.evaluate(PAGE_TEXT)).splitlines()
    placeholders = state["placeholders"]
    print(
        f"The spaces step says: {placeholders}; picked {state['chips']}; "
        f"the dropdown shows {len(state['items'])} of {len(state['options'][SPACES_STEP])}:"
    )
    for label in state["items"]:
        print(f"  {label}")
    form_texts = Wording.of("en").texts["config"]["step"][SPACES_STEP]
    shot.problems += check_texts(
        lines,
        keys=list(form_texts["data"]),
        expected=step_expected(form_texts, placeholders),
    )
    shot.problems += spaces_problems(state)
    # Closed as the mouse closes it, outside; then the form is sent as it is.
    await click(
        page,
        'element.localName === "h2"'
        ' && element.getRootNode().host?.localName === "step-flow-form"',
        "the spaces step's title",
    )
    await asyncio.sleep(1)
    data = json.loads(await page.evaluate(FLOW_FORM_STATE))["data"] or {}
    if not data.get(SPACES_STEP) or data.get("areas") is not True:
        raise ScreenshotError(f"the spaces step holds {data}: not sent")
    await submit_flow_form(page, "the spaces step's Submit button")
    await wait_until(page, FLOW_CREATED, "the entry created", within=120)
    print(f"Added the Butlr account with {data}")
    return shot, placeholders


async def wait_for_room(
    client: hb.HassClient, name: str, *, within: float = 120.0
) -> RoomDevice:
    """Wait until the room of that name is in an area; return it."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await room_device(client, name)
        except ScreenshotError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(1)


async def enabled_entities(client: hb.HassClient, entry_id: str) -> int:
    """Return how many enabled entities an entry has."""
    entities = await client.websocket_command({"type": "config/entity_registry/list"})
    return sum(
        1
        for entity in entities
        if entity["config_entry_id"] == entry_id and not entity["disabled_by"]
    )


async def shoot_device_area(
    client: hb.HassClient,
    page: DevTools,
    output: Path,
    told: Mapping[str, str],
) -> Shot:
    """Take the page of the room the spaces step put in its area.

    The room must be in the area of its name, on the floor of its floor's
    name, and the page show the area; the entry must have no more enabled
    entities than the spaces step told (``told``, its placeholders).
    """
    device = await wait_for_room(client, AREA_ROOM)
    print(
        f"{device.name} is in the area {device.area!r}, on the floor {device.floor!r}"
    )
    wording = Wording.of("en")
    shot = await shoot_device(
        page,
        client.base_url,
        device,
        output,
        wording=wording,
        expected=await device_texts(client, device, wording),
    )
    if device.area != AREA_ROOM:
        shot.problems.append(f"{device.name} is in {device.area!r}, not {AREA_ROOM!r}")
    if device.floor != AREA_FLOOR:
        shot.problems.append(
            f"the area {device.area!r} is on {device.floor!r}, not {AREA_FLOOR!r}"
        )
    has = await enabled_entities(client, device.entry_id)
    counted = int(str(told.get("entities", "0")).replace(",", "") or 0)
    print(f"The entry has {has} enabled entities; the spaces step counted {counted}")
    if has > counted:
        shot.problems.append(
            f"the entry has {has} enabled entities, the spaces step said {counted}"
        )
    return shot


async def provoke_quota_issue(
    client: hb.HassClient, simulator_url: str, *, within: float = 90.0
) -> dict[str, Any]:
    """Spend the Concordia application's quota at the simulator; return the issue.

    The entry's next poll (asked for as ``homeassistant.update_entity`` asks)
    is refused, which raises its ``concordia_quota`` issue.
    """
    devices = await client.websocket_command({"type": "config/device_registry/list"})
    entry_id = next(
        (
            device["config_entries"][0]
            for device in devices
            if device["manufacturer"] == REPAIR_MANUFACTURER
            and device["config_entries"]
        ),
        None,
    )
    if entry_id is None:
        raise ScreenshotError(f"no device of {REPAIR_MANUFACTURER!r}: no entry")
    entities = await client.websocket_command({"type": "config/entity_registry/list"})
    polled = sorted(
        entity["entity_id"]
        for entity in entities
        if entity["config_entry_id"] == entry_id
        and entity["translation_key"] == "occupancy"
    )[:1]
    control = hb.require_loopback(f"{simulator_url}{SPEND_CONCORDIA_QUOTA}")
    async with client.session.post(control, timeout=hb.REQUEST_TIMEOUT) as answer:
        if answer.status != 200:
            raise ScreenshotError(f"{control} answered {answer.status}")
        print(f"Concordia's quota spent: {await answer.json()}")
    issue_id = f"{REPAIR_ISSUE}_{entry_id}"
    deadline = time.monotonic() + within
    asked = 0.0
    while True:
        if time.monotonic() - asked > POLL_EVERY * 2:
            # A coordinator polls at most every 10 s on request.
            await client.request(
                "POST",
                "/api/services/homeassistant/update_entity",
                json_body={"entity_id": polled},
            )
            asked = time.monotonic()
        issues = (await client.websocket_command({"type": "repairs/list_issues"}))[
            "issues"
        ]
        issue = next(
            (
                each
                for each in issues
                if each["domain"] == hb.DOMAIN and each["issue_id"] == issue_id
            ),
            None,
        )
        if issue is not None:
            print(
                f"Repair issue raised: {issue_id} ({issue['translation_placeholders']})"
            )
            return dict(issue)
        if time.monotonic() > deadline:
            raise ScreenshotError(f"no issue {issue_id} within {within} s")
        await asyncio.sleep(1)


async def shoot_repair(
    page: DevTools, base_url: str, issue: Mapping[str, Any], output: Path
) -> Shot:
    """Open the issue in Settings > System > Repairs; return a PNG of its fix form.

    The list must show the issue's title; clicked with the mouse, the issue
    opens the integration's fix flow, whose form must show its title,
    description (the numbers in it), field label and helper, no translation
    key.
    """
    issue_texts = Wording.of("en").texts["issues"][issue["translation_key"]]
    title = with_placeholders(
        issue_texts["title"], issue["translation_placeholders"] or {}
    )
    await set_viewport(page, DIALOG_HEIGHT)
    await open_path(page, base_url, "/config/repairs")
    await wait_until(
        page,
        page_script(
            f"return deepText(document.body).join(' ').includes({json.dumps(title)});"
        ),
        f"the issue {title!r} in Repairs",
    )
    problems = check_texts(
        (await page.evaluate(PAGE_TEXT)).splitlines(), keys=[], expected=[title]
    )
    await click(
        page,
        'element.localName === "ha-md-list-item"'
        f" && element.issue?.issue_id === {json.dumps(issue['issue_id'])}",
        f"the issue {title!r}",
    )
    state = await wait_for_step(page, REPAIR_STEP, "the repair's form")
    # The dialog grows to its content, and the fields fade in.
    await asyncio.sleep(2)
    await park_mouse(page, DIALOG_HEIGHT)
    await page.evaluate(BLUR)
    await asyncio.sleep(0.5)
    shot = Shot(output, await screenshot_png(page))
    lines = (await page.evaluate(PAGE_TEXT)).splitlines()
    fields = json.loads(await page.evaluate(FLOW_FIELDS))
    print(f"The repair's form says {state['placeholders']}:")
    for shown in fields["fields"]:
        print(f"  {shown['label']!r} = {shown['value']} {shown['unit']}")
    form_texts = issue_texts["fix_flow"]["step"][REPAIR_STEP]
    problems += check_texts(
        [*lines, *(shown["label"] for shown in fields["fields"])],
        keys=[field["name"] for field in fields["schema"]],
        expected=step_expected(form_texts, state["placeholders"]),
    )
    shot.problems += problems
    return shot


async def shoot_selection(
    stack: Stack, args: argparse.Namespace, workdir: Path
) -> list[Shot]:
    """Take the spaces step (adding the Butlr entry), its room in its area, a repair.

    On a failure the page as it was goes to the temporary directory
    (``failure.png``, kept with ``--keep``).
    """
    client = stack.client
    if stack.simulator_url is None:
        raise ScreenshotError("--selection needs its own simulator (not --url)")
    async with signed_in_page(
        client.session, client.base_url, client.tokens, workdir
    ) as page:
        try:
            print("Taking the spaces step of a Butlr account")
            spaces, told = await shoot_spaces_step(
                page, client.base_url, stack.simulator_url, args.spaces_output
            )
            print(f"Taking the page of {AREA_ROOM}")
            device = await shoot_device_area(
                client, page, args.device_area_output, told
            )
            issue = await provoke_quota_issue(client, stack.simulator_url)
            print("Taking the repair's dialog")
            repair = await shoot_repair(
                page, client.base_url, issue, args.repair_output
            )
        except ScreenshotError:
            with contextlib.suppress(ScreenshotError, aiohttp.ClientError):
                (workdir / "failure.png").write_bytes(await screenshot_png(page))
            raise
    return [spaces, device, repair]


async def set_profile_language(client: hb.HassClient, language: str) -> None:
    """Pick the signed-in user's language in their profile, as its picker does."""
    await client.websocket_command(
        {
            "type": "frontend/set_user_data",
            "key": "language",
            "value": {"language": language, **PROFILE_LOCALE},
        }
    )


@contextlib.asynccontextmanager
async def signed_in_page(
    session: aiohttp.ClientSession,
    base_url: str,
    tokens: Mapping[str, Any],
    workdir: Path,
    *,
    language: str | None = None,
) -> AsyncIterator[DevTools]:
    """Yield a page of headless Chromium, signed in to Home Assistant.

    ``language``: the browser's language too, as the frontend keeps it once
    picked (the first page shows in it before the profile's language loads).
    """
    async with open_chromium(session, workdir) as page:
        await set_viewport(page, HEIGHT)
        await page.call("Page.enable")
        await page.call(
            "Page.addScriptToEvaluateOnNewDocument",
            source=tokens_script(base_url, tokens, language=language),
        )
        yield page


# --- The develop stack -----------------------------------------------------------


def start_simulator(
    port: int, interval: float, seed: int, log_path: Path, *, control: bool = False
) -> subprocess.Popen[bytes]:
    """Start the demo simulator on 127.0.0.1:port (``control``: its control paths)."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.simulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--interval",
                str(interval),
                "--seed",
                str(seed),
                *(["--control"] if control else []),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=hb.REPO,
        )


async def let_people_move(client: hb.HassClient, seconds: float) -> None:
    """Wait while people move, asking every entry to poll every few seconds."""
    entities = await client.websocket_command({"type": "config/entity_registry/list"})
    one_per_entry: dict[str, str] = {}
    for entity in entities:
        if entity["platform"] == hb.DOMAIN and entity["translation_key"] == "occupancy":
            one_per_entry.setdefault(entity["config_entry_id"], entity["entity_id"])
    print(f"Letting people move for {seconds:.0f} s")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await client.request(
            "POST",
            "/api/services/homeassistant/update_entity",
            json_body={"entity_id": sorted(one_per_entry.values())},
        )
        await asyncio.sleep(min(POLL_EVERY, max(0.0, deadline - time.monotonic())))


async def wait_for_history(
    client: hb.HassClient, *, within: float = 180.0, usual_within: float = 30.0
) -> None:
    """Wait until every entry that imports history has imported it all.

    The statistics graph shows the imported days, and the usual occupancy is
    read from them. An entry's diagnostics tell what is left to import and
    for how many spaces the usual occupancy is known; one still unknown
    ``usual_within`` seconds after the import is left to the tiles' check.
    """
    entries = await client.request(
        "GET", f"/api/config/config_entries/entry?domain={hb.DOMAIN}"
    )

    async def diagnostics(entry_id: str) -> dict[str, Any]:
        answer = await client.request(
            "GET", f"/api/diagnostics/config_entry/{entry_id}"
        )
        data: dict[str, Any] = answer["data"]
        return data

    deadline = time.monotonic() + within
    for entry in entries:
        if entry["state"] != "loaded":
            continue
        data = await diagnostics(entry["entry_id"])
        if data["history"] is None:
            continue
        while data["history"]["pending"]:
            if time.monotonic() > deadline:
                raise ScreenshotError(
                    f"{entry['title']} did not import its history within {within} s: "
                    f"{data['history']}"
                )
            await asyncio.sleep(1)
            data = await diagnostics(entry["entry_id"])
        print(
            f"{entry['title']}: {data['history']['hours_imported']} hours of history "
            f"imported in {data['history']['requests']} requests"
        )
        usual_deadline = time.monotonic() + usual_within
        while not data["usual_known_for"] and time.monotonic() < usual_deadline:
            await asyncio.sleep(1)
            data = await diagnostics(entry["entry_id"])
        print(
            f"{entry['title']}: usual occupancy known for "
            f"{data['usual_known_for']} spaces"
        )


@dataclass(frozen=True)
class Stack:
    """A Home Assistant to take shots of, and the simulator started for it."""

    client: hb.HassClient
    # None: a Home Assistant that runs already (--url).
    simulator_url: str | None = None


@contextlib.asynccontextmanager
async def develop_stack(
    args: argparse.Namespace, workdir: Path
) -> AsyncIterator[Stack]:
    """Yield a client of a Home Assistant set up as scripts/develop sets it up.

    Started here (simulator and Home Assistant, stopped on the way out), or,
    with ``--url``, one that runs already, signed in to as its owner. With
    ``--selection`` the simulator serves its control paths, and the Butlr
    entry is left to the shots, which add it through the frontend.
    """
    if args.url:
        async with hb.client_session() as session:
            client = hb.HassClient(session, args.url)
            await hb.log_in(
                client, hb.Owner(username=args.username, password=args.password)
            )
            yield Stack(client)
        return
    hass_port, simulator_port = hb.free_port(), hb.free_port()
    base_url = f"http://127.0.0.1:{hass_port}"
    config_dir = workdir / "config"
    hb.prepare_config_dir(
        config_dir,
        hb.HassConfig(
            port=hass_port,
            components=hb.DEVELOP_COMPONENTS,
            comment="Written by scripts/screenshot, in a temporary directory.",
        ),
    )
    logs = {"simulator": workdir / "simulator.log", "hass": workdir / "hass.log"}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        print(f"Starting the simulator and Home Assistant on {base_url}")
        processes.append(
            start_simulator(
                simulator_port,
                args.interval,
                args.seed,
                logs["simulator"],
                control=args.selection,
            )
        )
        # Butlr's history paced as scripts/develop paces it: in within a minute.
        hass = hb.start_hass(config_dir, logs["hass"], env=hb.DEVELOP_ENV)
        processes.append(hass)
        simulator_url = f"http://127.0.0.1:{simulator_port}"
        await hb.develop_setup(
            base_url,
            simulator_url,
            # Onboarding names its default areas in the owner's language.
            hb.Owner(language=args.language or hb.Owner.language),
            within=300,
            hass_pid=hass.pid,
            language=args.language,
            skip=(SELECTION_ENTRY,) if args.selection else (),
        )
        async with hb.client_session() as session:
            client = hb.HassClient(session, base_url)
            await hb.log_in(client, hb.Owner())
            yield Stack(client, simulator_url)
    except (hb.BootstrapError, ScreenshotError, aiohttp.ClientError, OSError):
        for name, path in logs.items():
            if tail := hb.log_tail(path, 30):
                print(f"--- the end of the {name} log:\n{tail}", file=sys.stderr)
        raise
    finally:
        for process in reversed(processes):
            hb.stop_process(process)


async def shoot_language(
    client: hb.HassClient, args: argparse.Namespace, workdir: Path
) -> list[Shot]:
    """Take the config flow, a room's page and the options in ``args.language``.

    The owner's profile picks the language (a running Home Assistant is left
    as it is: only the browser asks for it).
    """
    wording = Wording.of(args.language)
    if not args.url:
        await set_profile_language(client, args.language)
    entry = await history_entry(client)
    device = await room_device(client)
    expected = await device_texts(client, device, wording)
    outputs = [args.language_dir / name for name in LANGUAGE_SHOTS]
    async with signed_in_page(
        client.session,
        client.base_url,
        client.tokens,
        workdir,
        language=args.language,
    ) as page:
        print(
            f"Taking the config flow, {device.name} and the options in {wording.language}"
        )
        return [
            await shoot_config_flow(page, client.base_url, outputs[0], wording),
            await shoot_device(
                page,
                client.base_url,
                device,
                outputs[1],
                wording=wording,
                expected=expected,
            ),
            await shoot_options(page, client.base_url, entry, outputs[2], wording),
        ]


async def take_screenshots(args: argparse.Namespace, workdir: Path) -> list[Shot]:
    """Set up (or sign in to) Home Assistant; take the shots the arguments ask for."""
    async with develop_stack(args, workdir) as stack:
        client = stack.client
        if args.selection:
            return await shoot_selection(stack, args, workdir)
        if args.language:
            return await shoot_language(client, args, workdir)
        if args.actions:
            entry = await history_entry(client)
            async with signed_in_page(
                client.session, client.base_url, client.tokens, workdir
            ) as page:
                print(f"Taking the action and the options flow of {entry.title}")
                return [
                    await shoot_action(
                        page,
                        client.base_url,
                        entry,
                        args.action_output,
                        # A running Home Assistant is left as it is.
                        perform=not args.url,
                    ),
                    await shoot_options(
                        page,
                        client.base_url,
                        entry,
                        args.options_output,
                        Wording.of("en"),
                    ),
                ]
        if args.config_flow:
            async with signed_in_page(
                client.session, client.base_url, client.tokens, workdir
            ) as page:
                print("Taking the config flow's form and the integration's page")
                return [
                    await shoot_config_flow(
                        page, client.base_url, args.config_flow_output, Wording.of("en")
                    ),
                    await shoot_integration_page(
                        page, client.base_url, args.integration_output
                    ),
                ]
        if not args.url:
            recorded_since = time.monotonic()
            await let_people_move(client, args.wait)
            await wait_for_history(client)
            # The history graph over the minutes there is history for, so that
            # its lines span it; the dashboard of scripts/develop shows hours.
            minutes = max(1, int((time.monotonic() - recorded_since) // 60))
            await hb.ensure_dashboard(client, history=timedelta(minutes=minutes))
        config = await client.websocket_command(
            {"type": "lovelace/config", "url_path": hb.DASHBOARD_URL_PATH}
        )
        async with signed_in_page(
            client.session, client.base_url, client.tokens, workdir
        ) as page:
            print(f"Taking the screenshot of the {args.view!r} view")
            return [
                await shoot_dashboard(
                    page,
                    client.base_url,
                    view_path=args.view,
                    expected=expected_cards(config, args.view),
                    output=args.output,
                )
            ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="scripts/screenshot")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--view", default=VIEW, help="the view's path")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--config-flow",
        action="store_true",
        help="take the config flow's first form and the integration's page instead, "
        "and check their wording",
    )
    mode.add_argument(
        "--actions",
        action="store_true",
        help=f"take the {ACTION} action (Developer tools > Actions) and the Butlr "
        "entry's options form instead, and check their wording",
    )
    mode.add_argument(
        "--language",
        choices=shipped_languages(),
        help="take the config flow's first form, a room's device page and the "
        "options' settings form in this language instead (the instance's and the "
        "owner's profile language), into --language-dir, and check that they speak it",
    )
    mode.add_argument(
        "--selection",
        action="store_true",
        help="take the config flow's spaces step of a Butlr account (its dropdown "
        "open), the device page of a room it puts in an area, and the repair dialog "
        "of a spent Concordia quota instead, and check their wording and numbers",
    )
    parser.add_argument(
        "--language-dir",
        type=Path,
        help="where --language saves its shots (default docs/LANGUAGE)",
    )
    parser.add_argument("--config-flow-output", type=Path, default=CONFIG_FLOW_OUTPUT)
    parser.add_argument("--integration-output", type=Path, default=INTEGRATION_OUTPUT)
    parser.add_argument("--action-output", type=Path, default=ACTION_OUTPUT)
    parser.add_argument("--options-output", type=Path, default=OPTIONS_OUTPUT)
    parser.add_argument("--spaces-output", type=Path, default=SPACES_OUTPUT)
    parser.add_argument("--device-area-output", type=Path, default=DEVICE_AREA_OUTPUT)
    parser.add_argument("--repair-output", type=Path, default=REPAIR_OUTPUT)
    parser.add_argument(
        "--url",
        help="a running Home Assistant (scripts/develop's, a loopback URL) to take "
        "the shots of, as it is, instead of starting one",
    )
    parser.add_argument("--username", default=hb.Owner.username, help="with --url")
    parser.add_argument("--password", default=hb.Owner.password, help="with --url")
    parser.add_argument(
        "--wait",
        type=float,
        default=MOVE_SECONDS,
        help="seconds of moving people before the shot (default %(default)s)",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=SIMULATOR_INTERVAL,
        help="the simulator's seconds between moves (default %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=SIMULATOR_SEED,
        help="the simulator's random seed (default %(default)s)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (logs)"
    )
    args = parser.parse_args(argv)
    if args.selection and args.url:
        parser.error("--selection adds an entry and spends a quota: not with --url")
    if args.language and args.language_dir is None:
        args.language_dir = hb.REPO / "docs" / args.language
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Take the screenshots; return the exit status.

    A shot whose page showed a problem is saved all the same (to look at),
    and the status is 1.
    """
    args = parse_args(argv)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="space-occupancy-screenshot-"))
    problems = []
    try:
        if args.url:
            args.url = hb.require_loopback(args.url)
        for shot in asyncio.run(take_screenshots(args, workdir)):
            output = shot.output.resolve()
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_bytes(shot.png)
            print(f"Saved {output}")
            problems += [f"{output.name}: {problem}" for problem in shot.problems]
    except (hb.BootstrapError, ScreenshotError, aiohttp.ClientError, OSError) as err:
        print(f"scripts/screenshot: {err}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for problem in problems:
        print(f"scripts/screenshot: {problem}", file=sys.stderr)
    print(f"Done in {time.monotonic() - started:.0f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
