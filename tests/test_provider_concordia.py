"""The Concordia client on its own, against the simulated occupancy feed."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import ClientSession, hdrs, web
from aiohttp.test_utils import TestServer
import pytest

from custom_components.space_occupancy.providers import (
    Account,
    ClientContext,
    ConcordiaApplication,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderRateLimitError,
    ProviderResponseError,
    Reading,
    Snapshot,
    SpaceKind,
)
from custom_components.space_occupancy.providers.concordia import (
    DEFAULT_BASE_URL,
    ConcordiaClient,
    parse_record_time,
)
from custom_components.space_occupancy.state import stale_limit, without_stale

from .simulator.common import load_fixture
from .simulator.concordia import (
    SEED_API_KEY,
    SEED_USER_ID,
    ConcordiaScenario,
    add_routes,
    record_time,
    seed_scenario,
)

MONTREAL = ZoneInfo("America/Montreal")
# The moment the seed's example was read: every record in it is fresh.
SEED_NOW = datetime(2018, 8, 27, 17, 0, tzinfo=MONTREAL)
# The stale limit Home Assistant applies when the user set none.
DEFAULT_STALE_AFTER = stale_limit({})


@dataclass
class Clock:
    """A frozen clock the test moves by hand, shared by client and simulator."""

    now: datetime = SEED_NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Wire:
    """What reached the simulated feed, and a status to answer instead."""

    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Feed:
    """A running simulated feed and everything a test needs around it."""

    scenario: ConcordiaScenario
    clock: Clock
    wire: Wire
    base_url: str
    session: ClientSession

    def client(self, **settings: Any) -> ConcordiaClient:
        """A client with the seed's credentials on this feed."""
        return ConcordiaClient(
            self.context(**settings),
            ConcordiaApplication(SEED_USER_ID, SEED_API_KEY),
            self.base_url,
        )

    def context(self, **settings: Any) -> ClientContext:
        """The host context: the shared session and the frozen clock."""
        return ClientContext(session=self.session, clock=self.clock)


def _shown(snapshot: Snapshot, key: str, stale_after: timedelta) -> Reading:
    """The reading of a library as Home Assistant shows it, with a stale limit."""
    return without_stale(snapshot, stale_after).readings[key]


def _record_wire(wire: Wire) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        wire.requests.append(
            (request.method, request.path, request.headers.get(hdrs.AUTHORIZATION))
        )
        if wire.status is not None:
            return web.Response(status=wire.status, text="nope", headers=wire.headers)
        return await handler(request)

    return middleware


@pytest.fixture
async def feed(socket_enabled: None) -> AsyncIterator[Feed]:
    """The seed scenario served on loopback, with a clock frozen at SEED_NOW."""
    clock = Clock()
    wire = Wire()
    scenario = seed_scenario(SEED_NOW, clock=clock)
    app = web.Application(middlewares=[_record_wire(wire)])
    add_routes(app, scenario)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with ClientSession() as session:
        yield Feed(
            scenario=scenario,
            clock=clock,
            wire=wire,
            base_url=str(server.make_url("/API/v1")),
            session=session,
        )
    await server.close()


def _at(minutes_ago: float) -> str:
    """A record time this many minutes before SEED_NOW, as the feed writes it."""
    return record_time(SEED_NOW - timedelta(minutes=minutes_ago))


# --- the seed -------------------------------------------------------------------


async def test_seed_scenario_readings(feed: Feed) -> None:
    """Webster 367, Vanier 104 and GreyNuns 0 (from -5), all fresh."""
    snapshot = await feed.client().async_fetch()

    assert list(snapshot.spaces) == ["Webster", "Vanier", "GreyNuns"]
    assert {key: r.occupancy for key, r in snapshot.readings.items()} == {
        "Webster": 367,
        "Vanier": 104,
        "GreyNuns": 0,
    }
    assert all(reading.active for reading in snapshot.readings.values())
    assert snapshot.readings["Vanier"].observed_at == SEED_NOW - timedelta(minutes=45)
    assert snapshot.fetched_at == SEED_NOW


