"""Real-time updates: Butlr's webhooks in Home Assistant, end to end with the simulator.

The simulator manages webhooks as Butlr documents them and POSTs events to
the URL our entry registered, with the header we chose; the events are built
from the documents' field tables (tests/simulator/butlr_webhooks.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
import json
import sys
import types
from typing import Any
from unittest.mock import AsyncMock

from aiohttp import ClientSession
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.space_occupancy import (
    entity as entity_module,
    push as push_module,
)
from custom_components.space_occupancy.const import (
    CONF_PUSH,
    CONF_SPACES,
    DOMAIN,
    PUSH_POLL_INTERVAL,
)
from custom_components.space_occupancy.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.space_occupancy.push import (
    CONF_PUSH_SECRET,
    CONF_SUBSCRIPTION,
    CONF_WEBHOOK_ID,
    PUSH_HEADER,
    async_push_url,
    push_possible,
)
from custom_components.space_occupancy.urls import is_loopback_url

from .conftest import NOW, poll, setup_entry
from .simulator.butlr import ACCOUNT, ButlrScenario
from .simulator.butlr_webhooks import SimWebhook, event

FLOOR = "space_f1"


@dataclass
class Push:
    """A Butlr entry with real-time updates on, and the way to deliver to it."""

    hass: HomeAssistant
    entry: MockConfigEntry
    scenario: ButlrScenario
    session: ClientSession

    @property
    def url(self) -> str:
        (hook,) = self.scenario.webhooks.webhooks
        return hook.url

    async def deliver(self, *events: dict[str, Any], **options: bool) -> list[int]:
        """Have the simulated Butlr deliver events to every webhook that wants them."""
        return await self.scenario.webhooks.deliver(self.session, events, **options)

    async def post(self, body: Any, headers: dict[str, str] | None = None) -> int:
        """POST to our webhook as anyone could."""
        async with self.session.post(self.url, json=body, headers=headers) as response:
            return response.status

    def state(self, entity_id: str) -> str:
        return self.hass.states.get(entity_id).state


@pytest.fixture
async def push(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    session: ClientSession,
) -> Push:
    """The demo organisation's entry, push on, Home Assistant reachable on loopback."""
    assert await async_setup_component(hass, "webhook", {})
    client = await hass_client_no_auth()
    await hass.config.async_update(internal_url=str(client.make_url("")).rstrip("/"))
    butlr_scenario.expires_in = 100_000
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_PUSH: True})
    await setup_entry(hass, butlr_entry)
    await hass.async_block_till_done(wait_background_tasks=True)
    return Push(hass, butlr_entry, butlr_scenario, session)


def _room(room_id: str, people: int, seconds: float = 5) -> dict[str, Any]:
    return event(
        "ROOM_OCCUPANCY", room_id, FLOOR, NOW + timedelta(seconds=seconds), people
    )


# --- Subscribing --------------------------------------------------------------------


async def test_one_narrow_subscription_with_a_secret_of_our_own(push: Push) -> None:
    """The demo's rooms' types, our header with a random secret kept in the entry."""
    (hook,) = push.scenario.webhooks.webhooks
    data = push.entry.data
    assert data[CONF_SUBSCRIPTION] == hook.id
    assert hook.url.endswith(f"/api/webhook/{data[CONF_WEBHOOK_ID]}")
    assert (hook.header, hook.secret) == (PUSH_HEADER, data[CONF_PUSH_SECRET])
    assert len(data[CONF_PUSH_SECRET]) >= 40
    assert set(hook.event_types) == {
        "ROOM_OCCUPANCY",
        "PIR_MOTION",
        "PIR_NO_MOTION",
        "TRAFFIC",
    }
    assert hook.send_on_value_change


async def test_a_selection_filters_the_subscription(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """Only the meeting room picked: its floor filtered, no traffic asked for."""
    assert await async_setup_component(hass, "webhook", {})
    client = await hass_client_no_auth()
    await hass.config.async_update(internal_url=str(client.make_url("")).rstrip("/"))
    hass.config_entries.async_update_entry(
        butlr_entry, options={CONF_PUSH: True, CONF_SPACES: ["room_meeting"]}
    )
    await setup_entry(hass, butlr_entry)
    await hass.async_block_till_done(wait_background_tasks=True)
    (hook,) = butlr_scenario.webhooks.webhooks
    assert hook.filters == {"floor_ids": [FLOOR]}
    assert "TRAFFIC" not in hook.event_types


# --- Who may deliver, and what ------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [None, {PUSH_HEADER: ""}, {PUSH_HEADER: "wrong"}, {"X-Api-Key": "whatever"}],
)
async def test_a_delivery_without_our_secret_is_refused(
    push: Push, headers: dict[str, str] | None
) -> None:
    """401, and nothing changes."""
    assert await push.post(_room("room_meeting", 7), headers) == 401
    assert push.state("sensor.meeting_room_occupancy") == "3"


