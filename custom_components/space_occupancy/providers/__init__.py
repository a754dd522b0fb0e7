"""API clients for occupancy providers. No Home Assistant imports here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .base import ClientContext, HistoryProvider, Provider
from .butlr import ButlrClient
from .concordia import ConcordiaClient
from .exceptions import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderNoSpacesError,
    ProviderRateLimitError,
    ProviderResponseError,
)
from .models import Account, History, HourStat, Reading, Snapshot, Space, SpaceKind
from .occuspace import OccuspaceClient

PROVIDER_BUTLR = "butlr"
PROVIDER_OCCUSPACE = "occuspace"
PROVIDER_CONCORDIA = "concordia"

DEFAULT_BASE_URLS: dict[str, str] = {
    PROVIDER_BUTLR: "https://api.butlr.io",
    PROVIDER_OCCUSPACE: "https://api.occuspace.io/v1",
    PROVIDER_CONCORDIA: "https://opendata.concordia.ca/API/v1",
}

PROVIDER_FACTORIES: dict[
    str, Callable[[ClientContext, Mapping[str, Any]], Provider]
] = {
    PROVIDER_BUTLR: ButlrClient.from_config,
    PROVIDER_CONCORDIA: ConcordiaClient.from_config,
    PROVIDER_OCCUSPACE: OccuspaceClient.from_config,
}


def create_provider(
    provider: str, context: ClientContext, config: Mapping[str, Any]
) -> Provider:
    """Build the client for a provider key from a config entry's data."""
    return PROVIDER_FACTORIES[provider](context, config)


__all__ = [
    "DEFAULT_BASE_URLS",
    "PROVIDER_BUTLR",
    "PROVIDER_CONCORDIA",
    "PROVIDER_FACTORIES",
    "PROVIDER_OCCUSPACE",
    "Account",
    "ButlrClient",
    "ClientContext",
    "ConcordiaClient",
    "History",
    "HistoryProvider",
    "HourStat",
    "OccuspaceClient",
    "Provider",
    "ProviderAuthError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderNoSpacesError",
    "ProviderRateLimitError",
    "ProviderResponseError",
    "Reading",
    "Snapshot",
    "Space",
    "SpaceKind",
    "create_provider",
]
