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
  it). Python's cycle garbage collector runs inside whichever step allocates
  past its threshold, and a full collection (generation 2) walks the whole
  process's heap: Home Assistant's objects for every entity of every
  integration. Its CPU (``gc.callbacks`` on the loop thread) is left out of
  the step it falls in and reported apart, per operation: the longest
  collection and its generation. It is the interpreter's pause, of the
  process's size, wherever it falls, not the work of the step it lands in.

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
have more (16,115 Butlr, 11,707 Occuspace), and an entry of them holds the
part of the account its user picks under the cap. The bench's entry takes
the whole account, so a line with that cap is measured on the largest
trees that fit (``CAPPED_TREES``: 1,400 rooms, 1,700 locations; ``--rooms``
and ``--locations`` choose other sizes), and the report says so. The CPU
targets are ratios to the same requests' floor, so they hold at any size.

A part of the account (``--picked N``): the entry picks whole floors, in
order, until N spaces or more (as a user choosing the spaces would), and is
measured the same way: its entities, setup and CPU per poll, and its
requests (Butlr's reports filtered to the picked rooms; Occuspace's calls
only for the picked locations with children, and the parents of picked
leaves). A picked part fits under any line's entity cap: the full trees.

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
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import gc
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
# Presence, traffic (entries and exits) and Butlr's own series (calibrated
# traffic rooms and floors, zones): one report each, the sites in one time zone.
MAX_BUTLR_REQUESTS = 3
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
# Push mode: every pushing room sends one event per PUSH_PERIOD seconds, spread
# evenly, for PUSH_SECONDS (``--push-seconds``); a delivery's state must be
# written within PUSH_LATENCY_TARGET of its arrival (99th percentile).
PUSH_PERIOD = 60.0
PUSH_SECONDS = 120.0
PUSH_LATENCY_TARGET = 1.0


class Operation(StrEnum):
    """What the longest event-loop step is measured in."""

    SETUP = "setup (first refresh + adding all entities)"
    POLL = "unchanged poll"
    CHANGED = f"{CHANGE_FRACTION:.0%}-changed poll"
    USUAL = "hourly usual refresh"


@dataclass(frozen=True)
class Mode:
    """A provider, without or with the recorder; polled, or pushing (``push``)."""

    provider: str
    recorder: bool
    push: bool = False

    @property
    def label(self) -> str:
        """The provider, whether the recorder runs, and whether it pushes."""
        label = f"{self.provider} + recorder" if self.recorder else self.provider
        return f"{label}, push" if self.push else label


# --------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """How large the simulated accounts are, and how much is measured."""

    butlr_rooms: int
    occuspace_locations: int  # in all, the campus included
    polls: int
    changing_polls: int
    butlr_buildings: int = 5
    butlr_floors: int = 10  # per building
    occuspace_buildings: int = 20
    occuspace_floors: int = 5  # per building
    # The push mode's Butlr tree (smaller where a cap counts each room's motion
    # sensor), how long its deliveries are measured, and how often each room
    # pushes (seconds).
    butlr_push_rooms: int = 2000
    push_seconds: float = PUSH_SECONDS
    push_period: float = PUSH_PERIOD
    # Targets on CPU and loop steps are judged (not at --quick sizes, where a
    # poll's fixed costs outweigh its work).
    judged: bool = True
    # Why the trees are not the full ones ("" when they are).
    note: str = ""
    # The spaces the entry picks (whole floors, ``--picked``); 0: the account.
    picked: int = 0

    @property
    def butlr_spaces(self) -> int:
        """Rooms, floors, buildings and the site."""
        floors = self.butlr_buildings * self.butlr_floors
        return self.butlr_rooms + floors + self.butlr_buildings + 1

    @property
    def occuspace_parents(self) -> int:
        """Locations with children: the campus, its buildings and their floors."""
        return 1 + self.occuspace_buildings * (1 + self.occuspace_floors)

    def rooms(self, mode: Mode) -> int:
        """Return the Butlr rooms a mode measures."""
        return self.butlr_push_rooms if mode.push else self.butlr_rooms

    def tree(self, mode: Mode) -> str:
        """Name a mode's tree."""
        picked = f", {self.picked:,}+ picked" if self.picked else ""
        if mode.provider == BUTLR:
            return f"Butlr, {self.rooms(mode):,} rooms{picked}"
        return f"Occuspace, {self.occuspace_locations:,} locations{picked}"


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
    # The full run's rate of deliveries (33 a second), for a short while.
    butlr_push_rooms=200,
    push_seconds=20.0,
    push_period=6.0,
    judged=False,
)
# The simulator's accounts are built from this seed, Butlr's first.
SEED = 2024


def entity_cap() -> int | None:
    """Return this Home Assistant line's cap on enabled entities per entry, if any."""
    from homeassistant.helpers import entity_platform  # noqa: PLC0415

    cap: int | None = getattr(
        entity_platform, "MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY", None
    )
    return cap


def tree_entities(provider: str, sizes: Sizes, *, pushes: bool = False) -> int:
    """Return the enabled entities the integration budgets for a bench tree.

    The tree is built as the simulator builds it (the same seed, Butlr's
    first), read by the integration's own parsers (Butlr's topology answer,
    Occuspace's location list), and every space is counted as the entity
    budget counts it (``budget.selection_cost``: the entities a space can
    ever have; with ``pushes``, each room's motion sensor too).
    """
    from custom_components.space_occupancy.budget import selection_cost  # noqa: PLC0415
    from custom_components.space_occupancy.providers.butlr_topology import (  # noqa: PLC0415
        parse_topology,
    )
    from custom_components.space_occupancy.providers.occuspace import parse_locations  # noqa: PLC0415
    from tests.simulator.butlr import topology  # noqa: PLC0415
    from tests.simulator.occuspace import locations_body  # noqa: PLC0415

    now = datetime.now(UTC)
    rng = random.Random(SEED)  # noqa: S311 - the simulator's seeded tree
    butlr = build_butlr(sizes, now, rng)
    if provider == BUTLR:
        spaces = parse_topology(topology(butlr), now).spaces
    else:
        locations = locations_body(build_occuspace(sizes, rng))["data"]
        spaces = parse_locations(locations, now).spaces
    return selection_cost(spaces, spaces, {}, pushes)


def largest_fitting(cost: Callable[[int], int], cap: int, low: int, high: int) -> int:
    """Return the largest size in [low, high] whose cost stays under the cap.

    The cost grows with the size; ``low`` itself is returned when even it does
    not fit (the bench's setup check then says so).
    """
    while low < high:
        middle = (low + high + 1) // 2
        if cost(middle) < cap:
            low = middle
        else:
            high = middle - 1
    return low


