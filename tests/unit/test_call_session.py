"""The call state machine, driven by event sequences as Asterisk 22 sends them (see the traces)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from ari_app.ari import models as m
from ari_app.calls import commands as c
from ari_app.calls.session import CallPolicy, CallSession, Phase
from ari_app.routing import Target, ring_all

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
POLICY = CallPolicy(
    ring_timeout=15, record=True, missed_media="sound:vm-nobodyavail", failed_media="sound:oops"
)


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


class Driver:
    def __init__(self, admins: int = 2, engaged: frozenset[str] = frozenset(), policy: CallPolicy = POLICY):
        ids = (f"id{n}" for n in itertools.count())
        targets = [Target(f"a{i}", f"PJSIP/admin10{i}") for i in range(admins)]
        plan = ring_all(True, targets, engaged) if admins else ring_all(True, [], engaged)
        self.now = T0
        self.s = CallSession(
            call_id="call1", start=stasis_start("in", ["5551234"]), did="5551234", branch="b1",
            ad_channel="site", plan=plan, policy=policy, new_id=lambda: next(ids), now=self.now,
        )  # fmt: skip
        self.commands: list[c.Command] = []
        self.facts: list[c.Fact] = []
        self._take(self.s.begin(self.now))

    def _take(self, step: c.Step) -> c.Step:
        self.commands += step.commands
        self.facts += step.facts
        return step

    def feed(self, *items: object, dt: float = 0.5) -> list[c.Command]:
        out: list[c.Command] = []
        for item in items:
            self.now += timedelta(seconds=dt)
            step = self._take(self.s.handle(item, self.now))  # type: ignore[arg-type]
            out += step.commands
            # The runner reports every ARI command's success back, as it does in production.
            for cmd in step.commands:
                if not isinstance(cmd, (c.StartTimer, c.CancelTimer, c.CollectRecording)):
                    out += self.feed(c.CommandDone(cmd), dt=0)
        return out

    def of(self, kind: type) -> list:
        return [x for x in self.commands + self.facts if isinstance(x, kind)]

    def legs(self) -> list[str]:
        return [x.channel_id for x in self.of(c.CreateLeg)]

    def ended(self) -> c.CallEnded:
        (end,) = self.of(c.CallEnded)
        return end

    def leg_results(self) -> dict[str, str]:
        return {f.leg_id: f.result for f in self.of(c.LegEnded)}


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
    assert kinds == ["Ring", "CreateBridge", "CreateLeg", "CreateLeg", "StartTimer"]
    assert [x.endpoint for x in d.of(c.CreateLeg)] == ["PJSIP/admin100", "PJSIP/admin102"]
    leg = d.of(c.CreateLeg)[0]
    assert leg.app_args == ("dialed", "in") and leg.originator == "in"
    assert dict(leg.variables) == {"CALLERID(num)": "5550001", "CALLERID(name)": "5550001"}
    assert isinstance(d.facts[0], c.CallStarted) and d.facts[0].ad_channel == "site"


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
    kinds = [type(x).__name__ for x in out]
    assert kinds[:4] == ["CancelTimer", "Answer", "AddToBridge", "Hangup"]
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
def test_all_legs_fail_then_caller_hears_message_and_call_is_missed(events, result: str, cause: int) -> None:
    d = Driver(admins=2)
    legs = ring_up(d)
    out: list[c.Command] = []
    for leg in legs:
        out += d.feed(*events(leg))
    assert [type(x).__name__ for x in out if not isinstance(x, (c.CancelTimer, c.DestroyBridge))] == [
        "Answer", "Play", "StartTimer",
    ]  # fmt: skip
    play = next(x for x in out if isinstance(x, c.Play))
    assert play.media == "sound:vm-nobodyavail"
    assert set(d.leg_results().values()) == {result}
    assert d.feed(
        m.PlaybackFinished(
            **E, playback=m.Playback(id=play.playback_id, media_uri="", target_uri="", state="done")
        )
    ) == [c.Hangup("in")]
    d.feed(*gone("in", soft=True, cause=32))
    assert d.ended().outcome == "missed"


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
    assert d.s.phase is Phase.DONE


def test_ring_timeout_backstop_hangs_up_legs_and_plays_message() -> None:
    d = Driver(admins=1)
    (a,) = ring_up(d)
    out = d.feed(c.TimerFired("ring"))
    assert c.Hangup(a) in out and any(isinstance(x, c.Play) for x in out)


def test_no_admin_for_did_fails_with_message() -> None:
    d = Driver(admins=0)
    assert [type(x).__name__ for x in d.commands if not isinstance(x, c.CancelTimer)] == [
        "Answer",
        "Play",
        "StartTimer",
    ]
    assert d.of(c.Play)[0].media == "sound:oops"
    d.feed(*gone("in", soft=True, cause=32))
    assert (d.ended().outcome, d.ended().failure_reason) == ("failed", "no_admins")


def test_every_admin_engaged_is_missed_not_failed() -> None:
    d = Driver(admins=2, engaged=frozenset({"a0", "a1"}))
    assert d.of(c.Play)[0].media == "sound:vm-nobodyavail"
    d.feed(*gone("in", soft=True, cause=32))
    assert d.ended().outcome == "missed"


def test_dial_409_marks_leg_failed_and_all_failed_legs_fail_the_call() -> None:
    d = Driver(admins=1)
    (a,) = d.legs()
    d.feed(stasis_start(a, ["dialed", "in"], "Down"))
    dial = c.Dial(a, "in", 15)
    out = d.feed(c.CommandFailed(dial, 409, "Channel not in Stasis application"))
    assert out[0] == c.Hangup(a)
    d.feed(*gone(a, soft=True, cause=32))
    assert d.leg_results() == {a: "failed"}
    assert any(isinstance(x, c.Play) and x.media == "sound:oops" for x in d.commands)


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
