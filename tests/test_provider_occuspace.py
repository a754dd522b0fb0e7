"""The Occuspace client on its own, against the simulated Occuspace API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
import logging
from typing import Any

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
import pytest

from custom_components.space_occupancy.providers import (
    ClientContext,
    OccuspaceToken,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderNoSpacesError,
    ProviderResponseError,
    SpaceKind,
)
from custom_components.space_occupancy.providers.occuspace import (
    DEFAULT_BASE_URL,
    NOW_PATH,
    SINGULAR_NOW_PATH,
    OccuspaceClient,
    normalise_percentage,
)

from .simulator.common import load_fixture
from .simulator.occuspace import (
    SEED_TOKEN,
    OccuspaceLocation,
    OccuspaceScenario,
    add_routes,
    express_not_found,
    seed_scenario,
)

START = datetime(2020, 2, 15, 15, 31, tzinfo=UTC)
TOKEN = "token-abc123"
SEED_TIME = datetime(2020, 2, 15, 15, 30, tzinfo=UTC)


class FakeClock:
    """A clock the tests move by hand, shared by the client and the simulator."""

    def __init__(self, now: datetime = START) -> None:
        """Start at a fixed instant."""
        self.now = now

    def __call__(self) -> datetime:
        """Return the current fake time."""
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move time forward."""
        self.now += delta


Serve = Callable[[OccuspaceScenario], Awaitable[str]]


@pytest.fixture
def clock() -> FakeClock:
    """Return a clock starting one minute after the seed's timestamp."""
    return FakeClock()


@pytest.fixture
async def serve(socket_enabled: None) -> AsyncIterator[Serve]:
    """Start a simulated Occuspace for a scenario; return its v1 base URL."""
    servers: list[TestServer] = []

    async def start(scenario: OccuspaceScenario) -> str:
        app = web.Application()
        add_routes(app, scenario)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("/v1"))

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
def make_client(
    session: ClientSession, clock: FakeClock
) -> Callable[..., OccuspaceClient]:
    """Build a client for a base URL, sharing the test's clock."""

    def make(base_url: str, token: str = TOKEN) -> OccuspaceClient:
        return OccuspaceClient(
            ClientContext(session=session, clock=clock),
            OccuspaceToken(token),
            base_url,
        )

    return make


def tree_scenario(clock: FakeClock, **overrides: Any) -> OccuspaceScenario:
    """Build a campus: root 1, buildings 10-14, five floors each (100, ...): 31."""
    locations = [OccuspaceLocation(1, "Campus", None, 3000)]
    for building in range(5):
        building_id = 10 + building
        locations.append(OccuspaceLocation(building_id, f"Building {building}", 1, 600))
        locations.extend(
            OccuspaceLocation(
                100 + building * 10 + floor,
                f"Building {building} floor {floor}",
                building_id,
                120,
                count=10 * floor + building,
            )
            for floor in range(5)
        )
    scenario = OccuspaceScenario(locations=locations, tokens={TOKEN}, clock=clock)
    for name, value in overrides.items():
        setattr(scenario, name, value)
    return scenario


def big_scenario(clock: FakeClock) -> OccuspaceScenario:
    """Build three levels, 61 locations: root, 6 buildings, 9 floors each."""
    locations = [OccuspaceLocation(1, "Campus", None, 5000)]
    for building in range(6):
        building_id = 2 + building
        locations.append(OccuspaceLocation(building_id, f"B{building}", 1, 800))
        locations.extend(
            OccuspaceLocation(
                100 + building * 10 + floor,
                f"B{building} F{floor}",
                building_id,
                80,
                count=floor,
            )
            for floor in range(9)
        )
    return OccuspaceScenario(locations=locations, tokens={TOKEN}, clock=clock)


