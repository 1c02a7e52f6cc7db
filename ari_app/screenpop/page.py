"""``GET /console``: the front desk's console page (its scripts and styles are the
``screenpop`` area's assets, ``/assets/screenpop/<name>``, served by ``ari_app.i18n.assets``).

Only a signed-in person gets it: anyone else is sent to ``/login`` and comes back here after
signing in; a bearer token is refused (the console is for people, each seeing by their role).
The page holds no call or patient data: its script reads them from the API and the console
socket, under the same session. Its data block carries what the configuration names (topics,
branches, admins) so the page can show names instead of ids.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from ari_app.api.auth import PRINCIPAL, Gate
from ari_app.api.errors import Forbidden, Unauthenticated
from ari_app.config import Settings
from ari_app.i18n.pages import pages_of

PATH = "/console"
TEMPLATE = "screenpop/console.html"


def console_data(settings: Settings | None) -> dict[str, Any]:
    """The names the page shows for the configuration's ids (no person's or call's data)."""
    if settings is None:
        return {"topics": [], "branches": {}, "admins": {}}
    return {
        "topics": [{"id": t.id, "name": t.name} for t in settings.topics],
        "branches": {b.id: b.name for b in settings.branches},
        "admins": {a.login: a.name for a in settings.admins},
    }


def sign_in_first(path: str) -> web.Response:
    """To the sign-in page, which sends the browser back to ``path`` after it."""
    return web.Response(status=303, headers={"Location": f"/login?next={quote(path, safe='/')}"})


def console_page_routes(gate: Gate, settings: Settings | None) -> list[web.RouteDef]:
    data = console_data(settings)

    async def console_page(request: web.Request) -> web.StreamResponse:
        try:
            who, session = await gate.identify(request)
        except Unauthenticated:
            return sign_in_first(PATH)
        if session is None or not who.is_user:
            raise Forbidden("forbidden", "people only: sign in at /login (tokens do not open the console)")
        request[PRINCIPAL] = who  # the page's language and zone are the person's branch's
        return pages_of(request).render(request, TEMPLATE, data=data)

    return [web.get(PATH, console_page)]
