"""Repairs that fix: the user's way out of an issue is offered in the repair dialog.

A rate limit and a spent Concordia quota are fixed by polling less often; an
entry past Home Assistant's entity cap by picking fewer spaces. The dialog is
driven through Home Assistant's repairs HTTP API, as the frontend drives it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus
import json
from pathlib import Path
import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    CLIENT_ID,
    MockConfigEntry,
    MockUser,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

import custom_components.space_occupancy
from custom_components.space_occupancy.const import CONF_SPACES, DOMAIN

from .conftest import SimulatorServer, poll, setup_entry
from .selection_helpers import add_rooms, entity_cap as capped, keys_by_space
from .simulator import Fault
from .simulator.butlr import ButlrScenario
from .simulator.concordia import DAILY_QUOTA, seed_scenario

STRINGS = json.loads(
    (
        Path(custom_components.space_occupancy.__file__).parent / "strings.json"
    ).read_text(encoding="utf-8")
)
FIXABLE = {"rate_limited", "concordia_quota", "entity_cap"}
FIX_URL = "/api/repairs/issues/fix"


@pytest.fixture(autouse=True)
async def repairs(hass: HomeAssistant) -> None:
    """Home Assistant's repairs, with their HTTP API (the frontend's way in)."""
    assert await async_setup_component(hass, "http", {})
    assert await async_setup_component(hass, "repairs", {})


async def _client(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, user: MockUser
) -> Any:
    """An HTTP client of ``user``, whose token is made now (the clock is frozen)."""
    refresh_token = await hass.auth.async_create_refresh_token(user, CLIENT_ID)
    return await hass_client(hass.auth.async_create_access_token(refresh_token))


async def _start_fix(
    client: Any, issue_id: str, status: HTTPStatus = HTTPStatus.OK
) -> dict[str, Any]:
    response = await client.post(
        FIX_URL, json={"handler": DOMAIN, "issue_id": issue_id}
    )
    assert response.status == status
    if status != HTTPStatus.OK:
        return {}
    result: dict[str, Any] = await response.json()
    return result


async def _answer(client: Any, flow_id: str, answer: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"{FIX_URL}/{flow_id}", json=answer)
    assert response.status == HTTPStatus.OK
    result: dict[str, Any] = await response.json()
    return result


def _default(result: dict[str, Any], name: str) -> Any:
    """The value a form's field is filled with."""
    field = next(field for field in result["data_schema"] if field["name"] == name)
    return field.get("default")


async def _rate_limit(
    hass: HomeAssistant, simulator: SimulatorServer, freezer: FrozenDateTimeFactory
) -> None:
    """Make the Butlr simulator answer "slow down" until an issue is raised."""
    simulator.inject(
        Fault("/api/v3/reporting", status=429, headers={"Retry-After": "250"})
    )
    for _ in range(4):
        await poll(hass, freezer, 60)


