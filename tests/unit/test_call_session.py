"""The call state machine, driven by event sequences as Asterisk 22 sends them (see the traces)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from ari_app.ari import models as m
from ari_app.calls import commands as c
from ari_app.calls.desk import FrontDesk
from ari_app.calls.session import CallPolicy, CallRouting, CallSession, Phase
from ari_app.config import load_settings
from ari_app.facts.fanout import FactFanout
from ari_app.facts.types import (
    CallAnswered,
    CallbackNeeded,
    CallEnded,
    CallQueued,
    CallStarted,
    Fact,
    LegEnded,
)
from ari_app.routing.dispatch import AdminRuntime, Dispatcher, GroupRule

EXAMPLE = Path(__file__).resolve().parents[2] / "ari_app" / "examples" / "clinic.toml"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
POLICY = CallPolicy(record=True, missed_media="sound:vm-nobodyavail", failed_media="sound:oops")


def chan(cid: str, state: str = "Up", number: str = "5550001") -> m.Channel:
    return m.Channel(
        id=cid,
        name=f"PJSIP/x-{cid}",
        state=state,
        protocol_id="",
        caller=m.CallerID(name=number, number=number),
        connected=m.CallerID(name="", number=""),
        accountcode="",
        dialplan=m.DialplanCEP(context="from-trunk", exten="5551234", priority=2),
        creationtime="2026-11-22T10:00:00.000+0000",
        language="en",
    )


E = {"timestamp": "2026-11-22T10:00:00.000+0000", "application": "clinic"}


def stasis_start(cid: str, args: list[str], state: str = "Ring") -> m.StasisStart:
    return m.StasisStart(**E, args=args, channel=chan(cid, state))


def state(cid: str, s: str) -> m.ChannelStateChange:
    return m.ChannelStateChange(**E, channel=chan(cid, s))


def hangup_req(cid: str, **kw: object) -> m.ChannelHangupRequest:
    return m.ChannelHangupRequest(**E, channel=chan(cid), **kw)  # type: ignore[arg-type]


def stasis_end(cid: str) -> m.StasisEnd:
    return m.StasisEnd(**E, channel=chan(cid))


def destroyed(cid: str, cause: int = 16, txt: str = "Normal Clearing") -> m.ChannelDestroyed:
    return m.ChannelDestroyed(**E, cause=cause, cause_txt=txt, channel=chan(cid))


def gone(cid: str, dcause: int = 16, **req: object) -> list[m.Event]:
    """A channel's ending as Asterisk sends it: hangup request, StasisEnd, ChannelDestroyed."""
    return [hangup_req(cid, **req), stasis_end(cid), destroyed(cid, dcause)]


def entered(bridge: str, *members: str) -> m.ChannelEnteredBridge:
    snapshot = m.Bridge(
        id=bridge, technology="simple_bridge", bridge_type="mixing", bridge_class="stasis",
        creator="Stasis", name="", channels=list(members), creationtime=E["timestamp"],
    )  # fmt: skip
    return m.ChannelEnteredBridge(**E, bridge=snapshot, channel=chan(members[-1]))


def left(bridge: str, who: str, *remaining: str) -> m.ChannelLeftBridge:
    """``who`` left ``bridge``; the snapshot holds those still in it, as Asterisk sends it."""
    snapshot = msgspec.structs.replace(entered(bridge, who).bridge, channels=list(remaining))
    return m.ChannelLeftBridge(**E, bridge=snapshot, channel=chan(who))


class _NoTimer:
    def cancel(self) -> None:
        pass


class _Unrecorded:
    def submit(self, fact: Fact) -> None:
        pass

    def submit_and_wait(self, fact: Fact) -> asyncio.Future[None]:
        raise NotImplementedError


