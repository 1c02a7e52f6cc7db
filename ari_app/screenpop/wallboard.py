"""The front desk manager's wallboard, per branch: the callers waiting and since when, the
admins' states, and today's figures (answered, answered within the threshold, the service
level, missed, abandoned...), "today" being the branch's own day in its time zone.

Pure: facts go in (``apply``), the day's calls read from the database at start go in
(``seed``), the admins' states as the front desk tells them go in (``observe_admins``), a
JSON-ready frame comes out (``frame``). Each returns the branches whose frame changed. Nothing
here reads a clock, a database or a socket: the hub (``ari_app.screenpop.wallhub``) brings
them. The wait and the service level are ``ari_app.service_level``'s.

A call counts on the day it started on (as the reports count it), once: answered when an admin
is put through (``CallAnswered``), otherwise by its outcome when it ends. Staff and
contractors' calls stay out unless ``count_staff`` (as in the metrics).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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
from ari_app.service_level import service_level, wait_seconds, within

FACTS = (
    CallStarted,
    CallerIdentified,
    LegCreated,
    LegEnded,
    CallQueued,
    CallAnswered,
    CallbackNeeded,
    CallEnded,
)
# Outcomes of calls nobody was put through to, each counted on its own.
UNANSWERED = ("missed", "abandoned", "closed", "failed", "interrupted")
# A caller shown waiting this long has lost its end (swept after a restart of Asterisk): it
# leaves the wallboard, which never grows without bound.
STALE = timedelta(hours=6)
ADMIN_STATES = ("available", "ringing", "on_call", "wrap_up", "paused", "offline")


@dataclass(frozen=True)
class Day:
    """A branch's local day as UTC instants: ``start`` (its midnight) up to ``end`` (the next)."""

    date: date
    start: datetime
    end: datetime

    def holds(self, at: datetime) -> bool:
        return self.start <= at < self.end


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    # 00:00 local as a UTC instant. Where clocks jump over midnight (America/Santiago in
    # September: 00:00 becomes 01:00), 00:00 does not exist: read with the offset before the
    # jump (fold 0), it is the instant the day starts. Where midnight comes twice, fold 0 is
    # the first.
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def day_of(now: datetime, zone: ZoneInfo) -> Day:
    """The local day ``now`` falls in (23, 24 or 25 hours long around a change of clocks)."""
    local = now.astimezone(zone).date()
    return Day(local, _midnight(local, zone), _midnight(local + timedelta(days=1), zone))


@dataclass
class Tally:
    """A day's figures of one branch."""

    answered: int = 0
    within: int = 0  # answered within the threshold
    answer_seconds: float = 0.0  # speeds of answer summed (their average is shown)
    unanswered: Counter[str] = field(default_factory=Counter)  # by outcome

    def add_answer(self, wait: float, threshold: float, sign: int = 1) -> None:
        self.answered += sign
        self.within += sign * within(wait, threshold)
        self.answer_seconds += sign * wait

    def figures(self) -> dict[str, Any]:
        level = service_level(self.answered, self.within)
        counts = {"answered": self.answered, "answered_within": self.within}
        counts |= {o: self.unanswered[o] for o in UNANSWERED}
        counts["calls"] = self.answered + sum(self.unanswered[o] for o in UNANSWERED)
        return {
            "counts": counts,
            "service_level": None if level is None else round(level, 4),
            "average_answer_seconds": round(self.answer_seconds / self.answered, 1)
            if self.answered
            else None,
        }


@dataclass
class OpenCall:
    call_id: str
    started_at: datetime
    live: bool = True  # in progress in the app (not imported from the dialplan's fallback)
    counted: bool = True  # in the figures (not a colleague's call)
    queued_at: datetime | None = None
    legs: set[str] = field(default_factory=set)  # legs ringing an admin now
    answered: datetime | None = None
    tallied: date | None = None  # the day its answer was counted on
    settled: bool = False  # told they will be called back: no longer waiting for an admin

    @property
    def waiting(self) -> bool:
        return self.live and self.answered is None and not self.settled


