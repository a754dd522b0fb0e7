"""Butlr's real-time push (webhooks): what to subscribe to, and what a delivery says.

Sources: Butlr's webhook documentation and field tables, as summarised with
their certainty in the project's reference (butlr-push.md §1 to §2).

Events used, and why:
- ``ROOM_OCCUPANCY``: a presence room's count, recomputed every minute and
  sent at once when ``send_on_value_change`` is set. Its ``_1MIN`` variant
  is one smoothed value per minute: for "lights on when someone walks in"
  the unsmoothed event is the faster one, so the variants are not asked for
  (and both spellings, ``_1MIN`` and ``_1M``, are read as the base event).
- ``TRAFFIC``: a door line crossed (per sensor, ``in``/``out``): the room's
  entries and exits today move with it.
- ``PIR_MOTION`` / ``PIR_NO_MOTION``: a room's motion, on transitions only
  (Heatic 2+ sensors): a motion binary sensor where a room sends them.
- Floors, buildings and sites are the sum of their rooms: they move with
  the rooms' events. ``FLOOR_OCCUPANCY`` counts only the floor's presence
  sensors and would disagree with a floor that holds traffic rooms.

Deliveries are single event objects (a list of them is read too: batching is
not documented); types are compared case-insensitively; ``timestamp`` is the
moment of sensing, in milliseconds since the epoch (UTC).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
import math
from typing import Any

from .base import MAX_PEOPLE, expect_dict, optional_str
from .exceptions import ProviderResponseError
from .models import Subscription

ROOM_OCCUPANCY = "ROOM_OCCUPANCY"
ZONE_OCCUPANCY = "ZONE_OCCUPANCY"
TRAFFIC = "TRAFFIC"
PIR_MOTION = "PIR_MOTION"
PIR_NO_MOTION = "PIR_NO_MOTION"
KNOWN_EVENTS = frozenset(
    {ROOM_OCCUPANCY, ZONE_OCCUPANCY, TRAFFIC, PIR_MOTION, PIR_NO_MOTION}
)
# The 1-minute roll-ups' suffixes: documented "_1MIN", third parties say "_1M".
MINUTE_SUFFIXES = ("_1MIN", "_1M")
# A delivery holds one event; a list of more than this is no delivery of ours.
MAX_EVENTS_PER_DELIVERY = 500
# Butlr gives a receiver 1 to 15 s to answer (httpTimeout).
HTTP_TIMEOUT_SECONDS = 10
WEBHOOK_NAME_PREFIX = "Home Assistant space_occupancy"


@dataclass(frozen=True, slots=True)
class PushEvent:
    """One event of a delivery, as far as it concerns a space's entities."""

    id: str | None
    type: str  # one of KNOWN_EVENTS
    sensed_at: datetime
    # The room (zone) the event is about.
    space_id: str
    occupancy: int | None = None  # occupancy events
    entries: int = 0  # traffic: people in
    exits: int = 0  # traffic: people out


def event_type(raw: Any) -> str | None:
    """Return the known type of an event's ``type``; None for any other."""
    if not isinstance(raw, str):
        return None
    name = raw.strip().upper()
    for suffix in MINUTE_SUFFIXES:
        if name.endswith(suffix):
            name = name.removesuffix(suffix)
            break
    return name if name in KNOWN_EVENTS else None


def _sensed_at(raw: Any) -> datetime:
    """Read ``timestamp`` (milliseconds since the epoch, UTC)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ProviderResponseError("An event has no timestamp")
    try:
        return datetime.fromtimestamp(raw / 1000, UTC)
    except (ValueError, OverflowError, OSError) as err:
        # NaN, infinities and years beyond the calendar.
        raise ProviderResponseError("An event's timestamp is out of range") from err


def _count(raw: Any, what: str) -> int:
    """Read a count of people: a whole number from 0 to MAX_PEOPLE."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ProviderResponseError(f"An event's {what} is not a number")
    if not math.isfinite(raw) or not 0 <= raw <= MAX_PEOPLE:
        raise ProviderResponseError(f"An event's {what} is out of range")
    return round(raw)


