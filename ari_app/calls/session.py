"""One inbound call as a state machine: events in, commands and facts out. Pure: no I/O, no clock.

Flow: StasisStart -> closed (hours, holiday): answer, the closed message with when the branch
opens again, a callback task, hang up. Open: where the branch records, answer and play its
recording notice; where the DID has a topic menu, play it and take one digit (the topic) ->
offering: ring the caller, pre-create the mixing bridge, and ask the switchboard for a wave of
admins (``SeekAdmin`` -> ``WaveOffered``: the group's strategy, the queue's order, presence) ->
one leg per admin of the wave (channel ids chosen by us), each dialled once both its create
reply and its StasisStart are in (dialling earlier races into 409 "Channel not in Stasis
application") -> a wave nobody answers is followed by the next; nobody free: the caller is
answered and waits in a holding bridge with music on hold, hearing their position or expected
wait, until an admin is free (``AdminFree``), the overflow groups join (``Widen``), or the
maximum wait passes (the callback message and a callback task) -> the first leg Up wins:
answer the caller, bridge, hang up the others, record -> a transfer hands the caller to
another admin or group in the same bridge -> either side hangs up -> tear everything down
ourselves (Asterisk does not hang up a dialled leg when its caller leaves).
"""

from __future__ import annotations

from datetime import datetime

from ari_app.ari import models as m
from ari_app.calls import commands as c
from ari_app.calls.legs import Leg
from ari_app.calls.resuming import Resuming
from ari_app.calls.state import BridgeStage, CallPolicy, CallRouting, Greeting, Phase
from ari_app.facts.types import (
    CallAnswered,
    CallTransferred,
    NoticePlayed,
    RecordingFailedFact,
)

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
        m.ChannelDtmfReceived,
        m.ChannelEnteredBridge,  # the caller put through: it comes before the addChannel reply
        m.ChannelLeftBridge,  # left with the other still in: they were put through
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
    | c.WaveOffered
    | c.AdminFree
    | c.TransferRequested
    | c.BridgeSeen
    | c.CallerKnown
)

__all__ = ["RELEVANT_EVENTS", "CallPolicy", "CallRouting", "CallSession", "Input", "Phase"]