async def test_rate_limit_is_fixed_by_polling_less_often(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The dialog offers twice the interval; the answer applies at once, no reload."""
    await setup_entry(hass, butlr_entry)
    data = butlr_entry.runtime_data
    issue_id = f"rate_limited_{butlr_entry.entry_id}"
    await _rate_limit(hass, simulator, freezer)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable

    client = await _client(hass, hass_client, hass_admin_user)
    result = await _start_fix(client, issue_id)
    assert result["type"] == "form"
    assert result["step_id"] == "fix"
    assert result["description_placeholders"] == {
        "account": butlr_entry.title,
        "current": "60",
    }
    assert _default(result, CONF_SCAN_INTERVAL) == 120

    result = await _answer(client, result["flow_id"], {CONF_SCAN_INTERVAL: 300})
    assert result["type"] == "create_entry"
    assert butlr_entry.options[CONF_SCAN_INTERVAL] == 300
    assert butlr_entry.runtime_data is data  # applied without a reload
    assert data.coordinator.update_interval == timedelta(seconds=300)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    # The Retry-After has passed; polls go out every 300 s from now on.
    await poll(hass, freezer, 300)
    assert hass.states.get("sensor.meeting_room_occupancy").state == "3"
    sent = len(simulator.requests)
    await poll(hass, freezer, 120)
    assert len(simulator.requests) == sent
    await poll(hass, freezer, 180)
    assert len(simulator.requests) > sent
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_a_rate_limit_that_lasts_comes_back(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Fixing the dialog does not hide a cause that is still there."""
    await setup_entry(hass, butlr_entry)
    issue_id = f"rate_limited_{butlr_entry.entry_id}"
    await _rate_limit(hass, simulator, freezer)
    client = await _client(hass, hass_client, hass_admin_user)
    result = await _start_fix(client, issue_id)
    await _answer(client, result["flow_id"], {CONF_SCAN_INTERVAL: 90})
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    for _ in range(4):
        simulator.inject(
            Fault("/api/v3/reporting", status=429, headers={"Retry-After": "1"})
        )
        await poll(hass, freezer, 90)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None


async def test_the_interval_stays_within_the_providers_bounds(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An interval under the provider's minimum or over an hour is refused."""
    await setup_entry(hass, butlr_entry)
    await _rate_limit(hass, simulator, freezer)
    client = await _client(hass, hass_client, hass_admin_user)
    result = await _start_fix(client, f"rate_limited_{butlr_entry.entry_id}")
    for wrong in (1, 7200):
        response = await client.post(
            f"{FIX_URL}/{result['flow_id']}", json={CONF_SCAN_INTERVAL: wrong}
        )
        assert response.status == HTTPStatus.BAD_REQUEST
    assert CONF_SCAN_INTERVAL not in butlr_entry.options


async def test_spent_quota_is_fixed_by_polling_less_often(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    simulator: SimulatorServer,
    concordia_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Concordia's quota: a longer interval from the dialog; the good poll after midnight."""
    # 17:00 in Montreal, the seed's libraries fresh.
    freezer.move_to(datetime(2018, 8, 27, 21, 0, tzinfo=UTC))
    simulator.concordia = seed_scenario(dt_util.utcnow())
    await setup_entry(hass, concordia_entry)
    issue_id = f"concordia_quota_{concordia_entry.entry_id}"
    simulator.concordia.quota = simulator.concordia.calls_today  # quota spent
    await poll(hass, freezer, 300)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable

    client = await _client(hass, hass_client, hass_admin_user)
    result = await _start_fix(client, issue_id)
    assert result["description_placeholders"]["current"] == "300"
    assert _default(result, CONF_SCAN_INTERVAL) == 600
    result = await _answer(client, result["flow_id"], {CONF_SCAN_INTERVAL: 900})
    assert result["type"] == "create_entry"
    assert concordia_entry.options[CONF_SCAN_INTERVAL] == 900
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    # Still refused at the next (30-minute, quota) poll: the issue is back.
    await poll(hass, freezer, 1800)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    # Past midnight in Montreal the quota resets: the good poll clears the
    # issue, and 900 s is the interval from then on.
    freezer.move_to(datetime(2018, 8, 28, 4, 20, tzinfo=UTC))
    simulator.concordia.quota = DAILY_QUOTA
    simulator.concordia.libraries = seed_scenario(dt_util.utcnow()).libraries
    await poll(hass, freezer, 1800)
    assert hass.states.get("sensor.webster_library_occupancy").state == "367"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    coordinator = concordia_entry.runtime_data.coordinator
    assert coordinator.update_interval == timedelta(seconds=900)


async def _past_the_cap(
    hass: HomeAssistant,
    scenario: ButlrScenario,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> str:
    """The first floor picked (28 entities), then two rooms more than a cap of 35 takes."""
    hass.config_entries.async_update_entry(entry, options={CONF_SPACES: ["space_f1"]})
    await setup_entry(hass, entry)
    add_rooms(scenario, "Annex", "Booth")
    await poll(hass, freezer, 3600)
    issue_id = f"entity_cap_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    return issue_id


async def test_entity_cap_is_fixed_by_picking_fewer_spaces(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The spaces form in the dialog: too many is refused with numbers; fewer fixes."""
    with capped(35):
        issue_id = await _past_the_cap(hass, butlr_scenario, butlr_entry, freezer)
        client = await _client(hass, hass_client, hass_admin_user)
        result = await _start_fix(client, issue_id)
        assert result["step_id"] == "fix"
        assert _default(result, CONF_SPACES) == ["space_f1"]
        assert result["description_placeholders"]["cap"] == "35"

        result = await _answer(client, result["flow_id"], {CONF_SPACES: ["space_f1"]})
        assert result["type"] == "form"
        assert result["errors"] == {CONF_SPACES: "too_many_entities"}
        assert result["description_placeholders"]["picked_entities"] == "42"

        result = await _answer(
            client, result["flow_id"], {CONF_SPACES: ["room_meeting", "room_booth"]}
        )
        assert result["type"] == "create_entry"
        assert butlr_entry.options[CONF_SPACES] == ["room_meeting", "room_booth"]
        assert butlr_entry.unique_id.endswith("/room_booth+room_meeting")
        assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

        await hass.async_block_till_done(wait_background_tasks=True)
        await poll(hass, freezer, 60)
        assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
        keys = keys_by_space(hass, butlr_entry, ["room_booth", "room_annex"])
        assert "occupancy" in keys["room_booth"]
        assert keys["room_annex"] == set()


async def test_entity_cap_repair_of_an_unloaded_entry_says_so(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The account cannot be read while the entry is unloaded: the dialog aborts."""
    with capped(35):
        issue_id = await _past_the_cap(hass, butlr_scenario, butlr_entry, freezer)
        assert await hass.config_entries.async_unload(butlr_entry.entry_id)
        client = await _client(hass, hass_client, hass_admin_user)
        result = await _start_fix(client, issue_id)
        assert result == {**result, "type": "abort", "reason": "not_loaded"}
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None


async def test_entity_cap_repair_when_the_account_cannot_be_read(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The provider down while the dialog opens: it aborts, the issue stays."""
    with capped(35):
        issue_id = await _past_the_cap(hass, butlr_scenario, butlr_entry, freezer)
        simulator.inject(Fault("/api/v3/", status=500, times=10))
        client = await _client(hass, hass_client, hass_admin_user)
        result = await _start_fix(client, issue_id)
        assert result == {**result, "type": "abort", "reason": "cannot_connect"}
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None


@pytest.mark.parametrize("issue", sorted(FIXABLE))
async def test_a_repair_of_a_removed_entry_aborts(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    issue: str,
) -> None:
    """An issue outliving its entry (restored from storage) cannot change anything."""
    await setup_entry(hass, butlr_entry)  # the integration is loaded
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"{issue}_gone",
        is_fixable=True,
        data={"entry_id": "gone"},
        severity=ir.IssueSeverity.WARNING,
        translation_key=issue,
        translation_placeholders={"account": "Gone"},
    )
    client = await _client(hass, hass_client, hass_admin_user)
    result = await _start_fix(client, f"{issue}_gone")
    assert result == {**result, "type": "abort", "reason": "entry_removed"}


async def test_only_administrators_can_fix(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_read_only_user: MockUser,
    simulator: SimulatorServer,
    butlr_scenario: ButlrScenario,
    butlr_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A repair writes the entry's options: a user who is not an admin cannot start one."""
    await setup_entry(hass, butlr_entry)
    await _rate_limit(hass, simulator, freezer)
    client = await _client(hass, hass_client, hass_read_only_user)
    await _start_fix(
        client, f"rate_limited_{butlr_entry.entry_id}", HTTPStatus.UNAUTHORIZED
    )
    assert CONF_SCAN_INTERVAL not in butlr_entry.options


def _placeholders(node: object) -> set[str]:
    if isinstance(node, dict):
        return {name for value in node.values() for name in _placeholders(value)}
    return set(re.findall(r"{(\w+)}", node)) if isinstance(node, str) else set()


def test_fixable_issues_have_their_dialog_texts() -> None:
    """What hassfest asks: a fixable issue has a fix flow's texts instead of a description.

    The texts quote only what the flows pass (the issue's title, what it was
    raised with).
    """
    passed = {
        "rate_limited": {"account", "current"},
        "concordia_quota": {"account", "current"},
        "entity_cap": {
            "account",
            "spaces",
            "entities",
            "cap",
            "picked_entities",
            "picked_spaces",
        },
    }
    for issue in FIXABLE:
        texts = STRINGS["issues"][issue]
        assert set(texts) == {"title", "fix_flow"}, issue
        step = texts["fix_flow"]["step"]["fix"]
        assert step["title"]
        assert step["description"]
        assert set(step["data"]) == set(step["data_description"])
        assert _placeholders(texts["fix_flow"]) <= passed[issue], issue
        assert "entry_removed" in texts["fix_flow"]["abort"]
    for issue, texts in STRINGS["issues"].items():
        if issue not in FIXABLE:
            assert set(texts) == {"title", "description"}, issue
