"""Simulated Concordia University open data: the library occupancy feed.

Like the real API, an application over its daily quota is refused with 401,
exactly as if its credentials were wrong; the quota resets at Montreal midnight.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import hdrs, web

from .common import utcnow

MONTREAL = ZoneInfo("America/Montreal")
OCCUPANCY_PATH = "/API/v1/library/occupancy/"
DAILY_QUOTA = 10_000

# Credentials of the seed scenario's application.
SEED_USER_ID = "1234"
SEED_API_KEY = "seed-api-key-0123456789abcdef"


def record_time(moment: datetime) -> str:
    """A ``LastRecordTime`` as the feed writes it: Montreal wall-clock time."""
    local = moment.astimezone(MONTREAL)
    return local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"


@dataclass
class ConcordiaScenario:
    """The libraries the simulated feed serves, who may call it, and how often.

    ``libraries`` maps a key to its (``Occupancy``, ``LastRecordTime``) strings.
    ``payload``, when set, is answered verbatim instead: a ``str`` as the raw
    body (for malformed JSON), anything else encoded as JSON.
    """

    credentials: dict[str, str] = field(default_factory=dict)
    libraries: dict[str, tuple[str, str]] = field(default_factory=dict)
    quota: int = DAILY_QUOTA
    calls_today: int = 0
    clock: Callable[[], datetime] = utcnow
    payload: Any = None
    # The Montreal date calls_today counts for; None: the current one.
    quota_day: date | None = None
    refused: int = 0

    def montreal_today(self) -> date:
        """The current date in Montreal, where the quota's day begins and ends."""
        return self.clock().astimezone(MONTREAL).date()

    def take_call(self) -> bool:
        """Count one authenticated call; False when the day's quota is spent."""
        today = self.montreal_today()
        if self.quota_day != today:
            if self.quota_day is not None:
                self.calls_today = 0
            self.quota_day = today
        if self.calls_today >= self.quota:
            return False
        self.calls_today += 1
        return True

    def occupancy(self) -> dict[str, Any]:
        """The feed's answer built from ``libraries``."""
        return {
            key: {"Occupancy": occupancy, "LastRecordTime": last_record}
            for key, (occupancy, last_record) in self.libraries.items()
        }


CONCORDIA_KEY = web.AppKey("concordia", Callable[[], ConcordiaScenario])


def seed_scenario(
    now: datetime,
    *,
    credentials: dict[str, str] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> ConcordiaScenario:
    """The seed's example, its record times as fresh relative to ``now`` as in the seed.

    The seed was read at about 17:00 with Webster and GreyNuns recorded 15
    minutes earlier and Vanier 45 minutes earlier.
    """
    return ConcordiaScenario(
        credentials=(
            credentials if credentials is not None else {SEED_USER_ID: SEED_API_KEY}
        ),
        libraries={
            "Webster": ("367.0000", record_time(now - timedelta(minutes=15))),
            "Vanier": ("104.0000", record_time(now - timedelta(minutes=45))),
            "GreyNuns": ("-5.0000", record_time(now - timedelta(minutes=15))),
        },
        clock=clock if clock is not None else utcnow,
    )


def _credentials_valid(request: web.Request, scenario: ConcordiaScenario) -> bool:
    scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        login, _, password = (
            base64.b64decode(token, validate=True).decode().partition(":")
        )
    except ValueError:
        return False
    expected = scenario.credentials.get(login)
    return expected is not None and expected == password


def _unauthorized() -> web.Response:
    return web.Response(
        status=401,
        text="Unauthorized",
        headers={hdrs.WWW_AUTHENTICATE: 'Basic realm="opendata"'},
    )


async def _occupancy(request: web.Request) -> web.Response:
    scenario = request.app[CONCORDIA_KEY]()
    # Over quota the real API fails authentication too: the same 401 for both.
    if not _credentials_valid(request, scenario) or not scenario.take_call():
        scenario.refused += 1
        return _unauthorized()
    if isinstance(scenario.payload, str):
        return web.Response(text=scenario.payload, content_type="application/json")
    if scenario.payload is not None:
        return web.json_response(scenario.payload)
    return web.json_response(scenario.occupancy())


def add_routes(
    app: web.Application, scenario: ConcordiaScenario | Callable[[], ConcordiaScenario]
) -> None:
    """Serve Concordia's occupancy endpoint from a scenario."""
    # A getter, so that a test may swap the whole scenario while serving.
    app[CONCORDIA_KEY] = scenario if callable(scenario) else lambda: scenario
    app.router.add_get(OCCUPANCY_PATH, _occupancy)
