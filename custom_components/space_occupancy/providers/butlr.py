"""Butlr: thermal traffic (door-line) and presence sensors.

Occupancy follows Butlr's own guides: a traffic room holds the people who came
in minus those who went out since local midnight of its site, never below
zero; a presence room holds the sum of its sensors' last values.

Beyond the guides: a room's entries and exits never go down within its local
day, so a traffic report that would lower them (or drop a room that had
traffic today) is bad data, not an empty room; a parent's percentage divides
the people and the capacity of the same children; a duplicated id is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
import logging
from typing import Any, Self, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .base import (
    KEY_BASE_URL,
    KEY_CLIENT_ID,
    KEY_CLIENT_SECRET,
    KEY_PASSWORD,
    KEY_USERNAME,
    ClientContext,
    expect_dict,
    expect_id,
    expect_list,
    optional_str,
    whole_people,
)
from .butlr_history import (
    MAX,
    MAX_HISTORY_SPAN,
    MEAN,
    MEASUREMENT_PRESENCE,
    MEASUREMENT_TRAFFIC_OCCUPANCY,
    MIN,
    history_body,
    presence_series,
    roll_up_history,
    room_history,
    room_series,
)
from .exceptions import ProviderAuthError, ProviderNoSpacesError, ProviderResponseError
from .http import HttpClient, ProviderStatusError
from .models import Account, History, Reading, Snapshot, Space, SpaceKind, percentage_of

DEFAULT_BASE_URL = "https://api.butlr.io"
LOGIN_PATH = "/api/v2/login"
CLIENT_LOGIN_PATH = "/api/v2/clients/login"
GRAPHQL_PATH = "/api/v3/graphql"
REPORTING_PATH = "/api/v3/reporting"
CLIENT_AUDIENCE = "https://butlrauth/"

# Sites, rooms and sensors change rarely: re-read the topology hourly.
TOPOLOGY_TTL = timedelta(hours=1)
# Presence: the newest value of each sensor within this window is "now".
PRESENCE_WINDOW = timedelta(minutes=2)
# Renew the token this long before it expires (at most a quarter of its life).
TOKEN_RENEW_MARGIN = timedelta(seconds=60)
# Used only when a login answer carries no usable expires_in.
FALLBACK_TOKEN_LIFETIME = timedelta(minutes=5)

MODE_PRESENCE = "presence"
MODE_TRAFFIC = "traffic"

TOPOLOGY_QUERY = """query { sites { data { id name timezone
  buildings { id name capacity { max mid }
    floors { id name timezone capacity { max mid }
      rooms { id name floor_id capacity { max mid }
        sensors { mac_address mode is_online } } } } } } }"""

_T = TypeVar("_T")

_LOGGER = logging.getLogger(__name__)

# Entries and exits of a traffic room: None where the report holds no number.
TrafficCounts = tuple[int | None, int | None]


@dataclass(frozen=True, slots=True)
class _Room:
    """What polling needs to know about one room."""

    id: str
    timezone: str | None  # None: the site names none, the host's applies
    presence_online: bool | None  # None: the room has no presence sensor
    traffic_online: bool | None  # None: the room has no traffic sensor
    presence_sensors: int = 0


@dataclass(frozen=True, slots=True)
class _Topology:
    spaces: dict[str, Space]
    rooms: tuple[_Room, ...]
    children: dict[str, tuple[str, ...]]
    fetched_at: datetime
    # Ids listed more than once ("room room_1", "sensor 00-01"): skipped.
    duplicates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _TrafficDay:
    """The last consistent entries and exits of a room, and the day they count."""

    midnight: datetime  # local midnight of the room's site, as a UTC instant
    entries: int
    exits: int


def _capacity(node: Mapping[str, Any]) -> int | None:
    """Butlr's capacity.max, where 0 (unset) means unknown."""
    capacity = node.get("capacity")
    if not isinstance(capacity, dict):
        return None
    value = whole_people(capacity.get("max"))
    return value if value else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_midnight(now: datetime, timezone: str) -> datetime:
    """Start of the current local day in a timezone, as an aware UTC instant."""
    zone = _zone(timezone) or ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    # zoneinfo resolves the wall time with the offset in force on that date, so
    # this is right on both sides of a DST change (and where midnight is skipped,
    # it lands on the first instant of the day).
    return datetime.combine(today, time(0), tzinfo=zone).astimezone(UTC)


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo | None:
    """Return a timezone, None if there is no such zone.

    Loading a zone reads its file: the client loads the zones a topology names
    off the event loop first (``_load_timezones``); this cache then keeps them.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a directory of the zone database, or a name too long for a file.
        return None


def _load_timezones(payload: Any, default_timezone: str) -> None:
    """Load every timezone a topology answer names (in an executor: file I/O)."""
    _zone(default_timezone)
    pending = [payload]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(name := node.get("timezone"), str) and name:
                _zone(name)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)


def _valid_timezone(name: str | None) -> str | None:
    if not name:
        return None
    return name if _zone(name) is not None else None


# The topology's levels, outermost first, with the key that holds each one's children.
_LEVELS: tuple[tuple[SpaceKind, str | None], ...] = (
    (SpaceKind.SITE, "buildings"),
    (SpaceKind.BUILDING, "floors"),
    (SpaceKind.FLOOR, "rooms"),
    (SpaceKind.ROOM, None),
)


def _sensor_modes(
    room: Mapping[str, Any], seen: set[str], duplicates: list[str]
) -> tuple[dict[str, bool], int]:
    """Return a room's sensor modes (each online or not) and its presence sensors.

    A sensor (MAC address) already listed, in this room or another, is skipped.
    """
    online: dict[str, bool] = {}
    presence_sensors = 0
    for raw_sensor in expect_list(room.get("sensors") or [], "sensors"):
        sensor = expect_dict(raw_sensor, "sensor")
        mac_address = sensor.get("mac_address")
        if isinstance(mac_address, str) and mac_address:
            if mac_address in seen:
                duplicates.append(f"sensor {mac_address}")
                continue
            seen.add(mac_address)
        mode = sensor.get("mode")
        presence_sensors += mode == MODE_PRESENCE
        if mode in (MODE_PRESENCE, MODE_TRAFFIC):
            # A sensor that does not say is taken as online.
            online[mode] = online.get(mode, False) or (
                sensor.get("is_online") is not False
            )
    return online, presence_sensors


def parse_topology(payload: Any, fetched_at: datetime) -> _Topology:
    """Turn the GraphQL topology answer into spaces and pollable rooms."""
    sites = expect_list(
        expect_dict(
            expect_dict(expect_dict(payload, "GraphQL answer").get("data"), "data").get(
                "sites"
            ),
            "sites",
        ).get("data"),
        "sites.data",
    )
    spaces: dict[str, Space] = {}
    rooms: list[_Room] = []
    children: dict[str, list[str]] = {}
    sensors_seen: set[str] = set()
    duplicates: list[str] = []

    def visit(
        raw_nodes: Any, depth: int, parent_id: str | None, timezone: str | None
    ) -> None:
        kind, children_key = _LEVELS[depth]
        for raw in expect_list(raw_nodes, f"{kind}s"):
            node = expect_dict(raw, kind)
            node_id = expect_id(node.get("id"), kind)
            if node_id in spaces:
                # Listed twice: the first listing stands, this one and what it
                # holds are skipped.
                duplicates.append(f"{kind} {node_id}")
                continue
            # Sites and floors name a timezone; a site's wins over its floors'.
            zone = timezone or _valid_timezone(optional_str(node.get("timezone")))
            modes, presence_sensors = (
                _sensor_modes(node, sensors_seen, duplicates)
                if kind is SpaceKind.ROOM
                else ({}, 0)
            )
            spaces[node_id] = Space(
                id=node_id,
                name=optional_str(node.get("name")) or node_id,
                kind=kind,
                parent_id=parent_id,
                capacity=_capacity(node),
                timezone=zone,
                counts_traffic=MODE_TRAFFIC in modes,
            )
            if parent_id is not None:
                children.setdefault(parent_id, []).append(node_id)
            if modes:
                rooms.append(
                    _Room(
                        id=node_id,
                        timezone=zone,
                        presence_online=modes.get(MODE_PRESENCE),
                        traffic_online=modes.get(MODE_TRAFFIC),
                        presence_sensors=presence_sensors,
                    )
                )
            if children_key is not None:
                visit(node.get(children_key) or [], depth + 1, node_id, zone)

    visit(sites, 0, None, None)
    return _Topology(
        spaces=spaces,
        rooms=tuple(rooms),
        children={parent: tuple(ids) for parent, ids in children.items()},
        fetched_at=fetched_at,
        duplicates=tuple(duplicates),
    )


def _report_data(payload: Any) -> dict[str, Any]:
    """Return the ``data`` object of a report; no data at all means no rows."""
    data = expect_dict(payload, "reporting answer").get("data")
    if data is None or data == []:
        return {}
    return expect_dict(data, "reporting data")


def _field_sum(fields: Mapping[str, Any], name: str) -> int | None:
    """Return a traffic field's sum; a field with no rows counts zero (as Butlr's guide)."""
    stats = fields.get(name)
    if stats is None:
        return 0
    if not isinstance(stats, dict):
        return None
    value = stats.get("sum")
    return 0 if value is None else whole_people(value)


def occupancy_by_traffic(payload: Any) -> dict[str, TrafficCounts]:
    """Entries and exits per room from a traffic report (room_id, field grouping)."""
    return {
        room_id: (
            (_field_sum(fields, "in"), _field_sum(fields, "out"))
            if isinstance(fields, dict)
            else (None, None)
        )
        for room_id, fields in _report_data(payload).items()
    }


def _presence_by_room(payload: Any) -> tuple[dict[str, int | None], list[str]]:
    """People per room, and the sensors listed again under a later room (skipped)."""
    occupancy: dict[str, int | None] = {}
    seen: set[str] = set()
    duplicates: list[str] = []
    for room_id, sensors in _report_data(payload).items():
        values: list[int | None] = []
        for mac_address, metrics in (
            sensors.items() if isinstance(sensors, dict) else ()
        ):
            if mac_address in seen:
                duplicates.append(f"sensor {mac_address}")
                continue
            seen.add(mac_address)
            if isinstance(metrics, dict):
                values.append(whole_people(metrics.get("last")))
        valid = [value for value in values if value is not None]
        occupancy[room_id] = sum(valid) if valid else None
    return occupancy, duplicates


def occupancy_by_presence(payload: Any) -> dict[str, int | None]:
    """People per room: the sum of each presence sensor's last value."""
    return _presence_by_room(payload)[0]


