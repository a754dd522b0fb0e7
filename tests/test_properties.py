"""Property tests of the provider parsers: any JSON in, a valid model or a refusal out.

For any JSON value each parser returns spaces and readings that hold the
model's invariants, or raises ProviderResponseError: never anything else. Two
kinds of input are drawn: any JSON value at all, and values shaped like the
real answers (with any JSON value now and then in place of a field), so that
the deep paths of the parsers are reached too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
import json
import math
from typing import Any, cast
from zoneinfo import ZoneInfo

import aiohttp
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.space_occupancy.providers import (
    ButlrClient,
    ButlrLogin,
    ClientContext,
    OccuspaceClient,
    OccuspaceToken,
    ProviderAuthError,
    ProviderRateLimitError,
    ProviderResponseError,
    Reading,
    Space,
    SpaceKind,
)
from custom_components.space_occupancy.providers.base import MAX_PEOPLE
from custom_components.space_occupancy.providers.butlr import (
    GRAPHQL_PATH,
    LOGIN_PATH,
    parse_topology,
)
from custom_components.space_occupancy.providers.butlr_live import (
    occupancy_by_traffic,
    presence_by_room,
    traffic_reading,
)
from custom_components.space_occupancy.providers.concordia import parse_occupancy
from custom_components.space_occupancy.providers.http import (
    HttpClient,
    parse_retry_after,
)
from custom_components.space_occupancy.providers.occuspace import (
    LOCATIONS_PATH,
    parse_locations,
    readings_from_now,
    root_location,
)

from .simulator.concordia import record_time

NOW = datetime(2024, 6, 12, 15, 0, tzinfo=UTC)

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- Any JSON value -------------------------------------------------------------

# json.loads turns "\ud800" into a lone surrogate; st.text() never draws one.
SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
TEXT = st.one_of(
    st.text(max_size=10),
    st.lists(st.one_of(st.characters(), SURROGATES), max_size=6).map("".join),
)
# Counts around the limit, and integers and floats no count can be (JSON allows
# integers of up to 4,300 digits, and Python's decoder reads Infinity).
EXTREMES = st.one_of(
    st.sampled_from(
        [
            MAX_PEOPLE,
            MAX_PEOPLE + 1,
            -MAX_PEOPLE - 1,
            2**63,
            -(2**63),
            1e308,
            -1e308,
            5e-324,
            math.inf,
            -math.inf,
        ]
    ),
    st.integers(20, 4000).map(lambda digits: 10**digits),
    st.integers(20, 4000).map(lambda digits: -(10**digits)),
)
# Strings the parsers look for, so that any JSON value now and then hits them.
KNOWN_STRINGS = st.sampled_from(
    [
        "",
        "presence",
        "traffic",
        "UNAUTHENTICATED",
        "OK",
        "Webster",
        "room_1",
        "1",
        "-5.0000",
        "367.0000",
        "1e400",
        "NaN",
        "America/New_York",
        "America",
        "2020-02-15T15:30:00.000Z",
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:00:00+01:00",
        "2018-08-27 16:45:00.000",
        "1900-01-01 00:00:00.000",
    ]
)
KNOWN_KEYS = st.sampled_from(
    [
        "data",
        "errors",
        "extensions",
        "code",
        "sites",
        "buildings",
        "floors",
        "rooms",
        "sensors",
        "id",
        "name",
        "timezone",
        "capacity",
        "max",
        "mode",
        "is_online",
        "in",
        "out",
        "sum",
        "last",
        "message",
        "parentID",
        "parentId",
        "count",
        "percentage",
        "isActive",
        "childCounts",
        "timestamp",
        "Occupancy",
        "LastRecordTime",
        "Webster",
        "room_1",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    EXTREMES,
    st.floats(allow_nan=False),
    TEXT,
    KNOWN_STRINGS,
)


def json_values(max_leaves: int) -> st.SearchStrategy[Any]:
    """Any JSON value (NaN aside: it equals nothing, itself included)."""
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.one_of(KNOWN_KEYS, TEXT), inner, max_size=4),
        ),
        max_leaves=max_leaves,
    )


JSON = json_values(12)
# What takes the place of a field now and then: smaller, so examples stay quick.
JUNK = json_values(4)
# What a count or a percentage field may hold: numbers of every size and sign,
# NaN (which Python's decoder reads), numeric and other strings, null, booleans.
NUMBERS = st.one_of(
    st.integers(-5, 60),
    st.integers(),
    st.floats(),
    EXTREMES,
    st.sampled_from(
        ["12", "-5.0000", ".0000", "1e400", "nan", "-inf", " 7 ", "", "x", "1_000", "²"]
    ),
    st.integers(300, 4000).map("9".__mul__),
    st.none(),
    st.booleans(),
)


def mostly(strategy: st.SearchStrategy[Any], odds: int = 8) -> st.SearchStrategy[Any]:
    """The real shape of a field, and one time in ``odds`` any JSON value instead."""
    return st.sampled_from(range(odds)).flatmap(
        lambda n: JUNK if n == odds - 1 else strategy
    )


def unique_ids(node: Any) -> object:
    """Key for lists of objects with distinct ids (anything else is always kept)."""
    return str(node.get("id")) if isinstance(node, dict) else object()


# Aware and naive ISO 8601 times over the whole datetime range, and odd ones.
OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
ISO_TIMES = st.one_of(
    st.datetimes(timezones=st.one_of(st.none(), st.just(UTC), OFFSETS)).map(
        datetime.isoformat
    ),
    st.sampled_from(
        [
            "2020-02-15T15:30:00.000Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "9999-12-31T23:59:59",
            "2020-02-30T00:00:00Z",
            "yesterday",
            "",
        ]
    ),
)

# --- Invariants -----------------------------------------------------------------


def is_count(value: Any) -> bool:
    """A whole number of people: an int (not a bool), at least 0."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_spaces(spaces: Mapping[str, Space]) -> None:
    """Ids unique and non-empty, parents known, capacities and zones usable."""
    for space_id, space in spaces.items():
        assert isinstance(space_id, str)
        assert space_id
        assert space.id == space_id
        assert isinstance(space.name, str)
        assert space.name
        assert isinstance(space.kind, SpaceKind)
        assert space.parent_id is None or space.parent_id in spaces
        assert space.parent_id != space_id
        assert space.capacity is None or (is_count(space.capacity) and space.capacity)
        if space.timezone is not None:
            ZoneInfo(space.timezone)


