"""The ARI events websocket: read at once, parse at the edge, reconnect with backoff and jitter.

Asterisk closes an app websocket whose writes block longer than ``websocket_write_timeout``
(100 ms by default), so the read loop never awaits call work: each event is handed to a
synchronous callback that only enqueues. After every (re)connect ``on_connected`` runs as its
own task while reading goes on; events are delivered in the order they were received.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import structlog

from ari_app.ari.client import basic_auth
from ari_app.ari.models import Event, MalformedEvent, UnknownEvent, parse_event

log = structlog.get_logger(__name__)


@dataclass
class EventStreamStats:
    frames: int = 0
    events: int = 0
    unknown: int = 0
    malformed: int = 0
    oversize: int = 0
    connects: int = 0
    callback_errors: int = 0


class EventStream:
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
        max_frame_bytes: int = 4 * 1024 * 1024,
        session: aiohttp.ClientSession | None = None,
        rng: random.Random | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self._url = (
            "wss://" + base[8:] if base.startswith("https://") else "ws://" + base.split("://", 1)[1]
        ) + "/events"
        self._app = app
        self._auth = basic_auth(username, password)
        self._on_event = on_event
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._on_bad_frame = on_bad_frame
        self._heartbeat = heartbeat
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._max_frame = max_frame_bytes
        self._session = session
        self._rng = rng or random.Random()
        self._stopping = asyncio.Event()
        self._connected = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._seen_unknown: set[str] = set()
        self._resync: asyncio.Task[None] | None = None
        self.stats = EventStreamStats()

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

    async def stop(self) -> None:
        self._stopping.set()
        if self._ws is not None:
            await self._ws.close()

    async def run(self) -> None:
        own = self._session is None
        session = self._session or aiohttp.ClientSession()
        delay = self._backoff_initial
        try:
            while not self._stopping.is_set():
                try:
                    connected = await self._session_once(session)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    connected = False
                    log.warning("ari_ws_error", error=f"{type(exc).__name__}: {exc}"[:200])
                if self._stopping.is_set():
                    break
                if connected:
                    delay = self._backoff_initial
                # Full jitter: many apps restarting together do not reconnect in lockstep.
                wait = self._rng.uniform(0, delay)
                delay = min(delay * 2, self._backoff_max)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), wait)
        finally:
            if self._resync:
                self._resync.cancel()
            if own:
                await session.close()

    async def _session_once(self, session: aiohttp.ClientSession) -> bool:
        params = {"app": self._app, "subscribeAll": "false"}
        try:
            ws = await session.ws_connect(
                self._url,
                params=params,
                headers={"Authorization": self._auth},
                heartbeat=self._heartbeat,
                max_msg_size=self._max_frame,
                timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
            )
        except aiohttp.WSServerHandshakeError as exc:
            log.warning("ari_ws_refused", status=exc.status)
            return False
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.info("ari_ws_unreachable", error=type(exc).__name__)
            return False
        self._ws = ws
        self.stats.connects += 1
        self._connected.set()
        log.info("ari_ws_connected", app=self._app, connects=self.stats.connects)
        self._resync = asyncio.get_running_loop().create_task(self._run_resync())
        try:
            await self._read(ws)
        finally:
            self._connected.clear()
            self._ws = None
            await ws.close()
            if self._on_disconnected:
                self._on_disconnected()
            log.info("ari_ws_disconnected", close_code=ws.close_code)
        return True

    async def _run_resync(self) -> None:
        try:
            await self._on_connected()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("ari_resync_failed")

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self._frame(msg.data)
            elif msg.type == aiohttp.WSMsgType.ERROR:
                break
        # A frame over max_frame_bytes makes aiohttp close the socket with 1009: count it (the
        # frame is dropped unparsed) and let run() reconnect.
        if ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
            self.stats.oversize += 1
            self._bad("oversize", f"frame over {self._max_frame} bytes")

    def _frame(self, data: str) -> None:
        self.stats.frames += 1
        try:
            event = parse_event(data)
        except UnknownEvent as exc:
            self.stats.unknown += 1
            if exc.event_type not in self._seen_unknown and len(self._seen_unknown) < 100:
                self._seen_unknown.add(exc.event_type)
                log.debug("ari_unknown_event", type=exc.event_type)
            self._bad("unknown", exc.event_type)
            return
        except MalformedEvent as exc:
            self.stats.malformed += 1
            log.warning("ari_malformed_frame", problem=str(exc)[:200], size=len(data))
            self._bad("malformed", str(exc)[:200])
            return
        self.stats.events += 1
        try:
            self._on_event(event)
        except Exception:
            self.stats.callback_errors += 1
            log.exception("ari_event_handler_failed", type=type(event).__name__)

    def _bad(self, kind: str, detail: str) -> None:
        if self._on_bad_frame:
            self._on_bad_frame(kind, detail)