@pytest.mark.parametrize(
    "body",
    [
        "not an event",
        {"type": "ROOM_OCCUPANCY", "data": 9},
        [_room("room_meeting", 9), {"type": "ROOM_OCCUPANCY", "data": "nine"}],
        {"deep": [[[[[]]]]] * 20},
    ],
)
async def test_a_malformed_delivery_changes_nothing(push: Push, body: Any) -> None:
    """400 for anything but documented events: none of a bad batch applies."""
    secret = {PUSH_HEADER: push.entry.data[CONF_PUSH_SECRET]}
    assert await push.post(body, secret) == 400
    assert push.state("sensor.meeting_room_occupancy") == "3"


async def test_an_oversized_delivery_is_refused(push: Push) -> None:
    """A body past 64 KiB is no delivery of Butlr's."""
    secret = {PUSH_HEADER: push.entry.data[CONF_PUSH_SECRET]}
    big = [_room("room_meeting", 9)] * 400
    assert await push.post(big, secret) == 400
    assert push.state("sensor.meeting_room_occupancy") == "3"


# --- Applying events -----------------------------------------------------------------


async def test_a_pushed_count_is_shown_at_once(push: Push) -> None:
    """The room and the roll-ups above it change before the delivery is answered."""
    assert await push.deliver(_room("room_meeting", 6)) == [200]
    # No waiting: the state was written in the delivery's own turn.
    assert push.state("sensor.meeting_room_occupancy") == "6"
    assert push.state("sensor.first_floor_occupancy") == "11"
    assert push.state("sensor.hq_occupancy") == "11"
    assert push.state("binary_sensor.meeting_room_occupied") == "on"


async def test_older_duplicated_and_reordered_events(push: Push) -> None:
    """The newest sensing time wins, whatever order and how often events come."""
    events = [
        _room("room_meeting", 1, seconds=10),
        _room("room_meeting", 4, seconds=30),
        _room("room_meeting", 2, seconds=20),
    ]
    await push.deliver(*events, duplicate=True, reorder=True)
    assert push.state("sensor.meeting_room_occupancy") == "4"
    await push.deliver(_room("room_meeting", 9, seconds=25))  # older than 30 s
    assert push.state("sensor.meeting_room_occupancy") == "4"
    # Butlr recomputes the last minutes: the same moment's new value counts.
    await push.deliver(_room("room_meeting", 5, seconds=30))
    assert push.state("sensor.meeting_room_occupancy") == "5"


async def test_events_sensed_before_the_last_poll_are_in_it(push: Push) -> None:
    """The poll at NOW counted everything before it: an earlier event is old news."""
    await push.deliver(_room("room_meeting", 9, seconds=-30))
    assert push.state("sensor.meeting_room_occupancy") == "3"


async def test_crossings_move_the_traffic_room_once_each(push: Push) -> None:
    """Each crossing counts once, however often Butlr retries it."""
    crossing = event(
        "TRAFFIC",
        "room_cafeteria",
        FLOOR,
        NOW + timedelta(seconds=5),
        {"in": 2, "out": 0},
        event_id="event_crossing",
    )
    await push.deliver(crossing, duplicate=True)
    assert push.state("sensor.cafeteria_entries_today") == "9"
    assert push.state("sensor.cafeteria_exits_today") == "2"
    assert push.state("sensor.cafeteria_occupancy") == "7"


async def test_a_crossing_in_the_polls_last_second_is_counted(
    push: Push, freezer: FrozenDateTimeFactory
) -> None:
    """Reports end at the poll's whole second: what is sensed after it is new.

    Butlr's reports take ``start`` and ``stop`` to the second, so a poll at
    12.7 s past the minute knows nothing sensed after 12 s. A crossing
    sensed at 12.4 s must be counted when its push arrives after the poll.
    """
    freezer.move_to(NOW + timedelta(seconds=60, milliseconds=700))
    await push.entry.runtime_data.coordinator.async_refresh()
    assert push.state("sensor.cafeteria_entries_today") == "7"
    crossing = event(
        "TRAFFIC",
        "room_cafeteria",
        FLOOR,
        NOW + timedelta(seconds=60, milliseconds=400),
        {"in": 2, "out": 0},
        event_id="event_last_second",
    )
    await push.deliver(crossing)
    assert push.state("sensor.cafeteria_entries_today") == "9"
    assert push.state("sensor.cafeteria_occupancy") == "7"