class Driver:
    """One session with a real dispatcher behind it, answering its SeekAdmin as the switchboard does."""

    def __init__(
        self,
        admins: int = 2,
        engaged: frozenset[str] = frozenset(),
        policy: CallPolicy = POLICY,
        routing: CallRouting | None = None,
        strategy: str = "ring_all",
        ring_timeout: int = 15,
        caller_lookup: float | None = None,
    ):
        ids = (f"id{n}" for n in itertools.count())
        self.now = T0
        rule = GroupRule("g", strategy, 0, ring_timeout)  # type: ignore[arg-type]
        self.dispatcher = Dispatcher(
            [rule, GroupRule("over", "ring_all", 0, 15)],
            [AdminRuntime(f"a{i}", f"PJSIP/admin10{i}", ("g",), order=i) for i in range(admins)]
            + [AdminRuntime("x9", "PJSIP/admin900", ("over",))],
            wrap_up=0,
        )
        for admin in engaged:
            self.dispatcher.answered(admin, "other-call", T0)
        self.s = CallSession(
            call_id="call1", start=stasis_start("in", ["5551234"]), did="5551234", branch="b1",
            ad_channel="site", routing=replace(routing or CallRouting(), groups=("g",), overflow=("over",)),
            policy=policy,
            new_id=lambda: next(ids), now=self.now, caller_lookup=caller_lookup,
        )  # fmt: skip
        self.commands: list[c.Command] = []
        self.facts: list[Fact] = []
        self.members: dict[str, list[str]] = {}  # bridge -> channels in it
        # The real front desk on that dispatcher, fed the call's facts; wrap-up timers are
        # recorded, not run (no event loop needed).
        self.timers: list[tuple[float, object]] = []
        self.desk = FrontDesk(
            load_settings(EXAMPLE), self.dispatcher, lambda: self.now, lambda _call, _item: True,
            later=lambda delay, fn: self.timers.append((delay, fn)) or _NoTimer(),
        )  # fmt: skip
        self.fanout = FactFanout(_Unrecorded())
        self.desk.subscribe(self.fanout)
        self.desk.call_started("call1", "5550001")
        first = self._take(self.s.begin(self.now))
        self._answer(first.commands, auto=False)  # as before: the first legs' replies come later

    def _answer(self, commands: list[c.Command], auto: bool = True) -> list[c.Command]:
        """What the switchboard does with routing commands: the real front desk answers them."""
        out: list[c.Command] = []
        for cmd in commands:
            if isinstance(cmd, c.SeekAdmin):
                out += self.feed(self.desk.seek(cmd), dt=0, auto=auto)
            elif isinstance(cmd, c.Widen):
                self.desk.widen(cmd.call_id)
            elif isinstance(cmd, c.StopSeeking):
                self.desk.stop_seeking(cmd.call_id)
        return out

    def _take(self, step: c.Step) -> c.Step:
        self.commands += step.commands
        self.facts += step.facts
        return step

    def feed(self, *items: object, dt: float = 0.5, auto: bool = True) -> list[c.Command]:
        out: list[c.Command] = []
        for item in items:
            self.now += timedelta(seconds=dt)
            step = self._take(self.s.handle(item, self.now))  # type: ignore[arg-type]
            out += step.commands
            for fact in step.facts:
                self.fanout.publish(fact)  # the desk follows the legs, as it does in the app
            out += self._answer(step.commands)
            # The runner reports every ARI command's success back, as it does in production; a
            # channel added to a bridge joins it (ChannelEnteredBridge, with who is in it).
            for cmd in step.commands if auto else []:
                if not isinstance(cmd, _NOT_ARI):
                    out += self.feed(c.CommandDone(cmd), dt=0)
                if isinstance(cmd, c.AddToBridge):
                    members = self.members.setdefault(cmd.bridge_id, [])
                    members += [x for x in cmd.channel_ids if x not in members]
                    out += self.feed(entered(cmd.bridge_id, *members), dt=0)
        return out

    def of(self, kind: type) -> list:
        return [x for x in self.commands + self.facts if isinstance(x, kind)]

    def legs(self) -> list[str]:
        return [x.channel_id for x in self.of(c.CreateLeg)]

    def ended(self) -> CallEnded:
        (end,) = self.of(CallEnded)
        return end

    def leg_results(self) -> dict[str, str]:
        return {f.leg_id: f.result for f in self.of(LegEnded)}