def check_reading(reading: Reading) -> None:
    """Counts whole and at least 0, percentages finite and at least 0, times aware."""
    assert reading.occupancy is None or is_count(reading.occupancy)
    assert reading.capacity is None or (is_count(reading.capacity) and reading.capacity)
    if reading.percentage is not None:
        assert isinstance(reading.percentage, int | float)
        assert not isinstance(reading.percentage, bool)
        assert math.isfinite(reading.percentage)
        assert reading.percentage >= 0
    assert isinstance(reading.active, bool)
    if reading.active:
        assert reading.occupancy is not None
    assert reading.entries_today is None or is_count(reading.entries_today)
    assert reading.exits_today is None or is_count(reading.exits_today)
    if reading.observed_at is not None:
        assert reading.observed_at.tzinfo is not None
        # Home Assistant shows timestamps in UTC: the instant must have one.
        reading.observed_at.astimezone(UTC)


def check_snapshot(
    spaces: Mapping[str, Space], readings: Mapping[str, Reading]
) -> None:
    """The spaces hold their invariants, and every reading is of one of them."""
    check_spaces(spaces)
    for space_id, reading in readings.items():
        assert space_id in spaces
        check_reading(reading)


# --- Driving a client without a network -------------------------------------------


class FakeHttp:
    """Stands in for a client's HttpClient: answers from a function, no network."""

    def __init__(self, answer: Callable[[str, Mapping[str, Any] | None], Any]) -> None:
        self._answer = answer
        self.request_count = 0

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
        max_bytes: int | None = None,
        reuse: str | None = None,
    ) -> Any:
        self.request_count += 1
        return self._answer(path, json_body)