@dataclass
class AdminSeen:
    state: str
    reason: str | None
    since: datetime | None  # None: the state it had when the wallboard started


@dataclass
class BranchBoard:
    id: str
    name: str
    zone: ZoneInfo
    admins: dict[str, str]  # login -> name, in the configuration's order
    day: Day
    tally: Tally = field(default_factory=Tally)
    calls: dict[str, OpenCall] = field(default_factory=dict)
    seen: dict[str, AdminSeen] = field(default_factory=dict)


@dataclass(frozen=True)
class BranchInfo:
    id: str
    name: str
    timezone: str
    admins: Mapping[str, str]  # login -> name


@dataclass
class Wallboard:
    threshold: float
    branches: dict[str, BranchBoard]
    count_staff: bool = False
    where: dict[str, str] = field(default_factory=dict)  # call id -> branch, calls on the board

    @classmethod
    def of(cls, branches: Iterable[BranchInfo], threshold: float, now: datetime, **kw: Any) -> Wallboard:
        boards = {}
        for b in branches:
            zone = ZoneInfo(b.timezone)
            boards[b.id] = BranchBoard(b.id, b.name, zone, dict(b.admins), day_of(now, zone))
        return cls(threshold, boards, **kw)


def roll(wb: Wallboard, now: datetime) -> set[str]:
    """Branches whose day ended by ``now``: their figures start again from zero."""
    rolled = set()
    for b in wb.branches.values():
        if now >= b.day.end or now < b.day.start:
            b.day, b.tally = day_of(now, b.zone), Tally()
            rolled.add(b.id)
    return rolled


def apply(wb: Wallboard, fact: Fact) -> set[str]:
    """The wallboard after ``fact``; the branch whose frame changed (a call not ours: none)."""
    if isinstance(fact, CallStarted):
        return _started(wb, fact)
    branch_id = wb.where.get(fact.call_id)
    if branch_id is None:
        return set()
    b = wb.branches[branch_id]
    call = b.calls[fact.call_id]
    if isinstance(fact, CallerIdentified):
        if not fact.in_statistics and not wb.count_staff and call.counted:
            call.counted = False
            if call.tallied == b.day.date and call.answered is not None:  # counted a moment ago
                b.tally.add_answer(wait_seconds(call.started_at, call.answered), wb.threshold, -1)
                call.tallied = None
    elif isinstance(fact, LegCreated):
        call.legs.add(fact.leg_id)
    elif isinstance(fact, LegEnded):
        call.legs.discard(fact.leg_id)
    elif isinstance(fact, CallQueued):
        call.queued_at = call.queued_at or fact.at
    elif isinstance(fact, CallAnswered):
        _answered(wb, b, call, fact.at)
    elif isinstance(fact, CallbackNeeded):
        call.settled = True
    elif isinstance(fact, CallEnded):
        _ended(wb, b, call, fact.outcome)
    else:
        return set()
    return {branch_id}


def _started(wb: Wallboard, fact: CallStarted) -> set[str]:
    b = wb.branches.get(fact.branch or "")
    if b is None or fact.call_id in wb.where:
        return set()
    for stale in [c for c in b.calls.values() if fact.at - c.started_at > STALE]:
        _forget(wb, b, stale.call_id)
    b.calls[fact.call_id] = OpenCall(fact.call_id, fact.at, live=fact.handled_by == "app")
    wb.where[fact.call_id] = b.id
    return {b.id}


def _answered(wb: Wallboard, b: BranchBoard, call: OpenCall, at: datetime) -> None:
    if call.answered is not None:
        return
    call.answered, call.legs = at, set()
    if call.counted and b.day.holds(call.started_at):
        b.tally.add_answer(wait_seconds(call.started_at, at), wb.threshold)
        call.tallied = b.day.date