_NOT_ARI = (
    c.StartTimer, c.CancelTimer, c.CollectRecording, c.SeekAdmin, c.Widen, c.StopSeeking, c.AnnounceQueue,
)  # fmt: skip


def ring_up(d: Driver) -> list[str]:
    """Create replies and StasisStart for every leg, then each rings."""
    legs = d.legs()
    for leg in legs:
        d.feed(c.CommandDone(next(x for x in d.of(c.CreateLeg) if x.channel_id == leg)))
        d.feed(stasis_start(leg, ["dialed", "in"], "Down"))
    for leg in legs:
        d.feed(state(leg, "Ringing"))
    return legs


def test_start_rings_caller_prebuilds_bridge_and_creates_one_leg_per_free_admin() -> None:
    d = Driver(admins=3, engaged=frozenset({"a1"}))
    kinds = [type(x).__name__ for x in d.commands]
    assert kinds == [
        "Ring", "CreateBridge", "SeekAdmin", "StartTimer", "CreateLeg", "CreateLeg", "StartTimer",
    ]  # fmt: skip
    assert [x.name for x in d.of(c.StartTimer)] == ["max_wait", "ring"]
    assert [x.endpoint for x in d.of(c.CreateLeg)] == ["PJSIP/admin100", "PJSIP/admin102"]
    leg = d.of(c.CreateLeg)[0]
    assert leg.app_args == ("dialed", "in") and leg.originator == "in"
    assert dict(leg.variables) == {
        "CALLERID(num)": "5550001", "CALLERID(name)": "5550001", "PJSIP_TRANSFER_HANDLING()": "ari-only",
    }  # fmt: skip
    assert isinstance(d.facts[0], CallStarted) and d.facts[0].ad_channel == "site"


@pytest.mark.parametrize("order", ["reply_first", "stasis_first"])
def test_leg_is_dialled_only_after_both_create_reply_and_stasis_start(order: str) -> None:
    d = Driver(admins=1)
    (leg,) = d.legs()
    create = d.of(c.CreateLeg)[0]
    first, second = (c.CommandDone(create), stasis_start(leg, ["dialed", "in"], "Down"))[
        :: 1 if order == "reply_first" else -1
    ]
    assert not [x for x in d.feed(first) if isinstance(x, c.Dial)]
    assert d.feed(second) == [c.Dial(leg, "in", 15)]


def test_first_answer_wins_bridge_record_and_losers_hung_up() -> None:
    d = Driver(admins=3)
    a, b, l3 = ring_up(d)
    out = d.feed(state(b, "Up"))
    kinds = [type(x).__name__ for x in out if not isinstance(x, (c.CancelTimer, c.StopSeeking))]
    assert kinds[:3] == ["Answer", "AddToBridge", "Hangup"]
    assert c.AddToBridge(d.s.bridge_id or "", ("in", b)) in out
    assert {x.channel_id for x in out if isinstance(x, c.Hangup)} == {a, l3}
    assert any(isinstance(x, c.RecordBridge) for x in out)
    # A late answer from a losing leg is hung up, not bridged.
    late = d.feed(state(a, "Up"))
    assert not any(isinstance(x, c.AddToBridge) for x in late)
    for leg in (a, l3):
        d.feed(*gone(leg, soft=True, cause=32))
    assert d.leg_results() == {a: "lost", l3: "lost"}
    # Caller hangs up (BYE without cause): we tear down the admin leg and the bridge.
    out = d.feed(hangup_req("in"))
    assert c.Hangup(b) in out and c.DestroyBridge(d.s.bridge_id or "") in out
    d.feed(stasis_end("in"), destroyed("in"), *gone(b, soft=True, cause=32))
    rec = m.LiveRecording(
        name=d.s.recording or "", format="wav", target_uri="bridge:x", state="done", duration=5
    )
    out = d.feed(m.RecordingFinished(**E, recording=rec))
    assert out == [c.CollectRecording("call1", "call-call1", "wav", 5.0, T0), c.CancelTimer("linger")]
    end = d.ended()
    assert (end.outcome, end.hangup_side) == ("answered", "caller")
    assert d.leg_results()[b] == "answered"
    assert d.s.phase is Phase.DONE