async def test_seed_verbatim_payload(feed: Feed) -> None:
    """The seed's own example, read at 17:00 Montreal time: every library is active."""
    feed.scenario.payload = load_fixture("concordia_occupancy.json")

    snapshot = await feed.client().async_fetch()

    webster = snapshot.readings["Webster"]
    assert webster == Reading(
        occupancy=367,
        active=True,
        observed_at=datetime(2018, 8, 27, 16, 45, tzinfo=MONTREAL),
        changed_at=SEED_NOW,
    )
    # 16:45 in Montreal (EDT, UTC-4) is 20:45 UTC.
    assert webster.observed_at == datetime(2018, 8, 27, 20, 45, tzinfo=UTC)
    assert snapshot.readings["Vanier"].occupancy == 104
    assert snapshot.readings["Vanier"].active
    assert snapshot.readings["GreyNuns"].occupancy == 0
    assert snapshot.readings["GreyNuns"].active


async def test_spaces_are_named_libraries_in_montreal(feed: Feed) -> None:
    """Known keys get their real names; every library lives in Montreal time."""
    snapshot = await feed.client().async_fetch()

    assert {key: space.name for key, space in snapshot.spaces.items()} == {
        "Webster": "Webster Library",
        "Vanier": "Vanier Library",
        "GreyNuns": "Grey Nuns Reading Room",
    }
    for key, space in snapshot.spaces.items():
        assert space.id == key
        assert space.kind is SpaceKind.LIBRARY
        assert space.timezone == "America/Montreal"
        assert space.capacity is None
        assert space.parent_id is None
        assert not space.counts_traffic


# --- freshness ------------------------------------------------------------------
#
# Real answers of the feed (202 hourly ones, February 2026) put LastRecordTime,
# read as Montreal time, from 4 minutes behind to 86 minutes ahead of the
# moment they were fetched (82 ahead in the median); counts were negative for
# much of the night; a record was sometimes repeated across midnight. The
# tests below replay those patterns on our clock.


@pytest.mark.parametrize("offset_minutes", [-4, 0, 5, 30, 82, 86, 24 * 60])
async def test_record_time_ahead_or_behind_is_a_reading(
    feed: Feed, offset_minutes: int
) -> None:
    """A record time ahead of ours (or behind) is shown, never judged by our clock."""
    feed.scenario.libraries["Webster"] = ("120.0000", _at(-offset_minutes))

    snapshot = await feed.client().async_fetch()
    reading = _shown(snapshot, "Webster", DEFAULT_STALE_AFTER)

    assert reading.active
    assert reading.occupancy == 120
    # The feed's time is kept as the observation time, whatever its zone.
    assert reading.observed_at == SEED_NOW + timedelta(minutes=offset_minutes)
    assert reading.changed_at == SEED_NOW


async def test_a_day_of_real_shaped_answers_stays_active(feed: Feed) -> None:
    """Hourly answers with clocks 4 min behind to 86 min ahead, night-long negatives.

    Every hour the feed has a new record: the library is active all day, with
    its count (negatives shown as 0).
    """
    client = feed.client()
    offsets = [82, 86, -4, 80, 83, 84, 12, 82, 85, 79, 82, 81]
    start = SEED_NOW.replace(hour=0)
    shown: list[int | None] = []
    for hour in range(24):
        feed.clock.now = start + timedelta(hours=hour)
        night = hour < 8 or hour >= 22
        count = -(hour * 10 + 7) if night else 40 * hour
        record = feed.clock.now + timedelta(minutes=offsets[hour % len(offsets)])
        feed.scenario.libraries["Webster"] = (f"{count}.0000", record_time(record))
        snapshot = await client.async_fetch()
        reading = _shown(snapshot, "Webster", DEFAULT_STALE_AFTER)
        assert reading.active, f"inactive at {hour}:00"
        shown.append(reading.occupancy)

    assert shown == [0] * 8 + [40 * hour for hour in range(8, 22)] + [0, 0]


async def test_repeated_record_across_midnight(feed: Feed) -> None:
    """A record repeated for a while (here across midnight) stays within the limit."""
    client = feed.client()
    evening = datetime(2026, 2, 10, 23, 30, tzinfo=MONTREAL)
    feed.clock.now = evening
    feed.scenario.libraries["Vanier"] = ("-12.0000", record_time(evening))
    await client.async_fetch()

    feed.clock.now = evening + timedelta(minutes=75)  # 00:45 the next day
    snapshot = await client.async_fetch()

    reading = _shown(snapshot, "Vanier", DEFAULT_STALE_AFTER)
    assert reading.active
    assert reading.occupancy == 0
    assert reading.changed_at == evening


