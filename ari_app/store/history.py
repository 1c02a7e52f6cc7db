"""Call history: the calls a filter selects, a page at a time, their CSV rows, and one call's detail.

Pages are keyset pages on (started_at, id), newest first, with the id ascending within one
instant (the order ``/api/calls`` always had): a cursor names the last row shown, so calls
stored meanwhile never shift a page nor show twice. One query per page joins the comment;
the legs, recordings and booking links of a page's calls come in one more query each.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ari_app.people.schema import UNKNOWN_TOPIC
from ari_app.store.bookings import BookingEvent, CallLink
from ari_app.store.db import Database
from ari_app.store.models import Call, CallLeg
from ari_app.store.people import CallComment, CallCommentVersion, Patient
from ari_app.store.records import UNKNOWN_CALLER, CallRecord, LinkRecord
from ari_app.store.repository import _note, _plain, _record

OPPORTUNITY_CLASSES = ("new", "current", "none")
EXPORT_PAGE = 1000  # rows per query while exporting: memory stays flat whatever the total


@dataclass(frozen=True)
class CallQuery:
    """Which calls: every field None (or False) selects all of them. Times are aware UTC."""

    since: datetime | None = None  # started at or after
    until: datetime | None = None  # started before
    branch: str | None = None
    admin: str | None = None
    caller_type: str | None = None  # a comment caller type, or UNKNOWN_CALLER (see caller_type())
    topic: str | None = None  # the report topic; UNKNOWN_TOPIC: none known
    outcome: str | None = None
    opportunity: str | None = None  # the class that counts: chosen, else proposed
    linked: bool | None = None  # has a booking link (True) or none (False)
    number_e164: str | None = None
    number_suffix: str | None = None  # digits the number ends with, as written or in E.164
    include_staff: bool = False  # staff, contractors and "other" calls (in_statistics false)
    # (branch, admin login): only the calls of that branch or offered to that admin (an admin's
    # or assistant's view); None: every call.
    visible_to: tuple[str | None, str | None] | None = None


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: its last call. Opaque to clients (URL-safe base64 of JSON)."""

    started_at: datetime
    call_id: str

    def encode(self) -> str:
        raw = json.dumps([self.started_at.isoformat(), self.call_id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """ValueError for anything this class did not encode."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            at, call_id = json.loads(raw)
            started = datetime.fromisoformat(at)
        except (binascii.Error, UnicodeDecodeError, TypeError, ValueError) as exc:
            raise ValueError("not a cursor this server gave") from exc
        if not isinstance(call_id, str) or started.utcoffset() is None:
            raise ValueError("not a cursor this server gave")
        return cls(started.astimezone(UTC), call_id)


@dataclass(frozen=True)
class CallPage:
    calls: list[CallRecord]
    next_cursor: str | None  # None: this is the last page


@dataclass(frozen=True)
class CallDetail:
    call: CallRecord
    comment_versions: int  # how many versions the comment has had (0: none written)


# ---------------------------------------------------------------------------- the SQL of a filter
def caller_type_sql() -> ColumnElement[str]:
    """``records.caller_type`` in SQL (the comment must be outer-joined)."""
    implied = case(
        (Call.caller_kind == "staff", "employee"),
        (Call.caller_kind == "contractor", "contractor"),
        else_=UNKNOWN_CALLER,
    )
    return func.coalesce(CallComment.caller_type, implied)


def topic_sql() -> ColumnElement[str | None]:
    """``people.schema.report_topic`` in SQL (the comment must be outer-joined)."""
    said = and_(CallComment.topic.is_not(None), CallComment.topic != UNKNOWN_TOPIC)
    return case((said, CallComment.topic), else_=Call.topic)


def opportunity_sql() -> ColumnElement[str | None]:
    return func.coalesce(Call.opportunity_chosen, Call.opportunity)


def linked_sql(kind: str | None = None) -> ColumnElement[bool]:
    """The call brought a booking event (of ``kind``, when given)."""
    found = select(CallLink.booking_event_id).where(CallLink.call_id == Call.id)
    if kind is not None:
        found = found.join(BookingEvent, BookingEvent.id == CallLink.booking_event_id).where(
            BookingEvent.kind == kind
        )
    return exists(found)


def visible_sql(branch: str | None, login: str | None) -> ColumnElement[bool]:
    """The call is ``branch``'s, or ``login`` answered it or had a leg of it (it was offered them)."""
    offered = exists(select(CallLeg.id).where(CallLeg.call_id == Call.id, CallLeg.admin == login))
    return or_(Call.branch == branch, Call.admin == login, offered)


def conditions(q: CallQuery) -> list[ColumnElement[bool]]:
    """The WHERE of ``q`` over calls outer-joined with their comment."""
    where: list[ColumnElement[bool]] = []
    if not q.include_staff:
        where.append(Call.in_statistics.is_(True))
    if q.since is not None:
        where.append(Call.started_at >= q.since)
    if q.until is not None:
        where.append(Call.started_at < q.until)
    for column, value in ((Call.branch, q.branch), (Call.admin, q.admin), (Call.outcome, q.outcome)):
        if value is not None:
            where.append(column == value)
    if q.caller_type is not None:
        where.append(caller_type_sql() == q.caller_type)
    if q.topic is not None:
        topic = topic_sql()
        where.append(topic.is_(None) if q.topic == UNKNOWN_TOPIC else topic == q.topic)
    if q.opportunity is not None:
        where.append(opportunity_sql() == q.opportunity)
    if q.linked is not None:
        where.append(linked_sql() if q.linked else ~linked_sql())
    if q.visible_to is not None:
        where.append(visible_sql(*q.visible_to))
    if q.number_e164 is not None:
        where.append(Call.caller_e164 == q.number_e164)
    if q.number_suffix is not None:
        if not q.number_suffix.isdigit():  # digits only, so nothing in it is a LIKE wildcard
            where.append(false())
        else:
            tail = "%" + q.number_suffix
            where.append(or_(Call.caller_number.like(tail), Call.caller_e164.like(tail)))
    return where


def _after(cursor: Cursor | None) -> list[ColumnElement[bool]]:
    if cursor is None:
        return []
    same_instant = and_(Call.started_at == cursor.started_at, Call.id > cursor.call_id)
    # The plain range first: with the OR alone, SQLite scans the index from the newest call on
    # every page, so each page of an export cost more than the one before.
    return [Call.started_at <= cursor.started_at, or_(Call.started_at < cursor.started_at, same_instant)]


NEWEST_FIRST = (Call.started_at.desc(), Call.id)


# ---------------------------------------------------------------------------- the store
class HistoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(
        self, q: CallQuery, *, limit: int, cursor: Cursor | None = None, before: datetime | None = None
    ) -> CallPage:
        """Up to ``limit`` calls after ``cursor`` (``before``: started before that instant)."""
        stmt = (
            select(Call, CallComment, Patient.external_id)
            .outerjoin(CallComment, CallComment.call_id == Call.id)
            .outerjoin(Patient, Patient.id == CallComment.patient_id)
            .options(selectinload(Call.legs), selectinload(Call.recordings))
            .where(*conditions(q), *_after(cursor))
            .order_by(*NEWEST_FIRST)
            .limit(limit + 1)  # one more tells whether another page follows
        )
        if before is not None:
            stmt = stmt.where(Call.started_at < before)
        async with self.db.guarded_session() as s:
            rows = list((await s.execute(stmt)).all())
            more = len(rows) > limit
            rows = rows[:limit]
            links = await _links(s, [call.id for call, _, _ in rows])
        calls = [_record(call, _note(comment, ext), links.get(call.id, ())) for call, comment, ext in rows]
        last = calls[-1] if calls else None
        next_cursor = Cursor(last.started_at, last.id).encode() if more and last else None
        return CallPage(calls, next_cursor)

    async def detail(self, call_id: str) -> CallDetail | None:
        versions = (
            select(func.count())
            .where(CallCommentVersion.call_id == Call.id)
            .correlate(Call)
            .scalar_subquery()
        )
        stmt = (
            select(Call, CallComment, Patient.external_id, versions)
            .outerjoin(CallComment, CallComment.call_id == Call.id)
            .outerjoin(Patient, Patient.id == CallComment.patient_id)
            .options(selectinload(Call.legs), selectinload(Call.recordings))
            .where(Call.id == call_id)
        )
        async with self.db.guarded_session() as s:
            row = (await s.execute(stmt)).first()
            if row is None:
                return None
            call, comment, ext, count = row
            links = await _links(s, [call.id])
        return CallDetail(_record(call, _note(comment, ext), links.get(call.id, ())), int(count))

    async def export(self, q: CallQuery, *, page: int = EXPORT_PAGE) -> AsyncIterator[list[ExportRow]]:
        """Every call ``q`` selects, newest first, ``page`` rows at a time: each page its own short
        query (keyset), so neither memory nor a transaction grows with the total."""
        cursor: Cursor | None = None
        while True:
            stmt = _export_select().where(*conditions(q), *_after(cursor)).order_by(*NEWEST_FIRST).limit(page)
            async with self.db.guarded_session() as s:
                rows = [ExportRow(*row) for row in (await s.execute(stmt)).all()]
            if rows:
                yield rows
            if len(rows) < page:
                return
            cursor = Cursor(rows[-1].started_at, rows[-1].id)


@dataclass(frozen=True)
class ExportRow:
    """One call as the CSV export writes it (the columns of ``_export_select``, in order)."""

    id: str
    started_at: datetime
    branch: str | None
    did: str
    ad_channel: str | None
    caller_number: str
    caller_e164: str | None
    caller_kind: str | None
    caller_type: str
    topic: str | None
    outcome: str | None
    admin: str | None
    wait_seconds: float | None
    talk_seconds: float | None
    opportunity: str | None
    linked_bookings: int
    comment: str | None


def _export_select() -> Any:
    linked = select(func.count()).where(CallLink.call_id == Call.id).correlate(Call).scalar_subquery()
    return select(
        Call.id,
        Call.started_at,
        Call.branch,
        Call.did,
        Call.ad_channel,
        Call.caller_number,
        Call.caller_e164,
        Call.caller_kind,
        caller_type_sql(),
        topic_sql(),
        Call.outcome,
        Call.admin,
        Call.wait_seconds,
        Call.talk_seconds,
        opportunity_sql(),
        linked,
        CallComment.text,
    ).outerjoin(CallComment, CallComment.call_id == Call.id)


async def _links(s: AsyncSession, call_ids: Sequence[str]) -> dict[str, list[LinkRecord]]:
    """The booking links of these calls (at most a page's: well under any bound-parameter limit)."""
    if not call_ids:
        return {}
    stmt = (
        select(CallLink, BookingEvent)
        .join(BookingEvent, BookingEvent.id == CallLink.booking_event_id)
        .where(CallLink.call_id.in_(list(call_ids)))
        .order_by(BookingEvent.happened_at, BookingEvent.id)
    )
    found: dict[str, list[LinkRecord]] = {}
    for link, event in (await s.execute(stmt)).all():
        record = _plain(
            LinkRecord,
            event,
            booking_event_id=event.id,
            rule=link.rule,
            distance_seconds=link.distance_seconds,
        )
        found.setdefault(link.call_id, []).append(record)
    return found