def capped_sizes(sizes: Sizes, cap: int) -> tuple[Sizes, str]:
    """Return the largest trees under the cap, and a note of what they cost.

    The bench's entry takes the whole account (a user's picks a part of
    it under the cap), so a line that caps the enabled entities of a config entry (Home Assistant 2026:
    MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY, 10,000) is measured on the largest
    trees that fit, below the cap (the setup check wants every entity added,
    and at the cap it could not tell). They are computed from the
    integration's own counting, so they follow new entities: a Butlr room
    costs about 8 (its floors and buildings included), an Occuspace location
    about 5.9; the push mode's tree counts each room's motion sensor too, as
    the entry's budget does where it takes pushes. Once spaces can be
    chosen, measure the full trees with the entry limited to a share of
    them, and delete this.
    """
    floors = sizes.butlr_buildings * sizes.butlr_floors

    def butlr(pushes: bool) -> Callable[[int], int]:
        return lambda rooms: tree_entities(
            BUTLR, replace(sizes, butlr_rooms=rooms), pushes=pushes
        )

    rooms = largest_fitting(butlr(False), cap, floors, sizes.butlr_rooms)
    push_rooms = largest_fitting(butlr(True), cap, floors, sizes.butlr_push_rooms)
    capped = replace(sizes, butlr_rooms=rooms, butlr_push_rooms=push_rooms)
    locations = largest_fitting(
        lambda n: tree_entities(OCCUSPACE, replace(capped, occuspace_locations=n)),
        cap,
        sizes.occuspace_parents + 1,
        sizes.occuspace_locations,
    )
    capped = replace(capped, occuspace_locations=locations)
    costs = (
        tree_entities(BUTLR, capped),
        tree_entities(BUTLR, replace(capped, butlr_rooms=push_rooms), pushes=True),
        tree_entities(OCCUSPACE, capped),
    )
    return capped, (
        f"{costs[0]:,}, {costs[1]:,} with motion sensors, and {costs[2]:,} "
        "enabled entities as the integration counts them"
    )


