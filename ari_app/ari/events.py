"""The ARI events websocket: read at once, parse at the edge, reconnect with backoff and jitter.

Asterisk closes an app websocket whose writes block longer than ``websocket_write_timeout``
(100 ms by default), so the read loop never awaits app work: each frame is parsed and handed to
the synchronous ``on_event`` before the next one is read.

Ordering guaranteed to the callbacks:

* Within one connection ``on_event`` gets the events one at a time, in the order Asterisk sent
  them. Skipped frames (unknown, malformed, oversize, binary) do not reorder the rest.
* After every (re)connect ``on_connected()`` (the resync) starts as its own task, right after the
  handshake and before the connection's first frame is read, so its first synchronous step sees
  the state from before any event of the new connection (unless an earlier resync is still
  unwinding, see below). It then runs concurrently: events that arrive meanwhile are delivered
  at once, so a resync's REST snapshot may be older or newer than events already delivered;
  the app reconciles.
* Resyncs never overlap. One still running when its connection drops is cancelled (its snapshot
  belongs to a lost connection); the next starts only after it has unwound.
* ``on_disconnected()`` runs once per established connection, after its last event and before
  the next connection's ``on_connected()``.
* Asterisk replays nothing on reconnect: events of the gap are lost; the resync catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import structlog

from ari_app.ari.frames import EventStreamStats, FrameReader
from ari_app.ari.models import Event
from ari_app.ari.rest import basic_auth, checked_base_url

__all__ = ["EventStream", "EventStreamStats", "StreamProblem", "backoff_delay", "events_url"]

log = structlog.get_logger(__name__)

# How long stop() lets a close handshake or a closing connection take before cutting it off.
STOP_GRACE = 0.4
# aiohttp drops a connection with 1009 when a frame exceeds its max_msg_size. Frames up to this
# many times max_frame_bytes are received and skipped; only larger ones cost the connection.
HARD_LIMIT_FACTOR = 4


class StreamProblem(NamedTuple):
    """Why the websocket is not up: ``state`` for /healthz (``unauthorized``, ``not_found``,
    ``rejected``, ``disconnected``) and a sentence for an operator (never a credential)."""

    state: str
    detail: str


# Handshake statuses that mean our configuration is wrong, not that Asterisk is busy: each
# is retried (it may be fixed on the Asterisk side) but slowly, and said plainly.
_REFUSALS = {
    401: (
        "unauthorized",
        "ari_credentials_rejected",
        "Asterisk refused the ARI username/password (401): check ARI_USERNAME/ARI_PASSWORD and ari.conf",
    ),
    403: (
        "unauthorized",
        "ari_credentials_rejected",
        "Asterisk refused the ARI user (403): check its permissions in ari.conf",
    ),
    404: (
        "not_found",
        "ari_events_not_found",
        "Asterisk has no ARI events websocket at {url} (404): check ari.url (ARI is served"
        " under /ari) and that res_ari and res_ari_events are loaded",
    ),
    400: (
        "rejected",
        "ari_ws_rejected",
        "Asterisk refused the events websocket for app {app!r} (400): check ari.app",
    ),
}


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(maximum, initial * 2**attempt)].

    Jitter keeps apps that lost Asterisk together from reconnecting in lockstep.
    """
    return rng.uniform(0.0, min(maximum, initial * 2 ** min(attempt, 32)))


def events_url(base_url: str) -> str:
    """``http(s)://host/ari`` -> ``ws(s)://host/ari/events``."""
    parts = urlsplit(checked_base_url(base_url))
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path + "/events", "", ""))


