"""The switchboard's work on Asterisk's side: after a (re)connect or for calls gone quiet, read
what Asterisk has (channels, bridges, its boot time) and feed each call what it missed; take
over the calls an earlier process left open; hang up strays and destroy bridges left behind.
With the command runner, the only code that talks to the ARI client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import structlog

from ari_app.ari import models as m
from ari_app.ari.client import AriClient, AriError, AriNotFound, AriUnavailable
from ari_app.calls import commands as c
from ari_app.calls.desk import FrontDesk
from ari_app.calls.recovery import Snapshot, assess, call_name, call_of_bridge, synthetic_start
from ari_app.calls.session import CallSession, Input
from ari_app.store.records import CallRecord

log = structlog.get_logger(__name__)

SessionFactory = Callable[[str, m.StasisStart, datetime], CallSession]


@dataclass
class TrackedCall:
    """A call the switchboard tracks: its session, inbox, timers and task."""

    session: CallSession
    inbox: asyncio.Queue[Input] = field(default_factory=asyncio.Queue)
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    last_input: float = 0.0  # monotonic time of its last event (for the sweep)
    keys: set[str] = field(default_factory=set)  # every id indexed for it, to forget them all


Happening = Literal[
    "events",
    "unrouted",
    "calls_started",
    "strays_hung_up",
    "bridges_cleaned",
    "calls_resumed",
    "stale_starts",
    "calls_swept",
    "pbx_restarts",
]


@dataclass
class SwitchboardStats:
    """Counts of the switchboard's happenings; ``on_count`` is told of each as it happens
    (the metrics' counters subscribe there rather than poll these numbers)."""

    events: int = 0
    unrouted: int = 0
    calls_started: int = 0
    strays_hung_up: int = 0
    bridges_cleaned: int = 0
    calls_resumed: int = 0
    stale_starts: int = 0
    calls_swept: int = 0
    pbx_restarts: int = 0
    on_count: Callable[[Happening], None] | None = field(default=None, repr=False, compare=False)

    def count(self, kind: Happening) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if self.on_count is not None:
            self.on_count(kind)


class PbxSync:
    """Mixed into the switchboard, whose state it reads and whose calls it feeds."""

    _client: AriClient
    _calls: dict[str, TrackedCall]
    _index: dict[str, str]
    _orphans: dict[str, CallRecord]
    _ready: asyncio.Event
    _boot: str | None
    _resync_lock: asyncio.Lock
    _new_session: SessionFactory
    _clock: Callable[[], datetime]
    _is_our_call: Callable[[str], Awaitable[bool]]
    desk: FrontDesk | None
    stats: SwitchboardStats

    # The switchboard's own, used here.
    def _track(self, call_id: str, session: CallSession, first: c.Step) -> None:
        raise NotImplementedError

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        raise NotImplementedError

    def _on_new_channel(self, ev: m.StasisStart) -> None:
        raise NotImplementedError

    async def resync(self, only: set[str] | None = None) -> None:
        """After a (re)connect, or for the calls in ``only`` (the sweep): learn what happened
        while no events were received.

        Only what was known to exist before the snapshot was asked for can be judged gone:
        a call that starts meanwhile is newer than the snapshot, not missing from it.
        """
        await self._ready.wait()
        async with self._resync_lock:
            known = {
                call_id: call.session.confirmed_ids()
                for call_id, call in self._calls.items()
                if only is None or call_id in only
            }
            try:
                snap = await self._snapshot()
            except AriError as exc:
                log.warning("resync_failed", error=str(exc))
                return
            restarted = self._boot is not None and snap.boot is not None and snap.boot != self._boot
            self._boot = snap.boot or self._boot
            if restarted:
                self.stats.count("pbx_restarts")
                log.warning("asterisk_restarted", open_calls=len(self._calls), boot=snap.boot)
            for call_id, ids in known.items():
                call = self._calls.get(call_id)
                if call is None:
                    continue
                if restarted:
                    call.inbox.put_nowait(c.PbxRestarted())
                    continue
                seen = await self._joined_unseen(call.session, snap)
                if seen is not None:  # before what vanished: they talked, then one hung up
                    call.inbox.put_nowait(seen)
                # What vanished goes first: a leg that ended cannot have answered after the one
                # that did, and its end must not wait behind the winner's bridging.
                gone = sorted(k for k in ids if k not in snap.channels and k not in snap.bridges)
                for key in gone:
                    call.inbox.put_nowait(c.ChannelVanished(key))
                if gone and only is not None:
                    self.stats.count("calls_swept")
                for key in sorted(ids):
                    found = snap.channels.get(key)
                    if found is not None and found.state in ("Up", "Ringing"):
                        # A leg that rang or answered meanwhile; the session ignores repeats.
                        call.inbox.put_nowait(self._state_event(found))
                    bridge = snap.bridges.get(key)
                    if bridge is not None:  # who joined it meanwhile (a caller put through)
                        call.inbox.put_nowait(c.BridgeSeen(bridge.id, tuple(bridge.channels)))
            if only is not None:
                return
            await self._take_over_orphans(snap)
            for channel_id in sorted(snap.app_channels):
                if channel_id not in self._index and channel_id in snap.channels:
                    self._adopt(snap.channels[channel_id])
            for bridge in snap.bridges.values():
                named_for = call_of_bridge(bridge)
                if bridge.id not in self._index and named_for is not None:
                    # Named for a call and no call has it: left by a call that ended while we
                    # were away, if that call is ours (other apps may name bridges alike).
                    self._spawn(self._destroy_stray_bridge(bridge.id, named_for))

    async def _joined_unseen(self, session: CallSession, snap: Snapshot) -> c.BridgeSeen | None:
        """A caller being put through, one of the two now gone from the bridge and no join seen
        (the events went by while the websocket was away): the one still in it names the other
        in BRIDGEPEER only if both were in it together."""
        pending = session.unseen_join()
        bridge = snap.bridges.get(pending[0]) if pending else None
        if pending is None or bridge is None:
            return None
        bridge_id, peer_of = pending
        staying = [cid for cid in peer_of if cid in bridge.channels]
        if len(staying) != 1:
            return None  # both in: the bridge itself says so; neither: nobody left to ask
        try:
            peer = await self._client.get_variable(staying[0], "BRIDGEPEER")
        except AriError:
            return None
        if peer != peer_of[staying[0]]:
            return None
        return c.BridgeSeen(bridge_id, tuple(peer_of))

    async def _snapshot(self, attempts: int = 8) -> Snapshot:
        """Asterisk's channels and bridges. While it boots it answers 503, and our app is 404
        until its websocket is registered again: both are retried."""
        delay = 0.1
        for attempt in range(1, attempts + 1):
            try:
                info = await self._client.asterisk_info()
                app = await self._client.get_application()
                channels = {ch.id: ch for ch in await self._client.list_channels()}
                bridges = {b.id: b for b in await self._client.list_bridges()}
            except (AriUnavailable, AriNotFound) as exc:
                if attempt == attempts:
                    raise
                log.info("resync_retry", error=str(exc), attempt=attempt)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            status = info.get("status")
            boot = status.get("startup_time") if isinstance(status, dict) else None
            return Snapshot(
                frozenset(app.channel_ids), channels, bridges, boot if isinstance(boot, str) else None
            )
        raise AssertionError("unreachable")

    async def _take_over_orphans(self, snap: Snapshot) -> None:
        orphans, self._orphans = self._orphans, {}
        for rec in orphans.values():
            if rec.id in self._calls:
                continue
            live = False
            if rec.channel_id in snap.channels and rec.answered_at is not None:
                try:
                    await self._client.get_live_recording(call_name(rec.id))
                    live = True
                except AriError:
                    live = False
            found = assess(rec, snap, recording_live=live)
            now = self._clock()
            session = self._new_session(rec.id, synthetic_start(rec, snap), now)
            session.started_at = rec.started_at
            if self.desk is not None:
                self.desk.call_started(rec.id, rec.caller_number, {r.channel_id: r.admin for r in found.legs})
            if rec.admin and found.winner and found.winner in found.present and self.desk is not None:
                self.desk.dispatcher.answered(rec.admin, rec.id, now)
            step = session.resume(found, now)
            self.stats.count("calls_resumed")
            log.info(
                "call_resumed",
                call_id=rec.id,
                inbound_present=found.inbound_present,
                bridged=found.bridged,
                legs=len(found.legs),
                phase=session.phase.value,
            )
            self._track(rec.id, session, step)
            for bridge_id in found.bridges:
                if self._index.setdefault(bridge_id, rec.id) == rec.id:
                    self._calls[rec.id].keys.add(bridge_id)

    async def _destroy_stray_bridge(self, bridge_id: str, call_id: str) -> None:
        try:
            if not await self._is_our_call(call_id):
                return
            await self._client.destroy_bridge(bridge_id)
        except AriError:
            return  # gone already
        except Exception as exc:  # the database cannot tell: leave the bridge alone
            log.info("stray_bridge_kept", bridge=bridge_id, error=f"{type(exc).__name__}: {exc}"[:200])
            return
        self.stats.count("bridges_cleaned")

    async def sweep_forever(self, interval: float, idle: float) -> None:
        """Calls with no event for ``idle`` seconds are checked against Asterisk: one whose last
        events were missed (its channels are gone) is closed instead of being kept forever."""
        while True:
            await asyncio.sleep(interval)
            cutoff = time.monotonic() - idle
            stale = {cid for cid, call in self._calls.items() if call.last_input < cutoff}
            if stale:
                for cid in stale:
                    self._calls[cid].last_input = time.monotonic()
                await self.resync(only=stale)

    def _state_event(self, ch: m.Channel) -> m.ChannelStateChange:
        return m.ChannelStateChange(timestamp=ch.creationtime, application="", channel=ch)

    def _adopt(self, ch: m.Channel) -> None:
        """A channel entered our app while we were away: its StasisStart was lost."""
        args = ch.dialplan.app_data.split(",")[1:] if ch.dialplan.app_name == "Stasis" else []
        start = m.StasisStart(timestamp=ch.creationtime, application="", args=args, channel=ch)
        if ch.state in ("Ring", "Down") or (args and args[0] == "dialed"):
            self._on_new_channel(start)

    async def _hangup_stray(self, channel_id: str) -> None:
        try:
            await self._client.hangup(channel_id)
        except AriError:
            pass