def parse_event(raw: Any) -> PushEvent | None:
    """Read one event; None for a type we do not use (detections, health…)."""
    event = expect_dict(raw, "event")
    if not isinstance(event.get("type"), str):
        raise ProviderResponseError("An event has no type")
    kind = event_type(event["type"])
    if kind is None:
        return None
    metadata = expect_dict(event.get("metadata"), "event metadata")
    key = "zone_id" if kind == ZONE_OCCUPANCY else "room_id"
    space_id = optional_str(metadata.get(key))
    if space_id is None:
        raise ProviderResponseError(f"A {kind} event names no {key}")
    data = event.get("data")
    occupancy: int | None = None
    entries = exits = 0
    if kind in (ROOM_OCCUPANCY, ZONE_OCCUPANCY):
        occupancy = _count(data, "count")
    elif kind == TRAFFIC:
        counts = expect_dict(data, "traffic data")
        entries = _count(counts.get("in", 0), "in")
        exits = _count(counts.get("out", 0), "out")
    return PushEvent(
        id=optional_str(event.get("id")),
        type=kind,
        sensed_at=_sensed_at(event.get("timestamp")),
        space_id=space_id,
        occupancy=occupancy,
        entries=entries,
        exits=exits,
    )


def parse_delivery(payload: Any) -> list[PushEvent]:
    """Read a delivery: one event object, or a list of them.

    Anything that is not an event of the documented shape makes the whole
    delivery unreadable (``ProviderResponseError``): it changes nothing.
    """
    raw_events = payload if isinstance(payload, list) else [payload]
    if not raw_events or len(raw_events) > MAX_EVENTS_PER_DELIVERY:
        raise ProviderResponseError("A delivery holds no event, or too many")
    return [event for raw in raw_events if (event := parse_event(raw)) is not None]


# --- Subscription management (GraphQL) -----------------------------------------

SCHEMA_QUERY = """query { create: __type(name: "WebhookCreateInput") { inputFields { name } }
  update: __type(name: "WebhookUpdateInput") { inputFields { name } }
  endpoint: __type(name: "EndpointConfigInput") { inputFields { name } }
  apikey: __type(name: "ApiKeyInput") { inputFields { name } }
  webhook: __type(name: "Webhook") { fields { name } }
  events: __type(name: "EventType") { enumValues { name } } }"""

type GraphQL = Callable[[str, Mapping[str, Any] | None], Awaitable[Mapping[str, Any]]]


def _names(node: Any, key: str) -> frozenset[str]:
    """Return the names of an introspected type's fields or values (empty when unknown)."""
    if not isinstance(node, dict) or not isinstance(node.get(key), list):
        return frozenset()
    return frozenset(
        item["name"]
        for item in node[key]
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    )


def _pick(available: frozenset[str], *names: str) -> str:
    """Return the first of several spellings the schema has (the first when it says none)."""
    return next((name for name in names if name in available), names[0])


def _input(
    fields: frozenset[str],
    event_types: list[str],
    endpoint: Mapping[str, Any],
    extras: Mapping[str, Any],
    filtered: bool,
) -> dict[str, Any]:
    """Return an input's managed fields, spelled as the schema spells them.

    ``filtered``: keep only the extras the input declares (create drops the
    filters where it takes none; an update not introspected sends them all).
    """
    return {
        _pick(fields, "eventTypes", "event_types"): event_types,
        _pick(fields, "endpointConfig", "endpoint_config"): endpoint,
    } | {key: v for key, v in extras.items() if not filtered or key in fields}


