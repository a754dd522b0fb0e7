"""What every provider client offers, and what it is built from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
import math
from typing import Any, Protocol, runtime_checkable

import aiohttp

from .exceptions import ProviderResponseError
from .http import utcnow
from .models import Account, History, Snapshot

# Keys of the configuration a client is built from (a config entry's data).
KEY_BASE_URL = "base_url"
KEY_USERNAME = "username"
KEY_PASSWORD = "password"  # noqa: S105 - a key name, not a secret
KEY_CLIENT_ID = "client_id"
KEY_CLIENT_SECRET = "client_secret"  # noqa: S105 - a key name
KEY_API_TOKEN = "api_token"  # noqa: S105 - a key name
KEY_USER_ID = "user_id"
KEY_API_KEY = "api_key"

# Counts above this are not people: a sensor or parser went wrong.
MAX_PEOPLE = 1_000_000


@dataclass(frozen=True, slots=True)
class ClientContext:
    """What a client needs from its host besides credentials."""

    session: aiohttp.ClientSession
    # The host's current timezone, for spaces whose provider names none: a
    # function, so that a change of the host's timezone applies at once.
    default_timezone: Callable[[], str] = lambda: "UTC"
    clock: Callable[[], datetime] = utcnow


class Provider(Protocol):
    """An occupancy provider's API client."""

    @property
    def request_count(self) -> int:
        """Requests sent since the client was created."""

    async def async_validate(self) -> Account:
        """Check the credentials with the cheapest call that proves them."""

    async def async_fetch(self) -> Snapshot:
        """Poll the provider once."""

    def diagnostics(self) -> dict[str, Any]:
        """State worth showing in diagnostics; never a secret."""


@runtime_checkable
class HistoryProvider(Provider, Protocol):
    """A provider that serves the hourly history of its spaces (Butlr)."""

    history_request_count: int

    async def async_history(
        self,
        start: datetime,
        stop: datetime,
        pace: Callable[[], Awaitable[None]],
    ) -> History:
        """Hourly occupancy from start to stop (whole hours, at most 48)."""


def whole_people(value: Any) -> int | None:
    """Read a JSON number (or numeric string) as whole people; None if it is not one.

    Negative counts are clamped to zero: counters that reset at midnight go
    below zero while people are still inside.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    # Compared before math.isfinite, which fails on integers too large for a float.
    if not isinstance(value, int | float) or value > MAX_PEOPLE:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return max(0, round(value))


def expect_dict(value: Any, what: str) -> dict[str, Any]:
    """Return value if it is a JSON object, else raise ProviderResponseError."""
    if not isinstance(value, dict):
        raise ProviderResponseError(f"{what} is not an object")
    return value


def expect_list(value: Any, what: str) -> list[Any]:
    """Return value if it is a JSON array, else raise ProviderResponseError."""
    if not isinstance(value, list):
        raise ProviderResponseError(f"{what} is not a list")
    return value


def expect_id(value: Any, what: str) -> str:
    """Return a provider id (string or integer) as a non-empty string."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise ProviderResponseError(f"{what} has no valid id")
    return str(value)


def optional_str(value: Any) -> str | None:
    """Return value if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None