def _answered_not_bridged(admins: int = 1) -> tuple[Driver, str]:
    """A leg answered; the caller's answer and addChannel are sent, their replies not yet in."""
    d = Driver(admins=admins)
    a = ring_up(d)[0]
    d.feed(state(a, "Up"), auto=False)
    assert d.s.phase is Phase.CONNECTING and not d.of(CallAnswered)
    return d, a


# The caller's CANCEL reached Asterisk 0.5 ms after the phone's 200 (seen on Asterisk 22.10.1):
# whatever order the app learns it in, nobody talked with the caller.
CANCEL_RACES = {
    "hang-up before the replies": lambda d, a: [
        hangup_req("in", cause=127, tech_cause=487),
        stasis_end("in"),
    ],
    "addChannel 400 Channel not found": lambda d, a: [
        c.CommandFailed(c.AddToBridge(d.s.bridge_id or "", ("in", a)), 400, "Channel not found"),
        hangup_req("in", cause=127, tech_cause=487),
        stasis_end("in"),
    ],
    "answer 404, then the hang-up": lambda d, a: [
        c.CommandFailed(c.Answer("in"), 404, "Channel not found"),
        stasis_end("in"),
    ],
}


@pytest.mark.parametrize("race", CANCEL_RACES, ids=list(CANCEL_RACES))
def test_a_caller_who_cancels_as_the_admin_answers_is_abandoned_and_called_back(race: str) -> None:
    d, a = _answered_not_bridged()
    out = []
    for item in CANCEL_RACES[race](d, a):
        out += d.feed(item, auto=False)
    assert c.Hangup(a) in out  # the admin who picked up hears the call end
    d.feed(*gone(a, soft=True, cause=32))
    end = d.ended()
    assert (end.outcome, end.hangup_side) == ("abandoned", "caller")
    assert [t.reason for t in d.of(CallbackNeeded)] == ["abandoned"]
    assert not d.of(CallAnswered) and not d.of(c.RecordBridge)
    assert d.leg_results() == {a: "cancelled"}


def test_the_caller_is_answered_once_put_through_even_before_the_addchannel_reply() -> None:
    d, a = _answered_not_bridged()
    out = d.feed(entered(d.s.bridge_id or "", "in", a), auto=False)
    (answered,) = d.of(CallAnswered)
    assert answered.admin == "a0" and d.s.phase is Phase.CONNECTED
    assert any(isinstance(x, c.RecordBridge) for x in out)
    d.feed(hangup_req("in"), stasis_end("in"), *gone(a, soft=True, cause=32))
    assert d.ended().outcome == "answered" and not d.of(CallbackNeeded)
    assert d.leg_results() == {a: "answered"}


def test_addchannels_reply_is_not_the_caller_put_through() -> None:
    # As Asterisk 22.10.1 sent it: addChannel's 204, the caller into the bridge, the caller's
    # hang-up, and only then the admin into the bridge. Nobody talked.
    d, a = _answered_not_bridged()
    bridge_id = d.s.bridge_id or ""
    d.feed(c.CommandDone(c.Answer("in")), c.CommandDone(c.AddToBridge(bridge_id, ("in", a))), auto=False)
    d.feed(entered(bridge_id, "in"), hangup_req("in"), left(bridge_id, "in"), stasis_end("in"), auto=False)
    d.feed(entered(bridge_id, a), *gone(a, soft=True, cause=32), auto=False)
    assert d.ended().outcome == "abandoned" and not d.of(CallAnswered) and not d.of(c.RecordBridge)
    assert [t.reason for t in d.of(CallbackNeeded)] == ["abandoned"]


