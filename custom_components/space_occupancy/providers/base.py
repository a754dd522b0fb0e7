"""What every provider client offers, and what it is built from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
import math
from typing import Any, Protocol, runtime_checkable

import aiohttp

from .exceptions import ProviderResponseError
from .http import utcnow
from .models import Account, History, Snapshot, Subscription

# Counts above this are not people: a sensor or parser went wrong.
MAX_PEOPLE = 1_000_000
# The most spaces one account may bring (Butlr sites, buildings, floors and
# rooms; Occuspace locations; Concordia libraries): more is an error, not a
# tree that grows without bound. scripts/bench's accounts, the largest we
# document, have 2,056 (Butlr: 2,000 rooms) and 2,000 (Occuspace): 10,000
# leaves a margin of about 5 times, each space being a device with its entities.
MAX_SPACES = 10_000


def check_space_count(count: int) -> None:
    """Raise ProviderResponseError once an account holds more than MAX_SPACES."""
    if count > MAX_SPACES:
        raise ProviderResponseError(
            f"The account has more than {MAX_SPACES} spaces,"
            " the most this integration handles"
        )


@dataclass(frozen=True, slots=True)
class ClientContext:
    """What a client needs from its host besides credentials."""

    session: aiohttp.ClientSession
    # The host's current timezone, for spaces whose provider names none: a
    # function, so that a change of the host's timezone applies at once.
    default_timezone: Callable[[], str] = lambda: "UTC"
    clock: Callable[[], datetime] = utcnow
    # Whether traffic rooms show the people who came in minus those who went
    # out since local midnight (the door-line count, an option of the host)
    # rather than the provider's calibrated occupancy: read at each poll.
    door_line_count: Callable[[], bool] = lambda: False


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a client can do and how it should be polled: the host asks, never guesses.

    ``quota_reset_timezone``: the provider refuses credentials (HTTP 401) once
    a daily quota is spent, exactly as for wrong ones, and the quota resets at
    local midnight there. ``stale_by_change``: the provider's own times cannot
    be trusted, so a reading is stale once it has not changed (``changed_at``)
    for longer than a limit the host sets. ``door_line_count``: traffic rooms
    may be counted by their door lines instead of the provider's calibrated
    occupancy (``ClientContext.door_line_count``).
    """

    poll_interval: timedelta
    min_poll_interval: timedelta
    history: bool = False
    quota_reset_timezone: str | None = None
    stale_by_change: bool = False
    # Real-time push (webhooks) besides polling.
    push: bool = False
    door_line_count: bool = False


# Credentials, one class per kind. repr is off: they are never printed.
@dataclass(frozen=True, slots=True, repr=False)
class ButlrLogin:
    """A Butlr account: the web app's email address and password."""

    username: str
    password: str


@dataclass(frozen=True, slots=True, repr=False)
class ButlrApiClient:
    """A Butlr API client: id and secret from Account Settings, API Tokens."""

    client_id: str
    client_secret: str


@dataclass(frozen=True, slots=True, repr=False)
class OccuspaceToken:
    """An Occuspace API token, issued by the Occuspace team."""

    api_token: str


@dataclass(frozen=True, slots=True, repr=False)
class ConcordiaApplication:
    """A Concordia open data application: its numeric user id and API key."""

    user_id: str
    api_key: str


type Credentials = ButlrLogin | ButlrApiClient | OccuspaceToken | ConcordiaApplication


class Provider(Protocol):
    """An occupancy provider's API client."""

    capabilities: Capabilities

    @property
    def request_count(self) -> int:
        """Requests sent since the client was created."""

    async def async_validate(self) -> Account:
        """Check the credentials with the cheapest call that proves them."""

    async def async_fetch(self, picked: Collection[str] | None = None) -> Snapshot:
        """Poll the provider once: every space, readings of the picked ones.

        ``picked`` spaces bring everything below them; None picks all.
        """

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


@runtime_checkable
class PushProvider(Provider, Protocol):
    """A provider that pushes readings to a webhook (Butlr)."""

    async def async_subscribe(
        self,
        *,
        own_id: str | None,
        url: str,
        header: str,
        secret: str,
        picked: Collection[str] | None,
    ) -> Subscription:
        """Have our webhook (``own_id``, None: none yet) deliver the picked spaces' events."""

    async def async_unsubscribe(self, own_id: str) -> bool:
        """Delete our webhook at the provider, if it still has it."""

    def read_push(self, payload: Any) -> Sequence[object]:
        """Read a delivery's events; raise ProviderResponseError if it is none."""

    def apply_push(
        self, snapshot: Snapshot, events: Sequence[object]
    ) -> Snapshot | None:
        """Apply events to a snapshot; None when nothing changed."""


class DuplicateLog:
    """Logs each id a provider listed twice once per place, at debug level.

    Providers repeat ids now and then (a room, a sensor, a library key): the
    first listing is kept and the poll goes on; the log says so once, not on
    every poll.
    """

    def __init__(self, logger: logging.Logger, provider: str) -> None:
        """Log for one client of one provider."""
        self._logger = logger
        self._provider = provider
        self._logged: set[tuple[str, str]] = set()

    def note(self, where: str, ids: Iterable[str]) -> None:
        """Log the ids listed twice in ``where`` that were not logged there before."""
        new = sorted({id_ for id_ in ids if (where, id_) not in self._logged})
        if not new:
            return
        self._logged.update((where, id_) for id_ in new)
        self._logger.debug(
            "%s listed these more than once in %s (the first is kept): %s",
            self._provider,
            where,
            ", ".join(new),
        )


def whole_people(value: Any) -> int | None:
    """Read a JSON number (or numeric string) as whole people; None if it is not one.

    Negative counts are clamped to zero: counters that reset at midnight go
    below zero while people are still inside.
    """
    if type(value) is int:
        # Most counts, read as below without the checks (a bool is no int here).
        return None if value > MAX_PEOPLE else max(0, value)
    if type(value) is float:  # As below: too large, NaN and infinities are None.
        return (
            max(0, round(value))
            if math.isfinite(value) and value <= MAX_PEOPLE
            else None
        )
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


# A re-read account that lost more than this share of its spaces at once is
# taken for a bad answer, until the same smaller account is read this many
# times in a row: an account shrinks by hand, not all at once by surprise.
SHRINK_LIMIT = 0.5
SHRINK_CONFIRMATIONS = 3


class ShrinkGuard:
    """Tells a re-read topology that lost most of the account from a real change."""

    def __init__(self) -> None:
        """Start with nothing refused."""
        self._pending: frozenset[str] | None = None
        self._seen = 0
        # Answers refused so far (diagnostics).
        self.refused = 0

    def accept(self, known: Collection[str], new: Collection[str]) -> bool:
        """Whether to take ``new`` for the account, which was ``known`` so far."""
        if len(new) >= len(known) * (1 - SHRINK_LIMIT):
            self._pending = None
            return True
        ids = frozenset(new)
        self._seen = self._seen + 1 if ids == self._pending else 1
        self._pending = ids
        if self._seen >= SHRINK_CONFIRMATIONS:
            self._pending = None
            return True
        self.refused += 1
        return False
