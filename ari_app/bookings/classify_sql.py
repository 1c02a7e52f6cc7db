"""``classify`` as a SQL ``CASE``, for a relink to propose every call's class in one ``UPDATE`` per
span of time instead of reading each call into Python.

The rules are the same list in the same order as ``classify.classify``; a table test runs both on
every combination of the facts (tests/store/test_classify_sql.py), on SQLite and PostgreSQL, so
a rule changed in one place and not the other fails there. A NULL fact fits no rule, as ``None``
fits none in Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import SQLColumnExpression, and_, case, func, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement, Update

from ari_app.bookings.classify import BUSINESS_KINDS, BUSINESS_TYPES, Opportunity
from ari_app.store.bookings import BookingEvent, CallLink
from ari_app.store.models import Call
from ari_app.store.people import CallComment, Patient

UNKNOWN_IF_VISITED: tuple[Opportunity, str] = ("new", "unknown_if_visited_before")


@dataclass(frozen=True)
class FactColumns:
    """``classify.CallFacts`` as SQL expressions; ``new_patient_booked`` is
    ``any(linked_created)``, the one thing ``classify`` asks of the linked bookings."""

    caller_kind: SQLColumnExpression[Any]
    comment_type: SQLColumnExpression[Any]
    answered: SQLColumnExpression[bool]
    past_visits: SQLColumnExpression[Any]
    new_patient_booked: SQLColumnExpression[bool]


# (class, reason) of each rule, first fit wins: ``classify``'s order (see its comments).
PROPOSALS: tuple[tuple[Opportunity, str], ...] = (
    ("none", "not_reached"),
    ("none", "business"),
    ("none", "other"),
    ("new", "new_patient_booking"),
    ("none", "existing_appointment"),
    ("current", "known_patient_with_visits"),
    ("new", "known_patient_no_visits"),
)


def conditions(f: FactColumns) -> list[SQLColumnExpression[bool]]:
    """When each of ``PROPOSALS`` fits, in its order."""
    return [
        not_(f.answered),
        or_(f.caller_kind.in_(BUSINESS_KINDS), f.comment_type.in_(BUSINESS_TYPES)),
        f.comment_type == "other",
        f.new_patient_booked,
        f.comment_type == "patient_booked",
        f.past_visits > 0,
        f.past_visits == 0,
    ]


def reason_of(f: FactColumns) -> ColumnElement[str]:
    whens = zip(conditions(f), (reason for _, reason in PROPOSALS), strict=True)
    return case(*whens, else_=UNKNOWN_IF_VISITED[1])


def class_of(reason: ColumnElement[Any]) -> ColumnElement[str]:
    """The class that goes with a reason (each reason belongs to one class)."""
    return case(*((reason == why, what) for what, why in PROPOSALS), else_=UNKNOWN_IF_VISITED[0])


@dataclass(frozen=True)
class SpanClasses:
    calls: int  # calls started in the span
    ended: int  # of them ended: each has its proposal now


async def reclassify_span(conn: AsyncConnection, lo: datetime, hi: datetime, now: datetime) -> SpanClasses:
    """Propose the class of every call started in [lo, hi) that has ended, writing only those
    whose proposal changed."""
    await conn.execute(_update(lo, hi, now))
    started = and_(Call.started_at >= lo, Call.started_at < hi)
    counts = select(func.count(), func.count(Call.ended_at)).where(started)
    calls, ended = (await conn.execute(counts)).one()
    return SpanClasses(int(calls), int(ended))


def _update(lo: datetime, hi: datetime, now: datetime) -> Update:
    call = aliased(Call)
    in_span = and_(call.started_at >= lo, call.started_at < hi, call.ended_at.is_not(None))
    booked = aliased(Patient)
    # The span's calls with a linked created booking of a new patient (no completed visit, or
    # no card): joined once for the span, not asked call by call.
    new_patient = (
        select(CallLink.call_id)
        .join(call, call.id == CallLink.call_id)
        .join(BookingEvent, BookingEvent.id == CallLink.booking_event_id)
        .outerjoin(booked, booked.external_id == BookingEvent.patient_external_id)
        .where(
            in_span,
            BookingEvent.kind == "created",
            or_(booked.visits_completed.is_(None), booked.visits_completed == 0),
        )
        .distinct()
        .subquery("new_patient")
    )
    # The comment's chosen patient over the card the number was on when the call came.
    patient = aliased(Patient)
    f = FactColumns(
        caller_kind=call.caller_kind,
        comment_type=CallComment.caller_type,
        answered=call.answered_at.is_not(None),
        past_visits=patient.visits_completed,
        new_patient_booked=new_patient.c.call_id.is_not(None),
    )
    reasons = (
        select(call.id, reason_of(f).label("reason"))
        .outerjoin(CallComment, CallComment.call_id == call.id)
        .outerjoin(patient, patient.id == func.coalesce(CallComment.patient_id, call.patient_id))
        .outerjoin(new_patient, new_patient.c.call_id == call.id)
        .where(in_span)
        .subquery("reasons")
    )
    # Materialized: each call's reason computed once, not once per reference below.
    proposed = (
        select(reasons.c.id, reasons.c.reason, class_of(reasons.c.reason).label("opportunity"))
        .cte("proposed")
        .prefix_with("MATERIALIZED")
    )
    return (
        update(Call)
        .where(
            Call.id == proposed.c.id,
            or_(
                Call.opportunity_reason.is_distinct_from(proposed.c.reason),
                Call.opportunity.is_distinct_from(proposed.c.opportunity),
            ),
        )
        .values(opportunity=proposed.c.opportunity, opportunity_reason=proposed.c.reason, updated_at=now)
    )
