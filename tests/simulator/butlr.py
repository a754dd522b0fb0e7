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
from zoneinfo import ZoneInfo

from aiohttp import web

from .butlr_webhooks import WebhookService
from .common import utcnow


@dataclass
class ButlrSensor:
    """A sensor: presence sensors report ``people``, traffic sensors events.

    ``history`` holds raw (time, people under the sensor) points, for history
    reports (hourly windows). ``mode`` is what the topology says, which may be
    anything (None, "Presence", "unknown"). The health fields are the
    topology's (butlr-push.md §5.1): ``power_type`` "Wired" or "Battery" (or
    None), ``battery_change_by`` an RFC 3339 string, ``last_heartbeat`` Unix
    seconds.
    """

    mac_address: str
    mode: Any = "presence"
    is_online: bool = True
    people: int = 0
    history: list[tuple[datetime, float]] = field(default_factory=list)
    is_entrance: bool = False
    power_type: str | None = None
    battery_change_by: str | None = None
    last_heartbeat: int | None = None


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
class ButlrZone:
    """A zone of a floor, in a room or not; ``occupancy_history`` is ``zone_occupancy``."""

    id: str
    name: str
    room_id: str | None = None
    capacity: int = 0
    occupancy_history: list[tuple[datetime, float]] = field(default_factory=list)


@dataclass
class ButlrFloor:
    """A floor (``space_`` id).

    ``sensors`` are the floor's own (main entrances among them, in no room);
    ``occupancy_history`` is its calibrated ``traffic_floor_occupancy``.
    """

    id: str
    name: str
    capacity: int = 0
    rooms: list[ButlrRoom] = field(default_factory=list)
    sensors: list[ButlrSensor] = field(default_factory=list)
    zones: list[ButlrZone] = field(default_factory=list)
    occupancy_history: list[tuple[datetime, float]] = field(default_factory=list)


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
    # When set, series reports (calibrated traffic, zones) answer this verbatim.
    series_payload: Any = None
    # Where the topology lists sensors: "rooms" (under each room), "floors"
    # (under each floor, with a room_id) or "flat" (the top-level list).
    sensor_listing: str = "flat"
    # The shape of every reporting answer: "stats" (statistics objects, as the
    # seeds), "raw" (the same nesting with lists of raw points) or "flat" (a
    # list of raw points). None: as the request asks (group_by.raw: raw).
    answer_shape: str | None = None
    # Whether one report may ask several measurements (else HTTP 400).
    mixes_measurements: bool = True
    # When set, reporting bodies are answered with what it returns (unless None).
    answer_hook: Callable[[dict[str, Any]], Any] | None = None
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

    def floors(self) -> list[tuple[ButlrSite, ButlrFloor]]:
        """Every floor of the organisation, with its site."""
        return [
            (site, floor)
            for site in self.sites
            for building in site.buildings
            for floor in building.floors
        ]

    def rooms(self) -> list[ButlrRoom]:
        """Every room of the organisation."""
        return [room for _, floor in self.floors() for room in floor.rooms]

    def revoke_tokens(self) -> None:
        """Forget every issued token, as if they had all expired."""
        self.tokens.clear()


HOUR = timedelta(hours=1)

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


def _sensor_json(
    sensor: ButlrSensor, room_id: str | None, floor_id: str
) -> dict[str, Any]:
    """A sensor as the topology lists it (butlr-push.md §5.1)."""
    return {
        "id": f"sensor_{sensor.mac_address}",
        "mac_address": sensor.mac_address,
        "mode": sensor.mode,
        "floor_id": floor_id,
        "room_id": room_id,
        "is_entrance": sensor.is_entrance,
        "is_online": sensor.is_online,
        "power_type": sensor.power_type,
        "battery_change_by_date": sensor.battery_change_by,
        "last_heartbeat": sensor.last_heartbeat,
    }


def _floor_sensors(floor: ButlrFloor) -> list[dict[str, Any]]:
    """Every sensor of a floor: its rooms' (with their room id) and its own."""
    return [
        *(
            _sensor_json(sensor, room.id, floor.id)
            for room in floor.rooms
            for sensor in room.sensors
        ),
        *(_sensor_json(sensor, None, floor.id) for sensor in floor.sensors),
    ]


def _room_json(room: ButlrRoom, floor: ButlrFloor, listing: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": room.id,
        "name": room.name,
        "floor_id": floor.id,
        "capacity": _capacity(room.capacity),
    }
    if listing == "rooms":
        answer["sensors"] = [
            _sensor_json(sensor, room.id, floor.id) for sensor in room.sensors
        ]
    return answer


