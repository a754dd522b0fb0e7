"""Answers are bounded: a body's size, as sent and decompressed, and an account's spaces."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
import gzip
import tracemalloc
from typing import Any
from unittest.mock import patch
import zlib

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
import pytest

from custom_components.space_occupancy.providers import (
    ButlrClient,
    ButlrLogin,
    ClientContext,
    ProviderResponseError,
)
from custom_components.space_occupancy.providers.base import MAX_SPACES
from custom_components.space_occupancy.providers.butlr_history import (
    MAX_HISTORY_RESPONSE_BYTES,
)
from custom_components.space_occupancy.providers.butlr_topology import parse_topology
from custom_components.space_occupancy.providers.concordia import parse_occupancy
from custom_components.space_occupancy.providers.http import (
    MAX_RESPONSE_BYTES,
    HttpClient,
)
from custom_components.space_occupancy.providers.occuspace import parse_locations

from .conftest import SimulatorServer
from .simulator.butlr import ACCOUNT, demo_scenario

NOW = datetime(2024, 6, 12, 15, 0, tzinfo=UTC)
MIB = 1024 * 1024


@dataclass
class RawServer:
    """A server that answers every request with ``answer()``; what it was sent."""

    url: str = ""
    answer: Callable[[], web.StreamResponse] = web.Response
    headers: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
async def raw_server(socket_enabled: None) -> AsyncIterator[RawServer]:
    """Serve raw answers on loopback."""
    raw = RawServer()

    async def handle(request: web.Request) -> web.StreamResponse:
        raw.headers.append(dict(request.headers))
        return raw.answer()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    raw.url = str(server.make_url("")).rstrip("/")
    yield raw
    await server.close()


def bomb(size: int) -> bytes:
    """A gzip body of ``size`` spaces: a few hundred KiB that inflate to ``size``."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * MIB
    parts = [deflater.compress(block) for _ in range(size // MIB)]
    return b"".join([*parts, deflater.flush()])


def encoded(body: bytes, encoding: str) -> Callable[[], web.Response]:
    """An answer with this body and Content-Encoding."""
    return lambda: web.Response(
        body=body,
        headers={"Content-Encoding": encoding, "Content-Type": "application/json"},
    )


async def test_a_decompression_bomb_stops_at_the_limit(
    session: ClientSession, raw_server: RawServer
) -> None:
    """A gzip body that inflates past the limit is an error, not memory.

    aiohttp's own decompression inflated it whole: a 299 KiB body took 313 MiB.
    """
    body = bomb(2 * MAX_RESPONSE_BYTES)
    assert len(body) < MIB
    raw_server.answer = encoded(body, "gzip")
    http = HttpClient(session, raw_server.url)
    tracemalloc.start()
    try:
        with pytest.raises(ProviderResponseError, match="more than 32 MiB"):
            await http.request("GET", "/big")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_RESPONSE_BYTES + 4 * MIB, peak


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_larger_than_the_limit_is_an_error(
    session: ClientSession, raw_server: RawServer, chunked: bool
) -> None:
    """With or without a Content-Length: the limit holds for the body as sent."""

    def answer() -> web.Response:
        response = web.Response(body=b"[" + b"0," * 1000 + b"0]")
        if chunked:
            response.enable_chunked_encoding()
        return response

    raw_server.answer = answer
    http = HttpClient(session, raw_server.url)
    with pytest.raises(ProviderResponseError, match="more than"):
        await http.request("GET", "/big", max_bytes=1000)
    assert len(await http.request("GET", "/big", max_bytes=3000)) == 1001


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # RFC 9110: zlib-wrapped
        ("deflate", lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)),  # raw
        ("identity", lambda data: data),
    ],
)
async def test_compressed_answers_are_read(
    session: ClientSession,
    raw_server: RawServer,
    encoding: str,
    compress: Callable[[bytes], bytes],
) -> None:
    """Gzip and deflate, the encodings asked for, decode as before."""
    raw_server.answer = encoded(compress(b'{"data": [1, 2, 3]}'), encoding)
    http = HttpClient(session, raw_server.url)
    assert await http.request("GET", "/x") == {"data": [1, 2, 3]}
    assert raw_server.headers[-1]["Accept-Encoding"] == "gzip, deflate"