async def test_a_crossing_pushed_before_a_poll_of_its_second_stays(
    push: Push, freezer: FrozenDateTimeFactory
) -> None:
    """A poll in the second of a pushed crossing does not take it back.

    The poll's reports stop at the whole second before the crossing; the
    next report that holds it counts it once.
    """
    coordinator = push.entry.runtime_data.coordinator
    sensed = NOW + timedelta(seconds=60, milliseconds=400)
    (cafeteria,) = (
        room for room in push.scenario.rooms() if room.id == "room_cafeteria"
    )
    cafeteria.traffic.append((sensed, 2, 0))  # What Butlr's reports hold now.
    freezer.move_to(sensed)
    crossing = event(
        "TRAFFIC",
        "room_cafeteria",
        FLOOR,
        sensed,
        {"in": 2, "out": 0},
        event_id="event_before_poll",
    )
    await push.deliver(crossing)
    assert push.state("sensor.cafeteria_entries_today") == "9"
    freezer.move_to(NOW + timedelta(seconds=60, milliseconds=700))
    await coordinator.async_refresh()
    assert push.state("sensor.cafeteria_entries_today") == "9"
    assert push.state("sensor.cafeteria_occupancy") == "7"
    freezer.move_to(NOW + timedelta(seconds=62))
    await coordinator.async_refresh()
    assert push.state("sensor.cafeteria_entries_today") == "9"
    assert push.state("sensor.cafeteria_exits_today") == "2"


async def test_unknown_and_unpicked_spaces_are_left_out(push: Push) -> None:
    """A room the entry does not show: accepted (200), changes nothing."""
    assert await push.deliver(_room("room_elsewhere", 5)) == [200]
    secret = {PUSH_HEADER: push.entry.data[CONF_PUSH_SECRET]}
    one_minute = event("ROOM_OCCUPANCY_1M", "room_x", FLOOR, NOW, 1)
    assert await push.post(one_minute, secret) == 200
    assert push.state("sensor.first_floor_occupancy") == "8"


async def test_motion_events_make_a_motion_sensor(push: Push) -> None:
    """PIR motion and no motion: a motion binary sensor for the room that sends them."""
    assert push.hass.states.get("binary_sensor.meeting_room_motion") is None
    await push.deliver(event("PIR_MOTION", "room_meeting", FLOOR, NOW))
    await push.hass.async_block_till_done()
    assert push.state("binary_sensor.meeting_room_motion") == "on"
    await push.deliver(
        event("PIR_NO_MOTION", "room_meeting", FLOOR, NOW + timedelta(seconds=90))
    )
    assert push.state("binary_sensor.meeting_room_motion") == "off"


