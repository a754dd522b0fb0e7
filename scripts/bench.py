"""Benchmark: what one poll of a large account costs Home Assistant.

A simulated Butlr organisation (2,000 rooms, 8,000 sensors) and an Occuspace
tree (2,000 locations) are served by the simulator in a process of its own, on
127.0.0.1. Each provider is then set up, for real, in a Home Assistant test
instance in a fresh process and polled through its coordinator. The figures:

- requests per poll, from the simulator's request log;
- CPU time per poll: the event-loop thread's CPU clock (``time.thread_time``
  read in the loop) over the coordinator's refresh and the tasks it leaves,
  the median of the measured polls. The integration's work all runs on the
  loop; the recorder's thread and any other thread are reported beside it,
  and the bench's wait for the recorder's commit is left out;
- state writes on a poll where nothing changed (``state_changed`` events and
  calls of ``async_write_ha_state``);
- peak memory: the growth of the process's peak RSS over setup and polls, and
  tracemalloc's peak during one poll;
- setup time (wall and CPU);
- the ratio of CPU per poll to two floors measured on the same requests: a
  bare ``json.loads`` of the response bodies, and the same requests sent with
  a bare aiohttp session (plus ``json.loads``), which tells the transport from
  the integration's own work. Each provider's target is against one of them
  (``CPU_TARGETS``). Each measured poll is followed by one of each floor, on
  the same clock, so that the three meet the same load over the same minute,
  and the medians leave out the measurements during which the hypervisor
  took CPU time from the machine (/proc/stat's steal, ``Series.kept``): it
  lands on a thread's CPU clock as it wakes, so on the bare fetch, which
  waits for each of its requests in turn, much more than on a poll;
- wall time per poll with a network latency injected in the simulator (100 ms
  per request by default, ``--latency``): Occuspace's calls must overlap to
  meet its target (``WALL_TARGETS``); Butlr's is reported;
- for information: CPU and state writes of a poll after people moved in 5 %
  of the spaces, and the longest event-loop step of a poll (asyncio's debug
  mode, in extra polls: it slows everything down).

Each provider is measured twice: without the recorder, then with it (on a
SQLite file in a temporary directory, as a default install has it; its own
5-minute statistics compile, nightly purge and catch-up compile are off, as in
the test harness's ``recorder_mock``, so that they never run in the middle of
a measured poll). With the recorder:

- the same poll figures and targets, each poll waiting for the recorder to
  record and commit what it wrote, and the recorder thread's CPU over that
  (its own CPU clock), beside the loop's. The Butlr history import is off (option
  ``history_days`` 0): its importer exists but has nothing to do, so polls
  are measured alone;
- the hourly usual-occupancy refresh (usual.py) over ``STATISTICS_DAYS`` days
  of hourly statistics of every space's occupancy sensor. The bench writes
  them straight into the recorder's tables, in its thread, and reports that
  fill on its own. Then: the query (``usual.read_usual``, the recorder job of
  a refresh: wall time, ``USUAL_QUERY_TARGET``), and whole refreshes (wall,
  CPU of every thread and the recorder thread's, state writes, the loop step
  where the entities take the values): the first writes each space's usual and
  compared-with-usual sensors (about 2 writes per space), a second one over
  the same statistics must write none;
- for information: what the recorder's own 5-minute statistics compile costs
  for the tree's sensors (Home Assistant's work, not the integration's).

Occuspace stamps every ``now`` answer with the time of its reading, so a poll
later carries later timestamps even when nobody moved: the simulator's clock
runs, as the real API's does, and the bench checks that it did. The entities
are the default install's, as the registry creates them (diagnostic ones such
as ``last_reading`` disabled): a poll where no count changed must write no
state. Registry saves are kept in memory.

Run it with ``scripts/bench`` (``--quick`` for small sizes). It exits non-zero
when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
    from homeassistant.components.recorder import Recorder
    from homeassistant.core import HomeAssistant

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BUTLR = "butlr"
OCCUSPACE = "occuspace"
CONTROL = "/_bench"
# A token that never needs renewing during the run.
TOKEN_LIFETIME = 10_000_000
MAX_BUTLR_REQUESTS = 2


class Baseline(StrEnum):
    """A floor for a poll's CPU, measured on the same requests as the poll."""

    DECODE = "bare json.loads"
    FETCH = "bare aiohttp fetch + json.loads"


# The target per provider: CPU per poll (median, nothing changed) ≤ ratio x baseline.
# Butlr answers a poll in one or two large responses: decoding them is the floor.
# Occuspace takes one request per location with children (121 at full size): the
# HTTP exchanges, not the decoding, are the floor.
CPU_TARGETS: dict[str, tuple[float, Baseline]] = {
    BUTLR: (3.0, Baseline.DECODE),
    OCCUSPACE: (2.0, Baseline.FETCH),
}
# The share of spaces whose people move between the "changing" polls.
CHANGE_FRACTION = 0.05
# The network latency the simulator adds to every request in the wall-time
# polls (seconds), and how many such polls are measured.
DEFAULT_LATENCY = 0.1
LATENCY_POLLS = 3
# Wall time per poll (median) at DEFAULT_LATENCY. Occuspace's 121 calls one
# after another would take 12 s; Butlr's are reported without a target.
WALL_TARGETS: dict[str, float] = {OCCUSPACE: 2.5}
# Usual occupancy (recorder runs): days of hourly statistics written into the
# recorder (the refresh reads the same hour 1 to 4 weeks back), how often the
# query is timed, and its target: wall seconds of the refresh's recorder job.
STATISTICS_DAYS = 28
QUERY_RUNS = 3
USUAL_QUERY_TARGET = 2.0
# The statistics the bench writes are inserted this many rows at a time.
FILL_BATCH = 50_000
WEEK = timedelta(weeks=1)


