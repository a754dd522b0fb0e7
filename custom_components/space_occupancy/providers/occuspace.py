"""Occuspace: occupancy estimates for a tree of locations (API v1).

``GET /locations`` lists the tree; ``GET /locations/{id}/now`` answers the count
of one location and of its direct children (``childCounts``). So one call per
location that has children covers the whole tree: a leaf never gets its own.
Those calls go out a few at a time (``MAX_CONCURRENT_REQUESTS``), so a large
tree's poll takes a fraction of the round trips and its readings are close
together in time.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
import logging
import math
from typing import TYPE_CHECKING, Any

from .base import (
    Capabilities,
    ClientContext,
    DuplicateLog,
    OccuspaceToken,
    ShrinkGuard,
    check_space_count,
    expect_dict,
    expect_id,
    expect_list,
    optional_str,
    whole_people,
)
from .exceptions import ProviderAuthError, ProviderNoSpacesError, ProviderResponseError
from .http import HttpClient, ProviderNotFoundError, path_segment
from .models import Account, Reading, Snapshot, Space, SpaceKind, percentage_of
from .selection import Expansion

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Mapping, Sequence

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.occuspace.io/v1"
LOCATIONS_PATH = "/locations"
# Both spellings of the real-time path occur across deployments.
NOW_PATH = "/locations/{id}/now"
SINGULAR_NOW_PATH = "/location/{id}/now"

# Locations are added or removed rarely: re-read the tree hourly.
LOCATIONS_TTL = timedelta(hours=1)
# A list taken for a bad answer (ShrinkGuard) is asked again this soon.
LOCATIONS_RETRY = timedelta(minutes=5)
MESSAGE_OK = "OK"
# A percentage above this is no room's occupancy, however crowded: it is ignored
# (and occupancy / capacity shown instead).
MAX_PERCENTAGE = 1000.0
# The key under which a message of the /locations answer is kept.
LOCATIONS_MESSAGE_KEY = "locations"
# At most this many ``now`` requests in flight at once. One after another, the
# 121 calls of a 2,000-location tree take 121 round trips (12 s at 100 ms of
# latency, and the poll's readings span that long); 8 at a time take 16. More
# would gain little and press one provider harder than a browser does (6-8
# connections per host); Occuspace publishes no rate limit to go by.
MAX_CONCURRENT_REQUESTS = 8


@dataclass(frozen=True, slots=True)
class _Tree:
    """The location tree from ``/locations`` and what polling it needs."""

    spaces: dict[str, Space]
    # What /locations said about each location's data (the fallback for
    # ``now`` answers that do not say).
    listed_active: dict[str, bool]
    children: dict[str, tuple[str, ...]]
    # Locations whose parent is null on the wire (the token's roots).
    roots: tuple[str, ...]
    # Locations that get their own ``now`` call, parents before children.
    polled: tuple[str, ...]
    fetched_at: datetime
    # Ids listed more than once: the first listing was kept, the others skipped.
    duplicates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Message:
    """A provider message other than "OK", and when it was seen."""

    message: str
    seen_at: datetime


class _LocationUnavailableError(Exception):
    """Neither ``now`` path serves a location; ``rejected`` if one answered 401."""

    def __init__(self, rejected: bool) -> None:
        """Remember whether the refusal was an authorization one."""
        super().__init__("location unavailable")
        self.rejected = rejected


def _id_order(location_id: str) -> tuple[int, int, str]:
    """Sort key: numeric ids by value ("2" before "10"), others after them."""
    if location_id.isdecimal():
        return (0, int(location_id), "")
    return (1, 0, location_id)


def _parent_id(node: Mapping[str, Any]) -> str | None:
    """Return the parent's id; deployments spell it ``parentID`` or ``parentId``."""
    raw = node["parentID"] if "parentID" in node else node.get("parentId")
    return None if raw is None else expect_id(raw, "location parent")


def _capacity(value: Any) -> int | None:
    """Return a location's capacity, where 0 or less (unset) means unknown."""
    capacity = whole_people(value)
    return capacity if capacity else None


