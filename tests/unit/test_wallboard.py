"""The wallboard's pure core: the branch's local day across changes of clocks, the service
level's edges, each fact's effect on the figures and the waiting callers, the day's roll-over,
the seed from the database, the admins' states, who may watch which branch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ari_app.auth.principal import EVERY_SCOPE, Principal
from ari_app.config import ConfigError, parse_settings
from ari_app.facts.types import (
    CallAnswered,
    CallbackNeeded,
    CallEnded,
    CallerIdentified,
    CallQueued,
    CallStarted,
    Fact,
    LegCreated,
    LegEnded,
)
from ari_app.screenpop.wallboard import (
    BranchInfo,
    StoredCall,
    Wallboard,
    apply,
    day_of,
    frame,
    observe_admins,
    roll,
    seed,
)
from ari_app.screenpop.wallroutes import may_watch
from ari_app.service_level import service_level, wait_seconds, within

KYIV = "Europe/Kyiv"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 11:00 in Kyiv
BRANCHES = [
    BranchInfo("downtown", "Downtown", KYIV, {"anna": "Anna", "ben": "Ben"}),
    BranchInfo("riverside", "Riverside", "America/New_York", {"dana": "Dana"}),
]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# ---------------------------------------------------------------------- the local day
@pytest.mark.parametrize(
    ("zone", "now", "day", "start", "hours"),
    [
        # An ordinary day in Kyiv (UTC+2 in winter).
        (KYIV, utc(2026, 3, 2, 9), date(2026, 3, 2), utc(2026, 3, 1, 22), 24),
        # Just before and at local midnight.
        (KYIV, utc(2026, 3, 1, 21, 59, 59), date(2026, 3, 1), utc(2026, 2, 28, 22), 24),
        (KYIV, utc(2026, 3, 1, 22), date(2026, 3, 2), utc(2026, 3, 1, 22), 24),
        # Spring forward (29 March 2026, 03:00 -> 04:00): a 23-hour day.
        (KYIV, utc(2026, 3, 29, 12), date(2026, 3, 29), utc(2026, 3, 28, 22), 23),
        (KYIV, utc(2026, 3, 29, 21, 30), date(2026, 3, 30), utc(2026, 3, 29, 21), 24),
        # Fall back (25 October 2026, 04:00 -> 03:00): a 25-hour day.
        (KYIV, utc(2026, 10, 25, 12), date(2026, 10, 25), utc(2026, 10, 24, 21), 25),
        (KYIV, utc(2026, 10, 25, 22, 0), date(2026, 10, 26), utc(2026, 10, 25, 22), 24),
        # New York: UTC-5, 23 hours on 8 March 2026, 25 on 1 November.
        ("America/New_York", utc(2026, 3, 8, 3), date(2026, 3, 7), utc(2026, 3, 7, 5), 24),
        ("America/New_York", utc(2026, 3, 8, 12), date(2026, 3, 8), utc(2026, 3, 8, 5), 23),
        ("America/New_York", utc(2026, 11, 1, 12), date(2026, 11, 1), utc(2026, 11, 1, 4), 25),
        # Santiago springs forward at midnight (6 September 2026: 00:00 -> 01:00): the day
        # starts at 01:00 local, 04:00 UTC, and lasts 23 hours.
        ("America/Santiago", utc(2026, 9, 6, 12), date(2026, 9, 6), utc(2026, 9, 6, 4), 23),
        ("America/Santiago", utc(2026, 9, 6, 3, 59), date(2026, 9, 5), utc(2026, 9, 5, 4), 24),
        # ...and falls back at midnight (5 April 2026: 00:00 -> 23:00 the day before): 25 hours.
        ("America/Santiago", utc(2026, 4, 4, 12), date(2026, 4, 4), utc(2026, 4, 4, 3), 25),
        ("UTC", utc(2026, 3, 2, 0), date(2026, 3, 2), utc(2026, 3, 2, 0), 24),
    ],
)
def test_the_local_day(zone: str, now: datetime, day: date, start: datetime, hours: int) -> None:
    d = day_of(now, ZoneInfo(zone))
    assert (d.date, d.start, d.end - d.start) == (day, start, timedelta(hours=hours))
    assert d.holds(now) and d.holds(d.start) and not d.holds(d.end)
    assert day_of(d.end, ZoneInfo(zone)).start == d.end  # days follow one another without a gap


# ---------------------------------------------------------------------- the service level
@pytest.mark.parametrize(
    ("answered", "within_", "expected"),
    [(0, 0, None), (1, 0, 0.0), (1, 1, 1.0), (4, 3, 0.75), (3, 5, 1.0), (-1, 0, None)],
)
def test_service_level(answered: int, within_: int, expected: float | None) -> None:
    assert service_level(answered, within_) == expected


@pytest.mark.parametrize(
    ("wait", "threshold", "inside"),
    [(0.0, 20, True), (19.99, 20, True), (20.0, 20, True), (20.01, 20, False), (31, 30, False)],
)
def test_within_the_threshold_includes_it(wait: float, threshold: float, inside: bool) -> None:
    assert within(wait, threshold) is inside


def test_the_wait_runs_from_the_start_never_below_zero() -> None:
    assert wait_seconds(T0, T0 + timedelta(seconds=12.5)) == 12.5
    assert wait_seconds(T0, T0 - timedelta(seconds=1)) == 0.0


def test_the_threshold_is_configured_and_must_be_positive() -> None:
    base = {"version": 1, "branches": [{"id": "b", "name": "B", "dids": [{"number": "5551234"}]}]}
    base["admins"] = [{"login": "anna", "name": "Anna", "endpoint": "PJSIP/a1", "branch": "b"}]
    assert parse_settings(base, "t").calls.service_level_seconds == 20
    assert (
        parse_settings({**base, "calls": {"service_level_seconds": 30}}, "t").calls.service_level_seconds
        == 30
    )
    for bad in (0, -5, "soon"):
        with pytest.raises(ConfigError) as err:
            parse_settings({**base, "calls": {"service_level_seconds": bad}}, "t")
        assert "calls.service_level_seconds" in str(err.value)


# ---------------------------------------------------------------------- facts
def board(now: datetime = T0, threshold: float = 20, count_staff: bool = False) -> Wallboard:
    return Wallboard.of(BRANCHES, threshold, now, count_staff=count_staff)


def started(call_id: str, at: datetime = T0, branch: str | None = "downtown", by: str = "app") -> CallStarted:
    return CallStarted(call_id, f"ch-{call_id}", "+380441234567", "", "5551234", branch, None, at, by)


def feed(wb: Wallboard, *facts: Fact) -> None:
    for f in facts:
        roll(wb, getattr(f, "at", T0))
        apply(wb, f)


def counts(wb: Wallboard, branch: str = "downtown") -> dict[str, object]:
    f = frame(wb, branch, T0)
    c = f["counts"]
    keys = ("calls", "answered", "answered_within", "missed", "abandoned", "closed")
    return {**{k: c[k] for k in keys}, "level": f["service_level"], "asa": f["average_answer_seconds"]}


def s(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (
            [],
            dict(
                calls=0, answered=0, answered_within=0, missed=0, abandoned=0, closed=0, level=None, asa=None
            ),
        ),
        # Answered after 12 s: within 20 s.
        (
            [started("a"), CallAnswered("a", "anna", s(12)), CallEnded("a", "answered", s(90))],
            dict(
                calls=1, answered=1, answered_within=1, missed=0, abandoned=0, closed=0, level=1.0, asa=12.0
            ),
        ),
        # Exactly 20 s: within; 20.5 s: not.
        (
            [started("a"), CallAnswered("a", "anna", s(20)), started("b"), CallAnswered("b", "ben", s(20.5))],
            dict(
                calls=2, answered=2, answered_within=1, missed=0, abandoned=0, closed=0, level=0.5, asa=20.2
            ),
        ),
        # Only calls nobody answered: counted, but no service level (not 0 %).
        (
            [started("a"), CallEnded("a", "abandoned", s(5)), started("b"), CallEnded("b", "missed", s(40))],
            dict(
                calls=2, answered=0, answered_within=0, missed=1, abandoned=1, closed=0, level=None, asa=None
            ),
        ),
        # A colleague's call stays out, even once answered; a patient's after it counts.
        (
            [
                started("a"),
                CallerIdentified("a", "staff", None, 0, False, s(0.2)),
                CallAnswered("a", "anna", s(3)),
                CallEnded("a", "answered", s(30)),
                started("b"),
                CallerIdentified("b", "patient", 7, 1, True, s(0.2)),
                CallEnded("b", "closed", s(8)),
            ],
            dict(
                calls=1, answered=0, answered_within=0, missed=0, abandoned=0, closed=1, level=None, asa=None
            ),
        ),
        # Identified as staff after it was answered (a slow directory): the answer is taken back.
        (
            [
                started("a"),
                CallAnswered("a", "anna", s(3)),
                CallerIdentified("a", "staff", None, 0, False, s(4)),
            ],
            dict(
                calls=0, answered=0, answered_within=0, missed=0, abandoned=0, closed=0, level=None, asa=None
            ),
        ),
        # An answer is counted once; an answered call that ends "interrupted" stays answered.
        (
            [
                started("a"),
                CallAnswered("a", "anna", s(30)),
                CallAnswered("a", "anna", s(31)),
                CallEnded("a", "interrupted", s(60)),
            ],
            dict(
                calls=1, answered=1, answered_within=0, missed=0, abandoned=0, closed=0, level=0.0, asa=30.0
            ),
        ),
        # Another branch's calls, a call of no branch, facts of a call never started here: nothing.
        (
            [
                started("r", branch="riverside"),
                CallAnswered("r", "dana", s(1)),
                started("x", branch=None),
                CallEnded("x", "failed", s(1)),
                CallAnswered("ghost", "anna", s(2)),
                CallEnded("ghost", "missed", s(3)),
            ],
            dict(
                calls=0, answered=0, answered_within=0, missed=0, abandoned=0, closed=0, level=None, asa=None
            ),
        ),
        # The dialplan's fallback calls, imported afterwards, count on their day.
        (
            [
                started("f", by="fallback"),
                CallAnswered("f", "anna", s(25)),
                CallEnded("f", "answered", s(50)),
            ],
            dict(
                calls=1, answered=1, answered_within=0, missed=0, abandoned=0, closed=0, level=0.0, asa=25.0
            ),
        ),
    ],
)
def test_the_figures(facts: list[Fact], expected: dict[str, object]) -> None:
    wb = board()
    feed(wb, *facts)
    assert counts(wb) == expected


def test_staff_calls_count_where_configured() -> None:
    wb = board(count_staff=True)
    feed(
        wb,
        started("a"),
        CallerIdentified("a", "staff", None, 0, False, s(0)),
        CallAnswered("a", "anna", s(2)),
    )
    assert counts(wb)["answered"] == 1


def test_the_threshold_is_the_configured_one() -> None:
    wb = board(threshold=30)
    feed(wb, started("a"), CallAnswered("a", "anna", s(25)))
    assert (counts(wb)["answered_within"], frame(wb, "downtown", T0)["service_level_seconds"]) == (1, 30)


def test_callers_waiting_and_since_when() -> None:
    wb = board()
    changed = apply(wb, started("a"))
    assert changed == {"downtown"}
    feed(
        wb,
        started("b", s(5)),
        LegCreated("a", "l1", "anna", "PJSIP/a1", s(1)),
        CallQueued("b", s(6)),
        CallQueued("b", s(30)),  # queued again after a transfer: still since the first time
        started("fb", s(7), by="fallback"),  # over already: never waiting
    )
    waiting = frame(wb, "downtown", s(10))["waiting"]
    assert waiting == [
        {"call_id": "a", "since": T0.isoformat(), "queued_since": None, "ringing": True},
        {"call_id": "b", "since": s(5).isoformat(), "queued_since": s(6).isoformat(), "ringing": False},
    ]
    feed(wb, LegEnded("a", "l1", "no_answer", s(21)))
    assert frame(wb, "downtown", s(21))["waiting"][0]["ringing"] is False
    feed(wb, CallAnswered("a", "anna", s(22)))  # taken: no longer waiting
    feed(
        wb, CallbackNeeded("b", "+380441234567", "downtown", "max_wait", s(200), s(190))
    )  # told: "we call back"
    assert frame(wb, "downtown", s(191))["waiting"] == []
    feed(wb, CallEnded("b", "missed", s(195)), CallEnded("a", "answered", s(300)))
    assert wb.where == {"fb": "downtown"} and counts(wb)["missed"] == 1


def test_a_call_that_lost_its_end_leaves_after_hours() -> None:
    wb = board()
    feed(wb, started("lost"))
    feed(wb, started("next", T0 + timedelta(hours=7)))
    assert [w["call_id"] for w in frame(wb, "downtown", T0 + timedelta(hours=7))["waiting"]] == ["next"]


def test_the_day_rolls_over_at_the_branchs_midnight() -> None:
    wb = board()
    feed(wb, started("a"), CallEnded("a", "abandoned", s(3)), started("late", utc(2026, 3, 2, 21, 59)))
    midnight_kyiv = utc(2026, 3, 2, 22)
    assert roll(wb, midnight_kyiv - timedelta(seconds=1)) == set()
    assert roll(wb, midnight_kyiv) == {"downtown"}  # New York's day goes on
    assert (
        counts(wb)["abandoned"] == 0 and frame(wb, "downtown", midnight_kyiv)["day"]["date"] == "2026-03-03"
    )
    # A caller still waiting over midnight stays on the board; yesterday's call is not today's.
    assert [w["call_id"] for w in frame(wb, "downtown", midnight_kyiv)["waiting"]] == ["late"]
    feed(wb, CallAnswered("late", "anna", utc(2026, 3, 2, 22, 0, 30)))
    assert counts(wb)["answered"] == 0
    # Yesterday's call answered before midnight, identified as staff after it: today's untouched.
    wb2 = board()
    feed(wb2, started("y", utc(2026, 3, 2, 21, 59)), CallAnswered("y", "anna", utc(2026, 3, 2, 21, 59, 30)))
    roll(wb2, midnight_kyiv)
    feed(wb2, started("t", midnight_kyiv), CallAnswered("t", "anna", midnight_kyiv + timedelta(seconds=2)))
    apply(wb2, CallerIdentified("y", "staff", None, 0, False, midnight_kyiv))
    assert counts(wb2)["answered"] == 1


# ---------------------------------------------------------------------- the seed
def stored(call_id: str, at: datetime, *, answered: float | None = None, outcome: str | None = None,
           stats: bool = True, branch: str = "downtown", settled: bool = False) -> StoredCall:  # fmt: skip
    answered_at = at + timedelta(seconds=answered) if answered is not None else None
    return StoredCall(call_id, branch, at, answered_at, outcome, stats, None, settled)


def test_the_seed_counts_todays_calls_and_shows_those_still_waiting() -> None:
    now = utc(2026, 3, 2, 12)
    wb = board(now)
    rows = [
        stored("yesterday", utc(2026, 3, 1, 21, 59), answered=3, outcome="answered"),  # 23:59 in Kyiv
        stored("a", utc(2026, 3, 1, 22, 0), answered=3, outcome="answered"),  # 00:00 in Kyiv
        stored("b", utc(2026, 3, 2, 8), answered=45, outcome="answered"),
        stored("talking", utc(2026, 3, 2, 11, 58), answered=5),  # answered, not ended yet
        stored("c", utc(2026, 3, 2, 9), outcome="abandoned"),
        stored("staff", utc(2026, 3, 2, 9), answered=1, outcome="answered", stats=False),
        stored("waiting", utc(2026, 3, 2, 11, 59)),
        stored("told", utc(2026, 3, 2, 11, 50), settled=True),  # hearing "we will call you back"
        stored("seen", utc(2026, 3, 2, 11, 59, 30)),  # the facts told of it meanwhile
        stored("r", utc(2026, 3, 2, 11), outcome="missed", branch="riverside"),
        stored("gone", utc(2026, 3, 2, 11), outcome="missed", branch="closed-branch"),
    ]
    assert seed(wb, rows, now, skip={"seen"}) == {"downtown", "riverside"}
    assert counts(wb) == dict(
        calls=4,
        answered=3,
        answered_within=2,
        missed=0,
        abandoned=1,
        closed=0,
        level=round(2 / 3, 4),
        asa=17.7,
    )
    assert [w["call_id"] for w in frame(wb, "downtown", now)["waiting"]] == ["waiting"]
    assert counts(wb, "riverside")["missed"] == 1
    # The waiting caller's end, after the restart, counts once.
    apply(wb, CallEnded("waiting", "abandoned", now))
    apply(wb, CallEnded("talking", "answered", now))
    assert (counts(wb)["abandoned"], counts(wb)["answered"]) == (2, 3)


# ---------------------------------------------------------------------- admins
def test_the_admins_states_and_since_when() -> None:
    wb = board()
    first = [{"login": "anna", "state": "available"}, {"login": "dana", "state": "offline"}]
    assert observe_admins(wb, first, T0) == {"downtown", "riverside"}
    assert observe_admins(wb, first, s(1)) == set()  # nothing new: no frame
    paused = [
        {"login": "anna", "state": "paused", "pause_reason": "lunch"},
        {"login": "ben", "state": "ringing"},
    ]
    assert observe_admins(wb, paused, s(5)) == {"downtown"}
    admins = frame(wb, "downtown", s(6))["admins"]
    assert admins == [
        {"login": "anna", "name": "Anna", "state": "paused", "reason": "lunch", "since": s(5).isoformat()},
        {"login": "ben", "name": "Ben", "state": "ringing", "reason": None, "since": None},
    ]
    # A reason is a pause's only; an admin the desk has not told of shows offline.
    observe_admins(wb, [{"login": "anna", "state": "on_call", "pause_reason": "lunch"}], s(9))
    assert frame(wb, "downtown", s(9))["admins"][0]["reason"] is None
    assert frame(board(), "riverside", T0)["admins"][0]["state"] == "offline"


# ---------------------------------------------------------------------- who may watch
@pytest.mark.parametrize(
    ("who", "branch", "allowed"),
    [
        (Principal("user", "boss", "manager"), "downtown", True),
        (Principal("user", "boss", "manager"), "riverside", True),
        (Principal("user", "anna", "admin", admin_login="anna", branch="downtown"), "downtown", True),
        (Principal("user", "anna", "admin", admin_login="anna", branch="downtown"), "riverside", False),
        (Principal("user", "asya", "assistant", admin_login="anna", branch="downtown"), "downtown", True),
        (Principal("user", "asya", "assistant", admin_login="anna", branch="downtown"), "riverside", False),
        (Principal("user", "odd", "admin", admin_login=None, branch=None), "downtown", False),
        (Principal("service", "crm", scopes=frozenset({"desk:read"})), "riverside", True),
        (Principal("service", "crm", scopes=frozenset({"calls:read"})), "riverside", False),
        (Principal("service", "api-token", scopes=frozenset({EVERY_SCOPE})), "downtown", True),
    ],
)
def test_who_may_watch(who: Principal, branch: str, allowed: bool) -> None:
    assert may_watch(who, branch) is allowed
