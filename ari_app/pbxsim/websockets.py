"""The ARI events websocket: one connection per app name, one send queue and writer per connection.

As Asterisk does: a second connection for an app replaces the first (which gets
ApplicationReplaced and is closed); events go out in the order the model made them; a client
that stops reading cannot hold the simulator up: when one write stays blocked longer than the
write timeout (Asterisk's ``websocket_write_timeout``, 100 ms by default) or the queue overflows,
the connection is dropped and the app's later events are lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import structlog
from aiohttp import WSMsgType, web

from ari_app.ari import models as m
from ari_app.pbxsim.ids import ASTERISK_ID, timestamp
from ari_app.pbxsim.world import World

QUEUE_LIMIT = 50_000  # frames waiting for one connection before it counts as stuck
FLUSH_WAIT = 0.05  # how long a REST reply waits for the events it caused to go out first
log = structlog.get_logger()


@dataclass
class AppSocket:
    ws: web.WebSocketResponse
    request: web.Request
    apps: list[str]
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    dead: bool = False

    def push(self, data: bytes | None) -> None:
        if self.dead:
            return
        if data is not None and self.queue.qsize() >= QUEUE_LIMIT:
            self.dead = True  # the client is not reading: drop it
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(data)

    def abort(self) -> None:
        self.dead = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()


class EventHub:
    def __init__(self, world: World, write_timeout: float = 0.1) -> None:
        self.world = world
        self.write_timeout = write_timeout
        self.sockets: dict[str, AppSocket] = {}
        self.refuse_until = 0.0  # monotonic: websocket connections fail until then (a partition)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        apps = sorted({a.strip() for a in request.query.get("app", "").split(",") if a.strip()})
        if not apps:
            return web.json_response({"message": "HTTP request is missing param: [app]"}, status=400)
        if time.monotonic() < self.refuse_until and request.transport is not None:
            request.transport.abort()  # the client sees the connection fail, as over a cut network
            return web.Response(status=503)
        ws = web.WebSocketResponse(heartbeat=None, autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = AppSocket(ws, request, apps)
        for app in apps:
            old = self.sockets.get(app)
            if old is not None:
                self._replace(old, app)
            self.sockets[app] = conn
            self.world.sinks[app] = conn.push
        writer = asyncio.get_running_loop().create_task(self._write(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break  # requests sent over the socket are ignored, as are pongs
        finally:
            self._forget(conn)
            conn.push(None)
            await writer
        return ws

    def _replace(self, old: AppSocket, app: str) -> None:
        replaced = m.ApplicationReplaced(timestamp=timestamp(), application=app, asterisk_id=ASTERISK_ID)
        old.push(m.encode(replaced))
        old.apps.remove(app)
        if not old.apps:
            old.push(None)  # nothing left on it: close once the notice is out

    def _forget(self, conn: AppSocket) -> None:
        for app in conn.apps:
            if self.sockets.get(app) is conn:
                del self.sockets[app]
                self.world.sinks.pop(app, None)
                self.world.app_left(app)

    async def _write(self, conn: AppSocket) -> None:
        while True:
            data = await conn.queue.get()
            try:
                if data is None:
                    break
                async with asyncio.timeout(self.write_timeout):
                    await conn.ws.send_str(data.decode(errors="replace"))
            except TimeoutError:
                log.warning("pbxsim.websocket_write_timeout", apps=conn.apps)
                conn.abort()
                break
            except (ConnectionError, RuntimeError):
                break
            finally:
                conn.queue.task_done()
        self._forget(conn)
        conn.dead = True
        while not conn.queue.empty():  # nobody will send these: release anyone waiting on them
            conn.queue.get_nowait()
            conn.queue.task_done()
        if not conn.ws.closed and conn.request.transport is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(), 1.0)

    async def flush(self) -> None:
        """Let the events a request caused reach the wire before its reply, as Asterisk mostly does."""
        pending = [c.queue.join() for c in {id(c): c for c in self.sockets.values()}.values()]
        if pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*pending), FLUSH_WAIT)

    async def drop(self, app: str | None = None) -> None:
        """Close app websockets from the server side (all of them without ``app``)."""
        conns = {id(c): c for a, c in self.sockets.items() if app is None or a == app}
        for conn in conns.values():
            self._forget(conn)
            conn.push(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(), 1.0)

    def send_raw(self, frames: list[bytes]) -> None:
        for conn in {id(c): c for c in self.sockets.values()}.values():
            for frame in frames:
                conn.push(frame)
