"""The links of every booking event made in a span of time, decided in the database: one
``DELETE`` of the span's old links and one ``INSERT ... SELECT`` of the new ones.

The rules are ``linking.best_link``'s, written as a query (a table test holds the two equal):
the candidate calls of an event are those from a number on its patient's card (rule patient for
the patient's own numbers, family for the others), on their guardian's card or a family card
(family), and those whose comment chose the patient (comment), each once with its strongest
rule; a candidate started more than the widest window and ``LONGEST_CALL`` before the event is
none (a stray open call). The window and the distance are measured in integer microseconds
(``store.dialect``); ``ROW_NUMBER()`` per event ordered by distance, the event's admin's call
first, the rule, the call's start and its id keeps the winner. An event later than ``now``, of an
unknown patient or of an unknown kind links to nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from ari_app.bookings.linking import KINDS, RULES, Windows
from ari_app.bookings.links import LONGEST_CALL
from ari_app.store.bookings import BookingEvent, CallLink
from ari_app.store.dialect import by_code_point, epoch_micros
from ari_app.store.models import Call, UtcDateTime
from ari_app.store.people import CallComment, Patient, PatientPhone

RANK = {rule: rank for rank, rule in enumerate(RULES)}  # comment 0 < patient 1 < family 2
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(span: timedelta) -> int:
    """A duration in whole microseconds, exactly (as the database measures it)."""
    return (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds


def _us(span: timedelta) -> Any:
    """As a bound BIGINT: times since the epoch overflow a 32-bit integer."""
    return literal(micros(span), BigInteger())


@dataclass(frozen=True)
class SpanResult:
    events: int  # events made in the span (their old links replaced)
    linked: int  # of them linked now


async def relink_span(
    conn: AsyncConnection, lo: datetime, hi: datetime, windows: Windows, now: datetime
) -> SpanResult:
    """Replace the links of the events made in [lo, hi) with those decided at ``now``."""
    made = and_(BookingEvent.happened_at >= lo, BookingEvent.happened_at < hi)
    events = (await conn.execute(select(func.count()).where(made))).scalar_one()
    await conn.execute(
        delete(CallLink).where(CallLink.booking_event_id.in_(select(BookingEvent.id).where(made)))
    )
    columns = ["booking_event_id", "call_id", "rule", "distance_seconds", "linked_at"]
    await conn.execute(insert(CallLink).from_select(columns, winners(lo, hi, windows, now)))
    # Counted, not the rowcount: Python's sqlite3 gives -1 for an INSERT that starts with WITH.
    linked = select(func.count()).select_from(CallLink).join(BookingEvent).where(made)
    return SpanResult(events, int((await conn.execute(linked)).scalar_one()))


def winners(lo: datetime, hi: datetime, windows: Windows, now: datetime) -> Select[Any]:
    """(event id, call id, rule, distance in seconds, ``now``): each linked event of [lo, hi) once."""
    events = (
        select(
            BookingEvent.id.label("event_id"),
            BookingEvent.kind,
            BookingEvent.admin.label("event_admin"),
            epoch_micros(BookingEvent.happened_at).label("at"),
            Patient.id.label("patient_id"),
            Patient.guardian_external_id.label("guardian"),
            Patient.family_id.label("family"),
        )
        .join(Patient, Patient.external_id == BookingEvent.patient_external_id)
        .where(
            BookingEvent.happened_at >= lo,
            BookingEvent.happened_at < hi,
            BookingEvent.happened_at <= now,
            BookingEvent.kind.in_(KINDS),
        )
        .cte("span_events")
        .prefix_with("MATERIALIZED")
    )
    calls = _span_calls(lo, hi, windows, now)
    cards = _cards_called(calls)
    family: Any = literal_column(str(RANK["family"]))
    heard = (events.c.event_id, events.c.kind, events.c.event_admin, events.c.at)
    call = (cards.c.call_id, cards.c.start, cards.c.end, cards.c.call_admin)
    own = select(*heard, *call, cards.c.rank.label("rank")).join(cards, cards.c.card == events.c.patient_id)
    # A number on the guardian's card or on another card of the family calls for the patient.
    guardian = select(*heard, *call, family).join(
        cards,
        and_(
            events.c.guardian != "",
            cards.c.external_id == events.c.guardian,
            cards.c.card != events.c.patient_id,
        ),
    )
    relative = select(*heard, *call, family).join(
        cards,
        and_(events.c.family != "", cards.c.family == events.c.family, cards.c.card != events.c.patient_id),
    )
    chosen = (
        select(*heard, calls.c.call_id, calls.c.start, calls.c.end, calls.c.call_admin)
        .add_columns(literal_column(str(RANK["comment"])))
        .join(CallComment, CallComment.patient_id == events.c.patient_id)
        .join(calls, calls.c.call_id == CallComment.call_id)
    )
    found = union_all(own, guardian, relative, chosen).subquery("found")
    keys = [c for c in found.c if c.name != "rank"]
    # One call counted once per event, with its strongest rule.
    strongest = select(*keys, func.min(found.c.rank).label("rank")).group_by(*keys).subquery("strongest")
    return _nearest(_measured(strongest, windows), _us(windows.widest[1] + LONGEST_CALL), now)


def _span_calls(lo: datetime, hi: datetime, windows: Windows, now: datetime) -> Any:
    """The calls that may be in a window of an event of [lo, hi), with their span in microseconds
    (bounds the index's range; each event is held to its own window below)."""
    widest_before, widest_after = windows.widest
    start = epoch_micros(Call.started_at)
    now_us = _us(now - EPOCH)
    # A call in progress spans, for now, up to now (and at least its start).
    end = case(
        (Call.ended_at.is_(None), case((start > now_us, start), else_=now_us)),
        else_=epoch_micros(Call.ended_at),
    )
    return (
        select(
            Call.id.label("call_id"),
            Call.caller_e164,
            Call.admin.label("call_admin"),
            start.label("start"),
            end.label("end"),
        )
        .where(
            Call.started_at >= lo - widest_after - LONGEST_CALL,
            Call.started_at <= min(hi, now) + widest_before,
        )
        .cte("span_calls")
        .prefix_with("MATERIALIZED")
    )


def _cards_called(calls: Any) -> Any:
    """The span's calls from a number on a card, with the card (its id, external id and family)
    and the rule's rank for that card's own patient (patient for a ``self`` number, else family).
    From the calls' side: a week of calls meets a few cards each, where a week of events'
    patients and families have many numbers."""
    return (
        select(
            calls,
            Patient.id.label("card"),
            Patient.external_id.label("external_id"),
            Patient.family_id.label("family"),
            case((PatientPhone.role == "self", RANK["patient"]), else_=RANK["family"]).label("rank"),
        )
        .join(PatientPhone, PatientPhone.number_e164 == calls.c.caller_e164)
        .join(Patient, Patient.id == PatientPhone.patient_id)
        .cte("span_cards")
        .prefix_with("MATERIALIZED")
    )


def _measured(strongest: Any, windows: Windows) -> Any:
    """Each candidate with the event's window and the tie keys."""
    s = strongest.c
    change = s.kind.in_(("cancelled", "moved"))
    return select(
        s.event_id,
        s.call_id,
        s.rank,
        s.at,
        s.start,
        s.end,
        case((s.kind == "created", _us(windows.created_before)), (change, _us(windows.change_before))).label(
            "before"
        ),
        case((s.kind == "created", _us(windows.created_after)), (change, _us(windows.change_after))).label(
            "after"
        ),
        case((and_(s.event_admin.is_not(None), s.call_admin == s.event_admin), 0), else_=1).label(
            "other_admin"
        ),
    ).subquery("measured")


def _nearest(m: Any, reach_us: Any, now: datetime) -> Select[Any]:
    """``best_link`` over the candidates: in the window (the same order of tests as ``distance``),
    not started beyond ``reach_us`` before the event, the first by its key."""
    distance = case((m.c.at < m.c.start, m.c.start - m.c.at), (m.c.at > m.c.end, m.c.at - m.c.end), else_=0)
    fits = or_(
        and_(m.c.at < m.c.start, m.c.start - m.c.at <= m.c.before),
        and_(m.c.at >= m.c.start, m.c.at > m.c.end, m.c.at - m.c.end <= m.c.after),
        and_(m.c.at >= m.c.start, m.c.at <= m.c.end),
    )
    order = (distance, m.c.other_admin, m.c.rank, m.c.start, by_code_point(m.c.call_id))
    ranked = (
        select(
            m.c.event_id,
            m.c.call_id,
            m.c.rank,
            distance.label("distance"),
            func.row_number().over(partition_by=m.c.event_id, order_by=order).label("place"),
        )
        .where(fits, m.c.start >= m.c.at - reach_us)
        .subquery("ranked")
    )
    rule = case(*((ranked.c.rank == rank, name) for name, rank in RANK.items()))
    seconds = cast(ranked.c.distance, Float) / 1_000_000.0
    return select(ranked.c.event_id, ranked.c.call_id, rule, seconds, literal(now, UtcDateTime())).where(
        ranked.c.place == 1
    )