def _floor_json(
    floor: ButlrFloor, timezone: str | None, listing: str
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "id": floor.id,
        "name": floor.name,
        "timezone": timezone,
        "capacity": _capacity(floor.capacity),
        "rooms": [_room_json(room, floor, listing) for room in floor.rooms],
        "zones": [
            {
                "id": zone.id,
                "name": zone.name,
                "floor_id": floor.id,
                "room_id": zone.room_id,
                "capacity": _capacity(zone.capacity),
            }
            for zone in floor.zones
        ],
    }
    if listing == "floors":
        answer["sensors"] = _floor_sensors(floor)
    elif listing == "rooms":
        answer["sensors"] = [
            _sensor_json(sensor, None, floor.id) for sensor in floor.sensors
        ]
    return answer


def topology(
    scenario: ButlrScenario, sites: list[ButlrSite] | None = None
) -> dict[str, Any]:
    """The GraphQL answer for the topology query (the scenario's sites by default).

    Sensors are listed where ``scenario.sensor_listing`` says.
    """
    listing = scenario.sensor_listing
    chosen = scenario.sites if sites is None else sites
    data: dict[str, Any] = {
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
                                _floor_json(floor, site.timezone, listing)
                                for floor in building.floors
                            ],
                        }
                        for building in site.buildings
                    ],
                }
                for site in chosen
            ]
        }
    }
    if listing == "flat":
        data["sensors"] = {
            "data": [
                sensor
                for site in chosen
                for building in site.buildings
                for floor in building.floors
                for sensor in _floor_sensors(floor)
            ]
        }
    return {"data": data}


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


def _wire_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def raw_point(
    measurement: str,
    value: float,
    moment: datetime,
    *,
    field_name: str = "occupancy",
    span: timedelta = timedelta(0),
    **ids: str,
) -> dict[str, Any]:
    """A raw point as Butlr's reporting API answers it (butlr-push.md §4.3)."""
    point: dict[str, Any] = {
        "building_id": "",
        "field": field_name,
        "hive_id": "",
        "mac_address": "",
        "measurement": measurement,
        "preprocessed": True,
        "room_id": "",
        "sensor_id": "",
        "space_id": "",
        "start": _wire_time(moment),
        "stop": _wire_time(moment + span),
        "tag_id": "",
        "time": _wire_time(moment),
        "timezone_offset": "",
        "value": value,
        "zone_id": "",
    }
    point.update(ids)
    return point


# A raw point with the keys it is grouped by, outermost first.
Keyed = tuple[tuple[str, ...], dict[str, Any]]


def shaped(points: list[Keyed], shape: str) -> Any:
    """Answer points in a shape: nested statistics, nested raw points, or flat.

    Points are given in time order: a statistics object's ``last`` is the newest.
    """
    if shape == "flat":
        return [point for _, point in points]
    data: dict[str, Any] = {}
    for path, point in points:
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node.setdefault(path[-1], []).append(point)
    if shape == "stats":
        pending = [data]
        while pending:
            node = pending.pop()
            for key, child in node.items():
                if isinstance(child, list):
                    node[key] = _stats([point["value"] for point in child])
                else:
                    pending.append(child)
    return data


def _shape(scenario: ButlrScenario, default: str = "stats") -> str:
    return scenario.answer_shape or default


def _wanted_rooms(
    scenario: ButlrScenario, report_filter: dict[str, Any], key: str = "rooms"
) -> set[str] | None:
    """The assets a report's ``filter.<key>.eq`` asks for; None for all."""
    if not scenario.honours_room_filter:
        return None
    return set(report_filter.get(key, {}).get("eq", ())) or None


def _events(room: ButlrRoom, start: datetime, stop: datetime) -> list[Keyed]:
    """A room's entries and exits as raw points, grouped by room and field."""
    mac_address = next(
        (sensor.mac_address for sensor in room.sensors if sensor.mode == "traffic"),
        "",
    )
    points: list[Keyed] = []
    for moment, entries, exits in sorted(room.traffic, key=lambda event: event[0]):
        if not start <= moment < stop:
            continue
        for field_name, count in (("in", entries), ("out", exits)):
            if count:
                point = raw_point(
                    "traffic",
                    count,
                    moment,
                    field_name=field_name,
                    room_id=room.id,
                    mac_address=mac_address,
                )
                points.append(((room.id, field_name), point))
    return points


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
    points = [
        point
        for room in scenario.rooms()
        if wanted is None or room.id in wanted
        for point in _events(room, start, stop)
    ]
    return {"data": shaped(points, _shape(scenario))}


