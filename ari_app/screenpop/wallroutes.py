"""The wallboard over HTTP: ``GET /wallboard?branch=<id>`` (the page; without a branch, a
manager picks one, an admin or assistant sees their own), ``GET /wallboard/ws?branch=<id>``
(the live frames),
``GET /api/wallboard`` (the branches one may watch) and ``GET /api/wallboard/{branch}`` (a
branch's frame as JSON, for tools and tests).

Who may watch a branch (``may_watch``): a manager any; an admin or assistant their own; a
system (service token) with ``desk:read``, on the JSON routes only. The socket is for signed-in
people, from the app's own pages (Origin checked), as the console's: every refusal (no session,
no or unknown branch, another branch) is a JSON answer before the upgrade. The page sends a
heartbeat while visible, which keeps its session alive, and may ask for the frame again.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from ari_app.api import inputs
from ari_app.api.auth import Gate, Policy, area, principal_of
from ari_app.api.errors import ApiError, BadRequest, Forbidden, NotFound
from ari_app.api.hardening import origin_checked
from ari_app.auth.principal import Principal
from ari_app.auth.sockets import SessionSockets
from ari_app.i18n.pages import pages_of
from ari_app.screenpop.console import Console, PopShown, SnapshotAsked
from ari_app.screenpop.routes import MAX_MESSAGE, PING_EVERY, read_messages
from ari_app.screenpop.wallhub import WallboardHub

log = structlog.get_logger(__name__)

QUEUE_LIMIT = 8  # whole frames a screen may leave unread before it is dropped


def may_watch(who: Principal, branch: str) -> bool:
    if not who.is_user:
        return who.may("desk:read")
    return who.role == "manager" or (who.branch is not None and who.branch == branch)


def branch_asked(hub: WallboardHub, who: Principal, raw: str | None) -> str:
    """The branch named, known, and one ``who`` may watch; else a 400, 404 or 403."""
    if not raw:
        raise BadRequest("bad_branch", "name the branch: ?branch=<id>")
    inputs.text("branch", raw, inputs.MAX_ID)
    if raw not in hub.board.branches:
        raise NotFound("branch_not_found", f"no branch {raw!r}")
    if not may_watch(who, raw):
        raise Forbidden("forbidden", "you may watch your own branch's wallboard only")
    return raw


def watchable(hub: WallboardHub, who: Principal) -> list[dict[str, str]]:
    return [
        {"id": b.id, "name": b.name, "timezone": str(b.zone.key)}
        for b in hub.board.branches.values()
        if may_watch(who, b.id)
    ]


def wallboard_area(hub: WallboardHub, policy: Policy | None) -> web.Application:
    """``/api/wallboard``: behind the desk's policy (every role; tokens with ``desk``)."""

    async def branches(request: web.Request) -> web.Response:
        who = principal_of(request)
        assert who is not None  # the policy put it there
        return web.json_response({"branches": watchable(hub, who)})

    async def one(request: web.Request) -> web.Response:
        who = principal_of(request)
        assert who is not None
        branch = branch_asked(hub, who, request.match_info["branch"])
        return web.json_response(hub.state(branch))

    return area(policy, web.get("", branches), web.get("/{branch}", one))


def wallboard_socket_routes(
    hub: WallboardHub,
    gate: Gate,
    sockets: SessionSockets,
    *,
    ping_every: float = PING_EVERY,
    queue_limit: int = QUEUE_LIMIT,
) -> list[web.RouteDef]:
    async def wallboard_socket(request: web.Request) -> web.StreamResponse:
        who, session = await gate.identify(request)
        if session is None or not who.is_user:
            raise Forbidden("forbidden", "people only: sign in at /login (tokens do not open the wallboard)")
        branch = branch_asked(hub, who, request.query.get("branch"))
        ws = web.WebSocketResponse(heartbeat=ping_every, max_msg_size=MAX_MESSAGE)
        await ws.prepare(request)
        transport = request.transport
        screen = Console(ws, who, limit=queue_limit, cut=transport.abort if transport else None)
        sockets.register(session.id_hash, ws)
        hub.join(screen, branch)

        def answer(said: PopShown | SnapshotAsked) -> None:
            if isinstance(said, SnapshotAsked):  # a wallboard shows no pops
                hub.resend(screen, branch)

        try:
            # A wallboard on a screen is watched, not clicked: its visible heartbeat keeps the
            # session alive.
            await read_messages(ws, screen, sockets, session.id_hash, answer, "wallboard")
        finally:
            hub.leave(screen, branch)
            sockets.unregister(session.id_hash, ws)
            await screen.stop()
        return ws

    return [web.get("/wallboard/ws", origin_checked(wallboard_socket))]


def wallboard_page_routes(hub: WallboardHub, gate: Gate) -> list[web.RouteDef]:
    async def page(request: web.Request) -> web.StreamResponse:
        try:
            who, session = await gate.identify(request)
        except ApiError:  # not signed in, or the session ended: sign in first
            return web.Response(status=303, headers={"Location": "/login", "Cache-Control": "no-store"})
        if session is None or not who.is_user:
            raise Forbidden("forbidden", "people only: sign in at /login")
        raw = request.query.get("branch")
        if raw is None and who.role != "manager" and who.branch in hub.board.branches:
            raw = who.branch  # their own: the only one they may watch
        branches = watchable(hub, who)
        if raw is None:  # a manager: which branch?
            return pages_of(request).render(
                request, "screenpop/wallboard.html", branches=branches, board=None
            )
        branch = branch_asked(hub, who, raw)
        frame = hub.state(branch)
        return pages_of(request).render(
            request,
            "screenpop/wallboard.html",
            branch=branch,
            data={"branch": branch, "frame": frame},
            branches=branches,
            board=frame["branch"],
        )

    return [web.get("/wallboard", page)]