@pytest.mark.parametrize(
    ("frozen_minutes", "active"),
    [(0, True), (90, True), (91, False), (24 * 60, False)],
)
async def test_frozen_feed_goes_stale_by_our_clock(
    feed: Feed, frozen_minutes: int, active: bool
) -> None:
    """The same answer for longer than the limit (90 min by default) is inactive."""
    client = feed.client()
    feed.scenario.libraries["Webster"] = ("12.0000", _at(-82))
    await client.async_fetch()
    feed.clock.now += timedelta(minutes=frozen_minutes)

    snapshot = await client.async_fetch()
    reading = _shown(snapshot, "Webster", DEFAULT_STALE_AFTER)

    assert reading.active is active
    assert reading.occupancy == (12 if active else None)
    # The times are kept either way: they tell how old the data is.
    assert reading.observed_at == SEED_NOW + timedelta(minutes=82)
    assert reading.changed_at == SEED_NOW


@pytest.mark.parametrize(
    "change",
    [("13.0000", None), (None, 1)],
    ids=["count", "record time"],
)
async def test_a_change_of_count_or_record_time_is_fresh(
    feed: Feed, change: tuple[str | None, int | None]
) -> None:
    """A new count, or a new record time with the same count, shows the feed alive."""
    client = feed.client()
    feed.scenario.libraries["Webster"] = ("12.0000", _at(0))
    await client.async_fetch()
    feed.clock.now += timedelta(minutes=89)
    count, record_minutes = change
    feed.scenario.libraries["Webster"] = (
        count or "12.0000",
        _at(0) if record_minutes is None else _at(-record_minutes),
    )
    await client.async_fetch()
    feed.clock.now += timedelta(minutes=89)

    snapshot = await client.async_fetch()

    reading = _shown(snapshot, "Webster", DEFAULT_STALE_AFTER)
    assert reading.active
    assert reading.changed_at == SEED_NOW + timedelta(minutes=89)


async def test_negative_counts_changing_keep_the_library_fresh(feed: Feed) -> None:
    """-5 then -7 both show 0, but the feed moved: the reading is not frozen."""
    client = feed.client()
    feed.scenario.libraries["GreyNuns"] = ("-5.0000", _at(0))
    await client.async_fetch()
    feed.clock.now += timedelta(minutes=80)
    feed.scenario.libraries["GreyNuns"] = ("-7.0000", _at(0))
    await client.async_fetch()
    feed.clock.now += timedelta(minutes=80)

    reading = _shown(await client.async_fetch(), "GreyNuns", DEFAULT_STALE_AFTER)

    assert reading.active
    assert reading.occupancy == 0


async def test_never_reported(feed: Feed) -> None:
    """GreyNuns' ".0000" with a 1900 record time means "never reported", not empty."""
    feed.scenario.libraries["GreyNuns"] = (".0000", "1900-01-01 00:00:00.000")

    reading = (await feed.client().async_fetch()).readings["GreyNuns"]

    assert reading == Reading(occupancy=None, active=False, observed_at=None)


async def test_before_2000_is_never_reported(feed: Feed) -> None:
    """Any record before 2000 is a placeholder."""
    feed.scenario.libraries["Vanier"] = ("50.0000", "1999-12-31 23:59:59.000")

    reading = (await feed.client().async_fetch()).readings["Vanier"]

    assert not reading.active
    assert reading.occupancy is None


async def test_custom_stale_limit(feed: Feed) -> None:
    """The stale_minutes option replaces the 90-minute default."""
    client = feed.client()
    await client.async_fetch()
    feed.clock.now += timedelta(minutes=40)
    feed.scenario.libraries["Webster"] = ("12.0000", _at(-40))

    snapshot = await client.async_fetch()
    limit = stale_limit({"stale_minutes": 30})

    assert _shown(snapshot, "Webster", limit).active  # changed just now
    assert not _shown(snapshot, "Vanier", limit).active  # unchanged for 40 minutes
    assert _shown(snapshot, "Vanier", limit).occupancy is None


