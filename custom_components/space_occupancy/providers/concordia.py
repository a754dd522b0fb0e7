"""Concordia University open data: live occupancy of the university's libraries.

One call (``GET library/occupancy/``, HTTP Basic auth) answers every library
at once, so a poll is exactly one request: the daily quota is 10,000 calls.
Each top-level key of the answer is a library; occupancy comes as a decimal
string that goes negative (for much of the night, not only around midnight)
and is shown as 0. A library listed twice (a key repeated in the answer's
object) keeps its first entry, as far as the decoder keeps repeated keys
(``keep_first_pairs``).

The feed's own clock cannot be trusted: real answers put ``LastRecordTime``,
read as Montreal wall-clock time, anywhere from 4 minutes behind to 86
minutes ahead of the moment they were fetched, and the feed repeats a record
for a while (across midnight too). So freshness is judged by our clock alone:
each reading carries ``changed_at``, when this client last saw the library's
answer change (its count or its record time). The record time is kept as the
observation time, for what it is worth, never compared with ours.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta
import logging
from typing import Any
from zoneinfo import ZoneInfo

from .base import (
    Capabilities,
    ClientContext,
    ConcordiaApplication,
    DuplicateLog,
    check_space_count,
    expect_dict,
    whole_people,
)
from .exceptions import ProviderNoSpacesError
from .http import HttpClient, basic_authorization
from .models import Account, Reading, Snapshot, Space, SpaceKind
from .selection import expand

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://opendata.concordia.ca/API/v1"
OCCUPANCY_PATH = "/library/occupancy/"
TIMEZONE = "America/Montreal"
MONTREAL = ZoneInfo(TIMEZONE)

# GreyNuns answers a 1900 record time when its sensors never reported: any
# record before this year is a placeholder, not an observation.
EARLIEST_REAL_YEAR = 2000

FIELD_OCCUPANCY = "Occupancy"
FIELD_LAST_RECORD_TIME = "LastRecordTime"

# Names of the libraries the feed knows today; any other key is named by itself.
LIBRARY_NAMES: Mapping[str, str] = {
    "Webster": "Webster Library",
    "Vanier": "Vanier Library",
    "GreyNuns": "Grey Nuns Reading Room",
}


class JsonObject(dict[str, Any]):
    """A decoded JSON object that remembers the keys it held more than once."""

    __slots__ = ("repeated",)

    def __init__(self) -> None:
        """Start empty, with no key repeated."""
        super().__init__()
        self.repeated: tuple[str, ...] = ()


def keep_first_pairs(pairs: list[tuple[str, Any]]) -> JsonObject:
    """Build a JSON object from its pairs (``json``'s ``object_pairs_hook``).

    ``json`` keeps the last of repeated keys, silently; this keeps the first
    and notes the key in ``repeated``.
    """
    obj = JsonObject()
    repeated: dict[str, None] = {}
    for key, value in pairs:
        if key in obj:
            repeated[key] = None
        else:
            obj[key] = value
    obj.repeated = tuple(repeated)
    return obj


def parse_record_time(value: Any) -> datetime | None:
    """``LastRecordTime`` as an aware Montreal datetime, or None when it does not parse.

    The feed writes ``2018-08-27 16:45:00.000`` in Montreal wall-clock time. In
    the hour repeated when daylight saving time ends the earlier instant is
    taken (fold 0): the feed gives no way to tell the two apart.
    """
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=MONTREAL)
    try:
        # Should the feed ever add an offset, it is the truth; show it in Montreal
        # time. An instant at the very ends of the calendar (year 1 or 9999 near
        # midnight) has no time in UTC, where Home Assistant shows it: no time.
        moment.astimezone(UTC)
        return moment.astimezone(MONTREAL)
    except OverflowError:
        return None


def library_space(key: str) -> Space:
    """Return the space for one top-level key of the answer."""
    return Space(
        id=key,
        name=LIBRARY_NAMES.get(key, key),
        kind=SpaceKind.LIBRARY,
        timezone=TIMEZONE,
    )


def library_reading(value: Any, changed_at: datetime | None = None) -> Reading:
    """One library's reading; anything unusable makes it inactive, not the poll fail.

    ``changed_at`` is when the library's answer last changed by our clock:
    the host judges staleness by it (see the module's docstring).
    """
    if not isinstance(value, dict):
        return Reading(occupancy=None, active=False)
    observed_at = parse_record_time(value.get(FIELD_LAST_RECORD_TIME))
    if observed_at is None:
        return Reading(occupancy=None, active=False)
    if observed_at.year < EARLIEST_REAL_YEAR:
        # "Never reported" has no observation time worth showing.
        return Reading(occupancy=None, active=False)
    people = whole_people(value.get(FIELD_OCCUPANCY))
    if people is None:
        return Reading(occupancy=None, active=False, observed_at=observed_at)
    return Reading(occupancy=people, observed_at=observed_at, changed_at=changed_at)


class ChangeClock:
    """When each library's answer last changed, by the client's own clock."""

    def __init__(self) -> None:
        """Start with no library seen."""
        self._seen: dict[str, tuple[Any, datetime]] = {}

    def changed_at(self, key: str, value: Any, now: datetime) -> datetime:
        """Return when ``value`` (a library's raw answer) was first seen unchanged."""
        seen = self._seen.get(key)
        if seen is None or seen[0] != value:
            seen = (value, now)
            self._seen[key] = seen
        return seen[1]

    def keep_only(self, keys: Iterable[str]) -> None:
        """Forget the libraries the feed no longer lists."""
        wanted = set(keys)
        for key in self._seen.keys() - wanted:
            del self._seen[key]


def parse_occupancy(
    payload: Any,
    now: datetime,
    *,
    changes: ChangeClock | None = None,
    duplicates: set[str] | None = None,
) -> tuple[dict[str, Space], dict[str, Reading]]:
    """Spaces and readings from the occupancy answer, in the answer's order.

    ``changes`` dates each reading's last change (without one, every reading
    is new as of ``now``). A library listed twice keeps its first entry (the
    decoder said which keys were repeated: see ``keep_first_pairs``); its key
    goes into ``duplicates`` when given.
    """
    libraries = expect_dict(payload, "occupancy answer")
    if duplicates is not None and isinstance(libraries, JsonObject):
        duplicates.update(key for key in libraries.repeated if key)
    changes = changes or ChangeClock()
    spaces: dict[str, Space] = {}
    readings: dict[str, Reading] = {}
    for key, value in libraries.items():
        if not key:
            # An empty key cannot be a stable id for a device.
            continue
        spaces[key] = library_space(key)
        check_space_count(len(spaces))
        readings[key] = library_reading(value, changes.changed_at(key, value, now))
    changes.keep_only(spaces)
    return spaces, readings


class ConcordiaClient:
    """Async client for Concordia's library occupancy feed."""

    # 10,000 calls a day per application: 300 s is 288 of them, 120 s 720.
    # A refused call may mean that quota is spent; it resets at Montreal
    # midnight. The feed's record times cannot be trusted (see above).
    capabilities = Capabilities(
        poll_interval=timedelta(seconds=300),
        min_poll_interval=timedelta(seconds=120),
        quota_reset_timezone=TIMEZONE,
        stale_by_change=True,
    )

    def __init__(
        self,
        context: ClientContext,
        credentials: ConcordiaApplication,
        base_url: str = DEFAULT_BASE_URL,
    ) -> None:
        """Use an application's user id and API key (HTTP Basic credentials)."""
        # User ids are numeric: a config written by hand may hold an int.
        user_id = str(credentials.user_id or "")
        if not user_id or not credentials.api_key:
            raise ValueError("Concordia needs a user id and an API key")
        self._http = HttpClient(context.session, base_url, clock=context.clock)
        self._clock = context.clock
        self._user_id = user_id
        self._headers = {
            "Authorization": basic_authorization(user_id, credentials.api_key)
        }
        self._changes = ChangeClock()
        self._last_keys: tuple[str, ...] = ()
        self._last_fetched_at: datetime | None = None
        self._duplicates = DuplicateLog(_LOGGER, "Concordia")

    @property
    def request_count(self) -> int:
        """Requests sent since the client was created."""
        return self._http.request_count

    async def async_validate(self) -> Account:
        """Read the occupancy once: the feed has no cheaper call that proves the key."""
        if not (await self.async_fetch()).spaces:
            raise ProviderNoSpacesError("The feed lists no library")
        return Account(
            unique_id=self._user_id, title=f"Concordia University ({self._user_id})"
        )

    async def async_fetch(self, picked: Collection[str] | None = None) -> Snapshot:
        """Poll every library with a single request; readings of the picked ones."""
        payload = await self._http.request(
            "GET",
            OCCUPANCY_PATH,
            headers=self._headers,
            object_pairs_hook=keep_first_pairs,
        )
        now = self._clock()
        duplicates: set[str] = set()
        spaces, readings = parse_occupancy(
            payload, now, changes=self._changes, duplicates=duplicates
        )
        self._duplicates.note("the occupancy answer", duplicates)
        self._last_keys = tuple(spaces)
        self._last_fetched_at = now
        if (wanted := expand(spaces, picked)) is not None:
            readings = {key: value for key, value in readings.items() if key in wanted}
        return Snapshot(spaces=spaces, readings=readings, fetched_at=now)

    def diagnostics(self) -> dict[str, Any]:
        """Request count and what the last poll saw; never the API key."""
        return {
            "request_count": self.request_count,
            "last_keys": list(self._last_keys),
            "last_fetched_at": self._last_fetched_at,
        }