def parse_locations(data: Any, fetched_at: datetime) -> _Tree:
    """Turn the ``data`` of a ``/locations`` answer into the location tree."""
    nodes: dict[str, tuple[Mapping[str, Any], str | None]] = {}
    duplicates: dict[str, None] = {}
    for raw in expect_list(data, "locations"):
        node = expect_dict(raw, "location")
        location_id = expect_id(node.get("id"), "location")
        if location_id in nodes:
            # One location listed twice: the first listing stands, the poll goes on.
            duplicates[location_id] = None
            continue
        nodes[location_id] = (node, _parent_id(node))
        check_space_count(len(nodes))

    spaces: dict[str, Space] = {}
    listed_active: dict[str, bool] = {}
    children: dict[str, list[str]] = {}
    for location_id, (listed, wire_parent) in nodes.items():
        # A parent the token cannot see (or a self-reference) makes a top-level
        # location: it is polled on its own and hangs under no device.
        parent = (
            wire_parent if wire_parent in nodes and wire_parent != location_id else None
        )
        spaces[location_id] = Space(
            id=location_id,
            name=optional_str(listed.get("name")) or location_id,
            kind=SpaceKind.LOCATION,
            parent_id=parent,
            capacity=_capacity(listed.get("capacity")),
        )
        listed_active[location_id] = listed.get("isActive") is not False
        if parent is not None:
            children.setdefault(parent, []).append(location_id)

    return _Tree(
        spaces=spaces,
        listed_active=listed_active,
        children={parent: tuple(ids) for parent, ids in children.items()},
        roots=tuple(
            location_id for location_id, (_, parent) in nodes.items() if parent is None
        ),
        polled=_polled(spaces, children),
        fetched_at=fetched_at,
        duplicates=tuple(duplicates),
    )


def _polled(
    spaces: Mapping[str, Space], children: Mapping[str, tuple[str, ...] | list[str]]
) -> tuple[str, ...]:
    """Locations that need their own call: those with children, and childless tops.

    Parents come before their children, so the order follows the tree. A
    location caught in a parent cycle (no top above it) is still polled.
    """
    order: list[str] = []
    seen: set[str] = set()
    pending = deque(space.id for space in spaces.values() if space.parent_id is None)
    while pending:
        location_id = pending.popleft()
        seen.add(location_id)
        kids = children.get(location_id, ())
        if kids or spaces[location_id].parent_id is None:
            order.append(location_id)
        pending.extend(kids)
    order.extend(parent for parent in children if parent not in seen)
    return tuple(order)


def _polled_for(tree: _Tree, wanted: frozenset[str] | None) -> tuple[str, ...]:
    """Return the locations to call: the wanted ones', or their parent's for leaves."""
    if wanted is None:
        return tree.polled
    needed = {
        location_id
        if location_id in tree.children or tree.spaces[location_id].parent_id is None
        else tree.spaces[location_id].parent_id
        for location_id in wanted
    }
    return tuple(location_id for location_id in tree.polled if location_id in needed)


def _all_refused(answers: Mapping[str, Any]) -> bool:
    """Whether every location asked for refused with 401 (none answered)."""
    return bool(answers) and all(
        isinstance(answer, _LocationUnavailableError) and answer.rejected
        for answer in answers.values()
    )


def root_location(tree: _Tree) -> Space:
    """Return the token's root: parent null on the wire, the smallest id if several.

    A token scoped below the organisation's root sees no null parent: then
    the top-level locations (whose parent it cannot see) are the candidates.
    """
    candidates = tree.roots or tuple(
        space.id for space in tree.spaces.values() if space.parent_id is None
    )
    if not candidates:
        raise ProviderResponseError("The token sees no locations")
    return tree.spaces[min(candidates, key=_id_order)]


def normalise_percentage(value: Any) -> float | None:
    """Return the provider's percentage as 0-100+ %, or None when it sent none.

    The wire carries the fraction count / capacity (0.62 = 62 %), although
    the field table says integer: 1.2 is a room at 120 % of its capacity,
    which is normal (occupancy "can easily be double the nominal capacity").
    A value past ``MAX_PERCENTAGE`` is no room's occupancy, however crowded:
    it is ignored, and occupancy / capacity shown instead where both are known.
    """
    if type(value) is float:
        percentage = value * 100  # The usual case: a float cannot overflow here.
    elif isinstance(value, bool) or not isinstance(value, int | float):
        return None
    else:
        try:
            percentage = float(value) * 100
        except OverflowError:
            return None  # An integer too large for a float is no percentage.
    if not math.isfinite(percentage) or not 0 <= percentage <= MAX_PERCENTAGE:
        return None
    return round(percentage, 1)