class EventStream:
    """One app's event subscription; ``connect_timeout`` bounds each websocket handshake."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        app: str,
        *,
        on_event: Callable[[Event], None],
        on_connected: Callable[[], Awaitable[None]],
        on_disconnected: Callable[[], None] | None = None,
        on_bad_frame: Callable[[str, str], None] | None = None,
        heartbeat: float = 10.0,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        refused_backoff_max: float = 30.0,
        max_frame_bytes: int = 4 * 1024 * 1024,
        session: aiohttp.ClientSession | None = None,
        rng: random.Random | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        self._url = events_url(base_url)
        self._app = app
        self._auth = basic_auth(username, password)
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._heartbeat = heartbeat
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._refused_backoff_max = max(backoff_max, refused_backoff_max)
        self._max_frame = max_frame_bytes
        self._connect_timeout = connect_timeout
        self._session = session
        self._rng = rng or random.Random()
        self.stats = EventStreamStats()
        self._frames = FrameReader(self.stats, on_event, on_bad_frame, max_frame_bytes)
        self._stopping = asyncio.Event()
        self._connected = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._worker: asyncio.Task[None] | None = None
        self._resync: asyncio.Task[None] | None = None
        self.problem: StreamProblem | None = None  # why the last attempt failed; None once up
        self._refused = False  # the last handshake was refused for a configuration error

    def __repr__(self) -> str:
        return f"EventStream(url={self._url!r}, app={self._app!r})"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """Connect, read, reconnect until ``stop()``. Errors never escape; a stopped stream stays stopped."""
        own = self._session is None
        session = self._session or aiohttp.ClientSession()
        worker = asyncio.get_running_loop().create_task(self._loop(session), name="ari-events-read")
        self._worker = worker
        try:
            # wait() rather than await: stop() may cancel the worker, which is not run()'s failure.
            await asyncio.wait({worker})
        finally:
            if not worker.done():  # run() itself was cancelled
                worker.cancel()
                await asyncio.wait({worker})
            await self._cancel_resync()
            if own:
                await session.close()

    async def stop(self) -> None:
        """Close the websocket and end ``run()`` promptly (within about 2 * STOP_GRACE)."""
        self._stopping.set()  # also ends a backoff wait at once
        ws = self._ws
        if ws is not None and not ws.closed:
            # A dead peer never answers the close frame: do not wait for it long.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(STOP_GRACE):
                    await ws.close()
        worker = self._worker
        if worker is not None and not worker.done():
            _, pending = await asyncio.wait({worker}, timeout=STOP_GRACE)
            if pending:  # stuck in a handshake, say
                worker.cancel()
                await asyncio.wait({worker})

    async def _loop(self, session: aiohttp.ClientSession) -> None:
        attempt = 0
        while not self._stopping.is_set():
            try:
                was_up = await self._session_once(session)
            except Exception:
                log.exception("ari_ws_loop_error")
                was_up = False
            if self._stopping.is_set():
                return
            # A connection that came up starts the backoff over: a drop (or a 1009 after an
            # oversize frame) reconnects within backoff_initial.
            attempt = 0 if was_up else attempt + 1
            cap = self._refused_backoff_max if self._refused else self._backoff_max
            delay = backoff_delay(max(attempt - 1, 0), self._backoff_initial, cap, self._rng)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _session_once(self, session: aiohttp.ClientSession) -> bool:
        """One connection from handshake to close; returns whether it was established."""
        ws = await self._connect(session)
        if ws is None:
            return False
        self._opened(ws)
        try:
            await self._start_resync()
            await self._read(ws)
        finally:
            await self._closed(ws)
        return True

    async def _connect(self, session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse | None:
        try:
            async with asyncio.timeout(self._connect_timeout):
                return await session.ws_connect(
                    self._url,
                    params={"app": self._app, "subscribeAll": "false"},
                    headers={"Authorization": self._auth},
                    heartbeat=self._heartbeat,
                    max_msg_size=self._max_frame * HARD_LIMIT_FACTOR,
                    timeout=aiohttp.ClientWSTimeout(ws_close=1.0),
                )
        except aiohttp.WSServerHandshakeError as exc:
            self._rejected(exc.status)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self._refused = False
            self.problem = StreamProblem("disconnected", f"cannot reach {self._url}: {type(exc).__name__}")
            log.info("ari_ws_unreachable", error=type(exc).__name__)
        return None

    def _rejected(self, status: int) -> None:
        refusal = _REFUSALS.get(status)
        self._refused = refusal is not None
        if refusal is None:  # 503 while Asterisk boots, say: retried at the usual pace
            self.problem = StreamProblem("disconnected", f"Asterisk answered {status} to the websocket")
            log.warning("ari_ws_rejected", app=self._app, status=status)
            return
        state, event, detail = refusal
        self.problem = StreamProblem(state, detail.format(url=self._url, app=self._app))
        log.warning(event, app=self._app, status=status, detail=self.problem.detail)

    def _opened(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self.problem = None
        self._refused = False
        self.stats.connects += 1
        if self.stats.connects > 1:
            self.stats.reconnects += 1
        self._connected.set()
        log.info("ari_ws_connected", app=self._app, reconnects=self.stats.reconnects)

    async def _closed(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._connected.clear()
        self._ws = None
        await self._cancel_resync()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(STOP_GRACE):
                await ws.close()
        failure = ws.exception()
        log.info(
            "ari_ws_disconnected",
            close_code=ws.close_code,
            error=type(failure).__name__ if failure else None,
        )
        if self._on_disconnected is not None:
            try:
                self._on_disconnected()
            except Exception:
                log.exception("ari_disconnect_handler_failed")

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        # Never await app work here: only parsing and synchronous hand-off.
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self._frames.text(msg.data)
            elif msg.type is aiohttp.WSMsgType.BINARY:
                self._frames.binary(len(msg.data))
            elif msg.type is aiohttp.WSMsgType.ERROR:
                break
        if ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
            # aiohttp refused a frame over max_msg_size and dropped the connection; the frame
            # was never buffered whole. Count it; _loop reconnects within backoff_initial.
            self._frames.oversize(f"over {self._max_frame * HARD_LIMIT_FACTOR} bytes, connection lost")

    async def _start_resync(self) -> None:
        previous = self._resync
        loop = asyncio.get_running_loop()
        self._resync = loop.create_task(self._resync_after(previous), name="ari-resync")
        # Let the resync take its first step before the first frame of this connection is read.
        await asyncio.sleep(0)

    async def _resync_after(self, previous: asyncio.Task[None] | None) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait({previous})
        try:
            await self._on_connected()
        except Exception:
            log.exception("ari_resync_failed")

    async def _cancel_resync(self) -> None:
        task = self._resync
        if task is not None and not task.done():
            task.cancel()
            # Bounded: a resync that ignores cancellation must not hold up reconnecting.
            await asyncio.wait({task}, timeout=STOP_GRACE)
