"""Linking booking events to calls as tables: every window edge, calls in progress, ties, relinks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ari_app.bookings.linking import CallSpan, EventAt, Link, Windows, best_link, distance

T0 = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)  # the call of the domain's example: 13:00-13:15
START, END = T0, T0 + timedelta(minutes=15)
LATER = T0 + timedelta(hours=3)  # "now" long after every event
W = Windows()


def at(minutes: int, seconds: int = 0) -> datetime:
    """13:00 plus (or minus) minutes and seconds."""
    sign = -1 if minutes < 0 or seconds < 0 else 1
    return T0 + sign * timedelta(minutes=abs(minutes), seconds=abs(seconds))


def span(
    call_id: str, start: int, end: int | None, admin: str | None = None, rule: str = "patient"
) -> CallSpan:
    return CallSpan(call_id, at(start), None if end is None else at(end), admin, rule)


CALL = span("c", 0, 15)


@pytest.mark.parametrize(
    ("kind", "happened_at", "expected"),
    [
        # created: from 30 minutes before the start to 30 minutes after the end, both edges in
        ("created", START - timedelta(minutes=30, seconds=1), None),
        ("created", START - timedelta(minutes=30), 1800.0),
        ("created", START - timedelta(minutes=29, seconds=59), 1799.0),
        ("created", START - timedelta(seconds=1), 1.0),
        ("created", START, 0.0),
        ("created", START + timedelta(minutes=7), 0.0),
        ("created", END, 0.0),
        ("created", END + timedelta(seconds=1), 1.0),
        ("created", END + timedelta(minutes=29, seconds=59), 1799.0),
        ("created", END + timedelta(minutes=30), 1800.0),
        ("created", END + timedelta(minutes=30, seconds=1), None),
        # cancellations and moves: 15 minutes either side
        ("cancelled", START - timedelta(minutes=15, seconds=1), None),
        ("cancelled", START - timedelta(minutes=15), 900.0),
        ("cancelled", START - timedelta(minutes=14, seconds=59), 899.0),
        ("cancelled", START + timedelta(minutes=7), 0.0),
        ("cancelled", END + timedelta(minutes=14, seconds=59), 899.0),
        ("cancelled", END + timedelta(minutes=15), 900.0),
        ("cancelled", END + timedelta(minutes=15, seconds=1), None),
        ("moved", START - timedelta(minutes=15, seconds=1), None),
        ("moved", START - timedelta(minutes=15), 900.0),
        ("moved", START - timedelta(minutes=14, seconds=59), 899.0),
        ("moved", END, 0.0),
        ("moved", END + timedelta(minutes=14, seconds=59), 899.0),
        ("moved", END + timedelta(minutes=15), 900.0),
        ("moved", END + timedelta(minutes=15, seconds=1), None),
        # a change 20 minutes off is outside though a creation there would be in
        ("cancelled", START - timedelta(minutes=20), None),
        ("moved", END + timedelta(minutes=20), None),
        ("created", END + timedelta(minutes=20), 1200.0),
    ],
)
def test_window_edges(kind: str, happened_at: datetime, expected: float | None) -> None:
    assert distance(EventAt(kind, happened_at, None), CALL, LATER) == expected


@pytest.mark.parametrize(
    ("call", "happened_at", "now", "expected"),
    [
        # still in progress at 13:20: its span so far ends now
        (span("c", 0, None), at(10), at(20), 0.0),
        (span("c", 0, None), at(20), at(20), 0.0),
        (span("c", 0, None), at(-30), at(20), 1800.0),
        (span("c", 0, None), at(-30, -1), at(20), None),
        # an event later than now has not happened yet as far as we know
        (span("c", 0, None), at(20, 1), at(20), None),
        (span("c", 0, 15), at(31), at(30), None),
        (span("c", 0, 15), at(30), at(30), 900.0),
        # a call in progress that started at now
        (span("c", 0, None), at(0), at(0), 0.0),
        (span("c", 0, None), at(-1), at(0), 60.0),
    ],
)
def test_calls_in_progress_and_now(
    call: CallSpan, happened_at: datetime, now: datetime, expected: float | None
) -> None:
    assert distance(EventAt("created", happened_at, None), call, now) == expected


CUSTOM = Windows(
    created_before=timedelta(minutes=10),
    created_after=timedelta(minutes=60),
    change_before=timedelta(minutes=5),
    change_after=timedelta(minutes=2),
)


@pytest.mark.parametrize(
    ("kind", "happened_at", "expected"),
    [
        ("created", START - timedelta(minutes=10), 600.0),
        ("created", START - timedelta(minutes=10, seconds=1), None),
        ("created", END + timedelta(minutes=60), 3600.0),
        ("created", END + timedelta(minutes=60, seconds=1), None),
        ("cancelled", START - timedelta(minutes=5), 300.0),
        ("cancelled", START - timedelta(minutes=5, seconds=1), None),
        ("moved", END + timedelta(minutes=2), 120.0),
        ("moved", END + timedelta(minutes=2, seconds=1), None),
    ],
)
def test_custom_windows(kind: str, happened_at: datetime, expected: float | None) -> None:
    assert distance(EventAt(kind, happened_at, None), CALL, LATER, CUSTOM) == expected
    link = best_link(EventAt(kind, happened_at, None), [CALL], CUSTOM, LATER)
    assert (link.distance_seconds if link else None) == expected


BEST_LINK = [
    # nothing to link
    ([], EventAt("created", at(5), None), None),
    ([span("a", 0, 15)], EventAt("created", at(46), None), None),
    ([span("a", 0, 15), span("b", 80, 90)], EventAt("created", at(46), None), None),
    # the nearer call wins, whoever answered it and by whichever rule
    ([span("a", -20, -10), span("b", 0, 15)], EventAt("created", at(-3), None), Link("b", "patient", 180.0)),
    ([span("a", -20, -10, "anna", "comment"), span("b", 0, 15, "ben", "family")], EventAt("created", at(-4), "anna"), Link("b", "family", 240.0)),
    # inside one call (0) beats right after another that overlaps it
    ([span("a", 0, 10), span("b", 5, 20)], EventAt("created", at(15), None), Link("b", "patient", 0.0)),
    # equal distance: the call answered by the event's admin
    ([span("a", -30, -20, "anna"), span("b", 0, 15, "ben")], EventAt("created", at(-10), "ben"), Link("b", "patient", 600.0)),
    ([span("a", -30, -20, "anna"), span("b", 0, 15, "ben")], EventAt("created", at(-10), "anna"), Link("a", "patient", 600.0)),
    # the admin breaks the tie before the rule does
    ([span("a", -30, -20, "anna", "comment"), span("b", 0, 15, "ben", "family")], EventAt("created", at(-10), "ben"), Link("b", "family", 600.0)),
    # no admin on the event (or one who answered neither): rule comment > patient > family
    ([span("a", -30, -20, "anna", "family"), span("b", 0, 15, "ben", "comment")], EventAt("created", at(-10), None), Link("b", "comment", 600.0)),
    ([span("a", -30, -20, "anna", "patient"), span("b", 0, 15, "ben", "family")], EventAt("created", at(-10), "zoe"), Link("a", "patient", 600.0)),
    ([span("a", -30, -20, None, "comment"), span("b", 0, 15, None, "patient")], EventAt("moved", at(-10), None), Link("a", "comment", 600.0)),
    # same distance, admin and rule: the earlier call, then the call id
    ([span("b", 0, 15), span("a", -30, -20)], EventAt("created", at(-10), None), Link("a", "patient", 600.0)),
    ([span("b", 0, 15), span("a", 0, 15)], EventAt("created", at(5), None), Link("a", "patient", 0.0)),
    ([span("a", 0, 15), span("b", 0, 15)], EventAt("created", at(5), None), Link("a", "patient", 0.0)),
    # a child's booking made after the mother's call: linked through the family
    ([span("mother", 0, 15, "anna", "family")], EventAt("created", at(40), "anna"), Link("mother", "family", 1500.0)),
    # the mother's call and the child's own number an hour earlier: the mother's is nearer
    ([span("child", -60, -50, None, "patient"), span("mother", 0, 15, "anna", "family")], EventAt("created", at(20), None), Link("mother", "family", 300.0)),
    # a cancellation 20 minutes after: outside its 15, though a creation there would link
    ([span("a", 0, 15)], EventAt("cancelled", at(35), None), None),
    ([span("a", 0, 15)], EventAt("created", at(35), None), Link("a", "patient", 1200.0)),
]  # fmt: skip


@pytest.mark.parametrize(("calls", "event", "expected"), BEST_LINK)
def test_best_link(calls: list[CallSpan], event: EventAt, expected: Link | None) -> None:
    assert best_link(event, calls, W, LATER) == expected
    assert best_link(event, list(reversed(calls)), W, LATER) == expected  # input order never matters


LATE_COMMENT = [
    # a late comment on a call from an unknown number names the patient: equal distance, comment wins
    ([span("mother", 0, 10, "anna", "family")], span("unknown", 50, 60, "ben", "comment"), EventAt("created", at(30), None), Link("unknown", "comment", 1200.0)),
    # ... or that call is simply nearer
    ([span("mother", 0, 10, "anna", "family")], span("unknown", 35, 45, "ben", "comment"), EventAt("created", at(30), None), Link("unknown", "comment", 300.0)),
    # ... but a farther commented call does not take the link away
    ([span("own", 0, 10, "anna", "patient")], span("later", 55, 60, "ben", "comment"), EventAt("created", at(30), None), Link("own", "patient", 1200.0)),
    # the same admin's call still beats a comment at equal distance
    ([span("own", 0, 10, "anna", "patient")], span("later", 50, 60, "ben", "comment"), EventAt("created", at(30), "anna"), Link("own", "patient", 1200.0)),
]  # fmt: skip


@pytest.mark.parametrize(("before", "after", "event", "now_after"), LATE_COMMENT)
def test_relink_after_late_comment(
    before: list[CallSpan], after: CallSpan, event: EventAt, now_after: Link
) -> None:
    first = best_link(event, before, W, LATER)
    assert first is not None and first.call_id == before[0].call_id  # linked before the comment
    assert best_link(event, [*before, after], W, LATER) == now_after


def test_relink_when_the_call_ends() -> None:
    """A booking made 40 minutes after a call started: not yet linkable while the call goes on
    (it is in the future of 'now'), linked once the call has ended and time has passed."""
    event = EventAt("created", at(40), "anna")
    assert best_link(event, [span("c", 0, None, "anna")], W, at(35)) is None
    assert best_link(event, [span("c", 0, None, "anna")], W, at(45)) == Link("c", "patient", 0.0)
    assert best_link(event, [span("c", 0, 20, "anna")], W, at(45)) == Link("c", "patient", 1200.0)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("created", (timedelta(minutes=30), timedelta(minutes=30))),
        ("cancelled", (timedelta(minutes=15), timedelta(minutes=15))),
        ("moved", (timedelta(minutes=15), timedelta(minutes=15))),
    ],
)
def test_windows_around(kind: str, expected: tuple[timedelta, timedelta]) -> None:
    assert W.around(kind) == expected


def test_unknown_kind_and_rule_are_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        W.around("deleted")
    with pytest.raises(ValueError, match="kind"):
        distance(EventAt("deleted", at(0), None), CALL, LATER)
    with pytest.raises(ValueError, match="rule"):
        span("c", 0, 15, rule="neighbour")
