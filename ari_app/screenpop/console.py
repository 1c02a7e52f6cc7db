"""One browser's socket: a bounded queue and one writer task, so a browser that stops reading
is dropped and never delays the others.

The hub only ever puts messages in the queue (``push``, never waiting); the writer task sends
them in order. A queue that fills means the browser (or its network) stopped taking frames: it
is closed with ``SLOW_CLOSE`` and a reason, and its user's console reconnects for a snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from ari_app.auth.principal import Principal

log = structlog.get_logger(__name__)

SLOW_CLOSE = 4008  # an application close code: "you fell behind; reconnect for a snapshot"
SLOW_REASON = b"too slow: messages were not read; reconnect for a snapshot"
BATCH_MAX = 64  # messages in one frame at most (a frame stays a few tens of kB)
CLOSE_WAIT = 1.0  # seconds a dropped browser's close frame may take before the connection is cut


@dataclass(frozen=True)
class Heartbeat:
    visible: bool


@dataclass(frozen=True)
class SnapshotAsked:
    pass


@dataclass(frozen=True)
class PopShown:
    """The console shows this call's pop to its admin: their phone may ring now."""

    call_id: str


ClientMessage = Heartbeat | SnapshotAsked | PopShown

MESSAGES = (
    '{"type": "heartbeat", "visible": true|false}, {"type": "snapshot"}'
    ' or {"type": "shown", "call_id": "..."}'
)


def parse_message(text: str) -> ClientMessage | str:
    """What the console sent, or what is wrong with it (a sentence for the error frame)."""
    try:
        body = json.loads(text)
    except ValueError:
        return f"not JSON: send {MESSAGES}"
    if not isinstance(body, dict):
        return f"not a JSON object: send {MESSAGES}"
    kind = body.get("type")
    if kind == "snapshot":
        return SnapshotAsked()
    if kind == "heartbeat":
        visible = body.get("visible", False)
        if not isinstance(visible, bool):
            return "heartbeat: visible must be true or false"
        return Heartbeat(visible)
    if kind == "shown":
        call_id = body.get("call_id")
        if not isinstance(call_id, str) or not 0 < len(call_id) <= 64:
            return "shown: call_id must be the call's id"
        return PopShown(call_id)
    return f"unknown type {str(kind)[:40]!r}: send {MESSAGES}"


def numbered(message: str, seq: int) -> str:
    """``message`` (a serialised JSON object) with ``"seq": seq`` as its last member: the
    hub serialises a delta once, each socket adds its own number (a few bytes, no re-encoding)."""
    return f'{message[:-1]}, "seq": {seq}}}'


class Console:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        who: Principal,
        *,
        limit: int,
        cut: Callable[[], None] | None = None,
        batch: bool = False,
    ) -> None:
        """``limit``: messages queued before the browser counts as not reading; ``cut``: aborts
        the connection when even the close frame cannot be written; ``batch``: messages queued
        while the writer was busy go out together (``frame``), for a reader that takes arrays."""
        self.ws = ws
        self._batch = batch
        self.who = who
        self.seq = 0  # deltas pushed to this socket; a snapshot names the one it is current to
        self.dropped = False
        self._queue: asyncio.Queue[str] = asyncio.Queue(limit)
        self._cut = cut
        self._writer: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._write(), name="console-writer")

    def push(self, message: str) -> None:
        """A delta (a JSON object, serialised once for every console): numbered in this
        socket's sequence and queued (dropping a full browser)."""
        if self.dropped:
            return
        self.seq += 1
        self._put(numbered(message, self.seq))

    def snapshot(self, calls: list[dict[str, Any]]) -> None:
        self._put(json.dumps({"type": "snapshot", "seq": self.seq, "calls": calls}))

    def error(self, error: str, detail: str) -> None:
        self._put(json.dumps({"type": "error", "error": error, "detail": detail}))

    def _put(self, message: str) -> None:
        if self.dropped:
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.drop()

    def drop(self) -> None:
        """Stop writing to this browser and close its socket, off the hub's path."""
        if self.dropped:
            return
        self.dropped = True
        log.info("console_dropped", user=self.who.name, queued=self._queue.qsize())
        if self._writer is not None:
            self._writer.cancel()
        self._closing = asyncio.get_running_loop().create_task(self._close(), name="console-close")

    async def _close(self) -> None:
        """The close frame (code and reason) waits behind what the browser left unread; a
        browser still reading gets it within ``CLOSE_WAIT``, then the connection is cut (a
        graceful close waits for ever on a browser that reads nothing, and does not give way to
        a timeout's cancellation: it is waited for beside, not inside, this task)."""
        closing = asyncio.ensure_future(self.ws.close(code=SLOW_CLOSE, message=SLOW_REASON))
        closing.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: never logged
        await asyncio.wait({closing}, timeout=CLOSE_WAIT)
        if self._cut is not None:
            self._cut()

    async def _write(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                await self.ws.send_str(self._frame(message) if self._batch else message)
            except (ConnectionError, RuntimeError):  # the browser went away: its handler ends
                return

    def _frame(self, first: str) -> str:
        """``first``, alone when nothing else waits (the lowest delay); with what queued behind
        it (a burst: a call offered to five admins is five deltas to every console of the
        branch) in one frame, a JSON array in order, up to ``BATCH_MAX``: one send and one TLS
        record instead of one each, so the last of a burst leaves sooner."""
        if self._queue.empty():
            return first
        batch = [first]
        while len(batch) < BATCH_MAX and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return "[" + ",".join(batch) + "]"

    async def stop(self) -> None:
        """The socket is over: the writer (and a close under way) end with it."""
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
        if self._closing is not None:  # bounded by CLOSE_WAIT
            with contextlib.suppress(Exception):
                await self._closing
