"""Records what an EventStream hands its callbacks, on one timeline tests can await."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ari_app.ari import models as m
from ari_app.ari.events import EventStream
from tests.ari.fake_ari import APP, PASSWORD, USER


class Recorder:
    """The callbacks of one stream, noting everything on one timeline that tests can await."""

    def __init__(self) -> None:
        self.timeline: list[str] = []
        self.events: list[m.Event] = []
        self.bad: list[tuple[str, str]] = []
        self.resync_gate: asyncio.Event | None = None  # when set up, a resync waits for it
        self._changed = asyncio.Event()

    def note(self, item: str) -> None:
        self.timeline.append(item)
        self._changed.set()

    def on_event(self, ev: m.Event) -> None:
        self.events.append(ev)
        channel = getattr(ev, "channel", None)
        self.note(f"{type(ev).__name__}:{channel.id if channel else ''}")

    async def on_connected(self) -> None:
        self.note("resync")
        if self.resync_gate is None:
            return
        try:
            await self.resync_gate.wait()
        except asyncio.CancelledError:
            self.note("resync-cancelled")
            raise
        self.note("resync-done")

    def on_disconnected(self) -> None:
        self.note("disconnected")

    def on_bad_frame(self, kind: str, detail: str) -> None:
        self.bad.append((kind, detail))
        self.note(f"bad:{kind}")

    async def until(self, cond: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not cond():
                self._changed.clear()
                await self._changed.wait()

    def count(self, item: str) -> int:
        return self.timeline.count(item)


def make_stream(url: str, rec: Recorder, **options: Any) -> EventStream:
    settings: dict[str, Any] = {
        "on_event": rec.on_event,
        "on_connected": rec.on_connected,
        "on_disconnected": rec.on_disconnected,
        "on_bad_frame": rec.on_bad_frame,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "heartbeat": 5.0,
    }
    return EventStream(url, USER, PASSWORD, APP, **(settings | options))


def ids(rec: Recorder) -> list[str]:
    return [item.split(":", 1)[1] for item in rec.timeline if item.startswith("ChannelStateChange:")]
