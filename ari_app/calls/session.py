"""One inbound call as a state machine: events in, commands and facts out. Pure: no I/O, no clock.

Flow (ring-all): StasisStart -> ring the caller, pre-create the mixing bridge, create one leg
per free admin (channel ids chosen by us) -> dial each leg once both its create reply and its
StasisStart are in (dialling earlier races into 409 "Channel not in Stasis application") ->
the first leg Up wins: answer the caller, bridge, hang up the others, record -> either side
hangs up -> tear everything down ourselves (Asterisk does not hang up a dialled leg when its
caller leaves).
"""

from __future__ import annotations

from datetime import datetime

from ari_app.ari import models as m
from ari_app.calls import commands as c
from ari_app.calls.legs import Leg
from ari_app.calls.recovery import Resumed
from ari_app.calls.state import LINGER_LIMIT, CallPolicy, CallState, Phase

RING_GRACE = 2.0  # our own timer backs up Asterisk's dial timeout, which normally fires first

# The events a session acts on; the switchboard does not wake a call for any other.
RELEVANT_EVENTS: frozenset[type] = frozenset(
    {
        m.StasisStart,
        m.StasisEnd,
        m.ChannelStateChange,
        m.ChannelHangupRequest,
        m.ChannelDestroyed,
        m.Dial,
        m.PlaybackFinished,
        m.RecordingFinished,
        m.RecordingFailed,
        m.BridgeDestroyed,
    }
)

Input = (
    m.Event
    | c.TimerFired
    | c.CommandDone
    | c.CommandFailed
    | c.AdminEngaged
    | c.ChannelVanished
    | c.PbxRestarted
)

__all__ = ["RELEVANT_EVENTS", "CallPolicy", "CallSession", "Input", "Phase"]


