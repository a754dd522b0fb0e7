"""Simulated Butlr webhooks: managed through GraphQL, delivered by HTTP POST.

Written from Butlr's webhook documents (reference/butlr-push.md §1, §2). The
documents disagree where a real deployment must choose; ``WebhookConfig``
plays either reading: input fields in camelCase (``eventTypes``,
``endpointConfig``, ``httpTimeout``, ``apiKey``) or snake_case, the 1-minute
types spelled ``_1MIN`` or ``_1M``, ``createWebhooks`` taking filters or not,
introspection allowed or refused. One subscription per event type per user,
as documented: a create or update that would take a type the same user's
other webhook holds is refused.

Deliveries follow the documented rules: a JSON event per POST, the header of
the webhook's ``apiKey``, up to 3 retries when the receiver does not answer
2xx; tests can ask for duplicates and reordering (``deliver``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
import random
import secrets
from typing import Any

import aiohttp

BASE_EVENT_TYPES = [
    "FLOOR_OCCUPANCY",
    "ROOM_OCCUPANCY",
    "ZONE_OCCUPANCY",
    "DETECTIONS",
    "TRAFFIC",
    "PIR_MOTION",
    "PIR_NO_MOTION",
    "SENSOR_HEALTH",
    "HIVE_HEALTH",
]
RETRIES = 3


@dataclass
class WebhookConfig:
    """How this simulated deployment spells and treats the webhook inputs."""

    camel_case: bool = True
    minute_suffix: str = "_1MIN"
    create_takes_filters: bool = False
    introspection: bool = True

    def event_types(self) -> list[str]:
        """The EventType enum: the base types and the 1-minute roll-ups."""
        minute = ("FLOOR_OCCUPANCY", "ROOM_OCCUPANCY", "ZONE_OCCUPANCY")
        return BASE_EVENT_TYPES + [f"{name}{self.minute_suffix}" for name in minute]

    def names(self) -> dict[str, str]:
        """Input field names: camelCase or snake_case."""
        if self.camel_case:
            return {
                "event_types": "eventTypes",
                "endpoint": "endpointConfig",
                "timeout": "httpTimeout",
                "api_key": "apiKey",
            }
        return {
            "event_types": "event_types",
            "endpoint": "endpoint_config",
            "timeout": "http_timeout",
            "api_key": "api_key",
        }


@dataclass
class SimWebhook:
    """One webhook of the account."""

    id: str
    name: str
    owner: str
    event_types: list[str]
    url: str
    header: str = ""
    secret: str = ""
    filters: dict[str, Any] = field(default_factory=dict)
    send_on_value_change: bool = False


class GraphQLError(Exception):
    """An operation the simulated GraphQL refuses (BAD_USER_INPUT)."""


@dataclass
class WebhookService:
    """The account's webhooks, and what was delivered."""

    config: WebhookConfig = field(default_factory=WebhookConfig)
    webhooks: list[SimWebhook] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    # (url, status) of every delivery attempt.
    attempts: list[tuple[str, int]] = field(default_factory=list)
    # How many webhook operations to come fail (Butlr's API having a bad moment).
    refuse_next: int = 0

    # --- GraphQL -------------------------------------------------------------

    def answer(
        self, query: str, variables: Mapping[str, Any], principal: str
    ) -> dict[str, Any] | None:
        """Answer a webhook operation; None when the query is none of them."""
        operation = _operation(query)
        if operation is None:
            return None
        self.operations.append(operation)
        if self.refuse_next > 0:
            self.refuse_next -= 1
            return {
                "errors": [
                    {
                        "message": "try again",
                        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                    }
                ]
            }
        try:
            data = getattr(self, f"_{operation}")(query, variables, principal)
        except GraphQLError as err:
            return {
                "errors": [
                    {"message": str(err), "extensions": {"code": "BAD_USER_INPUT"}}
                ]
            }
        return {"data": data}

    def _introspect(self, _q: str, _v: Mapping[str, Any], _p: str) -> dict[str, Any]:
        if not self.config.introspection:
            raise GraphQLError("introspection is disabled")
        names = self.config.names()
        create = ["name", names["event_types"], names["endpoint"]]
        if self.config.create_takes_filters:
            create += ["filters", "send_on_value_change"]
        update = [
            "id",
            "name",
            names["event_types"],
            names["endpoint"],
            "filters",
            "send_on_value_change",
        ]
        endpoint = ["url", names["timeout"], names["api_key"], "basicAuth"]

        def fields(items: list[str], key: str = "inputFields") -> dict[str, Any]:
            return {key: [{"name": item} for item in items]}

        return {
            "create": fields(create),
            "update": fields(update),
            "endpoint": fields(endpoint),
            "apikey": fields(["key", "value"]),
            "webhook": fields(
                ["id", "name", "event_types", "endpoint_config", "filters"], "fields"
            ),
            "events": {
                "enumValues": [{"name": name} for name in self.config.event_types()]
            },
        }

    def _list(self, _q: str, _v: Mapping[str, Any], principal: str) -> dict[str, Any]:
        return {
            "webhooks": [
                {
                    "id": hook.id,
                    "name": hook.name,
                    "event_types": hook.event_types,
                    "endpoint_config": {"url": hook.url},
                }
                for hook in self.webhooks
            ]
        }

    def _create(
        self, _q: str, variables: Mapping[str, Any], principal: str
    ) -> dict[str, Any]:
        allowed = {"name", *self._names("event_types", "endpoint")}
        if self.config.create_takes_filters:
            allowed |= {"filters", "send_on_value_change"}
        created = []
        for item in variables["input"]:
            _check_fields(item, allowed, "WebhookCreateInput")
            hook = SimWebhook(
                id=f"webhook_{secrets.token_hex(8)}",
                name=item["name"],
                owner=principal,
                event_types=[],
                url="",
            )
            self._set(hook, item, principal)
            self.webhooks.append(hook)
            created.append({"id": hook.id})
        return {"createWebhooks": created}

    def _update(
        self, _q: str, variables: Mapping[str, Any], principal: str
    ) -> dict[str, Any]:
        allowed = {
            "id",
            "name",
            "filters",
            "send_on_value_change",
            *self._names("event_types", "endpoint"),
        }
        updated = []
        for item in variables["input"]:
            _check_fields(item, allowed, "WebhookUpdateInput")
            hook = next((h for h in self.webhooks if h.id == item["id"]), None)
            if hook is None:
                raise GraphQLError(f"no webhook {item['id']}")
            self._set(hook, item, principal)
            updated.append({"id": hook.id})
        return {"updateWebhooks": updated}

    def _delete(self, _q: str, variables: Mapping[str, Any], _p: str) -> dict[str, Any]:
        ids = set(variables["ids"])
        self.webhooks = [hook for hook in self.webhooks if hook.id not in ids]
        return {"deleteWebhooks": True}

    def _names(self, *keys: str) -> list[str]:
        names = self.config.names()
        return [names[key] for key in keys]

    def _set(self, hook: SimWebhook, item: Mapping[str, Any], principal: str) -> None:
        names = self.config.names()
        if (types := item.get(names["event_types"])) is not None:
            unknown = set(types) - set(self.config.event_types())
            if unknown:
                raise GraphQLError(f"unknown event types {sorted(unknown)}")
            held = {
                t
                for other in self.webhooks
                if other.owner == principal and other.id != hook.id
                for t in other.event_types
            }
            if taken := held & set(types):
                raise GraphQLError(f"already subscribed to {sorted(taken)}")
            hook.event_types = list(types)
        if (endpoint := item.get(names["endpoint"])) is not None:
            _check_fields(
                endpoint,
                {"url", names["timeout"], names["api_key"], "basicAuth"},
                "EndpointConfigInput",
            )
            # Only https, as documented (plain http to this machine for tests).
            if not str(endpoint["url"]).startswith(
                ("https://", "http://127.0.0.1", "http://localhost")
            ):
                raise GraphQLError("only https URLs are accepted")
            hook.url = endpoint["url"]
            api_key = endpoint.get(names["api_key"]) or {}
            hook.header, hook.secret = api_key.get("key", ""), api_key.get("value", "")
        if "filters" in item:
            hook.filters = dict(item["filters"] or {})
        if "send_on_value_change" in item:
            hook.send_on_value_change = bool(item["send_on_value_change"])

    # --- Deliveries ------------------------------------------------------------

    async def deliver(
        self,
        session: aiohttp.ClientSession,
        events: Iterable[dict[str, Any]],
        *,
        duplicate: bool = False,
        reorder: bool = False,
    ) -> list[int]:
        """POST each event to the webhooks that want it; return the final statuses."""
        batch = list(events)
        if duplicate:
            batch += [dict(event) for event in batch]
        if reorder:
            random.Random(7).shuffle(batch)  # noqa: S311 - a test order, no secret
        return [
            await self._post(session, hook, event)
            for event in batch
            for hook in self._receivers(event)
        ]

    def _receivers(self, event: Mapping[str, Any]) -> list[SimWebhook]:
        kind = str(event["type"]).upper()
        metadata = event.get("metadata", {})
        receivers = []
        for hook in self.webhooks:
            if kind not in hook.event_types:
                continue
            floors = hook.filters.get("floor_ids")
            if floors and metadata.get("floor_id") not in floors:
                continue
            rooms = hook.filters.get("room_ids")
            if rooms and metadata.get("room_id") not in rooms:
                continue
            receivers.append(hook)
        return receivers

    async def _post(
        self, session: aiohttp.ClientSession, hook: SimWebhook, event: Mapping[str, Any]
    ) -> int:
        status = 0
        for _ in range(1 + RETRIES):
            async with session.post(
                hook.url, json=event, headers={hook.header: hook.secret}
            ) as response:
                status = response.status
            self.attempts.append((hook.url, status))
            if 200 <= status < 300:
                break
        return status


