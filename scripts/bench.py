"""Benchmark: what a large account costs Home Assistant, on either line.

A simulated Butlr organisation (2,000 rooms, 8,000 sensors) and an Occuspace
tree (2,000 locations) are served by the simulator in a process of its own, on
127.0.0.1. Each mode (a provider, without or with the recorder) is then
measured in several fresh processes (``--processes``, 3 by default), one after
another and interleaved (mode 1, mode 2, …, then again): in each, the entry is
set up, for real, in a Home Assistant test instance and polled through its
coordinator. Each process reports its own figures (medians over its polls);
the report shows, per mode, the median over the processes and their spread
(min-max), and judges every target on that median over processes: a process
that meets a slow minute of the machine moves the spread, not the verdict.

What each process measures:

- enabled entities of the entry (the entity registry's count, the default
  install: diagnostic entities such as ``last_reading`` stay disabled), the
  entry's setup (wall, CPU of the process and of the event-loop thread: the
  first refresh and adding all the entities), peak memory (growth of the
  peak RSS over setup and polls; tracemalloc's peak during one poll);
- per unchanged poll: requests (the simulator's log), state writes
  (``state_changed`` events and calls of ``async_write_ha_state``: none
  allowed), and CPU: the event-loop thread's own clock (``time.thread_time``
  read in the loop) over the coordinator's refresh and the tasks it leaves,
  where all of the integration's work runs; the recorder's thread and the
  other threads are reported beside it, and the bench's wait for the
  recorder's commit is left out;
- the floor of that CPU, on the same requests: the poll's requests are
  recorded once and replayed with a bare aiohttp session plus ``json.loads``
  (the target, ``CPU_TARGET``, for both providers), and the bodies decoded
  by a bare ``json.loads`` (for information). Each measured poll is followed
  by one bare decode and one bare fetch, on the same clock, so that the three
  meet the same load over the same minute, and the medians leave out the
  measurements during which the hypervisor took CPU time from the machine
  (/proc/stat's steal, ``Series.kept``): it lands on a thread's clock as the
  thread wakes, so on the bare fetch, which waits for its requests one at a
  time, much more than on the poll;
- a 5 %-changed poll (people moved in that share of the spaces): CPU and
  state writes (``async_write_ha_state`` calls, and the ``state_changed``
  events among them);
- wall time per poll with a network latency injected in the simulator (100 ms
  per request by default, ``--latency``): Occuspace's calls must overlap
  (``WALL_TARGETS``);
- the longest event-loop step (``STEP_TARGET``) of the setup, of an unchanged
  poll, of a 5 %-changed poll and of the hourly usual refresh (recorder
  modes). Method: while one of these runs, ``asyncio.events.Handle._run``,
  through which the loop runs every callback and every task step (timer and
  thread-safe handles included), is wrapped by a timer that reads the loop
  thread's CPU clock and ``time.perf_counter`` before and after, and keeps
  the step of the most CPU, what ran in it (the task and its coroutine) and
  the longest wall time. It costs about 1.5 µs per step, nothing between
  steps, and it sees exactly the steps (asyncio's debug mode, by comparison,
  records a traceback at every ``call_soon`` and slows everything down
  severalfold; a loop-lag probe adds steps of its own and only bounds the
  longest). The polls and refreshes it times are extra ones (``STEP_RUNS``
  each; the median of their longest steps is the process's figure), never
  those whose CPU is measured; the setup is timed with it on (it runs a few
  hundred steps: nothing to speak of). A step is judged by the loop thread's
  CPU in it: its wall time also holds the waits for a CPU that other
  processes took, which on this shared 2-core machine stretched the same
  5 %-changed poll's longest step from 26 ms to 50-69 ms as the load went
  from 2 to 5, and would make the verdict the machine's. The wall time is
  reported beside it: where it exceeds the CPU much on a quiet machine, the
  step waited for the GIL (the recorder's thread writing what the loop gave
  it).

Recorder modes: the recorder runs on a SQLite file in a temporary directory,
as in a default install; its 5-minute statistics compile, nightly purge and
catch-up compile are off (as in the test harness's ``recorder_mock``) so that
they never run in the middle of a measurement. Each poll waits until the
recorder has committed what it wrote, and the recorder thread's CPU is
counted apart. The Butlr history import is off (option ``history_days`` 0):
its importer exists but has nothing to do. After the polls:

- ``STATISTICS_DAYS`` days of hourly statistics of every space's occupancy
  sensor are written straight into the recorder's tables, in its thread (the
  fill is reported on its own);
- the query: ``usual.read_usual``, the recorder job of a refresh (wall time,
  ``USUAL_QUERY_TARGET``);
- the entry's own hourly refresh (``SpaceOccupancyData.usual``), end to end:
  the first writes each space's usual and compared-with-usual sensors, as
  every hourly refresh does (the usual of one hour differs from the last
  hour's); a second over the same statistics must write nothing; then, for
  the longest step, the usual is cleared (``coordinator.async_set_usual``)
  and refreshed again, ``USUAL_REFRESHES`` writing refreshes in all;
- for information: the recorder's own 5-minute statistics compile of the
  tree's sensors (Home Assistant's work, not the integration's).

Occuspace stamps every ``now`` answer with the time of its reading, so a poll
later carries later timestamps even when nobody moved: the simulator's clock
runs, as the real API's does, and the bench checks that it did. Registry
saves are kept in memory; the integration's hourly timer is off (the bench
runs the refresh itself).

The newest line: Home Assistant 2026 adds at most 10,000 enabled entities
per config entry (``MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY``); the full trees
have 14,115 (Butlr) and 11,663 (Occuspace). Until an entry can be limited to
the spaces a user chooses, a line with that cap is measured on the largest
trees that fit (``CAPPED_TREES``: 1,400 rooms, 1,700 locations; ``--rooms``
and ``--locations`` choose other sizes), and the report says so. The CPU
targets are ratios to the same requests' floor, so they hold at any size.

Profiles (``--profile``): instead of measuring, one process per mode runs
cProfile over the setup, 5 unchanged polls, 3 5 %-changed polls and, with
the recorder, a writing usual refresh and its query alone, and prints each
operation's top functions by own and by cumulative CPU time (``--profile-dir``
keeps the ``.prof`` files). On Python 3.12 and newer cProfile sees every
thread: the recorder's thread is held while an operation is profiled, so the
tables show the event loop's work (and a refresh's query, in the recorder's
executor), not the recording of what it wrote.

Run it with ``scripts/bench`` (``--quick`` for small sizes, ``--newest`` for
the newest Home Assistant line, in its Python: ``scripts/newest-line``). It
exits 1 when a target is missed, 2 when the bench itself failed.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import json
import multiprocessing as mp
from multiprocessing.connection import Connection
import os
from pathlib import Path
import random
import statistics
import sys
import threading
import time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from homeassistant.components.recorder.core import Recorder
    from homeassistant.core import HomeAssistant

    from custom_components.space_occupancy.coordinator import OccupancyCoordinator
    from custom_components.space_occupancy.data import SpaceOccupancyData

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BUTLR = "butlr"
OCCUSPACE = "occuspace"
CONTROL = "/_bench"
# A token that never needs renewing during the run.
TOKEN_LIFETIME = 10_000_000
MAX_BUTLR_REQUESTS = 2
# CPU per unchanged poll (event-loop thread) ≤ this x a bare aiohttp fetch +
# json.loads of the same requests, for every provider, with or without the
# recorder: what the network costs anyway, and little more.
CPU_TARGET = 1.5
# No event-loop step longer than this (seconds) in any operation measured.
STEP_TARGET = 0.050
# The share of spaces whose people move between the "changing" polls.
CHANGE_FRACTION = 0.05
# The network latency the simulator adds to every request in the wall-time
# polls (seconds), and how many such polls are measured.
DEFAULT_LATENCY = 0.1
LATENCY_POLLS = 3
# Wall time per poll (median) at DEFAULT_LATENCY. Occuspace's 121 calls one
# after another would take 12 s; Butlr's are reported without a target.
WALL_TARGETS: dict[str, float] = {OCCUSPACE: 2.5}
# Extra runs of each operation whose longest loop step is measured.
STEP_RUNS = 3
# Usual occupancy (recorder modes): days of hourly statistics written into the
# recorder (the refresh reads the same hour 1 to 4 weeks back), how often the
# query is timed, its target (wall seconds of the refresh's recorder job), and
# how many refreshes that write the usual are run.
STATISTICS_DAYS = 28
QUERY_RUNS = 3
USUAL_QUERY_TARGET = 2.0
USUAL_REFRESHES = 3
# The statistics the bench writes are inserted this many rows at a time.
FILL_BATCH = 50_000
WEEK = timedelta(weeks=1)
DEFAULT_PROCESSES = 3
# Profiles: unchanged and changing polls profiled, lines printed per table.
PROFILE_POLLS = 5
PROFILE_CHANGING_POLLS = 3
PROFILE_LINES = 25


class Operation(StrEnum):
    """What the longest event-loop step is measured in."""

    SETUP = "setup (first refresh + adding all entities)"
    POLL = "unchanged poll"
    CHANGED = f"{CHANGE_FRACTION:.0%}-changed poll"
    USUAL = "hourly usual refresh"


@dataclass(frozen=True)
class Mode:
    """A provider, without or with the recorder."""

    provider: str
    recorder: bool

    @property
    def label(self) -> str:
        """The provider, and whether the recorder runs."""
        return f"{self.provider} + recorder" if self.recorder else self.provider


# --------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How large the simulated accounts are, and how many polls are measured."""

    butlr_rooms: int
    occuspace_locations: int  # in all, the campus included
    polls: int
    changing_polls: int
    butlr_buildings: int = 5
    butlr_floors: int = 10  # per building
    occuspace_buildings: int = 20
    occuspace_floors: int = 5  # per building
    # Targets on CPU and loop steps are judged (not at --quick sizes, where a
    # poll's fixed costs outweigh its work).
    judged: bool = True
    # Why the trees are not the full ones ("" when they are).
    note: str = ""

    @property
    def butlr_spaces(self) -> int:
        """Rooms, floors, buildings and the site."""
        floors = self.butlr_buildings * self.butlr_floors
        return self.butlr_rooms + floors + self.butlr_buildings + 1

    @property
    def occuspace_parents(self) -> int:
        """Locations with children: the campus, its buildings and their floors."""
        return 1 + self.occuspace_buildings * (1 + self.occuspace_floors)

    def tree(self, provider: str) -> str:
        """Name the provider's tree."""
        if provider == BUTLR:
            return f"Butlr, {self.butlr_rooms:,} rooms"
        return f"Occuspace, {self.occuspace_locations:,} locations"


