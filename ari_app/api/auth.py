"""Who may use each area of the API: a policy is a middleware its sub-app carries.

Systems (the clinic's CRM, scheduler, a Prometheus) send a bearer token; the console's signed-in
users come next, as another policy. A Prometheus on a private network may scrape ``/metrics``
with no token where the configuration says so (``[http] metrics_auth = "none"``).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from ari_app.api.errors import Forbidden, Unauthenticated

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Policy = Middleware  # an aiohttp middleware: refuses (ApiError) or hands the request on


def bearer(tokens: Sequence[str]) -> Policy:
    """Every request carries ``Authorization: Bearer <one of tokens>`` (compared in constant time)."""
    accepted = [t.encode() for t in tokens]

    @web.middleware
    async def policy(request: web.Request, handler: Handler) -> web.StreamResponse:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise Unauthenticated("unauthenticated", "send Authorization: Bearer <token>")
        # The bytes as sent: a header that is not UTF-8 reaches us with surrogates standing for them.
        sent = given.encode("utf-8", "surrogateescape")
        if not any(hmac.compare_digest(sent, t) for t in accepted):
            raise Forbidden("forbidden", "token not accepted")
        return await handler(request)

    return policy


def area(policy: Policy | None, *routes: web.RouteDef) -> web.Application:
    """A sub-app for one area of the API, behind its policy (None: open to all)."""
    app = web.Application(middlewares=[policy] if policy is not None else [])
    app.add_routes(routes)
    return app
