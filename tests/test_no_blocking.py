"""Nothing the integration does blocks the event loop.

A Butlr and an Occuspace entry are set up and polled with asyncio's debug mode
on and the slow-callback threshold at 50 ms. Three watches run meanwhile:

- slow callbacks: asyncio's debug mode reports every step of the loop that
  takes 50 ms or more. A step also runs Home Assistant's own work (adding the
  entities, writing their states), which on a busy test machine alone can
  pass 50 ms, so ``sys.monitoring`` measures the CPU time the integration's
  own code took in each step (the machine taking the CPU away does not
  count): no step may hold it for 50 ms;
- Home Assistant's own blocking-call detection (``block_async_io``), with the
  checks it leaves out in tests (``open``, ``import_module``, directory
  listings) switched on: it must detect nothing;
- a Python audit hook, which sees the file opens that Home Assistant's
  detection cannot (those made from C, such as ``zoneinfo`` loading a
  timezone): none may happen in the event loop's thread with the
  integration's code on the stack.

No freezer here: moving its clock makes asyncio report "took 60 seconds". And
no coverage: its tracing makes the integration's code several times slower
than it is. The other tests cover its lines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
import linecache
import logging
import os
from pathlib import Path
import sys
import threading
import time
from types import CodeType
from typing import Any
from zoneinfo import ZoneInfo

import homeassistant
from homeassistant import block_async_io
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

import custom_components.space_occupancy
from custom_components.space_occupancy.const import DOMAIN
from custom_components.space_occupancy.providers import butlr_topology

from .conftest import SimulatorServer
from .simulator.butlr import demo_scenario
from .simulator.occuspace import SEED_TOKEN, OccuspaceLocation, OccuspaceScenario

SLOW_CALLBACK = 0.05
SITE_TIMEZONE = "America/New_York"
POLLS = 5
INTEGRATION_DIR = str(Path(custom_components.space_occupancy.__file__).parent)
HOME_ASSISTANT_DIR = str(Path(homeassistant.__file__).parent)
# Audit events of blocking I/O: files, directory listings, name lookups, sleeps.
BLOCKING_EVENTS = frozenset(
    {
        "open",
        "os.listdir",
        "os.scandir",
        "glob.glob",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "time.sleep",
        "subprocess.Popen",
        "os.system",
    }
)


@dataclass
class IoWatch:
    """Blocking I/O audit events in the loop's thread while watching."""

    thread: int | None = None
    # (event, first argument, where in the integration or "")
    events: list[tuple[str, str, str]] = field(default_factory=list)

    def integration_events(self) -> list[tuple[str, str, str]]:
        """The events with the integration's code on the stack."""
        return [event for event in self.events if event[2]]