@dataclass(frozen=True)
class Sizes:
    """How large the simulated accounts are."""

    butlr_buildings: int
    butlr_floors: int  # per building
    butlr_rooms: int  # per floor
    occuspace_buildings: int
    occuspace_floors: int  # per building
    occuspace_locations: int  # in all, the campus included
    polls: int
    changing_polls: int

    @property
    def butlr_room_count(self) -> int:
        """Rooms in the organisation."""
        return self.butlr_buildings * self.butlr_floors * self.butlr_rooms

    @property
    def occuspace_parents(self) -> int:
        """Locations with children: the campus, its buildings and their floors."""
        return 1 + self.occuspace_buildings * (1 + self.occuspace_floors)


FULL = Sizes(
    butlr_buildings=5,
    butlr_floors=10,
    butlr_rooms=40,
    occuspace_buildings=20,
    occuspace_floors=5,
    occuspace_locations=2000,
    polls=100,
    changing_polls=5,
)
QUICK = Sizes(
    butlr_buildings=2,
    butlr_floors=5,
    butlr_rooms=20,
    occuspace_buildings=4,
    occuspace_floors=5,
    occuspace_locations=200,
    polls=5,
    changing_polls=2,
)


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


def build_butlr(sizes: Sizes, now: datetime, rng: random.Random) -> Any:
    """One site, in one timezone, of presence, traffic and mixed rooms: 4 sensors each.

    Half the rooms count presence, a quarter traffic, a quarter both (two
    sensors of each mode). About one sensor in a hundred is offline, and one
    room in ten has no capacity set.
    """
    from tests.simulator.butlr import (  # noqa: PLC0415
        ACCOUNT,
        ButlrBuilding,
        ButlrFloor,
        ButlrRoom,
        ButlrScenario,
        ButlrSensor,
        ButlrSite,
    )

    timezone = _daytime_timezone(now)
    midnight = now.astimezone(ZoneInfo(timezone)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    since_midnight = (now - midnight).total_seconds()
    sensor_number = 0

    def sensor(mode: str) -> ButlrSensor:
        nonlocal sensor_number
        sensor_number += 1
        mac = f"{sensor_number >> 16:02x}-{(sensor_number >> 8) & 255:02x}-{sensor_number & 255:02x}"
        return ButlrSensor(
            mac,
            mode,
            is_online=rng.random() > 0.01,
            people=rng.choice((0, 0, 1, 1, 2, 3)) if mode == "presence" else 0,
        )

    def room(number: int) -> ButlrRoom:
        kind = number % 4
        if kind in (0, 1):
            modes = ["presence"] * 4
        elif kind == 2:
            modes = ["traffic"] * 4
        else:
            modes = ["presence", "presence", "traffic", "traffic"]
        traffic = []
        if "traffic" in modes:
            for _ in range(rng.randint(0, 6)):
                moment = now - timedelta(seconds=rng.uniform(60, since_midnight - 60))
                traffic.append((moment, rng.randint(0, 9), rng.randint(0, 7)))
        return ButlrRoom(
            id=f"room_{number:05d}",
            name=f"Room {number}",
            capacity=0 if number % 10 == 9 else rng.randint(4, 40),
            sensors=[sensor(mode) for mode in modes],
            traffic=traffic,
        )

    room_number = 0
    buildings = []
    for b in range(sizes.butlr_buildings):
        floors = []
        for f in range(sizes.butlr_floors):
            rooms = []
            for _ in range(sizes.butlr_rooms):
                rooms.append(room(room_number))
                room_number += 1
            floors.append(
                ButlrFloor(
                    id=f"space_{b:02d}_{f:02d}",
                    name=f"Building {b} floor {f}",
                    capacity=0 if f % 3 == 2 else 400,
                    rooms=rooms,
                )
            )
        buildings.append(
            ButlrBuilding(id=f"building_{b:02d}", name=f"Building {b}", floors=floors)
        )
    return ButlrScenario(
        accounts={ACCOUNT[0]: ACCOUNT[1]},
        sites=[
            ButlrSite(
                id="site_bench",
                name="Bench campus",
                timezone=timezone,
                buildings=buildings,
            )
        ],
        expires_in=TOKEN_LIFETIME,
    )


def build_occuspace(sizes: Sizes, now: datetime, rng: random.Random) -> Any:
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
    next_id = 2
    for b in range(sizes.occuspace_buildings):
        building_id = next_id
        next_id += 1
        locations.append(OccuspaceLocation(building_id, f"Building {b}", 1, 2000))
        for f in range(sizes.occuspace_floors):
            locations.append(
                OccuspaceLocation(next_id, f"Building {b} floor {f}", building_id, 400)
            )
            floors.append(next_id)
            next_id += 1
    zones = sizes.occuspace_locations - len(locations)
    for z in range(zones):
        capacity = rng.choice((0, 10, 20, 40, 80, 150))
        locations.append(
            OccuspaceLocation(
                next_id,
                f"Zone {z}",
                floors[z % len(floors)],
                capacity,
                count=rng.randint(0, capacity or 12),
                is_active=rng.random() > 0.02,
            )
        )
        next_id += 1
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
        now = datetime.now(UTC)
        rng.seed(2024)
        simulator.butlr = build_butlr(sizes, now, rng)
        simulator.occuspace = build_occuspace(sizes, now, rng)

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
        server = site._server  # noqa: SLF001 - the only way to the bound port
        _require(server is not None, "the simulator has no server")
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        conn.send(f"http://127.0.0.1:{port}")
        await asyncio.Event().wait()

    asyncio.run(serve())


# --------------------------------------------------------------------------
# The Home Assistant process
# --------------------------------------------------------------------------


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
    # The event-loop step where the entities take the new values
    # (coordinator.async_set_usual, wall): the refresh's longest.
    update_step: float


@dataclass
class Result:
    """The figures of one provider, with or without the recorder."""

    provider: str
    recorder: bool = False
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
    changing_writes: float = 0.0
    # Besides the loop's CPU per poll (medians, unchanged; and changing): the
    # recorder thread's, recording what the poll wrote (recorder runs), and
    # every other thread's (executor jobs, if a poll had any).
    recorder_cpu_per_poll: float = 0.0
    other_cpu_per_poll: float = 0.0
    changing_recorder_cpu: float = 0.0
    # The longest loop step (seconds, what ran) on unchanged and changing polls:
    # it is the poll's own task (the integration's parsing, Home Assistant's
    # entity updates) in every run so far.
    longest_step: dict[bool, tuple[float, str]] = field(default_factory=dict)
    profile: str = ""
    # Usual occupancy, recorder runs only: the statistics written (ids, hours,
    # rows, wall time, database size), the query's wall times, the spaces that
    # got a usual, and the refreshes (the first, then one over the same data).
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

    @property
    def label(self) -> str:
        """The provider, and whether the recorder was loaded."""
        return f"{self.provider} + recorder" if self.recorder else self.provider

    def baseline(self, which: Baseline) -> float:
        """Return the CPU time of one poll's requests by the bare client ``which``."""
        return self.decode if which is Baseline.DECODE else self.bare_fetch

    def ratio(self, which: Baseline) -> float:
        """Return the CPU per poll over the floor ``which``."""
        floor = self.baseline(which)
        return self.cpu_per_poll / floor if floor else float("inf")


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


def _require(condition: object, message: str) -> None:
    """Stop the benchmark when something it relies on did not happen."""
    if not condition:
        raise RuntimeError(message)


async def _no_write(*_: Any) -> None:
    """Stand in for a storage write."""


# --------------------------------------------------------------------------
# The recorder and the usual occupancy
# --------------------------------------------------------------------------


def _quiet_recorder() -> list[Any]:
    """Patches that keep the recorder's own schedules off, as the harness does.

    The 5-minute statistics compile, the nightly purge and the catch-up
    compile at start would otherwise run in the middle of whatever is being
    measured when their time comes. The compile is measured once, on its own
    (``measure_compile``).
    """
    from unittest.mock import patch  # noqa: PLC0415

    from homeassistant.components.recorder import Recorder  # noqa: PLC0415
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
    from homeassistant.components import recorder  # noqa: PLC0415
    from homeassistant.helpers import recorder as recorder_helper  # noqa: PLC0415
    from homeassistant.setup import async_setup_component  # noqa: PLC0415

    recorder_helper.async_initialize_recorder(hass)
    config = {recorder.CONF_DB_URL: f"sqlite:///{db_path}"}
    _require(
        await async_setup_component(hass, recorder.DOMAIN, {recorder.DOMAIN: config}),
        "the recorder did not set up",
    )
    await hass.async_block_till_done()
    instance = recorder.get_instance(hass)
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


async def measure_usual(
    hass: HomeAssistant,
    instance: Recorder,
    coordinator: Any,
    result: Result,
    counts: Callable[[], tuple[int, int]],
) -> None:
    """Fill the statistics, then time the usual occupancy's query and refreshes.

    ``counts`` returns the state writes and state_changed events so far.
    """
    from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT  # noqa: PLC0415
    from homeassistant.util import dt as dt_util  # noqa: PLC0415

    from custom_components.space_occupancy.const import USUAL_WEEKS  # noqa: PLC0415
    from custom_components.space_occupancy.usual import (  # noqa: PLC0415
        UsualOccupancy,
        read_usual,
        same_hour_in_past_weeks,
    )

    statistic_ids = coordinator.occupancy_statistic_ids()
    result.statistic_ids = len(statistic_ids)
    units = {}
    for entity_id in statistic_ids.values():
        state = hass.states.get(entity_id)
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
    result.statistic_hours = len(hours)
    start = time.perf_counter()
    result.fill_rows = await in_recorder_thread(
        instance, lambda instance: fill_statistics(instance, units, hours)
    )
    result.fill_wall = time.perf_counter() - start
    db_path = Path(instance.db_url.removeprefix("sqlite:///"))
    result.db_mb = (
        sum(
            path.stat().st_size
            for path in (db_path, db_path.with_name(f"{db_path.name}-wal"))
            if path.exists()
        )
        / 2**20
    )

    # The query alone: the recorder job a refresh runs, as it runs it.
    for _ in range(QUERY_RUNS):
        weeks = same_hour_in_past_weeks(dt_util.utcnow(), USUAL_WEEKS)
        start = time.perf_counter()
        usual = await instance.async_add_executor_job(
            read_usual, hass, statistic_ids, weeks
        )
        result.usual_query.append(time.perf_counter() - start)
    _require(
        len(usual) == len(statistic_ids),
        f"a usual for {len(usual)} of {len(statistic_ids)} spaces",
    )

    # Whole refreshes, end to end: the query, the entities' update, and the
    # recorder's recording of the states written.
    update_steps: list[float] = []
    set_usual = coordinator.async_set_usual

    def timed_set_usual(values: dict[str, float]) -> None:
        start = time.perf_counter()
        set_usual(values)
        update_steps.append(time.perf_counter() - start)

    coordinator.async_set_usual = timed_set_usual
    refresher = UsualOccupancy(hass, coordinator)
    for _ in range(2):
        writes, events = counts()
        wall, cpu = time.perf_counter(), time.process_time()
        recorder_cpu = thread_cpu(instance)
        await refresher.async_refresh()
        await hass.async_block_till_done()
        await recorded(instance)
        result.usual_refreshes.append(
            UsualRefresh(
                wall=time.perf_counter() - wall,
                cpu=time.process_time() - cpu,
                recorder_cpu=thread_cpu(instance) - recorder_cpu,
                writes=counts()[0] - writes,
                events=counts()[1] - events,
                update_step=update_steps[-1],
            )
        )
    del coordinator.async_set_usual
    result.usual_spaces = len(coordinator.usual)
    _require(coordinator.usual == usual, "the refresh found another usual")


async def measure_compile(instance: Recorder, result: Result) -> None:
    """Time one 5-minute statistics compile of the recorder (for information).

    Home Assistant's work, not the integration's: every 5 minutes it reads the
    period's states of each sensor with a state class (occupancy, percentage,
    daily counts) and writes their short-term statistics. Compiled here for
    the period under way: the last finished one may be marked done already.
    """
    from homeassistant.components.recorder import statistics  # noqa: PLC0415

    period = statistics.get_start_time() + timedelta(minutes=5)
    await recorded(instance)
    wall, cpu = time.perf_counter(), time.process_time()
    # What the recorder's StatisticsTask runs.
    await in_recorder_thread(
        instance,
        lambda instance: statistics.compile_statistics(instance, period, False),
    )
    result.compile_wall = time.perf_counter() - wall
    result.compile_cpu = time.process_time() - cpu


async def run_provider(
    provider: str,
    base_url: str,
    sizes: Sizes,
    profile: bool,
    *,
    latency: float,
    recorder: bool,
) -> Result:
    """Set the provider's entry up in a Home Assistant test instance and poll it.

    With ``recorder``, the recorder is set up first, and the usual occupancy
    is measured after the polls.
    """
    import cProfile  # noqa: PLC0415
    import io  # noqa: PLC0415
    import logging  # noqa: PLC0415
    import pstats  # noqa: PLC0415
    import resource  # noqa: PLC0415
    import tempfile  # noqa: PLC0415
    import tracemalloc  # noqa: PLC0415
    from unittest.mock import patch  # noqa: PLC0415

    import aiohttp  # noqa: PLC0415
    from aiohttp.resolver import AsyncResolver  # noqa: PLC0415
    from homeassistant import loader  # noqa: PLC0415
    from homeassistant.const import (  # noqa: PLC0415
        CONF_API_TOKEN,
        CONF_PASSWORD,
        CONF_USERNAME,
        EVENT_STATE_CHANGED,
    )
    from homeassistant.core import Event, callback  # noqa: PLC0415
    from homeassistant.helpers import (  # noqa: PLC0415
        device_registry as dr,
        entity_registry as er,
        frame,
    )
    from homeassistant.helpers.entity import Entity  # noqa: PLC0415
    from pytest_homeassistant_custom_component.common import (  # noqa: PLC0415
        MockConfigEntry,
        async_test_home_assistant,
    )

    # The integration first, so Home Assistant's loader finds this package
    # rather than the test harness's empty custom_components.
    import custom_components.space_occupancy  # noqa: F401, PLC0415
    from custom_components.space_occupancy.const import (  # noqa: PLC0415
        AUTH_BUTLR_ACCOUNT,
        AUTH_OCCUSPACE,
        CONF_AUTH_METHOD,
        CONF_BASE_URL,
        CONF_HISTORY_DAYS,
        CONF_PROVIDER,
        DOMAIN,
    )
    from custom_components.space_occupancy.providers import (  # noqa: PLC0415
        PROVIDER_BUTLR,
        PROVIDER_OCCUSPACE,
    )
    from custom_components.space_occupancy.providers.http import HttpClient  # noqa: PLC0415
    from tests.simulator.butlr import ACCOUNT  # noqa: PLC0415
    from tests.simulator.occuspace import SEED_TOKEN  # noqa: PLC0415

    result = Result(provider, recorder=recorder)
    steal = StealClock()
    writes = 0
    original_write = Entity.async_write_ha_state

    def counting_write(self: Entity) -> None:
        nonlocal writes
        writes += 1
        original_write(self)

    Entity.async_write_ha_state = counting_write  # type: ignore[method-assign]

    async with (
        aiohttp.ClientSession() as control,
        async_test_home_assistant() as hass,
    ):
        # What the harness's mock_zeroconf_resolver fixture does: no mDNS.
        resolver = patch(
            "homeassistant.helpers.aiohttp_client._async_make_resolver",
            return_value=AsyncResolver(),
        )
        resolver.start()
        # Registries save a while after a change: into memory, not into the
        # harness's testing_config, and not in the middle of a measured poll.
        no_writes = patch(
            "homeassistant.helpers.storage.Store._async_write_data",
            new=_no_write,
        )
        no_writes.start()
        frame.async_setup(hass)
        # What the enable_custom_integrations fixture does.
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
        # The bench runs the hourly usual refresh itself, when it measures it:
        # the integration's timer would run one at the top of the hour, in
        # the middle of whatever is being measured then.
        no_hourly_usual = patch(
            "custom_components.space_occupancy.usual.async_track_time_change",
            return_value=lambda: None,
        )
        no_hourly_usual.start()
        quiet_recorder = _quiet_recorder() if recorder else []
        for quiet in quiet_recorder:
            quiet.start()
        db_dir = tempfile.TemporaryDirectory(prefix="bench-recorder-")
        recorder_instance = (
            await setup_recorder(hass, Path(db_dir.name) / "home-assistant_v2.db")
            if recorder
            else None
        )

        # The accounts as built: the run before changed them.
        async with control.post(f"{base_url}{CONTROL}/reset") as response:
            await response.read()

        async def simulator_log() -> list[tuple[str, str]]:
            async with control.get(f"{base_url}{CONTROL}/requests") as response:
                return [tuple(item) for item in await response.json()]

        if provider == BUTLR:
            data = {
                CONF_PROVIDER: PROVIDER_BUTLR,
                CONF_AUTH_METHOD: AUTH_BUTLR_ACCOUNT,
                CONF_USERNAME: ACCOUNT[0],
                CONF_PASSWORD: ACCOUNT[1],
                CONF_BASE_URL: base_url,
            }
            unique_id = ACCOUNT[0]
        else:
            data = {
                CONF_PROVIDER: PROVIDER_OCCUSPACE,
                CONF_AUTH_METHOD: AUTH_OCCUSPACE,
                CONF_API_TOKEN: SEED_TOKEN,
                CONF_BASE_URL: f"{base_url}/v1",
            }
            unique_id = "1"
        # No history import (Butlr, with the recorder): polls are measured alone.
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=provider,
            unique_id=unique_id,
            data=data,
            options={CONF_HISTORY_DAYS: 0},
        )
        entry.add_to_hass(hass)

        events = 0

        @callback
        def count_event(_: Event) -> None:
            nonlocal events
            events += 1

        hass.bus.async_listen(EVENT_STATE_CHANGED, count_event)

        await simulator_log()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        wall, cpu = time.perf_counter(), time.process_time()
        _require(await hass.config_entries.async_setup(entry.entry_id), "setup failed")
        await hass.async_block_till_done()
        result.setup_wall = time.perf_counter() - wall
        result.setup_cpu = time.process_time() - cpu
        coordinator = entry.runtime_data
        # Butlr's history importer exists where the recorder does: idle.
        history = coordinator.history
        if recorder and provider == BUTLR:
            _require(history and not history.pending, "the history import has work")
        else:
            _require(history is None, "a history importer")
        _require(coordinator.last_update_success, "the first poll failed")
        result.spaces = len(coordinator.data.spaces)
        registry_entries = er.async_entries_for_config_entry(
            er.async_get(hass), entry.entry_id
        )
        result.entities = len(registry_entries)
        # The bench enables nothing: what has a state is the default install.
        result.enabled_entities = sum(
            not registry_entry.disabled for registry_entry in registry_entries
        )
        _require(
            len(hass.states.async_entity_ids()) == result.enabled_entities,
            "the enabled entities are not the ones with a state",
        )
        devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        _require(
            len(devices) == result.spaces, f"{len(devices)} devices, {result.spaces}"
        )

        async def poll() -> PollCpu:
            # In the loop's thread: time.thread_time is the event loop's clock.
            stolen = steal()
            loop, process = time.thread_time(), time.process_time()
            recorder_start = thread_cpu(recorder_instance)
            await coordinator.async_refresh()
            await hass.async_block_till_done()
            loop_end = time.thread_time()
            if recorder_instance is not None:
                # What the poll wrote, recorded and committed.
                await recorded(recorder_instance)
            recorder_cpu = thread_cpu(recorder_instance) - recorder_start
            other = time.process_time() - process - (time.thread_time() - loop)
            _require(coordinator.last_update_success, str(coordinator.last_exception))
            # Three clocks read one after another: a few microseconds apart.
            return PollCpu(
                loop_end - loop,
                recorder_cpu,
                max(0.0, other - recorder_cpu),
                stolen=steal() > stolen,
            )

        def observation_times() -> dict[str, datetime]:
            """Return the provider's observation time of each space that has one."""
            return {
                space_id: reading.observed_at
                for space_id, reading in coordinator.data.readings.items()
                if reading.observed_at is not None
            }

        async def set_latency(seconds: float) -> None:
            async with control.post(
                f"{base_url}{CONTROL}/latency", params={"seconds": str(seconds)}
            ) as response:
                await response.read()

        # A first poll after setup, recording the requests so that they can be
        # replayed without the integration.
        captured: list[tuple[str, str, Any, Any]] = []
        original_request = HttpClient.request

        async def recording(
            self: HttpClient,
            method: str,
            path: str,
            *,
            json_body: Any = None,
            headers: Any = None,
            object_pairs_hook: Any = None,
        ) -> Any:
            captured.append((method, f"{self.base_url}{path}", json_body, headers))
            return await original_request(
                self,
                method,
                path,
                json_body=json_body,
                headers=headers,
                object_pairs_hook=object_pairs_hook,
            )

        HttpClient.request = recording  # type: ignore[method-assign]
        await poll()
        HttpClient.request = original_request  # type: ignore[method-assign]
        await simulator_log()

        # The same requests without the integration, on a bare aiohttp session:
        # the bodies are fetched once for json.loads alone, and again for the
        # round trips. Each measured poll is followed by one bare decode and
        # one bare fetch, all in the loop's thread, so that the three meet the
        # same load on the machine over the same minute.
        async with aiohttp.ClientSession() as bare:

            async def fetch() -> list[bytes]:
                bodies = []
                for method, url, json_body, headers in captured:
                    async with bare.request(
                        method, url, json=json_body, headers=headers
                    ) as response:
                        _require(response.status == 200, f"{url}: {response.status}")
                        bodies.append(await response.read())
                return bodies

            bodies = await fetch()
            result.body_bytes = sum(map(len, bodies))
            await simulator_log()

            # The measured polls: no count changes between them (the
            # provider's timestamps do, as the real API's do).
            polls: list[PollCpu] = []
            decodes, fetches = Series(), Series()
            observed_before = observation_times()
            writes = events = 0
            for _ in range(sizes.polls):
                polls.append(await poll())
                log = await simulator_log()
                result.requests_per_poll.append(len(log))
                result.logins += sum("login" in path for _, path in log)

                stolen, start = steal(), time.thread_time()
                for body in bodies:
                    json.loads(body)
                decodes.add(time.thread_time() - start, stolen=steal() > stolen)

                stolen, start = steal(), time.thread_time()
                for body in await fetch():
                    json.loads(body)
                fetches.add(time.thread_time() - start, stolen=steal() > stolen)
                await simulator_log()
            loops = Series([cpu.loop for cpu in polls], [cpu.stolen for cpu in polls])
            result.cpu_per_poll = loops.median()
            result.recorder_cpu_per_poll = statistics.median(
                cpu.recorder for cpu in polls
            )
            result.other_cpu_per_poll = statistics.median(cpu.other for cpu in polls)
            result.decode = decodes.median()
            result.bare_fetch = fetches.median()
            result.kept = {
                "polls": len(loops.kept()),
                "decodes": len(decodes.kept()),
                "fetches": len(fetches.kept()),
            }
            result.writes_unchanged, result.events_unchanged = writes, events
            if observed_before:
                observed_after = observation_times()
                result.timestamps_advanced = all(
                    observed_after.get(space_id, moment) > moment
                    for space_id, moment in observed_before.items()
                )

        # Wall time of a poll when every request takes the network's latency.
        if latency > 0:
            await set_latency(latency)
            result.latency = latency
            for _ in range(LATENCY_POLLS):
                start = time.perf_counter()
                await poll()
                result.wall_per_poll.append(time.perf_counter() - start)
            await set_latency(0)
            await simulator_log()

        # Transient memory of one poll.
        tracemalloc.start()
        await poll()
        result.poll_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        await simulator_log()

        # Polls where people moved in a share of the spaces.
        changed_polls: list[PollCpu] = []
        write_counts = []
        for _ in range(sizes.changing_polls):
            async with control.post(
                f"{base_url}{CONTROL}/change", params={"fraction": CHANGE_FRACTION}
            ) as response:
                await response.read()
            writes = 0
            changed_polls.append(await poll())
            write_counts.append(writes)
        result.changing_cpu = statistics.median(cpu.loop for cpu in changed_polls)
        result.changing_recorder_cpu = statistics.median(
            cpu.recorder for cpu in changed_polls
        )
        result.changing_writes = statistics.median(write_counts)
        # The longest event-loop step of a poll, from asyncio's debug mode
        # (which slows everything down, so none of the figures above has it).
        # The poll runs in a task of its own, as the coordinator's timer runs it.
        steps: list[tuple[float, str]] = []

        class StepRecorder(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if record.msg == "Executing %s took %.3f seconds":
                    handle, seconds = record.args  # type: ignore[misc]
                    steps.append((float(seconds), str(handle)))

        asyncio_logger = logging.getLogger("asyncio")
        recorder = StepRecorder()
        asyncio_logger.addHandler(recorder)
        asyncio_logger.propagate = False
        loop = asyncio.get_running_loop()
        loop.slow_callback_duration = 0.005
        for changing in (False, True):
            longest: list[tuple[float, str]] = []
            for _ in range(3):
                steps.clear()
                if changing:
                    async with control.post(
                        f"{base_url}{CONTROL}/change",
                        params={"fraction": CHANGE_FRACTION},
                    ) as response:
                        await response.read()
                loop.set_debug(True)
                await asyncio.create_task(coordinator.async_refresh(), name="poll")
                await hass.async_block_till_done()
                loop.set_debug(False)
                await asyncio.sleep(0)
                longest.append(max(steps, default=(0.0, "")))
            # The median poll's longest step: a pause of the machine is no figure.
            result.longest_step[changing] = sorted(longest)[len(longest) // 2]
        asyncio_logger.removeHandler(recorder)
        asyncio_logger.propagate = True
        await simulator_log()

        result.rss_growth_mb = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
        ) / 1024

        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(5):
                await poll()
            async with control.post(f"{base_url}{CONTROL}/change") as response:
                await response.read()
            await poll()
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(40)
            result.profile = out.getvalue()

        if recorder_instance is not None:
            await measure_usual(
                hass, recorder_instance, coordinator, result, lambda: (writes, events)
            )
            await measure_compile(recorder_instance, result)

        _require(
            await hass.config_entries.async_unload(entry.entry_id), "unload failed"
        )
        await hass.async_block_till_done()
        await hass.async_stop(force=True)
        resolver.stop()
        no_writes.stop()
        no_hourly_usual.stop()
        for quiet in quiet_recorder:
            quiet.stop()
        db_dir.cleanup()
    Entity.async_write_ha_state = original_write  # type: ignore[method-assign]
    steal.close()
    return result


def provider_process(
    provider: str,
    base_url: str,
    sizes: Sizes,
    profile: bool,
    conn: Connection,
    *,
    latency: float,
    recorder: bool,
) -> None:
    """Run one provider's measurement in this (fresh) process."""
    import logging  # noqa: PLC0415

    from homeassistant import runner  # noqa: PLC0415

    logging.basicConfig(level=logging.WARNING)
    asyncio.set_event_loop_policy(runner.HassEventLoopPolicy(False))
    try:
        conn.send(
            asyncio.run(
                run_provider(
                    provider,
                    base_url,
                    sizes,
                    profile,
                    latency=latency,
                    recorder=recorder,
                )
            )
        )
    except BaseException as err:
        conn.send(err)
        raise


# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


type Check = tuple[str, bool | None]


def poll_checks(r: Result, sizes: Sizes) -> list[Check]:
    """Return the poll targets, with or without the recorder: (what, met).

    None: only measured at full size (fixed costs of a poll outweigh the
    decode of a small account's bodies).
    """
    checks: list[Check] = []
    if r.provider == BUTLR:
        checks.append(
            (
                (
                    f"requests per poll ≤ {MAX_BUTLR_REQUESTS}, no login "
                    f"(max {max(r.requests_per_poll)}, {r.logins} logins)"
                ),
                max(r.requests_per_poll) <= MAX_BUTLR_REQUESTS and r.logins == 0,
            )
        )
    else:
        wanted = sizes.occuspace_parents
        checks.append(
            (
                (
                    f"requests per poll = locations with children ({wanted}): "
                    f"{sorted(set(r.requests_per_poll))}"
                ),
                set(r.requests_per_poll) == {wanted},
            )
        )
        checks.append(
            (
                "timestamps advance between polls, as the real API's do",
                r.timestamps_advanced is True,
            )
        )
    checks.append(
        (
            (
                f"no state writes on unchanged polls, default install "
                f"({r.events_unchanged} state_changed, {r.writes_unchanged} "
                f"writes in {sizes.polls} polls)"
            ),
            r.events_unchanged == 0 and r.writes_unchanged == 0,
        )
    )
    if r.wall_per_poll and r.provider in WALL_TARGETS:
        wall_limit = WALL_TARGETS[r.provider]
        wall = statistics.median(r.wall_per_poll)
        checks.append(
            (
                (
                    f"wall time per poll ≤ {wall_limit:g} s at "
                    f"{DEFAULT_LATENCY * 1000:g} ms latency "
                    f"({wall:.2f} s at {r.latency * 1000:g} ms)"
                ),
                wall <= wall_limit if r.latency == DEFAULT_LATENCY else None,
            )
        )
    limit, baseline = CPU_TARGETS[r.provider]
    ratio = r.ratio(baseline)
    checks.append(
        (
            (
                f"CPU per poll ≤ {limit:g}x {baseline}, event-loop thread "
                f"({_ms(r.cpu_per_poll)} / {_ms(r.baseline(baseline))} = "
                f"{ratio:.2f}x; medians of the measurements without steal)"
            ),
            ratio <= limit if sizes is FULL else None,
        )
    )
    return checks


def usual_checks(r: Result) -> list[Check]:
    """Return the usual occupancy's targets (recorder runs): (what, met)."""
    if not r.recorder:
        return []
    first, again = r.usual_refreshes
    query = statistics.median(r.usual_query)
    return [
        (
            (
                f"usual query ≤ {USUAL_QUERY_TARGET:g} s for {r.statistic_ids} "
                f"spaces (median of {QUERY_RUNS}: {query:.2f} s)"
            ),
            query <= USUAL_QUERY_TARGET,
        ),
        (
            # Its usual sensor, and its compared-with-usual sensor where the
            # space has an occupancy to compare.
            (
                f"first usual refresh writes each space's usual once, and at most "
                f"its compared-with-usual ({first.writes} writes, "
                f"{r.usual_spaces} spaces with a usual)"
            ),
            r.usual_spaces == r.statistic_ids
            and r.usual_spaces <= first.writes <= 2 * r.usual_spaces,
        ),
        (
            (
                f"no state writes on a usual refresh over the same statistics "
                f"({again.events} state_changed, {again.writes} writes)"
            ),
            again.writes == 0 and again.events == 0,
        ),
    ]


def _recorder_only(fn: Callable[[Result], str]) -> Callable[[Result], str]:
    """Show a row's figure where the recorder was loaded, "-" elsewhere."""
    return lambda r: fn(r) if r.recorder else "-"


def usual_rows() -> list[tuple[str, Callable[[Result], str]]]:
    """Return the rows of the usual occupancy's figures (recorder runs)."""

    def refresh(index: int) -> Callable[[Result], str]:
        return _recorder_only(
            lambda r: (
                f"{r.usual_refreshes[index].wall:.2f} s / "
                f"{r.usual_refreshes[index].cpu:.2f} s "
                f"({r.usual_refreshes[index].recorder_cpu:.2f} s)"
            )
        )

    def writes(index: int) -> Callable[[Result], str]:
        return _recorder_only(
            lambda r: (
                f"{r.usual_refreshes[index].writes} "
                f"({r.usual_refreshes[index].writes / r.usual_spaces:.2f} per space)"
            )
        )

    return [
        (
            "occupancy statistics written: ids x hours",
            _recorder_only(lambda r: f"{r.statistic_ids} x {r.statistic_hours}"),
        ),
        (
            "fill: rows inserted in (wall)",
            _recorder_only(lambda r: f"{r.fill_rows:,} in {r.fill_wall:.1f} s"),
        ),
        (
            "recorder database after the fill",
            _recorder_only(lambda r: f"{r.db_mb:.0f} MiB"),
        ),
        (
            f"usual query, the refresh's recorder job (median / max of {QUERY_RUNS})",
            _recorder_only(
                lambda r: (
                    f"{statistics.median(r.usual_query):.2f} s / "
                    f"{max(r.usual_query):.2f} s"
                )
            ),
        ),
        (
            "target: usual query ≤",
            _recorder_only(lambda _: f"{USUAL_QUERY_TARGET:g} s"),
        ),
        (
            "usual refresh, first: wall / CPU, all threads (recorder's thread)",
            refresh(0),
        ),
        ("usual refresh, first: state writes", writes(0)),
        (
            "usual refresh, first: loop step of the entities' update",
            _recorder_only(lambda r: _ms(r.usual_refreshes[0].update_step)),
        ),
        (
            "usual refresh, same statistics: wall / CPU (recorder's thread)",
            refresh(1),
        ),
        (
            "usual refresh, same statistics: state writes",
            _recorder_only(lambda r: str(r.usual_refreshes[1].writes)),
        ),
        (
            "recorder's 5-minute statistics compile: wall / CPU (info)",
            _recorder_only(lambda r: f"{_ms(r.compile_wall)} / {_ms(r.compile_cpu)}"),
        ),
    ]


def report(results: list[Result], sizes: Sizes) -> list[str]:
    """Print the figures; return the targets missed."""
    failures: list[str] = []
    checks = [
        (r.label, text, ok)
        for r in results
        for text, ok in [*poll_checks(r, sizes), *usual_checks(r)]
    ]

    def wall(r: Result) -> str:
        if not r.wall_per_poll:
            return "not measured"
        return (
            f"{statistics.median(r.wall_per_poll):.2f} s / {max(r.wall_per_poll):.2f} s"
        )

    latency_ms = max((r.latency for r in results), default=0.0) * 1000
    rows = [
        ("spaces / entities", lambda r: f"{r.spaces} / {r.entities}"),
        ("entities enabled (default install)", lambda r: str(r.enabled_entities)),
        (
            "requests per poll",
            lambda r: f"{statistics.median(r.requests_per_poll):g}",
        ),
        ("response bodies per poll", lambda r: f"{r.body_bytes / 1024:.0f} KiB"),
        (
            f"CPU per poll, event-loop thread (of {sizes.polls}, nothing changed)",
            lambda r: _ms(r.cpu_per_poll),
        ),
        (
            "  besides: the recorder's thread / other threads",
            lambda r: (
                f"{_ms(r.recorder_cpu_per_poll) if r.recorder else '-'} / "
                f"{_ms(r.other_cpu_per_poll)}"
            ),
        ),
        ("bare json.loads of the bodies", lambda r: _ms(r.decode)),
        (
            "CPU per poll / bare json.loads",
            lambda r: f"{r.ratio(Baseline.DECODE):.2f}x",
        ),
        ("bare aiohttp fetch + json.loads", lambda r: _ms(r.bare_fetch)),
        (
            "CPU per poll / bare fetch",
            lambda r: f"{r.ratio(Baseline.FETCH):.2f}x",
        ),
        (
            "measurements without steal: polls / decodes / fetches",
            lambda r: " / ".join(
                str(r.kept[kind]) for kind in ("polls", "decodes", "fetches")
            ),
        ),
        (
            "target: CPU per poll ≤",
            lambda r: "{:g}x {}".format(*CPU_TARGETS[r.provider]),
        ),
        (
            "timestamps advance between polls",
            lambda r: {True: "yes", False: "no", None: "n/a"}[r.timestamps_advanced],
        ),
        (
            "state writes, unchanged counts (real timestamps)",
            lambda r: str(r.events_unchanged),
        ),
        (
            (
                f"wall per poll at {latency_ms:g} ms latency (median / max of "
                f"{LATENCY_POLLS})"
            ),
            wall,
        ),
        (
            "target: wall per poll ≤",
            lambda r: (
                f"{WALL_TARGETS[r.provider]:g} s" if r.provider in WALL_TARGETS else "-"
            ),
        ),
        (
            f"CPU per poll, event-loop thread, {CHANGE_FRACTION:.0%} of spaces changed",
            lambda r: _ms(r.changing_cpu),
        ),
        (
            "  besides: the recorder's thread",
            _recorder_only(lambda r: _ms(r.changing_recorder_cpu)),
        ),
        (
            f"state writes, {CHANGE_FRACTION:.0%} of spaces changed",
            lambda r: f"{r.changing_writes:g}",
        ),
        (
            "setup time (wall / CPU)",
            lambda r: f"{r.setup_wall:.1f} s / {r.setup_cpu:.1f} s",
        ),
        ("peak RSS growth (setup + polls)", lambda r: f"{r.rss_growth_mb:.0f} MiB"),
        ("tracemalloc peak during a poll", lambda r: f"{r.poll_peak_mb:.1f} MiB"),
        (
            "longest event-loop step, unchanged poll (debug mode)",
            lambda r: _ms(r.longest_step[False][0]),
        ),
        (
            f"longest event-loop step, {CHANGE_FRACTION:.0%} changed (debug mode)",
            lambda r: _ms(r.longest_step[True][0]),
        ),
        *usual_rows(),
    ]
    names = {
        BUTLR: f"Butlr ({sizes.butlr_room_count} rooms)",
        OCCUSPACE: f"Occuspace ({sizes.occuspace_locations} locations)",
    }
    header = [
        "",
        *(f"{names[r.provider]}{' + recorder' if r.recorder else ''}" for r in results),
    ]
    table = [header, *([label, *(fn(r) for r in results)] for label, fn in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print()
    for index, row in enumerate(table):
        print(
            "| "
            + " | ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            )
            + " |"
        )
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print()
    for label, text, ok in checks:
        verdict = "INFO (full size only)" if ok is None else "PASS" if ok else "FAIL"
        print(f"{verdict}  {label}: {text}")
        if ok is False:
            failures.append(f"{label}: {text}")
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, few polls")
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of polls per provider"
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=DEFAULT_LATENCY,
        metavar="SECONDS",
        help=(
            "network latency the simulator adds to each request in the wall-time "
            f"polls (default {DEFAULT_LATENCY:g}; 0 skips them; the wall-time "
            f"target applies at {DEFAULT_LATENCY:g})"
        ),
    )
    parser.add_argument(
        "--provider",
        choices=(BUTLR, OCCUSPACE),
        action="append",
        help="measure only this provider (repeatable)",
    )
    parser.add_argument(
        "--recorder",
        choices=("both", "with", "without"),
        default="both",
        help="measure with the recorder loaded, without it, or both (default)",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    providers = args.provider or [BUTLR, OCCUSPACE]
    recorder_runs = {"both": (False, True), "with": (True,), "without": (False,)}[
        args.recorder
    ]
    started = time.perf_counter()
    context = mp.get_context("spawn")

    receive, send = context.Pipe(duplex=False)
    simulator = context.Process(
        target=serve_simulator, args=(sizes, send), name="simulator", daemon=True
    )
    simulator.start()
    send.close()
    try:
        if not receive.poll(120):
            print("The simulator did not start", file=sys.stderr)
            return 2
        base_url = receive.recv()
        print(
            f"Simulator on {base_url}: Butlr {sizes.butlr_room_count} rooms "
            f"({sizes.butlr_room_count * 4} sensors), Occuspace "
            f"{sizes.occuspace_locations} locations ({sizes.occuspace_parents} with "
            "children)"
        )
        results: list[Result] = []
        for provider, recorder in (
            (provider, recorder) for provider in providers for recorder in recorder_runs
        ):
            label = f"{provider} + recorder" if recorder else provider
            print(f"Measuring {label} ...", flush=True)
            receive, send = context.Pipe(duplex=False)
            worker = context.Process(
                target=provider_process,
                args=(provider, base_url, sizes, args.profile, send),
                kwargs={"latency": args.latency, "recorder": recorder},
                name=f"bench-{provider}",
            )
            worker.start()
            send.close()
            try:
                answer = receive.recv()
            except EOFError:
                answer = RuntimeError("the worker died")
            worker.join()
            if isinstance(answer, BaseException):
                print(f"{label} failed: {answer!r}", file=sys.stderr)
                return 2
            results.append(answer)
            if answer.profile:
                print(answer.profile)
    finally:
        simulator.terminate()
        simulator.join()
    failures = report(results, sizes)
    print(f"\nRun time {time.perf_counter() - started:.0f} s")
    if failures:
        print(f"{len(failures)} target(s) missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
