"""Actions: import a provider's history on demand (administrators only)."""

from __future__ import annotations

from datetime import datetime, timedelta

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import (
    HomeAssistantError,
    ServiceValidationError,
    Unauthorized,
    UnknownUser,
)
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util

from .compat import vol
from .const import (
    ATTR_CONFIG_ENTRY_ID,
    ATTR_END,
    ATTR_START,
    CONF_PROVIDER,
    DOMAIN,
    LOGGER,
    MAX_HISTORY_DAYS,
    PROVIDER_NAMES,
    SERVICE_IMPORT_HISTORY,
)
from .data import SpaceOccupancyConfigEntry
from .history import HistoryImporter
from .providers import ProviderError
from .providers.timeutil import hour_floor

IMPORT_HISTORY_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_START): cv.datetime,
        vol.Required(ATTR_END): cv.datetime,
    }
)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""

    async def import_history(call: ServiceCall) -> ServiceResponse:
        """Import the hours of a range that have no statistic yet (admins only)."""
        await _check_admin(hass, call)
        importer = _importer(hass, call.data[ATTR_CONFIG_ENTRY_ID])
        start, end = _hour_range(call.data[ATTR_START], call.data[ATTR_END])
        try:
            result = await importer.async_import(start, end)
        except HomeAssistantError:
            raise
        except Exception as err:
            if not isinstance(err, ProviderError):
                LOGGER.debug("The history import failed unexpectedly", exc_info=err)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="history_failed",
                translation_placeholders={"error": type(err).__name__},
            ) from err
        return {
            "sensors": dict(sorted(result.hours.items())),
            "hours": sum(result.hours.values()),
            "requests": result.requests,
        }

    hass.services.async_register(
        DOMAIN,
        SERVICE_IMPORT_HISTORY,
        import_history,
        schema=IMPORT_HISTORY_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )


async def _check_admin(hass: HomeAssistant, call: ServiceCall) -> None:
    """Refuse a call by a user who is not an administrator, as admin actions do.

    The action spends the provider's quota and writes the recorder. Home
    Assistant's ``async_register_admin_service`` makes this check, but cannot
    register an action that returns a response on 2025.4: the same check,
    here, on every line. A call without a user (an automation, a script) is
    the system's own.
    """
    if not (user_id := call.context.user_id):
        return
    user = await hass.auth.async_get_user(user_id)
    if user is None:
        raise UnknownUser(context=call.context, user_id=user_id)
    if not user.is_admin:
        raise Unauthorized(context=call.context, user_id=user_id)


def _importer(hass: HomeAssistant, entry_id: str) -> HistoryImporter:
    """Return the history importer of a loaded entry whose provider serves history."""
    entry: SpaceOccupancyConfigEntry | None = hass.config_entries.async_get_entry(
        entry_id
    )
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="entry_not_found"
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"entry": entry.title},
        )
    if (importer := entry.runtime_data.history) is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="history_not_supported",
            translation_placeholders={
                "provider": PROVIDER_NAMES[entry.data[CONF_PROVIDER]]
            },
        )
    return importer


def _hour_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Whole UTC hours from the hour of start to the last hour ending by end.

    The range must hold a whole hour, span at most ``MAX_HISTORY_DAYS`` and
    start within the last ``MAX_HISTORY_DAYS`` (the import window).
    """
    try:
        first = hour_floor(dt_util.as_utc(start))
        last = hour_floor(dt_util.as_utc(end))
    except OverflowError:
        # Year 1 or 9999 in a time zone that takes it out of the calendar.
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="history_date_out_of_range"
        ) from None
    if first >= last:
        raise ServiceValidationError(
            translation_domain=DOMAIN, translation_key="history_range_empty"
        )
    days = {"days": str(MAX_HISTORY_DAYS)}
    if last - first > timedelta(days=MAX_HISTORY_DAYS):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="history_range_too_long",
            translation_placeholders=days,
        )
    if first < hour_floor(dt_util.utcnow()) - timedelta(days=MAX_HISTORY_DAYS):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="history_start_too_old",
            translation_placeholders=days,
        )
    return first, last
