"""Run the provider simulator on its own: ``python -m tests.simulator``.

It serves Butlr, Occuspace and Concordia from one demo ``Simulator`` whose people
come and go: every few seconds presence sensors' counts and Occuspace's counts
take a random step, traffic rooms get entry and exit events, and Concordia's
library counts change with a fresh ``LastRecordTime``. scripts/develop runs it
for the Home Assistant it starts. It listens on loopback only.

Butlr also manages webhooks (butlr_webhooks): each step delivers the rooms'
new counts, motion and crossings to the webhooks subscribed at it.

Butlr also serves hourly history: at startup the last 90 days are filled from a
weekly profile (see ``profile_people``), and every step records the people it
leaves under each presence sensor, in each traffic room (Butlr's calibrated
occupancy) and in each zone (``zone_occupancy``).

Base URLs for config entries, with ``http://HOST:PORT`` as the root:
Butlr the root itself, Occuspace ``/v1``, Concordia ``/API/v1``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
from collections.abc import Sequence
import contextlib
from datetime import UTC, datetime, timedelta, tzinfo
import hashlib
import ipaddress
import logging
import math
import random
import signal
import sys
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from . import butlr, butlr_webhooks as webhooks, concordia, occuspace
from .app import Simulator, create_app
from .control import CONTROL_PREFIX, add_control_routes

LOGGER = logging.getLogger("tests.simulator")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8124
DEFAULT_INTERVAL = 10.0

# Traffic events older than this are dropped: occupancy counts from local midnight.
TRAFFIC_KEPT = timedelta(days=2)
# The most people a room or library whose capacity is unknown holds in the demo.
UNKNOWN_CAPACITY_LIMIT = 6
CONCORDIA_LIMITS = {"Webster": 900, "Vanier": 300, "GreyNuns": 60}

# Butlr history: filled this far back at startup, one point every HISTORY_STEP
# from a weekly profile; live points older than HISTORY_KEPT are dropped.
HISTORY_FILLED = timedelta(days=90)
HISTORY_STEP = timedelta(minutes=10)
HISTORY_KEPT = timedelta(days=91)
HISTORY_SEED = 2024
# Share of a room's capacity in use, by local hour, on a weekday (Monday to
# Friday): office hours 9-17 are busy, with a dip at lunch; nights are empty.
WEEKDAY_PROFILE = (
    *(0.0,) * 7,
    *(0.05, 0.25, 0.6, 0.8, 0.75, 0.45, 0.65, 0.8, 0.7, 0.5, 0.2, 0.08),
    *(0.02,) * 5,
)
# At weekends a few people drop by around midday.
WEEKEND_PROFILE = (*(0.0,) * 10, *(0.05,) * 6, *(0.0,) * 8)


def demo_simulator(now: datetime, history_seed: int = HISTORY_SEED) -> Simulator:
    """The demo: Butlr's small office, Occuspace's seed and Concordia's libraries.

    Occuspace answers computed bodies rather than the seed's verbatim payloads,
    so that its counts can move; they start at the seed's numbers. Butlr's rooms
    start from their history profile (see ``fill_butlr_history``).
    """
    simulator = Simulator(
        butlr=butlr.demo_scenario(now),
        occuspace=occuspace.seed_scenario(now_payloads={}, locations_payload=None),
        concordia=concordia.seed_scenario(now),
    )
    # Zones: the cafeteria's sofa corner, and the first floor's window desks.
    simulator.butlr.sites[0].buildings[0].floors[0].zones = [
        butlr.ButlrZone("zone_sofa", "Sofa corner", "room_cafeteria", capacity=6),
        butlr.ButlrZone("zone_window", "Window desks", capacity=4),
    ]
    fill_butlr_history(simulator.butlr, now, history_seed)
    return simulator


def _zone(site: butlr.ButlrSite) -> tzinfo:
    return ZoneInfo(site.timezone) if site.timezone else UTC


def _noise(seed: int, room_id: str, moment: datetime) -> float:
    """A number in [0, 1) fixed by the seed, the room and the 10-minute slot."""
    slot = int(moment.timestamp() // HISTORY_STEP.total_seconds())
    digest = hashlib.blake2b(f"{seed}/{room_id}/{slot}".encode(), digest_size=8)
    return int.from_bytes(digest.digest()) / 2**64


def profile_people(
    site: butlr.ButlrSite, room: butlr.ButlrRoom, moment: datetime, seed: int
) -> int:
    """How many people the weekly profile puts in a room at a moment.

    A share of the room's capacity (UNKNOWN_CAPACITY_LIMIT when unknown) by the
    site's local weekday and hour, interpolated within the hour, times a
    deterministic noise of +-30 %; at night now and then one person (cleaning).
    """
    local = moment.astimezone(_zone(site))
    profile = WEEKDAY_PROFILE if local.weekday() < 5 else WEEKEND_PROFILE
    share_now = profile[local.hour]
    share_next = profile[(local.hour + 1) % 24]
    share = share_now + (share_next - share_now) * local.minute / 60
    limit = room.capacity or UNKNOWN_CAPACITY_LIMIT
    noise = _noise(seed, room.id, moment)
    if share == 0:
        return 1 if noise < 0.02 else 0
    return min(limit, max(0, round(limit * share * (0.7 + 0.6 * noise))))


def _split(people: int, sensors: int, slot: int) -> list[int]:
    """Share people across sensors, the remainder rotating with the slot."""
    return [
        people // sensors + ((index - slot) % sensors < people % sensors)
        for index in range(sensors)
    ]


def _traffic_from(
    points: list[tuple[datetime, float]], site: butlr.ButlrSite
) -> list[tuple[datetime, int, int]]:
    """Entry/exit events that count these occupancies from each local midnight."""
    events = []
    inside = 0
    day = None
    for moment, value in points:
        local_day = moment.astimezone(_zone(site)).date()
        if local_day != day:
            day, inside = local_day, 0
        change = int(value) - inside
        if change:
            events.append((moment, max(0, change), max(0, -change)))
        inside = int(value)
    return events


def fill_butlr_history(
    scenario: butlr.ButlrScenario, now: datetime, seed: int = HISTORY_SEED
) -> None:
    """Fill HISTORY_FILLED of history before now from the weekly profile.

    Points fall every HISTORY_STEP (aligned to the epoch) and a last one at
    ``now``; rooms start from the profile's value at ``now``: presence sensors'
    people, and traffic rooms' events of the last TRAFFIC_KEPT, rebuilt so that
    their count since local midnight follows the profile.
    """
    step = HISTORY_STEP.total_seconds()
    first = datetime.fromtimestamp(
        math.ceil((now - HISTORY_FILLED).timestamp() / step) * step, UTC
    )
    count = math.ceil((now - first) / HISTORY_STEP)
    moments = [first + index * HISTORY_STEP for index in range(count)]
    moments.append(now)
    for site in scenario.sites:
        for building in site.buildings:
            for floor in building.floors:
                for room in floor.rooms:
                    _fill_room(site, room, moments, seed)
                for zone in floor.zones:
                    area = _as_room(zone)
                    zone.occupancy_history = [
                        (moment, float(profile_people(site, area, moment, seed)))
                        for moment in moments
                    ]


def _as_room(zone: butlr.ButlrZone) -> butlr.ButlrRoom:
    """A zone as the weekly profile sees it: an area of its capacity."""
    return butlr.ButlrRoom(zone.id, zone.name, capacity=zone.capacity)


def _fill_room(
    site: butlr.ButlrSite,
    room: butlr.ButlrRoom,
    moments: list[datetime],
    seed: int,
) -> None:
    people = [(moment, profile_people(site, room, moment, seed)) for moment in moments]
    if any(sensor.mode == "traffic" for sensor in room.sensors):
        room.occupancy_history = [(moment, float(value)) for moment, value in people]
        kept = moments[-1] - TRAFFIC_KEPT
        room.traffic = _traffic_from(
            [point for point in people if point[0] >= kept], site
        )
        return
    sensors = [sensor for sensor in room.sensors if sensor.mode == "presence"]
    if not sensors:
        return
    step = HISTORY_STEP.total_seconds()
    for sensor in sensors:
        sensor.history = []
    for moment, value in people:
        shares = _split(value, len(sensors), int(moment.timestamp() // step))
        for sensor, share in zip(sensors, shares, strict=True):
            sensor.history.append((moment, float(share)))
    for sensor in sensors:
        sensor.people = int(sensor.history[-1][1])


def _prune(points: list[tuple[datetime, float]], since: datetime) -> None:
    """Drop the points before ``since`` (points are in time order)."""
    del points[: bisect.bisect_left(points, since, key=lambda point: point[0])]


def _site_midnight(site: butlr.ButlrSite, now: datetime) -> datetime:
    """Local midnight of a Butlr site, where its traffic rooms start counting."""
    local = now.astimezone(_zone(site))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _step_traffic_room(
    room: butlr.ButlrRoom,
    since: datetime,
    now: datetime,
    rng: random.Random,
    target: int,
) -> None:
    """Append an entry/exit event that keeps the room between empty and full.

    People drift towards ``target`` (the weekly profile's count now), so that
    the live counts look like the history. The people inside afterwards
    (entries - exits since ``since``) go to the room's occupancy history.
    """
    room.traffic = [event for event in room.traffic if event[0] >= now - TRAFFIC_KEPT]
    today = [event for event in room.traffic if event[0] >= since]
    inside = max(0, sum(event[1] for event in today) - sum(e[2] for e in today))
    limit = room.capacity or UNKNOWN_CAPACITY_LIMIT
    gap = target - inside
    entries = min(max(0, limit - inside), rng.randint(0, 2) + min(3, max(0, gap)))
    exits = min(inside + entries, rng.randint(0, 2) + min(3, max(0, -gap)))
    if entries or exits:
        room.traffic.append((now, entries, exits))
    _prune(room.occupancy_history, now - HISTORY_KEPT)
    room.occupancy_history.append((now, float(inside + entries - exits)))


def _step_presence_room(
    room: butlr.ButlrRoom, now: datetime, rng: random.Random, target: int
) -> None:
    """Move one person in or out under one of the room's presence sensors.

    Mostly towards ``target`` (the weekly profile's count now), so that the
    live counts look like the history. Every presence sensor's people
    afterwards go to its history.
    """
    sensors = [sensor for sensor in room.sensors if sensor.mode == "presence"]
    if not sensors:
        return
    limit = room.capacity or UNKNOWN_CAPACITY_LIMIT
    inside = sum(sensor.people for sensor in sensors)
    sensor = rng.choice(sensors)
    towards = (target > inside) - (target < inside)
    change = rng.choice((towards, towards, 0, -1, 1))
    if change > 0 and inside < limit:
        sensor.people += 1
    elif change < 0 and sensor.people > 0:
        sensor.people -= 1
    for each in sensors:
        _prune(each.history, now - HISTORY_KEPT)
        each.history.append((now, float(each.people)))


def _step_butlr(
    scenario: butlr.ButlrScenario, now: datetime, rng: random.Random
) -> None:
    for site in scenario.sites:
        since = _site_midnight(site, now)
        for building in site.buildings:
            for floor in building.floors:
                for room in floor.rooms:
                    target = profile_people(site, room, now, HISTORY_SEED)
                    if any(sensor.mode == "traffic" for sensor in room.sensors):
                        _step_traffic_room(room, since, now, rng, target)
                    else:
                        _step_presence_room(room, now, rng, target)
                for zone in floor.zones:
                    _prune(zone.occupancy_history, now - HISTORY_KEPT)
                    target = profile_people(site, _as_room(zone), now, HISTORY_SEED)
                    zone.occupancy_history.append((now, float(target)))


def _step_occuspace(scenario: occuspace.OccuspaceScenario, rng: random.Random) -> None:
    """Random-walk the leaves; a location with children counts its children."""
    for location in scenario.locations:
        if scenario.children(location.id):
            continue
        stride = max(1, location.capacity // 25)
        location.count = min(
            location.capacity,
            max(0, location.count + rng.randint(-stride, stride)),
        )


def _step_concordia(
    scenario: concordia.ConcordiaScenario, now: datetime, rng: random.Random
) -> None:
    """Change each library's count and record it now, Montreal time."""
    for key, (occupancy, _) in list(scenario.libraries.items()):
        limit = CONCORDIA_LIMITS.get(key, 100)
        stride = max(1, limit // 30)
        count = max(0, round(float(occupancy)))
        count = min(limit, max(0, count + rng.randint(-stride, stride)))
        scenario.libraries[key] = (f"{count:.4f}", concordia.record_time(now))


def advance(simulator: Simulator, now: datetime, rng: random.Random) -> None:
    """Move people in and out of every provider's spaces, as of ``now``."""
    _step_butlr(simulator.butlr, now, rng)
    _step_occuspace(simulator.occuspace, rng)
    _step_concordia(simulator.concordia, now, rng)


def _room_counts(scenario: butlr.ButlrScenario) -> dict[str, tuple[str, int, int]]:
    """Each room's floor, people under its presence sensors, and traffic events."""
    return {
        room.id: (
            floor.id,
            sum(s.people for s in room.sensors if s.mode == "presence"),
            len(room.traffic),
        )
        for site in scenario.sites
        for building in site.buildings
        for floor in building.floors
        for room in floor.rooms
    }


def butlr_events(
    scenario: butlr.ButlrScenario,
    before: dict[str, tuple[str, int, int]],
    now: datetime,
) -> list[dict[str, object]]:
    """The webhook events a step makes: counts and motion, crossings (butlr_webhooks)."""
    events: list[dict[str, object]] = []
    for room in scenario.rooms():
        floor_id, people, crossings = before[room.id]
        presence = [s for s in room.sensors if s.mode == "presence"]
        now_people = sum(sensor.people for sensor in presence)
        if presence and now_people != people:
            events.append(
                webhooks.event("ROOM_OCCUPANCY", room.id, floor_id, now, now_people)
            )
            if (now_people > 0) != (people > 0):
                kind = "PIR_MOTION" if now_people else "PIR_NO_MOTION"
                events.append(webhooks.event(kind, room.id, floor_id, now))
        for moment, entries, exits in room.traffic[crossings:]:
            data = {"in": entries, "out": exits}
            events.append(webhooks.event("TRAFFIC", room.id, floor_id, moment, data))
    return events


async def move_people(
    simulator: Simulator, interval: float, rng: random.Random
) -> None:
    """Advance the scenarios every ``interval`` seconds, until cancelled.

    Each step's Butlr events go to the webhooks subscribed at the simulator.
    """
    async with aiohttp.ClientSession() as session:
        while True:
            await asyncio.sleep(interval)
            before = _room_counts(simulator.butlr)
            now = datetime.now(UTC)
            advance(simulator, now, rng)
            events = butlr_events(simulator.butlr, before, now)
            if events and simulator.butlr.webhooks.webhooks:
                try:
                    await simulator.butlr.webhooks.deliver(session, events)
                except aiohttp.ClientError as err:
                    LOGGER.warning("Delivering webhook events failed: %s", err)


def is_loopback(host: str) -> bool:
    """Tell whether a host name or address is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve(
    host: str,
    port: int,
    interval: float,
    rng: random.Random,
    *,
    access_log: bool,
    control: bool = False,
) -> None:
    """Serve the demo simulator until SIGINT or SIGTERM.

    ``control``: serve the control paths too (tests/simulator/control.py).
    """
    simulator = demo_simulator(datetime.now(UTC))
    app = create_app(simulator)
    if control:
        add_control_routes(app)
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
    )
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    mover: asyncio.Task[None] | None = None
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        root = f"http://{host}:{port}"
        LOGGER.info("Simulator listening on %s", root)
        LOGGER.info(
            "Base URLs: Butlr %s, Occuspace %s/v1, Concordia %s/API/v1",
            root,
            root,
            root,
        )
        if control:
            LOGGER.info("Control paths under %s%s", root, CONTROL_PREFIX)
        LOGGER.info("People move every %s s; stop with Ctrl-C", interval)
        mover = asyncio.create_task(move_people(simulator, interval, rng))
        await stop.wait()
        LOGGER.info("Simulator stopping")
    finally:
        if mover is not None:
            mover.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await mover
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await runner.cleanup()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.simulator",
        description="Serve the simulated Butlr, Occuspace and Concordia APIs.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="a loopback address")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        help="seconds between moves of people (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--control",
        action="store_true",
        help=f"serve the control paths under {CONTROL_PREFIX}/ too "
        "(tests/simulator/control.py; for scripts/screenshot)",
    )
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error(f"--host must be a loopback address, not {args.host!r}")
    if args.interval <= 0:
        parser.error("--interval must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator; return the exit status."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    # Not for cryptography: it only decides who walks in.
    rng = random.Random(args.seed)  # noqa: S311
    try:
        asyncio.run(
            serve(
                args.host,
                args.port,
                args.interval,
                rng,
                access_log=args.access_log,
                control=args.control,
            )
        )
    except OSError as err:
        LOGGER.error("Cannot listen on %s:%s: %s", args.host, args.port, err)  # noqa: TRY400
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
