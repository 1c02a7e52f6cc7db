"""What every request and every response of the HTTP API goes through, whatever its area.

Requests (``transport_middleware``, inside the error middleware so its refusals are our JSON,
outside every area's policy so it runs before any of them):
- the scheme and client address are read once (``ari_app.api.transport``) and kept on the request;
- a query string naming a credential (``?token=``, ``?session=``...) is refused, 400
  ``credentials_in_url``: URLs end up in browser history, proxy logs and Referer headers, so a
  credential must travel in a header or a cookie;
- where HTTPS is required, a plain-HTTP GET or HEAD is redirected (308) to the same path over
  HTTPS, anything else refused, 403 ``https_required``: a redirected POST would send its body
  in the clear a second time, and a client that sends one over HTTP should be fixed, not helped.
  ``/healthz`` is exempt: a load balancer's probe carries nothing and reads nothing private.

Responses (``on_response_prepare``, so that streamed answers, websocket handshakes, redirects and
the error middleware's JSON get them too): the security headers of ``security_headers``.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Middleware

from ari_app.api.errors import BadRequest, Forbidden, Handler
from ari_app.api.query_credentials import credential_params
from ari_app.api.security_headers import add_security_headers
from ari_app.api.transport import (
    ALLOWED_ORIGINS,
    CLIENT_KEY,
    FORWARDED,
    SCHEME_KEY,
    TransportPolicy,
    host_name,
    origin_allowed,
    own_origin,
    request_view,
)

OPEN_OVER_HTTP = frozenset({"/healthz"})


def https_redirect(method: str, host: str, path_qs: str) -> str | None:
    """Where a plain-HTTP request goes instead: the same path on HTTPS's standard port (that of
    the proxy in front, or of a listener on 443), for GET and HEAD; None: refuse it."""
    name = host_name(host)
    if method not in ("GET", "HEAD") or name is None:
        return None
    return f"https://{name}{path_qs}"


def transport_middleware(policy: TransportPolicy) -> Middleware:
    @web.middleware
    async def transport(request: web.Request, handler: Handler) -> web.StreamResponse:
        # A header sent twice (the client's line, then the proxy's) is read as one list, in order.
        forwarded = {name: ",".join(request.headers.getall(name, [])) for name in FORWARDED}
        view = request_view(request.remote, request.secure, forwarded, policy)
        request[SCHEME_KEY] = view.scheme
        request[CLIENT_KEY] = view.client_address
        named = credential_params(request.query.keys())
        if named:
            raise BadRequest(
                "credentials_in_url",
                f"send credentials in a header, never in the URL (query parameter {', '.join(named)})",
            )
        if policy.require_https and view.scheme != "https" and request.path not in OPEN_OVER_HTTP:
            target = https_redirect(request.method, request.host, request.path_qs)
            if target is None:
                raise Forbidden("https_required", "this server answers over HTTPS only")
            raise web.HTTPPermanentRedirect(target)
        return await handler(request)

    return transport


async def on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """The headers go on as the response is sent, whoever made it: a handler, the error middleware,
    aiohttp's router or a websocket handshake."""
    scheme = request.get(SCHEME_KEY) or ("https" if request.secure else "http")
    add_security_headers(response.headers, scheme, request.path)


def harden(app: web.Application) -> None:
    """The root app's responses get the security headers (its sub-apps' too)."""
    app.on_response_prepare.append(on_response_prepare)


def check_origin(request: web.Request, allowed: Iterable[str] | None = None) -> None:
    """Called by a websocket route before its upgrade: a browser sends its page's Origin on
    every websocket handshake, and the same-origin policy does not hold websockets back, so
    without this any site a signed-in user visits could open the console's socket in their name.
    ``allowed``: the extra origins (default: ``[http] allowed_origins`` from the root app)."""
    extra = request.config_dict.get(ALLOWED_ORIGINS, frozenset()) if allowed is None else allowed
    scheme = request.get(SCHEME_KEY) or request.scheme
    origin = request.headers.get("Origin")
    if not origin_allowed(origin, own_origin(scheme, request.host), extra):
        raise Forbidden("bad_origin", "this socket accepts the app's own pages only (the Origin header)")


def origin_checked(handler: Handler) -> Handler:
    """A websocket route's handler that runs only for the app's own pages (``check_origin``
    first, so a refusal is a 403 JSON answer before any upgrade): how the console's hub is served."""

    async def checked(request: web.Request) -> web.StreamResponse:
        check_origin(request)
        return await handler(request)

    return checked