def run_to_end[T](coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a client's coroutine in an event loop of its own."""
    return asyncio.run(coroutine)


CONTEXT = ClientContext(
    session=cast("aiohttp.ClientSession", None),
    default_timezone=lambda: "Europe/Paris",
    clock=lambda: NOW,
)

# --- Butlr ----------------------------------------------------------------------

TIMEZONE_NAMES = st.sampled_from(
    [
        "America/New_York",
        "Europe/Paris",
        "Asia/Kathmandu",
        "UTC",
        # Not zones: a directory of the database, a file of it that is no zone,
        # a path, an absolute path, a name too long for a file, none at all.
        "America",
        "zone.tab",
        "../etc",
        "/etc/localtime",
        "a" * 300,
        "Not/A_Zone",
        "",
        None,
    ]
)
BUTLR_CAPACITY = st.fixed_dictionaries({}, optional={"max": NUMBERS, "mid": NUMBERS})
BUTLR_SENSOR = st.fixed_dictionaries(
    {
        "mac_address": TEXT,
        "mode": mostly(st.sampled_from(["presence", "traffic", "unknown"])),
    },
    optional={"is_online": mostly(st.booleans())},
)


def butlr_node(
    ids: list[str], children_key: str, children: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """A site, building, floor or room of the GraphQL topology, with its children."""
    return st.fixed_dictionaries(
        {
            "id": mostly(st.sampled_from(ids)),
            children_key: mostly(
                st.lists(
                    mostly(children, odds=20),
                    min_size=1,
                    max_size=2,
                    unique_by=unique_ids,
                )
            ),
        },
        optional={
            "name": mostly(TEXT),
            "timezone": mostly(TIMEZONE_NAMES),
            "capacity": mostly(BUTLR_CAPACITY),
        },
    )


BUTLR_ROOM = butlr_node(
    ["room_1", "room_2", "room_3", "room_4", "room_5"],
    "sensors",
    BUTLR_SENSOR,
)
BUTLR_FLOOR = butlr_node(["space_1", "space_2", "space_3"], "rooms", BUTLR_ROOM)
BUTLR_BUILDING = butlr_node(["building_1", "building_2"], "floors", BUTLR_FLOOR)
BUTLR_SITE = butlr_node(["site_1", "site_2"], "buildings", BUTLR_BUILDING)
BUTLR_TOPOLOGY = st.fixed_dictionaries(
    {
        "data": mostly(
            st.fixed_dictionaries(
                {
                    "sites": mostly(
                        st.fixed_dictionaries(
                            {
                                "data": mostly(
                                    st.lists(
                                        mostly(BUTLR_SITE),
                                        min_size=1,
                                        max_size=2,
                                        unique_by=unique_ids,
                                    )
                                )
                            }
                        )
                    )
                }
            )
        )
    }
)
GRAPHQL_ERROR = st.fixed_dictionaries(
    {"message": TEXT},
    optional={
        "extensions": mostly(
            st.fixed_dictionaries(
                {},
                optional={
                    "code": mostly(
                        st.sampled_from(["UNAUTHENTICATED", "INTERNAL_SERVER_ERROR"])
                    )
                },
            )
        )
    },
)
GRAPHQL_ANSWER = st.one_of(
    BUTLR_TOPOLOGY,
    BUTLR_TOPOLOGY,
    st.builds(
        lambda topology, errors: {**topology, "errors": errors},
        BUTLR_TOPOLOGY,
        mostly(st.lists(GRAPHQL_ERROR, max_size=2)),
    ),
    JSON,
)
REPORT_ROOMS = st.one_of(
    st.sampled_from(["room_1", "room_2", "room_3", "room_4", "room_5"]), TEXT
)
BUTLR_PRESENCE = st.fixed_dictionaries(
    {
        "data": mostly(
            st.dictionaries(
                REPORT_ROOMS,
                mostly(
                    st.dictionaries(
                        TEXT,
                        mostly(
                            st.fixed_dictionaries(
                                {}, optional={"last": NUMBERS, "max": NUMBERS}
                            )
                        ),
                        max_size=3,
                    )
                ),
                max_size=5,
            )
        )
    }
)
BUTLR_STATS = st.fixed_dictionaries({}, optional={"sum": NUMBERS, "count": NUMBERS})
BUTLR_TRAFFIC = st.fixed_dictionaries(
    {
        "data": mostly(
            st.dictionaries(
                REPORT_ROOMS,
                mostly(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "in": mostly(BUTLR_STATS),
                            "out": mostly(BUTLR_STATS),
                        },
                    )
                ),
                max_size=5,
            )
        )
    }
)


@PROPERTY
@given(payload=st.one_of(BUTLR_TOPOLOGY, JSON))
def test_butlr_topology(payload: Any) -> None:
    """Spaces of a valid tree, and pollable rooms among them, or a response error."""
    try:
        topology = parse_topology(payload, NOW)
    except ProviderResponseError:
        return
    check_spaces(topology.spaces)
    room_ids = [room.id for room in topology.rooms]
    assert len(room_ids) == len(set(room_ids))
    for room in topology.rooms:
        assert topology.spaces[room.id].kind is SpaceKind.ROOM
        if room.timezone is not None:  # None: the site names none
            ZoneInfo(room.timezone)
    for parent, children in topology.children.items():
        assert all(topology.spaces[child].parent_id == parent for child in children)