def choose_sizes(args: argparse.Namespace) -> Sizes:
    """Return the sizes the arguments ask for, fitted to the line's entity cap."""
    sizes = QUICK if args.quick else FULL
    if args.polls is not None:
        sizes = replace(sizes, polls=args.polls)
    if args.push_seconds is not None:
        sizes = replace(sizes, push_seconds=args.push_seconds)
    # A picked part of the account fits under any cap: the full trees.
    cap = None if args.picked else entity_cap()
    costs = ""
    if args.picked:
        # A part's poll is small: its fixed costs outweigh its work, as at
        # --quick sizes, so its CPU and steps are reported, not judged.
        sizes = replace(sizes, picked=args.picked, judged=False)
    if cap is not None and not args.quick:
        sizes, costs = capped_sizes(sizes, cap)
    sizes = replace(
        sizes,
        butlr_rooms=args.rooms or sizes.butlr_rooms,
        butlr_push_rooms=args.rooms or sizes.butlr_push_rooms,
        occuspace_locations=args.locations or sizes.occuspace_locations,
    )
    if cap is not None and not args.quick:
        sizes = replace(
            sizes,
            note=(
                f"This Home Assistant adds at most {cap:,} enabled entities per "
                "config entry, and the bench's entry takes the whole account: "
                f"measured on {sizes.butlr_rooms:,} Butlr rooms "
                f"({sizes.butlr_push_rooms:,} in the push mode) and "
                f"{sizes.occuspace_locations:,} Occuspace locations, not the full "
                f"{FULL.butlr_rooms:,} and {FULL.occuspace_locations:,}"
                + (
                    f": the largest trees under the cap ({costs})."
                    if costs and not (args.rooms or args.locations)
                    else "."
                )
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
    from tests.simulator.large import IndexedOccuspaceScenario  # noqa: PLC0415
    from tests.simulator.occuspace import SEED_TOKEN, OccuspaceLocation  # noqa: PLC0415

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
    scenario = IndexedOccuspaceScenario(locations=locations, tokens={SEED_TOKEN})
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


# What each room pushes, by the builder's kind of room (its number modulo 4):
# presence rooms their count, or their motion (PIR, Heatic 2+), traffic rooms
# their crossings, mixed rooms (presence wins) their count.
PUSHED_KINDS = ("ROOM_OCCUPANCY", "PIR", "TRAFFIC", "ROOM_OCCUPANCY")


@dataclass(frozen=True)
class Planned:
    """One delivery to make: when (seconds from the start), which room, what."""

    offset: float
    room: Any  # tests.simulator.butlr.ButlrRoom
    floor_id: str
    kind: str  # PUSHED_KINDS


class Pusher:
    """Simulated Butlr pushing its rooms' events to the webhook subscribed.

    Each event changes the simulated account first, as a real change would:
    a presence room's sensors count the pushed number, a crossing is in the
    traffic reports, so that a poll agrees with what was pushed. Then it is
    delivered by the simulator's own webhook service (the subscription's URL
    and header), one POST each, side by side when they overlap. Each delivery
    is logged with the event, and ``time.perf_counter`` before the POST and
    after its answer: Linux's monotonic clock, which Home Assistant's process
    reads alike.
    """

    def __init__(self, simulator: Any) -> None:
        """Push for the simulator's Butlr account."""
        self.simulator = simulator
        self.rng = random.Random(SEED)  # noqa: S311 - who walks in, not a secret
        self.task: asyncio.Task[list[list[Any]]] | None = None
        self.motion: dict[str, bool] = {}

    def reset(self) -> None:
        """Forget what was pushed (the accounts were built anew)."""
        self.rng.seed(SEED)
        self.motion.clear()

    def pushing(self) -> list[tuple[Any, str, str]]:
        """Return each room that pushes, in a mixed order.

        A room pushes where a sensor of its kind is online; a traffic room
        only while its door line counts nobody or more: where more people
        left than came in today (a drifting door line), the poll shows 0 and
        goes on showing 0 after a crossing in, which Home Assistant shows
        pushed as 1 until the next poll (``butlr_live.pushed_reading`` moves the count
        shown), so that poll and push would disagree by design.
        """
        now = datetime.now(UTC)
        rooms = []
        for _, floor in self.simulator.butlr.floors():
            for room in floor.rooms:
                kind = PUSHED_KINDS[int(room.id.removeprefix("room_")) % 4]
                mode = "traffic" if kind == "TRAFFIC" else "presence"
                if any(s.mode == mode and s.is_online for s in room.sensors) and (
                    kind != "TRAFFIC" or self._inside(room, now) >= 0
                ):
                    rooms.append((room, floor.id, kind))
        random.Random(SEED).shuffle(rooms)  # noqa: S311 - an order, no secret
        return rooms

    def plan(self, phase: str, seconds: float, period: float) -> list[Planned]:
        """Plan a phase's deliveries, every pushing room's spread evenly over a period.

        ``first_motion``: each motion room once (its motion sensor appears);
        ``stretch``: every room once per period, for ``seconds``.
        """
        rooms = self.pushing()
        gap = period / max(1, len(rooms))
        if phase == "first_motion":
            motion = [room for room in rooms if room[2] == "PIR"]
            return [Planned(i * gap, *room) for i, room in enumerate(motion)]
        planned = [
            Planned(round_start + i * gap, *room)
            for round_start in _rounds(seconds, period)
            for i, room in enumerate(rooms)
        ]
        return [delivery for delivery in planned if delivery.offset < seconds]

    async def start(self, request: Any) -> Any:
        """Start a phase's deliveries (``phase``, ``seconds``, ``period``)."""
        from aiohttp import web  # noqa: PLC0415

        _require(self.task is None or self.task.done(), "a phase still pushes")
        query = request.query
        plan = self.plan(
            query["phase"], float(query.get("seconds", 0)), float(query["period"])
        )
        self.task = asyncio.create_task(self.run(plan))
        return web.json_response({"planned": len(plan)})

    async def log(self, _: Any) -> Any:
        """Answer, once the phase is over, its deliveries."""
        from aiohttp import web  # noqa: PLC0415

        _require(self.task is not None, "no phase pushed")
        assert self.task is not None  # noqa: S101 - for the type checker
        return web.json_response(await self.task)

    async def run(self, plan: list[Planned]) -> list[list[Any]]:
        """Deliver as planned: each at its time, without waiting for the others."""
        import aiohttp  # noqa: PLC0415

        loop = asyncio.get_running_loop()
        start = loop.time() + 0.1
        deliveries = []
        async with aiohttp.ClientSession() as session:
            for planned in plan:
                if (wait := start + planned.offset - loop.time()) > 0:
                    await asyncio.sleep(wait)
                deliveries.append(asyncio.create_task(self.deliver(session, planned)))
            return list(await asyncio.gather(*deliveries))

    async def deliver(self, session: Any, planned: Planned) -> list[Any]:
        """Change the account as the event says, deliver it; return its log line.

        [event id, room id, type, data, sent, answered, HTTP statuses].
        """
        from tests.simulator.butlr_webhooks import event  # noqa: PLC0415

        room, kind = planned.room, planned.kind
        now = datetime.now(UTC)
        data: Any = None
        if kind == "ROOM_OCCUPANCY":
            online = [s for s in room.sensors if s.mode == "presence" and s.is_online]
            people = sum(sensor.people for sensor in online)
            data = self.rng.choice([n for n in range(6) if n != people])
            for index, sensor in enumerate(online):
                sensor.people = data if index == 0 else 0
        elif kind == "TRAFFIC":
            # Out only while the door line counts someone inside: the room's
            # count then moves with each crossing, here and in Home Assistant.
            leaving = self._inside(room, now) > 0 and self.rng.random() < 0.5
            data = {"in": 0 if leaving else 1, "out": 1 if leaving else 0}
        else:
            moving = not self.motion.get(room.id, False)
            self.motion[room.id] = moving
            kind = "PIR_MOTION" if moving else "PIR_NO_MOTION"
        pushed = event(kind, room.id, planned.floor_id, now, data)
        if kind == "TRAFFIC":
            # At the event's own time (milliseconds), which a poll compares.
            sensed = datetime.fromtimestamp(pushed["timestamp"] / 1000, UTC)
            room.traffic.append((sensed, data["in"], data["out"]))
        sent = time.perf_counter()
        statuses = await self.simulator.butlr.webhooks.deliver(session, [pushed])
        answered = time.perf_counter()
        return [pushed["id"], room.id, kind, data, sent, answered, statuses]

    def _inside(self, room: Any, now: datetime) -> int:
        """Return a traffic room's door-line count: entries less exits since midnight."""
        (site,) = self.simulator.butlr.sites
        local = now.astimezone(ZoneInfo(site.timezone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        today = [crossing for crossing in room.traffic if crossing[0] >= midnight]
        return sum(c[1] for c in today) - sum(c[2] for c in today)


def _rounds(seconds: float, period: float) -> list[float]:
    """Return the start of each period that begins within ``seconds``."""
    count = max(1, int(-(-seconds // period)))
    return [index * period for index in range(count)]


def serve_simulator(sizes: Sizes, conn: Connection) -> None:
    """Build the accounts and serve them on loopback until terminated."""
    from aiohttp import web  # noqa: PLC0415

    from tests.simulator import Simulator, create_app  # noqa: PLC0415

    simulator = Simulator()
    rng = random.Random()  # noqa: S311 - it only decides who walks in
    pusher = Pusher(simulator)

    def build(rooms: int) -> None:
        """Build the accounts anew: every run meets the same ones, and the same moves."""
        rng.seed(SEED)
        built = replace(sizes, butlr_rooms=rooms)
        simulator.butlr = build_butlr(built, datetime.now(UTC), rng)
        simulator.occuspace = build_occuspace(built, rng)
        pusher.reset()

    build(sizes.butlr_rooms)

    async def reset(request: web.Request) -> web.Response:
        # ``rooms``: the push mode's Butlr tree may be smaller.
        build(int(request.query.get("rooms", sizes.butlr_rooms)))
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
        app.router.add_post(f"{CONTROL}/push", pusher.start)
        app.router.add_get(f"{CONTROL}/push", pusher.log)
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

    # The event-loop thread's CPU in its longest step, less what Python's
    # garbage collector took in it (judged).
    cpu: float
    wall: float  # the longest step's wall time
    what: str  # what ran in the step of the most CPU
    steps: int  # how many steps the run took
    # The longest garbage collection in one step (CPU), and its generation.
    collector: float = 0.0
    generation: int = -1


@dataclass
class StepWatch:
    """What the step timer saw while it was on."""

    cpu: float = 0.0  # the most CPU of a step, less its garbage collection
    wall: float = 0.0
    handle: asyncio.Handle | None = None
    steps: int = 0
    # Python's cycle collector: its longest run in one step (CPU) and that
    # run's oldest generation (-1: it did not run). It runs wherever an
    # allocation passes its threshold, whoever allocates, and a full
    # collection (generation 2) walks the process's whole heap.
    collector: float = 0.0
    generation: int = -1

    def step(self) -> Step:
        """Return the longest step and what ran in it."""
        return Step(
            self.cpu,
            self.wall,
            _describe(self.handle),
            self.steps,
            self.collector,
            self.generation,
        )


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
    collected = CollectorClock(threading.get_ident())

    def timed_run(handle: asyncio.Handle) -> None:
        cpu = cpu_clock()
        start = clock()
        before = collected.start_step()
        original(handle)
        elapsed = clock() - start
        collecting = collected.cpu - before
        used = cpu_clock() - cpu - collecting
        watch.steps += 1
        watch.wall = max(watch.wall, elapsed)
        if used > watch.cpu:
            watch.cpu = used
            watch.handle = handle
        if collecting > watch.collector:
            watch.collector = collecting
            watch.generation = collected.generation

    handle_class._run = timed_run  # type: ignore[method-assign,assignment] # noqa: SLF001
    gc.callbacks.append(collected.callback)
    try:
        yield watch
    finally:
        handle_class._run = original  # type: ignore[method-assign] # noqa: SLF001
        gc.callbacks.remove(collected.callback)


class CollectorClock:
    """The CPU Python's garbage collector takes on one thread (gc.callbacks)."""

    def __init__(self, thread: int) -> None:
        """Count the collections that run on ``thread``."""
        self.thread = thread
        self.cpu = 0.0
        self.generation = -1  # The oldest collected since start_step.
        self._since = 0.0

    def start_step(self) -> float:
        """Start a loop step; return the collector's CPU so far."""
        self.generation = -1
        return self.cpu

    def callback(self, phase: str, info: dict[str, int]) -> None:
        """Time a collection that runs on the thread."""
        if threading.get_ident() != self.thread:
            return
        if phase == "start":
            self._since = time.thread_time()
            return
        self.cpu += time.thread_time() - self._since
        self.generation = max(self.generation, info["generation"])


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
class PushPhase:
    """The deliveries of one push phase, as sent and as Home Assistant showed them."""

    delivered: int = 0
    # Final HTTP status of each delivery (after the sender's retries).
    statuses: dict[int, int] = field(default_factory=dict)
    # Deliveries whose room's entity wrote the event's state in their own
    # handling; those older than a poll that showed them already (not
    # applied: their state was there); the others (at most PUSH_MISSING_SHOWN
    # described) and how many.
    written: int = 0
    covered: int = 0
    missing: list[str] = field(default_factory=list)
    missing_count: int = 0
    # Seconds from the delivery's arrival at the webhook handler to its
    # state_changed, and from the sender's POST (end to end), sorted.
    latency: list[float] = field(default_factory=list)
    end_to_end: list[float] = field(default_factory=list)
    step: Step = field(default_factory=lambda: Step(0.0, 0.0, "-", 0))

    def quantile(self, share: float, *, end_to_end: bool = False) -> float:
        """Return a quantile of the latencies (nearest rank; 0 without any)."""
        values = self.end_to_end if end_to_end else self.latency
        if not values:
            return 0.0
        return values[min(len(values) - 1, max(0, round(share * len(values)) - 1))]


@dataclass
class PushFigures:
    """The push mode's figures in one process."""

    rooms: int = 0
    pushing_rooms: int = 0
    seconds: float = 0.0
    period: float = 0.0
    # Each motion room's first motion (its motion sensor added), then the
    # stretch: every room pushing once per period, a poll in its middle.
    first_motion: PushPhase = field(default_factory=PushPhase)
    stretch: PushPhase = field(default_factory=PushPhase)
    polls_in_stretch: int = 0
    # What the webhook counted over the stretch (PushStats).
    received: int = 0
    applied: int = 0
    rejected: int = 0
    # The event-loop thread's CPU over the stretch, a poll's measured alone
    # just before (the stretch holds one), and the integration's own share:
    # reading, applying and writing the pushed states (seconds).
    loop_cpu: float = 0.0
    poll_cpu: float = 0.0
    apply_cpu: float = 0.0
    recorder_cpu: float = 0.0
    wall: float = 0.0
    # Rooms whose pushed state a poll right after the stretch changed
    # (count, and a few of them: room, entity, shown, polled).
    disagreements: int = 0
    disagreeing: list[str] = field(default_factory=list)

    @property
    def cpu_per_event(self) -> float:
        """Loop CPU per delivery of the stretch, less its poll."""
        delivered = self.stretch.delivered
        return max(0.0, self.loop_cpu - self.poll_cpu) / delivered if delivered else 0.0


@dataclass
class Result:
    """The figures of one mode in one process."""

    provider: str
    recorder: bool = False
    home_assistant: str = ""
    python: str = ""
    entity_cap: int | None = None
    spaces: int = 0
    # --picked: the Occuspace requests a poll should make (the picked
    # spaces' parents), None for the whole account.
    expected_requests: int | None = None
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
    # The push mode's figures (None in the polled modes).
    push: PushFigures | None = None

    @property
    def mode(self) -> Mode:
        """The mode measured."""
        return Mode(self.provider, self.recorder, push=self.push is not None)

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


def entry_for(provider: str, base_url: str, *, push: bool = False) -> Any:
    """Return the provider's config entry on the simulator's account.

    No history import (option ``history_days`` 0): polls are measured alone.
    ``push``: real-time updates on (option ``push``).
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
        CONF_PUSH,
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
        options={CONF_HISTORY_DAYS: 0, **({CONF_PUSH: True} if push else {})},
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
async def http_server(hass: HomeAssistant) -> AsyncIterator[str]:
    """Serve Home Assistant's HTTP API on a free loopback port; yield its URL.

    Its own server (``http``'s ``HomeAssistantHTTP``, middlewares and all),
    started as a real instance starts it, and named the instance's internal
    URL, where the entry's webhook is registered (plain http: the provider,
    the simulator, runs on this machine). No network is looked up: the source
    address is loopback's, as the harness's ``mock_get_source_ip`` makes it.
    """
    import socket  # noqa: PLC0415
    from unittest.mock import AsyncMock, patch  # noqa: PLC0415

    from homeassistant.setup import async_setup_component  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {"http": {"server_host": ["127.0.0.1"], "server_port": port}}
    with patch(
        "homeassistant.components.http.async_get_source_ip",
        AsyncMock(return_value="127.0.0.1"),
    ):
        _require(
            await async_setup_component(hass, "http", config), "http did not set up"
        )
    server: Any = hass.http
    await server.start()
    url = f"http://127.0.0.1:{port}"
    await hass.config.async_update(internal_url=url)
    try:
        yield url
    finally:
        await server.stop()


# The delivery a webhook request carries, in the context of its handling (and
# of the tasks it starts, such as adding a room's first motion sensor).
ARRIVAL: ContextVar[Arrival | None] = ContextVar("bench_arrival", default=None)
# At most this many deliveries that went wrong are described per phase.
PUSH_MISSING_SHOWN = 5


@dataclass
class Arrival:
    """One delivery as Home Assistant handled it."""

    at: float  # time.perf_counter() as the webhook handler got the request
    events: tuple[str, ...] = ()  # the ids of the events read
    rooms: frozenset[str] = frozenset()
    applied: bool | None = None  # None: not read (refused)
    status: int = 0
    # First write of each watched entity of its rooms: (time.perf_counter(),
    # old state, new state).
    written: dict[str, tuple[float, str | None, str | None]] = field(
        default_factory=dict
    )
    # Where the delivery changed nothing (older than the last poll): the
    # watched entities' states then.
    shown: dict[str, str | None] = field(default_factory=dict)


class PushProbe:
    """What Home Assistant did with each delivery, by event id.

    While ``watching``: Home Assistant's webhook handler
    (``webhook.async_handle_webhook``, which the webhook view calls) notes
    each request's arrival in its context; the client's ``read_push`` notes
    the events read, ``apply_push`` whether they changed anything, and a
    ``state_changed`` listener, which the bus calls within the write, notes
    the time, old and new state of each room's occupancy and motion entity
    written in a delivery's context. The integration's own CPU (reading,
    applying, writing the states) is summed on the loop thread's clock.
    """

    WATCHED = ("occupancy", "motion")

    def __init__(self, hass: HomeAssistant, data: SpaceOccupancyData) -> None:
        """Watch an entry's deliveries."""
        self.hass = hass
        self.data = data
        self.arrivals: dict[str, Arrival] = {}
        self.apply_cpu = 0.0
        from custom_components.space_occupancy.providers import SpaceKind  # noqa: PLC0415

        rooms = [
            space.id
            for space in data.coordinator.data.spaces.values()
            if space.kind is SpaceKind.ROOM
        ]
        self._by_unique_id = {
            data.ids.entity_unique_id(room, key): (room, key)
            for room in rooms
            for key in self.WATCHED
        }
        self._by_entity_id: dict[str, tuple[str, str] | None] = {}

    def watched(self, entity_id: str) -> tuple[str, str] | None:
        """Return the room and key of a watched entity (None: not one)."""
        if entity_id not in self._by_entity_id:
            from homeassistant.helpers import entity_registry as er  # noqa: PLC0415

            entry = er.async_get(self.hass).async_get(entity_id)
            self._by_entity_id[entity_id] = (
                self._by_unique_id.get(entry.unique_id) if entry else None
            )
        return self._by_entity_id[entity_id]

    def entity_id(self, room: str, key: str) -> str | None:
        """Return a room's watched entity's id, if it has one."""
        from homeassistant.helpers import entity_registry as er  # noqa: PLC0415

        from custom_components.space_occupancy.const import DOMAIN  # noqa: PLC0415

        domain = "sensor" if key == "occupancy" else "binary_sensor"
        unique_id = self.data.ids.entity_unique_id(room, key)
        return er.async_get(self.hass).async_get_entity_id(domain, DOMAIN, unique_id)

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Note every delivery while the block runs."""
        from unittest.mock import patch  # noqa: PLC0415

        from homeassistant.components import webhook  # noqa: PLC0415
        from homeassistant.const import EVENT_STATE_CHANGED  # noqa: PLC0415
        from homeassistant.core import Event, EventStateChangedData, callback  # noqa: PLC0415

        data = self.data
        client: Any = data.client
        coordinator = data.coordinator
        handle = webhook.async_handle_webhook
        read, apply, set_pushed = (
            client.read_push,
            client.apply_push,
            coordinator.async_set_pushed,
        )
        clock = time.thread_time

        async def arrived(hass: HomeAssistant, webhook_id: str, request: Any) -> Any:
            arrival = Arrival(time.perf_counter())
            token = ARRIVAL.set(arrival)
            try:
                response = await handle(hass, webhook_id, request)
            finally:
                ARRIVAL.reset(token)
            arrival.status = response.status
            for event_id in arrival.events:
                self.arrivals[event_id] = arrival
            return response

        def read_push(payload: Any) -> Any:
            start = clock()
            events = read(payload)
            self.apply_cpu += clock() - start
            if (arrival := ARRIVAL.get()) is not None:
                arrival.events = tuple(str(event.id) for event in events)
                arrival.rooms = frozenset(event.space_id for event in events)
            return events

        def apply_push(snapshot: Any, events: Any) -> Any:
            start = clock()
            pushed = apply(snapshot, events)
            self.apply_cpu += clock() - start
            if (arrival := ARRIVAL.get()) is not None:
                arrival.applied = pushed is not None
                if pushed is None:
                    arrival.shown = self._states(arrival.rooms)
            return pushed

        def async_set_pushed(snapshot: Any) -> None:
            start = clock()
            set_pushed(snapshot)
            self.apply_cpu += clock() - start

        @callback
        def written(event: Event[EventStateChangedData]) -> None:
            arrival = ARRIVAL.get()
            if arrival is None:
                return
            entity_id = event.data["entity_id"]
            watched = self.watched(entity_id)
            if watched is None or watched[0] not in arrival.rooms:
                return
            if entity_id not in arrival.written:
                old, new = event.data["old_state"], event.data["new_state"]
                arrival.written[entity_id] = (
                    time.perf_counter(),
                    old.state if old else None,
                    new.state if new else None,
                )

        remove = self.hass.bus.async_listen(EVENT_STATE_CHANGED, written)
        with (
            patch.object(webhook, "async_handle_webhook", arrived),
            patch.object(client, "read_push", read_push),
            patch.object(client, "apply_push", apply_push),
            patch.object(coordinator, "async_set_pushed", async_set_pushed),
        ):
            try:
                yield
            finally:
                remove()

    def _states(self, rooms: frozenset[str]) -> dict[str, str | None]:
        """Return the watched entities' states of these rooms."""
        shown: dict[str, str | None] = {}
        for room in rooms:
            for key in self.WATCHED:
                if (entity_id := self.entity_id(room, key)) is not None:
                    state = self.hass.states.get(entity_id)
                    shown[entity_id] = state.state if state else None
        return shown

    def judge(self, log: list[list[Any]], step: Step) -> PushPhase:
        """Match the sender's log with what Home Assistant did; time each write."""
        phase = PushPhase(delivered=len(log), step=step)
        for line in log:
            event_id, room, kind, statuses = line[0], line[1], line[2], line[6]
            final = statuses[-1] if statuses else 0
            phase.statuses[final] = phase.statuses.get(final, 0) + 1
            if problem := self._problem(phase, line):
                phase.missing_count += 1
                if len(phase.missing) < PUSH_MISSING_SHOWN:
                    phase.missing.append(f"{kind} {room} ({event_id}): {problem}")
        phase.latency.sort()
        phase.end_to_end.sort()
        return phase

    def _problem(self, phase: PushPhase, line: list[Any]) -> str:
        """Count one delivery as written or covered; else say what went wrong.

        ``line``: the sender's log line (``Pusher.deliver``).
        """
        event_id, room, kind, data, sent = line[:5]
        arrival = self.arrivals.get(event_id)
        if arrival is None:
            return "never read by the webhook handler"
        if arrival.status != 200:
            return f"answered {arrival.status}"
        key = "motion" if kind.startswith("PIR") else "occupancy"
        entity_id = self.entity_id(room, key)
        if entity_id is None:
            return f"the room has no {key} entity"
        if (write := arrival.written.get(entity_id)) is not None:
            expected = _pushed_state(kind, data, write[1])
            if write[2] != expected:
                return f"wrote {write[1]} -> {write[2]}, not {expected}"
            phase.written += 1
            phase.latency.append(write[0] - arrival.at)
            phase.end_to_end.append(write[0] - sent)
            return ""
        if arrival.applied is False:
            shown = arrival.shown.get(entity_id)
            # A poll had it: a count shows as pushed; a crossing is in the
            # count the poll read (the event's own change is not known).
            if kind == "TRAFFIC" or shown == _pushed_state(kind, data, shown):
                phase.covered += 1
                return ""
            return f"older than the last poll, which shows {shown}"
        return f"applied={arrival.applied}, but {entity_id} was not written"


def _told(line: list[Any], arrival: Arrival | None, started: float) -> str:
    """Describe one delivery: what, when sent and read, whether applied, what written."""
    kind, data, sent = line[2], line[3], line[4]
    what = (
        f"in {data['in']} out {data['out']}"
        if kind == "TRAFFIC"
        else f"{kind} {data if data is not None else ''}".strip()
    )
    if arrival is None:
        return f"{what} sent at {sent - started:.3f}, never read"
    writes = ", ".join(f"{old}->{new}" for _, old, new in arrival.written.values())
    return (
        f"{what} sent at {sent - started:.3f}, read at {arrival.at - started:.3f}, "
        f"applied {arrival.applied}{', wrote ' + writes if writes else ''}"
    )


def _pushed_state(kind: str, data: Any, old: str | None) -> str | None:
    """Return the state a room's entity shows after an event (None: cannot tell)."""
    if kind == "ROOM_OCCUPANCY":
        return str(data)
    if kind == "PIR_MOTION":
        return "on"
    if kind == "PIR_NO_MOTION":
        return "off"
    # A crossing moves a traffic room's count (never below zero).
    try:
        return str(max(0, int(old or "") + data["in"] - data["out"]))
    except ValueError:
        return None


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
        # --picked: the spaces the entry picked (empty: the whole account).
        self.picked: frozenset[str] = frozenset()
        # Push mode: when the polls among the deliveries began and ended
        # (time.perf_counter()), the stretch's and the one after it.
        self.poll_times: list[tuple[float, float]] = []

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
        # The accounts as built (the mode's Butlr tree).
        await self._control("POST", "/reset", rooms=str(self.sizes.rooms(self.mode)))
        self.entry = entry_for(self.mode.provider, self.base_url, push=self.mode.push)
        self.entry.add_to_hass(self.hass)
        if self.sizes.picked:
            await self.pick(self.sizes.picked)
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

    async def pick(self, wanted: int) -> None:
        """Pick whole floors (the lowest parents), in order, until ``wanted`` spaces."""
        from custom_components.space_occupancy.clients import build_client  # noqa: PLC0415
        from custom_components.space_occupancy.const import CONF_SPACES  # noqa: PLC0415
        from custom_components.space_occupancy.providers.selection import (  # noqa: PLC0415
            children_of,
            expand,
            ordered_space_ids,
        )

        spaces = (await build_client(self.hass, self.entry.data).async_fetch()).spaces
        children = children_of(spaces)
        picks: list[str] = []
        chosen: frozenset[str] = frozenset()
        for space_id in ordered_space_ids(spaces):
            below = children.get(space_id)
            if below and not any(child in children for child in below):
                picks.append(space_id)
                chosen = expand(spaces, picks) or frozenset()
                if len(chosen) >= wanted:
                    break
        self.hass.config_entries.async_update_entry(
            self.entry, options={**self.entry.options, CONF_SPACES: picks}
        )
        self.picked = chosen
        if self.mode.provider == OCCUSPACE:
            # One call per picked location with children (its answer holds
            # their counts); a picked leaf's count comes with its parent's.
            self.result.expected_requests = len(
                {
                    space_id
                    if space_id in children or spaces[space_id].parent_id is None
                    else spaces[space_id].parent_id
                    for space_id in chosen
                }
            )

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
        r.spaces = len(self.picked or self.coordinator.data.spaces)
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
        await self.coordinator.async_set_usual({})
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

    # Pushes.

    async def push_phase(self, phase: str) -> list[list[Any]]:
        """Have the simulator push a phase's deliveries; return its log once over."""
        import aiohttp  # noqa: PLC0415

        sizes = self.sizes
        await self._control(
            "POST",
            "/push",
            phase=phase,
            seconds=str(sizes.push_seconds),
            period=str(sizes.push_period),
        )
        if phase == "stretch":
            await self.stretch_polls()
        url = f"{self.base_url}{CONTROL}/push"
        async with self.control.get(
            url, timeout=aiohttp.ClientTimeout(total=None)
        ) as response:
            _require(response.status == 200, f"the {phase} failed: {response.status}")
            log: list[list[Any]] = await response.json()
        return log

    async def stretch_polls(self) -> None:
        """Poll in the stretch as the coordinator's timer would: once in its middle.

        While pushes arrive, the coordinator polls every PUSH_POLL_INTERVAL
        (5 minutes): a stretch of that or less holds at most one poll. Each
        runs in a task of its own, as the timer runs it (and reschedules the
        timer); a longer stretch meets the timer's own polls besides.
        """
        await asyncio.sleep(self.sizes.push_seconds / 2)
        start = time.perf_counter()
        await asyncio.create_task(self.coordinator.async_refresh(), name="poll")
        self.poll_times.append((start, time.perf_counter()))
        self.result_push.polls_in_stretch += 1
        _require(self.coordinator.last_update_success, "the stretch's poll failed")

    @property
    def result_push(self) -> PushFigures:
        """The push mode's figures."""
        push = self.result.push
        _require(push is not None, "not the push mode")
        assert push is not None  # noqa: S101 - for the type checker
        return push

    async def measure_push(self, profiler: Profiler | None = None) -> None:
        """Measure deliveries from their arrival to their state, under a steady stream.

        The entry takes pushes at Home Assistant's own HTTP server on
        loopback. First each motion room's first motion (its motion sensor
        is added), then a poll (the timer now runs at the push-time
        interval), then the stretch: every room pushing once per period, a
        poll in its middle, the loop's steps timed throughout. Then one poll
        more, which must change none of the pushed rooms.
        """
        from custom_components.space_occupancy.const import PUSH_POLL_INTERVAL  # noqa: PLC0415

        sizes, r = self.sizes, self.result
        push = r.push = PushFigures(
            rooms=sizes.butlr_push_rooms,
            seconds=sizes.push_seconds,
            period=sizes.push_period,
        )
        async with http_server(self.hass):
            await self.set_up()
            await self.hass.async_block_till_done(wait_background_tasks=True)
            receiver = self.data.push
            _require(receiver is not None, "the entry has no webhook")
            assert receiver is not None  # noqa: S101 - for the type checker
            _require(
                receiver.stats.state == "subscribed",
                f"the webhook is {receiver.stats.state}, not subscribed",
            )
            probe = PushProbe(self.hass, self.data)
            with probe.watching():
                async with AsyncExitStack() as stack:
                    if profiler is None:
                        watch = stack.enter_context(loop_steps())
                    else:
                        await stack.enter_async_context(profiler.window("first motion"))
                    log = await self.push_phase("first_motion")
                    await self.hass.async_block_till_done()
                push.first_motion = probe.judge(
                    log, watch.step() if profiler is None else Step(0, 0, "-", 0)
                )
                push.poll_cpu = (await self.poll()).loop
                _require(
                    self.coordinator.update_interval == PUSH_POLL_INTERVAL,
                    f"polls every {self.coordinator.update_interval} while pushes "
                    "arrive",
                )
                await self.simulator_log()
                before = replace(receiver.stats)
                probe.apply_cpu = 0.0
                async with AsyncExitStack() as stack:
                    if profiler is None:
                        watch = stack.enter_context(loop_steps())
                    else:
                        await stack.enter_async_context(profiler.window("push stretch"))
                    wall, cpu = time.perf_counter(), time.thread_time()
                    recorder = thread_cpu(self.instance)
                    self.poll_times.clear()
                    log = await self.push_phase("stretch")
                    await self.hass.async_block_till_done()
                    push.loop_cpu = time.thread_time() - cpu
                    push.wall = time.perf_counter() - wall
                    push.recorder_cpu = thread_cpu(self.instance) - recorder
                push.apply_cpu = probe.apply_cpu
                push.stretch = probe.judge(
                    log, watch.step() if profiler is None else Step(0, 0, "-", 0)
                )
            stats = receiver.stats
            push.received = stats.received - before.received
            push.applied = stats.applied - before.applied
            push.rejected = stats.rejected - before.rejected
            push.pushing_rooms = len({line[1] for line in log})
            await self.check_agreement(probe, log, wall)

    async def check_agreement(
        self, probe: PushProbe, log: list[list[Any]], started: float
    ) -> None:
        """Poll once more: every pushed room should show what the poll reads.

        A room the poll changes is described with the stretch's deliveries
        to it and the polls' times (seconds from the stretch's start).
        """
        from homeassistant.const import EVENT_STATE_CHANGED  # noqa: PLC0415
        from homeassistant.core import Event, EventStateChangedData, callback  # noqa: PLC0415

        push = self.result_push
        changed: list[tuple[str, str]] = []

        @callback
        def polled(event: Event[EventStateChangedData]) -> None:
            entity_id = event.data["entity_id"]
            if (watched := probe.watched(entity_id)) is None:
                return
            old, new = event.data["old_state"], event.data["new_state"]
            shown = old.state if old else None
            read = new.state if new else None
            text = f"{watched[0]} {watched[1]}: {shown} shown, {read} polled"
            changed.append((watched[0], text))

        remove = self.hass.bus.async_listen(EVENT_STATE_CHANGED, polled)
        start = time.perf_counter()
        try:
            await self.poll()
        finally:
            remove()
        self.poll_times.append((start, time.perf_counter()))
        polls = ", ".join(
            f"{begin - started:.3f}-{end - started:.3f}"
            for begin, end in self.poll_times
        )
        push.disagreements = len(changed)
        push.disagreeing = []
        for room, text in changed[:PUSH_MISSING_SHOWN]:
            deliveries = "; ".join(
                _told(line, probe.arrivals.get(line[0]), started)
                for line in log
                if line[1] == room
            )
            push.disagreeing.append(f"{text} (pushed: {deliveries}; polls: {polls} s)")

    # The runs.

    async def measure(self) -> None:
        """Measure everything, in an order where nothing disturbs a measurement."""
        import resource  # noqa: PLC0415

        if self.mode.push:
            await self.measure_push()
            return
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
        if self.mode.push:
            await self.measure_push(profiler)
            profiler.finish(self.mode.label.replace(" + ", "-").replace(", ", "-"))
            return
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


def _collected(step: Step) -> str:
    """Say the longest garbage collection of an operation's steps."""
    if step.generation < 0:
        return "no garbage collection"
    return (
        f"the longest garbage collection {_ms(step.collector)} ms "
        f"(generation {step.generation})"
    )


def collector_cell(operation: Operation) -> Cell:
    """Show the longest garbage collection in one step of an operation."""

    def cell(results: list[Result]) -> str:
        steps = [step for r in results if (step := r.step(operation)) is not None]
        if not steps:
            return "-"
        longest = max(steps, key=lambda step: step.collector)
        if longest.generation < 0:
            return "none"
        return (
            f"{_spread([step.collector for step in steps], _ms, ' ms')} "
            f"(generation {longest.generation})"
        )

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
        *(
            row
            for op in Operation
            for row in (
                (
                    f"longest loop step, CPU less garbage collection: {op}",
                    step_cell(op),
                ),
                (f"  longest garbage collection in a step: {op}", collector_cell(op)),
            )
        ),
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


def print_table(
    columns: list[list[Result]],
    sizes: Sizes,
    rows: list[tuple[str, Cell]] | None = None,
) -> None:
    """Print the figures, one column per mode (the polled modes' rows by default)."""
    if rows is None:
        rows = [*setup_rows(), *poll_rows(sizes), *changing_rows(), *usual_rows()]
    header = [
        "",
        *(
            f"{sizes.tree(rs[0].mode)}{' + recorder' if rs[0].recorder else ''}"
            f"{', push' if rs[0].push else ''}"
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
        "in its longest step less Python's garbage collection, and the longest "
        "wall; wall beyond the CPU is a wait for the GIL or for a CPU, or a "
        "garbage collection):"
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
                    f"  {results[0].mode.label}, "
                    f"{operation}: {_ms(step.cpu)} ms CPU (wall {_ms(step.wall)} ms), "
                    f"the longest of {step.steps:,}, in {step.what}; "
                    f"{_collected(step)}"
                )


def pushes(results: list[Result]) -> list[PushFigures]:
    """Return each process's push figures."""
    return [r.push for r in results if r.push is not None]


def push_cell(value: Callable[[PushFigures], float], fmt: str, unit: str = "") -> Cell:
    """Show a push figure formatted by ``fmt``."""
    return lambda results: _spread(
        [value(push) for push in pushes(results)], fmt.format, unit
    )


def push_ms(value: Callable[[PushFigures], float]) -> Cell:
    """Show a push figure in milliseconds."""
    return lambda results: _spread(
        [value(push) for push in pushes(results)], _ms, " ms"
    )


def push_step_cell(phase: Callable[[PushFigures], PushPhase]) -> Cell:
    """Show a phase's longest loop step: its CPU, and the wall's median."""

    def cell(results: list[Result]) -> str:
        steps = [phase(push).step for push in pushes(results)]
        walls = statistics.median(step.wall for step in steps)
        return f"{_spread([step.cpu for step in steps], _ms, ' ms')}; wall {_ms(walls)}"

    return cell


def push_rows(sizes: Sizes) -> list[tuple[str, Cell]]:
    """Return the rows of the push mode's figures."""

    def stretch(push: PushFigures) -> PushPhase:
        return push.stretch

    def first(push: PushFigures) -> PushPhase:
        return push.first_motion

    def recorder_only_push(cell: Cell) -> Cell:
        return lambda results: cell(results) if results[0].recorder else "-"

    return [
        *setup_rows(),
        (
            "rooms pushing / rooms",
            lambda rs: f"{pushes(rs)[0].pushing_rooms:,} / {pushes(rs)[0].rooms:,}",
        ),
        (
            f"deliveries in {sizes.push_seconds:g} s (per second)",
            lambda rs: (
                f"{push_cell(lambda p: p.stretch.delivered, '{:,}')(rs)} "
                f"({push_cell(lambda p: p.stretch.delivered / p.seconds, '{:.1f}')(rs)})"
            ),
        ),
        (
            "  their state written / older than a poll that showed it",
            lambda rs: (
                f"{push_cell(lambda p: p.stretch.written, '{:,}')(rs)} / "
                f"{push_cell(lambda p: p.stretch.covered, '{:,}')(rs)}"
            ),
        ),
        (
            "  neither (missing), answered other than 200",
            lambda rs: (
                f"{push_cell(lambda p: p.stretch.missing_count, '{:,}')(rs)}, "
                + push_cell(
                    lambda p: sum(
                        n for status, n in p.stretch.statuses.items() if status != 200
                    ),
                    "{:,}",
                )(rs)
            ),
        ),
        (
            "webhook: received / applied / refused (diagnostics)",
            lambda rs: " / ".join(
                push_cell(value, "{:,}")(rs)
                for value in (
                    lambda p: p.received,
                    lambda p: p.applied,
                    lambda p: p.rejected,
                )
            ),
        ),
        ("polls in the stretch", push_cell(lambda p: p.polls_in_stretch, "{:g}")),
        (
            "arrival -> state written: median",
            push_ms(lambda p: stretch(p).quantile(0.5)),
        ),
        (
            f"  99th percentile (target ≤ {PUSH_LATENCY_TARGET:g} s); longest",
            lambda rs: (
                f"{push_ms(lambda p: stretch(p).quantile(0.99))(rs)}; "
                f"{push_ms(lambda p: stretch(p).quantile(1.0))(rs)}"
            ),
        ),
        (
            "sender's POST -> state written: median; 99th percentile",
            lambda rs: (
                f"{push_ms(lambda p: stretch(p).quantile(0.5, end_to_end=True))(rs)}; "
                f"{push_ms(lambda p: stretch(p).quantile(0.99, end_to_end=True))(rs)}"
            ),
        ),
        (
            "CPU per delivery, event-loop thread (the stretch's, less its poll)",
            push_ms(lambda p: p.cpu_per_event),
        ),
        (
            "  of which the integration: read, apply, write the states",
            push_ms(lambda p: p.apply_cpu / max(1, p.stretch.delivered)),
        ),
        (
            "  a poll, measured alone before the stretch",
            push_ms(lambda p: p.poll_cpu),
        ),
        (
            "event-loop thread busy over the stretch (CPU / wall)",
            push_cell(
                lambda p: 100 * p.loop_cpu / p.wall if p.wall else 0, "{:.1f}", " %"
            ),
        ),
        (
            "  besides: the recorder's thread per delivery",
            recorder_only_push(
                push_ms(lambda p: p.recorder_cpu / max(1, p.stretch.delivered))
            ),
        ),
        (
            "longest loop step, CPU less garbage collection: the stretch",
            push_step_cell(stretch),
        ),
        (
            "first motion: deliveries; motion sensors written",
            lambda rs: (
                f"{push_cell(lambda p: p.first_motion.delivered, '{:,}')(rs)}; "
                f"{push_cell(lambda p: p.first_motion.written, '{:,}')(rs)}"
            ),
        ),
        (
            "first motion: arrival -> state written, median; 99th percentile",
            lambda rs: (
                f"{push_ms(lambda p: first(p).quantile(0.5))(rs)}; "
                f"{push_ms(lambda p: first(p).quantile(0.99))(rs)}"
            ),
        ),
        (
            "longest loop step, CPU less garbage collection: first motion",
            push_step_cell(first),
        ),
        (
            "pushed rooms a poll after the stretch changed",
            push_cell(lambda p: p.disagreements, "{:,}"),
        ),
    ]


def print_push_steps(columns: list[list[Result]]) -> None:
    """Print what ran in the push phases' longest steps, and what went wrong."""
    print(
        "\nLongest event-loop steps of the push phases (the median process's, by "
        "the loop thread's CPU in it less garbage collection):"
    )
    for results in columns:
        label = results[0].mode.label
        figures = pushes(results)
        for name, phase in (
            ("first motion", lambda p: p.first_motion),
            ("stretch", lambda p: p.stretch),
        ):
            steps = sorted((phase(p).step for p in figures), key=lambda s: s.cpu)
            step = steps[len(steps) // 2]
            print(
                f"  {label}, {name}: {_ms(step.cpu)} ms CPU (wall {_ms(step.wall)} "
                f"ms), the longest of {step.steps:,}, in {step.what}; "
                f"{_collected(step)}"
            )
        for index, push in enumerate(figures, 1):
            for name, phase in (
                ("first motion", push.first_motion),
                ("stretch", push.stretch),
            ):
                for line in phase.missing:
                    print(f"  process {index}, {name}, not shown: {line}")
            for line in push.disagreeing:
                print(f"  process {index}, the poll after the stretch changed {line}")
    print(
        "A poll after the stretch must change no pushed room: what the pushes "
        "showed is what Butlr's reports hold (crossings sensed after a poll's "
        "whole second, where its reports stop, are added again over them)."
    )


def push_checks(results: list[Result], sizes: Sizes) -> list[Check]:
    """Return the push mode's targets (on the median over processes)."""
    figures = pushes(results)
    judged = sizes.judged
    checks: list[Check] = []
    for name, phase in (
        ("first motion", lambda p: p.first_motion),
        ("stretch", lambda p: p.stretch),
    ):
        phases = [phase(push) for push in figures]
        shown = [(p.written, p.covered, p.delivered) for p in phases]
        refused = sum(
            n for p in phases for status, n in p.statuses.items() if status != 200
        )
        missing = sum(p.missing_count for p in phases)
        checks.append(
            (
                (
                    f"{name}: every delivery answered 200 and its room's state written "
                    "as the event says, or shown by a poll already (written, shown "
                    f"by a poll, delivered: {shown}; not shown {missing}, answered "
                    f"other than 200 {refused})"
                ),
                missing == 0 and refused == 0 and all(p.delivered for p in phases),
            )
        )
    disagreements = [push.disagreements for push in figures]
    checks.append(
        (
            (
                "a poll after the stretch changes no pushed room: "
                f"{sum(disagreements)} changed"
            ),
            sum(disagreements) == 0,
        )
    )
    steps = [push.stretch.step.cpu for push in figures]
    step = statistics.median(steps)
    walls = [push.stretch.step.wall for push in figures]
    checks.append(
        (
            (
                f"longest loop step ≤ {STEP_TARGET * 1000:g} ms, push stretch: "
                f"{_spread(steps, _ms, ' ms')} CPU (wall {_spread(walls, _ms, ' ms')})"
            ),
            step <= STEP_TARGET if judged else None,
        )
    )
    p50 = [push.stretch.quantile(0.5) for push in figures]
    p99 = [push.stretch.quantile(0.99) for push in figures]
    checks.append(
        (
            (
                f"arrival -> state written, 99th percentile ≤ "
                f"{PUSH_LATENCY_TARGET * 1000:g} ms: {_spread(p99, _ms, ' ms')} "
                f"(median {_spread(p50, _ms, ' ms')})"
            ),
            statistics.median(p99) <= PUSH_LATENCY_TARGET if judged else None,
        )
    )
    return checks


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
        expected = {r.expected_requests for r in results}
        wanted = expected.pop() if len(expected) == 1 else None
        wanted = sizes.occuspace_parents if wanted is None else wanted
        seen = sorted({n for r in results for n in r.requests_per_poll})
        checks.append(
            (
                f"requests per poll = locations whose answer a poll needs ({wanted}): {seen}",
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
                    f"{_spread(seconds, _ms, ' ms')} CPU less garbage collection "
                    f"(wall {_spread(walls, _ms, ' ms')}); {gap}"
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
    polled = [results for results in columns if results[0].push is None]
    pushed = [results for results in columns if results[0].push is not None]
    if polled:
        print()
        print_table(polled, sizes)
        print_steps(polled)
    if pushed:
        print(
            f"\nPush: every pushing room sends one event per {sizes.push_period:g} s, "
            f"spread evenly, for {sizes.push_seconds:g} s (--push-seconds), as real "
            "HTTP POSTs from the simulator's process to Home Assistant's own server "
            "on loopback, a poll in the middle; before it, each motion room's first "
            "motion (its motion sensor is added). Latency: from the request reaching "
            "Home Assistant's webhook handler to the room's entity's state_changed "
            "(the occupancy sensor; the motion sensor for motion events)."
        )
        print()
        print_table(pushed, sizes, push_rows(sizes))
        print_push_steps(pushed)
    print()
    failures: list[str] = []
    for results in columns:
        label = results[0].mode.label
        checks = (
            push_checks(results, sizes)
            if results[0].push is not None
            else [
                *request_checks(results, sizes),
                *cost_checks(results, sizes, plan.latency),
                *usual_checks(results),
            ]
        )
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
        label = results[0].mode.label
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
        target=worker,
        args=(mode, base_url, plan, send),
        name=f"bench-{mode.provider}{'-push' if mode.push else ''}",
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
        push = (
            f"; {sizes.butlr_push_rooms:,} in the push mode"
            if any(mode.push for mode in modes)
            and sizes.butlr_push_rooms != sizes.butlr_rooms
            else ""
        )
        print(
            f"Simulator on {base_url}: Butlr {sizes.butlr_rooms:,} rooms "
            f"({sizes.butlr_rooms * 4:,} sensors, {sizes.butlr_spaces:,} spaces{push}), "
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
        "--push",
        choices=("with", "only", "skip"),
        default="with",
        help="the Butlr push mode (webhook deliveries): with the polled modes "
        "(default), only it, or not at all. It runs as a default install does, "
        "with the recorder (without it under --recorder without)",
    )
    add(
        "--profile",
        action="store_true",
        help="profile instead of measuring: one process per mode, cProfile tables "
        "(the push mode: of its stretch)",
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
    capped = "the largest tree under the cap where the line caps enabled entities"
    add(
        "--rooms",
        type=int,
        metavar="N",
        help=f"Butlr rooms, the push mode's too (default {FULL.butlr_rooms}; {capped})",
    )
    add(
        "--locations",
        type=int,
        metavar="N",
        help=f"Occuspace locations (default {FULL.occuspace_locations}; {capped})",
    )
    add(
        "--picked",
        type=int,
        metavar="N",
        default=0,
        help="the entry picks whole floors, in order, until N spaces or more "
        "(default 0: the whole account, as a first entry takes it)",
    )
    add(
        "--push-seconds",
        type=float,
        metavar="S",
        help=f"how long the push mode's deliveries are measured (default "
        f"{FULL.push_seconds:g}, --quick {QUICK.push_seconds:g})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    args = parse_args(argv)
    plan = Plan(choose_sizes(args), args.latency, args.profile, args.profile_dir)
    if plan.profile_dir:
        Path(plan.profile_dir).mkdir(parents=True, exist_ok=True)
    recorder = {"both": (False, True), "with": (True,), "without": (False,)}
    providers = args.provider or (BUTLR, OCCUSPACE)
    modes = [
        Mode(provider, with_recorder)
        for provider in providers
        for with_recorder in recorder[args.recorder]
        if args.push != "only"
    ]
    if BUTLR in providers and args.push != "skip":
        modes.append(Mode(BUTLR, args.recorder != "without", push=True))
    if not modes:
        print("Nothing to measure: the push mode is Butlr's", file=sys.stderr)
        return 2
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