# The app's websocket was away while the two were put through (their ChannelEnteredBridge
# lost); it is back as one of them hangs up. Asterisk sends the hang-up request first, then the
# channel's ChannelLeftBridge with the other still in the bridge: they talked.
@pytest.mark.parametrize("who", ["caller", "admin"])
def test_a_hang_up_after_joins_that_went_by_unseen_is_an_answered_call(who: str) -> None:
    d, a = _answered_not_bridged()
    bridge_id = d.s.bridge_id or ""
    d.feed(c.CommandDone(c.Answer("in")), c.CommandDone(c.AddToBridge(bridge_id, ("in", a))), auto=False)
    leaving, staying = ("in", a) if who == "caller" else (a, "in")
    assert d.feed(hangup_req(leaving), auto=False) == []  # its ChannelLeftBridge is just behind
    out = d.feed(left(bridge_id, leaving, staying), stasis_end(leaving), auto=False)
    assert c.Hangup(staying) in out
    assert [f.admin for f in d.of(CallAnswered)] == ["a0"]
    if who == "caller":
        d.feed(*gone(a, soft=True, cause=32), auto=False)
    else:
        d.feed(destroyed(a), stasis_end("in"), auto=False)
    end = d.ended()
    assert (end.outcome, end.hangup_side) == ("answered", who)
    assert not d.of(CallbackNeeded) and d.leg_results() == {a: "answered"}


def test_a_resync_finds_the_caller_put_through_while_events_were_missed() -> None:
    d, a = _answered_not_bridged()
    d.feed(c.BridgeSeen("elsewhere", ("in", a)), auto=False)
    assert not d.of(CallAnswered)
    d.feed(c.BridgeSeen(d.s.bridge_id or "", ("in", a)), auto=False)
    assert [f.admin for f in d.of(CallAnswered)] == ["a0"] and d.s.phase is Phase.CONNECTED


def test_an_admin_who_hangs_up_before_the_caller_is_put_through_leaves_a_missed_call() -> None:
    d, a = _answered_not_bridged()
    out = d.feed(*gone(a), auto=False)
    assert c.Hangup("in") in out
    d.feed(stasis_end("in"))
    assert (d.ended().outcome, d.ended().failure_reason) == ("missed", "admin_left")
    assert [t.reason for t in d.of(CallbackNeeded)] == ["admin_left"]


def test_a_caller_who_cannot_be_put_through_fails_and_is_called_back() -> None:
    d, a = _answered_not_bridged()
    failure = c.CommandFailed(c.AddToBridge(d.s.bridge_id or "", ("in", a)), 500, "Internal Server Error")
    out = d.feed(failure, auto=False)
    assert c.Hangup("in") in out and c.Hangup(a) in out
    d.feed(stasis_end("in"), *gone(a, soft=True, cause=32))
    assert d.ended().outcome == "failed" and d.ended().failure_reason.startswith("ari_error")
    assert [t.reason for t in d.of(CallbackNeeded)] == ["failed"]
    assert d.leg_results() == {a: "lost"}


def test_admin_hangs_up_first() -> None:
    d = Driver(admins=1)
    (a,) = ring_up(d)
    d.feed(state(a, "Up"))
    out = d.feed(hangup_req(a))
    assert c.Hangup("in") in out
    d.feed(*gone("in", soft=True, cause=32), stasis_end(a), destroyed(a))
    assert d.ended().hangup_side == "admin"


