"""One caller's trip through the dialplan's ``[fallback]`` context, and the CDRs it leaves.

The steps run as Asterisk runs them (``dialplan.Step``); the CDR chain follows what a real
Asterisk 22.10.1 wrote for each case (recorded with SIPp callers and phones,
``tests/data/fallback-cdr-asterisk-22.10.1.csv``):

- the caller's record is made with its channel (``start`` = its creation, its ``sequence``) and
  written only if ``Set(CDR_PROP(disable)=0)`` ran; each application updates ``lastapp`` and
  ``lastdata`` of the records still open;
- Dial() gives the first phone that record, and each further phone a record of its own that
  starts at the Dial (the legs' channels take sequence numbers first): ANSWERED, BUSY, or NO
  ANSWER when it rang until another answered, the timeout, or the caller's CANCEL;
- after a Dial that reached nobody, the dialplan goes on in a new record (``start`` = the Dial's
  end), which Playback() answers: ANSWERED with no ``dstchannel``;
- without the ``g`` option an answered Dial ends the dialplan when either side hangs up;
- the records are written together, in the order they were made, when the caller is gone.

No ARI event is made: no app is active (that is why Stasis() failed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from ari_app.pbxsim.causes import sip_final
from ari_app.pbxsim.cdr_custom import CdrRecord, CdrWriter, Party
from ari_app.pbxsim.dialing import phone_acts
from ari_app.pbxsim.dialplan import Extension, Step, expand
from ari_app.pbxsim.state import PhoneScript, SimCall
from ari_app.pbxsim.transfers import TIMER_B

if TYPE_CHECKING:
    from ari_app.pbxsim.dialing import Pbx

BUSY_GAP = 0.002  # wall seconds: a 486 comes back at once (the BUSY records last 0 s)
STEP_GAP = 0.001  # wall seconds between Stasis() failing and [fallback] starting


@dataclass
class Leg:
    """One phone a Dial() rings: a PJSIP channel of its own, not an ARI channel."""

    phone: str
    channel: str  # PJSIP/admin101-0000000d: the records' dstchannel
    record: CdrRecord
    acts: PhoneScript
    state: str = "ringing"  # ringing | up | busy | gone
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    def cancel_timers(self) -> None:
        for handle in self.timers:
            handle.cancel()
        self.timers.clear()


class FallbackRun:
    def __init__(
        self, host: Pbx, call: SimCall, ext: Extension, party: Party, *, first_sequence: int,
        globals_: dict[str, str], writer: CdrWriter | None, done: Callable[[FallbackRun], None],
    ) -> None:  # fmt: skip
        self.host, self.call, self.ext, self.party = host, call, ext, party
        self.writer, self.done = writer, done
        self.records = [CdrRecord(first_sequence, call.created_at)]
        self.current = self.records[0]  # the record the dialplan's applications update
        self.vars = {**globals_, "EXTEN": call.did}
        self.cdr_enabled = False
        self.pc = 0
        self.legs: list[Leg] = []
        self.dialing = False
        self.dial_timer: asyncio.TimerHandle | None = None
        self.talking: Leg | None = None
        self.up = False  # the caller's channel is answered
        self.ended = False
        self.timers: list[asyncio.TimerHandle] = []

    # ------------------------------------------------------------------ time
    def _later(self, seconds: float, fn: Callable[[], None], leg: Leg | None = None) -> None:
        handle = self.host.later(seconds, fn)
        (leg.timers if leg is not None else self.timers).append(handle)

    def _after(self, wall: float, fn: Callable[[], None], leg: Leg | None = None) -> None:
        handle = self.host.after(wall, fn)
        (leg.timers if leg is not None else self.timers).append(handle)

    # ------------------------------------------------------------------ the steps
    def start(self) -> None:
        self._after(STEP_GAP, self._next)

    def _next(self) -> None:
        steps = self.ext.steps
        while not self.ended and self.pc < len(steps):
            step = steps[self.pc]
            self.pc += 1
            if not self._run(step):
                return  # it goes on by itself (Dial, Playback) or it ended the call
        if not self.ended:
            self._end("pbx", "bye")  # the dialplan ran out: Asterisk hangs up

    def _run(self, step: Step) -> bool:
        """One application; False when the dialplan does not go straight on."""
        # Only the record in progress is open while the dialplan runs: the phones' records of a
        # Dial are closed by the time it goes on.
        rec = self.current
        values = {**self.vars, "CDR(userfield)": rec.userfield}
        data = expand(step.data, values)
        rec.lastapp, rec.lastdata = step.app, data
        if step.app == "Set" and step.var == "CDR_PROP(disable)":
            self.cdr_enabled = True
        elif step.app == "Set":
            rec.userfield = expand(step.value, values)
        elif step.app == "Answer":
            self._answer_caller()
        elif step.app == "Playback":
            self._playback(step)
            return False
        elif step.app == "Hangup":
            self._end("pbx", "bye")
            return False
        elif step.app == "Dial":
            return self._dial(step, data)
        return True

    def _answer_caller(self) -> None:
        if not self.up:
            self.up = True
            self.current.answer = time.time()
            self.current.disposition = "ANSWERED"

    def _playback(self, step: Step) -> None:
        # Playback() answers the channel first (no "noanswer" option), then plays each file.
        self._answer_caller()
        media = [f"sound:{name}" for name in step.media]
        self.call.playbacks.extend(media)
        seconds = sum(self.host.media_seconds(uri) or 0.0 for uri in media)
        self._later(seconds, self._next)

    # ------------------------------------------------------------------ Dial()
    def _dial(self, step: Step, data: str) -> bool:
        now, host = time.time(), self.host
        made = []
        for name in step.targets:
            phone = host.phones.get(name)
            if phone is None:
                continue  # chan_pjsip cannot make the channel: no leg, no record
            script = self.call.phone_scripts.get(name)
            if phone.behaviour == "random" and script is None:
                script = host.draw_script()
            host.ids.channel_id()  # the leg's channel: a uniqueid, and a (disabled) CDR's sequence
            made.append((name, host.ids.pjsip_name(name), phone_acts(script, phone)))
        for n, (name, channel, acts) in enumerate(made):
            # The first phone takes the caller's own record; the others fork one each.
            rec = self.current if n == 0 else self._fork(now)
            rec.dstchannel = channel
            self.legs.append(Leg(name, channel, rec, acts))
        if not self.legs:
            self.vars["DIALSTATUS"] = "CHANUNAVAIL"  # app_dial: no channel could be made
            return True
        self.dialing = True
        for leg in self.legs:
            self._ring(leg)
        self.dial_timer = self.host.later(step.timeout, partial(self._dial_over, "NOANSWER"))
        return False

    def _fork(self, start: float) -> CdrRecord:
        rec = CdrRecord(self.host.ids.cdr_sequence(), start, lastapp=self.current.lastapp,
                        lastdata=self.current.lastdata, userfield=self.current.userfield)  # fmt: skip
        self.records.append(rec)
        return rec

    def _ring(self, leg: Leg) -> None:
        if leg.acts.behaviour == "busy" or leg.phone in self.host.occupied:
            self._after(BUSY_GAP, partial(self._leg_fails, leg, busy=True), leg)
        elif leg.acts.behaviour == "offline":
            # Nobody behind the contact: the INVITE goes unanswered until SIP timer B (cause 18).
            self._later(TIMER_B, partial(self._leg_fails, leg, busy=False), leg)
        elif leg.acts.behaviour == "answer":
            self._later(leg.acts.answer_after, partial(self._leg_answers, leg), leg)

    def _leg_fails(self, leg: Leg, *, busy: bool) -> None:
        if leg.state != "ringing" or not self.dialing:
            return
        self._close_leg(leg, "busy" if busy else "gone", time.time())
        if all(other.state != "ringing" for other in self.legs):
            # app_dial: every leg failed before the timeout (busy, or no response: "nochan").
            busy_legs = sum(other.state == "busy" for other in self.legs)
            self._dial_over("BUSY" if busy_legs else "CHANUNAVAIL")

    def _close_leg(self, leg: Leg, state: str, now: float) -> None:
        leg.state = state
        leg.cancel_timers()
        leg.record.end = now
        leg.record.disposition = "BUSY" if state == "busy" else "NO ANSWER"

    def _dial_over(self, status: str) -> None:
        """The Dial ends without an answer; the dialplan goes on in a new record."""
        if not self.dialing or self.ended:
            return
        self._stop_dial()
        now = time.time()
        for leg in self.legs:
            if leg.state == "ringing":
                self._close_leg(leg, "gone", now)  # Asterisk CANCELs the ones still ringing
        self.vars["DIALSTATUS"] = status
        self.current = CdrRecord(self.host.ids.cdr_sequence(), now, userfield=self.current.userfield)
        self.records.append(self.current)
        self._next()

    def _leg_answers(self, leg: Leg) -> None:
        host = self.host
        if leg.state != "ringing" or not self.dialing:
            return
        if leg.phone in host.occupied:
            return  # its user is talking on another call: it rings on
        now = time.time()
        self._stop_dial()
        self.up, self.talking = True, leg
        leg.state, leg.record.answer, leg.record.disposition = "up", now, "ANSWERED"
        leg.cancel_timers()
        for other in self.legs:
            if other.state == "ringing":
                self._close_leg(other, "gone", now)  # answered elsewhere: CANCEL
        self.current = leg.record
        call = self.call
        call.answered_at, call.talk_started = now, time.monotonic()
        call.bridged_with.append(leg.phone)
        host.occupied[leg.phone] = call.call_id
        talk = host.talk_limits.get(call.call_id)
        for seconds, fn in (
            (talk, self.caller_leaves),
            (call.abandon_on_answer, self.caller_leaves),
            (leg.acts.hangup_after, partial(self._end, "phone", "bye")),
        ):
            if seconds is not None:
                self._later(seconds, fn)

    def _stop_dial(self) -> None:
        self.dialing = False
        if self.dial_timer is not None:
            self.dial_timer.cancel()
            self.dial_timer = None

    # ------------------------------------------------------------------ the people
    def caller_leaves(self) -> None:
        """The caller hangs up: a BYE once answered, a CANCEL before."""
        self._end("caller", "bye" if self.up else "cancel")

    def abandon_after(self, seconds: float) -> None:
        def abandon() -> None:
            if self.talking is None:
                self.caller_leaves()

        self._later(seconds, abandon)

    def phone_hangup(self, name: str) -> int:
        """The admin at ``name`` hangs up: BYE when talking, 486 while it rings."""
        if self.talking is not None and self.talking.phone == name and not self.ended:
            self._end("phone", "bye")
            return 1
        ringing = [leg for leg in self.legs if leg.phone == name and leg.state == "ringing"]
        for leg in ringing:
            self._leg_fails(leg, busy=True)
        return len(ringing)

    # ------------------------------------------------------------------ the end
    def _end(self, by: str, how: str) -> None:
        if self.ended:
            return
        self.ended = True
        now = time.time()
        self._stop(now)
        for rec in self.records:
            if rec.end is None:
                rec.end = now
                rec.disposition = rec.disposition or ("ANSWERED" if rec.answer is not None else "NO ANSWER")
        self._record_call(by, how, now)
        if self.cdr_enabled and self.writer is not None:
            self.writer.write(self.records, self.party)
        self.done(self)

    def _stop(self, now: float) -> None:
        self._stop_dial()
        for handle in self.timers:
            handle.cancel()
        self.timers.clear()
        for leg in self.legs:
            if leg.state == "ringing":
                self._close_leg(leg, "gone", now)  # the caller's CANCEL reaches them all
            leg.cancel_timers()
        if self.talking is not None and self.host.occupied.get(self.talking.phone) == self.call.call_id:
            del self.host.occupied[self.talking.phone]

    def _record_call(self, by: str, how: str, now: float) -> None:
        call = self.call
        call.ended_at, call.hangup_by = now, by
        call.end_cause = 127 if how == "cancel" else 16
        if call.talk_started is not None:
            call.talk_seconds = round(self.host.sim_seconds(call.talk_started), 3)
        if self.up:
            call.sip_final = "BYE"
        else:
            call.sip_final = sip_final(487 if how == "cancel" else 603)
        if self.talking is not None:
            call.caller_result = "answered"
        elif by == "caller" and not self.up:
            call.caller_result = "abandoned"
        else:
            call.caller_result = "fallback_failed" if self.ext.is_pattern else "fallback_missed"

    def vanish(self) -> None:
        """Asterisk restarts under the call: it is gone, and so are its records."""
        if self.ended:
            return
        self.ended = True
        self._stop(time.time())
        call = self.call
        call.ended_at, call.hangup_by = time.time(), "restart"
        call.caller_result = call.caller_result or "lost_in_restart"
