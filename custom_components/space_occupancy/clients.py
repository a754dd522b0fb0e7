"""The provider client of a config entry: typed credentials from the entry's data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.const import (
    CONF_API_KEY,
    CONF_API_TOKEN,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_PASSWORD,
    CONF_USERNAME,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util import dt as dt_util

from .const import (
    AUTH_BUTLR_ACCOUNT,
    AUTH_BUTLR_API_CLIENT,
    AUTH_OCCUSPACE,
    CONF_AUTH_METHOD,
    CONF_BASE_URL,
    CONF_PROVIDER,
    CONF_USER_ID,
)
from .providers import (
    DEFAULT_BASE_URLS,
    ButlrApiClient,
    ButlrLogin,
    ClientContext,
    ConcordiaApplication,
    Credentials,
    OccuspaceToken,
    Provider,
    create_provider,
)


def credentials_of(data: Mapping[str, Any]) -> Credentials:
    """Return the typed credentials a config entry's data holds."""
    method = data[CONF_AUTH_METHOD]
    if method == AUTH_BUTLR_ACCOUNT:
        return ButlrLogin(data[CONF_USERNAME], data[CONF_PASSWORD])
    if method == AUTH_BUTLR_API_CLIENT:
        return ButlrApiClient(data[CONF_CLIENT_ID], data[CONF_CLIENT_SECRET])
    if method == AUTH_OCCUSPACE:
        return OccuspaceToken(data[CONF_API_TOKEN])
    # User ids are numeric: a config written by hand may hold an int.
    return ConcordiaApplication(str(data[CONF_USER_ID]), data[CONF_API_KEY])


def build_client(
    hass: HomeAssistant,
    data: Mapping[str, Any],
    door_line_count: Callable[[], bool] = lambda: False,
) -> Provider:
    """Build the provider client of a config entry's data on Home Assistant's session.

    ``door_line_count`` reads the entry's option at each poll (Butlr).
    """
    provider = data[CONF_PROVIDER]
    context = ClientContext(
        session=async_get_clientsession(hass),
        # Read at each use: a change of Home Assistant's timezone applies at once.
        default_timezone=lambda: str(hass.config.time_zone),
        clock=dt_util.utcnow,
        door_line_count=door_line_count,
    )
    base_url = data.get(CONF_BASE_URL) or DEFAULT_BASE_URLS[provider]
    return create_provider(provider, context, credentials_of(data), base_url)
