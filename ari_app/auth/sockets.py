"""The websockets each session has open, so that a session that ends closes them within seconds.

The console's hub registers each browser's websocket with the session it was opened with. Logout
closes that session's sockets at once (``close_session``); sessions ended elsewhere (a user
disabled from the command line, another process, the idle or absolute timeout) are found by
``watch``, which asks the database every ``interval`` seconds which of the open sessions are
still live and closes the sockets of the others.

Activity: an open, connected console whose tab is visible calls ``SessionStore.touch`` (through
``activity``) on its heartbeat; a hidden tab does not, so it times out like an idle one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

import structlog
from aiohttp import WSCloseCode, web

from ari_app.auth.sessions import SessionStore
from ari_app.store import StoreUnavailable

log = structlog.get_logger(__name__)


class SessionSockets:
    def __init__(self, sessions: SessionStore, clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock
        self._open: dict[str, set[web.WebSocketResponse]] = {}

    def register(self, session_hash: str, ws: web.WebSocketResponse) -> None:
        self._open.setdefault(session_hash, set()).add(ws)

    def unregister(self, session_hash: str, ws: web.WebSocketResponse) -> None:
        sockets = self._open.get(session_hash)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._open[session_hash]

    def count(self) -> int:
        return sum(len(s) for s in self._open.values())

    async def activity(self, session_hash: str) -> None:
        """The hub's heartbeat from a visible, connected console: the session is in use."""
        await self.sessions.touch(session_hash, self.clock())

    async def close_session(self, session_hash: str) -> None:
        for ws in list(self._open.pop(session_hash, ())):
            with contextlib.suppress(Exception):  # a socket already gone: nothing to close
                await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"session ended")

    async def sweep(self) -> int:
        """Close the sockets of sessions no longer live; how many sessions that was."""
        if not self._open:
            return 0
        live = await self.sessions.live(set(self._open), self.clock())
        over = [h for h in self._open if h not in live]
        for session_hash in over:
            await self.close_session(session_hash)
        return len(over)

    async def watch(self, interval: float = 2.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except StoreUnavailable as exc:  # the next sweep tries again; sockets stay open meanwhile
                log.warning("session_sweep_failed", reason=exc.reason)

    async def close_all(self) -> None:
        for session_hash in list(self._open):
            await self.close_session(session_hash)
