"""HTTP transport for ARI REST: one pooled session, the auth header, timeouts, error mapping, decoding.

Credentials travel only in the ``Authorization`` header; no URL, error, repr or log carries them.
Requests are named by route template (``/channels/{id}/dial``) in errors and in the
``on_request`` hook, never by ids.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, get_args, get_origin
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp
import msgspec
import structlog

from ari_app.ari import models as m
from ari_app.ari.errors import AriBadResponse, AriUnavailable, error_for_status

T = TypeVar("T")
log = structlog.get_logger(__name__)

RequestHook = Callable[[str, str, int, float], None]


def basic_auth(username: str, password: str) -> str:
    """The Authorization header value: the only place the password is ever put."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def checked_base_url(base_url: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """``base_url`` without a trailing slash; refuses credentials in it (they belong in the header)."""
    parts = urlsplit(base_url)
    if parts.username is not None or parts.password is not None:
        # Do not echo the URL: it holds the secret we refuse.
        raise ValueError("the ARI URL must not carry credentials; pass username and password")
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"the ARI URL must be {' or '.join(schemes)} with a host, like http://host:8088/ari")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def quote_part(part: str) -> str:
    """One path segment: an id holding "/" or "?" must not change the route."""
    return quote(part, safe="")


def model_name(model: Any) -> str:
    origin, args = get_origin(model), get_args(model)
    if origin is not None and args:
        return f"{origin.__name__}[{', '.join(model_name(a) for a in args)}]"
    return getattr(model, "__name__", str(model))


class RestTransport:
    def __init__(
        self,
        base_url: str,
        auth_header: str,
        *,
        timeout: float,
        session: aiohttp.ClientSession | None,
        on_request: RequestHook | None,
    ) -> None:
        self.base_url = base_url
        self._auth = auth_header
        self._timeout_s = timeout
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._own_session = session is None
        self._on_request = on_request
        self._closed = False

    def __repr__(self) -> str:
        return f"RestTransport(base_url={self.base_url!r})"

    def _http(self, method: str, route: str) -> aiohttp.ClientSession:
        if self._closed:
            raise AriUnavailable(method, route, None, "client closed")
        if self._session is None:
            # Created on first use: a session must be made inside the running loop.
            connector = aiohttp.TCPConnector(limit=100, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def close(self) -> None:
        self._closed = True
        if self._own_session and self._session is not None:
            await self._session.close()

    async def call(
        self,
        method: str,
        route: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        max_bytes: int | None = None,
    ) -> tuple[int, bytes]:
        """Send one request; returns (status, body) for a 2xx, raises the mapped AriError otherwise."""
        headers = {"Authorization": self._auth}
        data = None
        if body is not None:
            data = msgspec.json.encode(body)
            headers["Content-Type"] = "application/json"
        loop = asyncio.get_running_loop()
        started = loop.time()
        status = 0
        try:
            async with self._http(method, route).request(
                method,
                self.base_url + path,
                params=params or None,
                data=data,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,  # ARI never redirects; a redirect must not carry the header away
            ) as resp:
                status = resp.status
                if status < 300 and max_bytes is not None:
                    payload = await self._read_limited(resp, method, route, max_bytes)
                else:
                    payload = await resp.read()
                reason = resp.reason
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # "from None": the cause names the full URL with ids; ours names the route.
            raise AriUnavailable(method, route, None, self._why_unavailable(exc)) from None
        finally:
            self._report(method, route, status, loop.time() - started)
        if status >= 300:
            error = error_for_status(method, route, status, payload, reason)
            log.debug("ari_request_failed", method=method, route=route, status=status, error=error.message)
            raise error
        return status, payload

    async def typed(self, model: type[T], method: str, route: str, path: str, **kw: Any) -> T:
        """``call`` and decode the body into ``model``; AriBadResponse names the model and field."""
        status, payload = await self.call(method, route, path, **kw)
        try:
            decoded: T = m.decode(payload, model)
        except msgspec.DecodeError as exc:
            # msgspec names the field ("missing required field `id` - at `$[0]`"), not its value.
            message = f"response is not a valid {model_name(model)}: {exc}"
            raise AriBadResponse(method, route, status, message[:300]) from None
        return decoded

    async def _read_limited(
        self, resp: aiohttp.ClientResponse, method: str, route: str, max_bytes: int
    ) -> bytes:
        too_large = AriBadResponse(method, route, resp.status, f"body larger than {max_bytes} bytes")
        if (resp.content_length or 0) > max_bytes:
            raise too_large
        # Read in chunks: a chunked response has no length to check up front.
        body = bytearray()
        async for chunk in resp.content.iter_chunked(1 << 16):
            body += chunk
            if len(body) > max_bytes:
                raise too_large
        return bytes(body)

    def _why_unavailable(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return f"timed out after {self._timeout_s:g} s"
        if isinstance(exc, aiohttp.ClientConnectorError):
            return f"cannot connect ({exc.os_error.strerror or type(exc.os_error).__name__})"
        return f"unreachable ({type(exc).__name__})"

    def _report(self, method: str, route: str, status: int, seconds: float) -> None:
        if self._on_request is None:
            return
        try:
            self._on_request(method, route, status, seconds)
        except Exception:
            # A metrics bug must not fail call control.
            log.warning("ari_request_hook_failed", route=route, exc_info=True)