@pytest.mark.parametrize(
    ("body", "encoding", "error"),
    [
        (b"not gzip at all", "gzip", "corrupt gzip"),
        (gzip.compress(b'{"data": 1}')[:-12], "gzip", "truncated gzip"),
        (b'{"data": 1}', "br", "unasked-for encoding"),
    ],
    ids=["corrupt", "truncated", "not-asked-for"],
)
async def test_bad_compressed_answers_are_unreadable(
    session: ClientSession,
    raw_server: RawServer,
    body: bytes,
    encoding: str,
    error: str,
) -> None:
    """A corrupt or truncated body, or an encoding not asked for: an error."""
    raw_server.answer = encoded(body, encoding)
    http = HttpClient(session, raw_server.url)
    with pytest.raises(ProviderResponseError, match=error):
        await http.request("GET", "/x")


async def test_history_answers_may_be_larger(
    session: ClientSession, simulator: SimulatorServer
) -> None:
    """A 48-hour history answer of a large account is far above a poll's."""
    simulator.butlr = demo_scenario(NOW)
    client = ButlrClient(
        ClientContext(session=session, clock=lambda: NOW),
        ButlrLogin(*ACCOUNT),
        simulator.base_url,
    )
    limits: list[int] = []
    real = HttpClient.request

    async def request(http: HttpClient, *args: Any, **kwargs: Any) -> Any:
        limits.append(kwargs.get("max_bytes", MAX_RESPONSE_BYTES))
        return await real(http, *args, **kwargs)

    async def no_pause() -> None:
        return None

    with patch.object(HttpClient, "request", request):
        await client.async_fetch()
        polled = len(limits)
        await client.async_history(NOW.replace(hour=13), NOW, no_pause)
    assert set(limits[:polled]) == {MAX_RESPONSE_BYTES}
    assert set(limits[polled:]) == {MAX_HISTORY_RESPONSE_BYTES}


def butlr_topology(rooms: int) -> dict[str, Any]:
    """One site, building and floor holding this many rooms."""
    room_list = [
        {"id": f"room_{n}", "sensors": [{"mode": "presence"}]} for n in range(rooms)
    ]
    floor = {"id": "space_1", "rooms": room_list}
    site = {"id": "site_1", "buildings": [{"id": "building_1", "floors": [floor]}]}
    return {"data": {"sites": {"data": [site]}}}


def test_butlr_account_with_too_many_spaces_is_an_error() -> None:
    """Up to MAX_SPACES spaces (rooms and their parents) parse; one more does not."""
    most = butlr_topology(MAX_SPACES - 3)
    assert len(parse_topology(most, NOW).spaces) == MAX_SPACES
    with pytest.raises(ProviderResponseError, match="more than 10000 spaces"):
        parse_topology(butlr_topology(MAX_SPACES - 2), NOW)


def test_occuspace_account_with_too_many_locations_is_an_error() -> None:
    """Up to MAX_SPACES locations parse; one more does not."""
    locations = [
        {"id": n, "name": f"L{n}", "parentID": None if n == 1 else 1}
        for n in range(1, MAX_SPACES + 1)
    ]
    assert len(parse_locations(locations, NOW).spaces) == MAX_SPACES
    locations.append({"id": 0, "parentID": 1})
    with pytest.raises(ProviderResponseError, match="more than 10000 spaces"):
        parse_locations(locations, NOW)


def test_concordia_feed_with_too_many_libraries_is_an_error() -> None:
    """Up to MAX_SPACES libraries parse; one more does not."""
    libraries = {f"Library{n}": {} for n in range(MAX_SPACES)}
    assert len(parse_occupancy(libraries, NOW)[0]) == MAX_SPACES
    libraries["OneMore"] = {}
    with pytest.raises(ProviderResponseError, match="more than 10000 spaces"):
        parse_occupancy(libraries, NOW)