async def test_long_stale_limit(feed: Feed) -> None:
    """A longer limit keeps a reading frozen for longer active."""
    client = feed.client()
    await client.async_fetch()
    feed.clock.now += timedelta(minutes=180)

    snapshot = await client.async_fetch()

    assert (
        _shown(snapshot, "Webster", stale_limit({"stale_minutes": 240})).occupancy
        == 367
    )
    assert not _shown(snapshot, "Webster", DEFAULT_STALE_AFTER).active


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, DEFAULT_STALE_AFTER),
        ({"stale_minutes": 30}, timedelta(minutes=30)),
        ({"stale_minutes": 45.5}, timedelta(minutes=45.5)),
        ({"stale_minutes": "60"}, timedelta(minutes=60)),
        ({"stale_minutes": None}, DEFAULT_STALE_AFTER),
        ({"stale_minutes": 0}, DEFAULT_STALE_AFTER),
        ({"stale_minutes": -10}, DEFAULT_STALE_AFTER),
        ({"stale_minutes": "soon"}, DEFAULT_STALE_AFTER),
        ({"stale_minutes": True}, DEFAULT_STALE_AFTER),
        ({"stale_minutes": float("nan")}, DEFAULT_STALE_AFTER),
    ],
)
def test_stale_limit_option(settings: dict[str, Any], expected: timedelta) -> None:
    """Only a positive number of minutes overrides the default."""
    assert stale_limit(settings) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2018-08-27 16:45:00.000", datetime(2018, 8, 27, 16, 45, tzinfo=MONTREAL)),
        ("2018-08-27 16:45:00", datetime(2018, 8, 27, 16, 45, tzinfo=MONTREAL)),
        (" 2018-08-27T16:45:00.5 ", datetime(2018, 8, 27, 16, 45, 0, 500000, MONTREAL)),
        # Winter: Montreal is UTC-5.
        ("2018-01-15 08:00:00.000", datetime(2018, 1, 15, 13, 0, tzinfo=UTC)),
        # An explicit offset, should the feed ever send one, is honoured.
        ("2018-08-27T20:45:00+00:00", datetime(2018, 8, 27, 16, 45, tzinfo=MONTREAL)),
        ("yesterday", None),
        ("", None),
        (None, None),
        (1535402700, None),
    ],
)
def test_parse_record_time(value: Any, expected: datetime | None) -> None:
    """Montreal wall-clock record times become aware datetimes."""
    parsed = parse_record_time(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo == MONTREAL


# --- values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("occupancy", "expected"),
    [
        ("367.0000", 367),
        ("-5.0000", 0),
        (".0000", 0),
        ("0", 0),
        ("12.6000", 13),
        (42, 42),
        (-3, 0),
        (7.4, 7),
    ],
)
async def test_occupancy_values(feed: Feed, occupancy: Any, expected: int) -> None:
    """Decimal strings or numbers become whole people, negatives clamped to 0."""
    feed.scenario.payload = {
        "Webster": {"Occupancy": occupancy, "LastRecordTime": _at(1)}
    }

    reading = (await feed.client().async_fetch()).readings["Webster"]

    assert reading.active
    assert reading.occupancy == expected


@pytest.mark.parametrize(
    "library",
    [
        {"Occupancy": "lots", "LastRecordTime": "2018-08-27 16:59:00.000"},
        {"Occupancy": None, "LastRecordTime": "2018-08-27 16:59:00.000"},
        {"Occupancy": "NaN", "LastRecordTime": "2018-08-27 16:59:00.000"},
        {"Occupancy": True, "LastRecordTime": "2018-08-27 16:59:00.000"},
        {"LastRecordTime": "2018-08-27 16:59:00.000"},
        {"Occupancy": "10.0000", "LastRecordTime": "not a time"},
        {"Occupancy": "10.0000"},
        {},
        "367.0000",
        ["367.0000", "2018-08-27 16:59:00.000"],
        None,
    ],
)
async def test_unusable_library_is_inactive(feed: Feed, library: Any) -> None:
    """A library that cannot be read goes inactive; the others still update."""
    feed.scenario.payload = {
        "Webster": library,
        "Vanier": {"Occupancy": "104.0000", "LastRecordTime": _at(5)},
    }

    snapshot = await feed.client().async_fetch()

    assert not snapshot.readings["Webster"].active
    assert snapshot.readings["Webster"].occupancy is None
    assert snapshot.spaces["Webster"].name == "Webster Library"
    assert snapshot.readings["Vanier"].occupancy == 104