async def test_a_first_motion_looks_at_its_room_only(
    push: Push, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A room's first motion adds its sensor without a walk over every space.

    An account has thousands of spaces: walking them all for each room's
    first motion froze Home Assistant for a fraction of a second each time.
    """
    looked_at: list[str] = []
    original = entity_module.SpaceEntities._sync_space

    def spy(self: Any, state: Any, capacity_cleared: bool) -> Any:
        looked_at.append(state.space.id)
        return original(self, state, capacity_cleared)

    monkeypatch.setattr(entity_module.SpaceEntities, "_sync_space", spy)
    await push.deliver(event("PIR_MOTION", "room_meeting", FLOOR, NOW))
    await push.hass.async_block_till_done()
    assert push.state("binary_sensor.meeting_room_motion") == "on"
    # Once per platform (sensors, binary sensors).
    assert looked_at == ["room_meeting", "room_meeting"]


async def test_a_room_with_pushed_motion_keeps_its_reading_between_polls(
    push: Push,
) -> None:
    """Polls that change nothing hand out the same reading, motion included."""
    coordinator = push.entry.runtime_data.coordinator
    await push.deliver(event("PIR_MOTION", "room_meeting", FLOOR, NOW))
    await coordinator.async_refresh()
    first = coordinator.data.readings["room_meeting"]
    await coordinator.async_refresh()
    assert coordinator.data.readings["room_meeting"] is first
    assert first.motion is True
    await push.deliver(
        event("PIR_NO_MOTION", "room_meeting", FLOOR, NOW + timedelta(seconds=90))
    )
    await coordinator.async_refresh()
    assert coordinator.data.readings["room_meeting"].motion is False
    assert push.state("binary_sensor.meeting_room_motion") == "off"


# --- Polls as the safety net -------------------------------------------------------


async def test_polls_slow_down_while_pushes_arrive(
    push: Push, freezer: FrozenDateTimeFactory
) -> None:
    """Every 5 minutes while pushes come; every 60 s again once they stopped."""
    coordinator = push.entry.runtime_data.coordinator
    await push.deliver(_room("room_meeting", 4))
    assert coordinator.update_interval == PUSH_POLL_INTERVAL
    await poll(push.hass, freezer, 5 * 60)
    assert coordinator.update_interval == timedelta(seconds=60)


async def test_a_newer_push_outlives_the_poll(push: Push) -> None:
    """A poll replaces a pushed count only when it is newer than the push."""
    coordinator = push.entry.runtime_data.coordinator
    await push.deliver(_room("room_meeting", 6, seconds=3600))  # sensed later
    await coordinator.async_refresh()
    assert push.state("sensor.meeting_room_occupancy") == "6"


async def test_diagnostics_tell_the_push_state(push: Push) -> None:
    """State, deliveries received, refused and applied, and the last one's time."""
    await push.deliver(_room("room_meeting", 6))
    await push.post(_room("room_meeting", 7))  # no secret
    diagnostics = await async_get_config_entry_diagnostics(push.hass, push.entry)
    stats = diagnostics["push"]
    assert stats["state"] == "subscribed"
    assert (stats["received"], stats["rejected"], stats["applied"]) == (2, 1, 1)
    assert stats["last_event_at"] is not None
    assert push.entry.data[CONF_PUSH_SECRET] not in str(diagnostics)


# --- Lifecycle --------------------------------------------------------------------


async def test_unload_keeps_removal_deletes(push: Push) -> None:
    """Unloading keeps our webhook at Butlr; removing the entry deletes it."""
    hass = push.hass
    assert await hass.config_entries.async_unload(push.entry.entry_id)
    assert len(push.scenario.webhooks.webhooks) == 1
    assert await hass.config_entries.async_setup(push.entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(push.scenario.webhooks.webhooks) == 1  # the same one, updated
    await hass.config_entries.async_remove(push.entry.entry_id)
    await hass.async_block_till_done()
    assert push.scenario.webhooks.webhooks == []


async def test_turning_the_option_off_deletes_our_webhook(push: Push) -> None:
    """Off: deleted at Butlr, deliveries no longer reach us."""
    result = await push.hass.config_entries.options.async_init(push.entry.entry_id)
    result = await push.hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    result = await push.hass.config_entries.options.async_configure(
        result["flow_id"], {**result["data_schema"]({}), CONF_PUSH: False}
    )
    await push.hass.async_block_till_done(wait_background_tasks=True)
    assert push.scenario.webhooks.webhooks == []
    assert CONF_SUBSCRIPTION not in push.entry.data
    assert push.entry.state is ConfigEntryState.LOADED


async def test_another_webhook_holding_our_types_is_left_alone(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
) -> None:
    """A repair issue says why; polling goes on; their webhook is untouched."""
    assert await async_setup_component(hass, "webhook", {})
    client = await hass_client_no_auth()
    await hass.config.async_update(internal_url=str(client.make_url("")).rstrip("/"))
    theirs = SimWebhook(
        "webhook_bms", "BMS", ACCOUNT[0], ["ROOM_OCCUPANCY"], "https://b"
    )
    butlr_scenario.webhooks.webhooks.append(theirs)
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_PUSH: True})
    await setup_entry(hass, butlr_entry)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert butlr_scenario.webhooks.webhooks == [theirs]
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"push_taken_{butlr_entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_placeholders["types"] == "ROOM_OCCUPANCY"
    assert hass.states.get("sensor.meeting_room_occupancy").state == "3"


