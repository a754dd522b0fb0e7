"""Occuspace's ``now`` calls go out a few at a time, never more than the limit.

Occuspace answers one ``now`` call per location that has children (seed 002:
``childCounts`` holds direct children only), so a large tree takes many calls
per poll. The test server below counts the calls in flight and holds each one
until the client has as many in flight as the limit allows (or until every call
of the poll has arrived): a client that sends them one by one never fills the
gate, and one that sends more than the limit overfills it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
import pytest

from custom_components.space_occupancy.providers import (
    ClientContext,
    OccuspaceToken,
    ProviderConnectionError,
)
from custom_components.space_occupancy.providers.occuspace import (
    MAX_CONCURRENT_REQUESTS,
    OccuspaceClient,
)

from .simulator.occuspace import OccuspaceLocation, OccuspaceScenario, add_routes

NOW = datetime(2020, 2, 15, 15, 31, tzinfo=UTC)
TOKEN = "token-concurrency"
BUILDINGS = 20
FLOORS = 3
# The root and every building have children: each gets a now call.
POLLED = 1 + BUILDINGS
# A gate that never fills gives up after this long, so that a client sending
# its calls one by one fails the test instead of hanging it. It only bounds a
# failure: a passing run never waits for it.
STALL_TIMEOUT = 2.0


def campus() -> OccuspaceScenario:
    """Build a root, 20 buildings (ids 10-29) and three floors each."""
    locations = [OccuspaceLocation(1, "Campus", None, 10_000)]
    for building in range(BUILDINGS):
        building_id = 10 + building
        locations.append(OccuspaceLocation(building_id, f"B{building}", 1, 300))
        locations.extend(
            OccuspaceLocation(
                1000 + building * 10 + floor,
                f"B{building} F{floor}",
                building_id,
                100,
                count=building + floor,
            )
            for floor in range(FLOORS)
        )
    return OccuspaceScenario(locations=locations, tokens={TOKEN}, clock=lambda: NOW)


class Gate:
    """Counts ``now`` requests in flight at the server and holds them back.

    While armed, a request waits until ``hold_until`` requests are in flight
    together or ``expected`` have arrived in all. ``fail`` answers its paths
    with HTTP 500 at once; ``hold_forever`` holds every other request until
    ``release``.
    """

    def __init__(self) -> None:
        """Start disarmed: requests pass straight through."""
        self.armed = False
        self.expected = 0
        self.hold_until = MAX_CONCURRENT_REQUESTS
        self.hold_forever = False
        self.fail: set[str] = set()
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrived = 0
        self.stalled = False
        self.changed = asyncio.Condition()
        self.released = asyncio.Event()

    def arm(self, expected: int) -> None:
        """Count and hold the requests of the next poll."""
        self.armed = True
        self.expected = expected
        self.in_flight = self.max_in_flight = self.arrived = 0

    def release(self) -> None:
        """Let every held request go."""
        self.released.set()

    def _open(self) -> bool:
        return (
            self.stalled
            or self.in_flight >= self.hold_until
            or self.arrived >= self.expected
        )

    @web.middleware
    async def middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Hold a ``now`` request at the gate while counting it in flight."""
        if not self.armed or not request.path.endswith("/now"):
            return await handler(request)
        if request.path in self.fail:
            return web.Response(status=500, text="Internal Server Error")
        async with self.changed:
            self.arrived += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.changed.notify_all()
            if self.hold_forever:
                self.changed.release()
                try:
                    await self.released.wait()
                finally:
                    await self.changed.acquire()
            else:
                try:
                    async with asyncio.timeout(STALL_TIMEOUT):
                        await self.changed.wait_for(self._open)
                except TimeoutError:
                    self.stalled = True
                    self.changed.notify_all()
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1


@pytest.fixture
async def gated(
    socket_enabled: None,
) -> AsyncIterator[tuple[OccuspaceScenario, Gate, str]]:
    """Serve the campus behind a gate; return the scenario, the gate, the v1 URL."""
    scenario = campus()
    gate = Gate()
    app = web.Application(middlewares=[gate.middleware])
    add_routes(app, scenario)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield scenario, gate, str(server.make_url("/v1"))
    gate.release()
    await server.close()


def client_for(session: ClientSession, base_url: str) -> OccuspaceClient:
    """Build a client on a fixed clock."""
    return OccuspaceClient(
        ClientContext(session=session, clock=lambda: NOW),
        OccuspaceToken(TOKEN),
        base_url,
    )


def client_tasks() -> list[asyncio.Task[object]]:
    """Return the client's request tasks that have not finished."""
    return [
        task
        for task in asyncio.all_tasks()
        if task.get_name().startswith("occuspace now")
    ]


async def test_now_calls_overlap_up_to_the_limit(
    session: ClientSession, gated: tuple[OccuspaceScenario, Gate, str]
) -> None:
    """Calls overlap, never more than the limit at once; one call per parent, as before."""
    # A small fixed limit, polite to one provider; the poll needs several rounds.
    assert 4 <= MAX_CONCURRENT_REQUESTS <= 8
    assert POLLED > 2 * MAX_CONCURRENT_REQUESTS
    scenario, gate, base_url = gated
    client = client_for(session, base_url)
    sequential = await client.async_fetch()  # finds the path; the gate is open

    scenario.requests.clear()
    gate.arm(expected=POLLED)
    snapshot = await client.async_fetch()

    assert not gate.stalled
    assert gate.max_in_flight == MAX_CONCURRENT_REQUESTS
    assert gate.arrived == POLLED
    # The same requests as one after another: each parent once, no leaf.
    assert sorted(scenario.requests) == sorted(
        [
            "/v1/locations/1/now",
            *(f"/v1/locations/{10 + b}/now" for b in range(BUILDINGS)),
        ]
    )
    assert snapshot == sequential
    assert list(snapshot.readings) == list(sequential.readings)
    assert snapshot.readings["1012"].occupancy == 3
    assert snapshot.readings["11"].occupancy == sum(1 + floor for floor in range(3))
    assert snapshot.readings["1"].occupancy == sum(
        b + floor for b in range(BUILDINGS) for floor in range(FLOORS)
    )
    assert client_tasks() == []


async def test_failure_cancels_the_calls_in_flight(
    session: ClientSession, gated: tuple[OccuspaceScenario, Gate, str]
) -> None:
    """A 500 fails the poll at once; the calls still in flight are cancelled."""
    _, gate, base_url = gated
    client = client_for(session, base_url)
    await client.async_fetch()

    gate.arm(expected=POLLED)
    gate.hold_forever = True
    gate.fail = {"/v1/locations/13/now"}
    async with asyncio.timeout(10):
        with pytest.raises(ProviderConnectionError):
            await client.async_fetch()
        # Every call but the failed one was held: the others were in flight.
        assert gate.max_in_flight == MAX_CONCURRENT_REQUESTS - 1
        assert client_tasks() == []
        # Nothing was sent after the failure.
        assert gate.arrived == MAX_CONCURRENT_REQUESTS - 1

    gate.armed = False
    gate.release()
    snapshot = await client.async_fetch()
    assert snapshot.readings["13"].active
