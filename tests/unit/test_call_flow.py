"""The call flow around the offer: recording notice, topic menu, closed hours, overflow, transfers."""

from __future__ import annotations

from datetime import timedelta

from ari_app.ari import models as m
from ari_app.calls import commands as c
from ari_app.calls.session import CallRouting, Phase
from ari_app.facts.types import CallbackNeeded, CallTransferred, NoticePlayed, TopicChosen
from tests.unit.test_call_session import T0, Driver, E, chan, gone, ring_up, stasis_start, state


def finished(playback_id: str) -> m.PlaybackFinished:
    return m.PlaybackFinished(
        **E, playback=m.Playback(id=playback_id, media_uri="", target_uri="", state="done")
    )


def dtmf(digit: str) -> m.ChannelDtmfReceived:
    return m.ChannelDtmfReceived(**E, digit=digit, duration_ms=120, channel=chan("in"))


MENU = CallRouting(notice="sound:clinic/recording-notice", menu_prompt="sound:clinic/topic-menu",
                   menu={"1": "booking", "2": "results"}, menu_timeout=4)  # fmt: skip


def test_recording_notice_plays_before_the_call_is_offered_then_ringback() -> None:
    d = Driver(admins=2, routing=CallRouting(notice="sound:clinic/recording-notice"))
    assert [type(x).__name__ for x in d.commands] == ["Answer", "Play", "StartTimer"]
    assert d.s.phase is Phase.GREETING and not d.of(c.CreateLeg)
    notice = d.of(c.Play)[0]
    out = d.feed(finished(notice.playback_id))
    assert [f for f in d.facts if isinstance(f, NoticePlayed)]
    kinds = [type(x).__name__ for x in out]
    assert kinds[:4] == ["CancelTimer", "Ring", "CreateBridge", "SeekAdmin"]
    assert len(d.of(c.CreateLeg)) == 2
    # Once the admin answers, the caller (answered already) is not answered again.
    a, _ = ring_up(d)
    up = d.feed(state(a, "Up"))
    assert not any(isinstance(x, c.Answer) for x in up)


def test_topic_menu_digit_sets_topic_and_stops_the_prompt() -> None:
    d = Driver(admins=2, routing=MENU)
    d.feed(finished(d.of(c.Play)[0].playback_id))
    menu = d.of(c.Play)[1]
    assert menu.media == "sound:clinic/topic-menu"
    assert d.feed(dtmf("7")) == []  # not a topic's digit
    out = d.feed(dtmf("2"))
    assert c.StopPlayback(menu.playback_id) in out
    assert [f.topic for f in d.facts if isinstance(f, TopicChosen)] == ["results"]
    (seek,) = [x for x in out if isinstance(x, c.SeekAdmin)]
    assert seek.topic == "results" and d.s.phase is Phase.OFFERING
    # Later digits choose nothing.
    d.feed(dtmf("1"))
    assert d.s.topic == "results"


def test_topic_menu_without_a_digit_offers_the_call_after_its_timeout() -> None:
    d = Driver(admins=1, routing=MENU)
    d.feed(finished(d.of(c.Play)[0].playback_id))
    out = d.feed(finished(d.of(c.Play)[1].playback_id))
    assert c.StartTimer("menu", 4) in out
    d.feed(c.TimerFired("menu"), dt=4)
    assert d.s.topic is None and len(d.of(c.CreateLeg)) == 1


def test_closed_branch_plays_when_it_opens_and_makes_a_callback_task_due_then() -> None:
    opens = T0 + timedelta(hours=13)
    closed = CallRouting(
        open=False, closed_reason="holiday", next_open=opens,
        closed_media=("sound:clinic/closed", "sound:clinic/we-open", "sound:digits/day-1", "number:8",
                      "sound:digits/a-m", "sound:clinic/callback"),
    )  # fmt: skip
    d = Driver(admins=2, routing=closed)
    assert not d.of(c.CreateLeg) and not d.of(c.SeekAdmin)
    (play,) = d.of(c.Play)
    assert play.media.startswith("sound:clinic/closed,sound:clinic/we-open,sound:digits/day-1")
    (task,) = d.of(CallbackNeeded)
    assert (task.reason, task.due_at) == ("holiday", opens)
    d.feed(finished(play.playback_id), *gone("in", soft=True, cause=32))
    assert (d.ended().outcome, d.ended().failure_reason) == ("closed", "holiday")


def test_overflow_groups_ring_beside_a_wave_still_out_when_their_time_comes() -> None:
    d = Driver(admins=1, routing=CallRouting(overflow_after=6))
    (first,) = ring_up(d)
    out = d.feed(c.TimerFired("overflow"), dt=6)
    # The overflow group's admin rings now, beside a0 whose phone still rings.
    assert [x.endpoint for x in out if isinstance(x, c.CreateLeg)] == ["PJSIP/admin900"]
    assert not any(isinstance(x, c.Hangup) for x in out) and not d.s.legs[first].ended
    assert d.dispatcher.seekers["call1"].groups == ["g", "over"]
    second = next(x.channel_id for x in out if isinstance(x, c.CreateLeg))
    d.feed(stasis_start(second, ["dialed", "in"], "Down"), state(second, "Up"))
    assert d.s.winner is d.s.legs[second] and c.Hangup(first) in d.commands


