"""Each call's opportunity class in the database: proposed from what is known (``classify``),
corrected by an admin, and how often the proposals are kept.

The proposal is recomputed whenever what it rests on changes (the call ended, its comment was
saved, a booking was linked to it or left it); an admin's choice is kept apart and never
overwritten by a recomputation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ari_app.bookings.classify import CallFacts, classify
from ari_app.bookings.links import CHUNK
from ari_app.store.bookings import BookingEvent, CallLink
from ari_app.store.models import Call
from ari_app.store.people import CallComment, Patient

TARGET_KEPT = 0.95  # the front desk's target for the share of proposals kept (domain.md)


async def classify_calls(conn: AsyncConnection, call_ids: Iterable[str], now: datetime) -> int:
    """Propose a class for each of these calls that has ended; how many were classified."""
    ids = list(dict.fromkeys(call_ids))
    done = 0
    for at in range(0, len(ids), CHUNK):
        done += await _classify_chunk(conn, ids[at : at + CHUNK], now)
    return done


async def _classify_chunk(conn: AsyncConnection, ids: list[str], now: datetime) -> int:
    visits = Patient.visits_completed
    calls = (
        await conn.execute(
            select(Call.id, Call.caller_kind, Call.answered_at, CallComment.caller_type, visits)
            .outerjoin(CallComment, CallComment.call_id == Call.id)
            # The comment's chosen patient over the card the number was on when the call came.
            .outerjoin(Patient, Patient.id == func.coalesce(CallComment.patient_id, Call.patient_id))
            .where(Call.id.in_(ids), Call.ended_at.is_not(None))
        )
    ).all()
    if not calls:
        return 0
    linked: dict[str, list[bool]] = defaultdict(list)
    booked = (
        select(CallLink.call_id, Patient.visits_completed)
        .join(BookingEvent, BookingEvent.id == CallLink.booking_event_id)
        .outerjoin(Patient, Patient.external_id == BookingEvent.patient_external_id)
        .where(CallLink.call_id.in_(ids), BookingEvent.kind == "created")
    )
    for link in await conn.execute(booked):
        linked[link.call_id].append(not link.visits_completed)  # no completed visit: a new patient
    rows = []
    for r in calls:
        facts = CallFacts(
            caller_kind=r.caller_kind,
            comment_type=r.caller_type,
            answered=r.answered_at is not None,
            past_visits=r.visits_completed,
            linked_created=tuple(linked.get(r.id, ())),
        )
        opportunity, reason = classify(facts)
        rows.append({"cid": r.id, "o": opportunity, "r": reason, "u": now})
    statement = (
        update(Call)
        .where(Call.id == bindparam("cid"))
        .values(opportunity=bindparam("o"), opportunity_reason=bindparam("r"), updated_at=bindparam("u"))
    )
    await conn.execute(statement, rows)
    return len(rows)


@dataclass(frozen=True)
class OpportunityView:
    call_id: str
    opportunity: str | None  # proposed (None: the call has not ended yet)
    opportunity_reason: str | None
    opportunity_chosen: str | None
    opportunity_chosen_by: str | None


async def choose(
    conn: AsyncConnection, call_id: str, opportunity: str, by: str, now: datetime
) -> OpportunityView | None:
    """The admin's correction; None when there is no such call."""
    done = await conn.execute(
        update(Call)
        .where(Call.id == call_id)
        .values(opportunity_chosen=opportunity, opportunity_chosen_by=by, updated_at=now)
    )
    if not done.rowcount:
        return None
    row = (
        await conn.execute(
            select(
                Call.opportunity, Call.opportunity_reason, Call.opportunity_chosen, Call.opportunity_chosen_by
            ).where(Call.id == call_id)
        )
    ).one()
    return OpportunityView(call_id, *row)


@dataclass(frozen=True)
class ClassificationReport:
    """Calls started in [since, until): ``proposals`` have a proposed class; ``reviewed`` of them
    an admin's choice; ``corrected`` a choice other than the proposal; ``kept`` the rest (a
    proposal no admin changed counts as kept); ``kept_share`` kept / proposals."""

    proposals: int
    reviewed: int
    corrected: int
    kept: int
    kept_share: float | None
    target: float
    by_class: dict[str, dict[str, int]]  # proposed class → proposals, corrected


async def report(
    conn: AsyncConnection, since: datetime | None, until: datetime | None, branch: str | None
) -> ClassificationReport:
    query = (
        select(Call.opportunity, Call.opportunity_chosen, func.count())
        .where(Call.opportunity.is_not(None))
        .group_by(Call.opportunity, Call.opportunity_chosen)
    )
    if since is not None:
        query = query.where(Call.started_at >= since)
    if until is not None:
        query = query.where(Call.started_at < until)
    if branch is not None:
        query = query.where(Call.branch == branch)
    proposals = reviewed = corrected = 0
    by_class: dict[str, dict[str, int]] = {}
    for proposed, chosen, count in await conn.execute(query):
        if proposed is None:  # filtered out above
            continue
        proposals += count
        line = by_class.setdefault(proposed, {"proposals": 0, "corrected": 0})
        line["proposals"] += count
        if chosen is not None:
            reviewed += count
            if chosen != proposed:
                corrected += count
                line["corrected"] += count
    kept = proposals - corrected
    share = round(kept / proposals, 4) if proposals else None
    return ClassificationReport(proposals, reviewed, corrected, kept, share, TARGET_KEPT, by_class)
