"""The consoles of bench/screenpop.py: real websocket clients, run as a process of their own.

Reads one JSON line on stdin (``url``, ``origin``, ``ca_file``, ``cookies``: one session id per
console, ``paused``: how many of them stop reading), connects every console to
``/console/ws`` over HTTPS with its own session cookie and the app's Origin, and prints
``connected <n>`` once each has its snapshot. The paused consoles then stop reading from their
transport (the kernel's buffers and the TCP window fill, as with a browser that froze). On
``stop`` (a line on stdin) the paused ones read again for a moment, and one JSON line with the
figures goes to stdout.

Each ``offered`` delta's latency is the time it arrived here (``time.time()``) less its
``at`` (the hub's clock when it queued the delta): both processes share the machine's clock.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from ari_app.tls import client_context

CONNECT_AT_ONCE = 50  # handshakes in flight: TLS and sign-in checks are CPU work for the app


@dataclass
class Console:
    ws: aiohttp.ClientWebSocketResponse
    paused: bool
    lost: bool  # its connection went back to aiohttp's pool at the handshake
    admin: str | None  # its user's [[admins]] login: the pops it reports shown, as a page does
    frames: int = 0
    latencies: list[float] = field(default_factory=list)
    closed_code: int | None = None
    closed_why: str = ""
    snapshot: asyncio.Event = field(default_factory=asyncio.Event)

    def pause(self) -> None:
        self._transport().pause_reading()

    def resume(self) -> None:
        self._transport().resume_reading()

    def _transport(self) -> asyncio.Transport:
        # The socket's writer holds the upgraded connection's transport (the handshake's
        # response may have let go of it: see ``connect``).
        transport = self.ws._writer.transport
        assert transport is not None
        return transport  # type: ignore[return-value]

    async def read(self) -> None:
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            now = time.time()
            said = json.loads(message.data)  # one message, or a burst the app sent together
            for body in said if isinstance(said, list) else [said]:
                await self.took(body, now)
        self.closed_code = self.ws.close_code if self.ws.close_code is not None else -1
        self.closed_why = f"{time.strftime('%H:%M:%S')} {self.ws.exception()!r}"[:200]

    async def took(self, body: dict[str, Any], now: float) -> None:
        self.frames += 1  # messages: a burst's frame holds several
        if body.get("type") == "snapshot":
            self.snapshot.set()
        elif body.get("event") == "offered" and "at" in body:
            self.latencies.append(now - body["at"])
            if body.get("admin") == self.admin:  # the admin's phone waits for this
                await self.ws.send_str(json.dumps({"type": "shown", "call_id": body["call"]["call_id"]}))


async def connect(
    http: aiohttp.ClientSession, spec: dict[str, Any], cookie: str, gate: asyncio.Semaphore
) -> tuple[aiohttp.ClientWebSocketResponse, str | None]:
    """The console's socket, and whose pops it shows (``/auth/session``, as the page asks)."""
    headers = {"Cookie": f"__Host-session={cookie}", "Origin": spec["origin"]}
    async with gate:
        async with http.get(f"{spec['origin']}/auth/session", headers=headers) as r:
            admin = (await r.json())["admin_login"]
        ws = await http.ws_connect(spec["url"], headers=headers, autoping=True, max_msg_size=0)
        return ws, admin


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    ssl = client_context(Path(spec["ca_file"]))
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    connector = aiohttp.TCPConnector(ssl=ssl, limit=0)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:
        sockets = await asyncio.gather(*(connect(http, spec, c, gate) for c in spec["cookies"]))
        # aiohttp 3.14 sometimes (1 handshake in 20 to 30 here) sees the end of the 101 answer
        # before it marks the connection upgraded, and hands the socket's connection back to its
        # pool, which closes it: that console fails on its first pong, "Cannot write to closing
        # transport", about 20 s in. The app did not drop it: counted apart ("lost").
        consoles = [
            Console(ws, i < spec["paused"], lost=ws._response.connection is None, admin=admin)
            for i, (ws, admin) in enumerate(sockets)
        ]
        readers = [loop.create_task(c.read()) for c in consoles]
        await asyncio.wait_for(asyncio.gather(*(c.snapshot.wait() for c in consoles)), 60)
        for c in consoles:
            if c.paused:
                c.pause()
        print(f"connected {len(consoles)}", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)  # "stop"
        for c in consoles:
            if c.paused and not c.ws.closed:
                c.resume()  # what was buffered, then the close if the app dropped it
        await asyncio.sleep(spec.get("drain", 3.0))
        result = figures(consoles)
        for ws, _ in sockets:
            await ws.close()
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return result


def figures(consoles: list[Console]) -> dict[str, Any]:
    reading = [c for c in consoles if not c.paused and not c.lost]
    paused = [c for c in consoles if c.paused and not c.lost]
    return {
        "consoles": len(consoles),
        "lost": sum(1 for c in consoles if c.lost),
        "latencies": [x for c in reading for x in c.latencies],
        "frames": sum(c.frames for c in reading),
        "dropped": sum(1 for c in reading if c.closed_code is not None),
        "close_codes": sorted({c.closed_code for c in consoles if c.closed_code is not None}),
        "closed_why": sorted(c.closed_why for c in consoles if c.closed_why),
        "paused": len(paused),
        "paused_dropped": sum(1 for c in paused if c.closed_code is not None or c.ws.closed),
        "paused_frames": sum(c.frames for c in paused),
    }


def main() -> None:
    spec = json.loads(sys.stdin.readline())
    print(json.dumps(asyncio.run(run(spec))), flush=True)


if __name__ == "__main__":
    main()
