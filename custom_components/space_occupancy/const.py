"""Constants for Space Occupancy."""

from __future__ import annotations

from datetime import timedelta
import logging
import os
from typing import Final

from homeassistant.const import (
    CONF_API_KEY,
    CONF_API_TOKEN,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_PASSWORD,
    CONF_USERNAME,
)

from .providers import PROVIDER_BUTLR, PROVIDER_CONCORDIA, PROVIDER_OCCUSPACE

DOMAIN: Final = "space_occupancy"
LOGGER = logging.getLogger(__package__)

# Config entry data.
CONF_PROVIDER: Final = "provider"
CONF_AUTH_METHOD: Final = "auth_method"
CONF_BASE_URL: Final = "base_url"
CONF_USER_ID: Final = "user_id"
# The account id of the entry's credentials, once they differ from its unique id
# (a Butlr entry switched between an account and an API client).
CONF_ACCOUNT_ID: Final = "account_id"
# The provider-scoped account id the entry's device and entity ids are built
# on (ids.py); it never changes, whatever part of the account the entry holds.
CONF_ACCOUNT_KEY: Final = "account_key"

# Options.
CONF_THRESHOLD_LOW: Final = "threshold_low"
CONF_THRESHOLD_MODERATE: Final = "threshold_moderate"
CONF_THRESHOLD_HIGH: Final = "threshold_high"
CONF_STALE_MINUTES: Final = "stale_minutes"
CONF_CAPACITIES: Final = "capacities"
CONF_HISTORY_DAYS: Final = "history_days"
# The picked spaces (each with everything below it); absent: the whole account.
CONF_SPACES: Final = "spaces"
# Whether picked rooms get a Home Assistant area (and floor) of their name.
CONF_AREAS: Final = "areas"
# Whether traffic rooms show their door-line count (in minus out since local
# midnight) rather than the provider's calibrated occupancy (Butlr).
CONF_DOOR_LINE_COUNT: Final = "door_line_count"

DEFAULT_THRESHOLD_LOW: Final = 40
DEFAULT_THRESHOLD_MODERATE: Final = 75
DEFAULT_THRESHOLD_HIGH: Final = 100
DEFAULT_STALE_MINUTES: Final = 90
# The longest poll interval the options accept.
MAX_SCAN_INTERVAL: Final = timedelta(hours=1)

# The credential kinds; each is one config flow step.
AUTH_BUTLR_ACCOUNT: Final = "butlr_account"
AUTH_BUTLR_API_CLIENT: Final = "butlr_api_client"
AUTH_OCCUSPACE: Final = "occuspace"
AUTH_CONCORDIA: Final = "concordia"

# Each credential kind's fields, in form order: (key, is_secret).
CREDENTIAL_FIELDS: Final[dict[str, tuple[tuple[str, bool], ...]]] = {
    AUTH_BUTLR_ACCOUNT: ((CONF_USERNAME, False), (CONF_PASSWORD, True)),
    AUTH_BUTLR_API_CLIENT: ((CONF_CLIENT_ID, False), (CONF_CLIENT_SECRET, True)),
    AUTH_OCCUSPACE: ((CONF_API_TOKEN, True),),
    AUTH_CONCORDIA: ((CONF_USER_ID, False), (CONF_API_KEY, True)),
}
CREDENTIAL_KEYS: Final = frozenset(
    key for fields in CREDENTIAL_FIELDS.values() for key, _ in fields
)
SECRET_KEYS: Final = frozenset(
    key for fields in CREDENTIAL_FIELDS.values() for key, secret in fields if secret
)

PROVIDER_OF_AUTH: Final = {
    AUTH_BUTLR_ACCOUNT: PROVIDER_BUTLR,
    AUTH_BUTLR_API_CLIENT: PROVIDER_BUTLR,
    AUTH_OCCUSPACE: PROVIDER_OCCUSPACE,
    AUTH_CONCORDIA: PROVIDER_CONCORDIA,
}

# The provider's name, as a manufacturer and in messages.
PROVIDER_NAMES: Final = {
    PROVIDER_BUTLR: "Butlr",
    PROVIDER_OCCUSPACE: "Occuspace",
    PROVIDER_CONCORDIA: "Concordia University",
}

# A space missing from the provider has its device removed once it has been
# missing this long and from this many topology answers: a provider outage or
# a bad answer for a day never deletes a device (and with it the user's names,
# areas and disabled flags).
SPACE_REMOVAL_GRACE: Final = timedelta(hours=24)
SPACE_REMOVAL_ANSWERS: Final = 3

# A refusal that may mean a spent daily quota: reauth waits until this long
# after the quota's reset, and polls slow down meanwhile.
QUOTA_RESET_GRACE: Final = timedelta(minutes=15)
QUOTA_BACKOFF_INTERVAL: Final = timedelta(minutes=30)
# Polls that keep failing (provider unreachable, 5xx, unreadable answers) back
# off: from the third failure in a row the interval doubles, up to this.
FAILURE_BACKOFF_AFTER: Final = 3
MAX_FAILURE_INTERVAL: Final = timedelta(minutes=30)

# Real-time push (an option, for clients that can push): polls go on as the
# safety net, this often while pushes arrive; no push for PUSH_QUIET and the
# configured interval is back.
CONF_PUSH: Final = "push"
PUSH_POLL_INTERVAL: Final = timedelta(minutes=5)
PUSH_QUIET: Final = timedelta(minutes=5)
# A subscription that failed is tried again this much later.
PUSH_RETRY_AFTER: Final = timedelta(minutes=15)

# History (providers that serve it). Days imported when an entry is added (an
# option), and the most a gap after downtime is filled from.
DEFAULT_HISTORY_DAYS: Final = 30
MAX_HISTORY_DAYS: Final = 90
GAP_FILL_LIMIT: Final = timedelta(days=7)
# One history request at most this often (four a minute), never two at once.
# scripts/develop shortens it for its local simulator through the environment,
# so that 30 days arrive within a minute of its start; nothing else sets it.
HISTORY_REQUEST_PACE: Final = timedelta(
    seconds=float(os.environ.get("SPACE_OCCUPANCY_HISTORY_PACE", "15"))
)
# After a failed chunk of history (any error), the import waits this long before
# it retries; the wait doubles with each failure in a row, up to the maximum,
# and is back to the first after a chunk that succeeds: 15, 30, 60, 120, 240
# minutes, then every 6 hours.
HISTORY_RETRY_AFTER: Final = timedelta(minutes=15)
HISTORY_RETRY_MAX: Final = timedelta(hours=6)

# "Usual occupancy": the mean of the same local weekday and hour over this
# many past weeks, known once at least USUAL_MIN_WEEKS of them have data.
USUAL_WEEKS: Final = 4
USUAL_MIN_WEEKS: Final = 2

SERVICE_IMPORT_HISTORY: Final = "import_history"
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_START: Final = "start"
ATTR_END: Final = "end"

# Repair issues.
ISSUE_QUOTA: Final = "concordia_quota"
ISSUE_RATE_LIMITED: Final = "rate_limited"
ISSUE_ENTITY_CAP: Final = "entity_cap"
ISSUE_PUSH_TAKEN: Final = "push_taken"
# What a fixable issue's data holds: the entry it is about (repairs.py).
ISSUE_DATA_ENTRY_ID: Final = "entry_id"
# Consecutive rate-limited polls before the user is told.
RATE_LIMIT_ISSUE_AFTER: Final = 3