@PROPERTY
@given(
    presence=st.one_of(BUTLR_PRESENCE, JSON),
    traffic=st.one_of(BUTLR_TRAFFIC, JSON),
    online=st.booleans(),
)
def test_butlr_reports(presence: Any, traffic: Any, online: bool) -> None:
    """Presence counts and traffic totals are whole people; readings hold the model."""
    try:
        people = presence_by_room(presence)[0]
    except ProviderResponseError:
        pass
    else:
        for room_id, count in people.items():
            assert isinstance(room_id, str)
            assert count is None or is_count(count)
    try:
        counts = occupancy_by_traffic(traffic)
    except ProviderResponseError:
        return
    for room_id, (entries, exits) in counts.items():
        assert isinstance(room_id, str)
        assert entries is None or is_count(entries)
        assert exits is None or is_count(exits)
        check_reading(traffic_reading((entries, exits), online))
    check_reading(traffic_reading(None, online))


@PROPERTY
@given(
    graphql=GRAPHQL_ANSWER,
    presence=st.one_of(BUTLR_PRESENCE, JSON),
    traffic=st.one_of(BUTLR_TRAFFIC, JSON),
)
def test_butlr_poll(graphql: Any, presence: Any, traffic: Any) -> None:
    """A whole poll through the client: a valid snapshot, parents the sum of rooms."""
    client = ButlrClient(CONTEXT, ButlrLogin("user", "pass"))

    def answer(path: str, body: Mapping[str, Any] | None) -> Any:
        if path == LOGIN_PATH:
            return {"access_token": "token", "expires_in": 3600}
        if path == GRAPHQL_PATH:
            return graphql
        assert body is not None
        if body["filter"]["measurements"] == ["presence"]:
            return presence
        return traffic

    client._http = cast("HttpClient", FakeHttp(answer))
    try:
        snapshot = run_to_end(client.async_fetch())
    except ProviderResponseError:
        return
    except ProviderAuthError:
        # Only a GraphQL error saying so is an authentication failure.
        assert "UNAUTHENTICATED" in json.dumps(graphql)
        return
    check_snapshot(snapshot.spaces, snapshot.readings)
    children: dict[str, list[str]] = {}
    for space in snapshot.spaces.values():
        if space.parent_id is not None:
            children.setdefault(space.parent_id, []).append(space.id)
    for space_id, reading in snapshot.readings.items():
        if snapshot.spaces[space_id].kind is SpaceKind.ROOM:
            continue
        below = [
            snapshot.readings[child]
            for child in children.get(space_id, [])
            if child in snapshot.readings
        ]
        active = [child for child in below if child.active]
        assert below
        assert reading.active == bool(active)
        if active:
            assert reading.occupancy == sum(child.occupancy or 0 for child in active)


# --- Occuspace ------------------------------------------------------------------

LOCATION_IDS = mostly(st.one_of(st.integers(1, 7), st.sampled_from(["8", "x", "²"])))
OCCUSPACE_PARENT = mostly(st.one_of(st.none(), st.integers(0, 7)))
OCCUSPACE_LOCATION = st.fixed_dictionaries(
    {"id": LOCATION_IDS},
    optional={
        "name": mostly(TEXT),
        "parentID": OCCUSPACE_PARENT,
        "parentId": OCCUSPACE_PARENT,
        "capacity": NUMBERS,
        "isActive": mostly(st.booleans()),
        "earliestCount": TEXT,
    },
)
OCCUSPACE_LOCATIONS = st.lists(
    mostly(OCCUSPACE_LOCATION), max_size=7, unique_by=unique_ids
)
OCCUSPACE_COUNT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "name": TEXT,
    "count": NUMBERS,
    "percentage": NUMBERS,
    "isActive": mostly(st.booleans()),
}
OCCUSPACE_NOW = st.fixed_dictionaries(
    {"id": LOCATION_IDS},
    optional={
        **OCCUSPACE_COUNT_FIELDS,
        "timestamp": mostly(ISO_TIMES),
        "childCounts": mostly(
            st.one_of(
                st.none(),
                st.lists(
                    mostly(
                        st.fixed_dictionaries(
                            {"id": LOCATION_IDS}, optional=OCCUSPACE_COUNT_FIELDS
                        )
                    ),
                    max_size=5,
                ),
            )
        ),
    },
)
MESSAGES = mostly(st.sampled_from(["OK", "No data for this location"]))