def parse_timestamp(value: Any) -> datetime | None:
    """Parse an ISO 8601 UTC timestamp ("2020-02-15T15:30:00.000Z"), aware."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # Year 1 or 9999 with an offset that takes it out of the calendar.
        return None


def location_reading(
    node: Mapping[str, Any],
    capacity: int | None,
    listed_active: bool,
    observed_at: datetime | None,
) -> Reading:
    """One location's reading from a ``now`` answer or one of its ``childCounts``."""
    is_active = node.get("isActive")
    active = is_active if isinstance(is_active, bool) else listed_active
    occupancy = whole_people(node.get("count"))
    if not active or occupancy is None:
        return inactive_reading(capacity, observed_at)
    percentage = normalise_percentage(node.get("percentage"))
    if percentage is None:
        percentage = percentage_of(occupancy, capacity)
    return Reading(
        occupancy=occupancy,
        capacity=capacity,
        percentage=percentage,
        observed_at=observed_at,
    )


def inactive_reading(
    capacity: int | None, observed_at: datetime | None = None
) -> Reading:
    """Return the reading of a location without valid data right now."""
    return Reading(
        occupancy=None, capacity=capacity, active=False, observed_at=observed_at
    )


def readings_from_now(
    tree: _Tree,
    location_id: str,
    data: Any,
    duplicates: set[str] | None = None,
) -> dict[str, Reading]:
    """Read a polled location and its leaf children from the location's ``now`` data.

    Children that have children of their own are left out: their own call
    answers for them. Children carry no timestamp: they take the parent's. A
    child listed twice in ``childCounts`` keeps its first count; its id goes
    into ``duplicates`` when given.
    """
    node = expect_dict(data, f"location {location_id} now")
    observed_at = parse_timestamp(node.get("timestamp"))
    readings = {
        location_id: location_reading(
            node,
            tree.spaces[location_id].capacity,
            tree.listed_active[location_id],
            observed_at,
        )
    }
    counts: dict[str, Mapping[str, Any]] = {}
    for raw in expect_list(node.get("childCounts") or [], "childCounts"):
        child = raw if type(raw) is dict else expect_dict(raw, "child count")
        child_id = child.get("id")
        if type(child_id) is int:
            child_id = str(child_id)  # The usual id: as expect_id reads it.
        elif type(child_id) is not str or not child_id:
            child_id = expect_id(child_id, "child count")
        if child_id in counts:
            if duplicates is not None:
                duplicates.add(child_id)
            continue
        counts[child_id] = child
    for child_id in _leaf_children(tree, location_id):
        capacity = tree.spaces[child_id].capacity
        child_node = counts.get(child_id)
        readings[child_id] = (
            location_reading(
                child_node, capacity, tree.listed_active[child_id], observed_at
            )
            if child_node is not None
            else inactive_reading(capacity)
        )
    return readings


def _leaf_children(tree: _Tree, location_id: str) -> list[str]:
    return [
        child_id
        for child_id in tree.children.get(location_id, ())
        if child_id not in tree.children
    ]


def unavailable_readings(tree: _Tree, location_id: str) -> dict[str, Reading]:
    """Mark inactive a location no path serves, and the leaves its answer covers."""
    return {
        space_id: inactive_reading(tree.spaces[space_id].capacity)
        for space_id in (location_id, *_leaf_children(tree, location_id))
    }