async def test_unknown_key_named_by_key(feed: Feed) -> None:
    """The key set is data: a new library appears, named by its key."""
    feed.scenario.libraries["LoyolaAnnex"] = ("8.0000", _at(3))

    snapshot = await feed.client().async_fetch()

    space = snapshot.spaces["LoyolaAnnex"]
    assert space.name == "LoyolaAnnex"
    assert space.kind is SpaceKind.LIBRARY
    assert snapshot.readings["LoyolaAnnex"].occupancy == 8


async def test_key_disappears(feed: Feed) -> None:
    """A key the feed stops sending is simply absent from the next snapshot."""
    client = feed.client()
    first = await client.async_fetch()
    del feed.scenario.libraries["GreyNuns"]

    second = await client.async_fetch()

    assert "GreyNuns" in first.spaces
    assert "GreyNuns" not in second.spaces
    assert "GreyNuns" not in second.readings
    assert list(second.spaces) == ["Webster", "Vanier"]
    assert client.diagnostics()["last_keys"] == ["Webster", "Vanier"]


async def test_empty_key_is_skipped(feed: Feed) -> None:
    """An empty key cannot name a device: it is left out."""
    feed.scenario.payload = {"": {"Occupancy": "1.0000", "LastRecordTime": _at(1)}}

    snapshot = await feed.client().async_fetch()

    assert snapshot.spaces == {}
    assert snapshot.readings == {}


async def test_unchanged_poll_compares_equal(feed: Feed) -> None:
    """Two polls of the same data are equal even though fetched at other times."""
    client = feed.client()
    first = await client.async_fetch()
    feed.clock.now += timedelta(minutes=1)

    second = await client.async_fetch()

    assert second == first
    assert second.fetched_at != first.fetched_at


# --- the wire -------------------------------------------------------------------


async def test_one_basic_auth_get_per_poll(feed: Feed) -> None:
    """Each poll is exactly one GET of the occupancy path with Basic credentials."""
    client = feed.client()

    for _ in range(3):
        await client.async_fetch()

    expected_header = (
        "Basic " + base64.b64encode(f"{SEED_USER_ID}:{SEED_API_KEY}".encode()).decode()
    )
    assert (
        feed.wire.requests
        == [("GET", "/API/v1/library/occupancy/", expected_header)] * 3
    )
    assert client.request_count == 3
    assert feed.scenario.calls_today == 3


async def test_validate(feed: Feed) -> None:
    """Validation reads the occupancy once; the user id is the entry's unique id."""
    client = feed.client()

    account = await client.async_validate()

    assert account == Account(
        unique_id=SEED_USER_ID, title=f"Concordia University ({SEED_USER_ID})"
    )
    assert client.request_count == 1


async def test_numeric_user_id_in_config(feed: Feed) -> None:
    """A user id stored as a number still authenticates and names the entry."""
    feed.scenario.credentials = {"5678": "other-key"}
    client = ConcordiaClient(
        feed.context(),
        ConcordiaApplication(5678, "other-key"),  # type: ignore[arg-type]
        feed.base_url,
    )

    account = await client.async_validate()

    assert account.unique_id == "5678"


@pytest.mark.parametrize(
    ("user_id", "api_key"),
    [(SEED_USER_ID, "wrong-key"), ("9999", SEED_API_KEY), ("", "")],
)
async def test_wrong_credentials(feed: Feed, user_id: str, api_key: str) -> None:
    """A 401 is an auth error, both when validating and when polling."""
    client = feed.client()
    # Bypass the constructor's check so that even empty credentials reach the feed.
    token = base64.b64encode(f"{user_id}:{api_key}".encode()).decode()
    client._headers = {"Authorization": f"Basic {token}"}

    with pytest.raises(ProviderAuthError):
        await client.async_validate()
    with pytest.raises(ProviderAuthError):
        await client.async_fetch()
    assert feed.scenario.refused == 2
    assert feed.scenario.calls_today == 0


async def test_error_messages_never_carry_the_key(feed: Feed) -> None:
    """Neither errors nor diagnostics show the API key."""
    client = ConcordiaClient(
        feed.context(), ConcordiaApplication(SEED_USER_ID, "s3cret"), feed.base_url
    )

    with pytest.raises(ProviderAuthError) as err:
        await client.async_fetch()

    assert "s3cret" not in str(err.value)
    assert "s3cret" not in repr(client.diagnostics())
    assert SEED_API_KEY not in repr(feed.client().diagnostics())


