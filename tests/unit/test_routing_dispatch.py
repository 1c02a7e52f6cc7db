"""The dispatcher: presence, waves per strategy across groups, the queue's order, overflow, transfers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from ari_app.routing.dispatch import AdminRuntime, Dispatcher, GroupRule
from ari_app.routing.strategies import Presence

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def desk(strategy: str = "ring_all", **changes: dict) -> Dispatcher:
    rules = [
        GroupRule("front", strategy, 0, 20),  # type: ignore[arg-type]
        GroupRule("center", "least_recent", 10, 15),
    ]
    admins = [
        AdminRuntime("anna", "PJSIP/101", ("front",), frozenset({"booking"}), order=1),
        AdminRuntime("ben", "PJSIP/102", ("front",), frozenset({"results"}), order=2),
        AdminRuntime("chen", "PJSIP/103", ("front",), order=3),
        AdminRuntime("fay", "PJSIP/201", ("center",), frozenset({"booking", "results"})),
    ]
    for a in admins:
        for k, v in changes.get(a.login, {}).items():
            setattr(a, k, v)
    return Dispatcher(rules, admins, wrap_up=10, rng=random.Random(1))


def wave(d: Dispatcher, call: str = "c1", at: datetime = NOW, **kw: object) -> tuple[list[str], str | None]:
    d.seek(call, ("front",), ("center",), at, **kw)  # type: ignore[arg-type]
    w = d.next_wave(call, at)
    return [t.admin for t in w.targets], w.reason


# fmt: off
WAVES = [
    ("ring_all", {}, (["anna", "ben", "chen"], None)),
    ("linear", {}, (["anna"], None)),
    ("linear", {"anna": {"on_call": "x"}}, (["ben"], None)),
    ("least_recent", {"anna": {"last_call_ended": NOW - timedelta(minutes=1)},
                      "ben": {"last_call_ended": NOW - timedelta(minutes=30)},
                      "chen": {"last_call_ended": NOW - timedelta(minutes=5)}}, (["ben"], None)),
    ("fewest_calls", {"anna": {"calls_today": 9, "calls_day": NOW.date()},
                      "ben": {"calls_today": 2, "calls_day": NOW.date()},
                      "chen": {"calls_today": 5, "calls_day": NOW.date()}}, (["ben"], None)),
    # yesterday's count does not count today
    ("fewest_calls", {"anna": {"calls_today": 0, "calls_day": NOW.date()},
                      "ben": {"calls_today": 1, "calls_day": NOW.date()},
                      "chen": {"calls_today": 9, "calls_day": NOW.date() - timedelta(days=1)}}, (["anna"], None)),
    # paused, wrap-up, offline, ringing for another call: not offered
    ("ring_all", {"anna": {"paused": "lunch"}, "ben": {"wrap_until": NOW + timedelta(seconds=5)}},
     (["chen"], None)),
    ("ring_all", {"anna": {"registered": False}, "ben": {"ringing": "other"}}, (["chen"], None)),
    # wrap-up over: offered again
    ("ring_all", {"anna": {"wrap_until": NOW - timedelta(seconds=1)}, "ben": {"on_call": "x"},
                  "chen": {"on_call": "y"}}, (["anna"], None)),
    # nobody free in the front group: not the overflow group before it is widened
    ("ring_all", {"anna": {"on_call": "x"}, "ben": {"paused": "x"}, "chen": {"registered": False}},
     ([], "all_busy")),
    ("ring_all", {"anna": {"registered": False}, "ben": {"registered": False},
                  "chen": {"registered": False}}, ([], "nobody_logged_in")),
]
# fmt: on


@pytest.mark.parametrize(("strategy", "changes", "expected"), WAVES)
def test_waves(strategy: str, changes: dict, expected: tuple[list[str], str | None]) -> None:
    assert wave(desk(strategy, **changes)) == expected


def test_round_robin_remembers_where_it_stopped() -> None:
    d = desk("round_robin")
    firsts = []
    for n in range(4):
        got, _ = wave(d, f"c{n}")
        firsts.append(got[0])
        d.done(f"c{n}")
    assert firsts == ["anna", "ben", "chen", "anna"]


def test_random_rings_one_free_admin_at_a_time() -> None:
    got, _ = wave(desk("random"))
    assert len(got) == 1 and got[0] in {"anna", "ben", "chen"}


def test_skill_first_then_the_rest_then_the_round_is_over() -> None:
    d = desk("ring_all")
    assert wave(d, skill="results") == (["ben"], None)
    d.leg_ended("ben", "c1")
    assert [t.admin for t in d.next_wave("c1", NOW).targets] == ["anna", "chen"]
    d.leg_ended("anna", "c1")
    d.leg_ended("chen", "c1")
    assert d.next_wave("c1", NOW).reason == "all_tried"
    d.reset("c1")  # a new round: the skilled admin first again
    assert [t.admin for t in d.next_wave("c1", NOW).targets] == ["ben"]


def test_known_caller_rings_their_last_admin_first_when_free() -> None:
    assert wave(desk("ring_all"), preferred="chen") == (["chen"], None)
    assert wave(desk("ring_all", chen={"on_call": "x"}), preferred="chen") == (["anna", "ben"], None)


def test_overflow_joins_only_when_widened() -> None:
    d = desk("ring_all", anna={"on_call": "x"}, ben={"on_call": "y"}, chen={"paused": "z"})
    assert wave(d) == ([], "all_busy")
    assert d.widen("c1") and not d.widen("c1")
    assert [t.admin for t in d.next_wave("c1", NOW).targets] == ["fay"]


def test_a_new_call_does_not_jump_the_queue() -> None:
    d = desk("ring_all", anna={"on_call": "x"}, ben={"on_call": "y"}, chen={"on_call": "z"})
    assert wave(d, "old", NOW - timedelta(seconds=40)) == ([], "all_busy")
    d.talk_ended("chen", "z", NOW)
    d.end_wrap_up("chen", NOW)
    # chen is free; the call waiting 40 s is owed them, not the one that just arrived.
    assert d.waiting_for(NOW) == ["old"]
    assert wave(d, "new") == ([], "all_busy")
    assert [t.admin for t in d.next_wave("old", NOW).targets] == ["chen"]
    assert d.position("new") == 1  # "old" is ringing chen now, not waiting


def test_higher_priority_group_calls_get_a_shared_admin_first() -> None:
    rules = [GroupRule("desk", "ring_all", 0, 20), GroupRule("vip", "ring_all", 10, 20)]
    shared = AdminRuntime("sam", "PJSIP/300", ("desk", "vip"), on_call="x")
    d = Dispatcher(rules, [shared], wrap_up=0)
    d.seek("early", ("desk",), (), NOW - timedelta(minutes=5))
    d.seek("vip", ("vip",), (), NOW)
    assert d.next_wave("early", NOW).reason == "all_busy" and d.next_wave("vip", NOW).reason == "all_busy"
    assert (d.position("early"), d.position("vip")) == (1, 1)
    d.talk_ended("sam", "x", NOW)
    assert d.waiting_for(NOW) == ["vip"]
    assert d.next_wave("early", NOW).reason == "all_busy"
    assert [t.admin for t in d.next_wave("vip", NOW).targets] == ["sam"]


def test_positions_and_expected_wait() -> None:
    d = desk("ring_all", anna={"on_call": "x"}, ben={"on_call": "y"}, chen={"on_call": "z"})
    for n in range(3):
        wave(d, f"c{n}", NOW + timedelta(seconds=n))
    assert [d.position(f"c{n}") for n in range(3)] == [1, 2, 3]
    # 3 calls ahead-or-at, 180 s average talk, 3 admins on duty
    assert d.expected_wait("c2", NOW) == pytest.approx(3 * 180 / 3)
    d.done("c0")
    assert d.position("c2") == 2


def test_presence_moves_through_a_call_and_wrap_up() -> None:
    d = desk()
    wave(d)
    anna = d.admins["anna"]
    assert anna.presence(NOW) is Presence.RINGING
    d.answered("anna", "c1", NOW)
    d.done("c1")
    assert anna.presence(NOW) is Presence.ON_CALL and d.admins["ben"].presence(NOW) is Presence.AVAILABLE
    d.talk_ended("anna", "c1", NOW + timedelta(minutes=3), talk_seconds=180)
    assert anna.presence(NOW + timedelta(minutes=3, seconds=5)) is Presence.WRAP_UP
    assert anna.presence(NOW + timedelta(minutes=3, seconds=11)) is Presence.AVAILABLE
    assert anna.state(NOW).calls_today == 1


def test_transfer_to_one_admin_rings_only_them() -> None:
    d = desk()
    d.seek("c1", (), (), NOW, only="fay")
    assert [t.admin for t in d.next_wave("c1", NOW).targets] == ["fay"]
    d.leg_ended("fay", "c1")
    assert d.next_wave("c1", NOW).reason == "all_tried"
    d2 = desk(fay={"on_call": "x"})
    d2.seek("c1", (), (), NOW, only="fay")
    assert d2.next_wave("c1", NOW).reason == "all_busy"