class CallSession(Resuming):
    # ------------------------------------------------------------------ entry points
    def begin(self, now: datetime) -> c.Step:
        step = c.Step(facts=[self._start])
        self._look_up_caller(step)
        r = self.routing
        if not r.open:
            reason = r.closed_reason or "closed_hours"
            if reason in ("unknown_did", "no_groups"):
                self._announce(step, "failed", self.policy.failed_media, reason, now, callback=reason)
            else:
                media = ",".join(r.closed_media) or r.callback_media
                self._announce(step, "closed", media, reason, now, callback=reason)
            return step
        if r.notice is not None:
            self._greet(step, Greeting.NOTICE, r.notice)
        elif r.menu_prompt is not None and r.menu:
            self._greet(step, Greeting.MENU, r.menu_prompt)
        else:
            self._start_offering(step, now)
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
        elif isinstance(item, c.WaveOffered):
            self._wave_in(item, step, now)
        elif isinstance(item, c.CallerKnown):
            self._on_caller_known(item, step, now)
        elif isinstance(item, c.AdminFree):
            if self.idle_waiting:
                step.commands.append(c.CancelTimer("retry"))
                self._seek(step, reset=True)
            elif self.asks:
                self.nudged = True  # the answer on its way may predate this admin being free
        elif isinstance(item, c.TransferRequested):
            self._on_transfer(item, step, now)
        elif isinstance(item, c.BridgeSeen):
            self._bridge_members(item.bridge_id, item.channels, step, now)
        else:
            self._on_event(item, step, now)
        self._check_progress(step, now)
        return step

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
        if self.bridge_id and self.bridge_stage is BridgeStage.UP:
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
            elif ev.playback.id == self.greeting_playback and self.phase is Phase.GREETING:
                if self.greeting_stage is Greeting.NOTICE:
                    step.facts.append(NoticePlayed(self.call_id, now))
                self._greeting_over(step, now)
            return
        if isinstance(ev, m.ChannelDtmfReceived):
            if ev.channel.id == self.inbound_id:
                self._on_digit(ev.digit, step, now)
            return
        if isinstance(ev, m.RecordingStarted):
            return
        if isinstance(ev, (m.RecordingFinished, m.RecordingFailed)):
            self._recording_finished(ev, step)
            return
        if isinstance(ev, m.BridgeDestroyed):
            if ev.bridge.id == self.bridge_id:
                self.bridge_stage = BridgeStage.GONE
            return
        if isinstance(ev, m.ChannelEnteredBridge):
            self._bridge_members(ev.bridge.id, ev.bridge.channels, step, now)
            return
        if isinstance(ev, m.ChannelLeftBridge):
            self._left_bridge(ev, step, now)
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
                if isinstance(ev.cause, int):
                    self.caller_cause = ev.cause  # 127 for a CANCEL; a BYE often carries none
                if self._being_put_through():
                    self.leaving.add(self.inbound_id)
                else:
                    self._caller_left(step, now)
        elif isinstance(ev, m.StasisEnd):
            # The channel is gone for us at its StasisEnd. Stasis() drops its subscription
            # there; Asterisk tells us more of the channel (ChannelDestroyed) only while a leg we
            # made with originator= it holds another, which a caller who hangs up during a
            # prompt or on hold never has (seen on Asterisk 22.10.1: no ChannelDestroyed).
            self._caller_left(step, now)
            self.inbound_gone = True
            if self.end_cause is None:
                self.end_cause = self.caller_cause or 16  # Normal Clearing, as Asterisk reports a BYE
            self._maybe_call_ended(step, now)
        elif isinstance(ev, m.ChannelDestroyed):
            self.end_cause = ev.cause
            self._caller_left(step, now)
            self.inbound_gone = True
            self._maybe_call_ended(step, now)

    def _on_leg(self, leg: Leg, ev: m.Event, step: c.Step, now: datetime) -> None:
        if isinstance(ev, m.StasisStart):
            leg.in_stasis = True
            leg.name = ev.channel.name
            self._maybe_dial(leg, step, now)
        elif isinstance(ev, m.ChannelStateChange):
            if ev.channel.state == "Ringing":
                self._leg_ringing(leg, step, now)
            elif ev.channel.state == "Up":
                self._leg_answered(leg, step, now)
        elif isinstance(ev, m.ChannelHangupRequest):
            if ev.soft is not True:
                leg.far_cause = ev.cause if isinstance(ev.cause, int) else 16
                if leg is self.winner and self._being_put_through():
                    self.leaving.add(leg.channel_id)
                elif leg is self.winner:
                    self._admin_left(step, now)
        elif isinstance(ev, m.StasisEnd):
            if leg is self.winner:
                self._admin_left(step, now)
        elif isinstance(ev, m.ChannelDestroyed):
            leg.destroy_cause = ev.cause
            if leg is self.winner:
                self._admin_left(step, now)
            self._leg_gone(leg, step, now)

    def _being_put_through(self) -> bool:
        """The caller and the admin who answered are sent to the bridge, and no join was seen.
        The joins may have gone by unseen (events are lost while the websocket is away): a
        hang-up now waits for the channel's ChannelLeftBridge, or its StasisEnd."""
        return self.phase is Phase.CONNECTING and self.answered_at is None

    def unseen_join(self) -> tuple[str, dict[str, str]] | None:
        """Being put through with no join seen: the bridge, and for the caller's channel and the
        admin's each the other's name. Asterisk sets BRIDGEPEER on both once both are in, and
        leaves it on the one that stays when the other goes (a resync reads it there)."""
        winner = self.winner
        if not self._being_put_through() or winner is None or not self.bridge_id or not winner.name:
            return None
        return self.bridge_id, {self.inbound_id: winner.name, winner.channel_id: self.inbound_name}

    def _left_bridge(self, ev: m.ChannelLeftBridge, step: c.Step, now: datetime) -> None:
        # The bridge as the channel left it holds the ones still in: with the other among
        # them, the two were in it together, whether or not their joins were seen.
        self._bridge_members(ev.bridge.id, (*ev.bridge.channels, ev.channel.id), step, now)
        if ev.channel.id not in self.leaving:
            return
        self.leaving.discard(ev.channel.id)
        if ev.channel.id == self.inbound_id:
            self._caller_left(step, now)
        elif self.winner is not None and ev.channel.id == self.winner.channel_id:
            self._admin_left(step, now)

    # ------------------------------------------------------------------ command feedback
    def _on_done(self, cmd: c.Command, step: c.Step, now: datetime) -> None:
        if isinstance(cmd, c.CreateLeg) and cmd.channel_id in self.legs:
            leg = self.legs[cmd.channel_id]
            leg.created = True
            self._maybe_dial(leg, step, now)
        elif isinstance(cmd, c.CreateBridge):
            if cmd.bridge_id == self.bridge_id and self.bridge_stage is BridgeStage.CREATING:
                self.bridge_stage = BridgeStage.UP
        elif isinstance(cmd, c.DestroyBridge) and cmd.bridge_id == self.bridge_id:
            self.bridge_stage = BridgeStage.GONE

    def _bridge_members(self, bridge_id: str, members: list[str] | tuple[str, ...], step: c.Step,
                        now: datetime) -> None:  # fmt: skip
        winner = self.winner
        if (
            self.phase is Phase.CONNECTING
            and winner is not None
            and bridge_id == self.bridge_id
            and {self.inbound_id, winner.channel_id} <= set(members)
        ):
            self._put_through(step, now)

    def _put_through(self, step: c.Step, now: datetime) -> None:
        """The caller and the admin who answered are in the mixing bridge: they talk. Only the
        bridge's ChannelEnteredBridge (or a resync's look at it) says so: addChannel's 204 can
        come before the channels join, and a caller may hang up in between (seen on Asterisk
        22.10.1: the reply, the caller in, the caller's hang-up, then the admin in)."""
        assert self.winner is not None
        self.phase = Phase.CONNECTED
        self.in_mixing = True
        if self.policy.record and self.bridge_id and self.recording is None:
            self.recording = self.call_name
            self.recording_done = False
            step.commands.append(c.RecordBridge(self.bridge_id, self.recording))
        if self.answered_at is None:
            self.answered_at = now
            step.facts.append(CallAnswered(self.call_id, self.winner.admin, now))
        if self.transfer_from is not None and self.transfer_to is not None:
            kind, target = self.transfer_to
            step.facts.append(CallTransferred(self.call_id, self.transfer_from, f"{kind}:{target}", now))
        self.transfer_to = self.transfer_from = None

    def _on_failed(self, f: c.CommandFailed, step: c.Step, now: datetime) -> None:
        cmd = f.command
        if isinstance(cmd, (c.CreateLeg, c.Dial)) and cmd.channel_id in self.legs:
            leg = self.legs[cmd.channel_id]
            leg.failed = True
            if isinstance(cmd, c.CreateLeg):
                self._leg_gone(leg, step, now)  # never existed: no events will come
            else:
                self._hangup_leg(leg, "failed", step)
        elif isinstance(cmd, c.CreateBridge) and cmd.bridge_id == self.bridge_id:
            self.bridge_stage = BridgeStage.GONE
            self.bridge_id = None
            reason = f"ari_error: {f.detail}"
            self._announce(step, "failed", self.policy.failed_media, reason, now, callback="failed")
        elif isinstance(cmd, c.Play) and cmd.playback_id == self.greeting_playback:
            self._greeting_over(step, now)  # a prompt that cannot be played is skipped
        elif isinstance(cmd, (c.Answer, c.AddToBridge)) and self.phase is Phase.CONNECTING:
            if f.gone:
                self._caller_left(step, now)  # the caller hung up as the admin answered
                return
            # The caller cannot be put through: nobody talked with them, so they are called back.
            self.winner = None
            self._set_outcome("failed", f"ari_error: {f.detail}")
            self._need_callback(step, "failed", now)
            self._hangup_inbound(step)
            self._teardown(step, leg_reason="lost")
        elif isinstance(cmd, c.RecordBridge):
            self.recording_done = True
            step.facts.append(RecordingFailedFact(self.call_id, cmd.name, cmd.fmt, f.detail))
        elif isinstance(cmd, c.Play) and cmd.playback_id == self.playback_id:
            self._hangup_inbound(step)
        elif isinstance(cmd, c.DestroyBridge) and cmd.bridge_id == self.bridge_id:
            self.bridge_stage = BridgeStage.GONE
        elif isinstance(cmd, c.Hangup) and f.gone:
            if cmd.channel_id == self.inbound_id and not self.inbound_gone:
                self.inbound_gone = True
                self._maybe_call_ended(step, now)
            elif cmd.channel_id in self.legs:
                self._leg_gone(self.legs[cmd.channel_id], step, now)
