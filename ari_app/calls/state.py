"""The state a call session keeps, and how a call ends: teardown, messages, outcome."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from ari_app.ari import models as m
from ari_app.calls import commands as c
from ari_app.calls.legs import Leg, leg_result
from ari_app.calls.recovery import call_name
from ari_app.facts.types import CallbackNeeded, CallEnded, CallStarted, LegEnded, RecordingFailedFact
from ari_app.people.identity import CallerIdentity

ANNOUNCE_LIMIT = 60.0  # a message whose PlaybackFinished was lost must not hold the caller
LINGER_LIMIT = 30.0  # after the call ended: wait this long for stray events and the recording


class Greeting(Enum):
    """Where a call is in its greeting (``Phase.GREETING``)."""

    NOTICE = "notice"  # the recording notice is playing
    MENU = "menu"  # the topic menu's prompt is playing (a digit may come already)
    MENU_WAIT = "menu_wait"  # the prompt is over: waiting for a digit until the menu timeout


class BridgeStage(Enum):
    """The call's mixing bridge on Asterisk (``bridge_id``)."""

    NONE = "none"  # none asked for yet
    CREATING = "creating"  # asked for: its create not yet answered
    UP = "up"  # exists on Asterisk
    GONE = "gone"  # destroyed, or its create failed: nothing more to wait for


class Phase(Enum):
    GREETING = "greeting"  # answered: the recording notice, then the topic menu
    OFFERING = "offering"  # ringing admins, or waiting for one on hold
    CONNECTING = "connecting"  # a leg answered; answer + bridge under way
    CONNECTED = "connected"
    ANNOUNCING = "announcing"  # playing the missed/failed message
    ENDING = "ending"
    DONE = "done"


@dataclass(frozen=True)
class CallPolicy:
    record: bool
    missed_media: str
    failed_media: str


@dataclass(frozen=True)
class CallRouting:
    """What this call's branch, DID and groups ask for, decided when it arrives."""

    open: bool = True
    closed_reason: str | None = None  # closed_hours | holiday | unknown_did | no_groups
    closed_media: tuple[str, ...] = ()  # the closed message, when it opens again, the callback promise
    next_open: datetime | None = None
    notice: str | None = None  # the recording notice, where the branch records
    menu_prompt: str | None = None
    menu: Mapping[str, str] = field(default_factory=dict)  # digit -> topic id
    menu_timeout: float = 5.0
    callback_media: str = "sound:clinic/callback"
    callback_due: float = 15 * 60.0  # seconds after the call: when its callback task is due
    overflow_after: int | None = None  # None: no overflow groups
    max_wait: int = 180
    announce: str = "position"  # position | wait | none
    announce_every: int = 30
    moh_class: str = "default"
    retry: float = 5.0  # after a round nobody answered, ring again this much later
    groups: tuple[str, ...] = ()  # offered first
    overflow: tuple[str, ...] = ()  # joined after overflow_after seconds
    skills: Mapping[str, str] = field(default_factory=dict)  # topic id -> the skill it needs
    preferred: str | None = None  # the admin who last talked with this caller

    def due(self, now: datetime) -> datetime:
        if not self.open and self.next_open is not None:
            return self.next_open
        return now + timedelta(seconds=self.callback_due)


