"""Butlr: thermal traffic (door-line) and presence sensors, and Butlr's own series.

Occupancy follows Butlr's own guides: a presence room holds the sum of its
sensors' last values. A traffic room shows Butlr's calibrated occupancy
(``butlr_series``), the number Butlr's dashboard and our history import show;
until that series has a value today, and where the entry chose the door-line
count, it holds the people who came in minus those who went out since local
midnight of its site, never below zero (seed 000). Its entries and exits today
always come from the traffic report. A floor with main-entrance sensors shows
Butlr's calibrated floor occupancy, other parents the sum of their rooms;
zones show Butlr's ``zone_occupancy`` and count in no parent.

Beyond the guides: a room's entries and exits never go down within its local
day, so a traffic report that would lower them (or drop a room that had
traffic today) is bad data, not an empty room; a parent's percentage divides
the people and the capacity of the same children; a duplicated id is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
import logging
from operator import attrgetter
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from .base import (
    ButlrApiClient,
    ButlrLogin,
    Capabilities,
    ClientContext,
    DuplicateLog,
    ShrinkGuard,
    expect_dict,
    whole_people,
)
from .butlr_history import (
    MAX,
    MAX_HISTORY_RESPONSE_BYTES,
    MAX_HISTORY_SPAN,
    MEAN,
    MEASUREMENT_FLOOR_OCCUPANCY,
    MEASUREMENT_PRESENCE,
    MEASUREMENT_TRAFFIC_OCCUPANCY,
    MEASUREMENT_ZONE_OCCUPANCY,
    MIN,
    history_body,
    history_order,
    presence_series,
    roll_up_history,
    room_history,
    room_series,
)
from .butlr_live import (
    TrafficCounts,
    ancestors_of,
    occupancy_by_traffic,
    presence_by_room,
    pushed_reading,
    reading_of,
    roll_up,
)
from .butlr_push import (
    PIR_MOTION,
    PIR_NO_MOTION,
    ROOM_OCCUPANCY,
    TRAFFIC,
    PushedState,
    PushEvent,
    WebhookManager,
    parse_delivery,
)
from .butlr_report import REPORTING_PATH
from .butlr_series import (
    ZONE_HOLD,
    SeriesAssets,
    SeriesMemory,
    series_body,
    series_values,
    split_bodies,
)
from .butlr_topology import (
    TOPOLOGY_QUERY,
    Room,
    Topology,
    load_timezones,
    parse_topology,
    zone,
)
from .exceptions import (
    ProviderAuthError,
    ProviderError,
    ProviderNoSpacesError,
    ProviderRateLimitError,
    ProviderResponseError,
)
from .http import MAX_RESPONSE_BYTES, HttpClient, ProviderStatusError
from .models import (
    Account,
    History,
    Reading,
    SensorHealth,
    Snapshot,
    SpaceKind,
    Subscription,
)
from .selection import Expansion, expand
from .timeutil import local_midnight, utc_iso

DEFAULT_BASE_URL = "https://api.butlr.io"
LOGIN_PATH = "/api/v2/login"
CLIENT_LOGIN_PATH = "/api/v2/clients/login"
GRAPHQL_PATH = "/api/v3/graphql"
CLIENT_AUDIENCE = "https://butlrauth/"

# Sites, rooms and sensors change rarely: re-read the topology hourly.
TOPOLOGY_TTL = timedelta(hours=1)
# A topology taken for a bad answer (ShrinkGuard) is asked again this soon.
TOPOLOGY_RETRY = timedelta(minutes=5)
# Presence: the newest value of each sensor within this window is "now".
PRESENCE_WINDOW = timedelta(minutes=2)
# Renew the token this long before it expires (at most a quarter of its life).
TOKEN_RENEW_MARGIN = timedelta(seconds=60)
# Sensors named in diagnostics per kind of problem, at most.
SENSORS_LISTED = 50
# Used only when a login answer carries no usable expires_in.
FALLBACK_TOKEN_LIFETIME = timedelta(minutes=5)

_T = TypeVar("_T")

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _TrafficDay:
    """The last consistent entries and exits of a room, and the day they count."""

    midnight: datetime  # local midnight of the room's site, as a UTC instant
    entries: int
    exits: int


@lru_cache(maxsize=64)
def _midnight(now: datetime, timezone: str) -> datetime:
    """Start of the local day in a named timezone, as a UTC instant.

    Cached: every traffic room of a poll asks for the same few.
    """
    return local_midnight(now, zone(timezone) or ZoneInfo(timezone)).astimezone(UTC)


# A room reading's numbers: occupancy, capacity, entries and exits today.
type _ReadingKey = tuple[int | None, int | None, int | None, int | None, bool | None]


@dataclass(slots=True)
class _SeriesState:
    """How Butlr took the series reports: mixed, split, refused (diagnostics)."""

    # Butlr refused a report of several measurements: one per measurement.
    split: bool = False
    # Why the last series report failed (an HTTP status, an error), and how often.
    failure: str | None = None
    failures: int = 0
    # Raw points of a series answer that belonged to no space asked for.
    unowned_points: int = 0


@dataclass(frozen=True, slots=True)
class _Poll:
    """What one poll asks for: the picked rooms, entrance floors and zones."""

    wanted: frozenset[str] | None  # None: the whole account
    rooms: tuple[Room, ...]
    floors: tuple[Room, ...]  # read from Butlr's calibrated series (empty: door-line)
    zones: tuple[str, ...]
    calibrated: bool  # traffic rooms show Butlr's calibrated occupancy

    @property
    def everything(self) -> bool:
        """Whether nothing is left out by selection."""
        return self.wanted is None


@dataclass(slots=True)
class _Answers:
    """What the reports of a poll answered."""

    presence: dict[str, int | None]
    traffic: dict[str, TrafficCounts]
    # Butlr's own series (calibrated rooms and floors, zones): people now.
    series: dict[str, int]


class ButlrClient:
    """Async client for Butlr's login, GraphQL topology and reporting APIs."""

    # No published rate limit. Reports aggregate the last minute: polling
    # faster than every 30 s shows nothing new.
    capabilities = Capabilities(
        poll_interval=timedelta(seconds=60),
        min_poll_interval=timedelta(seconds=30),
        history=True,
        push=True,
        door_line_count=True,
    )

    def __init__(
        self,
        context: ClientContext,
        credentials: ButlrLogin | ButlrApiClient,
        base_url: str = DEFAULT_BASE_URL,
    ) -> None:
        """Use an account login or API client credentials."""
        if isinstance(credentials, ButlrLogin):
            complete = bool(credentials.username and credentials.password)
        else:
            complete = bool(credentials.client_id and credentials.client_secret)
        if not complete:
            raise ValueError(
                "Butlr needs a username and password or a client id and secret"
            )
        self._http = HttpClient(context.session, base_url, clock=context.clock)
        self._clock = context.clock
        self._default_timezone = context.default_timezone
        self._door_line_count = context.door_line_count
        self._credentials = credentials
        self._token: str | None = None
        self._token_renew_at: datetime | None = None
        # The reports of a poll run side by side: one of them logs in for all.
        self._token_lock = asyncio.Lock()
        self._topology: Topology | None = None
        # Per traffic room, its last consistent counts of the current local day.
        self._traffic_days: dict[str, _TrafficDay] = {}
        self._duplicates = DuplicateLog(_LOGGER, "Butlr")
        self._shrink = ShrinkGuard()
        self._expand = Expansion()
        self.webhooks = WebhookManager(self._graphql_data)
        self._push = PushedState()
        self._series = _SeriesState()
        # The last poll's calibrated floor series: a floor read from one keeps
        # it when a push changes its rooms.
        self._floor_series: dict[str, int | None] = {}
        self._memory = SeriesMemory()
        self._sensors_told: set[str] = set()
        # Per room: the numbers of its last reading, and that reading (``_built``).
        self._last_built: dict[str, tuple[_ReadingKey, Reading]] = {}
        # Per poll report: its last answer and what it was read as (``_parsed``).
        self._last_parses: dict[str, tuple[Any, Any]] = {}
        self.login_count = 0
        self.history_request_count = 0

    @property
    def request_count(self) -> int:
        """Requests sent since the client was created (logins included)."""
        return self._http.request_count

    @property
    def account_id(self) -> str:
        """The config entry's unique id: lower-case username, or the client id."""
        if isinstance(self._credentials, ButlrLogin):
            return self._credentials.username.lower()
        return str(self._credentials.client_id)

    async def async_validate(self) -> Account:
        """Log in and read the topology: proves the credentials and the access."""
        topology = await self._refresh_topology()
        if not (topology.rooms or topology.zones or topology.entrance_floors):
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

    async def async_fetch(self, picked: Collection[str] | None = None) -> Snapshot:
        """Poll the picked rooms, floors and zones: the reports side by side.

        ``picked`` spaces bring everything below them (``selection.expand``);
        None polls the whole account. The reports ask for the picked spaces
        only; the topology is always the whole account's.
        """
        # Reports take their stop to the second: the poll knows nothing sensed
        # after its whole second, and pushes sensed from then on are newer.
        now = self._clock().replace(microsecond=0)
        topology = self._topology
        if topology is None or now - topology.fetched_at >= TOPOLOGY_TTL:
            topology = await self._refresh_topology()
        poll = self._plan(topology, self._expand(topology.spaces, picked))
        answers = await self._reports(now, poll, topology)
        answers.series = self._memory.hold(
            answers.series, now, self._held_since(poll, now)
        )
        readings = self._room_readings(topology, poll, answers, now)
        for zone_id in poll.zones:
            readings[zone_id] = reading_of(
                answers.series.get(zone_id), topology.spaces[zone_id].capacity
            )
        floors = {floor.id: answers.series.get(floor.id) for floor in poll.floors}
        roll_up(topology, readings, poll.wanted, floors)
        self._floor_series = floors  # Pushes sum the other floors again.
        return Snapshot(
            spaces=topology.spaces,
            readings=readings,
            fetched_at=now,
            health=_health(topology, poll.rooms, now),
        )

    def _plan(self, topology: Topology, wanted: frozenset[str] | None) -> _Poll:
        """Return what this poll asks for, of the spaces wanted (None: all)."""

        def picked(ids: tuple[_T, ...], key: Callable[[_T], str]) -> tuple[_T, ...]:
            return ids if wanted is None else tuple(i for i in ids if key(i) in wanted)

        calibrated = not self._door_line_count()
        return _Poll(
            wanted=wanted,
            rooms=picked(topology.rooms, _room_id),
            floors=picked(topology.entrance_floors, _room_id) if calibrated else (),
            zones=picked(topology.zones, str),
            calibrated=calibrated,
        )

    def _held_since(self, poll: _Poll, now: datetime) -> dict[str, datetime]:
        """From when each series asset's last value stands, when it has none now.

        Traffic occupancies (rooms, floors) change only when someone crosses a
        door line: the day's last value stands until local midnight. A zone's
        stands ``ZONE_HOLD``.
        """
        default_timezone = self._default_timezone()
        since = dict.fromkeys(poll.zones, now - ZONE_HOLD)
        if poll.calibrated:
            for room in (*poll.rooms, *poll.floors):
                if room.traffic_online is not None:
                    timezone = room.timezone or default_timezone
                    since[room.id] = _midnight(now, timezone)
        return since

    async def _reports(
        self, now: datetime, poll: _Poll, topology: Topology
    ) -> _Answers:
        """Send the presence report, and per local midnight a traffic and a series report.

        A site without a timezone counts in the host's, as it is now. Spaces
        are filtered by id where some are left out: by selection, or by
        another timezone's report.
        """
        default_timezone = self._default_timezone()
        by_zone: dict[str, list[str]] = {}
        for room in poll.rooms:
            if room.traffic_online is not None:
                by_zone.setdefault(room.timezone or default_timezone, []).append(
                    room.id
                )
        presence_rooms = [
            room.id for room in poll.rooms if room.presence_online is not None
        ]
        series = _series_requests(poll, topology, default_timezone)
        answers = _Answers({}, {}, {})

        async def presence_report() -> None:
            answers.presence.update(
                await self._presence(now, None if poll.everything else presence_rooms)
            )

        async def traffic_report(timezone: str, room_ids: list[str]) -> None:
            filtered = not poll.everything or len(by_zone) > 1
            answers.traffic.update(
                await self._traffic(now, timezone, room_ids, filtered)
            )

        async def series_report(request: SeriesAssets) -> None:
            filtered = not poll.everything or len(series) > 1
            answers.series.update(await self._series_report(now, request, filtered))

        reports = [traffic_report(tz, ids) for tz, ids in by_zone.items()]
        reports.extend(series_report(request) for request in series)
        if presence_rooms:
            reports.insert(0, presence_report())
        # Every report is awaited to its end, failed or not; the first failure
        # (in the order the reports were sent) is the poll's.
        for outcome in await asyncio.gather(*reports, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome
        return answers

    def _room_readings(
        self, topology: Topology, poll: _Poll, answers: _Answers, now: datetime
    ) -> dict[str, Reading]:
        """Each polled room's reading: presence where it counted, else traffic.

        A traffic room shows Butlr's calibrated occupancy where the series has
        a value (and the entry did not choose the door-line count), else its
        door-line count; its entries and exits are the door lines' always.
        """
        readings: dict[str, Reading] = {}
        traffic_days: dict[str, _TrafficDay] = {}
        built: dict[str, tuple[_ReadingKey, Reading]] = {}
        default_timezone = self._default_timezone()
        push = self._push
        # Without pushes (or none pending) a room has nothing to look up there.
        pushed_counts, crossings = bool(push.occupancy), push.has_crossings
        for room in poll.rooms:
            door_line = (
                self._door_line(
                    room,
                    answers.traffic.get(room.id),
                    _midnight(now, room.timezone or default_timezone),
                    traffic_days,
                )
                if room.traffic_online is not None
                else None
            )
            entries, exits = door_line or (None, None)
            # Presence counts people directly: it wins over traffic estimates.
            # Whether it counted is decided by the report's rows, not by the
            # hourly topology's is_online.
            occupancy = (
                answers.presence.get(room.id)
                if room.presence_online is not None
                else None
            )
            if occupancy is None and door_line is not None:
                calibrated = answers.series.get(room.id) if poll.calibrated else None
                # A door line has an occupancy exactly while it is active.
                occupancy = (
                    calibrated
                    if calibrated is not None or entries is None or exits is None
                    else max(0, entries - exits)
                )
            if pushed_counts and (pushed := push.count_after(room.id, now)) is not None:
                occupancy = pushed  # Sensed after this poll's reports: newer.
            capacity = topology.spaces[room.id].capacity
            key = (occupancy, capacity, entries, exits, push.motion_of(room.id))
            reading = self._built(room.id, key, built)
            # Crossings sensed since the reports' stop are not in them.
            for crossing in push.crossings_since(room.id, now) if crossings else ():
                reading = pushed_reading(room, reading, crossing)
            readings[room.id] = reading
        self._traffic_days = traffic_days
        self._last_built = built
        self._push.forget_crossings_before(now)
        return readings

    def _built(
        self,
        room_id: str,
        key: _ReadingKey,
        built: dict[str, tuple[_ReadingKey, Reading]],
    ) -> Reading:
        """Return a room's reading of these numbers and motion: last poll's, if the same.

        The same object, not an equal one: most polls change few rooms, and
        the change detection passes over an identical reading at once. The
        numbers are ints or None (``whole_people``), so equal numbers build
        an equal reading.
        """
        last = self._last_built.get(room_id)
        if last is not None and last[0] == key:
            reading = last[1]
        else:
            reading = reading_of(*key[:4])
            if key[4] is not None:  # Pushed motion.
                reading = replace(reading, motion=key[4])
        built[room_id] = (key, reading)
        return reading

    async def async_history(
        self,
        start: datetime,
        stop: datetime,
        pace: Callable[[], Awaitable[None]],
    ) -> History:
        """Hourly occupancy of every room, zone and roll-up from start to stop.

        The range is whole UTC hours, at most 48 of them (Butlr's limit for
        hourly windows). One request per statistic and kind of space (presence
        rooms, traffic rooms, entrance floors, zones), at most twelve, one after
        the other; ``pace`` is awaited before each, so that the caller decides
        how polite to be. Which request gives which number, and how exact it
        is: ``butlr_history``. Floors with main entrances read Butlr's
        calibrated floor series, as live (not where the entry counts by door
        line: there they sum their rooms, as live).
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
        series = {
            MEASUREMENT_TRAFFIC_OCCUPANCY: [
                room.id
                for room in topology.rooms
                if room.presence_online is None and room.traffic_online is not None
            ],
            MEASUREMENT_FLOOR_OCCUPANCY: []
            if self._door_line_count()
            else [floor.id for floor in topology.entrance_floors],
            MEASUREMENT_ZONE_OCCUPANCY: list(topology.zones),
        }
        history: History = {}
        if presence:
            history.update(await self._presence_history(start, stop, presence, pace))
        for measurement, ids in series.items():
            if ids:
                history.update(
                    await self._series_history(measurement, (start, stop), ids, pace)
                )
        roll_up_history(history, topology.children)
        return history

    async def _history_report(
        self,
        measurement: str,
        function: str,
        span: tuple[datetime, datetime],
        pace: Callable[[], Awaitable[None]],
    ) -> Any:
        """One paced history request: one statistic of one measurement."""
        await pace()
        self.history_request_count += 1
        return await self._report(
            history_body(measurement, function, *span),
            max_bytes=MAX_HISTORY_RESPONSE_BYTES,
        )

    async def _presence_history(
        self,
        start: datetime,
        stop: datetime,
        rooms: dict[str, int],
        pace: Callable[[], Awaitable[None]],
    ) -> History:
        """Presence rooms: the mean always, extremes where a room has one sensor."""
        extremes_known = any(count == 1 for count in rooms.values())
        series = {
            function: presence_series(
                await self._history_report(
                    MEASUREMENT_PRESENCE, function, (start, stop), pace
                ),
                function,
                start,
                stop,
                rooms,
            )
            if function == MEAN or extremes_known
            else {}
            for function in (MEAN, MAX, MIN)
        }
        return room_history(series[MEAN], series[MAX], series[MIN])

    async def _series_history(
        self,
        measurement: str,
        span: tuple[datetime, datetime],
        ids: list[str],
        pace: Callable[[], Awaitable[None]],
    ) -> History:
        """Butlr's series of whole spaces (calibrated traffic, zones): mean, max, min."""
        series = {
            function: room_series(
                await self._history_report(measurement, function, span, pace),
                function,
                *span,
                ids,
                order=history_order(measurement),
            )
            for function in (MEAN, MAX, MIN)
        }
        return room_history(series[MEAN], series[MAX], series[MIN])

    async def async_subscribe(
        self,
        *,
        own_id: str | None,
        url: str,
        header: str,
        secret: str,
        picked: Collection[str] | None,
    ) -> Subscription:
        """Have our webhook deliver the events the picked rooms need (butlr_push).

        Presence rooms: their counts and motion; traffic rooms: crossings.
        With a selection, Butlr filters by the picked rooms' floors (the one
        filter every event carries); rooms of a floor not picked are left out
        on arrival.
        """
        topology = self._topology or await self._refresh_topology()
        wanted = expand(topology.spaces, picked)
        rooms = [r for r in topology.rooms if wanted is None or r.id in wanted]
        types: list[str] = []
        if any(room.presence_online is not None for room in rooms):
            types += [ROOM_OCCUPANCY, PIR_MOTION, PIR_NO_MOTION]
        if any(room.traffic_online is not None for room in rooms):
            types.append(TRAFFIC)
        filters = None
        if wanted is not None:
            floors = {topology.spaces[room.id].parent_id for room in rooms}
            filters = {"floor_ids": sorted(f for f in floors if f is not None)}
        return await self.webhooks.async_subscribe(
            own_id=own_id,
            url=url,
            header=header,
            secret=secret,
            wanted=types,
            filters=filters,
        )

    async def async_unsubscribe(self, own_id: str) -> bool:
        """Delete our webhook at Butlr, if the account still has it."""
        return await self.webhooks.async_unsubscribe(own_id)

    def read_push(self, payload: Any) -> list[PushEvent]:
        """Read a webhook delivery (butlr_push.parse_delivery)."""
        return parse_delivery(payload)

    def apply_push(
        self, snapshot: Snapshot, events: Sequence[object]
    ) -> Snapshot | None:
        """Apply pushed events to a snapshot of this account; None if nothing changed.

        Events of spaces the snapshot has no reading of (unknown, or not
        picked) are left out. Rooms change, then the floors, buildings and
        sites above them are summed again, in the same call.
        """
        topology = self._topology
        if topology is None:
            return None
        rooms = topology.room_by_id
        readings = dict(snapshot.readings)
        changed: set[str] = set()
        pushed = [event for event in events if isinstance(event, PushEvent)]
        for event in sorted(pushed, key=attrgetter("sensed_at")):
            room = rooms.get(event.space_id)
            reading = readings.get(event.space_id)
            if room is None or reading is None:
                continue
            if not self._push.take(event, snapshot.fetched_at):
                continue
            if (new := pushed_reading(room, reading, event)) != reading:
                readings[event.space_id] = new
                changed.add(event.space_id)
        if not changed:
            return None
        for space_id in ancestors_of(topology.spaces, changed):
            readings.pop(space_id, None)
        roll_up(topology, readings, snapshot.readings.keys(), self._floor_series)
        return replace(snapshot, readings=readings)

    def diagnostics(self) -> dict[str, Any]:
        """Token and topology state, without the token itself."""
        topology = self._topology
        return {
            "request_count": self.request_count,
            "login_count": self.login_count,
            "token_renew_at": self._token_renew_at,
            "topology_fetched_at": topology.fetched_at if topology else None,
            "rooms_polled": len(topology.rooms) if topology else 0,
            "zones_polled": len(topology.zones) if topology else 0,
            "entrance_floors": len(topology.entrance_floors) if topology else 0,
            "topologies_refused": self._shrink.refused,
            "history_request_count": self.history_request_count,
            "traffic_rooms_show": (
                "door-line count" if self._door_line_count() else "calibrated"
            ),
            "series_reports_split": self._series.split,
            "series_last_failure": self._series.failure,
            "series_failures": self._series.failures,
            "series_points_of_no_space": self._series.unowned_points,
            # Sensors whose mode nothing tells, and sensors of no known room
            # (not counted anywhere); at most SENSORS_LISTED of each.
            "sensors_without_mode": _listed(topology.unclassified if topology else ()),
            "sensors_outside_rooms": _listed(topology.unplaced if topology else ()),
        }

    def _door_line(
        self,
        room: Room,
        counts: TrafficCounts | None,
        midnight: datetime,
        traffic_days: dict[str, _TrafficDay],
    ) -> TrafficCounts:
        """Return a traffic room's entries and exits, checked against earlier today.

        Both are None where the room is inactive (``traffic_reading``), counts
        not a reading: 1,000 traffic rooms a poll. ``midnight`` is the room's
        local midnight. Entries and exits never go down within a local day: a
        report that lowers them, or leaves out a room that had traffic today,
        is bad data. The room is inactive for this poll, and the counts it had
        are kept for the next report to be checked against.
        """
        entries, exits = counts if counts is not None else (0, 0)
        if not room.traffic_online:
            entries = exits = None
        earlier = self._traffic_days.get(room.id)
        if earlier is not None and earlier.midnight != midnight:
            earlier = None  # a new day counts from zero
        if entries is None or exits is None:
            if earlier is not None:
                traffic_days[room.id] = earlier
            return (None, None)
        if earlier is None or entries != earlier.entries or exits != earlier.exits:
            if earlier is not None and (
                entries < earlier.entries or exits < earlier.exits
            ):
                _LOGGER.debug(
                    "Butlr traffic of %s went down from %d in, %d out to %d in, "
                    "%d out within the day: ignored",
                    room.id,
                    earlier.entries,
                    earlier.exits,
                    entries,
                    exits,
                )
                traffic_days[room.id] = earlier
                return (None, None)
            earlier = _TrafficDay(midnight, entries, exits)
        traffic_days[room.id] = earlier  # The same counts: the same object.
        return (entries, exits)

    async def _refresh_topology(self) -> Topology:
        payload = await self._authorized(self._graphql)
        now = self._clock()
        # Reading a timezone's file is blocking I/O, and an account's thousands
        # of rooms and sensors take tens of milliseconds to read: neither runs
        # in the event loop.
        topology = await asyncio.get_running_loop().run_in_executor(
            None, _read_topology, payload, self._default_timezone(), now
        )
        self._duplicates.note("the topology", topology.duplicates)
        self._tell_sensors(topology)
        known = self._topology
        if known is not None and not self._shrink.accept(known.spaces, topology.spaces):
            _LOGGER.warning(
                "Butlr's topology lost most of the account at once (%d of %d spaces "
                "left): kept the last one, asking again in %s",
                len(topology.spaces),
                len(known.spaces),
                TOPOLOGY_RETRY,
            )
            # The same spaces, re-read sooner than the hour.
            topology = replace(known, fetched_at=now - TOPOLOGY_TTL + TOPOLOGY_RETRY)
        self._topology = topology
        return topology

    def _tell_sensors(self, topology: Topology) -> None:
        """Log once each sensor that counts nowhere: no mode known, or no room."""
        unclassified = sorted(set(topology.unclassified) - self._sensors_told)
        if unclassified:
            _LOGGER.warning(
                "Butlr lists %d sensor(s) whose mode is neither presence nor "
                "traffic, and the topology does not tell it: they count in no "
                "room (%s)",
                len(unclassified),
                ", ".join(unclassified),
            )
        unplaced = sorted(set(topology.unplaced) - self._sensors_told)
        if unplaced:
            _LOGGER.info(
                "Butlr lists %d sensor(s) in no known room that are no floor "
                "entrance: they count in no room (%s)",
                len(unplaced),
                ", ".join(unplaced),
            )
        self._sensors_told.update(unclassified, unplaced)

    async def _presence(
        self, now: datetime, room_ids: list[str] | None
    ) -> dict[str, int | None]:
        """Each presence room's people now; only these rooms unless None."""
        report_filter: dict[str, Any] = {
            "start": utc_iso(now - PRESENCE_WINDOW),
            "stop": utc_iso(now),
            "measurements": ["presence"],
            "value": {"gte": 0},
        }
        if room_ids is not None:
            report_filter["rooms"] = {"eq": room_ids}
        body = {
            "group_by": {"order": ["room_id", "mac_address"]},
            "window": {"every": "1s", "function": "max"},
            "filter": report_filter,
        }
        payload = await self._report(body, reuse="presence")
        occupancy, duplicates = self._parsed("presence", payload, presence_by_room)
        self._duplicates.note("the presence report", duplicates)
        return occupancy

    async def _traffic(
        self, now: datetime, timezone: str, room_ids: list[str], filtered: bool
    ) -> dict[str, TrafficCounts]:
        """Count traffic since local midnight of one timezone, for its rooms only.

        The ``rooms`` filter is sent only where some rooms are left out (other
        timezones, or not picked); rooms the answer holds beyond those asked
        for (counted from another midnight, or not picked) are dropped.
        """
        report_filter: dict[str, Any] = {
            "start": utc_iso(_midnight(now, timezone)),
            "stop": utc_iso(now),
            "measurements": ["traffic"],
        }
        if filtered:
            report_filter["rooms"] = {"eq": room_ids}
        body = {
            "group_by": {"order": ["room_id", "field"]},
            "window": {"every": "1h", "function": "sum", "timezone": timezone},
            "filter": report_filter,
        }
        key = f"traffic {timezone}"
        payload = await self._report(body, reuse=key)
        counts = self._parsed(key, payload, occupancy_by_traffic)
        wanted = set(room_ids)
        return {room_id: pair for room_id, pair in counts.items() if room_id in wanted}

    async def _series_report(
        self, now: datetime, request: SeriesAssets, filtered: bool
    ) -> dict[str, int]:
        """Read Butlr's own series of one time zone's assets (``butlr_series``).

        One report of every measurement, or one per measurement where Butlr
        refused the mix. A report Butlr refuses otherwise (a 4xx status) is
        no data: traffic rooms show their door-line count meanwhile; the
        refusal is logged once and shown in diagnostics.
        """
        measurements = request.by_measurement()
        bodies = (
            split_bodies(now, request, filtered)
            if self._series.split
            else [series_body(now, request.timezone, measurements, filtered)]
        )
        people: dict[str, int] = {}
        for body in bodies:
            try:
                payload = await self._report(body)
                values, unowned = series_values(payload, request.all_ids())
            except (ProviderAuthError, ProviderRateLimitError):
                raise  # The account's, not the series': the poll's failure.
            except ProviderStatusError as err:
                if (
                    err.status == 400
                    and len(measurements) > 1
                    and not self._series.split
                ):
                    _LOGGER.warning(
                        "Butlr refused a report of several measurements (%s): "
                        "asking one report per measurement from now on",
                        ", ".join(measurements),
                    )
                    self._series.split = True
                    return await self._series_report(now, request, filtered)
                self._series_failed(f"HTTP {err.status}", body)
                continue
            except ProviderError as err:
                self._series_failed(type(err).__name__, body)
                continue
            self._series.unowned_points += unowned
            people.update(values)
        return people

    def _series_failed(self, why: str, body: Mapping[str, Any]) -> None:
        """Count a failed series report; the first failure of a kind is a warning.

        Not the poll's failure (Butlr's own tools read these series the same
        way): presence rooms and door-line counts stand, and the series'
        spaces keep their last values (``SeriesMemory``).
        """
        if self._series.failure != why:
            _LOGGER.warning(
                "Butlr's report of %s failed (%s): those spaces keep their last "
                "value, traffic rooms without one show their door-line count",
                ", ".join(body["filter"]["measurements"]),
                why,
            )
        self._series.failure = why
        self._series.failures += 1

    async def _report(
        self,
        body: Mapping[str, Any],
        max_bytes: int = MAX_RESPONSE_BYTES,
        reuse: str | None = None,
    ) -> Any:
        """Send one report; ``reuse`` names a poll's report (``HttpClient.request``)."""

        async def call(token: str) -> Any:
            return await self._http.request(
                "POST",
                REPORTING_PATH,
                json_body=body,
                headers=_bearer(token),
                max_bytes=max_bytes,
                reuse=reuse,
            )

        return await self._authorized(call)

    def _parsed(self, key: str, payload: Any, parse: Callable[[Any], _T]) -> _T:
        """Parse a poll's report, once per answer.

        An answer equal to the last one is the very same object (the
        ``reuse`` of ``HttpClient.request``): its parse is the last one, which
        nobody mutates. Most polls change nothing, and the reports of 2,000
        rooms cost more to read than to fetch.
        """
        last = self._last_parses.get(key)
        if last is not None and last[0] is payload:
            return cast("_T", last[1])
        parsed = parse(payload)
        self._last_parses[key] = (payload, parsed)
        return parsed

    async def _graphql(self, token: str) -> Any:
        return await self._graphql_call(token, TOPOLOGY_QUERY, None)

    async def _graphql_data(
        self, query: str, variables: Mapping[str, Any] | None
    ) -> Mapping[str, Any]:
        """Run a GraphQL operation with a valid token; return its ``data``."""

        async def call(token: str) -> Any:
            return await self._graphql_call(token, query, variables)

        return expect_dict(
            expect_dict(await self._authorized(call), "GraphQL answer").get("data"),
            "GraphQL data",
        )

    async def _graphql_call(
        self, token: str, query: str, variables: Mapping[str, Any] | None
    ) -> Any:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = dict(variables)
        payload = await self._http.request(
            "POST", GRAPHQL_PATH, json_body=body, headers=_bearer(token)
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
        credentials = self._credentials
        if isinstance(credentials, ButlrLogin):
            path = LOGIN_PATH
            body: dict[str, Any] = {
                "username": credentials.username,
                "password": credentials.password,
            }
        else:
            path = CLIENT_LOGIN_PATH
            body = {
                "client_id": credentials.client_id,
                "client_secret": credentials.client_secret,
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


def _read_topology(payload: Any, default_timezone: str, now: datetime) -> Topology:
    """Load the answer's timezones and read it (in an executor)."""
    load_timezones(payload, default_timezone)
    return parse_topology(payload, now)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _room_id(room: Room) -> str:
    return room.id


def _listed(ids: tuple[str, ...]) -> dict[str, Any]:
    """How many, and the first SENSORS_LISTED of them (diagnostics stay small)."""
    return {"count": len(ids), "first": sorted(ids)[:SENSORS_LISTED]}


def _series_requests(
    poll: _Poll, topology: Topology, default_timezone: str
) -> list[SeriesAssets]:
    """Return the series reports of a poll: one per time zone that has assets.

    Calibrated: the traffic rooms and entrance floors (unless the entry counts
    by door line); zones always.
    """
    by_zone: dict[str, dict[str, list[str]]] = {}

    def add(timezone: str | None, kind: str, asset_id: str) -> None:
        assets = by_zone.setdefault(timezone or default_timezone, {})
        assets.setdefault(kind, []).append(asset_id)

    if poll.calibrated:
        for room in poll.rooms:
            if room.traffic_online is not None:
                add(room.timezone, "rooms", room.id)
        for floor in poll.floors:
            add(floor.timezone, "floors", floor.id)
    for zone_id in poll.zones:
        add(topology.spaces[zone_id].timezone, "zones", zone_id)
    return [
        SeriesAssets(
            timezone=timezone,
            rooms=tuple(assets.get("rooms", ())),
            floors=tuple(assets.get("floors", ())),
            zones=tuple(assets.get("zones", ())),
        )
        for timezone, assets in by_zone.items()
    ]


def _health(
    topology: Topology, rooms: tuple[Room, ...], now: datetime
) -> dict[str, SensorHealth]:
    """Return the polled rooms' sensor health; a battery is overdue from its date on."""
    health: dict[str, SensorHealth] = {}
    for room in rooms:
        if (room_health := topology.health.get(room.id)) is None:
            continue
        due = room_health.battery_change_by
        if due is not None and due <= now:
            room_health = replace(room_health, battery_overdue=True)
        health[room.id] = room_health
    return health