def _operation(query: str) -> str | None:
    if "__type" in query:
        return "introspect"
    for mutation in ("create", "update", "delete"):
        if f"{mutation}Webhooks" in query:
            return mutation
    if "webhooks" in query:
        return "list"
    return None


def _check_fields(item: Mapping[str, Any], allowed: set[str], type_name: str) -> None:
    if unknown := set(item) - allowed:
        raise GraphQLError(
            f"Field {sorted(unknown)[0]!r} is not defined by type {type_name}"
        )


def metadata(
    room_id: str, floor_id: str, *, room_name: str = "Room", **extra: str
) -> dict[str, str]:
    """Event metadata as the documents show it (ids and names)."""
    return {
        "org_id": "org_sim",
        "site_id": "site_hq",
        "building_id": "building_main",
        "floor_id": floor_id,
        "room_id": room_id,
        "org_name": "Simulated",
        "site_name": "HQ",
        "building_name": "Main building",
        "floor_name": "First floor",
        "room_name": room_name,
        **extra,
    }


def event(
    kind: str,
    room_id: str,
    floor_id: str,
    sensed_at: datetime,
    data: Any = None,
    *,
    event_id: str | None = None,
) -> dict[str, Any]:
    """One event in the documented envelope (``data`` left out for PIR events)."""
    payload: dict[str, Any] = {
        "id": event_id or f"event_{secrets.token_hex(8)}",
        "type": kind,
        "timestamp": int(sensed_at.timestamp() * 1000),
        "version": "v1.0.0",
        "metadata": metadata(room_id, floor_id),
    }
    if data is not None:
        payload["data"] = data
    return payload
