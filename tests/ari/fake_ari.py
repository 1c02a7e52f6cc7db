"""A small scripted ARI server for the client tests: canned REST replies and an events websocket.

Every request is recorded as sent (raw path with its percent-encoding, query, headers, body,
client port), so tests can check what went over the wire.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import WSMsgType, web

USER, PASSWORD = "clinic", "s3cret-Pa55-never-logged"
APP = "clinic"
TS = "2026-11-22T10:55:24.782+0000"
LogEntries = list[MutableMapping[str, Any]]  # what structlog.testing.capture_logs collects

# Shapes as Asterisk 22.10.1 sent them in the recorded traces.
CHANNEL: dict[str, Any] = {
    "id": "1795344924.0",
    "name": "PJSIP/trunk-00000000",
    "state": "Ring",
    "protocol_id": "1-14616@127.0.0.1",
    "caller": {"name": "5550001", "number": "5550001"},
    "connected": {"name": "", "number": ""},
    "accountcode": "",
    "dialplan": {
        "context": "from-trunk",
        "exten": "5551234",
        "priority": 2,
        "app_name": "Stasis",
        "app_data": "clinic,5551234",
    },
    "creationtime": TS,
    "language": "en",
}
BRIDGE: dict[str, Any] = {
    "id": "e7ff3a37-9f5b-4ff8-acc5-8e3646644f90",
    "technology": "simple_bridge",
    "bridge_type": "mixing",
    "bridge_class": "stasis",
    "creator": "Stasis",
    "name": "b",
    "channels": [],
    "creationtime": TS,
    "video_mode": "talker",
}

CH = CHANNEL["id"]
BR = BRIDGE["id"]
PLAYBACK = {
    "id": "e954df3f-8938-45de-89e8-908c5719e6ec",
    "media_uri": "sound:hello-world",
    "target_uri": f"channel:{CH}",
    "language": "en",
    "state": "queued",
}
LIVE = {"name": "rec-1", "format": "wav", "state": "queued", "target_uri": f"bridge:{BR}"}
APPLICATION = {
    "name": APP,
    "channel_ids": [CH],
    "bridge_ids": [BR],
    "endpoint_ids": [],
    "device_names": [],
    "events_allowed": [],
    "events_disallowed": [],
}
INFO = {"system": {"version": "22.10.1", "entity_id": "02:fc:00:00:00:01"}}


def channel(channel_id: str = "1795344924.0", **changes: Any) -> dict[str, Any]:
    return copy.deepcopy(CHANNEL) | {"id": channel_id} | changes


def event(kind: str, seq: int = 0, **fields: Any) -> str:
    """One websocket frame. ``seq`` goes into the channel id so tests can check order."""
    body: dict[str, Any] = {"type": kind, "timestamp": TS}
    if kind in ("StasisEnd", "ChannelStateChange", "ChannelConnectedLine"):
        body["channel"] = channel(f"1795344924.{seq}")
    body |= fields
    body |= {"asterisk_id": "02:fc:00:00:00:01", "application": APP}
    return json.dumps(body)


@dataclass
class Reply:
    status: int = 204
    json: Any = None
    body: bytes = b""
    delay: float = 0.0
    chunked: bool = False
    content_type: str = "application/json"


def ok(body: Any, status: int = 200) -> Reply:
    return Reply(status=status, json=body)


@dataclass
class Recorded:
    method: str
    raw_path: str
    query: dict[str, str]
    headers: Mapping[str, str]  # case-insensitive, as aiohttp gives them
    body: bytes
    client_port: int


Frame = str | bytes | asyncio.Event  # an Event: wait for the test to set it, then go on


@dataclass
class WsScript:
    """What the server does on one websocket connection."""

    frames: list[Frame] = field(default_factory=list)
    # hold: read (answering pings) until the client leaves; close: close after the frames;
    # silent: a hung peer: the TCP connection stays up but nothing is read or answered.
    then: Literal["hold", "close", "silent"] = "hold"


class FakeAri:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.replies: dict[tuple[str, str], Reply] = {}
        self.ws_requests: list[Recorded] = []
        self.ws_scripts: list[WsScript] = []  # one per connection; then the default (hold open)
        self.ws_attempts: list[float] = []  # loop time of each handshake attempt
        self.ws_attempted = asyncio.Event()
        self.reject_ws = 0  # the next N handshakes get reject_status
        self.reject_status = 503
        self.ws_closed = asyncio.Event()  # set each time a websocket handler ends
        self.release = asyncio.Event()  # ends every held connection at teardown
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ari/events", self._events)
        app.router.add_route("*", "/ari/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, shutdown_timeout=0.2, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/ari"

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def reply(self, method: str, raw_path: str, reply: Reply) -> None:
        """Answer ``method /ari<raw_path>`` with ``reply`` (default: 204, empty)."""
        self.replies[(method, "/ari" + raw_path)] = reply

    async def _record(self, request: web.Request, into: list[Recorded]) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        into.append(
            Recorded(
                request.method,
                request.raw_path.split("?", 1)[0],
                dict(request.query),
                request.headers,
                await request.read(),
                peer[1] if peer else 0,
            )
        )

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        await self._record(request, self.requests)
        reply = self.replies.get((request.method, self.requests[-1].raw_path), Reply())
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.chunked:
            resp = web.StreamResponse(status=reply.status)
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            for i in range(0, len(reply.body), 1000):
                await resp.write(reply.body[i : i + 1000])
            await resp.write_eof()
            return resp
        if reply.json is not None:
            return web.json_response(reply.json, status=reply.status)
        return web.Response(status=reply.status, body=reply.body or None, content_type=reply.content_type)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        self.ws_attempts.append(asyncio.get_running_loop().time())
        self.ws_attempted.set()
        await self._record(request, self.ws_requests)
        if self.reject_ws > 0:
            self.reject_ws -= 1
            return web.json_response({"message": "refused"}, status=self.reject_status)
        script = self.ws_scripts.pop(0) if self.ws_scripts else WsScript()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            await self._play(ws, script)
        finally:
            self.ws_closed.set()
        return ws

    async def _play(self, ws: web.WebSocketResponse, script: WsScript) -> None:
        for frame in script.frames:
            if isinstance(frame, asyncio.Event):
                await frame.wait()
            elif isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
        if script.then == "close":
            await ws.close()
            return
        if script.then == "silent":
            await self.release.wait()
            return
        reading = asyncio.ensure_future(self._drain(ws))
        released = asyncio.ensure_future(self.release.wait())
        await asyncio.wait({reading, released}, return_when=asyncio.FIRST_COMPLETED)
        reading.cancel()
        released.cancel()
        if not ws.closed:
            await ws.close()

    @staticmethod
    async def _drain(ws: web.WebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is WSMsgType.CLOSE:
                break
