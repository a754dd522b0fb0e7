"""Real-time updates: the provider pushes readings to a webhook of this Home Assistant.

For clients that can push (Butlr's webhooks), an option of the entry, off by
default. Butlr calls only HTTPS addresses, so it needs one that reaches this
Home Assistant: a Home Assistant Cloud cloudhook when the instance is logged
in to Cloud, otherwise its external URL when that is https. (Plain http to
this machine is accepted only for a provider on this machine: the simulator.)

- Butlr authenticates every delivery with a header of ours: a random secret
  kept in the entry, compared in constant time. A delivery without it gets
  401; a body that is not events of the documented shape, or larger than
  ``MAX_DELIVERY_BYTES``, gets 400. Neither changes anything.
- An event changes its space's entities within the same event-loop turn.
- One webhook per entry, created by this entry and remembered in its data:
  no other webhook of the account is ever updated or deleted. Where another
  holds an event type we need (Butlr allows one per type), a repair issue
  says so and polling goes on as before.
- Polls are the safety net: every ``PUSH_POLL_INTERVAL`` while pushes arrive,
  as configured once none came for ``PUSH_QUIET``.
- Unload keeps the webhook for the next start; removing the entry or turning
  the option off deletes it at Butlr, and the cloudhook with it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
import hmac
import json
import secrets
from typing import Any

from aiohttp import web
from homeassistant.components import webhook
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.network import NoURLAvailableError, get_url
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util

from .const import (
    CONF_BASE_URL,
    DOMAIN,
    ISSUE_PUSH_TAKEN,
    LOGGER,
    PUSH_QUIET,
    PUSH_RETRY_AFTER,
)
from .coordinator import OccupancyCoordinator
from .providers import ProviderError, PushProvider
from .urls import is_loopback_url

PUSH_HEADER = "X-Space-Occupancy-Token"
# A delivery is one event of a few hundred bytes: anything near this is not one.
MAX_DELIVERY_BYTES = 64 * 1024

CONF_WEBHOOK_ID = "webhook_id"
CONF_PUSH_SECRET = "push_secret"  # noqa: S105 - a key name, not a secret
CONF_SUBSCRIPTION = "push_subscription"


def _cloud(hass: HomeAssistant) -> Any:
    """Home Assistant Cloud's component, where it is loaded; else None."""
    if "cloud" not in hass.config.components:
        return None
    # Imported only where Cloud runs: it pulls in a large dependency tree.
    from homeassistant.components import cloud  # noqa: PLC0415

    return cloud


def push_possible(hass: HomeAssistant, base_url: str) -> bool:
    """Whether Butlr could reach this instance: Cloud, an https URL, or loopback."""
    if (cloud := _cloud(hass)) is not None and cloud.async_active_subscription(hass):
        return True
    try:
        get_url(hass, allow_internal=False, allow_cloud=False, require_ssl=True)
    except NoURLAvailableError:
        return is_loopback_url(base_url)
    return True


async def async_push_url(
    hass: HomeAssistant, webhook_id: str, loopback: bool
) -> str | None:
    """Return an address Butlr can deliver to; None when this instance has none.

    ``loopback``: the provider runs on this machine, where plain http reaches.
    """
    if (cloud := _cloud(hass)) is not None and cloud.async_active_subscription(hass):
        try:
            return str(await cloud.async_get_or_create_cloudhook(hass, webhook_id))
        except cloud.CloudNotAvailable:
            pass  # Not connected right now: an external URL may do.
    try:
        base = get_url(hass, allow_internal=False, allow_cloud=False, require_ssl=True)
    except NoURLAvailableError:
        if not loopback:
            return None
        try:
            base = get_url(hass, allow_external=False, allow_cloud=False)
        except NoURLAvailableError:
            return None
    return f"{base}{webhook.async_generate_path(webhook_id)}"


@dataclass
class PushStats:
    """What the webhook received (diagnostics)."""

    state: str = "off"
    received: int = 0
    rejected: int = 0
    applied: int = 0
    last_event_at: datetime | None = None
    event_types: tuple[str, ...] = ()