async def test_quota_exhaustion_resets_at_montreal_midnight(feed: Feed) -> None:
    """Over quota the feed answers 401 until the next midnight in Montreal."""
    feed.scenario.quota = 2
    # 19:50 in Montreal is 23:50 UTC: the UTC day ends first.
    feed.clock.now = datetime(2018, 8, 27, 19, 50, tzinfo=MONTREAL)
    feed.scenario.libraries = {"Webster": ("10.0000", record_time(feed.clock.now))}
    client = feed.client()

    await client.async_fetch()
    await client.async_fetch()
    with pytest.raises(ProviderAuthError):
        await client.async_fetch()

    # A new UTC day, still the same Montreal day: the quota stays spent.
    feed.clock.now = datetime(2018, 8, 27, 20, 30, tzinfo=MONTREAL)
    assert feed.clock.now.astimezone(UTC).day == 28
    with pytest.raises(ProviderAuthError):
        await client.async_fetch()

    # Just past midnight in Montreal the quota is back.
    feed.clock.now = datetime(2018, 8, 28, 0, 1, tzinfo=MONTREAL)
    feed.scenario.libraries = {"Webster": ("0.0000", record_time(feed.clock.now))}
    snapshot = await client.async_fetch()
    assert snapshot.readings["Webster"].occupancy == 0
    assert feed.scenario.calls_today == 1
    assert feed.scenario.refused == 2


async def test_quota_counts_calls_already_made_today(feed: Feed) -> None:
    """calls_today starts the day where the scenario says."""
    feed.scenario.quota = 10_000
    feed.scenario.calls_today = 10_000

    with pytest.raises(ProviderAuthError):
        await feed.client().async_validate()


@pytest.mark.parametrize(
    "payload",
    [
        '{"Webster": {',
        "<html><body>Service unavailable</body></html>",
        "",
        [{"Webster": {"Occupancy": "1.0000"}}],
        [],
        "367",
        None,
    ],
)
async def test_unparseable_answer(feed: Feed, payload: Any) -> None:
    """Invalid JSON, or a top level that is not an object, fails the poll."""
    # None as a scenario payload means "serve the libraries": send JSON null instead.
    feed.scenario.payload = "null" if payload is None else payload

    with pytest.raises(ProviderResponseError):
        await feed.client().async_fetch()


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (500, {}, ProviderConnectionError),
        (503, {}, ProviderConnectionError),
        (429, {"Retry-After": "120"}, ProviderRateLimitError),
        (403, {}, ProviderAuthError),
    ],
)
async def test_http_errors_propagate(
    feed: Feed, status: int, headers: dict[str, str], error: type[Exception]
) -> None:
    """Statuses are mapped by the shared HTTP layer."""
    feed.wire.status = status
    feed.wire.headers = headers

    with pytest.raises(error):
        await feed.client().async_fetch()


async def test_unreachable_is_a_connection_error(feed: Feed) -> None:
    """A refused connection is a connection error, not an auth or parse error."""
    client = ConcordiaClient(
        feed.context(),
        ConcordiaApplication(SEED_USER_ID, SEED_API_KEY),
        # Port 1 on loopback: nothing listens there.
        "http://127.0.0.1:1/API/v1",
    )

    with pytest.raises(ProviderConnectionError):
        await client.async_fetch()


async def test_diagnostics(feed: Feed) -> None:
    """Diagnostics show the request count and the keys last seen."""
    client = feed.client()
    assert client.diagnostics() == {
        "request_count": 0,
        "last_keys": [],
        "last_fetched_at": None,
    }

    await client.async_fetch()

    assert client.diagnostics() == {
        "request_count": 1,
        "last_keys": ["Webster", "Vanier", "GreyNuns"],
        "last_fetched_at": SEED_NOW,
    }


async def test_defaults(feed: Feed) -> None:
    """The real API is the default base URL; no credentials, no client."""
    client = ConcordiaClient(feed.context(), ConcordiaApplication("1", "k"))
    assert client._http.base_url == DEFAULT_BASE_URL
    assert timedelta(minutes=90) == DEFAULT_STALE_AFTER
    with pytest.raises(ValueError):
        ConcordiaClient(feed.context(), ConcordiaApplication("", "k"))
    with pytest.raises(ValueError):
        ConcordiaClient(feed.context(), ConcordiaApplication("1", ""))
