"""Executes a session's commands through ARI and reports each result back to the session."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from ari_app.ari.client import AriClient, AriError
from ari_app.calls import commands as c

log = structlog.get_logger(__name__)

# Commands that may run side by side within one step: they touch different channels and
# nothing later in the step depends on them (creating every ring-all leg at once matters:
# one round trip instead of one per admin).
_PARALLEL = (c.CreateLeg, c.Dial, c.Hangup)


class CommandRunner:
    def __init__(
        self,
        client: AriClient,
        report: Callable[[c.CommandDone | c.CommandFailed], None],
        collect_recording: Callable[[c.CollectRecording], None],
        on_command: Callable[[str, float, bool], None] | None = None,
        before_dial: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """``before_dial``: awaited with a leg's id before it is dialled (the admin's screen
        first: ``ari_app.screenpop.ring_gate``); not counted in the dial's own time."""
        self._client = client
        self._before_dial = before_dial
        self._report = report
        self._collect = collect_recording
        self._on_command = on_command

    async def run(self, commands: list[c.AriCommand]) -> None:
        i = 0
        while i < len(commands):
            j = i + 1
            if isinstance(commands[i], _PARALLEL):
                while j < len(commands) and type(commands[j]) is type(commands[i]):
                    j += 1
            batch = commands[i:j]
            if len(batch) == 1:
                await self._one(batch[0])
            else:
                await asyncio.gather(*(self._one(cmd) for cmd in batch))
            i = j

    async def _one(self, cmd: c.AriCommand) -> None:
        if isinstance(cmd, c.CollectRecording):
            self._collect(cmd)
            return
        call = self._call_for(cmd)
        if call is None:
            return
        if isinstance(cmd, c.Dial) and self._before_dial is not None:
            await self._before_dial(cmd.channel_id)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await call()
        except AriError as exc:
            ok = False
            failed = c.CommandFailed(cmd, exc.status, str(exc))
            if not failed.gone:  # a channel gone meanwhile is a normal race with a hang-up
                log.warning(
                    "ari_command_failed", command=type(cmd).__name__, status=exc.status, error=str(exc)
                )
            self._report(failed)
        except Exception as exc:
            ok = False
            log.exception("ari_command_crashed", command=type(cmd).__name__)
            self._report(c.CommandFailed(cmd, None, f"{type(exc).__name__}: {exc}"))
        else:
            ok = True
            self._report(c.CommandDone(cmd))
        if self._on_command:
            self._on_command(type(cmd).__name__, loop.time() - started, ok)

    def _call_for(self, cmd: c.AriCommand) -> Callable[[], Awaitable[object]] | None:
        cl = self._client
        if isinstance(cmd, c.Ring):
            return lambda: cl.ring(cmd.channel_id)
        if isinstance(cmd, c.Answer):
            return lambda: cl.answer(cmd.channel_id)
        if isinstance(cmd, c.CreateLeg):
            return lambda: cl.create_channel(
                cmd.endpoint,
                app_args=cmd.app_args,
                originator=cmd.originator,
                channel_id=cmd.channel_id,
                variables=dict(cmd.variables),
            )
        if isinstance(cmd, c.Dial):
            return lambda: cl.dial(cmd.channel_id, caller=cmd.caller, timeout=cmd.timeout)
        if isinstance(cmd, c.CreateBridge):
            return lambda: cl.create_bridge(cmd.kind, bridge_id=cmd.bridge_id, name=cmd.name or None)
        if isinstance(cmd, c.RemoveFromBridge):
            return lambda: cl.remove_channel(cmd.bridge_id, cmd.channel_id)
        if isinstance(cmd, c.StartBridgeMoh):
            return lambda: cl.start_bridge_moh(cmd.bridge_id, cmd.moh_class)
        if isinstance(cmd, c.StartMoh):
            return lambda: cl.start_moh(cmd.channel_id, cmd.moh_class)
        if isinstance(cmd, c.StopMoh):
            return lambda: cl.stop_moh(cmd.channel_id)
        if isinstance(cmd, c.TransferProgress):
            return lambda: cl.transfer_progress(cmd.channel_id, cmd.states)
        if isinstance(cmd, c.StopPlayback):
            return lambda: cl.stop_playback(cmd.playback_id)
        if isinstance(cmd, c.AddToBridge):
            return lambda: cl.add_channels(cmd.bridge_id, cmd.channel_ids)
        if isinstance(cmd, c.RecordBridge):
            return lambda: cl.record_bridge(cmd.bridge_id, cmd.name, fmt=cmd.fmt)
        if isinstance(cmd, c.Play):
            return lambda: cl.play(cmd.channel_id, cmd.media, playback_id=cmd.playback_id)
        if isinstance(cmd, c.Hangup):
            return lambda: cl.hangup(cmd.channel_id, reason=cmd.reason)
        if isinstance(cmd, c.DestroyBridge):
            return lambda: cl.destroy_bridge(cmd.bridge_id)
        return None
