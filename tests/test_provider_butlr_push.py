"""Butlr's webhooks on the client's side: events read from the documents' field tables.

Events are built here from the field tables of Butlr's webhook documents
(reference/butlr-push.md §1): the envelope ``id``, ``type``, ``timestamp``
(milliseconds, UTC, the moment of sensing), ``version``, ``metadata`` (ids
and names; ``floor_id`` is a ``space_`` id; ``room_id`` optional on traffic),
``data`` (a number for occupancy, ``{in, out}`` for traffic, absent for PIR).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import ClientSession
import pytest

from custom_components.space_occupancy.providers import (
    ButlrClient,
    ButlrLogin,
    ClientContext,
    ProviderResponseError,
)
from custom_components.space_occupancy.providers.butlr_push import (
    PIR_MOTION,
    ROOM_OCCUPANCY,
    TRAFFIC,
    WebhookSchema,
    event_type,
    parse_delivery,
    parse_webhooks,
)

from .conftest import SimulatorServer
from .simulator.butlr import ACCOUNT, demo_scenario
from .simulator.butlr_webhooks import SimWebhook, WebhookConfig

T0 = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)
MS = int(T0.timestamp() * 1000)


def _event(kind: str, data: Any = None, **metadata: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": "event_1",
        "type": kind,
        "timestamp": MS,
        "version": "v1.0.0",
        "metadata": {
            "org_id": "org_1",
            "site_id": "site_1",
            "building_id": "building_1",
            "floor_id": "space_1",
            "room_id": "room_1",
            **metadata,
        },
    }
    if data is not None:
        event["data"] = data
    return event


# --- Reading deliveries -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ROOM_OCCUPANCY", ROOM_OCCUPANCY),
        ("room_occupancy", ROOM_OCCUPANCY),  # the field tables' spelling
        ("ROOM_OCCUPANCY_1MIN", ROOM_OCCUPANCY),  # documented 1-minute roll-up
        ("ROOM_OCCUPANCY_1M", ROOM_OCCUPANCY),  # third parties' spelling
        ("traffic", TRAFFIC),
        ("PIR_MOTION", PIR_MOTION),
        ("DETECTIONS", None),
        ("SENSOR_HEALTH", None),
        ("", None),
        (7, None),
    ],
)
def test_event_types_either_case_and_spelling(raw: Any, expected: str | None) -> None:
    """Types compare case-insensitively; both 1-minute suffixes read as the base."""
    assert event_type(raw) == expected


def test_room_occupancy_event() -> None:
    """``data`` is the room's count; the timestamp is when it was sensed."""
    (event,) = parse_delivery(_event("ROOM_OCCUPANCY", 4))
    assert (event.type, event.space_id, event.occupancy) == (
        ROOM_OCCUPANCY,
        "room_1",
        4,
    )
    assert event.sensed_at == T0
    assert event.id == "event_1"


def test_traffic_event() -> None:
    """A crossing: ``data.in`` and ``data.out`` of one sensor of the room."""
    (event,) = parse_delivery(
        _event("TRAFFIC", {"in": 0, "out": 1}, sensor_id="2oULM", mac_address="00-17")
    )
    assert (event.type, event.entries, event.exits) == (TRAFFIC, 0, 1)


def test_pir_events_have_no_data() -> None:
    """PIR_MOTION and PIR_NO_MOTION carry no ``data``: the type is the state."""
    events = parse_delivery([_event("PIR_MOTION"), _event("PIR_NO_MOTION")])
    assert [e.type for e in events] == ["PIR_MOTION", "PIR_NO_MOTION"]


def test_events_we_do_not_use_are_skipped() -> None:
    """Detections and undocumented health events are no error, and no change."""
    detections = _event("DETECTIONS", {"local": [[0.5, 0.1]], "world": [[8.0, 2.0]]})
    assert parse_delivery([detections, _event("HIVE_HEALTH")]) == []


