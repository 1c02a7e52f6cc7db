"""Offering a call: the greeting (recording notice, topic menu), waves of admins' legs, the
queue on hold, transfers, and the timers that keep each phase from waiting for ever. Part of
the call session (``ari_app.calls.session``); pure.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ari_app.calls import commands as c
from ari_app.calls.legs import Leg
from ari_app.calls.state import ANNOUNCE_LIMIT, BridgeStage, CallRouting, CallState, Greeting, Phase
from ari_app.facts.types import (
    CallerIdentified,
    CallQueued,
    LegCreated,
    LegProgress,
    TopicChosen,
)

RING_GRACE = 2.0  # our own timer backs up Asterisk's dial timeout, which normally fires first
QUEUE_RECHECK = 15.0  # seconds: a waiting call asks again even without word of a free admin


class Offering(CallState):
    def _greet(self, step: c.Step, stage: Greeting, media: str) -> None:
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
        if stage is Greeting.NOTICE:
            if self.routing.menu_prompt is not None and self.routing.menu:
                self._greet(step, Greeting.MENU, self.routing.menu_prompt)
            else:
                self._start_offering(step, now)
        elif stage is Greeting.MENU:
            self.greeting_stage = Greeting.MENU_WAIT
            step.commands.append(c.StartTimer("menu", self.routing.menu_timeout))

    def _start_offering(self, step: c.Step, now: datetime) -> None:
        self.phase = Phase.OFFERING
        self.greeting_stage = None
        r = self.routing
        step.commands.append(c.Ring(self.inbound_id))
        self.bridge_id = self._new_id()
        self.bridge_stage = BridgeStage.CREATING
        step.commands.append(c.CreateBridge(self.bridge_id, self.call_name))
        self.seeking = True
        self._seek(step)
        step.commands.append(c.StartTimer("max_wait", r.max_wait))
        if r.overflow_after is not None:
            step.commands.append(c.StartTimer("overflow", r.overflow_after))

    # ------------------------------------------------------------------ who is calling
    def _look_up_caller(self, step: c.Step) -> None:
        """The directories are asked as the call starts; its first legs wait for the answer no
        longer than ``caller_lookup`` seconds (the timer), the greeting not at all."""
        if self.caller_lookup is not None:
            self.caller_settled = False
            step.commands.append(c.StartTimer("caller_lookup", self.caller_lookup))

    def _on_caller_known(self, known: c.CallerKnown, step: c.Step, now: datetime) -> None:
        if self.identity is not None:
            return  # one answer per call
        who = self.identity = known.identity
        card = who.cards[0].external_id if who.patient_id is not None else None
        step.facts.append(
            CallerIdentified(
                self.call_id,
                who.kind,
                who.patient_id,
                len(who.cards),
                who.in_statistics,
                now,
                name=who.display_name,
                patient_external_id=card,
            )
        )
        if not self.caller_settled:
            step.commands.append(c.CancelTimer("caller_lookup"))
            self._caller_settled(step, now)

    def _caller_settled(self, step: c.Step, now: datetime) -> None:
        """Known, or waited for long enough: the waves held meanwhile go out now."""
        self.caller_settled = True
        held, self.held_waves = self.held_waves, []
        for wave in held:
            self._on_wave(wave, step, now)

    def _wave_in(self, wave: c.WaveOffered, step: c.Step, now: datetime) -> None:
        if wave.targets and not self.caller_settled:
            self.held_waves.append(wave)  # its legs are created with the caller's name
            return
        self._on_wave(wave, step, now)

    # ------------------------------------------------------------------ menu, waves, queue
    def _on_digit(self, digit: str, step: c.Step, now: datetime) -> None:
        if self.phase is not Phase.GREETING or self.greeting_stage not in (Greeting.MENU, Greeting.MENU_WAIT):
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
            self._seek(step)
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
        self._seek(step, transfer_to=req.to)

    # ------------------------------------------------------------------ legs
    def _create_leg(self, leg: Leg) -> c.CreateLeg:
        variables = [("CALLERID(num)", self.caller_number)]
        known = self.identity.display_name if self.identity is not None else ""
        variables.append(("CALLERID(name)", known or self.caller_name or self.caller_number))
        if known:
            # The admin's phone shows who calls: the directories' name. What a PJSIP INVITE
            # presents (From, PAI) is the leg's connected line, and the dial (caller=) overwrites
            # its public part with the caller's caller id (name as the carrier sent it, or none);
            # the private part survives and wins over it (ast_channel_connected_effective_id).
            # "i": set it quietly, the leg is not called yet.
            variables.append(("CONNECTEDLINE(priv-name,i)", known))
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

    def _on_timer(self, name: str, step: c.Step, now: datetime) -> None:
        r = self.routing
        if name == "ring" and self.phase is Phase.OFFERING:
            for leg in self._open_legs():
                self._hangup_leg(leg, "no_answer", step)
        elif name == "greeting" and self.phase is Phase.GREETING and self.greeting_playback:
            self._greeting_over(step, now)  # its PlaybackFinished was lost
        elif name == "menu" and self.phase is Phase.GREETING:
            self._start_offering(step, now)  # no digit: no topic
        elif name == "caller_lookup" and not self.caller_settled:
            self._caller_settled(step, now)  # the directories are slow: the phones ring without
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