FULL = Sizes(butlr_rooms=2000, occuspace_locations=2000, polls=80, changing_polls=5)
QUICK = Sizes(
    butlr_rooms=200,
    occuspace_locations=200,
    polls=5,
    changing_polls=2,
    butlr_buildings=2,
    butlr_floors=5,
    occuspace_buildings=4,
    occuspace_floors=5,
    judged=False,
)
# Until an entry can be limited to the spaces a user chooses, a line that caps
# the enabled entities of a config entry (Home Assistant 2026:
# MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY, 10,000) is measured on the largest
# trees that fit: 9,975 and 9,948 enabled entities (about 7.1 per Butlr room,
# its floors and buildings included, and 5.9 per Occuspace location). Once
# spaces can be chosen, measure the full trees with the entry limited to a
# share of them, or delete this and measure the full trees everywhere.
CAPPED_TREES = {BUTLR: 1400, OCCUSPACE: 1700}


def entity_cap() -> int | None:
    """Return this Home Assistant line's cap on enabled entities per entry, if any."""
    from homeassistant.helpers import entity_platform  # noqa: PLC0415

    cap: int | None = getattr(
        entity_platform, "MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY", None
    )
    return cap


def choose_sizes(args: argparse.Namespace) -> Sizes:
    """Return the sizes the arguments ask for, fitted to the line's entity cap."""
    sizes = QUICK if args.quick else FULL
    if args.polls is not None:
        sizes = replace(sizes, polls=args.polls)
    cap = entity_cap()
    if cap is not None and not args.quick:
        sizes = replace(
            sizes,
            butlr_rooms=CAPPED_TREES[BUTLR],
            occuspace_locations=CAPPED_TREES[OCCUSPACE],
        )
    sizes = replace(
        sizes,
        butlr_rooms=args.rooms or sizes.butlr_rooms,
        occuspace_locations=args.locations or sizes.occuspace_locations,
    )
    if cap is not None and not args.quick:
        sizes = replace(
            sizes,
            note=(
                f"This Home Assistant adds at most {cap:,} enabled entities per "
                "config entry, and the integration cannot yet limit an entry to "
                f"chosen spaces: measured on {sizes.butlr_rooms:,} Butlr rooms "
                f"and {sizes.occuspace_locations:,} Occuspace locations, the "
                f"largest trees that fit (CAPPED_TREES), not the full "
                f"{FULL.butlr_rooms:,} and {FULL.occuspace_locations:,}."
            ),
        )
    return sizes


# --------------------------------------------------------------------------
# The simulator process
# --------------------------------------------------------------------------


def _daytime_timezone(now: datetime) -> str:
    """Pick a timezone where it is day now: no local midnight falls in the run."""
    candidates = (
        "America/New_York",
        "Europe/London",
        "Asia/Tokyo",
        "America/Los_Angeles",
        "Asia/Kolkata",
        "Pacific/Auckland",
    )
    for name in candidates:
        if 2 <= now.astimezone(ZoneInfo(name)).hour <= 21:
            return name
    return candidates[0]  # unreachable: the candidates cover the day


def _split(total: int, parts: int) -> list[int]:
    """Split a total into near-equal parts, the larger ones first."""
    share, extra = divmod(total, parts)
    return [share + (index < extra) for index in range(parts)]