@pytest.mark.parametrize(
    "payload",
    [
        _event("ROOM_OCCUPANCY", "four"),
        _event("ROOM_OCCUPANCY", -1),
        _event("ROOM_OCCUPANCY", float("nan")),
        _event("ROOM_OCCUPANCY", True),
        _event("ROOM_OCCUPANCY"),  # no data
        _event("TRAFFIC", [1, 0]),
        _event("TRAFFIC", {"in": "1"}),
        {**_event("ROOM_OCCUPANCY", 1), "timestamp": "2024-10-01T12:00:00Z"},
        {**_event("ROOM_OCCUPANCY", 1), "timestamp": float("inf")},
        {**_event("ROOM_OCCUPANCY", 1), "timestamp": 10**20},
        {**_event("ROOM_OCCUPANCY", 1), "metadata": "room_1"},
        _event("ROOM_OCCUPANCY", 1, room_id=""),
        "ROOM_OCCUPANCY",
        [],
        [_event("ROOM_OCCUPANCY", 1)] * 501,
        [_event("ROOM_OCCUPANCY", 1), 5],
    ],
)
def test_a_malformed_delivery_is_refused_whole(payload: Any) -> None:
    """Anything but documented events makes the delivery unreadable: nothing applies."""
    with pytest.raises(ProviderResponseError):
        parse_delivery(payload)


def test_a_list_of_events_is_read() -> None:
    """Batching is undocumented: a list of events is read all the same."""
    events = parse_delivery([_event("ROOM_OCCUPANCY", 1), _event("TRAFFIC", {"in": 2})])
    assert [(e.type, e.occupancy, e.entries) for e in events] == [
        (ROOM_OCCUPANCY, 1, 0),
        (TRAFFIC, None, 2),
    ]


# --- The schema's spellings -------------------------------------------------------


def _schema(create: list[str], endpoint: list[str]) -> WebhookSchema:
    def fields(names: list[str]) -> dict[str, Any]:
        return {"inputFields": [{"name": name} for name in names]}

    return WebhookSchema.of(
        {
            "create": fields(create),
            "update": fields(["id", "eventTypes", "endpointConfig", "filters"]),
            "endpoint": fields(endpoint),
            "events": {"enumValues": [{"name": "ROOM_OCCUPANCY"}]},
        }
    )


def test_inputs_follow_the_introspected_spelling() -> None:
    """CamelCase or snake_case, whichever the deployment's schema has."""
    snake = _schema(["name", "event_types", "endpoint_config"], ["url", "http_timeout"])
    endpoint = snake.endpoint_input("https://x", "X-Key", "s")
    assert set(endpoint) == {"url", "http_timeout", "apiKey"}
    assert set(snake.create_input("n", ["ROOM_OCCUPANCY"], endpoint, {})) == {
        "name",
        "event_types",
        "endpoint_config",
    }
    documented = WebhookSchema()  # introspection refused
    assert set(documented.endpoint_input("https://x", "X", "s")) == {
        "url",
        "httpTimeout",
        "apiKey",
    }
    assert snake.supported(["ROOM_OCCUPANCY", "TRAFFIC"]) == ["ROOM_OCCUPANCY"]
    assert documented.supported(["ROOM_OCCUPANCY", "TRAFFIC"]) == [
        "ROOM_OCCUPANCY",
        "TRAFFIC",
    ]


def test_listed_webhooks_in_either_spelling() -> None:
    """The list answers ``event_types``/``endpoint_config`` (or camelCase)."""
    hooks = parse_webhooks(
        {
            "webhooks": [
                {
                    "id": "webhook_1",
                    "name": "A",
                    "event_types": ["ROOM_OCCUPANCY_1M", "TRAFFIC"],
                    "endpoint_config": {"url": "https://a"},
                },
                {"id": "webhook_2", "eventTypes": ["ZONE_OCCUPANCY"]},
                {"name": "no id"},
                "garbage",
            ]
        }
    )
    assert [(h.id, sorted(h.event_types), h.url) for h in hooks] == [
        ("webhook_1", ["ROOM_OCCUPANCY", "TRAFFIC"], "https://a"),
        ("webhook_2", ["ZONE_OCCUPANCY"], None),
    ]


# --- Subscribing, against each reading of the documents ----------------------------


@pytest.fixture
def client(session: ClientSession, simulator: SimulatorServer) -> ButlrClient:
    simulator.butlr = demo_scenario(T0)
    simulator.butlr.clock = lambda: T0
    return ButlrClient(
        ClientContext(session=session, clock=lambda: T0),
        ButlrLogin(*ACCOUNT),
        simulator.base_url,
    )