def occuspace_answer(data: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A v1 answer: ``data`` and a message, or any JSON value."""
    return st.one_of(
        st.fixed_dictionaries({"data": data}, optional={"message": MESSAGES}), JSON
    )


@PROPERTY
@given(data=st.one_of(OCCUSPACE_LOCATIONS, JSON))
def test_occuspace_locations(data: Any) -> None:
    """A valid tree; polled locations are those with children and the tops."""
    try:
        tree = parse_locations(data, NOW)
    except ProviderResponseError:
        return
    check_spaces(tree.spaces)
    assert set(tree.roots) <= tree.spaces.keys()
    assert len(tree.polled) == len(set(tree.polled))
    tops = {space.id for space in tree.spaces.values() if space.parent_id is None}
    assert set(tree.polled) == set(tree.children) | tops
    try:
        root = root_location(tree)
    except ProviderResponseError:
        assert not tree.spaces
    else:
        assert tree.spaces[root.id] is root


@PROPERTY
@given(locations=OCCUSPACE_LOCATIONS, now=st.one_of(OCCUSPACE_NOW, JSON))
def test_occuspace_now(locations: Any, now: Any) -> None:
    """Every polled location reads as itself and its leaf children, or refuses."""
    try:
        tree = parse_locations(locations, NOW)
    except ProviderResponseError:
        return
    for location_id in tree.polled:
        try:
            readings = readings_from_now(tree, location_id, now)
        except ProviderResponseError:
            continue
        check_snapshot(tree.spaces, readings)
        assert location_id in readings


@PROPERTY
@given(
    locations=occuspace_answer(mostly(OCCUSPACE_LOCATIONS)),
    answers=st.data(),
)
def test_occuspace_poll(locations: Any, answers: st.DataObject) -> None:
    """A whole poll through the client: a reading for every location, or refusal."""
    client = OccuspaceClient(CONTEXT, OccuspaceToken("token"))
    now_answer = occuspace_answer(mostly(st.one_of(st.none(), OCCUSPACE_NOW)))

    def answer(path: str, body: Mapping[str, Any] | None) -> Any:
        if path == LOCATIONS_PATH:
            return locations
        return answers.draw(now_answer, label=path)

    client._http = cast("HttpClient", FakeHttp(answer))
    try:
        snapshot = run_to_end(client.async_fetch())
    except ProviderResponseError:
        return
    check_snapshot(snapshot.spaces, snapshot.readings)
    assert snapshot.readings.keys() == snapshot.spaces.keys()


# --- Concordia ------------------------------------------------------------------

RECORD_TIMES = st.one_of(
    st.integers(-300, 300).map(
        lambda minutes: record_time(NOW - timedelta(minutes=minutes))
    ),
    st.sampled_from(
        [
            "1900-01-01 00:00:00.000",
            "0001-01-01 00:00:00.000",
            "9999-12-31 23:59:59.000",
            " 2024-06-12 10:50:00.000 ",
            "2024-06-12 25:00:00.000",
        ]
    ),
    ISO_TIMES,
)
CONCORDIA_LIBRARY = st.fixed_dictionaries(
    {}, optional={"Occupancy": NUMBERS, "LastRecordTime": mostly(RECORD_TIMES)}
)
CONCORDIA_ANSWER = st.dictionaries(
    st.one_of(st.sampled_from(["Webster", "Vanier", "GreyNuns", ""]), TEXT),
    mostly(CONCORDIA_LIBRARY),
    max_size=4,
)


@PROPERTY
@given(payload=st.one_of(CONCORDIA_ANSWER, JSON))
def test_concordia(payload: Any) -> None:
    """A library per non-empty key; an active one has a record time and a change time."""
    try:
        spaces, readings = parse_occupancy(payload, NOW)
    except ProviderResponseError:
        return
    check_snapshot(spaces, readings)
    assert spaces.keys() == readings.keys()
    assert set(spaces) == {key for key in payload if key}
    for reading in readings.values():
        if reading.active:
            assert reading.observed_at is not None
            assert reading.changed_at == NOW


# --- The HTTP layer -------------------------------------------------------------

HTTP_DATES = st.builds(
    lambda moment, offset: format_datetime(moment.replace(tzinfo=offset)),
    st.datetimes(),
    st.one_of(st.just(UTC), OFFSETS),
)
RETRY_AFTER = st.one_of(
    st.none(),
    TEXT,
    st.integers(0, 10**30).map(str),
    st.sampled_from(["9" * 400, "²", " 120 ", "-5", "1.5"]),
    HTTP_DATES,
)


@PROPERTY
@given(header=RETRY_AFTER)
def test_retry_after(header: str | None) -> None:
    """Any Retry-After makes a 429 a rate-limit error with a finite wait, or none."""
    wait = parse_retry_after(header, NOW)
    assert wait is None or (math.isfinite(wait) and wait >= 0)
    http = HttpClient(
        cast("aiohttp.ClientSession", None), "http://127.0.0.1", clock=lambda: NOW
    )
    with pytest.raises(ProviderRateLimitError) as err:
        http._check_status("/path", 429, header)
    assert err.value.retry_after == wait
    assert http.blocked_until is not None or wait == 0
