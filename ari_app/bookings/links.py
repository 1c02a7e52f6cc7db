"""Deciding the links of a set of booking events in a few queries, whatever their number: the
patients, every number each is called from, the calls in the events' time span and the comments
naming the patients are read once for the set and joined in memory; ``linking.best_link`` picks.

The feed's batch and a call's affected events come this way; ``relink_since`` decides a year's
events in the database instead (``nearest``), and a table test holds the two to the same links.
Parameter lists stay under ``CHUNK`` (SQLite and asyncpg take ~32,000 parameters a statement)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ari_app.bookings.linking import CallSpan, EventAt, Link, Windows, best_link
from ari_app.store.bookings import BookingEvent, CallLink
from ari_app.store.models import Call
from ari_app.store.people import CallComment, Patient, PatientPhone

CHUNK = 5000
# A call open longer than this is a stray row (missed events), not a call in progress: it would
# otherwise stretch every window over the hours since it started.
LONGEST_CALL = timedelta(hours=12)
# With few numbers the calls are found by number (an index), else by time and joined in memory.
BY_NUMBER_LIMIT = 200
RULE_ORDER = ("comment", "patient", "family")


@dataclass(frozen=True)
class StoredEvent:
    id: int
    kind: str
    patient_external_id: str
    happened_at: datetime
    admin: str | None


EVENT_COLUMNS = (
    BookingEvent.id,
    BookingEvent.kind,
    BookingEvent.patient_external_id,
    BookingEvent.happened_at,
    BookingEvent.admin,
)


def stored_event(row: Any) -> StoredEvent:
    return StoredEvent(row.id, row.kind, row.patient_external_id, row.happened_at, row.admin)


@dataclass
class _People:
    """The events' patients: card id by external id, and each card's numbers with their rule."""

    card: dict[str, int]
    numbers: dict[int, dict[str, str]]  # patient id → e164 → patient | family


async def _people(conn: AsyncConnection, external_ids: set[str]) -> _People:
    # The cards and their own numbers in one query (a card with no number: one row of NULLs).
    cards = (
        select(
            Patient.id,
            Patient.external_id,
            Patient.guardian_external_id,
            Patient.family_id,
            PatientPhone.number_e164,
            PatientPhone.role,
        )
        .outerjoin(PatientPhone, PatientPhone.patient_id == Patient.id)
        .where(Patient.external_id.in_(external_ids))
    )
    card: dict[str, int] = {}
    numbers: dict[int, dict[str, str]] = defaultdict(dict)
    rows: dict[int, Any] = {}  # a row per card (its guardian and family)
    for r in await conn.execute(cards):
        card[r.external_id] = r.id
        rows[r.id] = r
        if r.number_e164 is not None:
            _put(numbers[r.id], r.number_e164, "patient" if r.role == "self" else "family")
    if not rows:
        return _People(card, numbers)
    # A guardian's card (a child's parent) and the family's cards: their numbers call for them.
    guardians: dict[str, list[int]] = defaultdict(list)
    families: dict[str, list[int]] = defaultdict(list)
    for r in rows.values():
        if r.guardian_external_id:
            guardians[r.guardian_external_id].append(r.id)
        if r.family_id:
            families[r.family_id].append(r.id)
    if guardians or families:
        relatives = (
            select(Patient.id, Patient.external_id, Patient.family_id, PatientPhone.number_e164)
            .join(PatientPhone, PatientPhone.patient_id == Patient.id)
            .where(or_(Patient.external_id.in_(guardians), Patient.family_id.in_(families)))
        )
        for kin in await conn.execute(relatives):
            for patient in (*guardians.get(kin.external_id, ()), *families.get(kin.family_id or "", ())):
                if patient != kin.id:
                    _put(numbers[patient], kin.number_e164, "family")
    return _People(card, numbers)


def _put(numbers: dict[str, str], e164: str, rule: str) -> None:
    held = numbers.get(e164)
    if held is None or RULE_ORDER.index(rule) < RULE_ORDER.index(held):
        numbers[e164] = rule


def _span(row: Any, rule: str) -> CallSpan:
    return CallSpan(row.id, row.started_at, row.ended_at, row.admin, rule)


async def _calls(
    conn: AsyncConnection, people: _People, start: datetime, end: datetime
) -> tuple[dict[str, list[Any]], dict[int, list[Any]]]:
    """Calls that may be in a window of [start, end]: by caller number, and by the patient their
    comment chose."""
    wanted = {e164 for numbers in people.numbers.values() for e164 in numbers}
    span = and_(Call.started_at >= start - LONGEST_CALL, Call.started_at <= end)
    columns = (Call.id, Call.started_at, Call.ended_at, Call.admin, Call.caller_e164)
    by_number: dict[str, list[Any]] = defaultdict(list)
    if wanted:
        query = select(*columns).where(span, Call.caller_e164.is_not(None))
        if len(wanted) <= BY_NUMBER_LIMIT:
            query = query.where(Call.caller_e164.in_(wanted))
        for r in await conn.execute(query):
            if r.caller_e164 in wanted:
                by_number[r.caller_e164].append(r)
    by_comment: dict[int, list[Any]] = defaultdict(list)
    if people.card:
        chosen = (
            select(*columns, CallComment.patient_id)
            .join(CallComment, CallComment.call_id == Call.id)
            .where(span, CallComment.patient_id.in_(people.card.values()))
        )
        for c in await conn.execute(chosen):
            by_comment[c.patient_id].append(c)
    return by_number, by_comment


def _candidates(
    patient: int, people: _People, by_number: dict[str, list[Any]], by_comment: dict[int, list[Any]]
) -> list[CallSpan]:
    """The calls about ``patient``, each once with its strongest rule."""
    spans: dict[str, CallSpan] = {r.id: _span(r, "comment") for r in by_comment.get(patient, ())}
    for e164, rule in people.numbers.get(patient, {}).items():
        for r in by_number.get(e164, ()):
            held = spans.get(r.id)
            if held is None or RULE_ORDER.index(rule) < RULE_ORDER.index(held.rule):
                spans[r.id] = _span(r, rule)
    return list(spans.values())


async def link_events(
    conn: AsyncConnection,
    events: Sequence[StoredEvent],
    windows: Windows,
    now: datetime,
    *,
    fresh: bool = False,
) -> dict[int, Link | None]:
    """Decide and store the link of each event (replacing what it had; ``fresh``: events just
    inserted, which have none); the links by event id."""
    decided: dict[int, Link | None] = {}
    for at in range(0, len(events), CHUNK):
        decided.update(await _link_chunk(conn, events[at : at + CHUNK], windows, now, fresh))
    return decided


async def _link_chunk(
    conn: AsyncConnection, events: Sequence[StoredEvent], windows: Windows, now: datetime, fresh: bool
) -> dict[int, Link | None]:
    if not events:
        return {}
    people = await _people(conn, {e.patient_external_id for e in events})
    before, after = windows.widest
    start = min(e.happened_at for e in events) - after
    end = max(e.happened_at for e in events) + before
    by_number, by_comment = await _calls(conn, people, start, end)
    decided: dict[int, Link | None] = {}
    for event in events:
        patient = people.card.get(event.patient_external_id)
        calls = [] if patient is None else _candidates(patient, people, by_number, by_comment)
        # The chunk's search reaches back from its earliest event; each event only from its own
        # time, so that an event is decided the same alone or in any chunk (a stray open call).
        reach = event.happened_at - after - LONGEST_CALL
        calls = [span for span in calls if span.started_at >= reach]
        at = EventAt(event.kind, event.happened_at, event.admin)
        decided[event.id] = best_link(at, calls, windows, now)
    await _store(conn, decided, now, fresh)
    return decided


async def _store(conn: AsyncConnection, decided: dict[int, Link | None], now: datetime, fresh: bool) -> None:
    if not fresh:
        await conn.execute(delete(CallLink).where(CallLink.booking_event_id.in_(decided)))
    rows = [
        {
            "booking_event_id": event_id,
            "call_id": link.call_id,
            "rule": link.rule,
            "distance_seconds": link.distance_seconds,
            "linked_at": now,
        }
        for event_id, link in decided.items()
        if link is not None
    ]
    if rows:
        await conn.execute(insert(CallLink), rows)


async def linked_calls(conn: AsyncConnection, event_ids: Iterable[int]) -> set[str]:
    """The calls these events are linked to now (before a relink moves them)."""
    ids = list(event_ids)
    found: set[str] = set()
    for at in range(0, len(ids), CHUNK):
        part = ids[at : at + CHUNK]
        found.update(
            (
                await conn.execute(select(CallLink.call_id).where(CallLink.booking_event_id.in_(part)))
            ).scalars()
        )
    return found


async def candidate_spans(
    conn: AsyncConnection, patient_external_id: str, happened_at: datetime, windows: Windows
) -> list[CallSpan]:
    """The calls about one patient that may be within the widest window of ``happened_at``."""
    people = await _people(conn, {patient_external_id})
    patient = people.card.get(patient_external_id)
    if patient is None:
        return []
    before, after = windows.widest
    by_number, by_comment = await _calls(conn, people, happened_at - after, happened_at + before)
    return sorted(
        _candidates(patient, people, by_number, by_comment), key=lambda s: (s.started_at, s.call_id)
    )