class CallState:
    def __init__(
        self,
        *,
        call_id: str,
        start: m.StasisStart,
        did: str,
        branch: str | None,
        ad_channel: str | None,
        routing: CallRouting,
        policy: CallPolicy,
        new_id: Callable[[], str],
        now: datetime,
        caller_lookup: float | None = None,
    ) -> None:
        ch = start.channel
        self.call_id = call_id
        self.inbound_id = ch.id
        self.inbound_name = ch.name  # what the admin's BRIDGEPEER shows once put through
        self.caller_number = ch.caller.number
        self.caller_name = ch.caller.name if ch.caller.name != ch.caller.number else ""
        self.did = did
        self.policy = policy
        self._new_id = new_id
        self.routing = routing
        self.branch = branch
        self.phase = Phase.GREETING
        self.answered_by_us = False  # we answered the caller's channel (notice, menu, hold)
        # Who is calling (``CallerKnown``): its first wave waits for it up to ``caller_lookup``
        # seconds from the start, so that the admins' phones show the caller's name.
        self.caller_lookup = caller_lookup
        self.identity: CallerIdentity | None = None
        self.caller_settled = True  # nothing (more) to wait for before creating legs
        self.held_waves: list[c.WaveOffered] = []  # offered while the caller was being looked up
        self.topic: str | None = None
        self.greeting_playback: str | None = None  # notice or menu prompt now playing
        self.greeting_stage: Greeting | None = None
        self.seeking = False  # the switchboard holds a search for this call
        self.asks = 0  # SeekAdmin sent, its WaveOffered not yet in
        self.beside_asked = False  # the ask on its way is for the overflow groups, beside a wave
        self.nudged = False  # AdminFree came while an ask was on its way
        self.wave_open = False  # a wave of legs is out, not yet all ended
        self.holding_id: str | None = None  # the holding bridge while the caller waits
        self.held_since: datetime | None = None
        self.in_mixing = False  # the caller is in the mixing bridge (connected, or a transfer)
        self.transfer_to: tuple[str, str] | None = None
        self.transfer_from: str | None = None
        self.transfers = 0
        self.callback_reason: str | None = None
        self.announcement: str | None = None  # the last queue announcement's playback id
        self.legs: dict[str, Leg] = {}
        self.bridge_id: str | None = None
        self.bridge_stage = BridgeStage.NONE
        self.recording: str | None = None
        self.recording_done = True
        self.playback_id: str | None = None
        self.winner: Leg | None = None
        self.outcome: str | None = None
        self.failure_reason: str | None = None
        self.hangup_side: str | None = None
        self.end_cause: int | None = None
        self.caller_cause: int | None = None  # the cause of the caller's own hang-up request
        # Hung up while being put through: whether they talked first is told by the channel's
        # ChannelLeftBridge, just behind the request, or else its StasisEnd.
        self.leaving: set[str] = set()
        self.answered_at: datetime | None = None
        self.inbound_gone = False
        self.interrupted: str | None = None  # why its end was not seen: app down, PBX restarted
        self.call_name = call_name(call_id)  # its bridge's name and its recording's
        self._hangup_requested: set[str] = set()
        self._ended_fact_sent = False
        self.started_at = now
        self._start = CallStarted(
            call_id, ch.id, ch.caller.number, self.caller_name, did, branch, ad_channel, now
        )

    def _hangup_leg(self, leg: Leg, reason: str, step: c.Step) -> None:
        if leg.channel_id in self._hangup_requested or leg.ended:
            return
        leg.hangup_reason = leg.hangup_reason or reason
        self._hangup_requested.add(leg.channel_id)
        step.commands.append(c.Hangup(leg.channel_id))

    def _leg_gone(self, leg: Leg, step: c.Step, now: datetime) -> None:
        if leg.ended:
            return
        leg.ended = True
        result = leg_result(leg, won=leg is self.winner)
        step.facts.append(LegEnded(self.call_id, leg.channel_id, result, now, leg.cause))

    def _open_legs(self) -> list[Leg]:
        return [leg for leg in self.legs.values() if not leg.ended]

    # ------------------------------------------------------------------ endings
    def _caller_left(self, step: c.Step, now: datetime) -> None:
        if self.inbound_id in self._hangup_requested or self.hangup_side:
            return
        self.hangup_side = "caller"
        self._hangup_requested.add(self.inbound_id)
        if self.answered_at is None and self.phase in (Phase.GREETING, Phase.OFFERING, Phase.CONNECTING):
            # Nobody talked with the caller, even if an admin picked up in the same moment (a
            # CANCEL 0.5 ms after the phone's 200 was seen on Asterisk): abandoned, called back.
            self.winner = None
            self._set_outcome("abandoned")
            self._need_callback(step, "abandoned", now)
            self._teardown(step, leg_reason="cancelled")
        elif self.phase is Phase.OFFERING:  # waiting for a transfer's target
            self._teardown(step, leg_reason="cancelled")
        elif self.phase in (Phase.CONNECTING, Phase.CONNECTED):
            self._teardown(step, leg_reason="lost")
        elif self.phase is Phase.ANNOUNCING:
            self.phase = Phase.ENDING

    def _admin_left(self, step: c.Step, now: datetime) -> None:
        if self.hangup_side:
            return
        self.hangup_side = "admin"
        if self.answered_at is None:
            # The admin hung up before the caller was put through: nobody talked with them.
            self.winner = None
            self._set_outcome("missed", "admin_left")
            self._need_callback(step, "admin_left", now)
        self._hangup_inbound(step)
        self._teardown(step, leg_reason="lost")

    def _hangup_inbound(self, step: c.Step, reason: str | None = None) -> None:
        if self.inbound_id not in self._hangup_requested and not self.inbound_gone:
            self._hangup_requested.add(self.inbound_id)
            step.commands.append(c.Hangup(self.inbound_id, reason))
            if not self.hangup_side:
                self.hangup_side = "system"
        if self.phase is not Phase.DONE:
            self.phase = Phase.ENDING

    def _teardown(self, step: c.Step, leg_reason: str) -> None:
        self.phase = Phase.ENDING
        self._stop_seeking(step)
        for leg in self._open_legs():
            self._hangup_leg(leg, leg_reason, step)
        if self.bridge_id and self.bridge_pending:
            step.commands.append(c.DestroyBridge(self.bridge_id))
        self._leave_hold(step)

    def _seek(self, step: c.Step, **kw: object) -> None:
        """Ask the front desk for the next wave, with all the decision needs (``kw``: reset,
        widen, beside, transfer_to)."""
        self.asks += 1
        r, topic = self.routing, self.topic
        skill = r.skills.get(topic) if topic else None
        step.commands.append(
            c.SeekAdmin(self.call_id, r.groups, r.overflow, topic, skill, r.preferred, **kw)  # type: ignore[arg-type]
        )

    @property
    def bridge_pending(self) -> bool:
        """A bridge asked for and not yet gone: it is to be destroyed, and its end awaited."""
        return self.bridge_stage in (BridgeStage.CREATING, BridgeStage.UP)

    @property
    def idle_waiting(self) -> bool:
        """Offering, with no wave out and no ask on its way: free to ask again."""
        return self.phase is Phase.OFFERING and self.seeking and not self.wave_open and not self.asks

    def _stop_seeking(self, step: c.Step) -> None:
        for timer in ("ring", "retry", "overflow", "max_wait", "queue_announce", "menu"):
            step.commands.append(c.CancelTimer(timer))
        if self.seeking:
            self.seeking = False
            step.commands.append(c.StopSeeking(self.call_id))

    def _leave_hold(self, step: c.Step) -> None:
        if self.holding_id is not None:
            step.commands.append(c.DestroyBridge(self.holding_id))
            self.holding_id = None

    def _need_callback(self, step: c.Step, reason: str, now: datetime) -> None:
        """Nobody will talk with this caller now: a callback task (once per call)."""
        if self.callback_reason is not None:
            return
        if self.answered_at is not None and reason != "transfer_unanswered":
            return
        self.callback_reason = reason
        step.facts.append(
            CallbackNeeded(self.call_id, self.caller_number, self.branch, reason, self.routing.due(now), now)
        )

    def _announce(
        self,
        step: c.Step,
        outcome: str,
        media: str,
        reason: str | None,
        now: datetime,
        callback: str | None = None,
    ) -> None:
        """Nobody will take the call: answer, play a message, then hang up; and, where
        ``callback`` says why, make sure the caller is called back."""
        self._set_outcome(outcome, reason)
        if callback is not None:
            self._need_callback(step, callback, now)
        self._teardown(step, leg_reason="no_answer")
        if self.inbound_gone or self.hangup_side:
            return
        self.phase = Phase.ANNOUNCING
        self.playback_id = self._new_id()
        if not self.answered_by_us:
            self.answered_by_us = True
            step.commands.append(c.Answer(self.inbound_id))
        step.commands.append(c.Play(self.inbound_id, self.playback_id, media))
        step.commands.append(c.StartTimer("announce", ANNOUNCE_LIMIT))

    def _set_outcome(self, outcome: str, reason: str | None = None) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.failure_reason = reason

    def _recording_finished(self, ev: m.RecordingFinished | m.RecordingFailed, step: c.Step) -> None:
        rec = ev.recording
        if rec.name != self.recording or self.recording_done:
            return
        self.recording_done = True
        if isinstance(ev, m.RecordingFailed):
            cause = rec.cause if isinstance(rec.cause, str) else "recording failed"
            step.facts.append(RecordingFailedFact(self.call_id, rec.name, rec.format, cause))
            return
        seconds = float(rec.duration) if isinstance(rec.duration, int) else None
        step.commands.append(c.CollectRecording(self.call_id, rec.name, rec.format, seconds, self.started_at))

    def _maybe_call_ended(self, step: c.Step, now: datetime) -> None:
        if self._ended_fact_sent or not self.inbound_gone:
            return
        self._ended_fact_sent = True
        if self.interrupted:
            self.outcome, self.failure_reason = "interrupted", self.interrupted
        elif self.outcome is None:
            # Answered means put through to an admin; a caller who hangs up while a transfer's
            # target rings had been.
            self._set_outcome("answered" if self.answered_at else "abandoned")
        assert self.outcome is not None
        step.facts.append(
            CallEnded(
                self.call_id,
                self.outcome,
                now,
                self.hangup_side,
                self.end_cause,
                self.failure_reason,
            )
        )
        step.commands.append(c.StartTimer("linger", LINGER_LIMIT))
        if self.phase is not Phase.DONE:
            self.phase = Phase.ENDING

    def _check_progress(self, step: c.Step, now: datetime) -> None:
        if self.phase is Phase.OFFERING and self.wave_open and not self._open_legs():
            # Nobody of this wave answered: the next wave (or the queue). With an ask for the
            # overflow groups on its way, its answer decides.
            self.wave_open = False
            step.commands.append(c.CancelTimer("ring"))
            if not self.beside_asked:
                self._seek(step)
        if self.phase is Phase.ENDING and self._ended_fact_sent and not self._open_legs():
            if not self.bridge_pending and self.recording_done:
                self.phase = Phase.DONE
                step.commands.append(c.CancelTimer("linger"))

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
        self.bridge_stage = BridgeStage.GONE
