"""Routing as tables: every strategy and edge case; opening hours across DST, holidays, closing."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest

from ari_app.routing.hours import Interval, Schedule, status
from ari_app.routing.strategies import STRATEGIES, AdminState, Presence, offer

T = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
A = Presence.AVAILABLE


def admin(
    login: str, order: int, presence: Presence = A, idle_min: int | None = None, calls: int = 0
) -> AdminState:
    ended = None if idle_min is None else T - timedelta(minutes=idle_min)
    return AdminState(login, f"PJSIP/{login}", order, presence, ended, calls)


TEAM = [
    admin("anna", 1, idle_min=5, calls=7),
    admin("ben", 2, idle_min=30, calls=2),
    admin("chen", 3, idle_min=None, calls=4),
    admin("dana", 4, Presence.ON_CALL, idle_min=1, calls=1),
]


def logins(waves: tuple[tuple[object, ...], ...]) -> list[list[str]]:
    return [[t.admin for t in wave] for wave in waves]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("strategy", "kwargs", "expected"),
    [
        ("ring_all", {}, [["anna", "ben", "chen"]]),
        ("linear", {}, [["anna"], ["ben"], ["chen"]]),
        ("round_robin", {"last_offered": None}, [["anna"], ["ben"], ["chen"]]),
        ("round_robin", {"last_offered": "anna"}, [["ben"], ["chen"], ["anna"]]),
        # dana (busy) keeps her place in the circle: after her comes anna
        ("round_robin", {"last_offered": "chen"}, [["anna"], ["ben"], ["chen"]]),
        ("round_robin", {"last_offered": "dana"}, [["anna"], ["ben"], ["chen"]]),
        ("round_robin", {"last_offered": "ben"}, [["chen"], ["anna"], ["ben"]]),
        ("round_robin", {"last_offered": "left-the-team"}, [["anna"], ["ben"], ["chen"]]),
        ("least_recent", {}, [["chen"], ["ben"], ["anna"]]),  # chen has had no call yet
        ("fewest_calls", {}, [["ben"], ["chen"], ["anna"]]),
        ("random", {"rng": random.Random(3)}, None),
        # a known patient goes first to their admin, alone, when that admin is free
        ("ring_all", {"preferred": "ben"}, [["ben"], ["anna", "chen"]]),
        ("linear", {"preferred": "chen"}, [["chen"], ["anna"], ["ben"]]),
        ("ring_all", {"preferred": "dana"}, [["anna", "ben", "chen"]]),  # dana is on a call
    ],
)
def test_strategies(strategy: str, kwargs: dict[str, object], expected: list[list[str]] | None) -> None:
    got = offer(strategy, TEAM, **kwargs)  # type: ignore[arg-type]
    assert got.reason is None
    if expected is None:  # random: every free admin once, alone, in the seeded order
        assert sorted(t.admin for t in got.targets) == ["anna", "ben", "chen"]
        assert all(len(w) == 1 for w in got.waves)
        assert logins(got.waves) == logins(offer(strategy, TEAM, rng=random.Random(3)).waves)  # type: ignore[arg-type]
    else:
        assert logins(got.waves) == expected


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(
    ("team", "reason"),
    [
        ([], "no_admins"),
        ([admin("anna", 1, Presence.OFFLINE), admin("ben", 2, Presence.OFFLINE)], "nobody_logged_in"),
        ([admin("anna", 1, Presence.ON_CALL), admin("ben", 2, Presence.OFFLINE)], "all_busy"),
        ([admin("anna", 1, Presence.WRAP_UP), admin("ben", 2, Presence.PAUSED)], "all_busy"),
    ],
)
def test_nobody_to_offer(strategy: str, team: list[AdminState], reason: str) -> None:
    got = offer(strategy, team, rng=random.Random(1))  # type: ignore[arg-type]
    assert got.waves == () and got.reason == reason


def test_unknown_strategy_is_named() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'loudest'"):
        offer("loudest", TEAM)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ hours
NINE_TO_SIX = (Interval(time(9), time(18)),)
BERLIN = Schedule(
    "Europe/Berlin",
    {d: NINE_TO_SIX for d in range(5)} | {5: (Interval(time(10), time(14)),)},
    holiday_country="DE",
    closed_days=frozenset({date(2026, 12, 31)}),
    special_days={date(2026, 12, 24): (Interval(time(9), time(12)),)},
)


def berlin(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN.zone)


@pytest.mark.parametrize(
    ("now", "is_open", "reason", "holiday", "next_or_close"),
    [
        (berlin(2026, 12, 2, 9, 0), True, "open", None, berlin(2026, 12, 2, 18)),
        (berlin(2026, 12, 2, 17, 59), True, "open", None, berlin(2026, 12, 2, 18)),
        (berlin(2026, 12, 2, 18, 0), False, "closed_hours", None, berlin(2026, 12, 3, 9)),
        (berlin(2026, 12, 2, 8, 59), False, "closed_hours", None, berlin(2026, 12, 2, 9)),
        (berlin(2026, 12, 5, 13, 0), True, "open", None, berlin(2026, 12, 5, 14)),  # Saturday
        (berlin(2026, 12, 6, 12, 0), False, "closed_hours", None, berlin(2026, 12, 7, 9)),  # Sunday
        (berlin(2026, 12, 25, 10, 0), False, "holiday", "Christmas Day", berlin(2026, 12, 28, 9)),
        (berlin(2026, 12, 24, 11, 0), True, "open", None, berlin(2026, 12, 24, 12)),  # short day
        (berlin(2026, 12, 31, 10, 0), False, "holiday", "clinic closed", berlin(2027, 1, 2, 10)),
        # the clocks go back on 25 October 2026 (03:00 CEST -> 02:00 CET): Monday opens at 09:00 CET
        (berlin(2026, 10, 26, 8, 30), False, "closed_hours", None, berlin(2026, 10, 26, 9)),
        (datetime(2026, 10, 26, 8, 0, tzinfo=UTC), True, "open", None, berlin(2026, 10, 26, 18)),
        # and forward on 29 March 2026: 09:00 CEST is 07:00 UTC
        (datetime(2026, 3, 30, 6, 59, tzinfo=UTC), False, "closed_hours", None, berlin(2026, 3, 30, 9)),
        (datetime(2026, 3, 30, 7, 0, tzinfo=UTC), True, "open", None, berlin(2026, 3, 30, 18)),
    ],
)
def test_opening_hours(
    now: datetime, is_open: bool, reason: str, holiday: str | None, next_or_close: datetime
) -> None:
    st = status(BERLIN, now)
    assert (st.open, st.reason, st.holiday) == (is_open, reason, holiday)
    assert (st.closes_at if is_open else st.next_open) == next_or_close


def test_just_before_closing() -> None:
    now = berlin(2026, 12, 2, 17, 58)
    st = status(BERLIN, now)
    assert st.open and st.closing_within(180, now) and not st.closing_within(60, now)


def test_hours_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="must be after opens"):
        Interval(time(18), time(9))
    with pytest.raises(ValueError, match="timezone-aware"):
        status(BERLIN, datetime(2026, 12, 2, 10))
