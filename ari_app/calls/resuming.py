"""Taking over a call an earlier process left open (see ``ari_app.calls.recovery``), or one whose
channels all vanished at once (Asterisk restarted). Part of the call session; pure.
"""

from __future__ import annotations

from datetime import datetime

from ari_app.calls import commands as c
from ari_app.calls.legs import Leg
from ari_app.calls.offering import Offering
from ari_app.calls.recovery import Resumed
from ari_app.calls.state import BridgeStage, Phase
from ari_app.facts.types import (
    CallAnswered,
    LegProgress,
)


class Resuming(Offering):
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
                self.bridge_id, self.bridge_stage = found.bridge_id, BridgeStage.UP
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
                self.bridge_id, self.bridge_stage = self._new_id(), BridgeStage.CREATING
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

    def _on_vanished(self, channel_id: str, step: c.Step, now: datetime) -> None:
        if channel_id == self.bridge_id:
            self.bridge_stage = BridgeStage.GONE  # its BridgeDestroyed went by while we were away
        elif channel_id == self.inbound_id and not self.inbound_gone:
            self._caller_left(step, now)
            self.inbound_gone = True
            self._maybe_call_ended(step, now)
        elif channel_id in self.legs:
            leg = self.legs[channel_id]
            if leg is self.winner:
                self._admin_left(step, now)
            self._leg_gone(leg, step, now)
