"""A Concordia library listed twice: the first entry stands, logged once, poll kept.

The feed (seed 003) answers one JSON object keyed by library. A key repeated in
that object is a library listed twice; Python's ``json`` would keep the last
entry without a word, so the client decodes with ``keep_first_pairs``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime, timedelta
import json
import logging
from typing import Any, cast
from zoneinfo import ZoneInfo

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
import pytest

from custom_components.space_occupancy.providers import (
    ClientContext,
    ConcordiaApplication,
    Reading,
)
from custom_components.space_occupancy.providers.concordia import (
    ConcordiaClient,
    keep_first_pairs,
    parse_occupancy,
)
from custom_components.space_occupancy.providers.http import HttpClient

from .simulator.concordia import SEED_API_KEY, SEED_USER_ID, add_routes, seed_scenario

MONTREAL = ZoneInfo("America/Montreal")
SEED_NOW = datetime(2018, 8, 27, 17, 0, tzinfo=MONTREAL)
LOGGER = "custom_components.space_occupancy.providers.concordia"
# The seed's answer with Webster listed a second time, further down.
ANSWER = """{
    "Webster": {"Occupancy": "367.0000", "LastRecordTime": "2018-08-27 16:45:00.000"},
    "Vanier": {"Occupancy": "104.0000", "LastRecordTime": "2018-08-27 16:15:00.000"},
    "GreyNuns": {"Occupancy": "-5.0000", "LastRecordTime": "2018-08-27 16:45:00.000"},
    "Webster": {"Occupancy": "12.0000", "LastRecordTime": "2018-08-27 16:50:00.000"}
}"""
SEED_WEBSTER = Reading(
    occupancy=367,
    observed_at=datetime(2018, 8, 27, 16, 45, tzinfo=MONTREAL),
    changed_at=SEED_NOW,
)


class FakeHttp:
    """Stands in for the client's HTTP layer: decodes ANSWER as the client asks."""

    def __init__(self) -> None:
        """Count requests like the real layer."""
        self.request_count = 0

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
    ) -> Any:
        """Answer the feed's body decoded with the client's object hook."""
        self.request_count += 1
        assert object_pairs_hook is keep_first_pairs
        return json.loads(ANSWER, object_pairs_hook=object_pairs_hook)


def duplicate_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return the messages of the debug records about libraries listed twice."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.DEBUG and "more than once" in record.getMessage()
    ]


def test_keep_first_pairs() -> None:
    """The decoder keeps the first of repeated keys and names them."""
    decoded = json.loads(ANSWER, object_pairs_hook=keep_first_pairs)
    assert decoded["Webster"]["Occupancy"] == "367.0000"
    assert list(decoded) == ["Webster", "Vanier", "GreyNuns"]
    assert decoded.repeated == ("Webster",)
    assert decoded["Vanier"].repeated == ()


def test_parse_keeps_the_first_entry() -> None:
    """A library listed twice reads as its first entry: the seed's numbers."""
    duplicates: set[str] = set()
    spaces, readings = parse_occupancy(
        json.loads(ANSWER, object_pairs_hook=keep_first_pairs),
        SEED_NOW,
        duplicates=duplicates,
    )

    assert list(spaces) == ["Webster", "Vanier", "GreyNuns"]
    assert readings["Webster"] == SEED_WEBSTER
    assert readings["Vanier"].occupancy == 104
    assert readings["GreyNuns"].occupancy == 0
    assert duplicates == {"Webster"}


async def test_client_logs_a_duplicate_once(caplog: pytest.LogCaptureFixture) -> None:
    """Three polls of an answer listing Webster twice: each kept, one debug line."""
    context = ClientContext(session=cast("ClientSession", None), clock=lambda: SEED_NOW)
    client = ConcordiaClient(context, ConcordiaApplication(SEED_USER_ID, SEED_API_KEY))
    client._http = cast("HttpClient", FakeHttp())

    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        snapshots = [await client.async_fetch() for _ in range(3)]

    for snapshot in snapshots:
        assert list(snapshot.spaces) == ["Webster", "Vanier", "GreyNuns"]
        assert snapshot.readings["Webster"] == SEED_WEBSTER
    assert duplicate_records(caplog) == [
        (
            "Concordia listed these more than once in the occupancy answer "
            "(the first is kept): Webster"
        )
    ]
    assert client.request_count == 3


@pytest.fixture
async def feed_url(socket_enabled: None) -> AsyncIterator[str]:
    """Serve the duplicated answer verbatim; return the feed's base URL."""
    scenario = seed_scenario(SEED_NOW, clock=lambda: SEED_NOW)
    scenario.payload = ANSWER
    app = web.Application()
    add_routes(app, scenario)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/API/v1"))
    await server.close()


async def test_duplicate_over_the_wire(session: ClientSession, feed_url: str) -> None:
    """Over HTTP too, Webster reads as its first entry."""
    client = ConcordiaClient(
        ClientContext(session=session, clock=lambda: SEED_NOW),
        ConcordiaApplication(SEED_USER_ID, SEED_API_KEY),
        feed_url,
    )

    snapshot = await client.async_fetch()

    assert snapshot.readings["Webster"] == SEED_WEBSTER
    assert snapshot.readings["Vanier"].observed_at == SEED_NOW - timedelta(minutes=45)
