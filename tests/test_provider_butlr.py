"""The Butlr client on its own: the seeds' examples, windows, tokens, request counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import threading
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import ClientSession
import pytest

from custom_components.space_occupancy.providers import (
    ButlrApiClient,
    ButlrClient,
    ButlrLogin,
    ClientContext,
    ProviderAuthError,
    ProviderResponseError,
    butlr as butlr_module,
)
from custom_components.space_occupancy.providers.butlr_live import (
    occupancy_by_traffic,
    presence_by_room,
    traffic_reading,
)
from custom_components.space_occupancy.providers.timeutil import local_midnight

from .conftest import SimulatorServer
from .simulator import Fault
from .simulator.butlr import (
    ACCOUNT,
    API_CLIENT,
    ButlrRoom,
    ButlrSensor,
    demo_scenario,
    paris_lobby,
)
from .simulator.common import load_fixture

NOW = datetime(2024, 6, 12, 15, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def make_client(
    session: ClientSession,
    simulator: SimulatorServer,
    clock: Clock,
    *,
    api_client: bool = False,
) -> ButlrClient:
    simulator.butlr.clock = clock
    context = ClientContext(
        session=session, default_timezone=lambda: "Europe/Paris", clock=clock
    )
    if api_client:
        return ButlrClient(
            context,
            ButlrApiClient(API_CLIENT[0], API_CLIENT[1]),
            simulator.base_url,
        )
    return ButlrClient(context, ButlrLogin(ACCOUNT[0], ACCOUNT[1]), simulator.base_url)


def test_seed_traffic_example() -> None:
    """Seed 000: room_xxx1 → 0 (10 in, 11 out), room_xxx2 → 3."""
    counts = occupancy_by_traffic(load_fixture("butlr_traffic_seed.json"))
    occupancy = {
        room: traffic_reading(pair, True).occupancy for room, pair in counts.items()
    }
    assert occupancy == {"room_xxx1": 0, "room_xxx2": 3}
    assert counts == {"room_xxx1": (10, 11), "room_xxx2": (10, 7)}


def test_seed_presence_example() -> None:
    """Seed 001: room_xxx1 → 1 + 2 = 3, room_xxx2 → 1 + 1 = 2."""
    assert presence_by_room(load_fixture("butlr_presence_seed.json"))[0] == {
        "room_xxx1": 3,
        "room_xxx2": 2,
    }


async def test_seed_payloads_through_the_client(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """The seeds' answers, served verbatim, give the seeds' numbers end to end."""
    clock = Clock(NOW)
    simulator.butlr = demo_scenario(NOW)
    floor = simulator.butlr.sites[0].buildings[0].floors[0]
    floor.rooms = [
        ButlrRoom("room_xxx1", "Traffic 1", sensors=[ButlrSensor("t1", "traffic")]),
        ButlrRoom("room_xxx2", "Traffic 2", sensors=[ButlrSensor("t2", "traffic")]),
    ]
    simulator.butlr.traffic_payload = load_fixture("butlr_traffic_seed.json")
    client = make_client(session, simulator, clock)
    snapshot = await client.async_fetch()
    assert snapshot.readings["room_xxx1"].occupancy == 0
    assert snapshot.readings["room_xxx2"].occupancy == 3
    assert snapshot.readings["room_xxx2"].entries_today == 10
    assert snapshot.readings["room_xxx2"].exits_today == 7

    floor.rooms = [
        ButlrRoom("room_xxx1", "Presence 1", sensors=[ButlrSensor("p1", "presence")]),
        ButlrRoom("room_xxx2", "Presence 2", sensors=[ButlrSensor("p2", "presence")]),
    ]
    simulator.butlr.presence_payload = load_fixture("butlr_presence_seed.json")
    clock.advance(hours=1)  # the topology is re-read hourly
    snapshot = await client.async_fetch()
    assert snapshot.readings["room_xxx1"].occupancy == 3
    assert snapshot.readings["room_xxx2"].occupancy == 2


@pytest.mark.parametrize(
    ("now", "timezone", "midnight"),
    [
        # New York: EST (−5) before the spring change, EDT (−4) after it.
        (
            datetime(2024, 3, 10, 15, 0, tzinfo=UTC),
            "America/New_York",
            "2024-03-10T05:00:00+00:00",
        ),
        (
            datetime(2024, 3, 11, 15, 0, tzinfo=UTC),
            "America/New_York",
            "2024-03-11T04:00:00+00:00",
        ),
        # And back in the autumn.
        (
            datetime(2024, 11, 3, 15, 0, tzinfo=UTC),
            "America/New_York",
            "2024-11-03T04:00:00+00:00",
        ),
        (
            datetime(2024, 11, 4, 15, 0, tzinfo=UTC),
            "America/New_York",
            "2024-11-04T05:00:00+00:00",
        ),
        # Paris: CET (+1) the day of the change is still a +1 midnight, then +2.
        (
            datetime(2024, 3, 31, 12, 0, tzinfo=UTC),
            "Europe/Paris",
            "2024-03-30T23:00:00+00:00",
        ),
        (
            datetime(2024, 4, 1, 12, 0, tzinfo=UTC),
            "Europe/Paris",
            "2024-03-31T22:00:00+00:00",
        ),
        # Just after local midnight, still the previous day in UTC.
        (
            datetime(2024, 6, 12, 4, 30, tzinfo=UTC),
            "America/New_York",
            "2024-06-12T04:00:00+00:00",
        ),
        (
            datetime(2024, 6, 12, 3, 30, tzinfo=UTC),
            "America/New_York",
            "2024-06-11T04:00:00+00:00",
        ),
    ],
)
def test_traffic_window_starts_at_local_midnight(
    now: datetime, timezone: str, midnight: str
) -> None:
    """The day starts at local midnight on both sides of a DST change."""
    assert (
        local_midnight(now, ZoneInfo(timezone)).astimezone(UTC).isoformat() == midnight
    )


async def test_traffic_request_across_dst(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """The reporting call carries the absolute UTC instant of local midnight."""
    clock = Clock(datetime(2024, 3, 10, 15, 0, tzinfo=UTC))
    simulator.butlr = demo_scenario(clock.now)
    client = make_client(session, simulator, clock)
    await client.async_fetch()
    clock.advance(days=1)
    await client.async_fetch()
    traffic = [
        body
        for body in simulator.butlr.report_bodies
        if body["filter"]["measurements"] == ["traffic"]
    ]
    assert [body["filter"]["start"] for body in traffic] == [
        "2024-03-10T05:00:00Z",
        "2024-03-11T04:00:00Z",
    ]
    assert traffic[0]["window"] == {
        "every": "1h",
        "function": "sum",
        "timezone": "America/New_York",
    }
    assert traffic[0]["group_by"] == {"order": ["room_id", "field"]}


async def test_presence_request_is_absolute_two_minutes(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """Presence asks for an absolute 2-minute window, 1 s max, values ≥ 0."""
    clock = Clock(NOW)
    simulator.butlr = demo_scenario(NOW)
    await make_client(session, simulator, clock).async_fetch()
    presence = next(
        body
        for body in simulator.butlr.report_bodies
        if body["filter"]["measurements"] == ["presence"]
    )
    assert presence == {
        "group_by": {"order": ["room_id", "mac_address"]},
        "window": {"every": "1s", "function": "max"},
        "filter": {
            "start": "2024-06-12T14:58:00Z",
            "stop": "2024-06-12T15:00:00Z",
            "measurements": ["presence"],
            "value": {"gte": 0},
        },
    }


async def test_demo_snapshot(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """Rooms, and parents holding the sum of their rooms."""
    clock = Clock(NOW)
    simulator.butlr = demo_scenario(NOW)
    snapshot = await make_client(session, simulator, clock).async_fetch()
    readings = snapshot.readings
    assert readings["room_meeting"].occupancy == 3
    assert readings["room_meeting"].percentage == 37.5
    assert readings["room_focus"].occupancy == 0
    assert readings["room_focus"].capacity is None
    assert readings["room_cafeteria"].occupancy == 5
    assert (
        readings["room_cafeteria"].entries_today,
        readings["room_cafeteria"].exits_today,
    ) == (7, 2)
    assert "room_storage" not in readings  # no sensors, no reading
    assert snapshot.spaces["room_storage"].parent_id == "space_f1"
    # The floor has its own capacity; the building has none, so its floors' sum.
    assert (readings["space_f1"].occupancy, readings["space_f1"].capacity) == (8, 60)
    assert (
        readings["building_main"].occupancy,
        readings["building_main"].capacity,
    ) == (8, 60)
    assert readings["building_main"].percentage == pytest.approx(13.3)
    assert readings["site_hq"].occupancy == 8
    assert snapshot.spaces["room_cafeteria"].counts_traffic
    assert not snapshot.spaces["room_meeting"].counts_traffic


async def test_unchanged_rooms_keep_their_reading_objects(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """A room whose numbers did not change keeps last poll's very reading.

    Identical objects make the change detection quick; any number that moved
    (a sensor's count, or the same total from other sensors' counts) reads
    anew, and a room's reading never outlives a change of its numbers.
    """
    clock = Clock(NOW)
    simulator.butlr = demo_scenario(NOW)
    client = make_client(session, simulator, clock)
    first = (await client.async_fetch()).readings
    clock.advance(seconds=60)
    second = (await client.async_fetch()).readings
    assert second["room_meeting"] is first["room_meeting"]
    assert second["room_focus"] is first["room_focus"]

    room = simulator.butlr.sites[0].buildings[0].floors[0].rooms[0]
    room.sensors[0].people, room.sensors[1].people = 1, 2  # the same 3 people
    clock.advance(seconds=60)
    third = (await client.async_fetch()).readings
    assert third["room_meeting"] is first["room_meeting"]

    room.sensors[0].people = 4
    clock.advance(seconds=60)
    fourth = (await client.async_fetch()).readings
    assert fourth["room_meeting"].occupancy == 6
    assert fourth["room_meeting"].percentage == 75.0
    assert fourth["space_f1"].occupancy == 11
    assert fourth["room_focus"] is first["room_focus"]

    room.sensors[0].people = 1
    clock.advance(seconds=60)
    fifth = (await client.async_fetch()).readings
    assert fifth["room_meeting"] == first["room_meeting"]
    assert fifth["space_f1"].occupancy == 8


async def test_requests_per_poll_do_not_grow_with_rooms(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """Login and topology once; then presence, traffic and Butlr's series a poll."""
    for rooms in (3, 300):
        clock = Clock(NOW)
        simulator.butlr = demo_scenario(NOW)
        floor = simulator.butlr.sites[0].buildings[0].floors[0]
        floor.rooms = [
            ButlrRoom(
                f"room_{index}",
                f"Room {index}",
                sensors=[
                    ButlrSensor(f"m{index}", "presence" if index % 2 else "traffic")
                ],
            )
            for index in range(rooms)
        ]
        client = make_client(session, simulator, clock)
        await client.async_fetch()
        # login, GraphQL, presence, traffic, calibrated traffic occupancy
        assert client.request_count == 5
        for _ in range(5):
            clock.advance(seconds=60)
            await client.async_fetch()
        assert client.request_count == 5 + 5 * 3, rooms
        assert len((await client.async_fetch()).readings) == rooms + 3