@pytest.mark.parametrize(
    ("events", "result", "cause"),
    [
        # admin_no_answer trace: dial timeout, no final Dial event.
        (lambda leg: gone(leg, 19, cause=32, soft=True), "no_answer", 19),
        # admin_busy trace: 486 from the phone.
        (
            lambda leg: [
                hangup_req(leg, cause=17, tech_cause=486),
                stasis_end(leg),
                destroyed(leg, 17),
            ],
            "busy",
            17,
        ),
    ],
)
def test_nobody_answers_the_wave_caller_waits_on_hold_then_rung_again(events, result: str, cause: int):
    d = Driver(admins=2)
    legs = ring_up(d)
    out: list[c.Command] = []
    for leg in legs:
        out += d.feed(*events(leg))
    assert set(d.leg_results().values()) == {result}
    # Everyone was tried this round: the caller is answered and waits in a holding bridge.
    held = [x for x in out if not isinstance(x, (c.CancelTimer, c.SeekAdmin))]
    assert [type(x).__name__ for x in held] == [
        "Answer", "CreateBridge", "AddToBridge", "StartBridgeMoh", "StartTimer", "StartTimer",
    ]  # fmt: skip
    holding = d.s.holding_id
    assert c.CreateBridge(holding or "", "call-call1", kind="holding") in held
    assert [x.name for x in held if isinstance(x, c.StartTimer)] == ["queue_announce", "retry"]
    assert any(isinstance(f, CallQueued) for f in d.facts)
    # The retry starts a new round: both ring again, the caller stays on hold meanwhile.
    again = d.feed(c.TimerFired("retry"))
    assert len([x for x in again if isinstance(x, c.CreateLeg)]) == 2
    # The queue's announcement is asked of the switchboard (it knows the position).
    ann = d.feed(c.TimerFired("queue_announce"))
    assert [type(x).__name__ for x in ann] == ["AnnounceQueue", "StartTimer"]
    # An answer from hold: out of the holding bridge, into the mixing bridge with the admin.
    first = d.legs()[2]
    d.feed(c.CommandDone(next(x for x in d.of(c.CreateLeg) if x.channel_id == first)))
    d.feed(stasis_start(first, ["dialed", "in"], "Down"))
    up = d.feed(state(first, "Up"))
    assert c.RemoveFromBridge(holding or "", "in") in up
    assert c.AddToBridge(d.s.bridge_id or "", ("in", first)) in up
    assert c.DestroyBridge(holding or "") in up and not any(isinstance(x, c.Answer) for x in up)


def test_max_wait_plays_the_callback_message_and_makes_a_callback_task() -> None:
    d = Driver(admins=1, engaged=frozenset({"a0"}))
    assert d.s.holding_id is not None
    out = d.feed(c.TimerFired("max_wait"), dt=180)
    play = next(x for x in out if isinstance(x, c.Play))
    assert play.media == "sound:clinic/callback"
    (task,) = d.of(CallbackNeeded)
    assert (task.number, task.branch, task.reason) == ("5550001", "b1", "max_wait")
    assert task.due_at == d.now + timedelta(minutes=15)
    done = m.Playback(id=play.playback_id, media_uri="", target_uri="", state="done")
    d.feed(m.PlaybackFinished(**E, playback=done))
    d.feed(*gone("in", soft=True, cause=32))
    assert (d.ended().outcome, d.ended().failure_reason) == ("missed", "max_wait")


def test_caller_abandons_while_ringing_we_hang_up_every_leg() -> None:
    d = Driver(admins=2)
    legs = ring_up(d)
    out = d.feed(hangup_req("in", cause=127, tech_cause=487))
    assert {x.channel_id for x in out if isinstance(x, c.Hangup)} == set(legs)
    d.feed(stasis_end("in"), destroyed("in", 127))
    for leg in legs:
        d.feed(*gone(leg, soft=True, cause=32))
    assert d.ended().outcome == "abandoned" and d.ended().end_cause == 127
    assert set(d.leg_results().values()) == {"cancelled"}
    assert [t.reason for t in d.of(CallbackNeeded)] == ["abandoned"]
    assert d.s.phase is Phase.DONE


def test_legs_ring_as_long_as_their_group_says() -> None:
    d = Driver(admins=1, ring_timeout=12)
    (leg,) = d.legs()
    d.feed(c.CommandDone(next(x for x in d.of(c.CreateLeg) if x.channel_id == leg)))
    # Asterisk's dial timeout is the group's 12 s, and our own backstop a little later.
    assert d.feed(stasis_start(leg, ["dialed", "in"], "Down")) == [c.Dial(leg, "in", 12)]
    assert c.StartTimer("ring", 12 + 2.0) in d.of(c.StartTimer)


