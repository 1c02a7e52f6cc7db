"""Which call brought a booking event: the pure rule (no I/O; times are aware UTC datetimes).

A created booking links to a call when made from ``created_before`` before the call started to
``created_after`` after it ended; a cancellation or a move within the ``change_*`` windows. One
call per event: the nearest; ties go to the call answered by the event's admin, then the
strongest rule (the comment chose the patient > the patient's own number > a family number),
then the earlier call, then the call id, so the answer never depends on the order calls come in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

RULE_RANK = {"comment": 0, "patient": 1, "family": 2}


@dataclass(frozen=True)
class Windows:
    created_before: timedelta = timedelta(minutes=30)
    created_after: timedelta = timedelta(minutes=30)
    change_before: timedelta = timedelta(minutes=15)
    change_after: timedelta = timedelta(minutes=15)

    def around(self, kind: str) -> tuple[timedelta, timedelta]:
        """(before the call's start, after its end) for an event of ``kind``."""
        if kind == "created":
            return self.created_before, self.created_after
        return self.change_before, self.change_after

    @property
    def widest(self) -> tuple[timedelta, timedelta]:
        return max(self.created_before, self.change_before), max(self.created_after, self.change_after)


@dataclass(frozen=True)
class CallSpan:
    call_id: str
    started_at: datetime
    ended_at: datetime | None  # None: still in progress (its span so far ends at ``now``)
    admin: str | None
    rule: str  # comment | patient | family


@dataclass(frozen=True)
class EventAt:
    kind: str
    happened_at: datetime
    admin: str | None


@dataclass(frozen=True)
class Link:
    call_id: str
    rule: str
    distance_seconds: float


def distance(event: EventAt, call: CallSpan, now: datetime, windows: Windows | None = None) -> float | None:
    """Seconds from the call to the event (0 inside it); None outside the event kind's window."""
    before, after = (windows or Windows()).around(event.kind)
    end = call.ended_at if call.ended_at is not None else max(now, call.started_at)
    if event.happened_at < call.started_at:
        gap = call.started_at - event.happened_at
        return gap.total_seconds() if gap <= before else None
    if event.happened_at > end:
        gap = event.happened_at - end
        return gap.total_seconds() if gap <= after else None
    return 0.0


def best_link(event: EventAt, calls: Sequence[CallSpan], windows: Windows, now: datetime) -> Link | None:
    best: tuple[tuple[float, int, int, datetime, str], CallSpan] | None = None
    for call in calls:
        d = distance(event, call, now, windows)
        if d is None:
            continue
        own = 0 if event.admin is not None and call.admin == event.admin else 1
        key = (d, own, RULE_RANK.get(call.rule, 9), call.started_at, call.call_id)
        if best is None or key < best[0]:
            best = (key, call)
    if best is None:
        return None
    return Link(best[1].call_id, best[1].rule, best[0][0])