async def test_topology_refreshed_hourly(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """A room added at Butlr appears after the hourly topology refresh."""
    clock = Clock(NOW)
    simulator.butlr = demo_scenario(NOW)
    simulator.butlr.expires_in = 100_000
    client = make_client(session, simulator, clock)
    await client.async_fetch()
    floor = simulator.butlr.sites[0].buildings[0].floors[0]
    floor.rooms.append(
        ButlrRoom("room_new", "New", sensors=[ButlrSensor("n", "presence")])
    )
    clock.advance(minutes=59)
    assert "room_new" not in (await client.async_fetch()).spaces
    clock.advance(minutes=1)
    assert "room_new" in (await client.async_fetch()).spaces
    assert len(simulator.requests_to("/api/v3/graphql")) == 2


async def test_the_topology_is_read_off_the_event_loop(
    session: ClientSession, simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An account's thousands of rooms take tens of milliseconds to read: not in the loop."""
    simulator.butlr = demo_scenario(NOW)
    readers: list[int] = []
    read = butlr_module.parse_topology

    def reading(*args: Any) -> Any:
        readers.append(threading.get_ident())
        return read(*args)

    monkeypatch.setattr(butlr_module, "parse_topology", reading)
    snapshot = await make_client(session, simulator, Clock(NOW)).async_fetch()
    assert "room_meeting" in snapshot.spaces
    assert readers
    assert threading.get_ident() not in readers


async def test_two_timezones_one_call_each(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """Sites in two timezones: one traffic call per local midnight, filtered by room."""
    clock = Clock(NOW)
    simulator.butlr = demo_scenario(NOW)
    simulator.butlr.sites.append(paris_lobby([(NOW - timedelta(hours=1), 4, 1)]))
    snapshot = await make_client(session, simulator, clock).async_fetch()
    traffic = [
        body["filter"]
        for body in simulator.butlr.report_bodies
        if body["filter"]["measurements"] == ["traffic"]
    ]
    assert sorted((f["start"], tuple(f["rooms"]["eq"])) for f in traffic) == [
        ("2024-06-11T22:00:00Z", ("room_lobby",)),
        ("2024-06-12T04:00:00Z", ("room_cafeteria",)),
    ]
    assert snapshot.readings["room_lobby"].occupancy == 3
    assert snapshot.readings["room_cafeteria"].occupancy == 5


async def test_site_without_timezone_uses_home_assistant_timezone(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """A site with no timezone counts from midnight in Home Assistant's timezone."""
    clock = Clock(NOW)
    simulator.butlr = demo_scenario(NOW, timezone=None)
    await make_client(session, simulator, clock).async_fetch()
    traffic = next(
        body
        for body in simulator.butlr.report_bodies
        if body["filter"]["measurements"] == ["traffic"]
    )
    assert traffic["filter"]["start"] == "2024-06-11T22:00:00Z"  # Europe/Paris
    assert traffic["window"]["timezone"] == "Europe/Paris"


@pytest.mark.parametrize("api_client", [False, True])
async def test_token_renewed_before_expiry_only(
    session: ClientSession, simulator: SimulatorServer, api_client: bool
) -> None:
    """No login while the token is valid; a new one shortly before it expires."""
    clock = Clock(NOW)
    simulator.butlr = demo_scenario(NOW)
    simulator.butlr.expires_in = (
        120  # renewed 30 s before expiry (a quarter of its life)
    )
    client = make_client(session, simulator, clock, api_client=api_client)
    await client.async_fetch()
    assert simulator.butlr.logins == 1
    clock.advance(seconds=60)
    await client.async_fetch()
    clock.advance(seconds=29)
    await client.async_fetch()
    assert simulator.butlr.logins == 1
    clock.advance(seconds=2)  # 91 s: inside the renewal margin
    await client.async_fetch()
    assert simulator.butlr.logins == 2
    clock.advance(seconds=60)
    await client.async_fetch()
    assert simulator.butlr.logins == 2
    login_path = "/api/v2/clients/login" if api_client else "/api/v2/login"
    assert len(simulator.requests_to(login_path)) == 2


async def test_rejected_token_logs_in_once_more(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """A 401 on a data call: drop the token, log in again, retry once."""
    clock = Clock(NOW)
    simulator.butlr = demo_scenario(NOW)
    client = make_client(session, simulator, clock)
    await client.async_fetch()
    simulator.butlr.revoke_tokens()
    snapshot = await client.async_fetch()
    assert snapshot.readings["room_meeting"].occupancy == 3
    assert simulator.butlr.logins == 2


async def test_second_rejection_is_an_auth_error(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """A data call rejected again after a fresh login means the access is gone."""
    clock = Clock(NOW)
    simulator.butlr = demo_scenario(NOW)
    client = make_client(session, simulator, clock)
    await client.async_fetch()
    # Both reports of the poll are refused, and both again after the new login.
    simulator.inject(Fault("/api/v3/reporting", status=403, times=4))
    with pytest.raises(ProviderAuthError):
        await client.async_fetch()
    assert simulator.butlr.logins == 2  # one login for both reports
    assert simulator.faults == []


async def test_wrong_password(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """A wrong password fails validation with an auth error that hides it."""
    simulator.butlr = demo_scenario(NOW)
    client = ButlrClient(
        ClientContext(session=session),
        ButlrLogin(ACCOUNT[0], "wrong-password-value"),
        simulator.base_url,
    )
    with pytest.raises(ProviderAuthError) as err:
        await client.async_validate()
    assert "wrong-password-value" not in str(err.value)


async def test_login_answering_400_is_an_auth_error(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """Some deployments answer a bad login with 400."""
    simulator.butlr = demo_scenario(NOW)
    simulator.inject(Fault("/api/v2/login", status=400))
    with pytest.raises(ProviderAuthError):
        await make_client(session, simulator, Clock(NOW)).async_validate()


async def test_validate_returns_the_account(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """The entry's unique id: the lower-case username, or the client id."""
    simulator.butlr = demo_scenario(NOW)
    simulator.butlr.accounts = {"Facilities@Example.com": "pw"}
    client = ButlrClient(
        ClientContext(session=session),
        ButlrLogin("Facilities@Example.com", "pw"),
        simulator.base_url,
    )
    account = await client.async_validate()
    assert account.unique_id == "facilities@example.com"
    client_account = await make_client(
        session, simulator, Clock(NOW), api_client=True
    ).async_validate()
    assert client_account.unique_id == API_CLIENT[0]


@pytest.mark.parametrize(
    "body",
    [
        '{"errors": [{"message": "bad", "extensions": {"code": "BAD_USER_INPUT"}}]}',
        '{"data": {"sites": null}}',
        '{"data": {"sites": {"data": [{"id": "site_1", "buildings": "x"}]}}}',
        "[1, 2]",
    ],
)
async def test_bad_topology_is_a_response_error(
    session: ClientSession, simulator: SimulatorServer, body: str
) -> None:
    """GraphQL errors and wrong shapes raise ProviderResponseError."""
    simulator.butlr = demo_scenario(NOW)
    simulator.inject(Fault("/api/v3/graphql", kind="json", body=body))
    with pytest.raises(ProviderResponseError):
        await make_client(session, simulator, Clock(NOW)).async_fetch()


def test_traffic_parsing_edge_cases() -> None:
    """Missing fields count zero; invalid numbers make the room inactive."""
    counts = occupancy_by_traffic(
        {
            "data": {
                "only_in": {"in": {"sum": 4}},
                "bad": {"in": {"sum": "many"}, "out": {"sum": 1}},
                "not_object": 5,
                "negative": {"in": {"sum": 2}, "out": {"sum": 9}},
            }
        }
    )
    assert traffic_reading(counts["only_in"], True).occupancy == 4
    assert not traffic_reading(counts["bad"], True).active
    assert not traffic_reading(counts["not_object"], True).active
    assert traffic_reading(counts["negative"], True).occupancy == 0
    assert traffic_reading(None, True).occupancy == 0  # nobody came today
    assert not traffic_reading(None, False).active  # every sensor offline
    assert occupancy_by_traffic({"data": None}) == {}
    assert presence_by_room({"data": []})[0] == {}
    assert presence_by_room({"data": {"r": {"m": {"last": None}}, "s": 3}})[0] == {
        "r": None,
        "s": None,
    }
    with pytest.raises(ProviderResponseError):
        presence_by_room({"data": 5})


async def test_topology_that_lost_most_of_the_account_is_a_bad_answer(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """A re-read topology without most spaces is kept out until it repeats.

    The building (and all its rooms) vanishes from one answer: the last
    topology stays, and the topology is asked again in 5 minutes, not an
    hour. Read the same way three times in a row, the smaller account is real.
    """
    simulator.butlr = demo_scenario(NOW)
    clock = Clock(NOW)
    client = make_client(session, simulator, clock)
    first = await client.async_fetch()
    buildings = list(simulator.butlr.sites[0].buildings)
    simulator.butlr.sites[0].buildings.clear()

    clock.now += timedelta(hours=1)
    refused = await client.async_fetch()
    assert refused.spaces is first.spaces
    assert "room_meeting" in refused.readings
    assert client.diagnostics()["topologies_refused"] == 1

    topology_reads = len(simulator.requests_to("/api/v3/graphql"))
    clock.now += timedelta(minutes=5)
    await client.async_fetch()
    assert len(simulator.requests_to("/api/v3/graphql")) == topology_reads + 1
    clock.now += timedelta(minutes=5)
    accepted = await client.async_fetch()
    assert set(accepted.spaces) == {"site_hq"}
    assert "room_meeting" not in accepted.readings

    # Back to normal: the full account is read again like any other change.
    simulator.butlr.sites[0].buildings.extend(buildings)
    clock.now += timedelta(hours=1)
    assert "room_meeting" in (await client.async_fetch()).readings