def presence_report(
    scenario: ButlrScenario, report_filter: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The last value of every online presence sensor, per room (those asked for)."""
    now = scenario.clock()
    wanted = _wanted_rooms(scenario, report_filter or {})
    points: list[Keyed] = [
        (
            (room.id, sensor.mac_address),
            raw_point(
                "presence",
                sensor.people,
                now - timedelta(seconds=1),
                room_id=room.id,
                mac_address=sensor.mac_address,
            ),
        )
        for room in scenario.rooms()
        if wanted is None or room.id in wanted
        for sensor in room.sensors
        if sensor.mode == "presence" and sensor.is_online
    ]
    return {"data": shaped(points, _shape(scenario))}


# Butlr's own series, read live: each measurement's asset key and filter key.
SERIES_ASSETS = {
    "traffic_room_occupancy": ("room_id", "rooms"),
    "traffic_floor_occupancy": ("space_id", "spaces"),
    "zone_occupancy": ("zone_id", "zones"),
}
CALIBRATED_MEASUREMENTS = ("traffic_room_occupancy", "traffic_floor_occupancy")


def _series_assets(
    scenario: ButlrScenario, measurement: str, body: dict[str, Any]
) -> list[tuple[dict[str, str], list[tuple[datetime, float]]]]:
    """Each asset of a measurement: its ids, and its points.

    Without ``"calibrated": "true"`` a traffic room's series is its door-line
    count (entries minus exits since the window's local midnight), drift and all.
    """
    calibrated = body["filter"].get("calibrated") == "true"
    assets: list[tuple[dict[str, str], list[tuple[datetime, float]]]] = []
    for site, floor in scenario.floors():
        if measurement == "traffic_floor_occupancy" and any(
            sensor.is_entrance for sensor in floor.sensors
        ):
            assets.append(({"space_id": floor.id}, floor.occupancy_history))
        for zone_ in floor.zones if measurement == "zone_occupancy" else ():
            ids = {"space_id": floor.id, "zone_id": zone_.id}
            if zone_.room_id:
                ids["room_id"] = zone_.room_id
            assets.append((ids, zone_.occupancy_history))
        for room in floor.rooms if measurement == "traffic_room_occupancy" else ():
            if any(sensor.mode == "traffic" for sensor in room.sensors):
                points = (
                    room.occupancy_history
                    if calibrated
                    else _door_line_points(room, site, body)
                )
                assets.append(({"space_id": floor.id, "room_id": room.id}, points))
    return assets


def _door_line_points(
    room: ButlrRoom, site: ButlrSite, body: dict[str, Any]
) -> list[tuple[datetime, float]]:
    stop = _parse_time(body["filter"]["stop"])
    timezone = body.get("window", {}).get("timezone") or site.timezone or "UTC"
    local = stop.astimezone(ZoneInfo(timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    today = [event for event in room.traffic if midnight <= event[0] < stop]
    inside = sum(event[1] for event in today) - sum(event[2] for event in today)
    return [(stop - timedelta(seconds=1), float(max(0, inside)))]


def _minute_windows(
    points: list[tuple[datetime, float]], start: datetime, stop: datetime
) -> list[tuple[datetime, float]]:
    """The median of each minute in [start, stop) that holds a point."""
    buckets: dict[datetime, list[float]] = {}
    for moment, value in points:
        if start <= moment < stop:
            minute = moment.astimezone(UTC).replace(second=0, microsecond=0)
            buckets.setdefault(minute, []).append(value)
    return [
        (minute, float(statistics.median(values)))
        for minute, values in sorted(buckets.items())
    ]


def series_report(scenario: ButlrScenario, body: dict[str, Any]) -> dict[str, Any]:
    """Butlr's own series of rooms, floors and zones: one-minute medians.

    Raises HistoryRequestError for what Butlr answers 400 to. Each
    measurement's assets are filtered by its own filter key.
    """
    report_filter = body["filter"]
    measurements = report_filter["measurements"]
    if len(measurements) > 1 and not scenario.mixes_measurements:
        raise HistoryRequestError("one measurement per report")
    if body.get("window", {}).get("every") != "1m":
        raise HistoryRequestError("series are read in 1m windows")
    start = _absolute_time(report_filter, "start")
    stop = _absolute_time(report_filter, "stop")
    minimum = report_filter.get("value", {}).get("gte")
    points: list[Keyed] = []
    for measurement in measurements:
        asset_key, filter_key = SERIES_ASSETS[measurement]
        wanted = _wanted_rooms(scenario, report_filter, filter_key)
        for ids, series in _series_assets(scenario, measurement, body):
            asset = ids[asset_key]
            if wanted is not None and asset not in wanted:
                continue
            for minute, value in _minute_windows(series, start, stop):
                if minimum is None or value >= minimum:
                    point = raw_point(
                        measurement, value, minute, span=timedelta(minutes=1), **ids
                    )
                    points.append(((asset, _wire_time(minute)), point))
    default = "raw" if body.get("group_by", {}).get("raw") else "stats"
    if "group_by" not in body:
        default = "flat"
    return {"data": shaped(points, _shape(scenario, default))}


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
    "traffic_floor_occupancy": ["space_id", "time"],
    "zone_occupancy": ["zone_id", "time"],
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


def _history_series(
    scenario: ButlrScenario, measurement: str, body: dict[str, Any]
) -> list[tuple[tuple[str, ...], dict[str, str], list[tuple[datetime, float]]]]:
    """Each series a history request reads: its group keys, ids and raw points."""
    if measurement != "presence":
        asset_key = SERIES_ASSETS[measurement][0]
        return [
            ((ids[asset_key],), ids, points)
            for ids, points in _series_assets(scenario, measurement, body)
        ]
    return [
        (
            (room.id, sensor.mac_address),
            {"room_id": room.id, "mac_address": sensor.mac_address},
            sensor.history,
        )
        for room in scenario.rooms()
        for sensor in room.sensors
        if sensor.mode == "presence"
    ]


def _check_history(body: dict[str, Any]) -> tuple[str, Callable[[list[float]], float]]:
    """Return the measurement and window function of a history request Butlr takes."""
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
    return measurement, function


def history_report(scenario: ButlrScenario, body: dict[str, Any]) -> dict[str, Any]:
    """Hourly history of presence sensors, traffic rooms and floors, or zones.

    Raises HistoryRequestError for what Butlr answers 400 to.
    """
    measurement, function = _check_history(body)
    report_filter = body["filter"]
    start = _absolute_time(report_filter, "start")
    stop = _absolute_time(report_filter, "stop")
    if start >= stop:
        raise HistoryRequestError("filter.start must be before filter.stop")
    if stop - start > HISTORY_WINDOWS[body["window"]["every"]][1]:
        raise HistoryRequestError(
            f"range too long for {body['window']['every']} windows"
        )
    minimum = report_filter.get("value", {}).get("gte")
    filter_key = SERIES_ASSETS.get(measurement, ("room_id", "rooms"))[1]
    wanted = _wanted_rooms(scenario, report_filter, filter_key)
    points: list[Keyed] = []
    for path, ids, series in _history_series(scenario, measurement, body):
        if wanted is not None and path[0] not in wanted:
            continue
        for hour, stats in hourly_windows(
            series, start, stop, function, minimum
        ).items():
            point = raw_point(
                measurement, stats["last"], _parse_time(hour), span=HOUR, **ids
            )
            points.append(((*path, hour), point))
    return {"data": shaped(points, _shape(scenario))}


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
    try:
        return web.json_response(_report_payload(scenario, body))
    except HistoryRequestError as err:
        return web.json_response({"error": str(err)}, status=400)


def _report_payload(scenario: ButlrScenario, body: dict[str, Any]) -> Any:
    """The answer to a reporting body; HistoryRequestError for a 400."""
    if (
        scenario.answer_hook is not None
        and (payload := scenario.answer_hook(body)) is not None
    ):
        return payload
    if is_history_request(body):
        if scenario.history_payload is not None:
            return scenario.history_payload
        return history_report(scenario, body)
    report_filter = body.get("filter", {})
    measurements = report_filter.get("measurements", [])
    if measurements == ["presence"]:
        return scenario.presence_payload or presence_report(scenario, report_filter)
    if measurements == ["traffic"]:
        return scenario.traffic_payload or traffic_report(scenario, report_filter)
    if measurements and set(measurements) <= SERIES_ASSETS.keys():
        if scenario.series_payload is not None:
            return scenario.series_payload
        return series_report(scenario, body)
    raise HistoryRequestError("unsupported measurement")


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

    Meeting room: 2 + 1 people under two battery presence sensors (capacity 8),
    one battery due in 20 days. Focus room: nobody, capacity unknown.
    Cafeteria: 7 in, 2 out today (capacity 40), a wired traffic sensor.
    """
    today = now - timedelta(minutes=30)
    yesterday = now - timedelta(days=2)
    heartbeat = int(now.timestamp()) - 120

    def battery(days: int) -> str:
        return _wire_time(now + timedelta(days=days))

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
                                            ButlrSensor(
                                                "00-01",
                                                "presence",
                                                people=2,
                                                power_type="Battery",
                                                battery_change_by=battery(100),
                                                last_heartbeat=heartbeat,
                                            ),
                                            ButlrSensor(
                                                "00-02",
                                                "presence",
                                                people=1,
                                                power_type="Battery",
                                                battery_change_by=battery(20),
                                                last_heartbeat=heartbeat - 60,
                                            ),
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
                                        sensors=[
                                            ButlrSensor(
                                                "00-04",
                                                "traffic",
                                                power_type="Wired",
                                                last_heartbeat=heartbeat,
                                            )
                                        ],
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