class ButlrBuilder:
    """One site, in one timezone, of presence, traffic and mixed rooms: 4 sensors each.

    Half the rooms count presence, a quarter traffic, a quarter both (two
    sensors of each mode). About one sensor in a hundred is offline, one room
    in ten has no capacity set, and a third of the floors none either.
    """

    def __init__(self, now: datetime, rng: random.Random) -> None:
        """Build from the current time (traffic since local midnight) and a seeded rng."""
        self.now = now
        self.rng = rng
        self.timezone = _daytime_timezone(now)
        midnight = now.astimezone(ZoneInfo(self.timezone)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        self.since_midnight = (now - midnight).total_seconds()
        self.sensors = 0
        self.rooms = 0

    def sensor(self, mode: str) -> Any:
        """Return a new sensor of the mode."""
        from tests.simulator.butlr import ButlrSensor  # noqa: PLC0415

        self.sensors += 1
        number = self.sensors
        mac = f"{number >> 16:02x}-{(number >> 8) & 255:02x}-{number & 255:02x}"
        return ButlrSensor(
            mac,
            mode,
            is_online=self.rng.random() > 0.01,
            people=self.rng.choice((0, 0, 1, 1, 2, 3)) if mode == "presence" else 0,
        )

    def room(self) -> Any:
        """Return the next room."""
        from tests.simulator.butlr import ButlrRoom  # noqa: PLC0415

        number = self.rooms
        self.rooms += 1
        kind = number % 4
        modes = (
            ["presence"] * 4
            if kind in (0, 1)
            else ["traffic"] * 4
            if kind == 2
            else ["presence", "presence", "traffic", "traffic"]
        )
        traffic = []
        if "traffic" in modes:
            for _ in range(self.rng.randint(0, 6)):
                seconds = self.rng.uniform(60, self.since_midnight - 60)
                moment = self.now - timedelta(seconds=seconds)
                traffic.append((moment, self.rng.randint(0, 9), self.rng.randint(0, 7)))
        return ButlrRoom(
            id=f"room_{number:05d}",
            name=f"Room {number}",
            capacity=0 if number % 10 == 9 else self.rng.randint(4, 40),
            sensors=[self.sensor(mode) for mode in modes],
            traffic=traffic,
        )


def build_butlr(sizes: Sizes, now: datetime, rng: random.Random) -> Any:
    """Build the Butlr organisation: the rooms spread evenly over the floors."""
    from tests.simulator.butlr import (  # noqa: PLC0415
        ACCOUNT,
        ButlrBuilding,
        ButlrFloor,
        ButlrScenario,
        ButlrSite,
    )

    builder = ButlrBuilder(now, rng)
    rooms = iter(_split(sizes.butlr_rooms, sizes.butlr_buildings * sizes.butlr_floors))
    buildings = []
    for b in range(sizes.butlr_buildings):
        floors = [
            ButlrFloor(
                id=f"space_{b:02d}_{f:02d}",
                name=f"Building {b} floor {f}",
                capacity=0 if f % 3 == 2 else 400,
                rooms=[builder.room() for _ in range(next(rooms))],
            )
            for f in range(sizes.butlr_floors)
        ]
        buildings.append(
            ButlrBuilding(id=f"building_{b:02d}", name=f"Building {b}", floors=floors)
        )
    site = ButlrSite(
        id="site_bench",
        name="Bench campus",
        timezone=builder.timezone,
        buildings=buildings,
    )
    return ButlrScenario(
        accounts={ACCOUNT[0]: ACCOUNT[1]}, sites=[site], expires_in=TOKEN_LIFETIME
    )


def build_occuspace(sizes: Sizes, rng: random.Random) -> Any:
    """Build a campus of buildings, floors and zones: indexed, on the real clock.

    Like the real API, every ``now`` answer carries the time it was read: a
    poll where nobody moved still brings new timestamps.
    """
    from tests.simulator.occuspace import (  # noqa: PLC0415
        SEED_TOKEN,
        OccuspaceLocation,
        OccuspaceScenario,
    )

    class IndexedScenario(OccuspaceScenario):
        """The simulator's scenario with O(1) lookups (its own are linear scans)."""

        def index(self) -> None:
            self._by_id = {location.id: location for location in self.locations}
            self._children: dict[int, list[OccuspaceLocation]] = {}
            for location in self.locations:
                if location.parent_id is not None:
                    self._children.setdefault(location.parent_id, []).append(location)

        def location(self, location_id: int) -> OccuspaceLocation | None:
            return self._by_id.get(location_id)

        def children(self, location_id: int) -> list[OccuspaceLocation]:
            return self._children.get(location_id, [])

    locations = [OccuspaceLocation(1, "Campus", None, 0)]
    floors: list[int] = []
    for b in range(sizes.occuspace_buildings):
        building_id = len(locations) + 1
        locations.append(OccuspaceLocation(building_id, f"Building {b}", 1, 2000))
        for f in range(sizes.occuspace_floors):
            floors.append(len(locations) + 1)
            locations.append(
                OccuspaceLocation(
                    floors[-1], f"Building {b} floor {f}", building_id, 400
                )
            )
    for z in range(sizes.occuspace_locations - len(locations)):
        capacity = rng.choice((0, 10, 20, 40, 80, 150))
        locations.append(
            OccuspaceLocation(
                len(locations) + 1,
                f"Zone {z}",
                floors[z % len(floors)],
                capacity,
                count=rng.randint(0, capacity or 12),
                is_active=rng.random() > 0.02,
            )
        )
    scenario = IndexedScenario(locations=locations, tokens={SEED_TOKEN})
    scenario.index()
    return scenario


def _change(simulator: Any, fraction: float, rng: random.Random) -> int:
    """Move people in a share of the rooms and zones; return how many changed."""
    changed = 0
    now = datetime.now(UTC)
    for room in simulator.butlr.rooms():
        if rng.random() >= fraction:
            continue
        changed += 1
        presence = [sensor for sensor in room.sensors if sensor.mode == "presence"]
        counts_traffic = any(sensor.mode == "traffic" for sensor in room.sensors)
        if presence and (not counts_traffic or rng.random() < 0.5):
            chosen = rng.choice(presence)
            chosen.people = chosen.people + 1 if chosen.people < 3 else 0
        else:
            room.traffic.append((now - timedelta(seconds=1), 1, 0))
    scenario = simulator.occuspace
    for location in scenario.locations:
        if scenario.children(location.id) or rng.random() >= fraction:
            continue
        changed += 1
        location.count = location.count + 1 if location.count < 5 else 0
    return changed


def serve_simulator(sizes: Sizes, conn: Connection) -> None:
    """Build the accounts and serve them on loopback until terminated."""
    from aiohttp import web  # noqa: PLC0415

    from tests.simulator import Simulator, create_app  # noqa: PLC0415

    simulator = Simulator()
    rng = random.Random()  # noqa: S311 - it only decides who walks in

    def build() -> None:
        """Build the accounts anew: every run meets the same ones, and the same moves."""
        rng.seed(2024)
        simulator.butlr = build_butlr(sizes, datetime.now(UTC), rng)
        simulator.occuspace = build_occuspace(sizes, rng)

    build()

    async def reset(_: web.Request) -> web.Response:
        build()
        simulator.requests.clear()
        return web.json_response({})

    async def requests(_: web.Request) -> web.Response:
        log = [list(r) for r in simulator.requests if not r[1].startswith(CONTROL)]
        simulator.requests.clear()
        return web.json_response(log)

    async def change(request: web.Request) -> web.Response:
        fraction = float(request.query.get("fraction", CHANGE_FRACTION))
        simulator.requests.clear()
        return web.json_response({"changed": _change(simulator, fraction, rng)})

    async def latency(request: web.Request) -> web.Response:
        simulator.latency = float(request.query["seconds"])
        return web.json_response({"latency": simulator.latency})

    async def serve() -> None:
        app = create_app(simulator)
        app.router.add_get(f"{CONTROL}/requests", requests)
        app.router.add_post(f"{CONTROL}/change", change)
        app.router.add_post(f"{CONTROL}/latency", latency)
        app.router.add_post(f"{CONTROL}/reset", reset)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server  # noqa: SLF001 - the only way to the bound port
        _require(server is not None, "the simulator has no server")
        conn.send(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        await asyncio.Event().wait()

    asyncio.run(serve())


# --------------------------------------------------------------------------
# Clocks
# --------------------------------------------------------------------------


class StealClock:
    """The CPU time the hypervisor has taken from the machine's CPUs (seconds).

    The steal column of /proc/stat, read without Python's open() (which Home
    Assistant watches for in its loop); always 0 where there is none.
    """

    def __init__(self) -> None:
        """Open /proc/stat, if there is one."""
        try:
            self._fd: int | None = os.open("/proc/stat", os.O_RDONLY)
        except OSError:
            self._fd = None

    def __call__(self) -> float:
        """Return the CPU time stolen so far, in clock ticks' resolution."""
        if self._fd is None:
            return 0.0
        # cpu user nice system idle iowait irq softirq steal ...
        fields = os.pread(self._fd, 4096, 0).split(maxsplit=9)
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        """Close /proc/stat."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class Series:
    """CPU measurements of one kind (seconds), and which of them met steal."""

    cpu: list[float] = field(default_factory=list)
    stolen: list[bool] = field(default_factory=list)

    def add(self, cpu: float, *, stolen: bool) -> None:
        """Add a measurement, and whether the hypervisor stole CPU time meanwhile."""
        self.cpu.append(cpu)
        self.stolen.append(stolen)

    def kept(self) -> list[float]:
        """Return the measurements the hypervisor took no CPU time during.

        On a virtual machine a thread's CPU clock also runs while the
        hypervisor has its CPU away, which happens mostly as the thread wakes
        from a wait: a bare fetch of 121 requests one after another waits 121
        times, a poll with 8 in flight far less often, so steal inflates that
        floor (by half and more) and hardly the poll. All of them when fewer
        than a tenth are left.
        """
        kept = [
            cpu for cpu, stolen in zip(self.cpu, self.stolen, strict=True) if not stolen
        ]
        return kept if len(kept) >= max(3, len(self.cpu) // 10) else self.cpu

    def median(self) -> float:
        """Return the median of the measurements kept."""
        return statistics.median(self.kept())


def thread_cpu(thread: threading.Thread | None) -> float:
    """Return the CPU seconds a thread has used so far (0 without a thread).

    Linux's clock of the thread, which time.process_time sums with the others'.
    """
    if thread is None or thread.ident is None:
        return 0.0
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


@dataclass(frozen=True)
class Step:
    """The longest event-loop step of one run of an operation (seconds)."""

    cpu: float  # the event-loop thread's CPU in its longest step (judged)
    wall: float  # the longest step's wall time
    what: str  # what ran in the step of the most CPU
    steps: int  # how many steps the run took


@dataclass
class StepWatch:
    """What the step timer saw while it was on."""

    cpu: float = 0.0
    wall: float = 0.0
    handle: asyncio.Handle | None = None
    steps: int = 0

    def step(self) -> Step:
        """Return the longest step and what ran in it."""
        return Step(self.cpu, self.wall, _describe(self.handle), self.steps)


def _describe(handle: asyncio.Handle | None) -> str:
    """Name what a loop step ran: a task's step by its task and coroutine."""
    if handle is None:
        return "-"
    callback = getattr(handle, "_callback", None)  # asyncio keeps it there
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        return f"task {owner.get_name()}: {getattr(coro, '__qualname__', coro)}"
    return repr(handle)[:200]


@contextmanager
def loop_steps() -> Iterator[StepWatch]:
    """Time every event-loop step while the block runs; keep the longest.

    The loop runs every callback and task step through ``Handle._run``
    (timer and thread-safe handles too): wrapped, each costs two reads of
    ``perf_counter`` and two of the thread's CPU clock more, about 1.5 µs.
    """
    watch = StepWatch()
    handle_class = asyncio.events.Handle
    original = handle_class._run  # noqa: SLF001 - the loop's one call site of a step
    clock, cpu_clock = time.perf_counter, time.thread_time

    def timed_run(handle: asyncio.Handle) -> None:
        cpu = cpu_clock()
        start = clock()
        original(handle)
        elapsed = clock() - start
        used = cpu_clock() - cpu
        watch.steps += 1
        watch.wall = max(watch.wall, elapsed)
        if used > watch.cpu:
            watch.cpu = used
            watch.handle = handle

    handle_class._run = timed_run  # type: ignore[method-assign,assignment] # noqa: SLF001
    try:
        yield watch
    finally:
        handle_class._run = original  # type: ignore[method-assign] # noqa: SLF001


class BenchError(Exception):
    """The bench could not measure (not a target missed)."""


def _require(condition: object, message: str) -> None:
    """Stop the benchmark when something it relies on did not happen."""
    if not condition:
        raise BenchError(message)


# --------------------------------------------------------------------------
# What a process measured
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PollCpu:
    """The CPU one poll took, thread by thread (seconds)."""

    # The event-loop thread, where the integration's work runs: the
    # coordinator's refresh and the tasks it left (async_block_till_done).
    # Not the bench's wait for the recorder's commit that follows.
    loop: float
    # The recorder's thread, until it has committed what the poll wrote.
    recorder: float
    # Every other thread of the process over the same time.
    other: float
    # Whether the hypervisor took CPU time from the machine meanwhile.
    stolen: bool


@dataclass
class UsualRefresh:
    """One usual-occupancy refresh: its cost and the states it wrote."""

    wall: float
    # CPU of the whole process, every thread; of which the recorder thread's
    # (recording the states written; the query runs in another thread).
    cpu: float
    recorder_cpu: float
    writes: int
    events: int
    step: Step


@dataclass
class Result:
    """The figures of one mode in one process."""

    provider: str
    recorder: bool = False
    home_assistant: str = ""
    python: str = ""
    entity_cap: int | None = None
    spaces: int = 0
    entities: int = 0
    # Entities the registry enabled (the default install): they have a state.
    enabled_entities: int = 0
    # Whether the provider's observation times moved on over the unchanged polls.
    timestamps_advanced: bool | None = None
    latency: float = 0.0
    wall_per_poll: list[float] = field(default_factory=list)
    setup_wall: float = 0.0
    setup_cpu: float = 0.0
    setup_loop_cpu: float = 0.0
    requests_per_poll: list[int] = field(default_factory=list)
    logins: int = 0
    # CPU per poll (median, nothing changed): the event-loop thread's, where
    # the integration runs (the coordinator's refresh and what it left to do).
    cpu_per_poll: float = 0.0
    writes_unchanged: int = 0
    events_unchanged: int = 0
    rss_growth_mb: float = 0.0
    poll_peak_mb: float = 0.0
    # The floors (medians, the event-loop thread's CPU).
    decode: float = 0.0
    bare_fetch: float = 0.0
    # How many of the measured polls, decodes and fetches the medians took:
    # those the hypervisor took no CPU time during (Series.kept).
    kept: dict[str, int] = field(default_factory=dict)
    body_bytes: int = 0
    changing_cpu: float = 0.0
    # async_write_ha_state calls, and the state_changed events among them.
    changing_writes: float = 0.0
    changing_events: float = 0.0
    # Besides the loop's CPU per poll (medians, unchanged; and changing): the
    # recorder thread's, recording what the poll wrote (recorder modes), and
    # every other thread's (executor jobs, if a poll had any).
    recorder_cpu_per_poll: float = 0.0
    other_cpu_per_poll: float = 0.0
    changing_recorder_cpu: float = 0.0
    # The longest loop step of each run of each operation (Operation values).
    steps: dict[str, list[Step]] = field(default_factory=dict)
    # Usual occupancy, recorder modes only: the statistics written (ids,
    # hours, rows, wall time, database size), the query's wall times, the
    # spaces that got a usual, and the refreshes: the first, one over the
    # same statistics, then the further writing ones.
    statistic_ids: int = 0
    statistic_hours: int = 0
    fill_rows: int = 0
    fill_wall: float = 0.0
    db_mb: float = 0.0
    usual_query: list[float] = field(default_factory=list)
    usual_spaces: int = 0
    usual_refreshes: list[UsualRefresh] = field(default_factory=list)
    # The recorder's 5-minute statistics compile of the tree's sensors
    # (wall, CPU; for information).
    compile_wall: float = 0.0
    compile_cpu: float = 0.0
    # --profile: the printed profile of each operation.
    profiles: dict[str, str] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """Return the CPU per poll over the bare fetch + json.loads."""
        return self.cpu_per_poll / self.bare_fetch if self.bare_fetch else float("inf")

    def step(self, operation: Operation) -> Step | None:
        """Return the median run's longest step of an operation (None: not measured)."""
        runs = sorted(self.steps.get(operation, []), key=lambda step: step.cpu)
        return runs[len(runs) // 2] if runs else None

    def writing_refreshes(self) -> list[UsualRefresh]:
        """Return the usual refreshes that wrote the usual: all but the second."""
        return self.usual_refreshes[:1] + self.usual_refreshes[2:]


# --------------------------------------------------------------------------
# The recorder
# --------------------------------------------------------------------------


def _quiet_recorder() -> list[Any]:
    """Patches that keep the recorder's own schedules off, as the harness does.

    The 5-minute statistics compile, the nightly purge and the catch-up
    compile at start would otherwise run in the middle of whatever is being
    measured when their time comes. The compile is measured once, on its own
    (``measure_compile``).
    """
    from unittest.mock import patch  # noqa: PLC0415

    from homeassistant.components.recorder.core import Recorder  # noqa: PLC0415
    from homeassistant.core import callback  # noqa: PLC0415

    # A callback: the nightly one is run by a time listener, which would
    # otherwise send a plain function to the executor.
    nothing = callback(lambda *_: None)
    return [
        patch.object(Recorder, name, nothing)
        for name in (
            "async_periodic_statistics",
            "async_nightly_tasks",
            "_schedule_compile_missing_statistics",
        )
    ]


async def setup_recorder(hass: HomeAssistant, db_path: Path) -> Recorder:
    """Start the recorder on a SQLite file, as the harness's async_test_recorder does."""
    from homeassistant.components.recorder import CONF_DB_URL  # noqa: PLC0415
    from homeassistant.components.recorder.const import DOMAIN  # noqa: PLC0415
    from homeassistant.helpers import recorder as recorder_helper  # noqa: PLC0415
    from homeassistant.setup import async_setup_component  # noqa: PLC0415

    recorder_helper.async_initialize_recorder(hass)
    config = {CONF_DB_URL: f"sqlite:///{db_path}"}
    _require(
        await async_setup_component(hass, DOMAIN, {DOMAIN: config}),
        "the recorder did not set up",
    )
    await hass.async_block_till_done()
    instance = recorder_helper.get_instance(hass)
    # Home Assistant runs already: the recorder's thread has started.
    await recorded(instance)
    return instance


async def in_recorder_thread[T](instance: Recorder, work: Callable[[Recorder], T]) -> T:
    """Run work in the recorder's own thread, between its tasks, and wait for it.

    As the recorder's own statistics import runs: what it holds is committed
    first, and no other write competes with this one for SQLite's lock.
    """
    from homeassistant.components.recorder.tasks import RecorderTask  # noqa: PLC0415

    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if error is None:
            done.set_result(value)
        else:
            done.set_exception(error)

    @dataclass(slots=True)
    class Call(RecorderTask):
        def run(self, instance: Recorder) -> None:
            try:
                value = work(instance)
            except Exception as err:  # noqa: BLE001 - handed to the caller
                loop.call_soon_threadsafe(settle, None, err)
            else:
                loop.call_soon_threadsafe(settle, value, None)

    instance.queue_task(Call())
    return await done


async def recorded(instance: Recorder) -> None:
    """Wait until the recorder has recorded and committed what it was given.

    Through a task of its own rather than the recorder's async_block_till_done,
    which returns at once when its thread has taken the last event off the
    queue but not yet written it.
    """
    await in_recorder_thread(instance, lambda _: None)


def fill_statistics(
    instance: Recorder, units: dict[str, str | None], hours: list[datetime]
) -> int:
    """Write the hourly statistics of the ids (recorder thread); return the rows.

    One metadata row per id, what the integration's history import and the
    recorder's own compile write (compat.statistic_metadata), then the rows
    hour after hour, every id's row of an hour together: the order the
    recorder's hourly compile writes them in, so that an hour's rows lie side
    by side in the table as in a real database. Core executemany, in batches,
    rather than the recorder's import, which builds an ORM object per row and
    commits per statistic id.

    Each space has its own level, and each week adds a quarter of a person
    more, cycling every four weeks: the four weeks a refresh reads always
    average the same, so a refresh an hour later finds the same usual.
    """
    from homeassistant.components.recorder.db_schema import Statistics, StatisticsMeta  # noqa: PLC0415
    from homeassistant.helpers.recorder import session_scope  # noqa: PLC0415
    from sqlalchemy import insert  # noqa: PLC0415

    from custom_components.space_occupancy.compat import statistic_metadata  # noqa: PLC0415

    rows = 0
    created = time.time()
    week_seconds = WEEK.total_seconds()
    with session_scope(session=instance.get_session()) as session:
        metas = [
            StatisticsMeta.from_meta(statistic_metadata(statistic_id, unit))
            for statistic_id, unit in units.items()
        ]
        session.add_all(metas)
        session.flush()  # Gives the metadata their ids.
        levels = [(meta.id, index % 12) for index, meta in enumerate(metas)]
        connection = session.connection()
        batch: list[dict[str, float]] = []
        for hour in hours:
            start = hour.timestamp()
            week_step = int(start // week_seconds) % 4 * 0.25
            for metadata_id, level in levels:
                mean = level + week_step
                batch.append(
                    {
                        "metadata_id": metadata_id,
                        "created_ts": created,
                        "start_ts": start,
                        "mean": mean,
                        "min": max(0.0, mean - 1),
                        "max": mean + 1,
                    }
                )
            if len(batch) >= FILL_BATCH or hour is hours[-1]:
                connection.execute(insert(Statistics), batch)
                rows += len(batch)
                batch = []
    # The metadata cached, as the recorder's compile leaves it in a running
    # install (the cache is filled only from the recorder's thread).
    with session_scope(session=instance.get_session(), read_only=True) as session:
        instance.statistics_meta_manager.get_many(session, set(units))
    return rows


# --------------------------------------------------------------------------
# The Home Assistant process
# --------------------------------------------------------------------------


async def _no_write(*_: Any) -> None:
    """Stand in for a storage write."""


@asynccontextmanager
async def home_assistant(
    recorder: bool,
) -> AsyncIterator[tuple[HomeAssistant, Recorder | None]]:
    """Yield a Home Assistant test instance, as the harness's fixtures make it.

    With ``recorder``, the recorder runs on a SQLite file in a temporary
    directory, its own schedules off (``_quiet_recorder``).
    """
    import tempfile  # noqa: PLC0415
    from unittest.mock import patch  # noqa: PLC0415

    from aiohttp.resolver import AsyncResolver  # noqa: PLC0415
    from homeassistant import loader  # noqa: PLC0415
    from homeassistant.helpers import frame  # noqa: PLC0415
    from pytest_homeassistant_custom_component.common import async_test_home_assistant  # type: ignore[import-untyped] # noqa: PLC0415

    # The integration first, so Home Assistant's loader finds this package
    # rather than the test harness's empty custom_components.
    import custom_components.space_occupancy  # noqa: F401, PLC0415

    with ExitStack() as stack:
        db_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-"))
        # What the harness's mock_zeroconf_resolver fixture does: no mDNS.
        # Home Assistant 2026 closes its resolver with real_close().
        resolver: Any = AsyncResolver()
        resolver.real_close = resolver.close
        stack.enter_context(
            patch(
                "homeassistant.helpers.aiohttp_client._async_make_resolver",
                return_value=resolver,
            )
        )
        # Registries save a while after a change: into memory, not into the
        # harness's testing_config, and not in the middle of a measurement.
        stack.enter_context(
            patch("homeassistant.helpers.storage.Store._async_write_data", _no_write)
        )
        # The bench runs the hourly usual refresh itself, when it measures it:
        # the integration's timer would run one at the top of the hour, in the
        # middle of whatever is being measured then.
        stack.enter_context(
            patch(
                "custom_components.space_occupancy.usual.async_track_time_change",
                return_value=lambda: None,
            )
        )
        for quiet in _quiet_recorder() if recorder else []:
            stack.enter_context(quiet)
        async with async_test_home_assistant() as hass:
            frame.async_setup(hass)
            # What the enable_custom_integrations fixture does.
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
            db_path = Path(db_dir) / "home-assistant_v2.db"
            instance = await setup_recorder(hass, db_path) if recorder else None
            yield hass, instance
            await hass.async_stop(force=True)


def entry_for(provider: str, base_url: str) -> Any:
    """Return the provider's config entry on the simulator's account.

    No history import (option ``history_days`` 0): polls are measured alone.
    """
    from homeassistant.const import CONF_API_TOKEN, CONF_PASSWORD, CONF_USERNAME  # noqa: PLC0415
    from pytest_homeassistant_custom_component.common import MockConfigEntry  # noqa: PLC0415

    from custom_components.space_occupancy.const import (  # noqa: PLC0415
        AUTH_BUTLR_ACCOUNT,
        AUTH_OCCUSPACE,
        CONF_AUTH_METHOD,
        CONF_BASE_URL,
        CONF_HISTORY_DAYS,
        CONF_PROVIDER,
        DOMAIN,
    )
    from custom_components.space_occupancy.ids import entry_unique_id  # noqa: PLC0415
    from tests.simulator.butlr import ACCOUNT  # noqa: PLC0415
    from tests.simulator.occuspace import SEED_TOKEN  # noqa: PLC0415

    if provider == BUTLR:
        account = ACCOUNT[0]
        data = {
            CONF_AUTH_METHOD: AUTH_BUTLR_ACCOUNT,
            CONF_USERNAME: ACCOUNT[0],
            CONF_PASSWORD: ACCOUNT[1],
            CONF_BASE_URL: base_url,
        }
    else:
        account = "1"
        data = {
            CONF_AUTH_METHOD: AUTH_OCCUSPACE,
            CONF_API_TOKEN: SEED_TOKEN,
            CONF_BASE_URL: f"{base_url}/v1",
        }
    return MockConfigEntry(
        domain=DOMAIN,
        title=provider,
        unique_id=entry_unique_id(provider, account),
        version=2,
        data={CONF_PROVIDER: provider, **data},
        options={CONF_HISTORY_DAYS: 0},
    )


class Counts:
    """State writes (``async_write_ha_state`` calls) and state_changed events."""

    def __init__(self) -> None:
        """Start at zero."""
        self.writes = 0
        self.events = 0

    def now(self) -> tuple[int, int]:
        """Return the writes and events so far."""
        return self.writes, self.events

    @contextmanager
    def counting(self, hass: HomeAssistant) -> Iterator[None]:
        """Count while the block runs."""
        from unittest.mock import patch  # noqa: PLC0415

        from homeassistant.const import EVENT_STATE_CHANGED  # noqa: PLC0415
        from homeassistant.core import Event, EventStateChangedData, callback  # noqa: PLC0415
        from homeassistant.helpers.entity import Entity  # noqa: PLC0415

        original = Entity.async_write_ha_state

        def counting_write(entity: Entity) -> None:
            self.writes += 1
            original(entity)

        @callback
        def count_event(_: Event[EventStateChangedData]) -> None:
            self.events += 1

        remove = hass.bus.async_listen(EVENT_STATE_CHANGED, count_event)
        with patch.object(Entity, "async_write_ha_state", counting_write):
            yield
        remove()


@asynccontextmanager
async def recorder_held(instance: Recorder | None) -> AsyncIterator[None]:
    """Hold the recorder's thread while the block runs; then let it catch up.

    What the block gives the recorder waits in its queue meanwhile. Nothing in
    the block may wait for the recorder (``recorded``).
    """
    if instance is None:
        yield
        return
    gate = threading.Event()
    holding = asyncio.Event()
    loop = asyncio.get_running_loop()

    def hold(_: Recorder) -> None:
        loop.call_soon_threadsafe(holding.set)
        gate.wait()

    held = asyncio.ensure_future(in_recorder_thread(instance, hold))
    await holding.wait()
    try:
        yield
    finally:
        gate.set()
        await held
        await recorded(instance)


class Profiler:
    """cProfile tables of the operations (--profile).

    Times are the process's CPU time, as the targets are: a wait for the
    network costs nothing (a thread's own clock would be wrong here: the
    profiler keeps one call stack for all threads). Python 3.12 and newer
    profile every thread at once: the recorder's thread is held in each
    window (``recorder_held``), so that a table shows the event loop's work
    (and, in a usual refresh, its query in the recorder's executor thread),
    not the recording of what the loop wrote. cProfile adds about a
    microsecond to every call: functions called thousands of times per poll
    weigh more in its tables than they cost.
    """

    def __init__(
        self, result: Result, instance: Recorder | None, directory: Path | None
    ) -> None:
        """Profile into a result's ``profiles``; keep .prof files in ``directory``."""
        self.result = result
        self.instance = instance
        self.directory = directory
        self.profiles: dict[str, Any] = {}

    @asynccontextmanager
    async def window(self, name: str) -> AsyncIterator[None]:
        """Profile the block into the operation's table (the recorder held)."""
        import cProfile  # noqa: PLC0415

        profile = self.profiles.setdefault(name, cProfile.Profile(time.process_time))
        async with recorder_held(self.instance):
            profile.enable()
            try:
                yield
            finally:
                profile.disable()

    def finish(self, prefix: str) -> None:
        """Print each operation's top functions by own and by cumulative time."""
        import io  # noqa: PLC0415
        import pstats  # noqa: PLC0415

        for name, profile in self.profiles.items():
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out)
            stats.sort_stats("tottime").print_stats(PROFILE_LINES)
            stats.sort_stats("cumulative").print_stats(PROFILE_LINES)
            self.result.profiles[name] = _short_paths(out.getvalue())
            if self.directory is not None:
                slug = "".join(c if c.isalnum() else "-" for c in name).strip("-")
                stats.dump_stats(self.directory / f"{prefix}-{slug}.prof")


def _short_paths(text: str) -> str:
    """Drop the site-packages, standard library and checkout prefixes of paths."""
    import re  # noqa: PLC0415

    text = text.replace(f"{ROOT}/", "")
    return re.sub(r"/\S*/(site-packages|python3\.\d+)/", "", text)


def profiled_read_usual(
    hass: HomeAssistant, statistic_ids: dict[str, str], hours: list[datetime]
) -> tuple[dict[str, float], Any]:
    """Run the usual occupancy's query under cProfile (in the executor's thread)."""
    import cProfile  # noqa: PLC0415

    from custom_components.space_occupancy.usual import read_usual  # noqa: PLC0415

    profile = cProfile.Profile(time.process_time)
    usual: dict[str, float] = profile.runcall(read_usual, hass, statistic_ids, hours)
    return usual, profile


@dataclass(frozen=True)
class Plan:
    """What the workers do, besides their mode."""

    sizes: Sizes
    latency: float
    profile: bool = False
    profile_dir: str | None = None


class Bench:
    """One mode's entry in a Home Assistant test instance, and its measurements."""

    def __init__(
        self,
        hass: HomeAssistant,
        instance: Recorder | None,
        *,
        control: Any,
        base_url: str,
        mode: Mode,
        plan: Plan,
    ) -> None:
        """Measure an entry of the mode's provider, against the simulator at base_url.

        ``instance`` is the recorder (None without), ``control`` an aiohttp
        session for the simulator's control paths.
        """
        self.hass = hass
        self.instance = instance
        self.control = control
        self.base_url = base_url
        self.mode = mode
        self.plan = plan
        self.sizes = plan.sizes
        self.result = Result(mode.provider, recorder=mode.recorder)
        self.counts = Counts()
        self.steal = StealClock()
        self.entry: Any = None
        # The requests of a poll: method, URL, JSON body, headers.
        self.captured: list[tuple[str, str, Any, Any]] = []
        self.rss_before = 0

    @property
    def data(self) -> SpaceOccupancyData:
        """The entry's runtime data."""
        data: SpaceOccupancyData = self.entry.runtime_data
        return data

    @property
    def coordinator(self) -> OccupancyCoordinator:
        """The entry's coordinator."""
        return self.data.coordinator

    # The simulator's control paths.

    async def _control(self, method: str, path: str, **params: str) -> Any:
        url = f"{self.base_url}{CONTROL}{path}"
        async with self.control.request(method, url, params=params) as response:
            return await response.json()

    async def simulator_log(self) -> list[tuple[str, str]]:
        """Return (and forget) the requests the simulator answered since last asked."""
        return [
            (method, path) for method, path in await self._control("GET", "/requests")
        ]

    async def change_spaces(self) -> None:
        """Move people in CHANGE_FRACTION of the spaces."""
        await self._control("POST", "/change", fraction=str(CHANGE_FRACTION))

    async def set_latency(self, seconds: float) -> None:
        """Make the simulator answer every request this much later."""
        await self._control("POST", "/latency", seconds=str(seconds))

    # Setup.

    async def set_up(self, profiler: Profiler | None = None) -> None:
        """Set the entry up: its time, its longest loop step; check what it made."""
        import resource  # noqa: PLC0415

        from homeassistant.const import __version__  # noqa: PLC0415

        r = self.result
        r.home_assistant, r.python = __version__, sys.version.split()[0]
        await self._control("POST", "/reset")  # the accounts as built
        self.entry = entry_for(self.mode.provider, self.base_url)
        self.entry.add_to_hass(self.hass)
        await self.simulator_log()
        self.rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        setup = self.hass.config_entries.async_setup(self.entry.entry_id)
        wall, cpu, loop = time.perf_counter(), time.process_time(), time.thread_time()
        async with AsyncExitStack() as stack:
            if profiler is None:
                watch = stack.enter_context(loop_steps())
            else:
                await stack.enter_async_context(profiler.window("setup"))
            ok = await asyncio.create_task(setup, name="entry setup")
            await self.hass.async_block_till_done()
        r.setup_wall = time.perf_counter() - wall
        r.setup_cpu = time.process_time() - cpu
        r.setup_loop_cpu = time.thread_time() - loop
        if profiler is None:
            r.steps[Operation.SETUP] = [watch.step()]
        _require(ok, "setup failed")
        self.check_setup()
        await self.simulator_log()

    def check_setup(self) -> None:
        """Check the entry's parts, entities and devices; count the entities."""
        from homeassistant.helpers import device_registry as dr, entity_registry as er  # noqa: PLC0415

        r, data, mode = self.result, self.data, self.mode
        if mode.recorder and mode.provider == BUTLR:
            # Butlr's history importer exists where the recorder does: idle.
            history = data.history
            _require(history and not history.pending, "the history import has work")
        else:
            _require(data.history is None, "a history importer")
        _require((data.usual is not None) == mode.recorder, "usual occupancy")
        _require(self.coordinator.last_update_success, "the first poll failed")
        r.spaces = len(self.coordinator.data.spaces)
        entries = er.async_entries_for_config_entry(
            er.async_get(self.hass), self.entry.entry_id
        )
        r.entities = len(entries)
        # The bench enables nothing: what has a state is the default install.
        r.enabled_entities = sum(not entry.disabled for entry in entries)
        r.entity_cap = entity_cap()
        _require(
            r.entity_cap is None or r.enabled_entities < r.entity_cap,
            f"{r.enabled_entities} enabled entities reach this Home Assistant's cap "
            f"of {r.entity_cap} per config entry, so some were not added: measure "
            "a smaller tree (--rooms, --locations)",
        )
        _require(
            len(self.hass.states.async_entity_ids()) == r.enabled_entities,
            "the enabled entities are not the ones with a state",
        )
        devices = dr.async_entries_for_config_entry(
            dr.async_get(self.hass), self.entry.entry_id
        )
        _require(len(devices) == r.spaces, f"{len(devices)} devices, {r.spaces}")

    async def unload(self) -> None:
        """Unload the entry."""
        _require(
            await self.hass.config_entries.async_unload(self.entry.entry_id),
            "unload failed",
        )
        await self.hass.async_block_till_done()
        self.steal.close()

    # Polls.

    async def poll(self) -> PollCpu:
        """Poll once; return the CPU it took, thread by thread."""
        # In the loop's thread: time.thread_time is the event loop's clock.
        instance = self.instance
        stolen = self.steal()
        loop, process = time.thread_time(), time.process_time()
        recorder_start = thread_cpu(instance)
        await self.coordinator.async_refresh()
        await self.hass.async_block_till_done()
        loop_end = time.thread_time()
        if instance is not None:
            # What the poll wrote, recorded and committed.
            await recorded(instance)
        recorder_cpu = thread_cpu(instance) - recorder_start
        other = time.process_time() - process - (time.thread_time() - loop)
        coordinator = self.coordinator
        _require(coordinator.last_update_success, str(coordinator.last_exception))
        # Three clocks read one after another: a few microseconds apart.
        return PollCpu(
            loop_end - loop,
            recorder_cpu,
            max(0.0, other - recorder_cpu),
            stolen=self.steal() > stolen,
        )

    async def capture_requests(self) -> None:
        """Poll once, recording the requests, to replay them without the integration."""
        from unittest.mock import patch  # noqa: PLC0415

        from custom_components.space_occupancy.providers.http import HttpClient  # noqa: PLC0415

        original = HttpClient.request
        captured = self.captured

        async def recording(
            client: HttpClient, method: str, path: str, **kwargs: Any
        ) -> Any:
            url = f"{client.base_url}{path}"
            captured.append(
                (method, url, kwargs.get("json_body"), kwargs.get("headers"))
            )
            return await original(client, method, path, **kwargs)

        with patch.object(HttpClient, "request", recording):
            await self.poll()
        await self.simulator_log()

    async def bare_fetch(self, session: Any) -> list[bytes]:
        """Send the poll's requests with a bare aiohttp session, one after another."""
        bodies = []
        for method, url, json_body, headers in self.captured:
            async with session.request(
                method, url, json=json_body, headers=headers
            ) as response:
                _require(response.status == 200, f"{url}: {response.status}")
                bodies.append(await response.read())
        return bodies

    def observation_times(self) -> dict[str, datetime]:
        """Return the provider's observation time of each space that has one."""
        return {
            space_id: reading.observed_at
            for space_id, reading in self.coordinator.data.readings.items()
            if reading.observed_at is not None
        }

    async def measure_polls(self) -> None:
        """Measure the unchanged polls, each followed by a bare decode and fetch.

        All on the loop's thread clock, so that the three meet the same load
        on the machine over the same minute.
        """
        import aiohttp  # noqa: PLC0415

        r = self.result
        polls: list[PollCpu] = []
        decodes, fetches = Series(), Series()
        async with aiohttp.ClientSession() as bare:
            bodies = await self.bare_fetch(bare)
            r.body_bytes = sum(map(len, bodies))
            await self.simulator_log()
            observed_before = self.observation_times()
            writes, events = self.counts.now()
            for _ in range(self.sizes.polls):
                polls.append(await self.poll())
                log = await self.simulator_log()
                r.requests_per_poll.append(len(log))
                r.logins += sum("login" in path for _, path in log)

                stolen, start = self.steal(), time.thread_time()
                for body in bodies:
                    json.loads(body)
                decodes.add(time.thread_time() - start, stolen=self.steal() > stolen)

                stolen, start = self.steal(), time.thread_time()
                for body in await self.bare_fetch(bare):
                    json.loads(body)
                fetches.add(time.thread_time() - start, stolen=self.steal() > stolen)
                await self.simulator_log()
        r.writes_unchanged = self.counts.writes - writes
        r.events_unchanged = self.counts.events - events
        if observed_before:
            after = self.observation_times()
            r.timestamps_advanced = all(
                after.get(space_id, moment) > moment
                for space_id, moment in observed_before.items()
            )
        self.summarize_polls(polls, decodes, fetches)

    def summarize_polls(
        self, polls: list[PollCpu], decodes: Series, fetches: Series
    ) -> None:
        """Keep the medians of the unchanged polls and their floors."""
        r = self.result
        loops = Series([cpu.loop for cpu in polls], [cpu.stolen for cpu in polls])
        r.cpu_per_poll = loops.median()
        r.recorder_cpu_per_poll = statistics.median(cpu.recorder for cpu in polls)
        r.other_cpu_per_poll = statistics.median(cpu.other for cpu in polls)
        r.decode = decodes.median()
        r.bare_fetch = fetches.median()
        r.kept = {
            "polls": len(loops.kept()),
            "decodes": len(decodes.kept()),
            "fetches": len(fetches.kept()),
            "of": len(polls),
        }

    async def measure_latency(self) -> None:
        """Measure the wall time of a poll when every request takes the latency."""
        latency = self.plan.latency
        if latency <= 0:
            return
        await self.set_latency(latency)
        self.result.latency = latency
        for _ in range(LATENCY_POLLS):
            start = time.perf_counter()
            await self.poll()
            self.result.wall_per_poll.append(time.perf_counter() - start)
        await self.set_latency(0)
        await self.simulator_log()

    async def measure_memory(self) -> None:
        """Measure the transient memory of one poll (tracemalloc's peak)."""
        import tracemalloc  # noqa: PLC0415

        tracemalloc.start()
        await self.poll()
        self.result.poll_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        await self.simulator_log()

    async def measure_changing(self) -> None:
        """Measure polls after people moved in CHANGE_FRACTION of the spaces."""
        polls: list[PollCpu] = []
        writes: list[int] = []
        events: list[int] = []
        for _ in range(self.sizes.changing_polls):
            await self.change_spaces()
            before = self.counts.now()
            polls.append(await self.poll())
            writes.append(self.counts.writes - before[0])
            events.append(self.counts.events - before[1])
        r = self.result
        r.changing_cpu = statistics.median(cpu.loop for cpu in polls)
        r.changing_recorder_cpu = statistics.median(cpu.recorder for cpu in polls)
        r.changing_writes = statistics.median(writes)
        r.changing_events = statistics.median(events)
        await self.simulator_log()

    async def measure_poll_steps(self) -> None:
        """Measure the longest loop step of extra unchanged and changing polls.

        Each poll runs in a task of its own, as the coordinator's timer runs it.
        """
        for operation, changing in ((Operation.POLL, False), (Operation.CHANGED, True)):
            runs = []
            for _ in range(STEP_RUNS):
                if changing:
                    await self.change_spaces()
                with loop_steps() as watch:
                    await asyncio.create_task(
                        self.coordinator.async_refresh(), name="poll"
                    )
                    await self.hass.async_block_till_done()
                    if self.instance is not None:
                        await recorded(self.instance)
                runs.append(watch.step())
            self.result.steps[operation] = runs
        await self.simulator_log()

    # Usual occupancy (recorder modes).

    def statistic_ids(self) -> dict[str, str]:
        """Return each space's occupancy statistic id, as the entry reads them."""
        from homeassistant.helpers import entity_registry as er  # noqa: PLC0415

        return self.data.ids.occupancy_entity_ids(
            er.async_get(self.hass), self.coordinator.data.spaces
        )

    async def fill(self, instance: Recorder, statistic_ids: dict[str, str]) -> None:
        """Write STATISTICS_DAYS of hourly statistics of every occupancy sensor."""
        from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT  # noqa: PLC0415
        from homeassistant.util import dt as dt_util  # noqa: PLC0415

        r = self.result
        r.statistic_ids = len(statistic_ids)
        units = {}
        for entity_id in statistic_ids.values():
            state = self.hass.states.get(entity_id)
            units[entity_id] = (
                state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) if state else None
            )
        # Up to the current hour, which the recorder has not compiled yet; an
        # hour more than the days: across a daylight saving change, the same
        # wall-clock hour 4 weeks back is an hour further in UTC.
        now_hour = dt_util.utcnow().replace(minute=0, second=0, microsecond=0)
        hours = [
            now_hour - timedelta(hours=back)
            for back in range(STATISTICS_DAYS * 24 + 1, 0, -1)
        ]
        r.statistic_hours = len(hours)
        start = time.perf_counter()
        r.fill_rows = await in_recorder_thread(
            instance, lambda instance: fill_statistics(instance, units, hours)
        )
        r.fill_wall = time.perf_counter() - start
        db_path = Path(instance.db_url.removeprefix("sqlite:///"))
        r.db_mb = (
            sum(
                path.stat().st_size
                for path in (db_path, db_path.with_name(f"{db_path.name}-wal"))
                if path.exists()
            )
            / 2**20
        )

    async def time_query(
        self, instance: Recorder, statistic_ids: dict[str, str]
    ) -> dict[str, float]:
        """Time the refresh's recorder job alone, as the refresh runs it."""
        from homeassistant.util import dt as dt_util  # noqa: PLC0415

        from custom_components.space_occupancy.const import USUAL_WEEKS  # noqa: PLC0415
        from custom_components.space_occupancy.usual import (  # noqa: PLC0415
            read_usual,
            same_hour_in_past_weeks,
        )

        usual: dict[str, float] = {}
        for _ in range(QUERY_RUNS):
            hours = same_hour_in_past_weeks(dt_util.utcnow(), USUAL_WEEKS)
            start = time.perf_counter()
            usual = await instance.async_add_executor_job(
                read_usual, self.hass, statistic_ids, hours
            )
            self.result.usual_query.append(time.perf_counter() - start)
        _require(
            len(usual) == len(statistic_ids),
            f"a usual for {len(usual)} of {len(statistic_ids)} spaces",
        )
        return usual

    async def usual_refresh(self, instance: Recorder) -> UsualRefresh:
        """Run the entry's own usual refresh, end to end, and time it.

        The query, the entities' update, and the recorder's recording of the
        states written; with its longest loop step.
        """
        usual = self.data.usual
        _require(usual is not None, "no usual occupancy")
        assert usual is not None  # noqa: S101 - for the type checker
        writes, events = self.counts.now()
        wall, cpu = time.perf_counter(), time.process_time()
        recorder_cpu = thread_cpu(instance)
        with loop_steps() as watch:
            await asyncio.create_task(usual.async_refresh(), name="usual refresh")
            await self.hass.async_block_till_done()
            await recorded(instance)
        return UsualRefresh(
            wall=time.perf_counter() - wall,
            cpu=time.process_time() - cpu,
            recorder_cpu=thread_cpu(instance) - recorder_cpu,
            writes=self.counts.writes - writes,
            events=self.counts.events - events,
            step=watch.step(),
        )

    async def forget_usual(self, instance: Recorder) -> None:
        """Clear the usual, so that the next refresh writes it, as an hourly one does."""
        self.coordinator.async_set_usual({})
        await self.hass.async_block_till_done()
        await recorded(instance)

    async def measure_usual(self, instance: Recorder) -> None:
        """Fill the statistics, then time the usual occupancy's query and refreshes.

        The first refresh writes the usual; the second, over the same
        statistics, must write nothing; then the usual is cleared before each
        further one, so that it writes again.
        """
        r = self.result
        statistic_ids = self.statistic_ids()
        await self.fill(instance, statistic_ids)
        usual = await self.time_query(instance, statistic_ids)
        for index in range(USUAL_REFRESHES + 1):
            if index >= 2:
                await self.forget_usual(instance)
            r.usual_refreshes.append(await self.usual_refresh(instance))
            if index == 0:
                r.usual_spaces = len(self.coordinator.states.usual)
            _require(
                self.coordinator.states.usual == usual,
                "the refresh found another usual",
            )
        r.steps[Operation.USUAL] = [refresh.step for refresh in r.writing_refreshes()]

    async def measure_compile(self, instance: Recorder) -> None:
        """Time one 5-minute statistics compile of the recorder (for information).

        Home Assistant's work, not the integration's: every 5 minutes it reads
        the period's states of each sensor with a state class (occupancy,
        percentage, daily counts) and writes their short-term statistics.
        Compiled here for the period under way: the last finished one may be
        marked done already.
        """
        from homeassistant.components.recorder import statistics as stats  # noqa: PLC0415

        period = stats.get_start_time() + timedelta(minutes=5)
        await recorded(instance)
        wall, cpu = time.perf_counter(), time.process_time()
        # What the recorder's StatisticsTask runs.
        await in_recorder_thread(
            instance, lambda instance: stats.compile_statistics(instance, period, False)
        )
        self.result.compile_wall = time.perf_counter() - wall
        self.result.compile_cpu = time.process_time() - cpu

    # The runs.

    async def measure(self) -> None:
        """Measure everything, in an order where nothing disturbs a measurement."""
        import resource  # noqa: PLC0415

        await self.set_up()
        await self.capture_requests()
        await self.measure_polls()
        await self.measure_latency()
        await self.measure_memory()
        await self.measure_changing()
        await self.measure_poll_steps()
        self.result.rss_growth_mb = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.rss_before
        ) / 1024
        if self.instance is not None:
            await self.measure_usual(self.instance)
            await self.measure_compile(self.instance)

    async def profile(self) -> None:
        """Profile the setup, unchanged and changing polls, and the usual refresh."""
        plan = self.plan
        directory = Path(plan.profile_dir) if plan.profile_dir else None
        profiler = Profiler(self.result, self.instance, directory)
        await self.set_up(profiler)
        await self.poll()  # The first poll after setup, unprofiled.
        for _ in range(PROFILE_POLLS):
            async with profiler.window(f"{PROFILE_POLLS} {Operation.POLL}s"):
                await self.coordinator.async_refresh()
                await self.hass.async_block_till_done()
        for _ in range(PROFILE_CHANGING_POLLS):
            await self.change_spaces()
            async with profiler.window(
                f"{PROFILE_CHANGING_POLLS} {Operation.CHANGED}s"
            ):
                await self.coordinator.async_refresh()
                await self.hass.async_block_till_done()
        if self.instance is not None:
            await self.profile_usual(self.instance, profiler)
        profiler.finish(self.mode.label.replace(" + ", "-"))

    async def profile_usual(self, instance: Recorder, profiler: Profiler) -> None:
        """Profile a writing usual refresh, and its query alone (its thread)."""
        from homeassistant.util import dt as dt_util  # noqa: PLC0415

        from custom_components.space_occupancy.const import USUAL_WEEKS  # noqa: PLC0415
        from custom_components.space_occupancy.usual import same_hour_in_past_weeks  # noqa: PLC0415

        statistic_ids = self.statistic_ids()
        await self.fill(instance, statistic_ids)
        usual = self.data.usual
        _require(usual is not None, "no usual occupancy")
        assert usual is not None  # noqa: S101 - for the type checker
        async with profiler.window(f"{Operation.USUAL}, writing (query included)"):
            await usual.async_refresh()
            await self.hass.async_block_till_done()
        hours = same_hour_in_past_weeks(dt_util.utcnow(), USUAL_WEEKS)
        _, query = await instance.async_add_executor_job(
            profiled_read_usual, self.hass, statistic_ids, hours
        )
        profiler.profiles["usual query alone (the recorder's executor thread)"] = query


async def run_mode(mode: Mode, base_url: str, plan: Plan) -> Result:
    """Measure (or profile) one mode in a Home Assistant test instance."""
    import aiohttp  # noqa: PLC0415

    task = asyncio.current_task()
    if task is not None:  # Named in the steps it runs.
        task.set_name("the bench")
    async with (
        home_assistant(mode.recorder) as (hass, instance),
        aiohttp.ClientSession() as control,
    ):
        bench = Bench(
            hass, instance, control=control, base_url=base_url, mode=mode, plan=plan
        )
        with bench.counts.counting(hass):
            await (bench.profile() if plan.profile else bench.measure())
            await bench.unload()
    return bench.result


def hass_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """Return what makes Home Assistant's event loop on this line."""
    from homeassistant import runner  # noqa: PLC0415

    create: Callable[[], asyncio.AbstractEventLoop] | None = getattr(
        runner, "create_event_loop", None
    )
    if create is not None:  # 2025.10 and newer
        return create
    policy = getattr(runner, "HassEventLoopPolicy")(False)  # noqa: B009 - not on 2026
    factory: Callable[[], asyncio.AbstractEventLoop] = policy.new_event_loop
    return factory


def worker(mode: Mode, base_url: str, plan: Plan, conn: Connection) -> None:
    """Run one mode's measurement in this (fresh) process; send back its Result."""
    import logging  # noqa: PLC0415
    import traceback  # noqa: PLC0415

    logging.basicConfig(level=logging.WARNING)
    try:
        result = asyncio.run(
            run_mode(mode, base_url, plan), loop_factory=hass_loop_factory()
        )
    except BaseException:
        conn.send(RuntimeError(traceback.format_exc()))
        raise
    conn.send(result)


# --------------------------------------------------------------------------
# The report: per mode, the median over processes (min-max)
# --------------------------------------------------------------------------

type Cell = Callable[[list[Result]], str]
type Check = tuple[str, bool | None]


def _spread(
    values: Sequence[float], fmt: Callable[[float], str], unit: str = ""
) -> str:
    """Show the median of the processes' figures, and their range where it differs."""
    text = f"{fmt(statistics.median(values))}{unit}"
    low, high = fmt(min(values)), fmt(max(values))
    return text if low == high else f"{text} ({low}-{high})"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def ms(value: Callable[[Result], float]) -> Cell:
    """Show a figure in milliseconds."""
    return lambda results: _spread([value(r) for r in results], _ms, " ms")


def number(value: Callable[[Result], float], fmt: str = "{:g}", unit: str = "") -> Cell:
    """Show a figure formatted by ``fmt``."""
    return lambda results: _spread([value(r) for r in results], fmt.format, unit)


def recorder_only(cell: Cell) -> Cell:
    """Show a figure where the recorder runs, "-" elsewhere."""
    return lambda results: cell(results) if results[0].recorder else "-"


def step_seconds(
    results: list[Result], operation: Operation, wall: bool = False
) -> list[float] | None:
    """Return each process's longest step of an operation (its CPU, or wall).

    None where the operation is not measured.
    """
    steps = [r.step(operation) for r in results]
    return [
        step.wall if wall else step.cpu for step in steps if step is not None
    ] or None


def step_cell(operation: Operation) -> Cell:
    """Show the longest loop step of an operation: its CPU, and the wall's median."""

    def cell(results: list[Result]) -> str:
        cpu = step_seconds(results, operation)
        wall = step_seconds(results, operation, wall=True)
        if cpu is None or wall is None:
            return "-"
        return f"{_spread(cpu, _ms, ' ms')}; wall {_ms(statistics.median(wall))}"

    return cell


def setup_rows() -> list[tuple[str, Cell]]:
    """Return the rows of the entry's size and setup."""
    return [
        ("spaces / entities", lambda rs: f"{rs[0].spaces:,} / {rs[0].entities:,}"),
        (
            "enabled entities per entry (entity registry)",
            lambda rs: f"{rs[0].enabled_entities:,}",
        ),
        ("setup: wall", number(lambda r: r.setup_wall, "{:.1f}", " s")),
        (
            "setup: CPU, all threads / event-loop thread",
            lambda rs: (
                f"{_spread([r.setup_cpu for r in rs], '{:.1f}'.format, ' s')} / "
                f"{_spread([r.setup_loop_cpu for r in rs], '{:.1f}'.format, ' s')}"
            ),
        ),
    ]


def poll_rows(sizes: Sizes) -> list[tuple[str, Cell]]:
    """Return the rows of the unchanged polls' figures."""
    return [
        ("requests per poll", number(lambda r: statistics.median(r.requests_per_poll))),
        (
            "response bodies per poll",
            number(lambda r: r.body_bytes / 1024, "{:.0f}", " KiB"),
        ),
        (
            f"CPU per unchanged poll, event-loop thread (median of {sizes.polls})",
            ms(lambda r: r.cpu_per_poll),
        ),
        (
            "  besides: the recorder's thread",
            recorder_only(ms(lambda r: r.recorder_cpu_per_poll)),
        ),
        ("  besides: other threads", ms(lambda r: r.other_cpu_per_poll)),
        ("bare aiohttp fetch + json.loads", ms(lambda r: r.bare_fetch)),
        (
            f"CPU per poll / bare fetch (target ≤ {CPU_TARGET:g}x)",
            number(lambda r: r.ratio, "{:.2f}", "x"),
        ),
        ("bare json.loads of the bodies (info)", ms(lambda r: r.decode)),
        (
            "CPU per poll / bare json.loads (info)",
            number(lambda r: r.cpu_per_poll / r.decode, "{:.2f}", "x"),
        ),
        (
            "kept (no steal): polls / decodes / fetches, fewest",
            lambda rs: (
                " / ".join(
                    str(min(r.kept[kind] for r in rs))
                    for kind in ("polls", "decodes", "fetches")
                )
                + f" of {rs[0].kept['of']}"
            ),
        ),
        (
            "timestamps advance between polls",
            lambda rs: (
                "n/a"
                if rs[0].timestamps_advanced is None
                else "yes"
                if all(r.timestamps_advanced for r in rs)
                else "no"
            ),
        ),
        (
            "state writes, unchanged polls (all of them)",
            number(lambda r: r.writes_unchanged),
        ),
    ]


def changing_rows() -> list[tuple[str, Cell]]:
    """Return the rows of the latency, changing polls and memory figures."""

    def wall(results: list[Result]) -> str:
        if not results[0].wall_per_poll:
            return "not measured"
        walls = [statistics.median(r.wall_per_poll) for r in results]
        return _spread(walls, "{:.2f}".format, " s")

    latency = DEFAULT_LATENCY * 1000
    return [
        (f"wall per poll at {latency:g} ms latency (--latency)", wall),
        (
            f"CPU per {Operation.CHANGED}, event-loop thread",
            ms(lambda r: r.changing_cpu),
        ),
        (
            "  besides: the recorder's thread",
            recorder_only(ms(lambda r: r.changing_recorder_cpu)),
        ),
        (
            f"state writes / state_changed, {Operation.CHANGED}",
            lambda rs: (
                f"{number(lambda r: r.changing_writes)(rs)} / "
                f"{number(lambda r: r.changing_events)(rs)}"
            ),
        ),
        (
            "peak RSS growth (setup + polls)",
            number(lambda r: r.rss_growth_mb, "{:.0f}", " MiB"),
        ),
        (
            "tracemalloc peak during a poll",
            number(lambda r: r.poll_peak_mb, "{:.1f}", " MiB"),
        ),
        *((f"longest loop step, CPU: {op}", step_cell(op)) for op in Operation),
    ]


def usual_rows() -> list[tuple[str, Cell]]:
    """Return the rows of the usual occupancy's figures (recorder modes)."""

    def writing(value: Callable[[UsualRefresh], float]) -> Callable[[Result], float]:
        return lambda r: statistics.median(map(value, r.writing_refreshes()))

    def seconds(value: Callable[[UsualRefresh], float]) -> Cell:
        return recorder_only(number(writing(value), "{:.2f}", " s"))

    return [
        (
            "usual: statistics ids x hours; rows (fill time)",
            recorder_only(
                lambda rs: (
                    f"{rs[0].statistic_ids} x {rs[0].statistic_hours}; "
                    f"{rs[0].fill_rows:,} ({_spread([r.fill_wall for r in rs], '{:.0f}'.format, ' s')})"
                )
            ),
        ),
        (
            "usual: database after the fill",
            recorder_only(number(lambda r: r.db_mb, "{:.0f}", " MiB")),
        ),
        (
            f"usual query, the refresh's recorder job (target ≤ {USUAL_QUERY_TARGET:g} s)",
            recorder_only(
                number(lambda r: statistics.median(r.usual_query), "{:.2f}", " s")
            ),
        ),
        ("usual refresh, writing: wall", seconds(lambda u: u.wall)),
        ("usual refresh, writing: CPU, all threads", seconds(lambda u: u.cpu)),
        ("  of which the recorder's thread", seconds(lambda u: u.recorder_cpu)),
        (
            "usual refresh, writing: state writes",
            recorder_only(number(writing(lambda u: u.writes))),
        ),
        (
            "usual refresh, same statistics: state writes",
            recorder_only(number(lambda r: r.usual_refreshes[1].writes)),
        ),
        (
            "recorder's 5-minute statistics compile: CPU (info)",
            recorder_only(ms(lambda r: r.compile_cpu)),
        ),
    ]


def print_table(columns: list[list[Result]], sizes: Sizes) -> None:
    """Print the figures, one column per mode."""
    rows = [*setup_rows(), *poll_rows(sizes), *changing_rows(), *usual_rows()]
    header = [
        "",
        *(
            f"{sizes.tree(rs[0].provider)}{' + recorder' if rs[0].recorder else ''}"
            for rs in columns
        ),
    ]
    table = [header, *([label, *(cell(rs) for rs in columns)] for label, cell in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for index, row in enumerate(table):
        cells = (
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        )
        print("| " + " | ".join(cells) + " |")
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def print_steps(columns: list[list[Result]]) -> None:
    """Print what ran in each operation's longest step (the median process's)."""
    print(
        "\nLongest event-loop steps (the median process's: the loop thread's CPU "
        "in its longest step, and the longest wall; wall beyond the CPU is a wait "
        "for the GIL or for a CPU):"
    )
    for results in columns:
        for operation in Operation:
            steps = sorted(
                (step for r in results if (step := r.step(operation)) is not None),
                key=lambda step: step.cpu,
            )
            if steps:
                step = steps[len(steps) // 2]
                print(
                    f"  {Mode(results[0].provider, results[0].recorder).label}, "
                    f"{operation}: {_ms(step.cpu)} ms CPU (wall {_ms(step.wall)} ms), "
                    f"the longest of {step.steps:,}, in {step.what}"
                )


def request_checks(results: list[Result], sizes: Sizes) -> list[Check]:
    """Return the checks of requests and state writes (every process)."""
    checks: list[Check] = []
    if results[0].provider == BUTLR:
        most = max(max(r.requests_per_poll) for r in results)
        logins = sum(r.logins for r in results)
        checks.append(
            (
                (
                    f"requests per poll ≤ {MAX_BUTLR_REQUESTS}, no login "
                    f"(max {most}, {logins} logins)"
                ),
                most <= MAX_BUTLR_REQUESTS and logins == 0,
            )
        )
    else:
        wanted = sizes.occuspace_parents
        seen = sorted({n for r in results for n in r.requests_per_poll})
        checks.append(
            (
                f"requests per poll = locations with children ({wanted}): {seen}",
                seen == [wanted],
            )
        )
        checks.append(
            (
                "timestamps advance between polls, as the real API's do",
                all(r.timestamps_advanced for r in results),
            )
        )
    events = sum(r.events_unchanged for r in results)
    writes = sum(r.writes_unchanged for r in results)
    checks.append(
        (
            (
                f"no state writes on unchanged polls, default install ({events} "
                f"state_changed, {writes} writes in {len(results)} x {sizes.polls} "
                "polls)"
            ),
            events == 0 and writes == 0,
        )
    )
    return checks


def cost_checks(results: list[Result], sizes: Sizes, latency: float) -> list[Check]:
    """Return the CPU, wall and loop-step targets, on the median over processes."""
    judged = sizes.judged
    checks: list[Check] = []
    provider = results[0].provider
    if provider in WALL_TARGETS and results[0].wall_per_poll:
        limit = WALL_TARGETS[provider]
        walls = [statistics.median(r.wall_per_poll) for r in results]
        checks.append(
            (
                (
                    f"wall per poll ≤ {limit:g} s at {DEFAULT_LATENCY * 1000:g} ms "
                    f"latency ({_spread(walls, '{:.2f}'.format, ' s')} at "
                    f"{latency * 1000:g} ms)"
                ),
                statistics.median(walls) <= limit
                if latency == DEFAULT_LATENCY
                else None,
            )
        )
    ratios = [r.ratio for r in results]
    ratio = statistics.median(ratios)
    cpu = statistics.median(r.cpu_per_poll for r in results)
    floor = statistics.median(r.bare_fetch for r in results)
    cut = 1 - CPU_TARGET / ratio
    gap = (
        "met"
        if ratio <= CPU_TARGET
        else f"the poll must lose {cut:.1%} of its CPU, about {_ms(cpu * cut)} ms"
    )
    checks.append(
        (
            (
                f"CPU per unchanged poll ≤ {CPU_TARGET:g}x bare fetch + json.loads: "
                f"{_spread(ratios, '{:.2f}'.format, 'x')} ({_ms(cpu)} ms / "
                f"{_ms(floor)} ms); {gap}"
            ),
            ratio <= CPU_TARGET if judged else None,
        )
    )
    for operation in Operation:
        seconds = step_seconds(results, operation)
        if seconds is None:
            continue
        step = statistics.median(seconds)
        over = step - STEP_TARGET
        gap = "met" if over <= 0 else f"{_ms(over)} ms over ({step / STEP_TARGET:.1f}x)"
        walls = step_seconds(results, operation, wall=True) or [0.0]
        checks.append(
            (
                (
                    f"longest loop step ≤ {STEP_TARGET * 1000:g} ms, {operation}: "
                    f"{_spread(seconds, _ms, ' ms')} CPU (wall "
                    f"{_spread(walls, _ms, ' ms')}); {gap}"
                ),
                over <= 0 if judged else None,
            )
        )
    return checks


def usual_checks(results: list[Result]) -> list[Check]:
    """Return the usual occupancy's targets (recorder modes)."""
    if not results[0].recorder:
        return []
    queries = [statistics.median(r.usual_query) for r in results]
    first = [
        (r.usual_refreshes[0].writes, r.usual_spaces, r.statistic_ids) for r in results
    ]
    again = [
        (r.usual_refreshes[1].writes, r.usual_refreshes[1].events) for r in results
    ]
    return [
        (
            (
                f"usual query ≤ {USUAL_QUERY_TARGET:g} s for "
                f"{results[0].statistic_ids} spaces "
                f"({_spread(queries, '{:.2f}'.format, ' s')})"
            ),
            statistics.median(queries) <= USUAL_QUERY_TARGET,
        ),
        (
            # Its usual sensor, and its compared-with-usual sensor where the
            # space has an occupancy to compare.
            (
                "first usual refresh writes each space's usual once, and at most "
                f"its compared-with-usual (writes, spaces with a usual, ids: {first})"
            ),
            all(ids == spaces <= writes <= 2 * spaces for writes, spaces, ids in first),
        ),
        (
            (
                "no state writes on a usual refresh over the same statistics "
                f"(writes, state_changed: {again})"
            ),
            all(writes == events == 0 for writes, events in again),
        ),
    ]


def report(columns: list[list[Result]], plan: Plan) -> list[str]:
    """Print the figures and the targets; return the targets missed."""
    sizes = plan.sizes
    first = columns[0][0]
    print(
        f"\nHome Assistant {first.home_assistant}, Python {first.python}; "
        f"{len(columns[0])} process(es) per mode. Each cell: the median over the "
        "processes of each process's figure (median over its polls), and the "
        "spread over the processes (min-max)."
    )
    if sizes.note:
        print(sizes.note)
    print()
    print_table(columns, sizes)
    print_steps(columns)
    print()
    failures: list[str] = []
    for results in columns:
        label = Mode(results[0].provider, results[0].recorder).label
        checks = [
            *request_checks(results, sizes),
            *cost_checks(results, sizes, plan.latency),
            *usual_checks(results),
        ]
        for text, ok in checks:
            verdict = (
                "INFO (judged at full size)" if ok is None else "PASS" if ok else "FAIL"
            )
            print(f"{verdict}  {label}: {text}")
            if ok is False:
                failures.append(f"{label}: {text}")
    return failures


def print_profiles(columns: list[list[Result]]) -> None:
    """Print each mode's profiles, operation by operation."""
    for results in columns:
        label = Mode(results[0].provider, results[0].recorder).label
        for operation, text in results[0].profiles.items():
            print(f"\n==== profile: {label}: {operation}\n{text}")


# --------------------------------------------------------------------------
# The processes
# --------------------------------------------------------------------------


@contextmanager
def simulator(context: Any, sizes: Sizes) -> Iterator[str]:
    """Run the simulator in a process of its own; yield its base URL."""
    receive, send = context.Pipe(duplex=False)
    process = context.Process(
        target=serve_simulator, args=(sizes, send), name="simulator", daemon=True
    )
    process.start()
    send.close()
    try:
        _require(receive.poll(120), "the simulator did not start")
        yield receive.recv()
    finally:
        process.terminate()
        process.join()


def run_worker(context: Any, mode: Mode, base_url: str, plan: Plan) -> Result:
    """Measure one mode in a fresh process; return its Result."""
    receive, send = context.Pipe(duplex=False)
    process = context.Process(
        target=worker, args=(mode, base_url, plan, send), name=f"bench-{mode.provider}"
    )
    process.start()
    send.close()
    try:
        answer = receive.recv()
    except EOFError:
        answer = RuntimeError(f"the worker died (exit code {process.exitcode})")
    process.join()
    if isinstance(answer, Result):
        return answer
    raise BenchError(f"{mode.label}: {answer}")


def run_all(modes: list[Mode], plan: Plan, processes: int) -> list[list[Result]]:
    """Run every mode in ``processes`` processes, interleaved; results per mode."""
    sizes = plan.sizes
    context = mp.get_context("spawn")
    columns: list[list[Result]] = [[] for _ in modes]
    with simulator(context, sizes) as base_url:
        print(
            f"Simulator on {base_url}: Butlr {sizes.butlr_rooms:,} rooms "
            f"({sizes.butlr_rooms * 4:,} sensors, {sizes.butlr_spaces:,} spaces), "
            f"Occuspace {sizes.occuspace_locations:,} locations "
            f"({sizes.occuspace_parents} with children)",
            flush=True,
        )
        for round_number in range(1, processes + 1):
            for mode, results in zip(modes, columns, strict=True):
                start = time.perf_counter()
                results.append(run_worker(context, mode, base_url, plan))
                print(
                    f"  process {round_number}/{processes}, {mode.label}: "
                    f"{time.perf_counter() - start:.0f} s",
                    flush=True,
                )
    return columns


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--newest", action="store_true", help="(scripts/bench) on the newest line")
    add("--quick", action="store_true", help="small trees, few polls, nothing judged")
    _size_arguments(parser)
    add(
        "--provider",
        choices=(BUTLR, OCCUSPACE),
        action="append",
        help="measure only this provider (repeatable)",
    )
    add(
        "--recorder",
        choices=("both", "with", "without"),
        default="both",
        help="measure with the recorder, without it, or both (default)",
    )
    add(
        "--latency",
        type=float,
        default=DEFAULT_LATENCY,
        metavar="SECONDS",
        help=f"latency of each request in the wall-time polls (default "
        f"{DEFAULT_LATENCY:g}; 0 skips them; the target applies at the default)",
    )
    add(
        "--profile",
        action="store_true",
        help="profile instead of measuring: one process per mode, cProfile tables",
    )
    add("--profile-dir", metavar="DIR", help="keep the .prof files of --profile here")
    args = parser.parse_args(argv)
    if args.newest:
        parser.error("--newest belongs to scripts/bench, which runs this on that line")
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    return args


def _size_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of how much is measured."""
    add = parser.add_argument
    add(
        "--processes",
        type=int,
        default=DEFAULT_PROCESSES,
        metavar="N",
        help=f"processes per mode (default {DEFAULT_PROCESSES})",
    )
    add(
        "--polls",
        type=int,
        metavar="N",
        help=f"unchanged polls measured per process (default {FULL.polls}, "
        f"--quick {QUICK.polls})",
    )
    capped = "where the line caps enabled entities per entry"
    add(
        "--rooms",
        type=int,
        metavar="N",
        help=f"Butlr rooms (default {FULL.butlr_rooms}; {CAPPED_TREES[BUTLR]} {capped})",
    )
    add(
        "--locations",
        type=int,
        metavar="N",
        help=f"Occuspace locations (default {FULL.occuspace_locations}; "
        f"{CAPPED_TREES[OCCUSPACE]} {capped})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    args = parse_args(argv)
    plan = Plan(choose_sizes(args), args.latency, args.profile, args.profile_dir)
    if plan.profile_dir:
        Path(plan.profile_dir).mkdir(parents=True, exist_ok=True)
    recorder = {"both": (False, True), "with": (True,), "without": (False,)}
    modes = [
        Mode(provider, with_recorder)
        for provider in args.provider or (BUTLR, OCCUSPACE)
        for with_recorder in recorder[args.recorder]
    ]
    if plan.sizes.note:
        print(plan.sizes.note)
    started = time.perf_counter()
    try:
        columns = run_all(modes, plan, 1 if args.profile else args.processes)
    except BenchError as err:
        print(f"The bench failed: {err}", file=sys.stderr)
        return 2
    if args.profile:
        print_profiles(columns)
        return 0
    failures = report(columns, plan)
    print(f"\nRun time {time.perf_counter() - started:.0f} s")
    if failures:
        print(f"{len(failures)} target(s) missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
