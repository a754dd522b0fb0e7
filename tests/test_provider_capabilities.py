"""What each client says it can do, and what it is built from."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import ClientSession
import pytest

from custom_components.space_occupancy.providers import (
    CLIENTS,
    DEFAULT_BASE_URLS,
    PROVIDER_BUTLR,
    PROVIDER_CONCORDIA,
    PROVIDER_OCCUSPACE,
    ButlrApiClient,
    ButlrClient,
    ButlrLogin,
    ClientContext,
    ConcordiaApplication,
    ConcordiaClient,
    OccuspaceClient,
    OccuspaceToken,
    capabilities_of,
    create_provider,
)


def test_capabilities_come_from_the_clients() -> None:
    """History for Butlr, a Montreal quota and change-judged staleness for Concordia."""
    butlr = capabilities_of(PROVIDER_BUTLR)
    occuspace = capabilities_of(PROVIDER_OCCUSPACE)
    concordia = capabilities_of(PROVIDER_CONCORDIA)
    assert (butlr.history, occuspace.history, concordia.history) == (
        True,
        False,
        False,
    )
    assert concordia.quota_reset_timezone == "America/Montreal"
    assert butlr.quota_reset_timezone is occuspace.quota_reset_timezone is None
    assert concordia.stale_by_change
    assert not butlr.stale_by_change
    assert not occuspace.stale_by_change
    # The design's intervals: 60, 120 and 300 s by default.
    assert [c.poll_interval for c in (butlr, occuspace, concordia)] == [
        timedelta(seconds=60),
        timedelta(seconds=120),
        timedelta(seconds=300),
    ]
    # Concordia's floor keeps within its 10,000 calls a day.
    assert timedelta(days=1) / concordia.min_poll_interval <= 10_000
    for capabilities in (butlr, occuspace, concordia):
        assert capabilities.min_poll_interval <= capabilities.poll_interval


@pytest.mark.parametrize(
    ("provider", "credentials", "client_class"),
    [
        (PROVIDER_BUTLR, ButlrLogin("a@b.c", "pw"), ButlrClient),
        (PROVIDER_BUTLR, ButlrApiClient("id", "secret"), ButlrClient),
        (PROVIDER_OCCUSPACE, OccuspaceToken("token"), OccuspaceClient),
        (PROVIDER_CONCORDIA, ConcordiaApplication("1", "key"), ConcordiaClient),
    ],
)
async def test_create_provider(
    session: ClientSession, provider: str, credentials: object, client_class: type
) -> None:
    """A provider key and its kind of credentials build that provider's client."""
    client = create_provider(
        provider,
        ClientContext(session=session),
        credentials,  # type: ignore[arg-type]
        DEFAULT_BASE_URLS[provider],
    )
    assert type(client) is client_class is CLIENTS[provider]
    assert client.capabilities is capabilities_of(provider)


async def test_credentials_of_another_provider_are_refused(
    session: ClientSession,
) -> None:
    """Occuspace credentials never build a Butlr client (nor the reverse)."""
    with pytest.raises(ValueError, match="No butlr client takes OccuspaceToken"):
        create_provider(
            PROVIDER_BUTLR,
            ClientContext(session=session),
            OccuspaceToken("token"),
            DEFAULT_BASE_URLS[PROVIDER_BUTLR],
        )


@pytest.mark.parametrize(
    "credentials",
    [
        ButlrLogin("someone@example.com", "hunter2-secret"),
        ButlrApiClient("client", "hunter2-secret"),
        OccuspaceToken("hunter2-secret"),
        ConcordiaApplication("1234", "hunter2-secret"),
    ],
)
def test_credentials_never_print_their_secret(credentials: object) -> None:
    """A credentials object in a log line or a traceback shows no secret."""
    assert "hunter2" not in repr(credentials)
    assert "hunter2" not in str(credentials)
