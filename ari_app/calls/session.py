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

from dataclasses import replace
from datetime import datetime

from ari_app.ari import models as m
from ari_app.calls import commands as c
from ari_app.calls.legs import Leg
from ari_app.calls.recovery import Resumed
from ari_app.calls.state import ANNOUNCE_LIMIT, CallPolicy, CallRouting, CallState, Phase
from ari_app.facts.types import (
    CallAnswered,
    CallQueued,
    CallTransferred,
    LegCreated,
    LegProgress,
    NoticePlayed,
    RecordingFailedFact,
    TopicChosen,
)

RING_GRACE = 2.0  # our own timer backs up Asterisk's dial timeout, which normally fires first
QUEUE_RECHECK = 15.0  # seconds: a waiting call asks again even without word of a free admin

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
)

__all__ = ["RELEVANT_EVENTS", "CallPolicy", "CallRouting", "CallSession", "Input", "Phase"]


class CallSession(CallState):
    # ------------------------------------------------------------------ entry points
    def begin(self, now: datetime) -> c.Step:
        step = c.Step(facts=[self._start])
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
            self._greet(step, "notice", r.notice)
        elif r.menu_prompt is not None and r.menu:
            self._greet(step, "menu", r.menu_prompt)
        else:
            self._start_offering(step, now)
        return step

    def _greet(self, step: c.Step, stage: str, media: str) -> None:
        self.phase = Phase.GREETING
        self.greeting_stage = stage
        if not self.answered_by_us:
            self.answered_by_us = True
            step.commands.append(c.Answer(self.inbound_id))
        self.greeting_playback = self._new_id()
        step.commands.append(c.Play(self.inbound_id, self.greeting_playback, media))
        step.commands.append(c.StartTimer("greeting", ANNOUNCE_LIMIT))

    def _greeting_over(self, step: c.Step, now: datetime) -> None:
        """The notice or the menu prompt finished (or failed, or took too long)."""
        stage, self.greeting_playback = self.greeting_stage, None
        step.commands.append(c.CancelTimer("greeting"))
        if stage == "notice":
            if self.routing.menu_prompt is not None and self.routing.menu:
                self._greet(step, "menu", self.routing.menu_prompt)
            else:
                self._start_offering(step, now)
        elif stage == "menu":
            self.greeting_stage = "menu_wait"
            step.commands.append(c.StartTimer("menu", self.routing.menu_timeout))

    def _start_offering(self, step: c.Step, now: datetime) -> None:
        self.phase = Phase.OFFERING
        self.greeting_stage = None
        r = self.routing
        step.commands.append(c.Ring(self.inbound_id))
        self.bridge_id = self._new_id()
        self.bridge_done = False
        step.commands.append(c.CreateBridge(self.bridge_id, self.call_name))
        self.seeking = True
        self._seek(step, topic=self.topic)
        step.commands.append(c.StartTimer("max_wait", r.max_wait))
        if r.overflow_after is not None:
            step.commands.append(c.StartTimer("overflow", r.overflow_after))

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
            self._on_wave(item, step, now)
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
            self.phase = Phase.CONNECTED
            if not next(r.answer_stored for r in found.legs if r.channel_id == winner.channel_id):
                # now we know
                step.facts.append(LegProgress(self.call_id, winner.channel_id, answered_at=now))
            if found.bridged:  # put through before: answered then (or now, if that was not stored)
                self.answered_at = found.answered_at or now
                if found.answered_at is None:
                    step.facts.append(CallAnswered(self.call_id, winner.admin, now))
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
        self._start_offering(step, now)

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
            elif ev.playback.id == self.greeting_playback and self.phase is Phase.GREETING:
                if self.greeting_stage == "notice":
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
                self.bridge_done = True
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

    # ------------------------------------------------------------------ menu, waves, queue
    def _on_digit(self, digit: str, step: c.Step, now: datetime) -> None:
        if self.phase is not Phase.GREETING or self.greeting_stage not in ("menu", "menu_wait"):
            return  # digits during the notice, or once offered, choose nothing
        topic = self.routing.menu.get(digit)
        if topic is None:
            return
        self.topic = topic
        step.facts.append(TopicChosen(self.call_id, topic, now))
        if self.greeting_playback is not None:
            step.commands.append(c.StopPlayback(self.greeting_playback))
            self.greeting_playback = None
        step.commands.append(c.CancelTimer("greeting"))
        self._start_offering(step, now)

    def _on_wave(self, wave: c.WaveOffered, step: c.Step, now: datetime) -> None:
        self.asks = max(0, self.asks - 1)
        beside, self.beside_asked = self.beside_asked, False
        if self.phase is not Phase.OFFERING or not self.seeking:
            return
        if beside and not wave.targets:
            if not self.wave_open:
                self._seek(step)  # the wave ended while we asked: on to the next, as usual
            return  # nobody free in the overflow groups yet: the wave out goes on
        if wave.targets:
            self.wave_open = True
            for admin, endpoint in wave.targets:
                leg = Leg(self._new_id(), admin, endpoint, ring_timeout=wave.ring_timeout)
                self.legs[leg.channel_id] = leg
                step.facts.append(LegCreated(self.call_id, leg.channel_id, leg.admin, leg.endpoint, now))
                step.commands.append(self._create_leg(leg))
            step.commands.append(c.StartTimer("ring", wave.ring_timeout + RING_GRACE))
            return
        if self.transfer_to is not None:
            # The transfer's target cannot take the call: it goes to the call's own groups.
            self.transfer_to = None
            step.commands.append(c.StopSeeking(self.call_id))
            self._seek(step, topic=self.topic)
            return
        if wave.reason == "no_admins" and self.answered_at is None and self.holding_id is None:
            if self.routing.overflow_after is not None:
                # Nobody in the call's own groups: the overflow groups at once.
                step.commands.append(c.CancelTimer("overflow"))
                self._seek(step, widen=True)
                self.routing = _without_overflow(self.routing)
                return
            self._announce(step, "failed", self.policy.failed_media, "no_admins", now, callback="no_admins")
            return
        if self.nudged and not self.asks:
            self.nudged = False
            self._seek(step, reset=True)
            return
        self._hold(step, now)
        # A new round after a short pause when everyone free was rung; otherwise the queue waits
        # for a free admin (AdminFree), and checks again now and then should that word be lost.
        delay = self.routing.retry if wave.reason == "all_tried" else QUEUE_RECHECK
        step.commands.append(c.StartTimer("retry", delay))

    def _hold(self, step: c.Step, now: datetime) -> None:
        """Nobody free now: the caller waits in a holding bridge with music on hold."""
        if self.holding_id is not None:
            return
        r = self.routing
        if not self.answered_by_us:
            self.answered_by_us = True
            step.commands.append(c.Answer(self.inbound_id))
        if self.in_mixing and self.bridge_id:
            step.commands.append(c.StopMoh(self.inbound_id))
            step.commands.append(c.RemoveFromBridge(self.bridge_id, self.inbound_id))
            self.in_mixing = False
        self.holding_id = self._new_id()
        step.commands.append(c.CreateBridge(self.holding_id, self.call_name, kind="holding"))
        step.commands.append(c.AddToBridge(self.holding_id, (self.inbound_id,)))
        step.commands.append(c.StartBridgeMoh(self.holding_id, r.moh_class))
        if self.held_since is None:
            self.held_since = now
            step.facts.append(CallQueued(self.call_id, now))
        if r.announce != "none":
            step.commands.append(c.StartTimer("queue_announce", r.announce_every))

    def _on_transfer(self, req: c.TransferRequested, step: c.Step, now: datetime) -> None:
        phone = req.phone_channel
        ok = self.phase is Phase.CONNECTED and self.winner is not None and not self.hangup_side
        if phone is not None and (not ok or req.to is None or self.winner is None
                                  or self.winner.channel_id != phone):  # fmt: skip
            step.commands.append(c.TransferProgress(phone, "channel_declined"))
            return
        if not ok or self.winner is None or req.to is None:
            return
        old = self.winner
        if phone is not None:
            # The phone is told at once that its transfer went through (as Asterisk itself does
            # for a blind transfer), and its leg ends now: its admin's talk ends with the REFER.
            # The caller is then offered to the target like an API transfer, and, should the
            # target not answer, to the call's own groups: never dropped.
            step.commands.append(c.TransferProgress(phone, "channel_answered"))
        self.transfers += 1
        self.transfer_to = req.to
        self.transfer_from = old.admin
        self.winner = None
        self._hangup_leg(old, "transferred", step)
        self.phase = Phase.OFFERING
        step.commands.append(c.StartMoh(self.inbound_id, self.routing.moh_class))
        # A transferred caller waits no longer than any other before hearing the callback promise.
        step.commands.append(c.StartTimer("max_wait", self.routing.max_wait))
        self.seeking = True
        self._seek(step, topic=self.topic, transfer_to=req.to)

    # ------------------------------------------------------------------ legs
    def _create_leg(self, leg: Leg) -> c.CreateLeg:
        variables = [("CALLERID(num)", self.caller_number)]
        variables.append(("CALLERID(name)", self.caller_name or self.caller_number))
        if leg.endpoint.startswith("PJSIP/"):
            # A transfer from the phone (SIP REFER) comes to us as ChannelTransfer, so that it
            # goes through routing and the call keeps its bridge, recording and row.
            variables.append(("PJSIP_TRANSFER_HANDLING()", "ari-only"))
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
            # The wave's group says how long its phones ring, not the call's default.
            step.commands.append(c.Dial(leg.channel_id, self.inbound_id, leg.ring_timeout))
            step.facts.append(LegProgress(self.call_id, leg.channel_id, dialed_at=now))

    def _leg_ringing(self, leg: Leg, step: c.Step, now: datetime) -> None:
        if not leg.ringing and not leg.ended:
            leg.ringing = True
            step.facts.append(LegProgress(self.call_id, leg.channel_id, ringing_at=now))

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
        self.wave_open = False
        # The admin picked up; the call is answered only once the caller is put through to them
        # (a caller may CANCEL in the same millisecond: then nobody talked, see _caller_left).
        step.facts.append(LegProgress(self.call_id, leg.channel_id, answered_at=now))
        self._stop_seeking(step)
        assert self.bridge_id is not None
        if self.in_mixing:
            step.commands.append(c.StopMoh(self.inbound_id))
            step.commands.append(c.AddToBridge(self.bridge_id, (leg.channel_id,)))
        else:
            if not self.answered_by_us:
                self.answered_by_us = True
                step.commands.append(c.Answer(self.inbound_id))
            if self.holding_id is not None:
                if self.announcement is not None:
                    # Asterisk holds a channel's removal from a bridge until its playback ends.
                    step.commands.append(c.StopPlayback(self.announcement))
                    self.announcement = None
                step.commands.append(c.RemoveFromBridge(self.holding_id, self.inbound_id))
            step.commands.append(c.AddToBridge(self.bridge_id, (self.inbound_id, leg.channel_id)))
            self._leave_hold(step)
        for other in self._open_legs():
            if other is not leg:
                self._hangup_leg(other, "lost", step)

    # ------------------------------------------------------------------ command feedback
    def _on_done(self, cmd: c.Command, step: c.Step, now: datetime) -> None:
        if isinstance(cmd, c.CreateLeg) and cmd.channel_id in self.legs:
            leg = self.legs[cmd.channel_id]
            leg.created = True
            self._maybe_dial(leg, step, now)
        elif isinstance(cmd, c.CreateBridge):
            self.bridge_ready = True
        elif isinstance(cmd, c.DestroyBridge) and cmd.bridge_id == self.bridge_id:
            self.bridge_done = True

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
            self.bridge_done = True
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
            self.bridge_done = True
        elif isinstance(cmd, c.Hangup) and f.gone:
            if cmd.channel_id == self.inbound_id and not self.inbound_gone:
                self.inbound_gone = True
                self._maybe_call_ended(step, now)
            elif cmd.channel_id in self.legs:
                self._leg_gone(self.legs[cmd.channel_id], step, now)

    def _on_timer(self, name: str, step: c.Step, now: datetime) -> None:
        r = self.routing
        if name == "ring" and self.phase is Phase.OFFERING:
            for leg in self._open_legs():
                self._hangup_leg(leg, "no_answer", step)
        elif name == "greeting" and self.phase is Phase.GREETING and self.greeting_playback:
            self._greeting_over(step, now)  # its PlaybackFinished was lost
        elif name == "menu" and self.phase is Phase.GREETING:
            self._start_offering(step, now)  # no digit: no topic
        elif name == "retry" and self.idle_waiting:
            self._seek(step, reset=True)
        elif name == "overflow" and self.phase is Phase.OFFERING:
            if self.idle_waiting:
                self._seek(step, widen=True)
            elif self.wave_open and not self.asks and self.seeking:
                # The overflow groups join now, ringing beside the wave still out, not after it.
                self.beside_asked = True
                self._seek(step, widen=True, beside=True)
            else:
                step.commands.append(c.Widen(self.call_id))
        elif name == "max_wait" and self.phase is Phase.OFFERING:
            if self.answered_at is None:
                self._announce(step, "missed", r.callback_media, "max_wait", now, callback="max_wait")
            else:  # transferred, and nobody took the caller: answered, and called back
                reason = "transfer_unanswered"
                self._announce(step, "answered", r.callback_media, reason, now, callback=reason)
        elif name == "queue_announce" and self.phase is Phase.OFFERING and self.holding_id:
            kind = "wait" if r.announce == "wait" else "position"
            self.announcement = self._new_id()
            step.commands.append(c.AnnounceQueue(self.call_id, self.inbound_id, kind, self.announcement))
            step.commands.append(c.StartTimer("queue_announce", r.announce_every))
        elif name == "announce" and self.phase is Phase.ANNOUNCING:
            self._hangup_inbound(step)
        elif name == "linger" and self.phase is not Phase.DONE:
            # Events were missed (a reconnect, a lost frame): close with what we know.
            self._close_remains(step, now)
            self.phase = Phase.DONE


def _without_overflow(r: CallRouting) -> CallRouting:
    return replace(r, overflow_after=None)
