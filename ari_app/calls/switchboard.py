"""Routes ARI events to call sessions: one task and one ordered inbox per call.

The websocket reader hands every event to ``on_event`` synchronously; this only looks up the
owning call and enqueues, so the reader never waits on call work. Each call's task takes its
inbox in order, lets the session decide, runs the commands, and feeds their results back.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import structlog

from ari_app.ari import models as m
from ari_app.ari.client import AriClient
from ari_app.calls import commands as c
from ari_app.calls.caller import CallerLookup
from ari_app.calls.desk import FrontDesk
from ari_app.calls.resync import PbxSync, SessionFactory, SwitchboardStats, TrackedCall
from ari_app.calls.runner import CommandRunner
from ari_app.calls.session import RELEVANT_EVENTS, CallSession
from ari_app.facts.types import Fact
from ari_app.store.records import CallRecord

log = structlog.get_logger(__name__)

DESTROYED_MEMORY = 1000  # unknown channels seen destroyed, so a late StasisStart is not a new call


SWITCHBOARD_SIZES = ("calls", "index", "timers", "background", "destroyed_memory")


class Switchboard(PbxSync):
    def __init__(
        self,
        client: AriClient,
        new_session: SessionFactory,
        on_fact: Callable[[Fact], None],
        collect_recording: Callable[[c.CollectRecording], None],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_command: Callable[[str, float, bool], None] | None = None,
        is_our_call: Callable[[str], Awaitable[bool]] | None = None,
        desk: FrontDesk | None = None,
        caller_lookup: CallerLookup | None = None,
    ) -> None:
        self._client = client
        self._new_session = new_session
        self._on_fact = on_fact
        self._collect = collect_recording
        self._clock = clock
        self._on_command = on_command
        # Awaited before an admin's leg is dialled (set by the app: the pop on screen first).
        self.before_dial: Callable[[str], Awaitable[None]] | None = None
        self._is_our_call = is_our_call or _never
        self._calls: dict[str, TrackedCall] = {}  # call_id -> call
        self._index: dict[str, str] = {}  # channel/bridge/playback/recording id -> call_id
        self._background: set[asyncio.Task[None]] = set()
        # Calls the database holds as open, left by an earlier process; judged at the first
        # resync once set_recovery() has run (until then no unknown channel is judged either).
        self._orphans: dict[str, CallRecord] = {}
        self._ready = asyncio.Event()
        self._boot: str | None = None
        self._resync_lock = asyncio.Lock()
        self._destroyed: OrderedDict[str, None] = OrderedDict()  # recent unknown ChannelDestroyed
        self.stats = SwitchboardStats()
        # Presence and the queue; without one every call is told nobody can take it.
        self.desk = desk
        # Who is calling: asked as each new call starts, told to it as CallerKnown.
        self._caller_lookup = caller_lookup

    def deliver(self, call_id: str, item: Any) -> bool:
        """Put an input into a call's inbox; False when the call is not tracked."""
        call = self._calls.get(call_id)
        if call is None:
            return False
        call.inbox.put_nowait(item)
        return True

    # ------------------------------------------------------------------ inputs
    @property
    def tracked(self) -> int:
        return len(self._calls)

    def sizes(self) -> dict[str, int]:
        """How much is held in memory, for the gauges that show nothing is kept forever
        (its keys: ``SWITCHBOARD_SIZES``)."""
        return {
            "calls": len(self._calls),
            "index": len(self._index),
            "timers": sum(len(call.timers) for call in self._calls.values()),
            "background": len(self._background),
            "destroyed_memory": len(self._destroyed),
        }

    def set_recovery(self, open_calls: list[CallRecord]) -> None:
        """The calls an earlier process left open; resync() takes them over or closes them."""
        self._orphans = {rec.id: rec for rec in open_calls if rec.id not in self._calls}
        self._ready.set()

    def on_event(self, ev: m.Event) -> None:
        self.stats.count("events")
        if isinstance(ev, m.ChannelTransfer):
            self._on_phone_transfer(ev)
            return
        if isinstance(ev, m.StasisStart) and ev.channel.id not in self._index:
            if ev.channel.id in self._destroyed:
                # Out of order: this channel's ChannelDestroyed came first. It is gone.
                self.stats.count("stale_starts")
                return
            self._on_new_channel(ev)
            return
        call_id = self._route(ev)
        if call_id is None:
            self.stats.count("unrouted")
            if isinstance(ev, m.ChannelDestroyed):
                self._remember_destroyed(ev.channel.id)
            return
        call = self._calls[call_id]
        call.last_input = time.monotonic()
        if type(ev) in RELEVANT_EVENTS:  # variable sets, dialplan steps, ... wake no call
            call.inbox.put_nowait(ev)

    def _on_phone_transfer(self, ev: m.ChannelTransfer) -> None:
        """An admin's phone asked for a blind transfer (REFER, handled by us: ari-only)."""
        if not isinstance(ev.state, m.UnsetType):
            return  # our own transfer_progress echoed back
        source = ev.referred_by.source_channel.id
        call_id = self._index.get(source)
        call = self._calls.get(call_id or "")
        if call is None:
            self.stats.count("unrouted")
            return
        call.last_input = time.monotonic()
        leg = call.session.legs.get(source)
        dest = ev.refer_to.requested_destination.destination
        target = None
        if self.desk is not None and isinstance(dest, str):
            target = self.desk.resolve(dest)
        log.info("phone_transfer", call_id=call_id, target=target, known=target is not None)
        call.inbox.put_nowait(c.TransferRequested(target, leg.admin if leg else "", phone_channel=source))

    def _remember_destroyed(self, channel_id: str) -> None:
        self._destroyed[channel_id] = None
        if len(self._destroyed) > DESTROYED_MEMORY:
            self._destroyed.popitem(last=False)

    def _route(self, ev: m.Event) -> str | None:
        index = self._index
        if isinstance(ev, m.Dial):
            return index.get(ev.peer.id)
        if isinstance(ev, (m.PlaybackStarted, m.PlaybackFinished, m.PlaybackContinuing)):
            return index.get(ev.playback.id)
        if isinstance(ev, (m.RecordingStarted, m.RecordingFinished, m.RecordingFailed)):
            return index.get(ev.recording.name)
        if isinstance(ev, m.BridgeDestroyed):
            return index.get(ev.bridge.id)
        channel = getattr(ev, "channel", None)
        if isinstance(channel, m.Channel):
            return index.get(channel.id)
        return None

    def _on_new_channel(self, ev: m.StasisStart) -> None:
        if ev.args and ev.args[0] == "dialed":
            # A leg we do not know (its call ended, or a previous process created it).
            self.stats.count("strays_hung_up")
            self._spawn(self._hangup_stray(ev.channel.id))
            return
        call_id = str(uuid.uuid4())
        now = self._clock()
        session = self._new_session(call_id, ev, now)
        self.stats.count("calls_started")
        if self.desk is not None:
            self.desk.call_started(call_id, session.caller_number)
        self._track(call_id, session, session.begin(now))
        if self._caller_lookup is not None:
            self._spawn(self._identify(call_id, session.caller_number, session.branch))

    def _track(self, call_id: str, session: CallSession, first: c.Step) -> None:
        call = TrackedCall(session, last_input=time.monotonic())
        self._calls[call_id] = call
        self._reindex(call_id, session)
        call.task = asyncio.get_running_loop().create_task(self._work(call_id, call, first))

    async def _identify(self, call_id: str, number: str, branch: str | None) -> None:
        """The directories' answer for the caller, off the call's path (bounded, never raises)."""
        assert self._caller_lookup is not None
        identity = await self._caller_lookup.identify(number, branch)
        self.deliver(call_id, c.CallerKnown(identity))

    # ------------------------------------------------------------------ per-call task
    async def _work(self, call_id: str, call: TrackedCall, first: c.Step) -> None:
        session = call.session
        runner = CommandRunner(
            self._client, call.inbox.put_nowait, self._collect, self._on_command, self.before_dial
        )
        log_ = log.bind(call_id=call_id)
        try:
            await self._apply(call_id, call, runner, first)
            while not session.done:
                item = await call.inbox.get()
                try:
                    step = session.handle(item, self._clock())
                except Exception:  # a bug met by one call must not stop it from being handled
                    log_.exception("call_session_error", input=type(item).__name__)
                    continue
                self._reindex(call_id, session)
                await self._apply(call_id, call, runner, step)
        finally:
            for handle in call.timers.values():
                handle.cancel()
            self._forget(call_id, session)
            log_.info("call_finished", outcome=session.outcome, tracked=len(self._calls))

    async def _apply(self, call_id: str, call: TrackedCall, runner: CommandRunner, step: c.Step) -> None:
        for fact in step.facts:
            self._on_fact(fact)  # the fan-out: the store, the desk, metrics ...
        ari, timers, desk = step.by_executor()
        for timer in timers:
            if isinstance(timer, c.StartTimer):
                self._start_timer(call, timer)
            elif (handle := call.timers.pop(timer.name, None)) is not None:
                handle.cancel()
        for ask in desk:
            self._ask_desk(call, ask, ari)
        if ari:
            await runner.run(ari)

    def _ask_desk(self, call: TrackedCall, cmd: c.DeskCommand, ari: list[c.AriCommand]) -> None:
        desk = self.desk
        if isinstance(cmd, c.SeekAdmin):  # without a desk every call is told nobody can take it
            call.inbox.put_nowait(
                desk.seek(cmd) if desk is not None else c.WaveOffered((), reason="no_admins")
            )
        elif desk is None:
            return
        elif isinstance(cmd, c.Widen):
            desk.widen(cmd.call_id)
        elif isinstance(cmd, c.StopSeeking):
            desk.stop_seeking(cmd.call_id)
        else:
            ari.append(desk.announcement(cmd))  # the queue position or wait, played to the caller

    def _start_timer(self, call: TrackedCall, cmd: c.StartTimer) -> None:
        old = call.timers.pop(cmd.name, None)
        if old:
            old.cancel()
        loop = asyncio.get_running_loop()
        call.timers[cmd.name] = loop.call_later(cmd.seconds, call.inbox.put_nowait, c.TimerFired(cmd.name))

    # ------------------------------------------------------------------ bookkeeping
    def _reindex(self, call_id: str, session: CallSession) -> None:
        call = self._calls.get(call_id)
        for key in (
            *session.channel_ids(),
            session.bridge_id,
            session.holding_id,
            session.playback_id,
            session.greeting_playback,
            session.recording,
        ):
            if key:
                self._index[key] = call_id
                if call is not None:
                    call.keys.add(key)

    def _forget(self, call_id: str, session: CallSession) -> None:
        call = self._calls.pop(call_id, None)
        if self.desk is not None:
            self.desk.call_finished(call_id)
        # Ids the call no longer holds (a greeting played, a holding bridge left) go too.
        keys = call.keys if call is not None else set()
        for key in (*keys, *session.channel_ids(), session.bridge_id, session.recording):
            if key and self._index.get(key) == call_id:
                del self._index[key]

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        if self.desk is not None:
            self.desk.close()
        tasks = [call.task for call in self._calls.values() if call.task]
        for task in [*tasks, *self._background]:
            task.cancel()
        await asyncio.gather(*tasks, *self._background, return_exceptions=True)


async def _never(_: str) -> bool:
    return False