def traffic_reading(entries_exits: TrafficCounts | None, online: bool) -> Reading:
    """Return a traffic room's reading; a room absent from the report saw nobody."""
    entries, exits = entries_exits if entries_exits is not None else (0, 0)
    if entries is None or exits is None or not online:
        return Reading(occupancy=None, active=False)
    return Reading(
        occupancy=max(0, entries - exits), entries_today=entries, exits_today=exits
    )


class ButlrClient:
    """Async client for Butlr's login, GraphQL topology and reporting APIs."""

    def __init__(
        self,
        context: ClientContext,
        *,
        username: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
    ) -> None:
        """Use an account login or API client credentials, whichever is given."""
        if not ((username and password) or (client_id and client_secret)):
            raise ValueError(
                "Butlr needs a username and password or a client id and secret"
            )
        self._http = HttpClient(context.session, base_url, clock=context.clock)
        self._clock = context.clock
        self._default_timezone = context.default_timezone
        self._username = username
        self._password = password
        self._client_id = client_id
        self._client_secret = client_secret
        self._token: str | None = None
        self._token_renew_at: datetime | None = None
        # The reports of a poll run side by side: one of them logs in for all.
        self._token_lock = asyncio.Lock()
        self._topology: _Topology | None = None
        # Per traffic room, its last consistent counts of the current local day.
        self._traffic_days: dict[str, _TrafficDay] = {}
        self._duplicates_logged: set[str] = set()
        self.login_count = 0
        self.history_request_count = 0

    @classmethod
    def from_config(cls, context: ClientContext, config: Mapping[str, Any]) -> Self:
        """Build a client from a config entry's data."""
        return cls(
            context,
            username=config.get(KEY_USERNAME),
            password=config.get(KEY_PASSWORD),
            client_id=config.get(KEY_CLIENT_ID),
            client_secret=config.get(KEY_CLIENT_SECRET),
            base_url=config.get(KEY_BASE_URL) or DEFAULT_BASE_URL,
        )

    @property
    def request_count(self) -> int:
        """Requests sent since the client was created (logins included)."""
        return self._http.request_count

    @property
    def account_id(self) -> str:
        """The config entry's unique id: lower-case username, or the client id."""
        return self._username.lower() if self._username else str(self._client_id)

    async def async_validate(self) -> Account:
        """Log in and read the topology: proves the credentials and the access."""
        topology = await self._refresh_topology()
        if not topology.rooms:
            raise ProviderNoSpacesError("The account has no room with sensors")
        return Account(
            unique_id=self.account_id,
            title=f"Butlr ({self.account_id})",
            organisation=frozenset(
                space.id
                for space in topology.spaces.values()
                if space.kind is SpaceKind.SITE
            ),
        )

    async def async_fetch(self) -> Snapshot:
        """Poll presence and traffic for all rooms: the reports side by side."""
        topology = self._topology
        now = self._clock()
        if topology is None or now - topology.fetched_at >= TOPOLOGY_TTL:
            topology = await self._refresh_topology()
        # One traffic report per distinct local midnight (one for most orgs).
        # A site without a timezone counts in the host's, as it is now.
        default_timezone = self._default_timezone()
        by_zone: dict[str, list[str]] = {}
        for room in topology.rooms:
            if room.traffic_online is not None:
                by_zone.setdefault(room.timezone or default_timezone, []).append(
                    room.id
                )
        presence: dict[str, int | None] = {}
        traffic: dict[str, TrafficCounts] = {}

        async def presence_report() -> None:
            presence.update(await self._presence(now))

        async def traffic_report(timezone: str, room_ids: list[str]) -> None:
            traffic.update(await self._traffic(now, timezone, room_ids, len(by_zone)))

        reports = [traffic_report(zone, ids) for zone, ids in by_zone.items()]
        if any(room.presence_online is not None for room in topology.rooms):
            reports.insert(0, presence_report())
        # Every report is awaited to its end, failed or not; the first failure
        # (in the order the reports were sent) is the poll's.
        for outcome in await asyncio.gather(*reports, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome

        readings: dict[str, Reading] = {}
        traffic_days: dict[str, _TrafficDay] = {}
        for room in topology.rooms:
            door_line = (
                self._door_line(room, traffic.get(room.id), now, traffic_days)
                if room.traffic_online is not None
                else None
            )
            # Presence counts people directly: it wins over door-line estimates.
            # Whether it counted is decided by the report's rows, not by the
            # hourly topology's is_online.
            occupancy = (
                presence.get(room.id) if room.presence_online is not None else None
            )
            if occupancy is None and door_line is not None:
                # A traffic reading has an occupancy exactly while it is active.
                occupancy = door_line.occupancy
            readings[room.id] = _reading(
                occupancy,
                topology.spaces[room.id].capacity,
                door_line.entries_today if door_line else None,
                door_line.exits_today if door_line else None,
            )
        self._traffic_days = traffic_days
        _roll_up(topology, readings)
        return Snapshot(spaces=topology.spaces, readings=readings, fetched_at=now)

    async def async_history(
        self,
        start: datetime,
        stop: datetime,
        pace: Callable[[], Awaitable[None]],
    ) -> History:
        """Hourly occupancy of every room and roll-up from start to stop.

        The range is whole UTC hours, at most 48 of them (Butlr's limit for
        hourly windows). One request per statistic and kind of room, at most
        six, one after the other; ``pace`` is awaited before each, so that the
        caller decides how polite to be. Which request gives which number, and
        how exact it is: ``butlr_history``.
        """
        if not start < stop <= start + MAX_HISTORY_SPAN:
            raise ValueError("A history range is from 1 to 48 hours")
        topology = self._topology or await self._refresh_topology()
        # As live: a room with presence sensors counts by them.
        presence = {
            room.id: room.presence_sensors
            for room in topology.rooms
            if room.presence_online is not None
        }
        traffic = [
            room.id
            for room in topology.rooms
            if room.presence_online is None and room.traffic_online is not None
        ]
        extremes_known = any(count == 1 for count in presence.values())

        async def read(measurement: str, function: str) -> Any:
            await pace()
            self.history_request_count += 1
            return await self._report(history_body(measurement, function, start, stop))

        history: History = {}
        if presence:
            series = {
                function: presence_series(
                    await read(MEASUREMENT_PRESENCE, function),
                    function,
                    start,
                    stop,
                    presence,
                )
                if function == MEAN or extremes_known
                else {}
                for function in (MEAN, MAX, MIN)
            }
            history.update(room_history(series[MEAN], series[MAX], series[MIN]))
        if traffic:
            series = {
                function: room_series(
                    await read(MEASUREMENT_TRAFFIC_OCCUPANCY, function),
                    function,
                    start,
                    stop,
                    traffic,
                )
                for function in (MEAN, MAX, MIN)
            }
            history.update(room_history(series[MEAN], series[MAX], series[MIN]))
        roll_up_history(history, topology.children)
        return history

    def diagnostics(self) -> dict[str, Any]:
        """Token and topology state, without the token itself."""
        topology = self._topology
        return {
            "request_count": self.request_count,
            "login_count": self.login_count,
            "token_renew_at": self._token_renew_at,
            "topology_fetched_at": topology.fetched_at if topology else None,
            "rooms_polled": len(topology.rooms) if topology else 0,
            "history_request_count": self.history_request_count,
        }

    def _door_line(
        self,
        room: _Room,
        counts: TrafficCounts | None,
        now: datetime,
        traffic_days: dict[str, _TrafficDay],
    ) -> Reading:
        """Return a traffic room's reading, checked against its counts earlier today.

        Entries and exits never go down within a local day: a report that
        lowers them, or leaves out a room that had traffic today, is bad data.
        The room is inactive for this poll, and the counts it had are kept for
        the next report to be checked against.
        """
        reading = traffic_reading(counts, bool(room.traffic_online))
        midnight = local_midnight(now, room.timezone or self._default_timezone())
        earlier = self._traffic_days.get(room.id)
        if earlier is not None and earlier.midnight != midnight:
            earlier = None  # a new day counts from zero
        if reading.entries_today is None or reading.exits_today is None:
            if earlier is not None:
                traffic_days[room.id] = earlier
            return reading
        if earlier is not None and (
            reading.entries_today < earlier.entries
            or reading.exits_today < earlier.exits
        ):
            _LOGGER.debug(
                "Butlr traffic of %s went down from %d in, %d out to %d in, %d out"
                " within the day: ignored",
                room.id,
                earlier.entries,
                earlier.exits,
                reading.entries_today,
                reading.exits_today,
            )
            traffic_days[room.id] = earlier
            return Reading(occupancy=None, active=False)
        traffic_days[room.id] = _TrafficDay(
            midnight, reading.entries_today, reading.exits_today
        )
        return reading

    def _log_duplicates(self, where: str, duplicates: Iterable[str]) -> None:
        """Log each duplicated id once for the client's life, at debug level."""
        new = sorted(set(duplicates) - self._duplicates_logged)
        if new:
            self._duplicates_logged.update(new)
            _LOGGER.debug(
                "Butlr listed these more than once in the %s (duplicates skipped): %s",
                where,
                ", ".join(new),
            )

    async def _refresh_topology(self) -> _Topology:
        payload = await self._authorized(self._graphql)
        # Reading a timezone's file is blocking I/O: not in the event loop.
        await asyncio.get_running_loop().run_in_executor(
            None, _load_timezones, payload, self._default_timezone()
        )
        topology = parse_topology(payload, self._clock())
        self._log_duplicates("topology", topology.duplicates)
        self._topology = topology
        return topology

    async def _presence(self, now: datetime) -> dict[str, int | None]:
        body = {
            "group_by": {"order": ["room_id", "mac_address"]},
            "window": {"every": "1s", "function": "max"},
            "filter": {
                "start": _iso(now - PRESENCE_WINDOW),
                "stop": _iso(now),
                "measurements": ["presence"],
                "value": {"gte": 0},
            },
        }
        occupancy, duplicates = _presence_by_room(await self._report(body))
        self._log_duplicates("presence report", duplicates)
        return occupancy

    async def _traffic(
        self, now: datetime, timezone: str, room_ids: list[str], zones: int
    ) -> dict[str, TrafficCounts]:
        """Count traffic since local midnight of one timezone, for its rooms only.

        The ``rooms`` filter is sent only where there are several timezones,
        and no document says the API honours it: rooms of other timezones in
        the answer (counted from the wrong midnight) are dropped.
        """
        report_filter: dict[str, Any] = {
            "start": _iso(local_midnight(now, timezone)),
            "stop": _iso(now),
            "measurements": ["traffic"],
        }
        if zones > 1:
            report_filter["rooms"] = {"eq": room_ids}
        body = {
            "group_by": {"order": ["room_id", "field"]},
            "window": {"every": "1h", "function": "sum", "timezone": timezone},
            "filter": report_filter,
        }
        counts = occupancy_by_traffic(await self._report(body))
        wanted = set(room_ids)
        return {room_id: pair for room_id, pair in counts.items() if room_id in wanted}

    async def _report(self, body: Mapping[str, Any]) -> Any:
        async def call(token: str) -> Any:
            return await self._http.request(
                "POST", REPORTING_PATH, json_body=body, headers=_bearer(token)
            )

        return await self._authorized(call)

    async def _graphql(self, token: str) -> Any:
        payload = await self._http.request(
            "POST",
            GRAPHQL_PATH,
            json_body={"query": TOPOLOGY_QUERY},
            headers=_bearer(token),
        )
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if errors:
            # GraphQL answers a list of error objects; anything else is one error.
            codes = {
                str(error["extensions"].get("code"))
                for error in (errors if isinstance(errors, list) else [errors])
                if isinstance(error, dict) and isinstance(error.get("extensions"), dict)
            }
            if "UNAUTHENTICATED" in codes:
                raise ProviderAuthError("GraphQL rejected the token")
            raise ProviderResponseError(f"GraphQL answered errors: {sorted(codes)}")
        return payload

    async def _authorized(self, call: Callable[[str], Awaitable[_T]]) -> _T:
        """Run a data call with a valid token; on rejection log in once more and retry."""
        token = await self._valid_token()
        try:
            return await call(token)
        except ProviderAuthError:
            pass
        return await call(await self._valid_token(rejected=token))

    async def _valid_token(self, rejected: str | None = None) -> str:
        """Return the token, logging in first when it is missing, old or rejected.

        Calls running side by side wait for one login: a call whose token was
        rejected logs in only if nobody has replaced that token meanwhile.
        """
        async with self._token_lock:
            if (
                self._token is None
                or self._token == rejected
                or (
                    self._token_renew_at is not None
                    and self._clock() >= self._token_renew_at
                )
            ):
                return await self._login()
            return self._token

    async def _login(self) -> str:
        self._token = None
        self.login_count += 1
        if self._username:
            path = LOGIN_PATH
            body: dict[str, Any] = {
                "username": self._username,
                "password": self._password,
            }
        else:
            path = CLIENT_LOGIN_PATH
            body = {
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "audience": CLIENT_AUDIENCE,
                "grant_type": "client_credentials",
            }
        try:
            answer = expect_dict(
                await self._http.request("POST", path, json_body=body), "login"
            )
        except ProviderStatusError as err:
            # Some deployments answer a wrong password with 400 rather than 401.
            if err.status == 400:
                raise ProviderAuthError("Butlr rejected the login") from err
            raise
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise ProviderResponseError("The login answer has no access token")
        lifetime = whole_people(answer.get("expires_in"))
        life = timedelta(seconds=lifetime) if lifetime else FALLBACK_TOKEN_LIFETIME
        self._token = token
        self._token_renew_at = self._clock() + life - min(TOKEN_RENEW_MARGIN, life / 4)
        return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _reading(
    occupancy: int | None,
    capacity: int | None,
    entries_today: int | None = None,
    exits_today: int | None = None,
) -> Reading:
    """Build a reading: active when there is an occupancy, with its percentage."""
    return Reading(
        occupancy=occupancy,
        capacity=capacity,
        percentage=percentage_of(occupancy, capacity),
        active=occupancy is not None,
        entries_today=entries_today,
        exits_today=exits_today,
    )


def _roll_up(topology: _Topology, readings: dict[str, Reading]) -> None:
    """Floors, buildings and sites hold the sum of their active children.

    People and capacity are summed over the same children: the active ones.
    A parent's capacity is Butlr's own when it has one; otherwise the sum of
    its active children's, but only when every one of them has a capacity
    (else no capacity, and no percentage, rather than a wrong one).
    """

    def visit(space_id: str) -> Reading | None:
        if space_id in readings:
            return readings[space_id]
        child_readings = [
            reading
            for child in topology.children.get(space_id, ())
            if (reading := visit(child)) is not None
        ]
        if not child_readings:
            return None
        active = [reading for reading in child_readings if reading.active]
        capacity = topology.spaces[space_id].capacity
        if capacity is None and active and all(r.capacity for r in active):
            capacity = sum(r.capacity or 0 for r in active)
        reading = _reading(
            sum(r.occupancy or 0 for r in active) if active else None, capacity
        )
        readings[space_id] = reading
        return reading

    for space_id in topology.spaces:
        visit(space_id)
