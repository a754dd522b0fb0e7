"""Base URLs: where credentials may travel, and where a provider may push to."""

from __future__ import annotations

import ipaddress

from yarl import URL

LOOPBACK_NAMES = {"localhost"}


def url_error(url: str) -> str | None:
    """Why a base URL is refused: credentials never travel unencrypted off this host.

    Nor in the URL itself: a user name or password in it is refused.
    """
    try:
        parsed = URL(url)
    except ValueError:
        return "invalid_url"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "invalid_url"
    if parsed.user is not None or parsed.password is not None:
        # Credentials in a URL end up in logs, diagnostics and Referer headers.
        return "url_with_credentials"
    if parsed.scheme == "https" or is_loopback_url(url):
        return None
    return "insecure_url"


def is_loopback_url(url: str) -> bool:
    """Whether a URL points at this machine (the project's simulator, say)."""
    try:
        host = URL(url).host
    except ValueError:
        return False
    if host is None:
        return False
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
