"""The demo simulator's control paths (``python -m tests.simulator --control``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
import random

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
import pytest

from custom_components.space_occupancy.providers.http import basic_authorization

from .simulator import Simulator, create_app
from .simulator.__main__ import parse_args, serve
from .simulator.concordia import (
    OCCUPANCY_PATH,
    SEED_API_KEY,
    SEED_USER_ID,
    seed_scenario,
)
from .simulator.control import SPEND_CONCORDIA_QUOTA, add_control_routes

SEED_LOGIN = {"Authorization": basic_authorization(SEED_USER_ID, SEED_API_KEY)}


@pytest.fixture
async def controlled(socket_enabled: None) -> AsyncIterator[tuple[Simulator, str]]:
    """A simulator with its control paths, listening on loopback, and its URL."""
    simulator = Simulator()
    simulator.concordia = seed_scenario(simulator.clock())
    app = create_app(simulator)
    add_control_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield simulator, str(server.make_url("")).rstrip("/")
    await server.close()


async def test_spending_concordia_quota_refuses_the_next_calls(
    controlled: tuple[Simulator, str],
) -> None:
    """Once spent, the seed application's calls are refused as the real API does."""
    simulator, root = controlled
    async with ClientSession() as session:
        async with session.get(f"{root}{OCCUPANCY_PATH}", headers=SEED_LOGIN) as answer:
            assert answer.status == 200
        async with session.post(f"{root}{SPEND_CONCORDIA_QUOTA}") as answer:
            assert answer.status == 200
            state = await answer.json()
        async with session.get(f"{root}{OCCUPANCY_PATH}", headers=SEED_LOGIN) as answer:
            assert answer.status == 401
            assert answer.headers["WWW-Authenticate"] == 'Basic realm="opendata"'
    scenario = simulator.concordia
    assert state == {
        "quota": scenario.quota,
        "calls_today": scenario.quota,
        "quota_day": scenario.montreal_today().isoformat(),
    }
    assert scenario.refused == 1


async def test_no_control_paths_without_the_option(socket_enabled: None) -> None:
    """The simulator scripts/develop and the tests run has no control path."""
    server = TestServer(create_app(Simulator()), host="127.0.0.1")
    await server.start_server()
    try:
        async with (
            ClientSession() as session,
            session.post(str(server.make_url(SPEND_CONCORDIA_QUOTA))) as answer,
        ):
            assert answer.status in (404, 405)
    finally:
        await server.close()


def test_control_is_an_option() -> None:
    """Off unless asked for."""
    assert parse_args([]).control is False
    assert parse_args(["--control"]).control is True


async def test_serve_adds_the_control_paths(
    socket_enabled: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve(control=True)`` serves them beside the providers."""
    added: list[object] = []
    monkeypatch.setattr("tests.simulator.__main__.add_control_routes", added.append)

    class StopError(Exception):
        """Raised where the server would start listening."""

    async def refuse_to_listen(self: object) -> None:
        raise StopError

    monkeypatch.setattr("aiohttp.web.TCPSite.start", refuse_to_listen)
    with pytest.raises(StopError):
        await serve(
            "127.0.0.1",
            0,
            10.0,
            random.Random(0),  # noqa: S311
            access_log=False,
            control=True,
        )
    assert len(added) == 1