class PushReceiver:
    """One entry's webhook: subscribed at the provider, received here."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        client: PushProvider,
        coordinator: OccupancyCoordinator,
    ) -> None:
        """Receive for one entry; nothing runs before async_set_enabled."""
        self._hass = hass
        self._entry = entry
        self._client = client
        self._coordinator = coordinator
        self.stats = PushStats()
        self._registered = False
        self._quiet: CALLBACK_TYPE | None = None
        self._retry: CALLBACK_TYPE | None = None

    @property
    def _webhook_id(self) -> str:
        return str(self._entry.data[CONF_WEBHOOK_ID])

    async def async_set_enabled(self, enabled: bool) -> None:
        """Subscribe and receive (on), or delete our webhook at the provider (off)."""
        if enabled:
            # The webhook component serves /api/webhook/: loaded with the option.
            if not await async_setup_component(self._hass, "webhook", {}):
                self.stats.state = "no_webhook"
                return
            self._ensure_secrets()
            self._register()
            await self._async_subscribe()
        elif self._registered or self._entry.data.get(CONF_SUBSCRIPTION):
            self.async_stop()
            await async_remove_subscription(self._hass, self._entry, self._client)
            self.stats.state = "off"

    @callback
    def async_stop(self) -> None:
        """Stop receiving (unload): the subscription stays for the next start."""
        for cancel in (self._quiet, self._retry):
            if cancel is not None:
                cancel()
        self._quiet = self._retry = None
        if self._registered:
            webhook.async_unregister(self._hass, self._webhook_id)
            self._registered = False

    def _ensure_secrets(self) -> None:
        """Give the entry its webhook id and delivery secret, once."""
        if CONF_WEBHOOK_ID in self._entry.data and CONF_PUSH_SECRET in self._entry.data:
            return
        self._hass.config_entries.async_update_entry(
            self._entry,
            data={
                **self._entry.data,
                CONF_WEBHOOK_ID: webhook.async_generate_id(),
                CONF_PUSH_SECRET: secrets.token_urlsafe(32),
            },
        )

    def _register(self) -> None:
        if not self._registered:
            webhook.async_register(
                self._hass,
                DOMAIN,
                self._entry.title,
                self._webhook_id,
                self._async_handle,
                local_only=False,
                allowed_methods=["POST"],
            )
            self._registered = True

    async def _async_subscribe(self) -> None:
        """Subscribe at the provider; retry later when it fails."""
        loopback = is_loopback_url(str(self._entry.data.get(CONF_BASE_URL, "")))
        url = await async_push_url(self._hass, self._webhook_id, loopback)
        if url is None:
            self.stats.state = "no_url"
            return
        try:
            subscription = await self._client.async_subscribe(
                own_id=self._entry.data.get(CONF_SUBSCRIPTION),
                url=url,
                header=PUSH_HEADER,
                secret=str(self._entry.data[CONF_PUSH_SECRET]),
                picked=self._coordinator.settings.picked,
            )
        except ProviderError as err:
            LOGGER.debug("Subscribing to pushes failed (%s); retrying later", err)
            self.stats.state = "failed"
            self._retry = async_call_later(
                self._hass, PUSH_RETRY_AFTER, self._async_retry
            )
            return
        self._subscribed(subscription.webhook_id, subscription.taken)
        self.stats.event_types = subscription.event_types

    async def _async_retry(self, _now: datetime) -> None:
        self._retry = None
        await self._async_subscribe()

    def _subscribed(self, webhook_id: str | None, taken: frozenset[str]) -> None:
        """Keep our webhook's id; tell the user when another webhook holds our types."""
        issue_id = f"{ISSUE_PUSH_TAKEN}_{self._entry.entry_id}"
        if webhook_id is None:
            self.stats.state = "taken"
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_PUSH_TAKEN,
                translation_placeholders={
                    "account": self._entry.title,
                    "types": ", ".join(sorted(taken)),
                },
            )
            return
        ir.async_delete_issue(self._hass, DOMAIN, issue_id)
        self.stats.state = "subscribed"
        if self._entry.data.get(CONF_SUBSCRIPTION) != webhook_id:
            self._hass.config_entries.async_update_entry(
                self._entry, data={**self._entry.data, CONF_SUBSCRIPTION: webhook_id}
            )

    async def _async_handle(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        """Take a delivery: check who sends it and what it says, then apply it."""
        self.stats.received += 1
        secret = str(self._entry.data.get(CONF_PUSH_SECRET, ""))
        given = request.headers.get(PUSH_HEADER, "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            self.stats.rejected += 1
            return web.Response(status=401)
        try:
            events = self._client.read_push(await _read_json(request))
        except (ValueError, ProviderError, RecursionError):
            self.stats.rejected += 1
            return web.Response(status=400)
        snapshot = self._coordinator.data
        if (
            snapshot is not None
            and (pushed := self._client.apply_push(snapshot, events)) is not None
        ):
            self.stats.applied += 1
            self._coordinator.async_set_pushed(pushed)
        self._pushes_arrive()
        return web.Response(status=200)

    def _pushes_arrive(self) -> None:
        """Poll less often while pushes arrive; as configured once they stop."""
        self.stats.last_event_at = dt_util.utcnow()
        if self._quiet is None:
            self._coordinator.async_set_push_active(True)
        else:
            self._quiet()
        self._quiet = async_call_later(self._hass, PUSH_QUIET, self._pushes_stopped)

    @callback
    def _pushes_stopped(self, _now: datetime) -> None:
        self._quiet = None
        self._coordinator.async_set_push_active(False)


async def _read_json(request: web.Request) -> Any:
    """Read a delivery's JSON, refusing bodies past MAX_DELIVERY_BYTES."""
    if (request.content_length or 0) > MAX_DELIVERY_BYTES:
        raise ValueError("delivery too large")
    # Read to the end: one read returns what has arrived so far, which for a
    # body sent in pieces (chunked) is only its beginning.
    body = bytearray()
    async for piece in request.content.iter_any():
        body += piece
        if len(body) > MAX_DELIVERY_BYTES:
            raise ValueError("delivery too large")
    return json.loads(body)


async def async_remove_subscription(
    hass: HomeAssistant, entry: ConfigEntry[Any], client: PushProvider
) -> None:
    """Delete the entry's webhook at the provider and its cloudhook, if any."""
    if own_id := entry.data.get(CONF_SUBSCRIPTION):
        try:
            await client.async_unsubscribe(str(own_id))
        except ProviderError as err:
            LOGGER.warning("Could not delete the webhook at the provider: %s", err)
    webhook_id = entry.data.get(CONF_WEBHOOK_ID)
    if webhook_id and (cloud := _cloud(hass)) is not None:
        # No cloudhook, or no cloud: nothing to delete.
        with contextlib.suppress(cloud.CloudNotAvailable, ValueError):
            await cloud.async_delete_cloudhook(hass, str(webhook_id))
    if entry.data.get(CONF_SUBSCRIPTION) and hass.config_entries.async_get_entry(
        entry.entry_id
    ):
        hass.config_entries.async_update_entry(
            entry,
            data={k: v for k, v in entry.data.items() if k != CONF_SUBSCRIPTION},
        )
