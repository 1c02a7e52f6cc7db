"""How a request reached us: its scheme and client address, believed from a proxy's
``X-Forwarded-*`` headers only when the peer is a trusted proxy; and the Origin check a
websocket upgrade makes with it (pure).

The request's view is kept on the request (``request["scheme"]``, ``request["client_address"]``)
by the transport middleware (``ari_app.api.hardening``), for the code that sets cookies,
throttles logins or checks origins (``ari_app.api.hardening.check_origin``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from aiohttp import web

from ari_app.config import HttpSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Scheme = Literal["http", "https"]
DEFAULT_PORTS = {"http": 80, "https": 443}
FORWARDED = ("X-Forwarded-Proto", "X-Forwarded-For")
_HOST = re.compile(r"[a-z0-9._-]+|[0-9a-f:.]+")  # a name, IPv4, or IPv6 (brackets dropped)

# Where each request's view is kept (``request[SCHEME_KEY]``, ``request[CLIENT_KEY]``), and the
# allowed origins on the root app (read through ``request.config_dict`` from any sub-app, the
# console's websocket hub's included).
SCHEME_KEY = web.RequestKey("scheme", str)
CLIENT_KEY = web.RequestKey[str | None]("client_address")
ALLOWED_ORIGINS = web.AppKey("allowed_origins", frozenset)


def client_address(request: web.Request) -> str | None:
    """Who sent the request: the client behind a trusted proxy, else the peer (what sign-in
    throttling and the audit trail record)."""
    return request.get(CLIENT_KEY, request.remote)


@dataclass(frozen=True)
class TransportPolicy:
    """What ``[http]`` says of the transport: TLS here, HTTPS required, the proxies believed."""

    tls: bool = False
    require_https: bool = False
    trusted_proxies: tuple[Network, ...] = ()
    allowed_origins: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, http: HttpSettings) -> TransportPolicy:
        return cls(
            tls=http.tls,
            require_https=http.https_required,
            trusted_proxies=networks(http.trusted_proxies),
            allowed_origins=frozenset(o for o in (normal_origin(x) for x in http.allowed_origins) if o),
        )


@dataclass(frozen=True)
class RequestView:
    scheme: Scheme
    client_address: str | None
    via_proxy: bool  # the peer is a trusted proxy (its headers were read)


def networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """``10.0.0.0/8``, ``192.0.2.7`` or ``::1`` each as a network (checked by the config)."""
    return tuple(ipaddress.ip_network(t, strict=False) for t in texts)


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443, as some proxies write it
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:5060
        text = text.partition(":")[0]
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 peer on a dual-stack socket reaches us as ::ffff:a.b.c.d.
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def is_trusted(peer: str | None, proxies: Sequence[Network]) -> bool:
    found = _address(peer)
    return found is not None and any(found in net for net in proxies)


def _last_value(header: str | None) -> str | None:
    """The value the nearest proxy wrote: a header a proxy appends to is a list, and only its
    last item comes from the proxy we trust; the earlier ones came with the request."""
    if not header:
        return None
    items = [x.strip() for x in header.split(",") if x.strip()]
    return items[-1] if items else None


def _forwarded_client(header: str | None, peer: str, proxies: Sequence[Network]) -> str:
    """The client behind a chain of trusted proxies: ``X-Forwarded-For`` read from the right,
    skipping trusted hops; the first address that is not one is the client. Anything to its
    left could have been written by that client."""
    hops = [x.strip() for x in (header or "").split(",") if x.strip()]
    client = peer
    for hop in reversed(hops):
        found = _address(hop)
        if found is None:
            break  # garbage in the chain: stop at the last address we can vouch for
        client = str(found)
        if not any(found in net for net in proxies):
            break
    return client


def request_view(
    peer: str | None, tls: bool, headers: Mapping[str, str], policy: TransportPolicy
) -> RequestView:
    """The scheme and client address of a request from ``peer`` (over TLS or not)."""
    scheme: Scheme = "https" if tls else "http"
    found = _address(peer)
    peer_text = str(found) if found is not None else peer
    if not is_trusted(peer, policy.trusted_proxies):
        return RequestView(scheme, peer_text, via_proxy=False)
    claimed = (_last_value(headers.get("X-Forwarded-Proto")) or "").lower()
    if claimed in ("http", "https"):
        scheme = "https" if claimed == "https" else "http"
    client = _forwarded_client(headers.get("X-Forwarded-For"), peer_text or "", policy.trusted_proxies)
    return RequestView(scheme, client or peer_text, via_proxy=True)


def normal_origin(text: str, scheme: str | None = None) -> str | None:
    """``scheme://host[:port]`` lower-cased, the scheme's default port left out; None when
    ``text`` is no origin (``null``, a path, credentials, garbage). Without ``scheme``, ``text``
    carries one; with it, ``text`` is a Host header."""
    if scheme is not None:
        text = f"{scheme}://{text}"
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:  # a port that is no number, a bracket left open
        return None
    proto, host = parts.scheme.lower(), parts.hostname or ""
    if proto not in DEFAULT_PORTS or not _HOST.fullmatch(host):
        return None
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{proto}://{host}" + (f":{port}" if port is not None and port != DEFAULT_PORTS[proto] else "")


def host_name(host: str) -> str | None:
    """The name in a Host header without its port (IPv6 in brackets); None when it is no host."""
    if normal_origin(host, "http") is None:
        return None
    name = urlsplit(f"//{host.strip()}").hostname or ""
    return f"[{name}]" if ":" in name else name


def own_origin(scheme: str, host: str | None) -> str | None:
    """The app's origin as this request sees it: its scheme (as the trusted proxy says) and
    the Host it was sent to."""
    return normal_origin(host, scheme) if host else None


def origin_allowed(origin: str | None, own: str | None, allowed: Iterable[str]) -> bool:
    """A browser's Origin is the app's own or one configured; a missing one or ``null`` never is."""
    given = normal_origin(origin) if origin else None
    if given is None:
        return False
    return given == own or given in set(allowed)