def _ended(wb: Wallboard, b: BranchBoard, call: OpenCall, outcome: str) -> None:
    _forget(wb, b, call.call_id)
    if call.answered is None and call.counted and outcome in UNANSWERED and b.day.holds(call.started_at):
        b.tally.unanswered[outcome] += 1


def _forget(wb: Wallboard, b: BranchBoard, call_id: str) -> None:
    b.calls.pop(call_id, None)
    wb.where.pop(call_id, None)


@dataclass(frozen=True)
class StoredCall:
    """A call of the day as the database has it (``ari_app.store.today``)."""

    call_id: str
    branch: str
    started_at: datetime
    answered_at: datetime | None
    outcome: str | None
    in_statistics: bool
    queued_at: datetime | None = None
    settled: bool = False  # a callback task was made for it


def seed(wb: Wallboard, calls: Iterable[StoredCall], now: datetime, skip: Collection[str] = ()) -> set[str]:
    """Today's calls read from the database at start, so a restart does not zero the figures;
    ``skip``: calls the facts told of meanwhile (already on the board, or ended)."""
    changed = roll(wb, now)
    for row in calls:
        b = wb.branches.get(row.branch)
        if b is None or row.call_id in skip or row.call_id in wb.where:
            continue
        counted = row.in_statistics or wb.count_staff
        if row.outcome is None and row.answered_at is None and now - row.started_at <= STALE:
            call = OpenCall(row.call_id, row.started_at, counted=counted, queued_at=row.queued_at)
            call.settled = row.settled
            b.calls[row.call_id] = call
            wb.where[row.call_id] = b.id
            changed.add(b.id)
        if not counted or not b.day.holds(row.started_at):
            continue
        if row.answered_at is not None:
            b.tally.add_answer(wait_seconds(row.started_at, row.answered_at), wb.threshold)
        elif row.outcome in UNANSWERED:
            b.tally.unanswered[row.outcome] += 1
        changed.add(b.id)
    return changed


def observe_admins(wb: Wallboard, presences: Iterable[Mapping[str, Any]], now: datetime) -> set[str]:
    """The admins' states as the front desk tells them (``FrontDesk.presences``); each state's
    start is when it was first seen so (None: it had it when the wallboard started)."""
    changed = set()
    for p in presences:
        login, state = str(p["login"]), str(p["state"])
        reason = p.get("pause_reason") if state == "paused" else None
        for b in wb.branches.values():
            if login not in b.admins:
                continue
            seen = b.seen.get(login)
            if seen is None or (seen.state, seen.reason) != (state, reason):
                b.seen[login] = AdminSeen(state, reason, None if seen is None else now)
                changed.add(b.id)
    return changed


def frame(wb: Wallboard, branch: str, now: datetime) -> dict[str, Any]:
    """The branch's whole state, JSON-ready: what a wallboard shows (timers run on the page,
    from ``since`` and the server's ``now``)."""
    b = wb.branches[branch]
    waiting = sorted((c for c in b.calls.values() if c.waiting), key=lambda c: c.started_at)
    return {
        "type": "wallboard",
        "branch": {"id": b.id, "name": b.name, "timezone": str(b.zone.key)},
        "now": now.isoformat(),
        "day": {
            "date": b.day.date.isoformat(),
            "start": b.day.start.isoformat(),
            "end": b.day.end.isoformat(),
        },
        "service_level_seconds": wb.threshold,
        "waiting": [
            {
                "call_id": c.call_id,
                "since": c.started_at.isoformat(),
                "queued_since": c.queued_at.isoformat() if c.queued_at else None,
                "ringing": bool(c.legs),
            }
            for c in waiting
        ],
        "admins": [_admin(login, name, b.seen.get(login)) for login, name in b.admins.items()],
        **b.tally.figures(),
    }


def _admin(login: str, name: str, seen: AdminSeen | None) -> dict[str, Any]:
    return {
        "login": login,
        "name": name,
        "state": seen.state if seen else "offline",
        "reason": seen.reason if seen else None,
        "since": seen.since.isoformat() if seen and seen.since else None,
    }
