"""The simulator's two servers: ARI (HTTP + events websocket, Basic auth) and the control API."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from ari_app.ari import models as m
from ari_app.pbxsim.ari_routes import NO_FLUSH, build_routes
from ari_app.pbxsim.control_routes import build_control
from ari_app.pbxsim.ids import timestamp
from ari_app.pbxsim.pbx import Pbx
from ari_app.pbxsim.state import SimError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WS_QUEUE_LIMIT = 20000  # frames; a client that lets this fill is dropped, as Asterisk does


@dataclass
class Faults:
    down_until: float = 0.0
    answer_delay: float = 0.0
    reject: list[dict[str, Any]] = field(default_factory=list)


class PbxSim:
    def __init__(
        self,
        *,
        username: str,
        password: str,
        host: str = "127.0.0.1",
        ari_port: int = 0,
        control_port: int = 0,
        seed: int = 1,
        time_scale: float = 1.0,
    ) -> None:
        self.pbx = Pbx(seed=seed, time_scale=time_scale)
        self.faults = Faults()
        self.requests: list[dict[str, Any]] = []
        self._credentials = (username, password)
        self._host = host
        self._ports = (ari_port, control_port)
        self._sockets: dict[str, web.WebSocketResponse] = {}
        self._queues: dict[str, asyncio.Queue[bytes | None]] = {}
        self._runners: list[web.AppRunner] = []
        self.ari_url = ""
        self.control_url = ""
        self._started = timestamp()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        ari = web.Application(middlewares=[self._ari_middleware])
        ari.router.add_get("/ari/events", self._events)
        ari.router.add_routes(build_routes(self.pbx, self._started))
        control = web.Application(middlewares=[_control_errors])
        control.router.add_routes(build_control(self))
        ports = []
        for app, port in ((ari, self._ports[0]), (control, self._ports[1])):
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, self._host, port)
            await site.start()
            self._runners.append(runner)
            server = getattr(site, "_server", None)
            ports.append(server.sockets[0].getsockname()[1] if server and server.sockets else port)
        self.ari_url = f"http://{self._host}:{ports[0]}/ari"
        self.control_url = f"http://{self._host}:{ports[1]}"

    async def stop(self) -> None:
        self.pbx.wipe()
        for ws in list(self._sockets.values()):
            await ws.close()
        for runner in self._runners:
            await runner.cleanup()

    # ------------------------------------------------------------------ faults
    async def drop_websockets(self) -> None:
        for app, ws in list(self._sockets.items()):
            self.pbx.sinks.pop(app, None)
            self._sockets.pop(app, None)
            self._queues.pop(app, None)
            await ws.close()

    async def restart(self, down_for: float) -> None:
        await self.drop_websockets()
        self.pbx.wipe()
        self.faults.down_until = time.monotonic() + down_for

    # ------------------------------------------------------------------ ARI plumbing
    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
        elif "api_key" in request.query:
            user, _, pw = request.query["api_key"].partition(":")
        else:
            return False
        return hmac.compare_digest(user, self._credentials[0]) and hmac.compare_digest(
            pw, self._credentials[1]
        )

    @web.middleware
    async def _ari_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "body": None,
            "t": time.monotonic(),
        }
        if request.can_read_body:
            raw = await request.read()
            entry["body"] = _maybe_json(raw)
        response = await self._answer(request, handler)
        if not request.get(NO_FLUSH):
            await self._flush()
        entry["status"] = response.status
        entry["t_done"] = time.monotonic()
        if request.path != "/ari/events":
            self.requests.append(entry)
            if len(self.requests) > 200_000:
                del self.requests[:50_000]
        return response

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if time.monotonic() < self.faults.down_until:
            return web.json_response({"message": "Service Unavailable"}, status=503)
        if not self._authorised(request):
            return web.Response(status=401, text='{"message": "Authentication required"}',
                                headers={"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'},
                                content_type="application/json")  # fmt: skip
        if self.faults.answer_delay:
            await asyncio.sleep(self.faults.answer_delay)
        for rule in self.faults.reject:
            if rule["count"] > 0 and re.search(rule["path_regex"], request.path):
                rule["count"] -= 1
                return web.json_response({"message": "Injected failure"}, status=rule["status"])
        try:
            return await handler(request)
        except SimError as exc:
            return web.json_response({"message": exc.message}, status=exc.status)
        except web.HTTPException as exc:
            if exc.status == 404:
                return web.json_response({"message": "Resource not found"}, status=404)
            if exc.status == 405:
                return web.json_response({"message": "Invalid method"}, status=405)
            raise

    async def _flush(self) -> None:
        """Put the events a request caused on the wire before its reply, as Asterisk mostly does."""
        queues = [q for q in self._queues.values() if not q.empty()]
        if queues:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(q.join() for q in queues)), 0.05)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        app = request.query.get("app", "")
        if not app:
            return web.json_response({"message": "app: Missing required field"}, status=400)
        ws = web.WebSocketResponse(heartbeat=None, max_msg_size=1 << 20)
        await ws.prepare(request)
        old = self._sockets.pop(app, None)
        if old is not None:
            self.pbx.sinks.pop(app, None)
            await old.send_str(
                m.encode(m.ApplicationReplaced(timestamp=timestamp(), application=app)).decode()
            )
            await old.close()
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._sockets[app] = ws
        self._queues[app] = queue

        def sink(data: bytes) -> None:
            if queue.qsize() >= WS_QUEUE_LIMIT:
                queue.put_nowait(None)  # the client is not reading: drop it
                return
            queue.put_nowait(data)

        self.pbx.sinks[app] = sink
        writer = asyncio.get_running_loop().create_task(_write(ws, queue))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            if self._sockets.get(app) is ws:
                self._sockets.pop(app, None)
                self._queues.pop(app, None)
                self.pbx.sinks.pop(app, None)
            queue.put_nowait(None)
            await writer
        return ws

    async def send_garbage_now(self, frames: list[bytes]) -> None:
        for app in list(self.pbx.sinks):
            for frame in frames:
                self.pbx.sinks[app](frame)


async def _write(ws: web.WebSocketResponse, queue: asyncio.Queue[bytes | None]) -> None:
    while True:
        data = await queue.get()
        try:
            if data is None or ws.closed:
                await ws.close()
                return
            await ws.send_str(data.decode(errors="replace"))
        except (ConnectionError, RuntimeError):
            return
        finally:
            queue.task_done()


def _maybe_json(raw: bytes) -> Any:
    import json

    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


@web.middleware
async def _control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SimError as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    except (ValueError, KeyError, TypeError) as exc:
        return web.json_response({"error": f"bad request: {exc}"}, status=400)
