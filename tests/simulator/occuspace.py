"""Simulated Occuspace API v1: the location list and both real-time paths."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .common import load_fixture, utcnow

SEED_TOKEN = "seed-token"
EARLIEST_COUNT = "2020-01-15"

# What an Express server answers for a route it does not have.
EXPRESS_404 = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    "<title>Error</title>\n</head>\n<body>\n<pre>Cannot GET {path}</pre>\n"
    "</body>\n</html>\n"
)


@dataclass
class OccuspaceLocation:
    """A location; the count of one with children is the sum of its active children."""

    id: int
    name: str
    parent_id: int | None
    capacity: int
    count: int = 0
    is_active: bool = True


@dataclass
class OccuspaceScenario:
    """The locations the simulated Occuspace serves, and which tokens it accepts.

    ``parent_key`` is the casing of the parent field (``parentID`` or
    ``parentId``). ``singular_path_only`` makes ``/locations/{id}/now`` a 404
    page, so only ``/location/{id}/now`` answers. ``hidden`` ids answer 401 on
    both paths, as locations the token may not see. ``messages`` replace "OK"
    per location id; ``now_payloads`` and ``locations_payload`` are answered
    verbatim instead of the computed bodies.
    """

    locations: list[OccuspaceLocation] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    clock: Callable[[], datetime] = utcnow
    parent_key: str = "parentID"
    singular_path_only: bool = False
    hidden: set[int] = field(default_factory=set)
    messages: dict[int, str] = field(default_factory=dict)
    now_payloads: dict[int, Any] = field(default_factory=dict)
    locations_payload: Any = None
    locations_message: str = "OK"
    requests: list[str] = field(default_factory=list)

    def location(self, location_id: int) -> OccuspaceLocation | None:
        """Return the location with this id, if there is one."""
        return next((loc for loc in self.locations if loc.id == location_id), None)

    def children(self, location_id: int) -> list[OccuspaceLocation]:
        """Return the direct children of a location."""
        return [loc for loc in self.locations if loc.parent_id == location_id]

    def count(self, location: OccuspaceLocation) -> int:
        """Count people in a location: its own count, or the sum over active children."""
        children = self.children(location.id)
        if not children:
            return location.count
        return sum(self.count(child) for child in children if self.is_active(child))

    def is_active(self, location: OccuspaceLocation) -> bool:
        """Tell whether a location is active: with children, while one of them is."""
        children = self.children(location.id)
        if not children:
            return location.is_active
        return location.is_active and any(self.is_active(child) for child in children)

    def requests_to(self, prefix: str) -> list[str]:
        """Return the logged request paths that start with prefix."""
        return [path for path in self.requests if path.startswith(prefix)]


OCCUSPACE_KEY = web.AppKey("occuspace", Callable[[], OccuspaceScenario])


def _fraction(count: int, capacity: int) -> float | None:
    """Return Occuspace's ``percentage``: a 0-1 fraction, two decimals."""
    return round(count / capacity, 2) if capacity > 0 else None


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def locations_body(scenario: OccuspaceScenario) -> dict[str, Any]:
    """Build the ``/locations`` answer."""
    return {
        "message": scenario.locations_message,
        "data": [
            {
                "id": loc.id,
                "name": loc.name,
                scenario.parent_key: loc.parent_id,
                "capacity": loc.capacity,
                "earliestCount": EARLIEST_COUNT,
                "isActive": scenario.is_active(loc),
            }
            for loc in scenario.locations
        ],
    }


def now_body(
    scenario: OccuspaceScenario, location: OccuspaceLocation
) -> dict[str, Any]:
    """Build the ``/locations/{id}/now`` answer: a location and its direct children."""
    children = scenario.children(location.id)
    count = scenario.count(location)
    return {
        "message": scenario.messages.get(location.id, "OK"),
        "data": {
            "id": location.id,
            "name": location.name,
            "count": count,
            "percentage": _fraction(count, location.capacity),
            "timestamp": _timestamp(scenario.clock()),
            "isActive": scenario.is_active(location),
            "childCounts": [
                {
                    "id": child.id,
                    "name": child.name,
                    "count": scenario.count(child),
                    "percentage": _fraction(scenario.count(child), child.capacity),
                    "isActive": scenario.is_active(child),
                }
                for child in children
            ]
            or None,
        },
    }


def _unauthorized() -> web.Response:
    return web.json_response({"message": "Unauthorized"}, status=401)


def express_not_found(path: str) -> web.Response:
    """Answer Express's 404 page: HTML, not JSON."""
    return web.Response(
        status=404, text=EXPRESS_404.format(path=path), content_type="text/html"
    )


def _authorized(request: web.Request) -> bool:
    scenario = request.app[OCCUSPACE_KEY]()
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    return token in scenario.tokens


async def _locations(request: web.Request) -> web.Response:
    scenario = request.app[OCCUSPACE_KEY]()
    scenario.requests.append(request.path)
    if not _authorized(request):
        return _unauthorized()
    if scenario.locations_payload is not None:
        return web.json_response(scenario.locations_payload)
    return web.json_response(locations_body(scenario))


async def _now(request: web.Request) -> web.Response:
    scenario = request.app[OCCUSPACE_KEY]()
    scenario.requests.append(request.path)
    if scenario.singular_path_only and request.path.startswith("/v1/locations/"):
        return express_not_found(request.path)
    if not _authorized(request):
        return _unauthorized()
    try:
        location_id = int(request.match_info["id"])
    except ValueError:
        return web.json_response({"message": "Invalid location id"}, status=400)
    location = scenario.location(location_id)
    # Occuspace answers 401 for a location the token may not see.
    if location is None or location_id in scenario.hidden:
        return _unauthorized()
    if location_id in scenario.now_payloads:
        return web.json_response(scenario.now_payloads[location_id])
    return web.json_response(now_body(scenario, location))


async def _not_found(request: web.Request) -> web.Response:
    request.app[OCCUSPACE_KEY]().requests.append(request.path)
    return express_not_found(request.path)


def add_routes(
    app: web.Application, scenario: OccuspaceScenario | Callable[[], OccuspaceScenario]
) -> None:
    """Serve Occuspace's v1 endpoints from a scenario."""
    # A getter, so that a test may swap the whole scenario while serving.
    app[OCCUSPACE_KEY] = scenario if callable(scenario) else lambda: scenario
    app.router.add_get("/v1/locations", _locations)
    app.router.add_get("/v1/locations/{id}/now", _now)
    app.router.add_get("/v1/location/{id}/now", _now)
    # Anything else under /v1 is a route Express does not have.
    app.router.add_get("/v1/{tail:.*}", _not_found)


def seed_scenario(**overrides: Any) -> OccuspaceScenario:
    """Build the seed's example: Sales, its Office Building and that one's floors.

    ``/locations`` and the building's ``now`` answer the seed's payloads
    verbatim; the root's ``now`` is computed from the same numbers.
    """
    scenario = OccuspaceScenario(
        locations=[
            OccuspaceLocation(1, "Sales", None, 1000),
            OccuspaceLocation(2, "Office Building", 1, 500),
            OccuspaceLocation(3, "Office 1st Floor", 2, 390, count=70),
            OccuspaceLocation(4, "Office 2nd Floor", 2, 100, count=30),
        ],
        tokens={SEED_TOKEN},
        now_payloads={2: load_fixture("occuspace_now_2.json")},
        locations_payload=load_fixture("occuspace_locations.json"),
    )
    for name, value in overrides.items():
        setattr(scenario, name, value)
    return scenario