async def test_cloud_gives_the_address_when_logged_in(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Home Assistant Cloud subscription: Butlr delivers to a cloudhook.

    Home Assistant Cloud's own component needs a live account: its three
    calls we make stand in for it here.
    """
    assert await async_setup_component(hass, "webhook", {})
    cloudhook = "https://hooks.nabu.casa/abc"
    cloud = types.ModuleType("homeassistant.components.cloud")
    cloud.CloudNotAvailable = type("CloudNotAvailable", (Exception,), {})  # type: ignore[attr-defined]
    cloud.async_active_subscription = lambda hass: True  # type: ignore[attr-defined]
    cloud.async_get_or_create_cloudhook = AsyncMock(return_value=cloudhook)  # type: ignore[attr-defined]
    cloud.async_delete_cloudhook = AsyncMock()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "homeassistant.components.cloud", cloud)
    hass.config.components.add("cloud")
    hass.config_entries.async_update_entry(butlr_entry, options={CONF_PUSH: True})
    await setup_entry(hass, butlr_entry)
    await hass.async_block_till_done(wait_background_tasks=True)
    (hook,) = butlr_scenario.webhooks.webhooks
    assert hook.url == cloudhook
    webhook_id = butlr_entry.data[CONF_WEBHOOK_ID]
    await hass.config_entries.async_remove(butlr_entry.entry_id)
    await hass.async_block_till_done()
    cloud.async_delete_cloudhook.assert_awaited_once_with(hass, webhook_id)  # type: ignore[attr-defined]
    assert butlr_scenario.webhooks.webhooks == []


async def test_without_an_https_address_the_option_says_why(
    hass: HomeAssistant, butlr_scenario: ButlrScenario
) -> None:
    """Butlr calls https only: no Cloud, no https URL, a real API: refused."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="butlr_x",
        version=2,
        minor_version=2,
        data={
            "provider": "butlr",
            "auth_method": "butlr_account",
            "username": ACCOUNT[0],
            "password": ACCOUNT[1],
            "base_url": "https://api.butlr.io",
            "account_key": "butlr_x",
        },
    )
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    schema = result["data_schema"]({})
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**schema, CONF_PUSH: True}
    )
    assert result["errors"] == {CONF_PUSH: "push_needs_https"}
    await hass.config.async_update(external_url="https://home.example.com")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**schema, CONF_PUSH: True}
    )
    assert entry.options[CONF_PUSH] is True
    assert dt_util.utcnow()  # the clock is untouched by the flow


async def _push_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Turn real-time updates on for an entry and set it up."""
    hass.config_entries.async_update_entry(entry, options={CONF_PUSH: True})
    await setup_entry(hass, entry)
    await hass.async_block_till_done(wait_background_tasks=True)


def _push_diagnostics(hass: HomeAssistant, entry: MockConfigEntry) -> Any:
    return entry.runtime_data.push.stats.state


async def test_an_external_https_url_is_the_address(
    hass: HomeAssistant, butlr_scenario: ButlrScenario, butlr_entry: MockConfigEntry
) -> None:
    """No Cloud: Butlr delivers to this instance's external https URL."""
    assert await async_setup_component(hass, "webhook", {})
    await hass.config.async_update(external_url="https://home.example.com")
    await _push_entry(hass, butlr_entry)
    (hook,) = butlr_scenario.webhooks.webhooks
    webhook_id = butlr_entry.data[CONF_WEBHOOK_ID]
    assert hook.url == f"https://home.example.com/api/webhook/{webhook_id}"


async def test_no_address_butlr_could_reach(hass: HomeAssistant) -> None:
    """No Cloud, no https URL: none for the real API; loopback only for a local one."""
    assert await async_push_url(hass, "abc", loopback=False) is None
    assert await async_push_url(hass, "abc", loopback=True) is None
    await hass.config.async_update(internal_url="http://127.0.0.1:8123")
    assert await async_push_url(hass, "abc", loopback=False) is None
    assert (
        await async_push_url(hass, "abc", loopback=True)
        == "http://127.0.0.1:8123/api/webhook/abc"
    )


