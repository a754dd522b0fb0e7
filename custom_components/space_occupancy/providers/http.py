"""The HTTP layer shared by the provider clients: timeouts, status mapping, JSON."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
import json
from typing import Any
from urllib.parse import quote
import zlib

import aiohttp
from yarl import URL

from .exceptions import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderRateLimitError,
    ProviderResponseError,
)

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=20)


def basic_authorization(user: str, password: str) -> str:
    """Return an HTTP Basic ``Authorization`` header value (RFC 7617, UTF-8).

    Built by hand: aiohttp deprecates ``BasicAuth`` and the ``auth=`` argument.
    """
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


# Without a Retry-After header, a 429 still holds requests back this long.
DEFAULT_RETRY_AFTER = 60.0
# A longer Retry-After is not taken literally: requests resume after a day.
MAX_RETRY_AFTER = 86400.0


def utcnow() -> datetime:
    """Return the current time; clients take a clock so tests can move it."""
    return datetime.now(UTC)


class ProviderStatusError(ProviderResponseError):
    """The provider refused the request with a 4xx status other than auth and 429."""

    def __init__(self, message: str, status: int) -> None:
        """Keep the status for callers that treat some of them specially."""
        super().__init__(message)
        self.status = status


class ProviderNotFoundError(ProviderStatusError):
    """The provider answered 404 (some deployments answer it as an HTML page)."""


class ProviderRedirectError(ProviderResponseError):
    """The provider answered a redirect (3xx), which is never followed.

    Following it would send the request (a login's body with the password,
    a bearer token) wherever the answer points, another host or plain http
    included: the base URL must be the API's own.
    """

    def __init__(self, message: str, status: int) -> None:
        """Keep the status."""
        super().__init__(message)
        self.status = status


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdecimal():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        until = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return min(max(0.0, (until - now).total_seconds()), MAX_RETRY_AFTER)


# The most a response body may hold, as sent and once decompressed: a larger one
# is an error (ProviderResponseTooLargeError), never read into memory whole.
# Sized from scripts/bench's largest account, a Butlr organisation of 2,000
# rooms and 8,000 sensors, whose largest answer (topology, GraphQL) is 0.8 MB:
# 32 MiB leaves a margin of 40 times. History answers are larger: see
# butlr_history.MAX_HISTORY_RESPONSE_BYTES.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
# Read a body this much at a time.
READ_CHUNK = 64 * 1024
# Decompressed here (zlib), within the size limit; nothing else is asked for.
ACCEPT_ENCODING = "gzip, deflate"


class ProviderResponseTooLargeError(ProviderResponseError):
    """The provider answered a body larger than the limit for that request."""


def _too_large(path: str, max_bytes: int) -> ProviderResponseTooLargeError:
    return ProviderResponseTooLargeError(
        f"{path} answered more than {max_bytes // (1024 * 1024)} MiB"
    )


async def read_body(
    response: aiohttp.ClientResponse, path: str, max_bytes: int
) -> bytes:
    """Read a response body, decompressed, of at most ``max_bytes`` both ways.

    aiohttp's own decompression (on Home Assistant 2025.4's aiohttp) inflates
    each chunk received whole: a 299 KiB gzip body took 313 MiB of memory.
    Here the body is read as sent, up to the limit, then inflated up to the
    limit again.
    """
    if (length := response.content_length) is not None and length > max_bytes:
        raise _too_large(path, max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(READ_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(path, max_bytes)
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding == "identity":
        return body
    return decompress(body, encoding, path, max_bytes)


def decompress(body: bytes, encoding: str, path: str, max_bytes: int) -> bytes:
    """Inflate a gzip or deflate body, to at most ``max_bytes``."""
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        # RFC 9110's deflate is zlib-wrapped; some servers send it raw.
        zlib_header = bool(body) and body[0] & 0x0F == zlib.DEFLATED
        wbits = zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS
    else:
        raise ProviderResponseError(f"{path} answered an unasked-for encoding")
    inflater = zlib.decompressobj(wbits)
    parts: list[bytes] = []
    size = 0
    pending = body
    try:
        # A piece at a time: what is inflated never exceeds the limit by more
        # than a piece, however much the body would inflate to.
        while not inflater.eof:
            before = len(pending)
            part = inflater.decompress(pending, READ_CHUNK)
            pending = inflater.unconsumed_tail
            if not part and len(pending) == before:
                break  # No progress: the body ended before its stream did.
            size += len(part)
            if size > max_bytes:
                raise _too_large(path, max_bytes)
            parts.append(part)
    except zlib.error as err:
        raise ProviderResponseError(
            f"{path} answered a corrupt {encoding} body"
        ) from err
    if not inflater.eof:
        raise ProviderResponseError(f"{path} answered a truncated {encoding} body")
    return b"".join(parts)


def path_segment(value: str) -> str:
    """Return a provider id as one URL path segment, every reserved character escaped.

    A "/" or "?" in an id would otherwise change the path or start a query;
    a segment of dots ("..") would climb it. A lone surrogate, which a JSON
    string may hold, is escaped as its bytes, for the provider to refuse.
    """
    segment = quote(value, safe="", errors="surrogatepass")
    return segment.replace(".", "%2E") if segment in (".", "..") else segment


class HttpClient:
    """JSON over HTTP for one provider, counting requests and honouring 429s."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        """Keep the injected session; the caller owns it."""
        self._session = session
        self.base_url = base_url.rstrip("/")
        # Parsed at the first request (a base URL that does not parse fails
        # that request, not the setup).
        self._base: URL | None = None
        self._clock = clock
        self._timeout = timeout
        self._blocked_until: datetime | None = None
        self.request_count = 0
        # Per ``reuse`` key: the last body, its decoding hook and what it decoded to.
        self._bodies: dict[str, tuple[bytes, object, Any]] = {}

    @property
    def blocked_until(self) -> datetime | None:
        """When a 429's Retry-After ends, while it has not ended yet."""
        if self._blocked_until is not None and self._clock() >= self._blocked_until:
            self._blocked_until = None
        return self._blocked_until

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
        max_bytes: int = MAX_RESPONSE_BYTES,
        reuse: str | None = None,
    ) -> Any:
        """Send one request and return its decoded JSON body.

        ``path`` is percent-encoded already: ids in it go through
        ``path_segment``.
        ``object_pairs_hook`` goes to ``json.loads``: a client that must see
        repeated keys (plain decoding keeps the last) passes one. A body
        larger than ``max_bytes``, as sent or decompressed, is an error.

        ``reuse`` names a request that is sent again and again (a poll's
        report): a body equal, byte for byte, to the last one under that name
        is not decoded again, and the very object decoded then is returned, so
        that the caller can tell an unchanged answer by identity. Callers that
        pass it never mutate what they get.
        """
        if (blocked_until := self.blocked_until) is not None:
            wait = (blocked_until - self._clock()).total_seconds()
            raise ProviderRateLimitError(
                f"Rate limited by the provider for another {wait:.0f} s", wait
            )
        self.request_count += 1
        url = self._url(path)
        try:
            async with self._session.request(
                method,
                url,
                json=json_body,
                headers={**(headers or {}), "Accept-Encoding": ACCEPT_ENCODING},
                timeout=self._timeout,
                # Credentials go to the base URL only, never where a 3xx points.
                allow_redirects=False,
                # Decompressed here, within the size limit (see read_body).
                auto_decompress=False,
            ) as response:
                self._check_status(
                    path, response.status, response.headers.get("Retry-After")
                )
                body = await read_body(response, path, max_bytes)
        except TimeoutError as err:
            raise ProviderConnectionError(f"Timeout calling {path}") from err
        except (aiohttp.ClientError, OSError) as err:
            raise ProviderConnectionError(
                f"Error calling {path}: {type(err).__name__}"
            ) from err
        return self._decoded(path, body, object_pairs_hook, reuse)

    def _decoded(
        self,
        path: str,
        body: bytes,
        object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None,
        reuse: str | None,
    ) -> Any:
        """Decode a JSON body; the last decoding where ``reuse``'s body is the same."""
        last = self._bodies.get(reuse) if reuse is not None else None
        if last is not None and last[1] is object_pairs_hook and last[0] == body:
            return last[2]
        try:
            decoded = json.loads(body, object_pairs_hook=object_pairs_hook)
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            # RecursionError: JSON nested deeper than the decoder goes.
            raise ProviderResponseError(f"{path} answered invalid JSON") from err
        if reuse is not None:
            self._bodies[reuse] = (body, object_pairs_hook, decoded)
        return decoded

    def _url(self, path: str) -> URL:
        """Return the URL of a path: the path as the client escaped it.

        Never re-quoted (ids in it went through ``path_segment``): %2E%2E must
        not become a ".." that climbs.
        """
        if self._base is None:
            try:
                self._base = URL(self.base_url)
            except ValueError as err:
                raise ProviderConnectionError(
                    f"Error calling {path}: InvalidURL"
                ) from err
        base = self._base
        return base.with_path(base.raw_path.rstrip("/") + path, encoded=True)

    def _check_status(self, path: str, status: int, retry_after: str | None) -> None:
        """Map an HTTP status to the provider exception hierarchy."""
        if 300 <= status < 400:
            raise ProviderRedirectError(
                f"{path} answered a redirect (HTTP {status}), which is not followed:"
                " the base URL must be the API's own",
                status,
            )
        if status < 400:
            return
        if status in (401, 403):
            raise ProviderAuthError(f"{path} rejected the credentials (HTTP {status})")
        if status == 404:
            raise ProviderNotFoundError(f"{path} was not found (HTTP 404)", status)
        if status == 429:
            now = self._clock()
            wait = parse_retry_after(retry_after, now)
            self._blocked_until = now + timedelta(
                seconds=DEFAULT_RETRY_AFTER if wait is None else wait
            )
            raise ProviderRateLimitError(f"{path} is rate limited (HTTP 429)", wait)
        if status >= 500:
            raise ProviderConnectionError(f"{path} failed (HTTP {status})")
        raise ProviderStatusError(f"{path} refused the request (HTTP {status})", status)