def test_ring_timeout_backstop_hangs_up_the_wave() -> None:
    d = Driver(admins=1)
    (a,) = ring_up(d)
    out = d.feed(c.TimerFired("ring"))
    assert c.Hangup(a) in out and not any(isinstance(x, c.Play) for x in out)


def test_no_admin_in_its_groups_widens_to_the_overflow_groups_at_once() -> None:
    d = Driver(admins=0, routing=CallRouting(overflow_after=30))
    assert [x for x in d.commands if isinstance(x, c.SeekAdmin)][-1].widen
    (leg,) = d.of(c.CreateLeg)
    assert leg.endpoint == "PJSIP/admin900"


def test_no_admin_and_no_overflow_fails_with_message_and_a_callback_task() -> None:
    d = Driver(admins=0)
    (play,) = d.of(c.Play)
    assert play.media == "sound:oops"
    assert [t.reason for t in d.of(CallbackNeeded)] == ["no_admins"]
    d.feed(*gone("in", soft=True, cause=32))
    assert (d.ended().outcome, d.ended().failure_reason) == ("failed", "no_admins")


def test_every_admin_engaged_waits_in_the_queue_until_one_is_free() -> None:
    d = Driver(admins=2, engaged=frozenset({"a0", "a1"}))
    assert d.s.holding_id is not None and not d.of(c.CreateLeg)
    # a1's other call ends: the switchboard nudges this waiting call, which rings a1.
    d.dispatcher.talk_ended("a1", "other-call", d.now)
    out = d.feed(c.AdminFree())
    assert [x.endpoint for x in out if isinstance(x, c.CreateLeg)] == ["PJSIP/admin101"]


def test_dial_409_marks_leg_failed_and_the_call_waits_for_the_next_round() -> None:
    d = Driver(admins=1)
    (a,) = d.legs()
    d.feed(stasis_start(a, ["dialed", "in"], "Down"))
    dial = c.Dial(a, "in", 15)
    out = d.feed(c.CommandFailed(dial, 409, "Channel not in Stasis application"))
    assert out[0] == c.Hangup(a)
    d.feed(*gone(a, soft=True, cause=32))
    assert d.leg_results() == {a: "failed"}
    assert d.s.holding_id is not None and d.s.phase is Phase.OFFERING


def test_admin_engaged_elsewhere_drops_their_ringing_leg() -> None:
    d = Driver(admins=2)
    a, _ = ring_up(d)
    assert d.feed(c.AdminEngaged("a0")) == [c.Hangup(a)]
    d.feed(*gone(a, soft=True, cause=32))
    assert d.leg_results() == {a: "engaged"}
    assert d.s.phase is Phase.OFFERING


def test_vanished_channels_after_a_resync_close_the_call() -> None:
    d = Driver(admins=1)
    (a,) = ring_up(d)
    d.feed(state(a, "Up"))
    d.feed(c.ChannelVanished("in"), c.ChannelVanished(a))
    assert d.ended().outcome == "answered"
    assert d.leg_results() == {a: "answered"}


@pytest.mark.parametrize(
    ("command", "status", "gone"),
    [
        (c.Hangup("x"), 404, True),
        (c.Hangup("x"), 500, False),
        (c.AddToBridge("b", ("x",)), 400, True),  # "Channel not found"
        (c.AddToBridge("b", ("x",)), 422, True),  # "Channel not in Stasis application"
        (c.AddToBridge("b", ("x",)), 404, True),  # the bridge
        (c.RemoveFromBridge("b", "x"), 400, True),
        (c.RemoveFromBridge("b", "x"), 422, True),
        (c.Answer("x"), 400, False),
        (c.Dial("x", "in", 5), 409, False),
        (c.AddToBridge("b", ("x",)), None, False),  # Asterisk unreachable
    ],
)
def test_which_failures_are_the_hang_up_race(command: c.Command, status: int | None, gone: bool) -> None:
    assert c.CommandFailed(command, status, "").gone is gone