async def test_cloud_not_connected_falls_back_to_the_external_url(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Cloud subscription whose connection is down: the external https URL serves."""
    assert await async_setup_component(hass, "webhook", {})
    cloud = types.ModuleType("homeassistant.components.cloud")
    not_available = type("CloudNotAvailable", (Exception,), {})
    cloud.CloudNotAvailable = not_available  # type: ignore[attr-defined]
    cloud.async_active_subscription = lambda hass: True  # type: ignore[attr-defined]
    cloud.async_get_or_create_cloudhook = AsyncMock(side_effect=not_available)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "homeassistant.components.cloud", cloud)
    hass.config.components.add("cloud")
    await hass.config.async_update(external_url="https://home.example.com")
    await _push_entry(hass, butlr_entry)
    (hook,) = butlr_scenario.webhooks.webhooks
    assert hook.url.startswith("https://home.example.com/api/webhook/")


async def test_a_failed_subscription_is_tried_again_later(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Butlr down while we subscribe: polls go on, and 15 minutes later it works."""
    assert await async_setup_component(hass, "webhook", {})
    client = await hass_client_no_auth()
    await hass.config.async_update(internal_url=str(client.make_url("")).rstrip("/"))
    butlr_scenario.expires_in = 100_000
    # Its schema's introspection fails too: the client falls back to the
    # documented names, then cannot list the webhooks.
    butlr_scenario.webhooks.refuse_next = 2
    await _push_entry(hass, butlr_entry)
    assert butlr_scenario.webhooks.webhooks == []
    assert _push_diagnostics(hass, butlr_entry) == "failed"
    await poll(hass, freezer, 15 * 60)
    (hook,) = butlr_scenario.webhooks.webhooks
    assert butlr_entry.data[CONF_SUBSCRIPTION] == hook.id


async def test_a_webhook_left_at_butlr_is_reported_not_raised(
    push: Push, caplog: pytest.LogCaptureFixture
) -> None:
    """Removing the entry while Butlr refuses the deletion: a warning, nothing else."""
    push.scenario.webhooks.refuse_next = 3
    await push.hass.config_entries.async_remove(push.entry.entry_id)
    await push.hass.async_block_till_done()
    assert len(push.scenario.webhooks.webhooks) == 1
    assert "Could not delete the webhook at the provider" in caplog.text


async def test_an_oversized_delivery_without_a_length_is_refused(push: Push) -> None:
    """A chunked body (no Content-Length) past 64 KiB: 400, nothing changes."""

    async def chunks() -> Any:
        for _ in range(80):
            yield b"x" * 1024

    headers = {PUSH_HEADER: push.entry.data[CONF_PUSH_SECRET]}
    async with push.session.post(push.url, data=chunks(), headers=headers) as response:
        assert response.status == 400
    assert push.state("sensor.meeting_room_occupancy") == "3"


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8124", True),
        ("http://[::1]:8124", True),
        ("http://LOCALHOST:8124", True),
        ("https://api.butlr.io", False),
        ("http://10.0.0.5", False),
        ("/relative/path", False),  # no host
        ("http://[::1", False),  # not a URL
    ],
)
def test_only_this_machine_is_loopback(url: str, loopback: bool) -> None:
    """Plain http is for this machine only: a name, an address, or nothing parsable."""
    assert is_loopback_url(url) is loopback


async def test_a_delivery_in_chunks_is_read_whole(push: Push) -> None:
    """A body sent in pieces (chunked, no Content-Length) is read to its end."""
    body = json.dumps(_room("room_meeting", 7)).encode()

    async def pieces() -> Any:
        for start in range(0, len(body), 16):
            yield body[start : start + 16]
            await asyncio.sleep(0)  # each piece its own write on the wire

    headers = {PUSH_HEADER: push.entry.data[CONF_PUSH_SECRET]}
    async with push.session.post(push.url, data=pieces(), headers=headers) as response:
        assert response.status == 200
    await push.hass.async_block_till_done()
    assert push.state("sensor.meeting_room_occupancy") == "7"


async def test_no_address_keeps_polling(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No address Butlr could reach: no subscription, diagnostics say why, polls go on."""

    def no_url(*_: Any, **__: Any) -> str:
        raise NoURLAvailableError

    monkeypatch.setattr(push_module, "get_url", no_url)
    await _push_entry(hass, butlr_entry)
    assert butlr_scenario.webhooks.webhooks == []
    assert _push_diagnostics(hass, butlr_entry) == "no_url"
    assert hass.states.get("sensor.meeting_room_occupancy").state == "3"


async def test_without_the_webhook_component_nothing_is_subscribed(
    hass: HomeAssistant,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Home Assistant's webhook component failing to load: no subscription, polls go on."""
    monkeypatch.setattr(
        push_module, "async_setup_component", AsyncMock(return_value=False)
    )
    await _push_entry(hass, butlr_entry)
    assert butlr_scenario.webhooks.webhooks == []
    assert _push_diagnostics(hass, butlr_entry) == "no_webhook"
    assert hass.states.get("sensor.meeting_room_occupancy").state == "3"


def test_cloud_makes_push_possible(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Cloud subscription is an address Butlr reaches, whatever the base URL."""
    assert not push_possible(hass, "https://api.butlr.io")
    cloud = types.ModuleType("homeassistant.components.cloud")
    cloud.async_active_subscription = lambda hass: True  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "homeassistant.components.cloud", cloud)
    hass.config.components.add("cloud")
    assert push_possible(hass, "https://api.butlr.io")
