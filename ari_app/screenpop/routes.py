"""``GET /console/ws``: the admins' console socket.

Before the upgrade: the Origin must be the app's own page (``origin_checked``), and the request
must carry a signed-in person's session cookie; a service token is refused (the console shows
callers' cards to people, each by their role). Refusals are JSON answers, never a socket.
After it: the socket is registered with its session (logout or a disabled user closes it), the
snapshot goes first, then the deltas; aiohttp pings every ``ping_every`` seconds and closes a
socket whose browser stops answering.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import structlog
from aiohttp import WSMsgType, web

from ari_app.api.auth import Gate
from ari_app.api.errors import Forbidden
from ari_app.api.hardening import origin_checked
from ari_app.auth.sessions import TOUCH_EVERY
from ari_app.auth.sockets import SessionSockets
from ari_app.screenpop.console import Console, Heartbeat, PopShown, SnapshotAsked, parse_message
from ari_app.screenpop.hub import ScreenPop
from ari_app.store import StoreUnavailable

log = structlog.get_logger(__name__)

PING_EVERY = 20.0  # seconds between the server's pings
QUEUE_LIMIT = 256  # messages a browser may have unread before it is dropped
MAX_MESSAGE = 4096  # bytes: the console sends heartbeats and snapshot requests, nothing larger


def console_routes(
    hub: ScreenPop,
    gate: Gate,
    sockets: SessionSockets,
    *,
    ping_every: float = PING_EVERY,
    queue_limit: int = QUEUE_LIMIT,
) -> list[web.RouteDef]:
    async def console_socket(request: web.Request) -> web.StreamResponse:
        who, session = await gate.identify(request)
        if session is None or not who.is_user:
            raise Forbidden("forbidden", "people only: sign in at /login (tokens do not open the console)")
        ws = web.WebSocketResponse(heartbeat=ping_every, max_msg_size=MAX_MESSAGE)
        await ws.prepare(request)
        transport = request.transport
        cut = transport.abort if transport else None
        console = Console(ws, who, limit=queue_limit, cut=cut, batch=True)
        sockets.register(session.id_hash, ws)
        hub.join(console)

        def answer(said: PopShown | SnapshotAsked) -> None:
            if isinstance(said, PopShown):
                hub.shown(console, said.call_id)
            else:
                hub.resend(console)

        try:
            await read_messages(ws, console, sockets, session.id_hash, answer, "console")
        finally:
            hub.leave(console)
            sockets.unregister(session.id_hash, ws)
            await console.stop()
        return ws

    return [web.get("/console/ws", origin_checked(console_socket))]


async def read_messages(
    ws: web.WebSocketResponse,
    console: Console,
    sockets: SessionSockets,
    session_hash: str,
    answer: Callable[[PopShown | SnapshotAsked], None],
    kind: str,
) -> None:
    """A console's or a wallboard's messages until its socket closes: what cannot be read gets an
    error frame (the socket stays open); a visible heartbeat is the session's activity, written at
    most every TOUCH_EVERY however often it beats (a hidden tab's keeps nothing alive); the rest
    goes to ``answer``. ``kind`` names the socket in the log."""
    touched = -math.inf
    async for message in ws:
        if message.type is not WSMsgType.TEXT:
            console.error("bad_message", "send text frames holding JSON")
            continue
        said = parse_message(message.data)
        if isinstance(said, str):
            console.error("bad_message", said)
        elif isinstance(said, Heartbeat):
            if said.visible and time.monotonic() - touched >= TOUCH_EVERY.total_seconds():
                touched = time.monotonic()
                await _activity(sockets, session_hash, kind)
        else:
            answer(said)


async def _activity(sockets: SessionSockets, session_hash: str, kind: str) -> None:
    try:
        await sockets.activity(session_hash)
    except StoreUnavailable as exc:  # the next heartbeat tries again; the socket stays open
        log.warning(f"{kind}_activity_failed", reason=exc.reason)
