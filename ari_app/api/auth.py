"""Who may use each area of the API: a policy is a middleware its sub-app carries.

Systems (the clinic's CRM, scheduler, a Prometheus) send a bearer token: one of
``ARI_APP_API_TOKENS`` (every scope, as before scopes existed) or a service token made with
``ari-app tokens add`` (its scopes: ``calls:read``, ``directories:write``...). People signed in
to the console send their session cookie (``__Host-session``); their role decides the areas, and
a request that changes something must carry the session's CSRF token in ``X-CSRF-Token`` (a
bearer request is exempt: no browser sends it on its own). A Prometheus on a private network may
scrape ``/metrics`` with no token where the configuration says so (``[http] metrics_auth = "none"``).

Refusals say what is missing, never anything about the data asked for.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from aiohttp.typedefs import Middleware

from ari_app.api.errors import Forbidden, Unauthenticated
from ari_app.auth.principal import EVERY_SCOPE, ROLES, Principal, needed_scope
from ari_app.auth.sessions import TOUCH_EVERY, SessionStore, SessionView
from ari_app.auth.tokens import ServiceTokens

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Policy = Middleware  # an aiohttp middleware: refuses (ApiError) or hands the request on

SESSION_COOKIE = "__Host-session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PRINCIPAL = web.RequestKey("principal", Principal)  # who is asking
SESSION: web.RequestKey[SessionView | None] = web.RequestKey("session")  # users only: their session
CONFIG_TOKEN = "api-token"  # the name a token of ARI_APP_API_TOKENS acts under


def _sent_token(request: web.Request) -> bytes | None:
    """The bearer token as sent, or None without an Authorization header."""
    if "Authorization" not in request.headers:
        return None
    scheme, _, given = request.headers["Authorization"].partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthenticated("unauthenticated", "send Authorization: Bearer <token>")
    # The bytes as sent: a header that is not UTF-8 reaches us with surrogates standing for them.
    return given.encode("utf-8", "surrogateescape")


def bearer(tokens: Sequence[str]) -> Policy:
    """Every request carries ``Authorization: Bearer <one of tokens>`` (compared in constant time)."""
    accepted = [t.encode() for t in tokens]

    @web.middleware
    async def policy(request: web.Request, handler: Handler) -> web.StreamResponse:
        sent = _sent_token(request)
        if sent is None:
            raise Unauthenticated("unauthenticated", "send Authorization: Bearer <token>")
        if not any(hmac.compare_digest(sent, t) for t in accepted):
            raise Forbidden("forbidden", "token not accepted")
        request[PRINCIPAL] = Principal(kind="service", name=CONFIG_TOKEN, scopes=frozenset({EVERY_SCOPE}))
        return await handler(request)

    return policy


def principal_of(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)


@dataclass
class Gate:
    """Tells who a request comes from: a bearer token (config or service) or a session cookie."""

    tokens: Sequence[str]
    clock: Callable[[], datetime]
    sessions: SessionStore | None = None
    services: ServiceTokens | None = None

    async def identify(self, request: web.Request) -> tuple[Principal, SessionView | None]:
        sent = _sent_token(request)
        if sent is not None:
            if any(hmac.compare_digest(sent, t.encode()) for t in self.tokens):
                return Principal(kind="service", name=CONFIG_TOKEN, scopes=frozenset({EVERY_SCOPE})), None
            found = await self.services.find(sent.decode("utf-8", "replace")) if self.services else None
            if found is None:
                raise Forbidden("forbidden", "token not accepted")
            return found, None
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie and self.sessions is not None:
            now = self.clock()
            session = await self.sessions.find(cookie, now)
            if session is None:
                raise Unauthenticated("session_ended", "the session has ended: sign in again at /login")
            if now - session.last_seen_at >= TOUCH_EVERY:
                await self.sessions.touch(session.id_hash, now)
            return session.principal, session
        raise Unauthenticated("unauthenticated", "send Authorization: Bearer <token>, or sign in at /login")

    def policy(
        self,
        area: str,
        roles: Collection[str] = ROLES,
        *,
        write_roles: Collection[str] | None = None,
        systems: bool = True,
    ) -> Policy:
        """``area``: the scope a token needs (``<area>:read`` to read, ``:write`` to change).
        ``roles``: the users who may read there; ``write_roles`` (default ``roles``): change.
        ``systems``: False refuses every token, whatever its scopes (the audit trail)."""
        writers = frozenset(roles if write_roles is None else write_roles)
        readers = frozenset(roles)

        @web.middleware
        async def policy(request: web.Request, handler: Handler) -> web.StreamResponse:
            principal, session = await self.identify(request)
            safe = request.method in SAFE_METHODS
            if not principal.is_user and not systems:
                raise Forbidden("forbidden", "people only: sign in")
            if not principal.is_user:
                scope = needed_scope(area, request.method)
                if not principal.may(scope):
                    raise Forbidden("forbidden", f"this token's scopes do not include {scope}")
            elif principal.role not in (readers if safe else writers):
                raise Forbidden("forbidden", "your role may not do this")
            elif not safe:
                check_csrf(request, session, request.headers.get(CSRF_HEADER))
            request[PRINCIPAL] = principal
            request[SESSION] = session
            return await handler(request)

        return policy


def check_csrf(request: web.Request, session: SessionView | None, sent: str | None) -> None:
    """A browser's change carries the session's CSRF token (the synchroniser pattern)."""
    expected = session.csrf_token if session is not None else None
    if not sent or expected is None or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("csrf_refused", f"send the session's CSRF token in {CSRF_HEADER}")


def area(policy: Policy | None, *routes: web.RouteDef) -> web.Application:
    """A sub-app for one area of the API, behind its policy (None: open to all)."""
    app = web.Application(middlewares=[policy] if policy is not None else [])
    app.add_routes(routes)
    return app
