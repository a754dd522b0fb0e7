"""Simulated Butlr: logins, GraphQL topology and v3 reporting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import secrets
import statistics
import time
from typing import Any

from aiohttp import web

from .butlr_webhooks import WebhookService
from .common import utcnow


@dataclass
class ButlrSensor:
    """A sensor: presence sensors report ``people``, traffic sensors events.

    ``history`` holds raw (time, people under the sensor) points, for history
    reports (hourly windows).
    """

    mac_address: str
    mode: str = "presence"
    is_online: bool = True
    people: int = 0
    history: list[tuple[datetime, float]] = field(default_factory=list)


@dataclass
class ButlrRoom:
    """A room with sensors; ``traffic`` holds (time, entries, exits) events.

    ``occupancy_history`` holds raw (time, people inside) points: what Butlr's
    ``traffic_room_occupancy`` measurement reports for a traffic room.
    """

    id: str
    name: str
    capacity: int = 0
    sensors: list[ButlrSensor] = field(default_factory=list)
    traffic: list[tuple[datetime, int, int]] = field(default_factory=list)
    occupancy_history: list[tuple[datetime, float]] = field(default_factory=list)


@dataclass
class ButlrFloor:
    """A floor (``space_`` id)."""

    id: str
    name: str
    capacity: int = 0
    rooms: list[ButlrRoom] = field(default_factory=list)


@dataclass
class ButlrBuilding:
    """A building."""

    id: str
    name: str
    capacity: int = 0
    floors: list[ButlrFloor] = field(default_factory=list)


@dataclass
class ButlrSite:
    """A site, with its timezone (which may be unset)."""

    id: str
    name: str
    timezone: str | None = "America/New_York"
    buildings: list[ButlrBuilding] = field(default_factory=list)


@dataclass
class ButlrScenario:
    """The organisation the simulated Butlr serves, and who may log in."""

    sites: list[ButlrSite] = field(default_factory=list)
    accounts: dict[str, str] = field(default_factory=dict)
    api_clients: dict[str, str] = field(default_factory=dict)
    expires_in: int = 1000
    # When set, the login answer advertises this instead of expires_in.
    advertised_expires_in: Any = None
    # When set, reporting answers these payloads verbatim (the seeds' examples).
    presence_payload: Any = None
    traffic_payload: Any = None
    # When set, GraphQL answers this topology verbatim instead of the sites'.
    topology_payload: Any = None
    # When set, every history request is answered this payload verbatim.
    history_payload: Any = None
    clock: Callable[[], datetime] = utcnow
    tokens: dict[str, datetime] = field(default_factory=dict)
    # Who each token was issued to, and logins that belong to another
    # organisation (they see these sites instead of the scenario's).
    token_principals: dict[str, str] = field(default_factory=dict)
    other_organisations: dict[str, list[ButlrSite]] = field(default_factory=dict)
    logins: int = 0
    report_bodies: list[dict[str, Any]] = field(default_factory=list)
    # (time.monotonic() at arrival, body) of every history request (group_by
    # order ending in "time"), so that tests can check their pacing.
    history_requests: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    # No document says the reporting API honours ``filter.rooms``: when False,
    # traffic reports answer every room whatever the filter asks.
    honours_room_filter: bool = True
    # When set, a reporting call waits (at most ``report_wait`` seconds) until
    # this many reporting calls are in flight, to show calls sent side by side.
    reports_side_by_side: int = 0
    report_wait: float = 1.0
    reports_in_flight: int = 0
    most_reports_in_flight: int = 0
    in_flight_changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    # Per measurement ("presence", "traffic", "traffic_room_occupancy"; history
    # requests too): seconds to wait before answering,
    # and an HTTP status to refuse with instead of answering.
    report_delays: dict[str, float] = field(default_factory=dict)
    report_refusals: dict[str, int] = field(default_factory=dict)
    reports_answered: list[str] = field(default_factory=list)
    webhooks: WebhookService = field(default_factory=WebhookService)

    def rooms(self) -> list[ButlrRoom]:
        """Every room of the organisation."""
        return [
            room
            for site in self.sites
            for building in site.buildings
            for floor in building.floors
            for room in floor.rooms
        ]

    def revoke_tokens(self) -> None:
        """Forget every issued token, as if they had all expired."""
        self.tokens.clear()


BUTLR_KEY = web.AppKey("butlr", Callable[[], ButlrScenario])


def _unauthorized() -> web.Response:
    return web.json_response({"error": "Unauthorized"}, status=401)


def _issue_token(scenario: ButlrScenario, principal: str, **extra: Any) -> web.Response:
    token = secrets.token_urlsafe(24)
    scenario.tokens[token] = scenario.clock() + timedelta(seconds=scenario.expires_in)
    scenario.token_principals[token] = principal
    scenario.logins += 1
    return web.json_response(
        {
            "access_token": token,
            "expires_in": (
                scenario.expires_in
                if scenario.advertised_expires_in is None
                else scenario.advertised_expires_in
            ),
            "token_type": "Bearer",
            "scope": "read",
            **extra,
        }
    )


async def _login(request: web.Request) -> web.Response:
    scenario = request.app[BUTLR_KEY]()
    body = await request.json()
    if scenario.accounts.get(body.get("username")) != body.get(
        "password"
    ) or not body.get("password"):
        return _unauthorized()
    return _issue_token(
        scenario, body["username"], refresh_token="not-used", id_token="not-used"
    )


async def _client_login(request: web.Request) -> web.Response:
    scenario = request.app[BUTLR_KEY]()
    body = await request.json()
    if (
        scenario.api_clients.get(body.get("client_id")) != body.get("client_secret")
        or not body.get("client_secret")
        or body.get("grant_type") != "client_credentials"
        or body.get("audience") != "https://butlrauth/"
    ):
        return _unauthorized()
    return _issue_token(scenario, body["client_id"])


def _authorized(request: web.Request) -> bool:
    scenario = request.app[BUTLR_KEY]()
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ")
    expiry = scenario.tokens.get(token)
    return expiry is not None and scenario.clock() < expiry


def _capacity(value: int) -> dict[str, int]:
    return {"max": value, "mid": value // 2}


def topology(
    scenario: ButlrScenario, sites: list[ButlrSite] | None = None
) -> dict[str, Any]:
    """The GraphQL answer for the topology query (the scenario's sites by default)."""
    return {
        "data": {
            "sites": {
                "data": [
                    {
                        "id": site.id,
                        "name": site.name,
                        "timezone": site.timezone,
                        "buildings": [
                            {
                                "id": building.id,
                                "name": building.name,
                                "capacity": _capacity(building.capacity),
                                "floors": [
                                    {
                                        "id": floor.id,
                                        "name": floor.name,
                                        "timezone": site.timezone,
                                        "capacity": _capacity(floor.capacity),
                                        "rooms": [
                                            {
                                                "id": room.id,
                                                "name": room.name,
                                                "floor_id": floor.id,
                                                "capacity": _capacity(room.capacity),
                                                "sensors": [
                                                    {
                                                        "mac_address": sensor.mac_address,
                                                        "mode": sensor.mode,
                                                        "is_online": sensor.is_online,
                                                    }
                                                    for sensor in room.sensors
                                                ],
                                            }
                                            for room in floor.rooms
                                        ],
                                    }
                                    for floor in building.floors
                                ],
                            }
                            for building in site.buildings
                        ],
                    }
                    for site in (scenario.sites if sites is None else sites)
                ]
            }
        }
    }


async def _graphql(request: web.Request) -> web.Response:
    if not _authorized(request):
        return web.json_response(
            {
                "errors": [
                    {
                        "message": "Unauthorized",
                        "extensions": {"code": "UNAUTHENTICATED"},
                    }
                ]
            }
        )
    scenario = request.app[BUTLR_KEY]()
    token = request.headers["Authorization"].removeprefix("Bearer ")
    principal = scenario.token_principals.get(token, "")
    body = await request.json()
    webhooks = scenario.webhooks.answer(
        str(body.get("query", "")), body.get("variables") or {}, principal
    )
    if webhooks is not None:
        return web.json_response(webhooks)
    if scenario.topology_payload is not None:
        return web.json_response(scenario.topology_payload)
    return web.json_response(
        topology(scenario, scenario.other_organisations.get(principal))
    )


def _stats(values: list[float]) -> dict[str, float]:
    total = sum(values)
    return {
        "sum": total,
        "min": min(values),
        "max": max(values),
        "count": len(values),
        "mean": total / len(values),
        "median": sorted(values)[len(values) // 2],
        "stddev": 0,
        "first": values[0],
        "last": values[-1],
    }


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _wanted_rooms(
    scenario: ButlrScenario, report_filter: dict[str, Any]
) -> set[str] | None:
    """The rooms a report's ``filter.rooms.eq`` asks for; None for all."""
    if not scenario.honours_room_filter:
        return None
    return set(report_filter.get("rooms", {}).get("eq", ())) or None


def traffic_report(
    scenario: ButlrScenario, report_filter: dict[str, Any]
) -> dict[str, Any]:
    """Sums of entries and exits per room between filter start and stop."""
    start = _parse_time(report_filter["start"])
    stop = (
        _parse_time(report_filter["stop"])
        if "stop" in report_filter
        else scenario.clock()
    )
    wanted = _wanted_rooms(scenario, report_filter)
    data: dict[str, Any] = {}
    for room in scenario.rooms():
        if wanted is not None and room.id not in wanted:
            continue
        events = [event for event in room.traffic if start <= event[0] < stop]
        entries = [event[1] for event in events if event[1]]
        exits = [event[2] for event in events if event[2]]
        fields = {}
        if entries:
            fields["in"] = _stats(entries)
        if exits:
            fields["out"] = _stats(exits)
        if fields:
            data[room.id] = fields
    return {"data": data}


def presence_report(scenario: ButlrScenario) -> dict[str, Any]:
    """The last value of every online presence sensor, per room."""
    data: dict[str, Any] = {}
    for room in scenario.rooms():
        sensors = {
            sensor.mac_address: _stats([sensor.people])
            for sensor in room.sensors
            if sensor.mode == "presence" and sensor.is_online
        }
        if sensors:
            data[room.id] = sensors
    return {"data": data}


# History: hourly windows only, as the integration asks for them. Butlr caps the
# range of one request by window size; 1h windows cover at most 48 hours.
HISTORY_WINDOWS = {"1h": (timedelta(hours=1), timedelta(hours=48))}
WINDOW_FUNCTIONS: dict[str, Callable[[list[float]], float]] = {
    "mean": statistics.fmean,
    "median": statistics.median,
    "max": max,
    "min": min,
    "sum": sum,
    "first": lambda values: values[0],
    "last": lambda values: values[-1],
}
# group_by order by measurement: what the history report groups by.
HISTORY_GROUPINGS = {
    "presence": ["room_id", "mac_address", "time"],
    "traffic_room_occupancy": ["room_id", "time"],
}


class HistoryRequestError(ValueError):
    """A history request Butlr would refuse (HTTP 400)."""


def is_history_request(body: Any) -> bool:
    """Tell whether a reporting body groups by time (a history request)."""
    if not isinstance(body, dict):
        return False
    group_by = body.get("group_by")
    order = group_by.get("order") if isinstance(group_by, dict) else None
    return isinstance(order, list) and bool(order) and order[-1] == "time"


def _absolute_time(report_filter: dict[str, Any], key: str) -> datetime:
    value = report_filter.get(key)
    if not isinstance(value, str):
        raise HistoryRequestError(f"filter.{key} must be an absolute time")
    try:
        moment = _parse_time(value)
    except ValueError:
        raise HistoryRequestError(f"filter.{key} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise HistoryRequestError(f"filter.{key} has no UTC offset")
    return moment


def _hour_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:00:00Z")


def hourly_windows(
    points: list[tuple[datetime, float]],
    start: datetime,
    stop: datetime,
    function: Callable[[list[float]], float],
    minimum: float | None = None,
) -> dict[str, dict[str, float]]:
    """Statistics of each UTC hour in [start, stop) that holds a raw point.

    The window function turns an hour's raw points into one value; with time
    grouping each hour holds that one value, so every statistic equals it.
    """
    buckets: dict[str, list[tuple[datetime, float]]] = {}
    for moment, value in points:
        if start <= moment < stop and (minimum is None or value >= minimum):
            buckets.setdefault(_hour_key(moment), []).append((moment, value))
    return {
        key: _stats([function([value for _, value in sorted(bucket, key=_time)])])
        for key, bucket in sorted(buckets.items())
    }


def _time(point: tuple[datetime, float]) -> datetime:
    return point[0]


def history_report(scenario: ButlrScenario, body: dict[str, Any]) -> dict[str, Any]:
    """Hourly history of presence sensors or traffic rooms' occupancy.

    Raises HistoryRequestError for what Butlr answers 400 to.
    """
    report_filter = body.get("filter", {})
    window = body.get("window", {})
    measurements = report_filter.get("measurements", [])
    measurement = measurements[0] if len(measurements) == 1 else None
    if measurement not in HISTORY_GROUPINGS:
        raise HistoryRequestError(f"unsupported history measurements {measurements}")
    if body["group_by"]["order"] != HISTORY_GROUPINGS[measurement]:
        raise HistoryRequestError(f"unsupported group_by for {measurement}")
    if window.get("every") not in HISTORY_WINDOWS:
        raise HistoryRequestError(f"unsupported window {window.get('every')!r}")
    function = WINDOW_FUNCTIONS.get(window.get("function"))
    if function is None:
        raise HistoryRequestError(
            f"unsupported window function {window.get('function')!r}"
        )
    start = _absolute_time(report_filter, "start")
    stop = _absolute_time(report_filter, "stop")
    if start >= stop:
        raise HistoryRequestError("filter.start must be before filter.stop")
    if stop - start > HISTORY_WINDOWS[window["every"]][1]:
        raise HistoryRequestError(f"range too long for {window['every']} windows")
    minimum = report_filter.get("value", {}).get("gte")
    wanted = _wanted_rooms(scenario, report_filter)
    data: dict[str, Any] = {}
    for room in scenario.rooms():
        if wanted is not None and room.id not in wanted:
            continue
        if measurement == "traffic_room_occupancy":
            hours = hourly_windows(
                room.occupancy_history, start, stop, function, minimum
            )
            if hours:
                data[room.id] = hours
            continue
        sensors = {
            sensor.mac_address: hours
            for sensor in room.sensors
            if sensor.mode == "presence"
            and (
                hours := hourly_windows(sensor.history, start, stop, function, minimum)
            )
        }
        if sensors:
            data[room.id] = sensors
    return {"data": data}


async def _reporting(request: web.Request) -> web.Response:
    if not _authorized(request):
        return _unauthorized()
    scenario = request.app[BUTLR_KEY]()
    body = await request.json()
    scenario.report_bodies.append(body)
    if is_history_request(body):
        scenario.history_requests.append((time.monotonic(), body))
    scenario.reports_in_flight += 1
    try:
        scenario.most_reports_in_flight = max(
            scenario.most_reports_in_flight, scenario.reports_in_flight
        )
        async with scenario.in_flight_changed:
            scenario.in_flight_changed.notify_all()
            if scenario.reports_side_by_side:
                with suppress(TimeoutError):
                    async with asyncio.timeout(scenario.report_wait):
                        await scenario.in_flight_changed.wait_for(
                            lambda: (
                                scenario.reports_in_flight
                                >= scenario.reports_side_by_side
                            )
                        )
        measurement = ",".join(body.get("filter", {}).get("measurements", []))
        await asyncio.sleep(scenario.report_delays.get(measurement, 0))
        scenario.reports_answered.append(measurement)
        if status := scenario.report_refusals.get(measurement):
            return web.json_response({"error": "refused"}, status=status)
        return _report_answer(scenario, body)
    finally:
        scenario.reports_in_flight -= 1


def _report_answer(scenario: ButlrScenario, body: dict[str, Any]) -> web.Response:
    if is_history_request(body):
        if scenario.history_payload is not None:
            return web.json_response(scenario.history_payload)
        try:
            return web.json_response(history_report(scenario, body))
        except HistoryRequestError as err:
            return web.json_response({"error": str(err)}, status=400)
    report_filter = body.get("filter", {})
    measurements = report_filter.get("measurements", [])
    if measurements == ["presence"]:
        payload = scenario.presence_payload or presence_report(scenario)
    elif measurements == ["traffic"]:
        payload = scenario.traffic_payload or traffic_report(scenario, report_filter)
    else:
        return web.json_response({"error": "unsupported measurement"}, status=400)
    return web.json_response(payload)


def add_routes(
    app: web.Application, scenario: ButlrScenario | Callable[[], ButlrScenario]
) -> None:
    """Serve Butlr's endpoints from a scenario."""
    # A getter, so that a test may swap the whole scenario while serving.
    app[BUTLR_KEY] = scenario if callable(scenario) else lambda: scenario
    app.router.add_post("/api/v2/login", _login)
    app.router.add_post("/api/v2/clients/login", _client_login)
    app.router.add_post("/api/v3/graphql", _graphql)
    app.router.add_post("/api/v3/reporting", _reporting)


ACCOUNT = ("facilities@example.com", "correct-horse-battery")
API_CLIENT = ("client-7f3a", "s3cr3t-client-value")


def one_room_site(
    site_id: str, name: str, timezone: str | None, room: ButlrRoom
) -> ButlrSite:
    """A site of one building, one floor and this room: a second site for tests."""
    return ButlrSite(
        site_id,
        name,
        timezone,
        [
            ButlrBuilding(
                f"building_{site_id}",
                name,
                floors=[ButlrFloor(f"space_{site_id}", name, rooms=[room])],
            )
        ],
    )


def paris_lobby(traffic: list[tuple[datetime, int, int]] | None = None) -> ButlrSite:
    """A Paris site whose lobby counts traffic: a second timezone beside the demo."""
    lobby = ButlrRoom(
        "room_lobby",
        "Lobby",
        sensors=[ButlrSensor("p", "traffic")],
        traffic=traffic or [],
    )
    return one_room_site("site_paris", "Paris", "Europe/Paris", lobby)


def demo_scenario(
    now: datetime, timezone: str | None = "America/New_York"
) -> ButlrScenario:
    """A small office: two presence rooms, one traffic room, one room without sensors.

    Meeting room: 2 + 1 people under two presence sensors (capacity 8).
    Focus room: nobody, capacity unknown. Cafeteria: 7 in, 2 out today (capacity 40).
    """
    today = now - timedelta(minutes=30)
    yesterday = now - timedelta(days=2)
    return ButlrScenario(
        accounts={ACCOUNT[0]: ACCOUNT[1]},
        api_clients={API_CLIENT[0]: API_CLIENT[1]},
        sites=[
            ButlrSite(
                id="site_hq",
                name="HQ",
                timezone=timezone,
                buildings=[
                    ButlrBuilding(
                        id="building_main",
                        name="Main building",
                        capacity=0,
                        floors=[
                            ButlrFloor(
                                id="space_f1",
                                name="First floor",
                                capacity=60,
                                rooms=[
                                    ButlrRoom(
                                        id="room_meeting",
                                        name="Meeting room",
                                        capacity=8,
                                        sensors=[
                                            ButlrSensor("00-01", "presence", people=2),
                                            ButlrSensor("00-02", "presence", people=1),
                                        ],
                                    ),
                                    ButlrRoom(
                                        id="room_focus",
                                        name="Focus room",
                                        sensors=[ButlrSensor("00-03", "presence")],
                                    ),
                                    ButlrRoom(
                                        id="room_cafeteria",
                                        name="Cafeteria",
                                        capacity=40,
                                        sensors=[ButlrSensor("00-04", "traffic")],
                                        traffic=[
                                            (yesterday, 50, 0),
                                            (today, 5, 0),
                                            (today, 2, 2),
                                        ],
                                    ),
                                    ButlrRoom(id="room_storage", name="Storage"),
                                ],
                            )
                        ],
                    )
                ],
            )
        ],
    )