@dataclass(frozen=True, slots=True)
class WebhookSchema:
    """How this Butlr deployment spells the webhook inputs (found by introspection).

    The documents disagree: inputs in camelCase (``eventTypes``,
    ``endpointConfig``) but output and examples in snake_case, filters only
    documented on update. Where introspection is refused, the documented
    spellings are used.
    """

    create: frozenset[str] = frozenset()
    update: frozenset[str] = frozenset()
    endpoint: frozenset[str] = frozenset()
    apikey: frozenset[str] = frozenset()
    webhook: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> WebhookSchema:
        """Read the introspection answer's ``data``."""
        return cls(
            create=_names(data.get("create"), "inputFields"),
            update=_names(data.get("update"), "inputFields"),
            endpoint=_names(data.get("endpoint"), "inputFields"),
            apikey=_names(data.get("apikey"), "inputFields"),
            webhook=_names(data.get("webhook"), "fields"),
            events=_names(data.get("events"), "enumValues"),
        )

    @classmethod
    def snake_case(cls) -> WebhookSchema:
        """Return the other reading of the documents, tried when the documented one fails."""
        return cls(
            create=frozenset({"name", "event_types", "endpoint_config"}),
            update=frozenset(
                {"id", "name", "event_types", "endpoint_config", "filters"}
                | {"send_on_value_change"}
            ),
            endpoint=frozenset({"url", "http_timeout", "api_key"}),
        )

    @property
    def known(self) -> bool:
        """Whether introspection told the input fields."""
        return bool(self.create)

    def supported(self, wanted: Iterable[str]) -> list[str]:
        """Return the wanted event types this deployment offers (all, when it does not say)."""
        return [name for name in wanted if not self.events or name in self.events]

    def create_input(
        self,
        name: str,
        event_types: list[str],
        endpoint: Mapping[str, Any],
        extras: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Return the create input; filters too where create takes them."""
        return {"name": name} | _input(self.create, event_types, endpoint, extras, True)

    def update_input(
        self,
        webhook_id: str,
        event_types: list[str],
        endpoint: Mapping[str, Any],
        extras: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Return the update input: every field we manage."""
        known = self.update
        return {"id": webhook_id} | _input(
            known, event_types, endpoint, extras, bool(known)
        )

    def endpoint_input(self, url: str, header: str, secret: str) -> dict[str, Any]:
        """Where Butlr delivers, and the header it authenticates itself with."""
        return {
            "url": url,
            _pick(self.endpoint, "httpTimeout", "http_timeout"): HTTP_TIMEOUT_SECONDS,
            _pick(self.endpoint, "apiKey", "api_key"): {"key": header, "value": secret},
        }

    def extras(self, filters: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return filters and ``send_on_value_change`` under this deployment's spellings."""
        fields = self.update | self.create
        extras: dict[str, Any] = {
            _pick(fields, "send_on_value_change", "sendOnValueChange"): True
        }
        if filters:
            extras["filters"] = dict(filters)
        return extras

    def list_query(self) -> str:
        """Return the query listing the account's webhooks."""
        types = _pick(self.webhook, "event_types", "eventTypes")
        endpoint = _pick(self.webhook, "endpoint_config", "endpointConfig")
        return f"query {{ webhooks {{ id name {types} {endpoint} {{ url }} }} }}"


@dataclass(frozen=True, slots=True)
class Webhook:
    """One of the account's webhooks, as listed."""

    id: str
    name: str
    event_types: frozenset[str]
    url: str | None


def parse_webhooks(data: Mapping[str, Any]) -> list[Webhook]:
    """Read the ``webhooks`` list (either spelling of its fields)."""
    listed = data.get("webhooks")
    webhooks: list[Webhook] = []
    for raw in listed if isinstance(listed, list) else ():
        if not isinstance(raw, dict) or not (webhook_id := optional_str(raw.get("id"))):
            continue
        types = raw.get("event_types", raw.get("eventTypes"))
        endpoint = raw.get("endpoint_config", raw.get("endpointConfig"))
        webhooks.append(
            Webhook(
                id=webhook_id,
                name=optional_str(raw.get("name")) or "",
                event_types=frozenset(
                    name
                    for item in (types if isinstance(types, list) else ())
                    if (name := event_type(item)) is not None
                ),
                url=optional_str(endpoint.get("url"))
                if isinstance(endpoint, dict)
                else None,
            )
        )
    return webhooks


CREATE_MUTATION = """mutation Create($input: [WebhookCreateInput!]!) {
  createWebhooks(input: $input) { id } }"""
UPDATE_MUTATION = """mutation Update($input: [WebhookUpdateInput!]!) {
  updateWebhooks(input: $input) { id } }"""
DELETE_MUTATION = """mutation Delete($ids: [ID!]!) { deleteWebhooks(ids: $ids) }"""


def created_id(data: Mapping[str, Any], field: str) -> str:
    """Return the id of the webhook a create or update answered."""
    created = data.get(field)
    first = created[0] if isinstance(created, list) and created else None
    if not isinstance(first, dict) or not (webhook_id := optional_str(first.get("id"))):
        raise ProviderResponseError(f"{field} answered no webhook id")
    return webhook_id


class WebhookManager:
    """Creates, updates and deletes this entry's webhook, and no one else's."""

    def __init__(self, graphql: GraphQL) -> None:
        """Manage webhooks through an authorized GraphQL call."""
        self._graphql = graphql
        self._schema: WebhookSchema | None = None

    async def _async_schema(self) -> WebhookSchema:
        """Introspect the input spellings once; the documented ones if refused."""
        if self._schema is None:
            try:
                self._schema = WebhookSchema.of(await self._graphql(SCHEMA_QUERY, None))
            except ProviderResponseError:
                self._schema = WebhookSchema()
        return self._schema

    async def async_list(self) -> list[Webhook]:
        """Return the account's webhooks."""
        schema = await self._async_schema()
        return parse_webhooks(await self._graphql(schema.list_query(), None))

    async def async_subscribe(
        self,
        *,
        own_id: str | None,
        url: str,
        header: str,
        secret: str,
        wanted: Iterable[str],
        filters: Mapping[str, Any] | None,
    ) -> Subscription:
        """Make our webhook deliver the wanted events to ``url``; touch no other.

        Butlr takes one subscription per event type: a type another webhook
        of the account holds is not ours to take, and nothing is created.
        """
        schema = await self._async_schema()
        types = schema.supported(wanted)
        hooks = await self.async_list()
        held = {t for hook in hooks if hook.id != own_id for t in hook.event_types}
        if taken := frozenset(types) & held:
            return Subscription(None, taken)
        if own_id is not None and any(hook.id == own_id for hook in hooks):
            endpoint = schema.endpoint_input(url, header, secret)
            await self._update(schema, own_id, types, endpoint, schema.extras(filters))
            return Subscription(own_id, event_types=tuple(types))
        try:
            webhook_id = await self._create(
                schema, types, url, header, secret, filters=filters
            )
        except ProviderResponseError:
            if schema.known:
                raise
            # Introspection refused and the documented spelling too: the other.
            self._schema = schema = WebhookSchema.snake_case()
            webhook_id = await self._create(
                schema, types, url, header, secret, filters=filters
            )
        return Subscription(webhook_id, event_types=tuple(types))

    async def _create(
        self,
        schema: WebhookSchema,
        types: list[str],
        url: str,
        header: str,
        secret: str,
        *,
        filters: Mapping[str, Any] | None,
    ) -> str:
        """Create our webhook; filters by an update where create does not take them."""
        endpoint = schema.endpoint_input(url, header, secret)
        extras = schema.extras(filters)
        name = f"{WEBHOOK_NAME_PREFIX} {secret[:6]}"
        data = await self._graphql(
            CREATE_MUTATION,
            {"input": [schema.create_input(name, types, endpoint, extras)]},
        )
        webhook_id = created_id(data, "createWebhooks")
        if not set(extras) <= schema.create:
            # Create may not take filters (undocumented): they come by update.
            await self._update(schema, webhook_id, types, endpoint, extras)
        return webhook_id

    async def _update(
        self,
        schema: WebhookSchema,
        webhook_id: str,
        types: list[str],
        endpoint: Mapping[str, Any],
        extras: Mapping[str, Any],
    ) -> None:
        data = await self._graphql(
            UPDATE_MUTATION,
            {"input": [schema.update_input(webhook_id, types, endpoint, extras)]},
        )
        created_id(data, "updateWebhooks")

    async def async_unsubscribe(self, own_id: str) -> bool:
        """Delete our webhook, if the account still has it; never another."""
        if not any(hook.id == own_id for hook in await self.async_list()):
            return False
        await self._graphql(DELETE_MUTATION, {"ids": [own_id]})
        return True


# Traffic event ids remembered against duplicates (Butlr retries within ~10 s;
# occupancy events are told apart by their sensing time instead).
SEEN_EVENT_IDS = 10_000


class PushedState:
    """What pushes said: the newest sensing time per space and kind, motion, ids."""

    def __init__(self) -> None:
        """Start with nothing pushed."""
        self._sensed: dict[tuple[str, str], datetime] = {}
        self.motion: dict[str, tuple[bool, datetime]] = {}
        # The newest pushed count of each room (zone), and when it was sensed.
        self.occupancy: dict[str, tuple[int, datetime]] = {}
        # Crossings taken, per room, until a poll's reports hold them: a poll
        # replaces a room's counts with the reports', which stop at its whole
        # second, so the crossings sensed since are added again.
        self._crossings: dict[str, list[PushEvent]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()

    def take(self, event: PushEvent, polled_at: datetime) -> bool:
        """Whether an event tells something new; remember it if so.

        An occupancy or traffic event sensed before the last poll is in that
        poll already; of two events for one space, the one sensed later wins
        (an equal time is Butlr's recomputed value for the same moment). A
        traffic event is counted once, however often it is delivered.
        """
        if event.type in (PIR_MOTION, PIR_NO_MOTION):
            last = self.motion.get(event.space_id)
            if last is not None and event.sensed_at < last[1]:
                return False
            self.motion[event.space_id] = (event.type == PIR_MOTION, event.sensed_at)
            return True
        if event.sensed_at < polled_at:
            return False
        if event.type == TRAFFIC:
            if not self._first_time(event.id):
                return False
            self._crossings.setdefault(event.space_id, []).append(event)
            return True
        key = (event.space_id, event.type)
        if (last_sensed := self._sensed.get(key)) is not None and (
            event.sensed_at < last_sensed
        ):
            return False
        self._sensed[key] = event.sensed_at
        if event.occupancy is not None:
            self.occupancy[event.space_id] = (event.occupancy, event.sensed_at)
        return True

    def count_after(self, space_id: str, moment: datetime) -> int | None:
        """Return a pushed count of a space sensed after a moment (a poll), if any."""
        pushed = self.occupancy.get(space_id)
        return pushed[0] if pushed is not None and pushed[1] > moment else None

    def motion_of(self, space_id: str) -> bool | None:
        """Return a room's pushed motion, None if it never told one."""
        last = self.motion.get(space_id)
        return None if last is None else last[0]

    @property
    def has_crossings(self) -> bool:
        """Whether crossings wait for a poll's reports to hold them."""
        return bool(self._crossings)

    def crossings_since(self, space_id: str, moment: datetime) -> list[PushEvent]:
        """Return a room's crossings sensed at or after a moment (a poll's stop)."""
        return [
            event
            for event in self._crossings.get(space_id, ())
            if event.sensed_at >= moment
        ]

    def forget_crossings_before(self, moment: datetime) -> None:
        """Forget the crossings a poll's reports hold (sensed before their stop)."""
        for space_id, events in list(self._crossings.items()):
            kept = [event for event in events if event.sensed_at >= moment]
            if kept:
                self._crossings[space_id] = kept
            else:
                del self._crossings[space_id]

    def _first_time(self, event_id: str | None) -> bool:
        if event_id is None:
            return True  # Nothing to tell a retry by: counted.
        if event_id in self._seen:
            return False
        self._seen[event_id] = None
        if len(self._seen) > SEEN_EVENT_IDS:
            self._seen.popitem(last=False)
        return True