class CallSession(CallState):
    # ------------------------------------------------------------------ entry points
    def begin(self, now: datetime) -> c.Step:
        step = c.Step(facts=[self._start])
        if not self._plan.offerable:
            reason = self._plan.reason or "no_admins"
            if reason == "all_engaged":
                self._announce(step, "missed", self.policy.missed_media, reason)
            else:
                self._announce(step, "failed", self.policy.failed_media, reason)
            return step
        step.commands.append(c.Ring(self.inbound_id))
        self.bridge_id = self._new_id()
        self.bridge_done = False
        step.commands.append(c.CreateBridge(self.bridge_id, self.call_name))
        for target in self._plan.targets:
            leg = Leg(self._new_id(), target.admin, target.endpoint)
            self.legs[leg.channel_id] = leg
            step.facts.append(c.LegCreated(self.call_id, leg.channel_id, leg.admin, leg.endpoint, now))
            step.commands.append(self._create_leg(leg))
        step.commands.append(c.StartTimer("ring", self.policy.ring_timeout + RING_GRACE))
        return step

    def handle(self, item: Input, now: datetime) -> c.Step:
        step = c.Step()
        if isinstance(item, c.CommandDone):
            self._on_done(item.command, step, now)
        elif isinstance(item, c.CommandFailed):
            self._on_failed(item, step, now)
        elif isinstance(item, c.TimerFired):
            self._on_timer(item.name, step, now)
        elif isinstance(item, c.ChannelVanished):
            self._on_vanished(item.channel_id, step, now)
        elif isinstance(item, c.PbxRestarted):
            self._interrupt("asterisk_restarted", step, now)
        elif isinstance(item, c.AdminEngaged):
            for leg in self._open_legs():
                if leg.admin == item.admin and self.phase is Phase.OFFERING:
                    self._hangup_leg(leg, "engaged", step)
        else:
            self._on_event(item, step, now)
        self._check_progress(step, now)
        return step

    def resume(self, found: Resumed, now: datetime) -> c.Step:
        """Take over a call a previous process left open (see ``ari_app.calls.recovery``).

        Bridged: carry on as connected. Answered but not yet bridged: finish connecting. Ringing
        or waiting: end the old legs and offer it again. Gone: close it as interrupted, after
        hanging up whatever of it is still on Asterisk.
        """
        step = c.Step()
        self._resume(found, step, now)
        self._check_progress(step, now)
        return step

    def _resume(self, found: Resumed, step: c.Step, now: datetime) -> None:
        for r in found.legs:
            self.legs[r.channel_id] = Leg(
                r.channel_id, r.admin, r.endpoint, created=True, in_stasis=True, dialed=True,
                answered=r.answered,
            )  # fmt: skip
        old_bridges = list(found.bridges)
        winner = self.legs.get(found.winner) if found.winner else None
        if winner is not None:
            self.winner = winner
            self.answered_at = found.answered_at or now
            self.phase = Phase.CONNECTED
            if found.bridge_id:
                self.bridge_id, self.bridge_ready, self.bridge_done = found.bridge_id, True, False
                old_bridges.remove(found.bridge_id)
                if self.policy.record and found.recording_live:
                    self.recording, self.recording_done = self.call_name, False
        if not found.inbound_present:
            self.interrupted = "ended_while_app_down"
        for bridge in old_bridges:
            step.commands.append(c.DestroyBridge(bridge))
        if not found.inbound_present or (winner is not None and found.winner not in found.present):
            for leg in self._open_legs():
                if leg.channel_id not in found.present:
                    self._on_vanished(leg.channel_id, step, now)
            if not found.inbound_present:
                self._on_vanished(self.inbound_id, step, now)
            return
        if winner is not None:
            others = [leg for leg in self._open_legs() if leg is not winner]
            for leg in others:
                if leg.channel_id in found.present:
                    self._hangup_leg(leg, "lost", step)
                else:
                    self._leg_gone(leg, step, now)
            if found.bridged:
                if self.policy.record and not found.recording_live and self.bridge_id:
                    self.recording, self.recording_done = self.call_name, False
                    step.commands.append(c.RecordBridge(self.bridge_id, self.recording))
                return
            self.phase = Phase.CONNECTING  # answered, not yet bridged: finish what was started
            if not self.bridge_id:
                self.bridge_id, self.bridge_done = self._new_id(), False
                step.commands.append(c.CreateBridge(self.bridge_id, self.call_name))
            step.commands.append(c.Answer(self.inbound_id))
            step.commands.append(c.AddToBridge(self.bridge_id, (self.inbound_id, winner.channel_id)))
            return
        # Not answered yet: the old legs go, and the call is offered again from the start.
        for leg in self._open_legs():
            leg.hangup_reason = "interrupted"
            if leg.channel_id in found.present:
                self._hangup_leg(leg, "interrupted", step)
            else:
                self._leg_gone(leg, step, now)
        offered = self.begin(now)
        step.commands.extend(offered.commands)
        step.facts.extend(f for f in offered.facts if not isinstance(f, c.CallStarted))

    def _interrupt(self, reason: str, step: c.Step, now: datetime) -> None:
        """Everything of the call vanished at once (Asterisk restarted): close what we know."""
        if self.phase is Phase.DONE:
            return
        self.interrupted = reason
        if not self.hangup_side:
            self.hangup_side = "system"
        step.commands.append(c.CancelTimer("ring"))
        for leg in self._open_legs():
            if leg is not self.winner:
                leg.hangup_reason = leg.hangup_reason or "interrupted"
        # What Asterisk wrote of the recording before it went down is kept: it is fetched.
        self._close_remains(step, now)

    def _close_remains(self, step: c.Step, now: datetime) -> None:
        """No more events will tell how the call ended: end it, its legs and its bridge as they
        stand, and fetch whatever was recorded."""
        if not self.inbound_gone:
            self.inbound_gone = True
            self._maybe_call_ended(step, now)
        for leg in self._open_legs():
            self._leg_gone(leg, step, now)
        if self.recording and not self.recording_done:
            self.recording_done = True
            step.commands.append(
                c.CollectRecording(self.call_id, self.recording, "wav", None, self.started_at)
            )
        self.bridge_done = True

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    def channel_ids(self) -> list[str]:
        return [self.inbound_id, *self.legs]

    def confirmed_ids(self) -> set[str]:
        """Channels and the bridge known to exist on Asterisk by now (not merely planned)."""
        ids = {self.inbound_id} if not self.inbound_gone else set()
        ids |= {
            leg.channel_id for leg in self.legs.values() if (leg.created or leg.in_stasis) and not leg.ended
        }
        if self.bridge_id and self.bridge_ready and not self.bridge_done:
            ids.add(self.bridge_id)
        return ids

    # ------------------------------------------------------------------ events
    def _on_event(self, ev: m.Event, step: c.Step, now: datetime) -> None:
        if isinstance(ev, m.Dial):
            leg = self.legs.get(ev.peer.id)
            if leg and ev.dialstatus == "RINGING":
                self._leg_ringing(leg, step, now)
            elif leg and ev.dialstatus == "ANSWER":
                self._leg_answered(leg, step, now)
            return
        if isinstance(ev, m.PlaybackFinished):
            if ev.playback.id == self.playback_id and not self.inbound_gone:
                self._hangup_inbound(step)
            return
        if isinstance(ev, m.RecordingStarted):
            return
        if isinstance(ev, (m.RecordingFinished, m.RecordingFailed)):
            self._recording_finished(ev, step)
            return
        if isinstance(ev, m.BridgeDestroyed):
            if ev.bridge.id == self.bridge_id:
                self.bridge_done = True
            return
        channel = getattr(ev, "channel", None)
        if not isinstance(channel, m.Channel):
            return
        if channel.id == self.inbound_id:
            self._on_inbound(ev, step, now)
        elif channel.id in self.legs:
            self._on_leg(self.legs[channel.id], ev, step, now)

    def _on_inbound(self, ev: m.Event, step: c.Step, now: datetime) -> None:
        if isinstance(ev, m.ChannelHangupRequest):
            # No `soft` means the far end hung up (BYE or CANCEL); soft ones are our DELETE
            # (32) or the dialplan unwinding after Stasis (16), never the caller's doing.
            if ev.soft is not True:
                self._caller_left(step, now)
        elif isinstance(ev, m.StasisEnd):
            self._caller_left(step, now)
            # ChannelDestroyed follows within milliseconds; should it be lost, close anyway.
            step.commands.append(c.StartTimer("linger", LINGER_LIMIT))
        elif isinstance(ev, m.ChannelDestroyed):
            self.end_cause = ev.cause
            self._caller_left(step, now)
            self.inbound_gone = True
            self._maybe_call_ended(step, now)

    def _on_leg(self, leg: Leg, ev: m.Event, step: c.Step, now: datetime) -> None:
        if isinstance(ev, m.StasisStart):
            leg.in_stasis = True
            self._maybe_dial(leg, step, now)
        elif isinstance(ev, m.ChannelStateChange):
            if ev.channel.state == "Ringing":
                self._leg_ringing(leg, step, now)
            elif ev.channel.state == "Up":
                self._leg_answered(leg, step, now)
        elif isinstance(ev, m.ChannelHangupRequest):
            if ev.soft is not True:
                leg.far_cause = ev.cause if isinstance(ev.cause, int) else 16
                if leg is self.winner:
                    self._admin_left(step, now)
        elif isinstance(ev, m.StasisEnd):
            if leg is self.winner:
                self._admin_left(step, now)
        elif isinstance(ev, m.ChannelDestroyed):
            leg.destroy_cause = ev.cause
            if leg is self.winner:
                self._admin_left(step, now)
            self._leg_gone(leg, step, now)

    def _on_vanished(self, channel_id: str, step: c.Step, now: datetime) -> None:
        if channel_id == self.bridge_id:
            self.bridge_done = True  # its BridgeDestroyed went by while we were away
        elif channel_id == self.inbound_id and not self.inbound_gone:
            self._caller_left(step, now)
            self.inbound_gone = True
            self._maybe_call_ended(step, now)
        elif channel_id in self.legs:
            leg = self.legs[channel_id]
            if leg is self.winner:
                self._admin_left(step, now)
            self._leg_gone(leg, step, now)

    # ------------------------------------------------------------------ legs
    def _create_leg(self, leg: Leg) -> c.CreateLeg:
        variables = [("CALLERID(num)", self.caller_number)]
        variables.append(("CALLERID(name)", self.caller_name or self.caller_number))
        return c.CreateLeg(
            leg.channel_id,
            leg.endpoint,
            originator=self.inbound_id,
            app_args=("dialed", self.inbound_id),
            variables=tuple(variables),
        )

    def _maybe_dial(self, leg: Leg, step: c.Step, now: datetime) -> None:
        if leg.created and leg.in_stasis and not leg.dialed and not leg.ended and not leg.hangup_reason:
            if self.phase is not Phase.OFFERING:
                self._hangup_leg(leg, "lost", step)
                return
            leg.dialed = True
            step.commands.append(c.Dial(leg.channel_id, self.inbound_id, self.policy.ring_timeout))
            step.facts.append(c.LegProgress(leg.channel_id, dialed_at=now))

    def _leg_ringing(self, leg: Leg, step: c.Step, now: datetime) -> None:
        if not leg.ringing and not leg.ended:
            leg.ringing = True
            step.facts.append(c.LegProgress(leg.channel_id, ringing_at=now))

    def _leg_answered(self, leg: Leg, step: c.Step, now: datetime) -> None:
        if leg.answered or leg.ended:
            return
        leg.answered = True
        if self.phase is not Phase.OFFERING or leg.hangup_reason:
            # Lost the race (another leg won, or the caller left): it answered too late.
            self._hangup_leg(leg, leg.hangup_reason or "lost", step)
            return
        self.winner = leg
        self.phase = Phase.CONNECTING
        self.answered_at = now
        step.facts.append(c.LegProgress(leg.channel_id, answered_at=now))
        step.facts.append(c.CallAnswered(self.call_id, leg.admin, now))
        step.commands.append(c.CancelTimer("ring"))
        step.commands.append(c.Answer(self.inbound_id))
        assert self.bridge_id is not None
        step.commands.append(c.AddToBridge(self.bridge_id, (self.inbound_id, leg.channel_id)))
        for other in self._open_legs():
            if other is not leg:
                self._hangup_leg(other, "lost", step)

    # ------------------------------------------------------------------ command feedback
    def _on_done(self, cmd: c.Command, step: c.Step, now: datetime) -> None:
        if isinstance(cmd, c.CreateLeg) and cmd.channel_id in self.legs:
            leg = self.legs[cmd.channel_id]
            leg.created = True
            self._maybe_dial(leg, step, now)
        elif isinstance(cmd, c.AddToBridge) and self.phase is Phase.CONNECTING:
            self.phase = Phase.CONNECTED
            if self.policy.record and self.bridge_id:
                self.recording = self.call_name
                self.recording_done = False
                step.commands.append(c.RecordBridge(self.bridge_id, self.recording))
        elif isinstance(cmd, c.CreateBridge):
            self.bridge_ready = True
        elif isinstance(cmd, c.DestroyBridge) and cmd.bridge_id == self.bridge_id:
            self.bridge_done = True

    def _on_failed(self, f: c.CommandFailed, step: c.Step, now: datetime) -> None:
        cmd = f.command
        if isinstance(cmd, (c.CreateLeg, c.Dial)) and cmd.channel_id in self.legs:
            leg = self.legs[cmd.channel_id]
            leg.failed = True
            if isinstance(cmd, c.CreateLeg):
                self._leg_gone(leg, step, now)  # never existed: no events will come
            else:
                self._hangup_leg(leg, "failed", step)
        elif isinstance(cmd, c.CreateBridge):
            self.bridge_done = True
            self.bridge_id = None
            self._announce(step, "failed", self.policy.failed_media, f"ari_error: {f.detail}")
        elif isinstance(cmd, (c.Answer, c.AddToBridge)) and self.phase is Phase.CONNECTING:
            if not f.gone:
                self.failure_reason = f"ari_error: {f.detail}"
            self._hangup_inbound(step)
            self._teardown(step, leg_reason="lost")
        elif isinstance(cmd, c.RecordBridge):
            self.recording_done = True
            step.facts.append(c.RecordingFailedFact(self.call_id, cmd.name, cmd.fmt, f.detail))
        elif isinstance(cmd, c.Play):
            self._hangup_inbound(step)
        elif isinstance(cmd, c.DestroyBridge) and cmd.bridge_id == self.bridge_id:
            self.bridge_done = True
        elif isinstance(cmd, c.Hangup) and f.gone:
            if cmd.channel_id == self.inbound_id and not self.inbound_gone:
                self.inbound_gone = True
                self._maybe_call_ended(step, now)
            elif cmd.channel_id in self.legs:
                self._leg_gone(self.legs[cmd.channel_id], step, now)

    def _on_timer(self, name: str, step: c.Step, now: datetime) -> None:
        if name == "ring" and self.phase is Phase.OFFERING:
            for leg in self._open_legs():
                self._hangup_leg(leg, "no_answer", step)
            self._announce(step, "missed", self.policy.missed_media, None)
        elif name == "announce" and self.phase is Phase.ANNOUNCING:
            self._hangup_inbound(step)
        elif name == "linger" and self.phase is not Phase.DONE:
            # Events were missed (a reconnect, a lost frame): close with what we know.
            self._close_remains(step, now)
            self.phase = Phase.DONE
