"""Repair issues: troubled polls (and the slower polling that goes with them), the entity cap.

- Polls that keep failing back off exponentially (``PollProblems.interval``).

- ``rate_limited``: the provider answered "slow down" (HTTP 429) to
  ``RATE_LIMIT_ISSUE_AFTER`` polls in a row.
- ``concordia_quota``: a provider whose refusals may mean a spent daily quota
  (its client names the zone where the quota resets) refused the credentials.
  Until that reset (plus a grace) the refusal is taken for a spent quota: the
  entities are unavailable, polls slow down to ``QUOTA_BACKOFF_INTERVAL``, and
  only refusals after it start a re-authentication.

The first good poll clears them, and the issues left by an earlier run of the
entry (found in the registry) too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util import dt as dt_util

from .const import (
    DOMAIN,
    FAILURE_BACKOFF_AFTER,
    ISSUE_DATA_ENTRY_ID,
    ISSUE_ENTITY_CAP,
    ISSUE_PUSH_TAKEN,
    ISSUE_QUOTA,
    ISSUE_RATE_LIMITED,
    MAX_FAILURE_INTERVAL,
    QUOTA_BACKOFF_INTERVAL,
    QUOTA_RESET_GRACE,
    RATE_LIMIT_ISSUE_AFTER,
)
from .providers import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimitError,
    Space,
)
from .providers.selection import space_path
from .providers.timeutil import next_local_midnight


class PollProblems:
    """Counts an entry's troubled polls, raises and clears its repair issues."""

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, quota_timezone: str | None
    ) -> None:
        """Watch one entry, whose client's quota (if any) resets in quota_timezone."""
        self._hass = hass
        self._entry = entry
        self._quota_zone = None if quota_timezone is None else ZoneInfo(quota_timezone)
        self._rate_limited_polls = 0
        # Polls failed in a row (the back-off counts them), for diagnostics too.
        self.failed_polls = 0
        # True while refusals look like a spent quota (polls back off).
        self.quota_backoff = False
        # Issues to clear at the next good poll: an earlier run's are found in
        # the registry, so they are cleared as well.
        self._open: set[str] = {ISSUE_QUOTA, ISSUE_RATE_LIMITED}

    def interval(self, configured: timedelta) -> timedelta:
        """Return the poll interval to use now: slower while polls keep failing.

        From the ``FAILURE_BACKOFF_AFTER``-th failed poll in a row the interval
        doubles with each further failure, up to ``MAX_FAILURE_INTERVAL`` (60 s
        → 2, 4, 8, 16, 30 minutes); a spent quota waits 30 minutes at least.
        The first good poll goes back to the configured interval.
        """
        interval = configured
        if self.quota_backoff:
            interval = max(interval, QUOTA_BACKOFF_INTERVAL)
        if self.failed_polls >= FAILURE_BACKOFF_AFTER:
            doublings = min(self.failed_polls - FAILURE_BACKOFF_AFTER + 1, 16)
            interval = max(
                interval, min(configured * 2**doublings, MAX_FAILURE_INTERVAL)
            )
        return interval

    def poll_failed(self) -> None:
        """Note a failed poll (unreachable, refused, unreadable): polls slow down."""
        self.failed_polls += 1

    def rate_limited(self) -> None:
        """Note a poll the provider asked to slow down; tell the user once it lasts."""
        self._rate_limited_polls += 1
        if self._rate_limited_polls >= RATE_LIMIT_ISSUE_AFTER:
            self._raise(ISSUE_RATE_LIMITED)

    def refusal_may_be_quota(self) -> bool:
        """Note refused credentials; True while that may still be a spent quota.

        The issue's creation time is when the refusals began, so it survives
        setup retries and restarts.
        """
        if self._quota_zone is None:
            return False
        issue = ir.async_get(self._hass).async_get_issue(
            DOMAIN, self._issue_id(ISSUE_QUOTA)
        )
        now = dt_util.utcnow()
        since = issue.created if issue is not None else now
        if now >= next_local_midnight(since, self._quota_zone) + QUOTA_RESET_GRACE:
            return False  # Still refused after the quota reset: wrong credentials.
        self._raise(ISSUE_QUOTA)
        self.quota_backoff = True
        return True

    def good_poll(self) -> None:
        """Clear the issues: a good poll ends what they were about."""
        self._rate_limited_polls = 0
        self.failed_polls = 0
        self.quota_backoff = False
        for issue in self._open:
            ir.async_delete_issue(self._hass, DOMAIN, self._issue_id(issue))
        self._open.clear()

    def failure(self, err: ProviderError) -> Exception:
        """Return the Home Assistant error for a client's; raise its repair issues."""
        if isinstance(err, ProviderAuthError):
            if self.refusal_may_be_quota():
                return UpdateFailed(
                    translation_domain=DOMAIN, translation_key="quota_or_auth"
                )
            return ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="auth_failed"
            )
        if isinstance(err, ProviderRateLimitError):
            self.rate_limited()
            return UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="rate_limited",
                translation_placeholders={
                    "retry_after": str(round(err.retry_after or 0))
                },
            )
        # Unreachable or unreadable: polls back off while it lasts. (A rate
        # limit has its own wait, the provider's Retry-After.)
        self.poll_failed()
        key = (
            "cannot_connect"
            if isinstance(err, ProviderConnectionError)
            else "invalid_response"
        )
        return UpdateFailed(
            translation_domain=DOMAIN,
            translation_key=key,
            translation_placeholders={"error": str(err)},
        )

    def _issue_id(self, issue: str) -> str:
        return f"{issue}_{self._entry.entry_id}"

    def _raise(self, issue: str) -> None:
        self._open.add(issue)
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            self._issue_id(issue),
            # Fixed by polling less often (repairs.py).
            is_fixable=True,
            data={ISSUE_DATA_ENTRY_ID: self._entry.entry_id},
            severity=ir.IssueSeverity.WARNING,
            translation_key=issue,
            translation_placeholders={"account": self._entry.title},
        )


# How many left-out spaces the entity-cap issue names (then "and N more").
NAMED_LEFT_OUT = 5


def async_entity_cap_issue(
    hass: HomeAssistant,
    entry: ConfigEntry,
    spaces: Mapping[str, Space],
    left_out: Sequence[str],
    cap: int | None,
) -> None:
    """Say which spaces Home Assistant's entity cap left out; clear it when none are.

    The way out is the user's: pick fewer spaces, or split the account over
    two entries (the options' space selection says how).
    """
    issue_id = f"{ISSUE_ENTITY_CAP}_{entry.entry_id}"
    if not left_out or cap is None:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    names = [space_path(spaces, space_id) for space_id in left_out]
    shown = ", ".join(names[:NAMED_LEFT_OUT])
    if len(names) > NAMED_LEFT_OUT:
        shown += f" (+{len(names) - NAMED_LEFT_OUT})"
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        # Fixed by picking fewer spaces (repairs.py).
        is_fixable=True,
        data={ISSUE_DATA_ENTRY_ID: entry.entry_id},
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_ENTITY_CAP,
        translation_placeholders={
            "account": entry.title,
            "count": str(len(left_out)),
            "spaces": shown,
            "cap": str(cap),
        },
    )


@callback
def async_remove_issues(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove every repair issue of a deleted entry."""
    for issue in (ISSUE_QUOTA, ISSUE_RATE_LIMITED, ISSUE_ENTITY_CAP, ISSUE_PUSH_TAKEN):
        ir.async_delete_issue(hass, DOMAIN, f"{issue}_{entry.entry_id}")