_WATCH = IoWatch()
_HOOK_INSTALLED = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Record blocking I/O made in the watched thread; never raise."""
    if (
        _WATCH.thread is None
        or event not in BLOCKING_EVENTS
        or threading.get_ident() != _WATCH.thread
    ):
        return
    where = ""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename == linecache.__file__:
            # Source lines read for a traceback: debug mode records where each
            # task and callback was created. That is the watch, not the code.
            return
        if not where and filename.startswith(INTEGRATION_DIR):
            where = f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    _WATCH.events.append((event, repr(args[0] if args else None)[:200], where))


@pytest.fixture
def io_watch() -> Iterator[IoWatch]:
    """Watch this (the event loop's) thread for blocking I/O audit events."""
    global _HOOK_INSTALLED  # noqa: PLW0603 - an audit hook cannot be removed
    if not _HOOK_INSTALLED:
        sys.addaudithook(_audit)
        _HOOK_INSTALLED = True
    _WATCH.events.clear()
    _WATCH.thread = threading.get_ident()
    yield _WATCH
    _WATCH.thread = None


_EVENTS = sys.monitoring.events


class OwnTime:
    """How long each event-loop step runs the integration's own code.

    ``sys.monitoring`` reports when a frame of the integration's or of Home
    Assistant's code starts, resumes, yields, returns or unwinds in the loop's
    thread; time is charged to the innermost such frame. So the integration
    is charged for its own code and what it calls outside Home Assistant
    (JSON decoding, aiohttp, the standard library), not for Home Assistant's
    work that it sets off, such as adding entities or writing states.
    """

    def __init__(self, thread: int) -> None:
        """Watch the loop's thread."""
        self.thread = thread
        self.ours: set[CodeType] = set()  # more code to count as the integration's
        self.slow: list[tuple[float, str]] = []  # (own seconds, what the step ran)
        self._owners: dict[CodeType, bool | None] = {}
        self._stack: list[bool] = []
        self._own = 0.0
        self._mark = 0.0

    def _owner(self, code: CodeType) -> bool | None:
        """True: the integration's; False: Home Assistant's; None: neither."""
        owner = self._owners.get(code, ...)
        if owner is ...:
            filename = code.co_filename
            if code in self.ours or filename.startswith(INTEGRATION_DIR):
                owner = True
            elif filename.startswith(HOME_ASSISTANT_DIR):
                owner = False
            else:
                owner = None
            self._owners[code] = owner
        return owner

    def _charge(self) -> None:
        # The loop thread's CPU time: a busy machine that takes the CPU away
        # mid-step does not make the integration's code slower. (Waiting,
        # such as a sleep or blocking I/O, is the other two watches' job.)
        now = time.thread_time()
        if self._stack and self._stack[-1]:
            self._own += now - self._mark
        self._mark = now

    def _enter(self, code: CodeType, *_: Any) -> Any:
        owner = self._owner(code)
        if owner is None:
            return sys.monitoring.DISABLE
        if threading.get_ident() == self.thread:
            self._charge()
            self._stack.append(owner)
        return None

    def _leave(self, code: CodeType, *_: Any) -> Any:
        owner = self._owner(code)
        if owner is None:
            return sys.monitoring.DISABLE
        if threading.get_ident() == self.thread and self._stack:
            self._charge()
            self._stack.pop()
        return None

    def _enter_always(self, code: CodeType, *args: Any) -> None:
        # PY_THROW cannot be disabled: never return DISABLE for it.
        self._enter(code, *args)

    def _leave_always(self, code: CodeType, *args: Any) -> None:
        # Nor PY_UNWIND.
        self._leave(code, *args)

    def step(self, run: Callable[[], None], what: Callable[[], str]) -> None:
        """Run one step of the loop, and keep it if the integration held it."""
        self._stack.clear()
        self._own = 0.0
        self._mark = time.thread_time()
        try:
            run()
        finally:
            self._charge()
            if self._own >= SLOW_CALLBACK:
                self.slow.append((self._own, what()))

    def callbacks(self) -> dict[int, Callable[..., Any]]:
        """The monitoring callbacks by event."""
        return {
            _EVENTS.PY_START: self._enter,
            _EVENTS.PY_RESUME: self._enter,
            _EVENTS.PY_THROW: self._enter_always,
            _EVENTS.PY_RETURN: self._leave,
            _EVENTS.PY_YIELD: self._leave,
            _EVENTS.PY_UNWIND: self._leave_always,
        }


@pytest.fixture
def own_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnTime]:
    """Measure the integration's own time in every step of the loop."""
    watch = OwnTime(threading.get_ident())
    original_run = asyncio.events.Handle._run

    def run(handle: asyncio.Handle) -> None:
        if threading.get_ident() != watch.thread:
            original_run(handle)
            return
        watch.step(
            lambda: original_run(handle),
            # What asyncio's own report names: the task, for a task's step.
            lambda: asyncio.base_events._format_handle(handle)[:300],  # type: ignore[attr-defined]
        )

    monitoring = sys.monitoring
    tool = next(i for i in (3, 4) if monitoring.get_tool(i) is None)
    monitoring.use_tool_id(tool, "space_occupancy own time")
    try:
        monitoring.restart_events()
        callbacks = watch.callbacks()
        for event, callback in callbacks.items():
            monitoring.register_callback(tool, event, callback)
        monkeypatch.setattr(asyncio.events.Handle, "_run", run)
        events = 0
        for event in callbacks:
            events |= event
        monitoring.set_events(tool, events)
        yield watch
    finally:
        monitoring.set_events(tool, 0)
        for event in watch.callbacks():
            monitoring.register_callback(tool, event, None)
        monitoring.free_tool_id(tool)


