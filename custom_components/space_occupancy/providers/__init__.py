"""API clients for occupancy providers. No Home Assistant imports here.

Each client is built from a ``ClientContext`` (the host's session, clock and
time zone), typed credentials and a base URL, and says what it can do in its
``capabilities``.
"""

from __future__ import annotations

from typing import cast

from . import butlr, concordia, occuspace
from .base import (
    ButlrApiClient,
    ButlrLogin,
    Capabilities,
    ClientContext,
    ConcordiaApplication,
    Credentials,
    HistoryProvider,
    OccuspaceToken,
    Provider,
    PushProvider,
)
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
from .models import (
    Account,
    History,
    HourStat,
    Reading,
    Snapshot,
    Space,
    SpaceKind,
    Subscription,
)
from .occuspace import OccuspaceClient

PROVIDER_BUTLR = "butlr"
PROVIDER_OCCUSPACE = "occuspace"
PROVIDER_CONCORDIA = "concordia"

# Each provider's client class: what a provider key stands for.
CLIENTS: dict[str, type[ButlrClient | OccuspaceClient | ConcordiaClient]] = {
    PROVIDER_BUTLR: ButlrClient,
    PROVIDER_OCCUSPACE: OccuspaceClient,
    PROVIDER_CONCORDIA: ConcordiaClient,
}

DEFAULT_BASE_URLS: dict[str, str] = {
    PROVIDER_BUTLR: butlr.DEFAULT_BASE_URL,
    PROVIDER_OCCUSPACE: occuspace.DEFAULT_BASE_URL,
    PROVIDER_CONCORDIA: concordia.DEFAULT_BASE_URL,
}


def capabilities_of(provider: str) -> Capabilities:
    """Return what a provider's client can do, before any client is built."""
    return CLIENTS[provider].capabilities


def create_provider(
    provider: str, context: ClientContext, credentials: Credentials, base_url: str
) -> Provider:
    """Build the client of a provider key from typed credentials."""
    if provider == PROVIDER_BUTLR and isinstance(
        credentials, ButlrLogin | ButlrApiClient
    ):
        return ButlrClient(context, credentials, base_url)
    if provider == PROVIDER_OCCUSPACE and isinstance(credentials, OccuspaceToken):
        return OccuspaceClient(context, credentials, base_url)
    if provider == PROVIDER_CONCORDIA and isinstance(credentials, ConcordiaApplication):
        return ConcordiaClient(context, credentials, base_url)
    raise ValueError(f"No {provider} client takes {type(credentials).__name__}")


def serves_history(provider: Provider) -> HistoryProvider | None:
    """Return the client as a history provider when it says it serves history."""
    return cast("HistoryProvider", provider) if provider.capabilities.history else None


def pushes(provider: Provider) -> PushProvider | None:
    """Return the client as a push provider when it says it can push."""
    return cast("PushProvider", provider) if provider.capabilities.push else None


__all__ = [
    "CLIENTS",
    "DEFAULT_BASE_URLS",
    "PROVIDER_BUTLR",
    "PROVIDER_CONCORDIA",
    "PROVIDER_OCCUSPACE",
    "Account",
    "ButlrApiClient",
    "ButlrClient",
    "ButlrLogin",
    "Capabilities",
    "ClientContext",
    "ConcordiaApplication",
    "ConcordiaClient",
    "Credentials",
    "History",
    "HistoryProvider",
    "HourStat",
    "OccuspaceClient",
    "OccuspaceToken",
    "Provider",
    "ProviderAuthError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderNoSpacesError",
    "ProviderRateLimitError",
    "ProviderResponseError",
    "PushProvider",
    "Reading",
    "Snapshot",
    "Space",
    "SpaceKind",
    "Subscription",
    "capabilities_of",
    "create_provider",
    "pushes",
]