def test_overflow_with_nobody_free_there_lets_the_wave_ring_on_then_seeks_as_usual() -> None:
    d = Driver(admins=1, routing=CallRouting(overflow_after=6))
    d.dispatcher.answered("x9", "other", d.now)  # the overflow group's only admin is talking
    (first,) = ring_up(d)
    out = d.feed(c.TimerFired("overflow"), dt=6)
    assert not any(isinstance(x, (c.CreateLeg, c.Hangup, c.StartBridgeMoh)) for x in out)
    assert d.s.wave_open and d.s.holding_id is None
    # The wave rings out: the caller waits on hold for either group.
    d.feed(*gone(first, dcause=19, soft=True, cause=32))
    assert d.s.holding_id is not None and d.dispatcher.seekers["call1"].groups == ["g", "over"]


def test_transfer_hands_the_caller_to_another_admin_in_the_same_bridge() -> None:
    d = Driver(admins=2, routing=CallRouting())
    a, b = ring_up(d)
    d.feed(state(a, "Up"))
    d.feed(*gone(b, soft=True, cause=32))
    d.dispatcher.answered("a0", "call1", d.now)
    out = d.feed(c.TransferRequested(("admin", "a1"), by="a0"))
    assert c.Hangup(a) in out and c.StartMoh("in") in out
    (new,) = [x for x in out if isinstance(x, c.CreateLeg)]
    assert new.endpoint == "PJSIP/admin101"
    d.feed(*gone(a, soft=True, cause=32))
    d.feed(stasis_start(new.channel_id, ["dialed", "in"], "Down"))
    up = d.feed(state(new.channel_id, "Up"))
    assert c.StopMoh("in") in up and c.AddToBridge(d.s.bridge_id or "", (new.channel_id,)) in up
    (moved,) = [f for f in d.facts if isinstance(f, CallTransferred)]
    assert (moved.from_admin, moved.to) == ("a0", "admin:a1")
    assert d.leg_results()[a] == "transferred"
    assert len(d.of(c.RecordBridge)) == 1  # one recording for the whole call
    d.feed(*gone("in"), *gone(new.channel_id, soft=True, cause=32))
    assert d.ended().outcome == "answered" and not d.of(CallbackNeeded)


def _transferred_to_a_busy_admin() -> Driver:
    d = Driver(admins=2, routing=CallRouting(max_wait=60))
    a, b = ring_up(d)
    d.feed(state(a, "Up"))
    d.feed(*gone(b, soft=True, cause=32))
    d.dispatcher.answered("a0", "call1", d.now)
    d.dispatcher.answered("a1", "other", d.now)
    d.feed(c.TransferRequested(("admin", "a1"), by="a0"))
    d.feed(*gone(a, soft=True, cause=32))
    return d


def test_transfer_to_a_busy_admin_goes_to_the_calls_own_groups() -> None:
    d = _transferred_to_a_busy_admin()
    # a1 is busy: the caller leaves the mixing bridge for the queue of its groups.
    assert d.s.holding_id is not None
    assert c.RemoveFromBridge(d.s.bridge_id or "", "in") in d.commands


def test_a_caller_who_leaves_while_being_transferred_was_answered() -> None:
    d = _transferred_to_a_busy_admin()
    d.feed(*gone("in", dcause=16))
    # They talked with a0: answered, and nobody owes them a call back.
    assert d.ended().outcome == "answered" and not d.of(CallbackNeeded)


def test_a_transferred_caller_nobody_takes_hears_the_callback_promise_after_max_wait() -> None:
    d = _transferred_to_a_busy_admin()
    # The transfer starts the caller's maximum wait again.
    assert c.StartTimer("max_wait", 60) in d.of(c.StartTimer)
    out = d.feed(c.TimerFired("max_wait"), dt=60)
    play = next(x for x in out if isinstance(x, c.Play))
    assert play.media == "sound:clinic/callback"
    assert [t.reason for t in d.of(CallbackNeeded)] == ["transfer_unanswered"]
    d.feed(finished(play.playback_id), *gone("in", soft=True, cause=32))
    assert (d.ended().outcome, d.ended().failure_reason) == ("answered", "transfer_unanswered")


def test_transfer_from_the_phone_is_confirmed_then_routed_like_an_api_transfer() -> None:
    d = Driver(admins=2, routing=CallRouting())
    a, b = ring_up(d)
    d.feed(state(a, "Up"))
    d.feed(*gone(b, soft=True, cause=32))
    d.dispatcher.answered("a0", "call1", d.now)
    out = d.feed(c.TransferRequested(("admin", "a1"), by="a0", phone_channel=a))
    assert out.index(c.TransferProgress(a, "channel_answered")) < out.index(c.Hangup(a))
    assert [x.endpoint for x in out if isinstance(x, c.CreateLeg)] == ["PJSIP/admin101"]


def test_transfer_from_the_phone_to_nobody_known_is_declined_and_the_call_goes_on() -> None:
    d = Driver(admins=1, routing=CallRouting())
    (a,) = ring_up(d)
    d.feed(state(a, "Up"))
    out = d.feed(c.TransferRequested(None, by="a0", phone_channel=a))
    assert out == [c.TransferProgress(a, "channel_declined")]
    assert d.s.phase is Phase.CONNECTED and d.s.winner is not None
