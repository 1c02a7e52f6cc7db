"""A recording proxy in front of a real Asterisk's ARI, for the routing scenarios.

The app is pointed at the proxy instead of Asterisk. Every REST request is forwarded as is
(method, path, query, headers that matter, body) and logged the way the simulator logs them
(``/control/requests``): ``{"method", "path", "query", "body", "t", "status", "t_done"}`` with
``path`` starting with ``/ari/`` and ``query`` a flat dict of strings, without ``api_key``. The
``/ari/events`` websocket is bridged both ways; every event Asterisk sends is kept too, so that
the driver can tell what happened to its calls (``wait_event``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

# Request headers worth passing on; hop-by-hop ones and Host are aiohttp's business.
FORWARD_REQUEST_HEADERS = ("Authorization", "Content-Type", "Accept")
REST_TIMEOUT = aiohttp.ClientTimeout(total=30)
DROP_RESPONSE_HEADERS = {
    "content-length",
    "transfer-encoding",
    "connection",
    "content-encoding",
    "server",
    "date",
}


def _maybe_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


class AriProxy:
    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0) -> None:
        """``upstream``: the real ARI base, ``http(s)://host:port[/prefix]/ari``."""
        self._upstream = URL(upstream.rstrip("/"))
        self._host, self._port = host, port
        self.requests: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []  # as Asterisk sent them, plus "_t" (monotonic)
        self.channel_names: dict[str, str] = {}  # channel id -> name, from the events
        # Events that match are kept here but not passed to the app, as if it had died before
        # reading them (a process killed the moment a phone answered).
        self.withheld: Callable[[dict[str, Any]], bool] | None = None
        # (method, path regex, seconds): the next such request cuts the app's websocket before it
        # is forwarded (the events it causes are lost), and new ones fail that long, as across a
        # cut network.
        self.cut_on: tuple[str, str, float] | None = None
        self._refuse_until = 0.0  # monotonic
        self._upstreams: set[aiohttp.ClientWebSocketResponse] = set()
        self._cut_sockets: set[web.WebSocketResponse] = set()  # cut: their upstreams only log
        self._draining: set[aiohttp.ClientWebSocketResponse] = set()  # upstreams of cut sockets
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self.url = ""

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/ari/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{self._host}:{port}/ari"

    async def stop(self) -> None:
        for up in list(self._upstreams):
            with contextlib.suppress(Exception):
                await up.close()
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ what went through
    async def wait_event(
        self, match: Callable[[dict[str, Any]], bool], timeout: float | None = None, since: int = 0
    ) -> dict[str, Any] | None:
        """The first event (from index ``since``) that ``match``es, waiting for it up to ``timeout``
        seconds (None: for ever); None when it did not come."""
        seen = since

        def found() -> dict[str, Any] | None:
            nonlocal seen
            while seen < len(self.events):
                ev = self.events[seen]
                seen += 1
                if match(ev):
                    return ev
            return None

        async with self._changed:
            try:
                async with asyncio.timeout(timeout):
                    while (ev := found()) is None:
                        await self._changed.wait()
                    return ev
            except TimeoutError:
                return None

    async def _event(self, ev: dict[str, Any]) -> None:
        ev["_t"] = time.monotonic()
        for key in ("channel", "peer", "caller"):
            chan = ev.get(key)
            if isinstance(chan, dict) and "id" in chan and "name" in chan:
                self.channel_names[chan["id"]] = chan["name"]
        async with self._changed:
            self.events.append(ev)
            self._changed.notify_all()

    # ------------------------------------------------------------------ forwarding
    def _target(self, request: web.Request) -> URL:
        # /ari/<rest> -> <upstream>/<rest>, path and query kept encoded as the app sent them
        rest = request.raw_path.split("?", 1)[0].removeprefix("/ari")
        target = str(self._upstream) + rest
        if request.query_string:
            target += "?" + request.rel_url.raw_query_string
        return URL(target, encoded=True)

    async def _cut(self, away_for: float) -> None:
        """The app's websockets close; each one's upstream stays open and its events are still
        read and logged (``events``), but no longer passed on, until the app connects again: to
        the app a cut network, to Asterisk an app that stopped reading."""
        self._refuse_until = time.monotonic() + away_for
        for ws in list(self._sockets):
            self._cut_sockets.add(ws)
            with contextlib.suppress(Exception):
                await ws.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/ari/events":
            if time.monotonic() < self._refuse_until and request.transport is not None:
                request.transport.abort()  # the app sees the connection fail
                return web.Response(status=503)
            return await self._bridge_events(request)
        cut = self.cut_on
        if cut is not None and request.method == cut[0] and re.search(cut[1], request.path):
            self.cut_on = None
            await self._cut(cut[2])
        assert self._session is not None
        query = {k: v for k, v in request.query.items() if k != "api_key"}  # never log credentials
        body = await request.read() if request.can_read_body else b""
        entry: dict[str, Any] = {"method": request.method, "path": request.path, "query": query,
                                 "body": _maybe_json(body) if body else None, "t": time.monotonic()}  # fmt: skip
        headers = {k: request.headers[k] for k in FORWARD_REQUEST_HEADERS if k in request.headers}
        try:
            async with self._session.request(
                request.method, self._target(request), headers=headers, data=body or None,
                allow_redirects=False, timeout=REST_TIMEOUT,
            ) as upstream:  # fmt: skip
                payload = await upstream.read()
                response = web.Response(
                    status=upstream.status,
                    body=payload,
                    headers={
                        k: v for k, v in upstream.headers.items() if k.lower() not in DROP_RESPONSE_HEADERS
                    },
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            response = web.json_response({"message": f"proxy: upstream unreachable ({exc!r})"}, status=502)
        entry["status"], entry["t_done"] = response.status, time.monotonic()
        self.requests.append(entry)
        return response

    async def _bridge_events(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: request.headers[k] for k in ("Authorization",) if k in request.headers}
        url = self._target(request).with_scheme("wss" if self._upstream.scheme == "https" else "ws")
        for old in list(self._draining):  # the app is back: its old connection goes first
            with contextlib.suppress(Exception):
                await old.close()
        try:
            upstream = await self._session.ws_connect(url, headers=headers, heartbeat=20.0, max_msg_size=0)
        except aiohttp.WSServerHandshakeError as exc:
            return web.json_response({"message": exc.message}, status=exc.status)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            return web.json_response({"message": f"proxy: upstream unreachable ({exc!r})"}, status=502)
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        self._upstreams.add(upstream)

        async def down() -> None:  # Asterisk -> app
            async for msg in upstream:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    ev = None
                    with contextlib.suppress(ValueError):
                        ev = json.loads(msg.data)
                    if isinstance(ev, dict):
                        await self._event(ev)
                        if self.withheld is not None and self.withheld(ev):
                            continue
                    if ws in self._cut_sockets:
                        continue
                    try:
                        await ws.send_str(msg.data)
                    except (ConnectionError, RuntimeError):
                        if ws not in self._cut_sockets:
                            raise  # the app went: so does this connection
                        # (cut while this was being sent: the upstream goes on being read)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    await ws.send_bytes(msg.data)
                else:
                    break

        async def up() -> None:  # app -> Asterisk
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    await upstream.send_str(msg.data)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    await upstream.send_bytes(msg.data)
                else:
                    break

        tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if ws in self._cut_sockets and not tasks[0].done():
                self._draining.add(upstream)
                await asyncio.wait([tasks[0]])  # until the app is back (or the proxy stops)
        finally:
            self._cut_sockets.discard(ws)
            self._draining.discard(upstream)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await upstream.close()
            with contextlib.suppress(Exception):
                await ws.close()
            self._sockets.discard(ws)
            self._upstreams.discard(upstream)
        return ws