@pytest.mark.parametrize("camel_case", [True, False], ids=["camel", "snake"])
@pytest.mark.parametrize(
    "create_takes_filters", [True, False], ids=["filters", "plain"]
)
@pytest.mark.parametrize("introspection", [True, False], ids=["introspect", "refused"])
async def test_subscribe_under_every_reading_of_the_documents(
    client: ButlrClient,
    simulator: SimulatorServer,
    camel_case: bool,
    create_takes_filters: bool,
    introspection: bool,
) -> None:
    """One webhook with the rooms' types, our header and secret, filtered, on change."""
    service = simulator.butlr.webhooks
    service.config = WebhookConfig(
        camel_case=camel_case,
        create_takes_filters=create_takes_filters,
        introspection=introspection,
    )
    subscription = await client.async_subscribe(
        own_id=None,
        url="https://ha.example/api/webhook/x",
        header="X-Space-Occupancy-Token",
        secret="s" * 43,
        picked=["room_meeting"],
    )
    # Without introspection a snake_case deployment refuses the documented
    # camelCase create: the other spelling is tried, and holds.
    (hook,) = service.webhooks
    assert subscription.webhook_id == hook.id
    assert set(hook.event_types) == {"ROOM_OCCUPANCY", "PIR_MOTION", "PIR_NO_MOTION"}
    assert (hook.header, hook.secret) == ("X-Space-Occupancy-Token", "s" * 43)
    assert hook.filters == {"floor_ids": ["space_f1"]}
    assert hook.send_on_value_change
    # Filters come with the create where it takes them, else by an update.
    assert ("update" in service.operations) is not (
        create_takes_filters and introspection
    )


async def test_every_room_kind_asks_for_its_events(
    client: ButlrClient, simulator: SimulatorServer
) -> None:
    """The whole demo: presence rooms' counts and motion, the traffic room's crossings."""
    subscription = await client.async_subscribe(
        own_id=None, url="https://ha/x", header="X-H", secret="s", picked=None
    )
    (hook,) = simulator.butlr.webhooks.webhooks
    assert set(hook.event_types) == {
        "ROOM_OCCUPANCY",
        "PIR_MOTION",
        "PIR_NO_MOTION",
        "TRAFFIC",
    }
    assert hook.filters == {}  # the whole account
    assert subscription.event_types == tuple(hook.event_types)


async def test_someone_elses_webhook_is_never_touched(
    client: ButlrClient, simulator: SimulatorServer
) -> None:
    """A type another webhook holds: nothing created, nothing updated or deleted."""
    service = simulator.butlr.webhooks
    theirs = SimWebhook("webhook_theirs", "BMS", ACCOUNT[0], ["TRAFFIC"], "https://b")
    service.webhooks.append(theirs)
    subscription = await client.async_subscribe(
        own_id=None, url="https://ha/x", header="X-H", secret="s", picked=None
    )
    assert subscription.webhook_id is None
    assert subscription.taken == frozenset({"TRAFFIC"})
    assert service.webhooks == [theirs]
    assert not {"create", "update", "delete"} & set(service.operations)
    assert not await client.async_unsubscribe("webhook_unknown")
    assert service.webhooks == [theirs]


async def test_our_webhook_is_updated_then_deleted(
    client: ButlrClient, simulator: SimulatorServer
) -> None:
    """Subscribing again updates our webhook (new URL); unsubscribing deletes only it."""
    service = simulator.butlr.webhooks
    other = SimWebhook(
        "webhook_other", "Other", ACCOUNT[0], ["DETECTIONS"], "https://o"
    )
    service.webhooks.append(other)
    first = await client.async_subscribe(
        own_id=None, url="https://ha/1", header="X-H", secret="s", picked=None
    )
    again = await client.async_subscribe(
        own_id=first.webhook_id,
        url="https://ha/2",
        header="X-H",
        secret="t",
        picked=None,
    )
    assert again.webhook_id == first.webhook_id
    ours = next(h for h in service.webhooks if h.id == first.webhook_id)
    assert (ours.url, ours.secret) == ("https://ha/2", "t")
    assert len(service.webhooks) == 2
    assert first.webhook_id is not None
    assert await client.async_unsubscribe(first.webhook_id)
    assert service.webhooks == [other]


def test_timestamps_are_moments_of_sensing() -> None:
    """Milliseconds since the epoch, UTC (the FAQ: the moment of sensing)."""
    later = {**_event("ROOM_OCCUPANCY", 2), "timestamp": MS + 1500}
    (event,) = parse_delivery(later)
    assert event.sensed_at == T0 + timedelta(milliseconds=1500)
