"""Run the provider simulator on its own: ``python -m tests.simulator``.

It serves Butlr, Occuspace and Concordia from one demo ``Simulator`` whose people
come and go: every few seconds presence sensors' counts and Occuspace's counts
take a random step, traffic rooms get entry and exit events, and Concordia's
library counts change with a fresh ``LastRecordTime``. scripts/develop runs it
for the Home Assistant it starts. It listens on loopback only.

Base URLs for config entries, with ``http://HOST:PORT`` as the root:
Butlr the root itself, Occuspace ``/v1``, Concordia ``/API/v1``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
import contextlib
from datetime import UTC, datetime, timedelta
import ipaddress
import logging
import random
import signal
import sys
from zoneinfo import ZoneInfo

from aiohttp import web

from . import butlr, concordia, occuspace
from .app import Simulator, create_app

LOGGER = logging.getLogger("tests.simulator")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8124
DEFAULT_INTERVAL = 10.0

# Traffic events older than this are dropped: occupancy counts from local midnight.
TRAFFIC_KEPT = timedelta(days=2)
# The most people a room or library whose capacity is unknown holds in the demo.
UNKNOWN_CAPACITY_LIMIT = 6
CONCORDIA_LIMITS = {"Webster": 900, "Vanier": 300, "GreyNuns": 60}


def demo_simulator(now: datetime) -> Simulator:
    """The demo: Butlr's small office, Occuspace's seed and Concordia's libraries.

    Occuspace answers computed bodies rather than the seed's verbatim payloads,
    so that its counts can move; they start at the seed's numbers.
    """
    return Simulator(
        butlr=butlr.demo_scenario(now),
        occuspace=occuspace.seed_scenario(now_payloads={}, locations_payload=None),
        concordia=concordia.seed_scenario(now),
    )


def _site_midnight(site: butlr.ButlrSite, now: datetime) -> datetime:
    """Local midnight of a Butlr site, where its traffic rooms start counting."""
    zone = ZoneInfo(site.timezone) if site.timezone else UTC
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _step_traffic_room(
    room: butlr.ButlrRoom, since: datetime, now: datetime, rng: random.Random
) -> None:
    """Append an entry/exit event that keeps the room between empty and full."""
    room.traffic = [event for event in room.traffic if event[0] >= now - TRAFFIC_KEPT]
    today = [event for event in room.traffic if event[0] >= since]
    inside = max(0, sum(event[1] for event in today) - sum(e[2] for e in today))
    limit = room.capacity or UNKNOWN_CAPACITY_LIMIT
    entries = rng.randint(0, max(0, min(3, limit - inside)))
    exits = rng.randint(0, min(3, inside + entries))
    if entries or exits:
        room.traffic.append((now, entries, exits))


def _step_presence_room(room: butlr.ButlrRoom, rng: random.Random) -> None:
    """Move one person in or out under one of the room's presence sensors."""
    sensors = [sensor for sensor in room.sensors if sensor.mode == "presence"]
    if not sensors:
        return
    limit = room.capacity or UNKNOWN_CAPACITY_LIMIT
    inside = sum(sensor.people for sensor in sensors)
    sensor = rng.choice(sensors)
    change = rng.choice((-1, 0, 0, 1))
    if change > 0 and inside < limit:
        sensor.people += 1
    elif change < 0 and sensor.people > 0:
        sensor.people -= 1


def _step_butlr(
    scenario: butlr.ButlrScenario, now: datetime, rng: random.Random
) -> None:
    for site in scenario.sites:
        since = _site_midnight(site, now)
        for building in site.buildings:
            for floor in building.floors:
                for room in floor.rooms:
                    if any(sensor.mode == "traffic" for sensor in room.sensors):
                        _step_traffic_room(room, since, now, rng)
                    else:
                        _step_presence_room(room, rng)


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


async def move_people(
    simulator: Simulator, interval: float, rng: random.Random
) -> None:
    """Advance the scenarios every ``interval`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        advance(simulator, datetime.now(UTC), rng)


def is_loopback(host: str) -> bool:
    """Tell whether a host name or address is this machine's loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve(
    host: str, port: int, interval: float, rng: random.Random, *, access_log: bool
) -> None:
    """Serve the demo simulator until SIGINT or SIGTERM."""
    simulator = demo_simulator(datetime.now(UTC))
    runner = web.AppRunner(
        create_app(simulator),
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
            serve(args.host, args.port, args.interval, rng, access_log=args.access_log)
        )
    except OSError as err:
        LOGGER.error("Cannot listen on %s:%s: %s", args.host, args.port, err)  # noqa: TRY400
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
