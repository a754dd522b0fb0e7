"""The shared HTTP layer and the Butlr client's rarer paths."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
import pytest

from custom_components.space_occupancy.providers import (
    ButlrClient,
    ButlrLogin,
    ClientContext,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderRateLimitError,
    ProviderResponseError,
)
from custom_components.space_occupancy.providers.butlr import parse_topology
from custom_components.space_occupancy.providers.http import (
    HttpClient,
    parse_retry_after,
    path_segment,
)

from .conftest import SimulatorServer
from .simulator import Fault
from .simulator.butlr import ACCOUNT, demo_scenario

NOW = datetime(2024, 6, 12, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        ("Wed, 12 Jun 2024 15:02:00 GMT", 120.0),
        ("Wed, 12 Jun 2024 14:00:00 GMT", 0.0),
        ("soon", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    """Retry-After as delta-seconds or an HTTP date; nonsense is ignored."""
    assert parse_retry_after(header, NOW) == seconds


async def test_http_errors(session: ClientSession, simulator: SimulatorServer) -> None:
    """Resets, HTML, broken JSON and 4xx each map to their exception."""
    http = HttpClient(session, simulator.base_url, clock=lambda: NOW)
    simulator.inject(Fault("/api/v3/graphql", kind="reset"))
    with pytest.raises(ProviderConnectionError):
        await http.request("POST", "/api/v3/graphql")
    simulator.inject(Fault("/api/v3/graphql", kind="html", status=502))
    with pytest.raises(ProviderConnectionError, match="HTTP 502"):
        await http.request("POST", "/api/v3/graphql")
    simulator.inject(Fault("/api/v3/graphql", kind="malformed"))
    with pytest.raises(ProviderResponseError, match="invalid JSON"):
        await http.request("POST", "/api/v3/graphql")
    simulator.inject(Fault("/api/v3/graphql", status=418))
    with pytest.raises(ProviderResponseError, match="HTTP 418"):
        await http.request("POST", "/api/v3/graphql")
    assert http.request_count == 4


@dataclass
class OtherOrigin:
    """Another server, where a redirect could point, and the bodies it received."""

    url: str = ""
    received: list[bytes] = field(default_factory=list)


@pytest.fixture
async def other_origin(socket_enabled: None) -> AsyncIterator[OtherOrigin]:
    """Serve another origin on loopback."""
    origin = OtherOrigin()

    async def record(request: web.Request) -> web.Response:
        origin.received.append(await request.read())
        return web.json_response({"access_token": "stolen", "expires_in": 1000})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    origin.url = str(server.make_url("")).rstrip("/")
    yield origin
    await server.close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_never_followed(
    session: ClientSession,
    simulator: SimulatorServer,
    other_origin: OtherOrigin,
    status: int,
) -> None:
    """A login answered with a redirect: the password never leaves for its target.

    aiohttp follows redirects by default and keeps a POST's body on 307 and
    308, to another host or to plain http as well.
    """
    simulator.butlr = demo_scenario(NOW)
    client = ButlrClient(
        ClientContext(session=session),
        ButlrLogin(ACCOUNT[0], ACCOUNT[1]),
        simulator.base_url,
    )
    location = f"{other_origin.url}/api/v2/login"
    simulator.inject(
        Fault("/api/v2/login", status=status, headers={"Location": location})
    )
    with pytest.raises(ProviderResponseError, match=f"redirect \\(HTTP {status}\\)"):
        await client.async_validate()
    assert other_origin.received == []
    assert simulator.butlr.logins == 0


async def test_json_nested_too_deep_is_an_unreadable_answer(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """JSON nested deeper than the decoder goes (RecursionError) is invalid JSON."""
    http = HttpClient(session, simulator.base_url, clock=lambda: NOW)
    simulator.inject(Fault("/api/v3/graphql", kind="json", body="[" * 200_000))
    with pytest.raises(ProviderResponseError, match="invalid JSON"):
        await http.request("POST", "/api/v3/graphql")


@pytest.mark.parametrize(
    ("value", "segment"),
    [
        ("7", "7"),
        ("a/b?c#d", "a%2Fb%3Fc%23d"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("v1.2", "v1.2"),
        ("é 1", "%C3%A9%201"),
        ("\ud800", "%ED%A0%80"),  # a lone surrogate, as JSON may carry one
    ],
)
def test_path_segment(value: str, segment: str) -> None:
    """An id is one path segment, whatever it holds."""
    assert path_segment(value) == segment


async def test_an_invalid_base_url_cannot_connect(session: ClientSession) -> None:
    """A base URL that does not parse (an old entry's) fails like a connection."""
    http = HttpClient(session, "http://[::1")
    with pytest.raises(ProviderConnectionError, match="InvalidURL"):
        await http.request("GET", "/locations")


async def test_rate_limit_without_retry_after(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """A 429 without Retry-After holds requests back for a default minute."""
    clock = [NOW]
    http = HttpClient(session, simulator.base_url, clock=lambda: clock[0])
    simulator.inject(Fault("/api/v3/graphql", status=429))
    with pytest.raises(ProviderRateLimitError) as err:
        await http.request("POST", "/api/v3/graphql")
    assert err.value.retry_after is None
    clock[0] += timedelta(seconds=59)
    with pytest.raises(ProviderRateLimitError):
        await http.request("POST", "/api/v3/graphql")
    assert http.request_count == 1
    clock[0] += timedelta(seconds=1)
    assert http.blocked_until is None


async def test_timeout(session: ClientSession, simulator: SimulatorServer) -> None:
    """A provider slower than the timeout is a connection error."""
    from aiohttp import ClientTimeout

    http = HttpClient(session, simulator.base_url, timeout=ClientTimeout(total=0.05))
    simulator.inject(Fault("/api/v3/graphql", kind="delay", delay=1))
    with pytest.raises(ProviderConnectionError, match="Timeout"):
        await http.request("POST", "/api/v3/graphql")


def test_butlr_needs_credentials(session: ClientSession) -> None:
    """A client without a complete credential pair is a programming error."""
    with pytest.raises(ValueError, match="username and password"):
        ButlrClient(ClientContext(session=session), ButlrLogin("someone", ""))


async def test_graphql_unauthenticated_retries_login(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """GraphQL's UNAUTHENTICATED error is a token rejection: log in once more."""
    simulator.butlr = demo_scenario(NOW)
    client = ButlrClient(
        ClientContext(session=session),
        ButlrLogin(ACCOUNT[0], ACCOUNT[1]),
        simulator.base_url,
    )
    body = '{"errors": [{"message": "x", "extensions": {"code": "UNAUTHENTICATED"}}]}'
    simulator.inject(Fault("/api/v3/graphql", kind="json", body=body))
    await client.async_validate()
    assert simulator.butlr.logins == 2
    simulator.inject(Fault("/api/v3/graphql", kind="json", body=body, times=2))
    simulator.butlr.revoke_tokens()
    with pytest.raises(ProviderAuthError):
        await client.async_validate()


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (
            Fault("/api/v2/login", kind="json", body='{"expires_in": 100}'),
            ProviderResponseError,
        ),
        (Fault("/api/v2/login", status=500), ProviderConnectionError),
    ],
)
async def test_bad_login_answers(
    session: ClientSession,
    simulator: SimulatorServer,
    fault: Fault,
    error: type[Exception],
) -> None:
    """A login answer without a token, or a failing login service."""
    simulator.butlr = demo_scenario(NOW)
    client = ButlrClient(
        ClientContext(session=session),
        ButlrLogin(ACCOUNT[0], ACCOUNT[1]),
        simulator.base_url,
    )
    simulator.inject(fault)
    with pytest.raises(error):
        await client.async_validate()


async def test_login_without_lifetime_uses_fallback(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """No usable expires_in: the token is kept for a short fallback lifetime."""
    simulator.butlr = demo_scenario(NOW)
    client = ButlrClient(
        ClientContext(session=session, clock=lambda: NOW),
        ButlrLogin(ACCOUNT[0], ACCOUNT[1]),
        simulator.base_url,
    )
    simulator.butlr.advertised_expires_in = "soon"
    await client.async_validate()
    assert client.diagnostics()["token_renew_at"] == NOW + timedelta(minutes=4)


def test_topology_odd_values() -> None:
    """Unknown timezones fall back; capacity that is no object is unknown; ids are unique."""
    payload = {
        "data": {
            "sites": {
                "data": [
                    {
                        "id": "site_1",
                        "name": "S",
                        "timezone": "Mars/Olympus",
                        "buildings": [
                            {
                                "id": "building_1",
                                "capacity": 5,
                                "floors": [
                                    {
                                        "id": "space_1",
                                        "timezone": "Europe/Paris",
                                        "rooms": [
                                            {
                                                "id": "room_1",
                                                "sensors": [
                                                    {"mode": "presence"},
                                                    {"mode": "unknown"},
                                                ],
                                            }
                                        ],
                                    }
                                ],
                            }
                        ],
                    }
                ]
            }
        }
    }
    topology = parse_topology(payload, NOW)
    assert topology.spaces["site_1"].timezone is None
    assert topology.spaces["space_1"].timezone == "Europe/Paris"
    assert topology.spaces["building_1"].capacity is None
    assert topology.spaces["room_1"].name == "room_1"
    assert topology.rooms[0].presence_online is True
    assert topology.rooms[0].traffic_online is None
    # A site listed twice: the duplicate is skipped, the topology still parses.
    payload["data"]["sites"]["data"].append({"id": "site_1"})
    again = parse_topology(payload, NOW)
    assert again.spaces == topology.spaces
    assert again.duplicates == ("site site_1",)


async def test_an_unchanged_body_is_decoded_once(socket_enabled: None) -> None:
    """``reuse``: a body equal to the last one under its name is the same object.

    Any other body (one byte more, a body under another name, or a request
    without ``reuse``) is decoded anew.
    """
    bodies = [b'{"data": {"r1": 1}}'] * 2 + [b'{"data": {"r1": 2}}'] * 3
    served = iter(bodies)

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=next(served), content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with ClientSession() as session:
            http = HttpClient(session, str(server.make_url("")), clock=lambda: NOW)
            first = await http.request("POST", "/r", reuse="presence")
            assert await http.request("POST", "/r", reuse="presence") is first
            changed = await http.request("POST", "/r", reuse="presence")
            assert changed == {"data": {"r1": 2}}
            assert first == {"data": {"r1": 1}}
            other = await http.request("POST", "/r", reuse="traffic")
            assert other == changed
            assert other is not changed
            plain = await http.request("POST", "/r")
            assert plain == changed
            assert plain is not changed
    finally:
        await server.close()
