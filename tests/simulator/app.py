"""The simulator's application, request log and fault injection."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web

from . import butlr, concordia, occuspace
from .butlr import ButlrScenario
from .common import utcnow
from .concordia import ConcordiaScenario
from .occuspace import OccuspaceScenario


@dataclass
class Fault:
    """Answer the next ``times`` requests whose path starts with ``path`` badly.

    kind: ``status`` (``status`` with ``body``), ``html`` (``status`` with an
    HTML page), ``malformed`` (200 with broken JSON), ``json`` (200 with
    ``body`` as the JSON text), ``delay`` (wait ``delay`` seconds, then answer
    normally), ``reset`` (drop the connection).
    """

    path: str
    kind: str = "status"
    status: int = 500
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1


@dataclass
class Simulator:
    """Everything the simulated providers know, and what they were asked."""

    butlr: ButlrScenario = field(default_factory=ButlrScenario)
    occuspace: OccuspaceScenario = field(default_factory=OccuspaceScenario)
    concordia: ConcordiaScenario = field(default_factory=ConcordiaScenario)
    clock: Callable[[], datetime] = utcnow
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    # Seconds every request waits before it is answered: the network's round
    # trip to a real provider (concurrent requests wait side by side).
    latency: float = 0.0

    def inject(self, fault: Fault) -> None:
        """Queue a fault."""
        self.faults.append(fault)

    def requests_to(self, prefix: str) -> list[tuple[str, str]]:
        """The logged requests whose path starts with prefix."""
        return [request for request in self.requests if request[1].startswith(prefix)]

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if path.startswith(fault.path) and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None


SIMULATOR_KEY = web.AppKey("simulator", Simulator)

HTML_PAGE = (
    '<!DOCTYPE html>\n<html lang="en"><head><title>Error</title></head>'
    "<body><pre>Cannot GET {path}</pre></body></html>"
)


@web.middleware
async def _faults(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    simulator = request.app[SIMULATOR_KEY]
    simulator.requests.append((request.method, request.path))
    if simulator.latency > 0:
        await asyncio.sleep(simulator.latency)
    fault = simulator._take_fault(request.path)
    if fault is None:
        return await handler(request)
    if fault.kind == "delay":
        await asyncio.sleep(fault.delay)
        return await handler(request)
    if fault.kind == "reset":
        assert request.transport is not None
        request.transport.close()
        raise ConnectionResetError
    if fault.kind == "html":
        return web.Response(
            status=fault.status,
            text=HTML_PAGE.format(path=request.path),
            content_type="text/html",
            headers=fault.headers,
        )
    if fault.kind == "malformed":
        return web.Response(text='{"data": {', content_type="application/json")
    if fault.kind == "json":
        return web.Response(text=fault.body, content_type="application/json")
    return web.Response(status=fault.status, text=fault.body, headers=fault.headers)


def create_app(simulator: Simulator) -> web.Application:
    """The simulator as an aiohttp application."""
    app = web.Application(middlewares=[_faults])
    app[SIMULATOR_KEY] = simulator
    butlr.add_routes(app, lambda: simulator.butlr)
    concordia.add_routes(app, lambda: simulator.concordia)
    occuspace.add_routes(app, lambda: simulator.occuspace)
    return app