@pytest.fixture
def loop_protection(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Home Assistant's blocking-call detection, with the checks tests skip."""
    monkeypatch.setattr(block_async_io, "_IN_TESTS", False)
    block_async_io.enable()
    yield
    calls = block_async_io._BLOCKED_CALLS.calls
    for call in calls:
        setattr(call.object, call.function, call.original_func)
    calls.clear()


async def _in_task(coro: Coroutine[Any, Any, Any], name: str) -> Any:
    """Run a coroutine in a task of its own, as Home Assistant runs a poll."""
    return await asyncio.create_task(coro, name=name)


async def _busy(seconds: float) -> None:
    """Hold the loop without sleeping: the watch's control."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


@pytest.mark.no_cover
async def test_setup_and_polls_do_not_block(
    hass: HomeAssistant,
    simulator: SimulatorServer,
    butlr_entry: MockConfigEntry,
    occuspace_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    io_watch: IoWatch,
    loop_protection: None,
    own_time: OwnTime,
) -> None:
    """Setup and polls cause no slow callback and no blocking I/O in the loop."""
    simulator.butlr = demo_scenario(datetime.now(UTC), timezone=SITE_TIMEZONE)
    # Forget the site's timezone, as if no earlier test had loaded its file.
    butlr_topology.zone.cache_clear()
    ZoneInfo.clear_cache(only_keys=[SITE_TIMEZONE])
    # The seed's locations, with computed answers (so that counts can move).
    simulator.occuspace = OccuspaceScenario(
        locations=[
            OccuspaceLocation(1, "Sales", None, 1000),
            OccuspaceLocation(2, "Office Building", 1, 500),
            OccuspaceLocation(3, "Office 1st Floor", 2, 390, count=70),
            OccuspaceLocation(4, "Office 2nd Floor", 2, 100, count=30),
        ],
        tokens={SEED_TOKEN},
    )
    loop = asyncio.get_running_loop()
    assert loop.get_debug()
    loop.slow_callback_duration = SLOW_CALLBACK
    caplog.set_level(logging.WARNING)
    # A blocking call reported once before in this process is logged at debug.
    caplog.set_level(logging.DEBUG, logger="homeassistant.util.loop")

    # The control: the watches see a slow step and a file opened in the loop.
    own_time.ours.add(_busy.__code__)
    await _in_task(_busy(SLOW_CALLBACK * 1.5), "slow-callback probe")
    os.close(os.open(os.devnull, os.O_RDONLY))

    # Setting up one entry sets up the domain, and with it every entry.
    assert await _in_task(
        hass.config_entries.async_setup(butlr_entry.entry_id), f"{DOMAIN} setup"
    )
    await hass.async_block_till_done()
    assert butlr_entry.state is ConfigEntryState.LOADED
    assert occuspace_entry.state is ConfigEntryState.LOADED
    entries = (butlr_entry, occuspace_entry)

    for number in range(POLLS):
        if number == POLLS - 1:
            # The last poll changes counts, so entities write their states.
            rooms = simulator.butlr.sites[0].buildings[0].floors[0].rooms
            rooms[1].sensors[0].people += 2
            simulator.occuspace.locations[2].count += 5
        for entry in entries:
            coordinator = entry.runtime_data.coordinator
            await _in_task(coordinator.async_refresh(), f"{DOMAIN} poll")
            await hass.async_block_till_done()
            assert coordinator.last_update_success, coordinator.last_exception
    assert hass.states.get("sensor.focus_room_occupancy").state == "2"
    assert hass.states.get("sensor.office_1st_floor_occupancy").state == "75"

    slow = [
        record.getMessage()
        for record in caplog.records
        if record.name == "asyncio" and record.getMessage().startswith("Executing")
    ]
    assert any("slow-callback probe" in message for message in slow), slow
    probe, *held = own_time.slow
    assert "slow-callback probe" in probe[1], own_time.slow
    # asyncio's reports tell what else was slow; none of it the integration's.
    assert held == [], slow

    detected = [
        record.getMessage()
        for record in caplog.records
        if "blocking call" in record.getMessage()
    ]
    assert detected == []

    assert ("open", repr(os.devnull), "") in io_watch.events
    assert io_watch.integration_events() == []
