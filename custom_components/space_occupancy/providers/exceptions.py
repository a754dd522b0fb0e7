"""One exception hierarchy for every provider client.

Messages never carry credentials, tokens or response bodies that could echo them.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base class for everything a provider client raises."""


class ProviderAuthError(ProviderError):
    """The provider rejected the credentials."""


class ProviderNoSpacesError(ProviderError):
    """The credentials work, but the account has no space to show."""


class ProviderConnectionError(ProviderError):
    """The provider could not be reached: timeout, DNS, reset, 5xx."""


class ProviderRateLimitError(ProviderConnectionError):
    """The provider answered 429; ``retry_after`` is in seconds when it said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        """Keep the provider's Retry-After."""
        super().__init__(message)
        self.retry_after = retry_after


class ProviderResponseError(ProviderError):
    """The provider answered something that does not parse."""