class OccuspaceClient:
    """Async client for Occuspace's location list and real-time counts."""

    # No published rate limit: every 2 minutes by default, never under 1.
    capabilities = Capabilities(
        poll_interval=timedelta(seconds=120), min_poll_interval=timedelta(seconds=60)
    )

    def __init__(
        self,
        context: ClientContext,
        credentials: OccuspaceToken,
        base_url: str = DEFAULT_BASE_URL,
    ) -> None:
        """Use an API token issued by the Occuspace team."""
        if not credentials.api_token:
            raise ValueError("Occuspace needs an API token")
        self._http = HttpClient(context.session, base_url, clock=context.clock)
        self._clock = context.clock
        self._headers = {"Authorization": f"Bearer {credentials.api_token}"}
        self._tree: _Tree | None = None
        self._now_path = NOW_PATH
        # Whether a ``now`` call has answered yet, so that its path is known.
        self._now_path_known = False
        # Locations no path served: skipped until the tree is next re-read, so
        # a location the token lost costs no requests on every poll.
        self._unavailable: set[str] = set()
        self._messages: dict[str, _Message] = {}
        self._duplicates = DuplicateLog(_LOGGER, "Occuspace")
        self._shrink = ShrinkGuard()
        self._expand = Expansion()

    @property
    def request_count(self) -> int:
        """Requests sent since the client was created."""
        return self._http.request_count

    async def async_validate(self) -> Account:
        """Read the location list: proves the token, and names its root location."""
        tree = await self._refresh_locations()
        if not tree.spaces:
            raise ProviderNoSpacesError("The token sees no locations")
        root = root_location(tree)
        return Account(unique_id=root.id, title=f"Occuspace ({root.name})")

    async def async_fetch(self, picked: Collection[str] | None = None) -> Snapshot:
        """Poll the ``now`` calls that answer for the picked locations.

        One call per location that has children (and per childless top); a
        picked leaf is answered by its parent's call. ``picked`` locations
        bring everything below them; None polls the whole tree.
        """
        now = self._clock()
        tree = self._tree
        if tree is None or now - tree.fetched_at >= LOCATIONS_TTL:
            tree = await self._refresh_locations()
        wanted = self._expand(tree.spaces, picked)
        polled = _polled_for(tree, wanted)
        answers = await self._now_all(
            [
                location_id
                for location_id in polled
                if location_id not in self._unavailable
            ]
        )
        if len(polled) < len(tree.polled) and _all_refused(answers):
            # A few picked locations, every one refused: locations the token
            # may not see, or a revoked token? The location list tells (it
            # raises ProviderAuthError for a revoked token).
            tree = await self._refresh_locations()
            return self._snapshot(
                tree,
                wanted,
                picked,
                self._readings(tree, polled, answers, checked=True),
                now,
            )
        readings = self._readings(tree, polled, answers)
        return self._snapshot(tree, wanted, picked, readings, now)

    def _snapshot(
        self,
        tree: _Tree,
        wanted: frozenset[str] | None,
        picked: Collection[str] | None,
        readings: dict[str, Reading],
        now: datetime,
    ) -> Snapshot:
        """Return the poll's snapshot: every location, readings of the wanted ones."""
        spaces = tree.spaces
        for space_id in spaces if wanted is None else wanted:
            if space_id not in readings:  # Built only where missing.
                readings[space_id] = inactive_reading(spaces[space_id].capacity)
        if wanted is not None:
            readings = {key: value for key, value in readings.items() if key in wanted}
        return Snapshot(
            spaces=tree.spaces,
            readings=readings,
            fetched_at=now,
        )

    def _readings(
        self,
        tree: _Tree,
        polled: Sequence[str],
        answers: Mapping[str, Any],
        *,
        checked: bool = False,
    ) -> dict[str, Reading]:
        """Read the answers, in the tree's order whatever order they came in.

        ``checked``: the token was proven good since the answers came.
        """
        readings: dict[str, Reading] = {}
        unavailable: set[str] = set()
        rejections = 0
        duplicates: set[str] = set()
        for location_id in polled:
            data = answers.get(location_id)
            if isinstance(data, _LocationUnavailableError):
                rejections += data.rejected
                unavailable.add(location_id)
            if data is None or isinstance(data, _LocationUnavailableError):
                # Skipped, refused, or no data at all (with a message, kept).
                readings.update(unavailable_readings(tree, location_id))
                continue
            duplicates.clear()
            readings.update(readings_from_now(tree, location_id, data, duplicates))
            self._duplicates.note(
                f"the now answer of location {location_id}", duplicates
            )
        if answers and rejections == len(answers) and not checked:
            # Not one location answered: the token itself was revoked.
            raise ProviderAuthError("Occuspace rejected the token for every location")
        self._unavailable |= unavailable
        return readings

    async def _now_all(self, location_ids: Sequence[str]) -> dict[str, Any]:
        """Fetch the ``now`` data of each location, a few requests at a time.

        A location no path serves answers its ``_LocationUnavailableError``;
        any other error fails the whole poll, and the requests still in
        flight are cancelled and awaited before it is raised.
        """
        answers: dict[str, Any] = {}
        pending: Iterator[str] = iter(location_ids)

        async def answer(location_id: str) -> bool:
            """Fetch one location's answer; True if a path served it."""
            try:
                answers[location_id] = await self._now(location_id)
            except _LocationUnavailableError as err:
                answers[location_id] = err
                return False
            return True

        if not self._now_path_known:
            # Until one location answers, which path the deployment serves is
            # unknown: calls in parallel would each try the wrong one first.
            for location_id in pending:
                if await answer(location_id):
                    break

        async def worker() -> None:
            # The workers share one iterator: each location is fetched once.
            for location_id in pending:
                await answer(location_id)

        left = len(location_ids) - len(answers)
        workers = [
            asyncio.create_task(worker(), name=f"occuspace now {number}")
            for number in range(min(MAX_CONCURRENT_REQUESTS, left))
        ]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        return answers

    def diagnostics(self) -> dict[str, Any]:
        """Request counts, paths and provider messages; never the token."""
        tree = self._tree
        return {
            "request_count": self.request_count,
            "now_path": self._now_path,
            "locations_fetched_at": tree.fetched_at if tree else None,
            "locations": len(tree.spaces) if tree else 0,
            "locations_polled": len(tree.polled) if tree else 0,
            "lists_refused": self._shrink.refused,
            "unavailable_locations": sorted(self._unavailable, key=_id_order),
            "messages": {
                key: {"message": entry.message, "seen_at": entry.seen_at}
                for key, entry in self._messages.items()
            },
        }

    async def _refresh_locations(self) -> _Tree:
        payload = await self._http.request("GET", LOCATIONS_PATH, headers=self._headers)
        data = self._data(payload, LOCATIONS_MESSAGE_KEY, "locations")
        now = self._clock()
        tree = parse_locations(data, now)
        self._duplicates.note("the location list", tree.duplicates)
        known = self._tree
        if known is not None and not self._shrink.accept(known.spaces, tree.spaces):
            _LOGGER.warning(
                "Occuspace's location list lost most of the tree at once (%d of %d "
                "left): kept the last one, asking again in %s",
                len(tree.spaces),
                len(known.spaces),
                LOCATIONS_RETRY,
            )
            tree = replace(known, fetched_at=now - LOCATIONS_TTL + LOCATIONS_RETRY)
        self._tree = tree
        # A fresh tree says which locations exist: give the lost ones a new try.
        self._unavailable.clear()
        return self._tree

    async def _now(self, location_id: str) -> Any:
        """Fetch a location's ``now`` data, trying the other path spelling once.

        Occuspace answers 401 for a location the token may not see and an
        HTML 404 for a path the deployment does not serve. The path that
        answers is kept, so later calls go there directly.
        """
        rejected = False
        current = self._now_path
        other = SINGULAR_NOW_PATH if current == NOW_PATH else NOW_PATH
        for template in (current, other):
            try:
                payload = await self._http.request(
                    "GET",
                    template.format(id=path_segment(location_id)),
                    headers=self._headers,
                )
            except ProviderAuthError:
                rejected = True
                continue
            except ProviderNotFoundError:
                continue
            self._now_path = template
            self._now_path_known = True
            return self._data(payload, location_id, f"location {location_id} now")
        raise _LocationUnavailableError(rejected)

    def _data(self, payload: Any, key: str, what: str) -> Any:
        """Return the ``data`` of a v1 answer, keeping a ``message`` other than "OK".

        ``key`` files the message for diagnostics (a location id, or
        "locations"); ``what`` names the answer in errors.
        """
        answer = expect_dict(payload, f"The {what} answer")
        if "data" not in answer:
            raise ProviderResponseError(f"The {what} answer has no data")
        message = answer.get("message")
        if message is not None and message != MESSAGE_OK:
            text = str(message)
            _LOGGER.debug("Occuspace says about %s: %s", key, text)
            self._messages[key] = _Message(text, self._clock())
        return answer["data"]
