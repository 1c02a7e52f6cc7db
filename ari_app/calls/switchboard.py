"""Routes ARI events to call sessions: one task and one ordered inbox per call.

The websocket reader hands every event to ``on_event`` synchronously; this only looks up the
owning call and enqueues, so the reader never waits on call work. Each call's task takes its
inbox in order, lets the session decide, runs the commands, and feeds their results back.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from ari_app.ari import models as m
from ari_app.ari.client import AriClient, AriError
from ari_app.calls import commands as c
from ari_app.calls.runner import CommandRunner
from ari_app.calls.session import CallSession, Input

log = structlog.get_logger(__name__)

SessionFactory = Callable[[str, m.StasisStart, frozenset[str], datetime], CallSession]


@dataclass
class _Call:
    session: CallSession
    inbox: asyncio.Queue[Input] = field(default_factory=asyncio.Queue)
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


@dataclass
class SwitchboardStats:
    events: int = 0
    unrouted: int = 0
    calls_started: int = 0
    strays_hung_up: int = 0


class Switchboard:
    def __init__(
        self,
        client: AriClient,
        new_session: SessionFactory,
        on_fact: Callable[[c.Fact], None],
        collect_recording: Callable[[c.CollectRecording], None],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_command: Callable[[str, float, bool], None] | None = None,
    ) -> None:
        self._client = client
        self._new_session = new_session
        self._on_fact = on_fact
        self._collect = collect_recording
        self._clock = clock
        self._on_command = on_command
        self._calls: dict[str, _Call] = {}  # call_id -> call
        self._index: dict[str, str] = {}  # channel/bridge/playback/recording id -> call_id
        self._engaged: dict[str, str] = {}  # admin login -> call_id they are talking on
        self._background: set[asyncio.Task[None]] = set()
        self.stats = SwitchboardStats()

    # ------------------------------------------------------------------ inputs
    @property
    def tracked(self) -> int:
        return len(self._calls)

    def engaged_admins(self) -> frozenset[str]:
        return frozenset(self._engaged)

    def on_event(self, ev: m.Event) -> None:
        self.stats.events += 1
        if isinstance(ev, m.StasisStart) and ev.channel.id not in self._index:
            self._on_new_channel(ev)
            return
        call_id = self._route(ev)
        if call_id is None:
            self.stats.unrouted += 1
            return
        self._calls[call_id].inbox.put_nowait(ev)

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
            self.stats.strays_hung_up += 1
            self._spawn(self._hangup_stray(ev.channel.id))
            return
        call_id = str(uuid.uuid4())
        now = self._clock()
        session = self._new_session(call_id, ev, self.engaged_admins(), now)
        call = _Call(session)
        self._calls[call_id] = call
        self.stats.calls_started += 1
        step = session.begin(now)
        self._reindex(call_id, session)
        call.task = asyncio.get_running_loop().create_task(self._work(call_id, call, step))

    async def _hangup_stray(self, channel_id: str) -> None:
        try:
            await self._client.hangup(channel_id)
        except AriError:
            pass

    # ------------------------------------------------------------------ per-call task
    async def _work(self, call_id: str, call: _Call, first: c.Step) -> None:
        session = call.session
        runner = CommandRunner(self._client, call.inbox.put_nowait, self._collect, self._on_command)
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

    async def _apply(self, call_id: str, call: _Call, runner: CommandRunner, step: c.Step) -> None:
        for fact in step.facts:
            self._note_engagement(call_id, fact)
            self._on_fact(fact)
        ari_commands: list[c.Command] = []
        for cmd in step.commands:
            if isinstance(cmd, c.StartTimer):
                self._start_timer(call, cmd)
            elif isinstance(cmd, c.CancelTimer):
                handle = call.timers.pop(cmd.name, None)
                if handle:
                    handle.cancel()
            else:
                ari_commands.append(cmd)
        if ari_commands:
            await runner.run(ari_commands)

    def _start_timer(self, call: _Call, cmd: c.StartTimer) -> None:
        old = call.timers.pop(cmd.name, None)
        if old:
            old.cancel()
        loop = asyncio.get_running_loop()
        call.timers[cmd.name] = loop.call_later(cmd.seconds, call.inbox.put_nowait, c.TimerFired(cmd.name))

    # ------------------------------------------------------------------ bookkeeping
    def _reindex(self, call_id: str, session: CallSession) -> None:
        for key in (
            *session.channel_ids(),
            session.bridge_id,
            session.playback_id,
            session.recording,
        ):
            if key:
                self._index[key] = call_id

    def _forget(self, call_id: str, session: CallSession) -> None:
        self._calls.pop(call_id, None)
        for key in (
            *session.channel_ids(),
            session.bridge_id,
            session.playback_id,
            session.recording,
        ):
            if key and self._index.get(key) == call_id:
                del self._index[key]
        for admin in [a for a, cid in self._engaged.items() if cid == call_id]:
            del self._engaged[admin]

    def _note_engagement(self, call_id: str, fact: c.Fact) -> None:
        if isinstance(fact, c.CallAnswered):
            self._engaged[fact.admin] = call_id
            for other_id, other in self._calls.items():
                if other_id != call_id:
                    other.inbox.put_nowait(c.AdminEngaged(fact.admin))
        elif isinstance(fact, c.LegEnded) and fact.result == "answered":
            for admin in [a for a, cid in self._engaged.items() if cid == call_id]:
                del self._engaged[admin]

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ resync and shutdown
    async def resync(self) -> None:
        """After a (re)connect: learn what happened while no events were received.

        Only what was known to exist before the snapshot was asked for can be judged gone:
        a call that starts meanwhile is newer than the snapshot, not missing from it.
        """
        known = {call_id: call.session.confirmed_ids() for call_id, call in self._calls.items()}
        try:
            app = await self._client.get_application()
            channels = {ch.id: ch for ch in await self._client.list_channels()}
            bridges = {b.id for b in await self._client.list_bridges()}
        except AriError as exc:
            log.warning("resync_failed", error=str(exc))
            return
        for call_id, ids in known.items():
            call = self._calls.get(call_id)
            if call is None:
                continue
            for key in sorted(ids):
                snapshot = channels.get(key)
                if key not in channels and key not in bridges:
                    call.inbox.put_nowait(c.ChannelVanished(key))
                elif snapshot is not None and snapshot.state in ("Up", "Ringing"):
                    # A leg that rang or answered meanwhile; the session ignores repeats.
                    call.inbox.put_nowait(self._state_event(snapshot))
        for channel_id in app.channel_ids:
            if channel_id not in self._index and channel_id in channels:
                self._adopt(channels[channel_id])

    def _state_event(self, ch: m.Channel) -> m.ChannelStateChange:
        return m.ChannelStateChange(timestamp=ch.creationtime, application="", channel=ch)

    def _adopt(self, ch: m.Channel) -> None:
        """A channel entered our app while we were away: its StasisStart was lost."""
        args = ch.dialplan.app_data.split(",")[1:] if ch.dialplan.app_name == "Stasis" else []
        start = m.StasisStart(timestamp=ch.creationtime, application="", args=args, channel=ch)
        if ch.state in ("Ring", "Down") or (args and args[0] == "dialed"):
            self._on_new_channel(start)

    async def close(self) -> None:
        tasks = [call.task for call in self._calls.values() if call.task]
        for task in [*tasks, *self._background]:
            task.cancel()
        await asyncio.gather(*tasks, *self._background, return_exceptions=True)