async def test_seed_example(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """The seed's payloads give the seed's numbers."""
    scenario = seed_scenario(clock=clock)
    client = make_client(await serve(scenario), SEED_TOKEN)

    snapshot = await client.async_fetch()

    building, first, second = (snapshot.readings[key] for key in ("2", "3", "4"))
    assert (building.occupancy, building.percentage) == (100, 20.0)
    assert (first.occupancy, first.percentage) == (70, 18.0)
    assert (second.occupancy, second.percentage) == (30, 30.0)
    assert building.capacity == 500
    assert first.capacity == 390
    assert all(reading.active for reading in snapshot.readings.values())
    # Children take their parent's timestamp.
    assert building.observed_at == first.observed_at == SEED_TIME
    assert snapshot.readings["1"].occupancy == 100
    assert snapshot.readings["1"].percentage == 10.0
    assert snapshot.spaces["3"].name == "Office 1st Floor"
    assert snapshot.spaces["3"].parent_id == "2"
    assert snapshot.spaces["3"].kind is SpaceKind.LOCATION
    assert snapshot.spaces["3"].timezone is None
    assert snapshot.spaces["1"].parent_id is None
    # /locations, then one call for each location that has children.
    assert scenario.requests == [
        "/v1/locations",
        "/v1/locations/1/now",
        "/v1/locations/2/now",
    ]
    assert client.request_count == 3


async def test_seed_fixtures_are_the_seed_payloads() -> None:
    """The recorded payloads keep the seed's example values."""
    locations = load_fixture("occuspace_locations.json")
    now = load_fixture("occuspace_now_2.json")
    assert locations["data"][:2] == [
        {
            "id": 1,
            "name": "Sales",
            "parentID": None,
            "capacity": 1000,
            "earliestCount": "2020-01-15",
            "isActive": True,
        },
        {
            "id": 2,
            "name": "Office Building",
            "parentID": 1,
            "capacity": 500,
            "earliestCount": "2020-01-15",
            "isActive": True,
        },
    ]
    assert now["data"]["count"] == 100
    assert [child["count"] for child in now["data"]["childCounts"]] == [70, 30]


async def test_validate_seed(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """The account is the token's root location."""
    client = make_client(await serve(seed_scenario(clock=clock)), SEED_TOKEN)

    account = await client.async_validate()

    assert account.unique_id == "1"
    assert account.title == "Occuspace (Sales)"
    # The tree read by validation serves the first poll.
    await client.async_fetch()
    assert client.request_count == 3


async def test_validate_smallest_root(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """Several roots: the smallest id wins, numerically."""
    scenario = OccuspaceScenario(
        locations=[
            OccuspaceLocation(10, "Ten", None, 10),
            OccuspaceLocation(2, "Two", 5, 10),  # its parent 5 is a leaf below 9
            OccuspaceLocation(9, "Nine", None, 10),
            OccuspaceLocation(5, "Five", 9, 10),
        ],
        tokens={TOKEN},
        clock=clock,
    )
    client = make_client(await serve(scenario))

    account = await client.async_validate()

    assert account.unique_id == "9"
    assert account.title == "Occuspace (Nine)"


async def test_validate_token_scoped_below_root(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """With no null parent in sight, the top location the token sees is the root."""
    scenario = seed_scenario(clock=clock, locations_payload=None)
    scenario.locations = scenario.locations[1:]  # Sales is not visible
    client = make_client(await serve(scenario), SEED_TOKEN)

    account = await client.async_validate()
    snapshot = await client.async_fetch()

    assert account.unique_id == "2"
    assert snapshot.spaces["2"].parent_id is None
    assert snapshot.readings["2"].occupancy == 100


async def test_validate_rejected_token(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """A 401 on /locations is an authentication failure, without the token."""
    client = make_client(await serve(seed_scenario(clock=clock)), "wrong-secret")

    with pytest.raises(ProviderAuthError) as err:
        await client.async_validate()
    assert "wrong-secret" not in str(err.value)

    with pytest.raises(ProviderAuthError):
        await client.async_fetch()


async def test_validate_no_locations(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """A token that sees no location cannot make an entry: no spaces, not an error."""
    client = make_client(await serve(OccuspaceScenario(tokens={TOKEN}, clock=clock)))
    with pytest.raises(ProviderNoSpacesError):
        await client.async_validate()


async def test_large_tree_request_count(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """One call per location with children; /locations at most hourly."""
    scenario = big_scenario(clock)
    assert len(scenario.locations) >= 50
    client = make_client(await serve(scenario))

    snapshot = await client.async_fetch()

    assert len(snapshot.spaces) == len(snapshot.readings) == 61
    assert client.request_count == 1 + 7
    assert scenario.requests_to("/v1/locations/1") == ["/v1/locations/1/now"]
    now_calls = [path for path in scenario.requests if path.endswith("/now")]
    assert sorted(now_calls) == sorted(
        f"/v1/locations/{location_id}/now" for location_id in range(1, 8)
    )
    assert snapshot.readings["2"].occupancy == sum(range(9))
    assert snapshot.readings["1"].occupancy == 6 * sum(range(9))
    assert snapshot.readings["104"].occupancy == 4
    assert snapshot.readings["104"].percentage == 5.0
    assert snapshot.spaces["104"].parent_id == "2"

    clock.advance(timedelta(minutes=59))
    await client.async_fetch()
    assert client.request_count == 8 + 7
    assert scenario.requests.count("/v1/locations") == 1

    clock.advance(timedelta(minutes=1))
    await client.async_fetch()
    assert client.request_count == 15 + 8
    assert scenario.requests.count("/v1/locations") == 2


async def test_new_location_appears_after_the_hour(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """A location added to the tree shows up at the hourly re-read."""
    scenario = tree_scenario(clock)
    client = make_client(await serve(scenario))
    await client.async_fetch()
    scenario.locations.append(OccuspaceLocation(999, "Annex", 10, 50, count=7))

    clock.advance(timedelta(minutes=30))
    assert "999" not in (await client.async_fetch()).spaces

    clock.advance(timedelta(minutes=30))
    snapshot = await client.async_fetch()
    assert snapshot.readings["999"].occupancy == 7
    assert snapshot.spaces["999"].parent_id == "10"


async def test_parent_id_casing(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """Deployments that spell it parentId build the same tree."""
    scenario = tree_scenario(clock, parent_key="parentId")
    client = make_client(await serve(scenario))

    snapshot = await client.async_fetch()

    assert snapshot.spaces["100"].parent_id == "10"
    assert snapshot.spaces["10"].parent_id == "1"
    assert snapshot.readings["143"].occupancy == 34
    assert client.request_count == 1 + 6


async def test_singular_path_fallback_is_remembered(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """A deployment serving only /location/{id}/now: found once, then used."""
    scenario = tree_scenario(clock, singular_path_only=True)
    client = make_client(await serve(scenario))

    snapshot = await client.async_fetch()

    assert all(reading.active for reading in snapshot.readings.values())
    assert snapshot.readings["10"].occupancy == sum(10 * floor for floor in range(5))
    # The plural path was tried once; every later call went singular.
    assert scenario.requests_to("/v1/locations/") == ["/v1/locations/1/now"]
    assert len(scenario.requests_to("/v1/location/")) == 6
    assert client.request_count == 1 + 1 + 6
    assert client.diagnostics()["now_path"] == SINGULAR_NOW_PATH

    scenario.requests.clear()
    await client.async_fetch()
    assert scenario.requests_to("/v1/locations") == []
    assert len(scenario.requests) == 6


async def test_hidden_location_is_inactive(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """A 401 on one location's now: it and its leaves go inactive, the rest stay."""
    scenario = tree_scenario(clock, hidden={12})
    client = make_client(await serve(scenario))

    snapshot = await client.async_fetch()

    for space_id in ("12", "120", "121", "124"):
        reading = snapshot.readings[space_id]
        assert (reading.occupancy, reading.active) == (None, False)
        assert reading.percentage is None
    assert snapshot.readings["120"].capacity == 120
    assert snapshot.readings["11"].active
    assert snapshot.readings["131"].occupancy == 13
    # The root still counts the building (the provider can see it).
    assert snapshot.readings["1"].active
    # Both spellings were tried once; the plural one stays in use.
    assert scenario.requests.count("/v1/locations/12/now") == 1
    assert scenario.requests.count("/v1/location/12/now") == 1
    assert client.diagnostics()["now_path"] == NOW_PATH
    assert client.diagnostics()["unavailable_locations"] == ["12"]

    # Later polls skip it until the tree is re-read.
    scenario.requests.clear()
    snapshot = await client.async_fetch()
    assert len(scenario.requests) == 5
    assert not snapshot.readings["12"].active

    scenario.hidden.clear()
    clock.advance(timedelta(hours=1))
    snapshot = await client.async_fetch()
    assert snapshot.readings["12"].active
    assert snapshot.readings["121"].occupancy == 12
    assert client.diagnostics()["unavailable_locations"] == []


async def test_every_location_rejected_is_auth_error(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """A 401 from every now call means the token itself was revoked."""
    scenario = tree_scenario(clock)
    client = make_client(await serve(scenario))
    await client.async_fetch()

    scenario.hidden = {1, 10, 11, 12, 13, 14}
    with pytest.raises(ProviderAuthError) as err:
        await client.async_fetch()
    assert TOKEN not in str(err.value)

    # Nothing was written off: once access returns, every location answers.
    scenario.hidden.clear()
    snapshot = await client.async_fetch()
    assert all(reading.active for reading in snapshot.readings.values())


async def test_revoked_token_after_setup(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """A revoked token fails every now call with 401: authentication error."""
    scenario = seed_scenario(clock=clock)
    client = make_client(await serve(scenario), SEED_TOKEN)
    await client.async_fetch()

    scenario.tokens.clear()
    with pytest.raises(ProviderAuthError):
        await client.async_fetch()


async def test_hidden_location_on_singular_deployment(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """401 on the singular path, HTML 404 on the plural one: inactive, no error."""
    scenario = tree_scenario(clock, singular_path_only=True, hidden={13})
    client = make_client(await serve(scenario))

    snapshot = await client.async_fetch()

    assert not snapshot.readings["13"].active
    assert not snapshot.readings["132"].active
    assert snapshot.readings["12"].active
    assert scenario.requests.count("/v1/locations/13/now") == 1
    assert client.diagnostics()["now_path"] == SINGULAR_NOW_PATH


async def test_html_404_on_both_paths(
    make_client: Callable[..., OccuspaceClient], socket_enabled: None
) -> None:
    """A deployment where neither now path exists: every location inactive."""
    app = web.Application()

    async def locations(request: web.Request) -> web.Response:
        return web.json_response(load_fixture("occuspace_locations.json"))

    async def not_found(request: web.Request) -> web.Response:
        return express_not_found(request.path)

    app.router.add_get("/v1/locations", locations)
    app.router.add_get("/v1/{tail:.*}", not_found)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        client = make_client(str(server.make_url("/v1")))
        snapshot = await client.async_fetch()
    finally:
        await server.close()

    assert not any(reading.active for reading in snapshot.readings.values())
    assert set(snapshot.readings) == {"1", "2", "3", "4"}
    assert client.request_count == 1 + 2 * 2


async def test_html_404_on_plural_then_singular_works(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """The Express HTML 404 of the plural path is not a JSON error."""
    scenario = seed_scenario(clock=clock, singular_path_only=True, now_payloads={})
    client = make_client(await serve(scenario), SEED_TOKEN)

    snapshot = await client.async_fetch()

    assert snapshot.readings["3"].occupancy == 70
    assert scenario.requests == [
        "/v1/locations",
        "/v1/locations/1/now",
        "/v1/location/1/now",
        "/v1/location/2/now",
    ]


async def test_message_kept_for_diagnostics(
    serve: Serve,
    make_client: Callable[..., OccuspaceClient],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A message other than OK is logged at debug and shown in diagnostics."""
    scenario = tree_scenario(
        clock,
        messages={11: "Missing data: client network was down"},
        locations_message="Some locations are closed",
    )
    client = make_client(await serve(scenario))

    with caplog.at_level(
        logging.DEBUG, logger="custom_components.space_occupancy.providers.occuspace"
    ):
        snapshot = await client.async_fetch()

    assert snapshot.readings["11"].active
    assert "client network was down" in caplog.text
    assert TOKEN not in caplog.text
    diagnostics = client.diagnostics()
    assert diagnostics["messages"]["11"] == {
        "message": "Missing data: client network was down",
        "seen_at": START,
    }
    assert (
        diagnostics["messages"]["locations"]["message"] == "Some locations are closed"
    )
    assert set(diagnostics["messages"]) == {"11", "locations"}
    assert diagnostics["request_count"] == 7
    assert diagnostics["locations_fetched_at"] == START
    assert diagnostics["locations"] == 31
    assert diagnostics["locations_polled"] == 6
    assert TOKEN not in repr(diagnostics)


async def test_inactive_child(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """An inactive leaf has no occupancy and is not active; its parent carries on."""
    scenario = tree_scenario(clock)
    floor = scenario.location(102)
    assert floor is not None
    floor.is_active = False
    client = make_client(await serve(scenario))

    snapshot = await client.async_fetch()

    reading = snapshot.readings["102"]
    assert (reading.occupancy, reading.active, reading.percentage) == (
        None,
        False,
        None,
    )
    assert reading.capacity == 120
    assert reading.observed_at == START
    assert snapshot.readings["10"].active
    assert snapshot.readings["10"].occupancy == 0 + 10 + 30 + 40


async def test_inactive_parent_location(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """A building whose floors are all inactive is itself inactive."""
    scenario = tree_scenario(clock)
    for location in scenario.children(14):
        location.is_active = False
    client = make_client(await serve(scenario))

    snapshot = await client.async_fetch()

    assert not snapshot.readings["14"].active
    assert snapshot.readings["14"].occupancy is None
    assert not snapshot.readings["142"].active


async def test_over_capacity_is_shown_over_100_percent(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """1.2 on the wire is 120 % of capacity, with or without a listed capacity.

    Seed 002's percentage is count / capacity (100 people, 0.20 of 500); a
    university library can "easily" hold double its nominal capacity.
    """
    payload = load_fixture("occuspace_now_2.json")
    payload["data"]["count"] = 600
    payload["data"]["percentage"] = 1.2
    payload["data"]["childCounts"][0]["percentage"] = 2.05
    scenario = seed_scenario(clock=clock, now_payloads={2: payload})
    client = make_client(await serve(scenario), SEED_TOKEN)

    snapshot = await client.async_fetch()

    assert snapshot.readings["2"].occupancy == 600
    assert snapshot.readings["2"].percentage == 120.0
    assert snapshot.readings["3"].percentage == 205.0


async def test_percentage_without_capacity_is_a_fraction(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """A location with no listed capacity still reads 1.2 as 120 %, not 1.2 %."""
    scenario = OccuspaceScenario(
        locations=[OccuspaceLocation(7, "Reading room", None, 0, count=30)],
        tokens={TOKEN},
        clock=clock,
        now_payloads={
            7: {
                "message": "OK",
                "data": {
                    "id": 7,
                    "name": "Reading room",
                    "count": 30,
                    "percentage": 1.2,
                    "timestamp": "2024-06-12T15:00:00.000Z",
                    "isActive": True,
                    "childCounts": None,
                },
            }
        },
    )
    client = make_client(await serve(scenario))

    reading = (await client.async_fetch()).readings["7"]

    assert reading.capacity is None
    assert reading.percentage == 120.0


async def test_missing_percentage_is_computed(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """Without a percentage, occupancy over the listed capacity gives one."""
    payload = load_fixture("occuspace_now_2.json")
    del payload["data"]["percentage"]
    payload["data"]["childCounts"][0]["percentage"] = None
    scenario = seed_scenario(clock=clock, now_payloads={2: payload})
    client = make_client(await serve(scenario), SEED_TOKEN)

    snapshot = await client.async_fetch()

    assert snapshot.readings["2"].percentage == 20.0
    assert snapshot.readings["3"].percentage == 17.9


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.62, 62.0),
        (0.2, 20.0),  # seed 002: 100 people of 500
        (1, 100.0),
        (1.2, 120.0),  # over capacity is normal, and shown
        (2.5, 250.0),
        (10, 1000.0),  # the most a room can be, however crowded
        (10.01, None),  # past it: not an occupancy (62 meant as 62 % lands here)
        (62, None),
        (0, 0.0),
        (0.0712, 7.1),
        (None, None),
        ("0.5", None),
        (True, None),
        (-0.5, None),
        (float("nan"), None),
        (float("inf"), None),
        (10**400, None),
    ],
)
def test_normalise_percentage(value: Any, expected: float | None) -> None:
    """The wire's fraction of capacity becomes a percentage, in one place."""
    assert normalise_percentage(value) == expected


async def test_capacity_unset_and_leaf_root(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """Capacity 0 is unknown; a root without children gets its own call."""
    scenario = OccuspaceScenario(
        locations=[OccuspaceLocation(7, "Lobby", None, 0, count=4)],
        tokens={TOKEN},
        clock=clock,
    )
    client = make_client(await serve(scenario))

    snapshot = await client.async_fetch()

    assert snapshot.spaces["7"].capacity is None
    reading = snapshot.readings["7"]
    assert (reading.occupancy, reading.capacity, reading.percentage) == (4, None, None)
    assert scenario.requests == ["/v1/locations", "/v1/locations/7/now"]


async def test_child_missing_from_child_counts(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """A leaf its parent's answer leaves out has no reading: inactive."""
    payload = load_fixture("occuspace_now_2.json")
    payload["data"]["childCounts"] = payload["data"]["childCounts"][:1]
    payload["data"]["childCounts"].append({"id": 99, "name": "Unknown", "count": 3})
    scenario = seed_scenario(clock=clock, now_payloads={2: payload})
    client = make_client(await serve(scenario), SEED_TOKEN)

    snapshot = await client.async_fetch()

    assert snapshot.readings["3"].occupancy == 70
    assert not snapshot.readings["4"].active
    assert "99" not in snapshot.readings


async def test_null_data_with_message(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """An answer with no data (and a message why) makes the location inactive."""
    payload = {"message": "Location not yet activated", "data": None}
    scenario = seed_scenario(clock=clock, now_payloads={2: payload})
    client = make_client(await serve(scenario), SEED_TOKEN)

    snapshot = await client.async_fetch()

    assert not snapshot.readings["2"].active
    assert not snapshot.readings["3"].active
    assert snapshot.readings["1"].active
    assert client.diagnostics()["messages"]["2"]["message"] == (
        "Location not yet activated"
    )


@pytest.mark.parametrize(
    "locations_payload",
    [
        [],
        {"message": "OK"},
        {"message": "OK", "data": {"id": 1}},
        {"message": "OK", "data": ["not a location"]},
        {"message": "OK", "data": [{"name": "no id"}]},
        {"message": "OK", "data": [{"id": 1, "parentID": True}]},
    ],
)
async def test_malformed_locations(
    serve: Serve,
    make_client: Callable[..., OccuspaceClient],
    clock: FakeClock,
    locations_payload: Any,
) -> None:
    """A location list that does not parse is a response error."""
    scenario = seed_scenario(clock=clock, locations_payload=locations_payload)
    client = make_client(await serve(scenario), SEED_TOKEN)

    with pytest.raises(ProviderResponseError):
        await client.async_fetch()


@pytest.mark.parametrize(
    "now_payload",
    [
        "text",
        {"message": "OK"},
        {"message": "OK", "data": [1, 2]},
        {"message": "OK", "data": {"count": 1, "childCounts": {"id": 3}}},
        {"message": "OK", "data": {"count": 1, "childCounts": ["x"]}},
        {"message": "OK", "data": {"count": 1, "childCounts": [{"count": 2}]}},
    ],
)
async def test_malformed_now(
    serve: Serve,
    make_client: Callable[..., OccuspaceClient],
    clock: FakeClock,
    now_payload: Any,
) -> None:
    """A now answer of the wrong shape is a response error."""
    scenario = seed_scenario(clock=clock, now_payloads={2: now_payload})
    client = make_client(await serve(scenario), SEED_TOKEN)

    with pytest.raises(ProviderResponseError):
        await client.async_fetch()


async def test_invalid_json_and_server_errors(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """Broken JSON is a response error; a 500 or 429 fails the poll."""
    statuses = iter([200, 500, 429])
    app = web.Application()

    async def broken(request: web.Request) -> web.Response:
        status = next(statuses)
        if status == 200:
            return web.Response(text='{"data": [', content_type="application/json")
        return web.Response(status=status, headers={"Retry-After": "30"})

    app.router.add_get("/v1/locations", broken)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        client = make_client(str(server.make_url("/v1")))
        with pytest.raises(ProviderResponseError):
            await client.async_fetch()
        with pytest.raises(ProviderConnectionError):
            await client.async_fetch()
        with pytest.raises(ProviderConnectionError) as err:
            await client.async_fetch()
        assert getattr(err.value, "retry_after", None) == 30
    finally:
        await server.close()


async def test_timestamps(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """A naive timestamp is UTC; an unreadable one is no observation time."""
    payload = load_fixture("occuspace_now_2.json")
    payload["data"]["timestamp"] = "2020-02-15T15:30:00"
    root = {"message": "OK", "data": {"count": 1, "timestamp": "yesterday"}}
    scenario = seed_scenario(clock=clock, now_payloads={2: payload, 1: root})
    client = make_client(await serve(scenario), SEED_TOKEN)

    snapshot = await client.async_fetch()

    assert snapshot.readings["4"].observed_at == SEED_TIME
    assert snapshot.readings["1"].observed_at is None
    assert snapshot.readings["1"].occupancy == 1


async def test_construction(session: ClientSession, clock: FakeClock) -> None:
    """A token builds the client; the base URL defaults to the real API."""
    context = ClientContext(session=session, clock=clock)
    client = OccuspaceClient(context, OccuspaceToken(TOKEN))
    assert client.diagnostics()["request_count"] == 0
    assert client._http.base_url == DEFAULT_BASE_URL
    local = OccuspaceClient(context, OccuspaceToken(TOKEN), "http://127.0.0.1:1/v1/")
    assert local._http.base_url == "http://127.0.0.1:1/v1"
    with pytest.raises(ValueError, match="API token"):
        OccuspaceClient(context, OccuspaceToken(""))
    assert repr(OccuspaceToken(TOKEN)).count(TOKEN) == 0


def duplicate_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return the messages of the debug records about duplicated ids."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.DEBUG and "more than once" in record.getMessage()
    ]


async def test_location_listed_twice(
    serve: Serve,
    make_client: Callable[..., OccuspaceClient],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A location listed twice: the first listing stands, logged once, poll kept."""
    locations = load_fixture("occuspace_locations.json")
    copy = {**locations["data"][2], "parentID": 1, "capacity": 999, "name": "Copy"}
    locations["data"].append(copy)
    scenario = seed_scenario(clock=clock, locations_payload=locations)
    client = make_client(await serve(scenario), SEED_TOKEN)

    with caplog.at_level(
        logging.DEBUG, logger="custom_components.space_occupancy.providers.occuspace"
    ):
        account = await client.async_validate()
        snapshot = await client.async_fetch()
        clock.advance(timedelta(hours=1))  # the list is read again
        again = await client.async_fetch()

    assert account.unique_id == "1"
    assert again.spaces == snapshot.spaces
    assert again.readings["3"] == snapshot.readings["3"]
    assert len(snapshot.spaces) == 4
    first_floor = snapshot.spaces["3"]
    assert (first_floor.name, first_floor.parent_id, first_floor.capacity) == (
        "Office 1st Floor",
        "2",
        390,
    )
    # The seed's numbers, untouched.
    reading = snapshot.readings["3"]
    assert (reading.occupancy, reading.percentage) == (70, 18.0)
    assert snapshot.readings["2"].occupancy == 100
    assert scenario.requests.count("/v1/locations") == 2
    assert scenario.requests.count("/v1/locations/2/now") == 2
    assert duplicate_records(caplog) == [
        (
            "Occuspace listed these more than once in the location list "
            "(the first is kept): 3"
        )
    ]


async def test_child_listed_twice_in_now(
    serve: Serve,
    make_client: Callable[..., OccuspaceClient],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A child listed twice in childCounts keeps its first count, logged once."""
    payload = load_fixture("occuspace_now_2.json")
    children = payload["data"]["childCounts"]
    children.append({**children[0], "count": 5, "percentage": 0.01})
    scenario = seed_scenario(clock=clock, now_payloads={2: payload})
    client = make_client(await serve(scenario), SEED_TOKEN)

    with caplog.at_level(
        logging.DEBUG, logger="custom_components.space_occupancy.providers.occuspace"
    ):
        snapshots = [await client.async_fetch() for _ in range(3)]

    for snapshot in snapshots:
        first, second = snapshot.readings["3"], snapshot.readings["4"]
        assert (first.occupancy, first.percentage) == (70, 18.0)
        assert (second.occupancy, second.percentage) == (30, 30.0)
        assert first.observed_at == SEED_TIME
    assert duplicate_records(caplog) == [
        (
            "Occuspace listed these more than once in the now answer of "
            "location 2 (the first is kept): 3"
        )
    ]


async def test_location_list_that_lost_most_of_the_tree_is_a_bad_answer(
    serve: Serve, make_client: Callable[..., OccuspaceClient], clock: FakeClock
) -> None:
    """A re-read list without most locations is kept out until it repeats 3 times."""
    scenario = tree_scenario(clock)
    client = make_client(await serve(scenario))
    first = await client.async_fetch()
    everything = list(scenario.locations)
    scenario.locations = everything[:7]  # the campus and one building's floors

    clock.now += timedelta(hours=1)
    refused = await client.async_fetch()
    assert refused.spaces is first.spaces
    assert client.diagnostics()["lists_refused"] == 1
    lists = scenario.requests.count("/v1/locations")
    clock.now += timedelta(minutes=5)
    await client.async_fetch()
    assert scenario.requests.count("/v1/locations") == lists + 1
    clock.now += timedelta(minutes=5)
    accepted = await client.async_fetch()
    assert len(accepted.spaces) == 7


async def test_location_ids_are_escaped_in_paths(
    session: ClientSession, socket_enabled: None
) -> None:
    """An id is one path segment: a "/", "?", "#" or ".." in it never reroutes.

    Unescaped, "a/b?c#d" asked for /locations/a/b with a query, and ".."
    climbed out of /locations.
    """
    ids = ["a/b?c#d", "..", "é 1", "7"]
    asked: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        if request.raw_path == "/v1/locations":
            data: Any = [{"id": id_, "parentID": None} for id_ in ids]
        else:
            asked.append(request.raw_path)
            data = {"id": 0, "count": 1, "isActive": True}
        return web.json_response({"message": "OK", "data": data})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        client = OccuspaceClient(
            ClientContext(session=session),
            OccuspaceToken(TOKEN),
            str(server.make_url("/v1")),
        )
        snapshot = await client.async_fetch()
    finally:
        await server.close()
    assert asked == [
        "/v1/locations/a%2Fb%3Fc%23d/now",
        "/v1/locations/%2E%2E/now",
        "/v1/locations/%C3%A9%201/now",
        "/v1/locations/7/now",
    ]
    assert {key: reading.occupancy for key, reading in snapshot.readings.items()} == (
        dict.fromkeys(ids, 1)
    )
