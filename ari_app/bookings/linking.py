"""Which call brought a booking event: the windows around a call, the distance, the winner.

Pure: times are aware UTC datetimes and "now" is an argument, so a call still in progress
(its span so far ends at ``now``) and a relink years later give the same answer for the same
facts. The store picks the candidate calls (those about the event's patient, with the rule
that made them so); this module only measures and chooses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

KINDS = ("created", "cancelled", "moved")

# Tie order after distance and admin: the comment is an admin's explicit choice of patient,
# the patient's own number is stronger evidence than a relative's.
RULES = ("comment", "patient", "family")
_RULE_RANK = {rule: rank for rank, rule in enumerate(RULES)}


@dataclass(frozen=True)
class Windows:
    """How far from a call a booking event may be made and still be linked to it (configuration:
    ``[bookings] created_before_minutes`` and the like)."""

    created_before: timedelta = timedelta(minutes=30)
    created_after: timedelta = timedelta(minutes=30)
    change_before: timedelta = timedelta(minutes=15)
    change_after: timedelta = timedelta(minutes=15)

    def around(self, kind: str) -> tuple[timedelta, timedelta]:
        """(before the call's start, after its end) for an event of ``kind``."""
        if kind == "created":
            return self.created_before, self.created_after
        if kind in ("cancelled", "moved"):
            return self.change_before, self.change_after
        raise ValueError(f"unknown booking event kind {kind!r}; expected one of {', '.join(KINDS)}")

    @property
    def widest(self) -> tuple[timedelta, timedelta]:
        """(before, after) wide enough for every kind: what a search for candidates must cover."""
        return max(self.created_before, self.change_before), max(self.created_after, self.change_after)


DEFAULT_WINDOWS = Windows()


@dataclass(frozen=True)
class CallSpan:
    """A call that is about the event's patient, and by which rule."""

    call_id: str
    started_at: datetime
    ended_at: datetime | None  # None: still in progress
    admin: str | None  # who answered it
    rule: str  # comment | patient | family

    def __post_init__(self) -> None:
        # An unknown rule would silently lose every tie; refuse it where it is made.
        if self.rule not in _RULE_RANK:
            raise ValueError(f"unknown link rule {self.rule!r}; expected one of {', '.join(RULES)}")


@dataclass(frozen=True)
class EventAt:
    kind: str  # created | cancelled | moved
    happened_at: datetime
    admin: str | None  # who made it in the scheduler, when it says


@dataclass(frozen=True)
class Link:
    call_id: str
    rule: str
    distance_seconds: float  # 0 inside the call, else seconds to its start (before) or its end (after)


def distance(
    event: EventAt, call: CallSpan, now: datetime, windows: Windows = DEFAULT_WINDOWS
) -> float | None:
    """Seconds between the event and the call, or None when the event is outside the call's window.

    Both window edges are inside ("from 30 minutes before the start to 30 minutes after the
    end"). An event later than ``now`` has not happened yet as far as we know, so it links to
    nothing; a call in progress ends, for now, at ``now``.
    """
    if event.happened_at > now:
        return None
    before, after = windows.around(event.kind)
    # A call whose start is somehow after now still spans at least its start instant.
    end = call.ended_at if call.ended_at is not None else max(call.started_at, now)
    if event.happened_at < call.started_at:
        gap = call.started_at - event.happened_at
        return gap.total_seconds() if gap <= before else None
    if event.happened_at > end:
        gap = event.happened_at - end
        return gap.total_seconds() if gap <= after else None
    return 0.0


def best_link(event: EventAt, calls: Sequence[CallSpan], windows: Windows, now: datetime) -> Link | None:
    """The one call that brought ``event``, or None when no call is in its window.

    Nearest first; on equal distance the call the event's own admin answered (they booked
    while or right after talking), then the rule (comment > patient > family), then the
    earlier call, then the call id so that the answer never depends on the order given.
    """
    best: tuple[tuple[float, int, int, datetime, str], CallSpan] | None = None
    for call in calls:
        d = distance(event, call, now, windows)
        if d is None:
            continue
        same_admin = event.admin is not None and call.admin == event.admin
        key = (d, 0 if same_admin else 1, _RULE_RANK[call.rule], call.started_at, call.call_id)
        if best is None or key < best[0]:
            best = (key, call)
    if best is None:
        return None
    key, call = best
    return Link(call_id=call.call_id, rule=call.rule, distance_seconds=key[0])
