"""The bookings feed and the links in the database: events recorded once each, their links
decided as they arrive and again whenever a call they may belong to changes.

``record`` takes a batch in one transaction: an event seen before with the same content is a
duplicate (nothing changes), with other content a conflict (nothing of the batch is stored). A
call that ends, gets a comment or learns who called (``relink_call``) re-decides the events in its
windows whose patient it is about, and every call whose links moved is classified again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ari_app.bookings import opportunity
from ari_app.bookings.linking import CallSpan, Windows
from ari_app.bookings.links import (
    CHUNK,
    EVENT_COLUMNS,
    StoredEvent,
    candidate_spans,
    link_events,
    linked_calls,
    stored_event,
)
from ari_app.bookings.relink import Progress, Relinker, RelinkReport, relink_since
from ari_app.bookings.schema import FIELDS, BookingEventIn
from ari_app.config import BookingSettings
from ari_app.store.bookings import BookingEvent, CallLink
from ari_app.store.db import Database
from ari_app.store.models import Call
from ari_app.store.people import CallComment, Patient, PatientPhone


def windows_from(settings: BookingSettings) -> Windows:
    return Windows(
        created_before=timedelta(minutes=settings.created_before_minutes),
        created_after=timedelta(minutes=settings.created_after_minutes),
        change_before=timedelta(minutes=settings.change_before_minutes),
        change_after=timedelta(minutes=settings.change_after_minutes),
    )


class EventConflict(Exception):
    """An event id already stored with other content: the scheduler reused an id."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event {event_id} was received before with other content")
        self.event_id = event_id


@dataclass(frozen=True)
class RecordResult:
    event_id: str
    result: Literal["recorded", "duplicate"]
    patient_known: bool
    linked_call_id: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def _fingerprint_of(row: Any) -> tuple[object, ...]:
    return tuple(getattr(row, name) for name in FIELDS)


class BookingStore:
    def __init__(
        self, db: Database, windows: Windows | None = None, clock: Callable[[], datetime] = _now
    ) -> None:
        self.db = db
        self.windows = windows or Windows()
        self.clock = clock

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        with self.db.unavailable_on_connection_errors():
            async with self.db.engine.begin() as conn:
                yield conn

    def _insert_new(self) -> Any:
        return (sqlite_insert if self.db.is_sqlite else pg_insert)(BookingEvent).on_conflict_do_nothing(
            index_elements=["event_id"]
        )

    async def record(self, events: Sequence[BookingEventIn]) -> list[RecordResult]:
        """Store the new events and decide their links; EventConflict stores nothing."""
        now = self.clock()
        async with self.transaction() as conn:
            stored = await self._insert(conn, events, now)
            fresh = [s for s in stored if s is not None]
            # A new event has no link yet, so no call loses one: only the calls it links to
            # are classified again, and there is nothing of its own to delete first.
            links = await link_events(conn, fresh, self.windows, now, fresh=True)
            await opportunity.classify_calls(conn, {link.call_id for link in links.values() if link}, now)
            known = await self._known(conn, {e.patient_external_id for e in events})
            seen = [e.event_id for e, s in zip(events, stored, strict=True) if s is None]
            linked = await self._links_of(conn, seen) if seen else {}
        for e, s in zip(events, stored, strict=True):
            link = None if s is None else links.get(s.id)
            if link is not None:
                linked[e.event_id] = link.call_id
        return [
            RecordResult(
                e.event_id,
                "duplicate" if s is None else "recorded",
                e.patient_external_id in known,
                linked.get(e.event_id),
            )
            for e, s in zip(events, stored, strict=True)
        ]

    async def _insert(
        self, conn: AsyncConnection, events: Sequence[BookingEventIn], now: datetime
    ) -> list[StoredEvent | None]:
        """Insert each new event (its stored form) or find it stored before with the same
        content (None). Raises EventConflict."""
        out: list[StoredEvent | None] = []
        batch: dict[str, tuple[object, ...]] = {}
        for event in events:
            if event.event_id in batch:  # the same id twice in one batch
                if batch[event.event_id] != event.fingerprint():
                    raise EventConflict(event.event_id)
                out.append(None)
                continue
            batch[event.event_id] = event.fingerprint()
            # One statement for a new event; one stored before (or by a concurrent request)
            # is left alone by the unique id, then read back and compared.
            insert = self._insert_new().values(**event.model_dump(), received_at=now)
            row = (await conn.execute(insert.returning(*EVENT_COLUMNS))).one_or_none()
            if row is not None:
                out.append(stored_event(row))
                continue
            again = select(BookingEvent).where(BookingEvent.event_id == event.event_id)
            if _fingerprint_of((await conn.execute(again)).one()) != event.fingerprint():
                raise EventConflict(event.event_id)
            out.append(None)
        return out

    @staticmethod
    async def _known(conn: AsyncConnection, external_ids: set[str]) -> set[str]:
        query = select(Patient.external_id).where(Patient.external_id.in_(external_ids))
        return set((await conn.execute(query)).scalars())

    @staticmethod
    async def _links_of(conn: AsyncConnection, event_ids: list[str]) -> dict[str, str]:
        query = (
            select(BookingEvent.event_id, CallLink.call_id)
            .join(CallLink, CallLink.booking_event_id == BookingEvent.id)
            .where(BookingEvent.event_id.in_(event_ids))
        )
        return {r.event_id: r.call_id for r in await conn.execute(query)}

    async def relink_call(self, call_id: str) -> bool:
        """Re-decide the events in this call's windows whose patient it is about, and classify
        the calls whose links that moved. False when there is no such call."""
        now = self.clock()
        async with self.transaction() as conn:
            call = (
                await conn.execute(
                    select(Call.started_at, Call.ended_at, Call.caller_e164).where(Call.id == call_id)
                )
            ).one_or_none()
            if call is None:
                return False
            events = await self._affected(conn, call_id, call, now)
            before = await linked_calls(conn, [e.id for e in events])
            links = await link_events(conn, events, self.windows, now)
            after = {link.call_id for link in links.values() if link is not None}
            await opportunity.classify_calls(conn, {call_id} | before | after, now)
        return True

    async def relink_patients(self, external_ids: Collection[str]) -> int:
        """Cards saved (new, or their numbers, guardian or family changed): re-decide every event
        of those patients and of their children and family (whose calls the cards' numbers may
        be), and classify the calls whose links moved. How many events were decided.

        An event for a patient the directory did not know yet links here, once the card arrives."""
        if not external_ids:
            return 0
        now = self.clock()
        async with self.transaction() as conn:
            cards = select(Patient.id).where(Patient.external_id.in_(set(external_ids)))
            about = await self._with_relatives(conn, set((await conn.execute(cards)).scalars()))
            if not about:
                return 0
            query = select(*EVENT_COLUMNS).where(BookingEvent.patient_external_id.in_(about))
            events = [stored_event(r) for r in await conn.execute(query.order_by(BookingEvent.happened_at))]
            moved = await linked_calls(conn, [e.id for e in events])
            for group in _by_time(events):
                links = await link_events(conn, group, self.windows, now)
                moved |= {link.call_id for link in links.values() if link is not None}
            await opportunity.classify_calls(conn, moved, now)
        return len(events)

    async def _affected(
        self, conn: AsyncConnection, call_id: str, call: Any, now: datetime
    ) -> list[StoredEvent]:
        """Events in the call's widest windows for the patients it may be about, and the events
        linked to it now (a changed comment may take them away)."""
        about = await self._patients_about(conn, call_id, call.caller_e164)
        before, after = self.windows.widest
        end = call.ended_at if call.ended_at is not None else max(now, call.started_at)
        linked = select(CallLink.booking_event_id).where(CallLink.call_id == call_id)
        near = BookingEvent.happened_at.between(call.started_at - before, end + after)
        condition: ColumnElement[bool] = BookingEvent.id.in_(linked)
        if about:
            condition = or_(condition, near & BookingEvent.patient_external_id.in_(about))
        return [stored_event(r) for r in await conn.execute(select(*EVENT_COLUMNS).where(condition))]

    @staticmethod
    async def _patients_about(conn: AsyncConnection, call_id: str, e164: str | None) -> set[str]:
        """External ids of the cards a call may be about: the comment's patient, the cards its
        number is on, and the children and family of those cards."""
        direct: set[int] = set()
        comment = await conn.execute(select(CallComment.patient_id).where(CallComment.call_id == call_id))
        direct.update(p for p in comment.scalars() if p is not None)
        if e164:
            on_number = select(PatientPhone.patient_id).where(PatientPhone.number_e164 == e164)
            direct.update((await conn.execute(on_number)).scalars())
        return await BookingStore._with_relatives(conn, direct)

    @staticmethod
    async def _with_relatives(conn: AsyncConnection, direct: set[int]) -> set[str]:
        """External ids of these cards and of their children and family."""
        if not direct:
            return set()
        cards = (
            await conn.execute(select(Patient.external_id, Patient.family_id).where(Patient.id.in_(direct)))
        ).all()
        owners = {r.external_id for r in cards}
        families = {r.family_id for r in cards if r.family_id}
        relatives = select(Patient.external_id).where(
            or_(Patient.guardian_external_id.in_(owners), Patient.family_id.in_(families))
        )
        return owners | set((await conn.execute(relatives)).scalars())

    async def candidate_calls(self, event: BookingEventIn) -> list[CallSpan]:
        """The calls about the event's patient within its widest window (for inspection)."""
        async with self.transaction() as conn:
            return await candidate_spans(conn, event.patient_external_id, event.happened_at, self.windows)

    async def relink_since(self, since: datetime, progress: Progress | None = None) -> RelinkReport:
        """Every event's link since ``since``, then every call's class (see ``relink``)."""
        return await relink_since(Relinker(self.transaction, self.windows, self.clock), since, progress)

    async def choose_opportunity(
        self, call_id: str, chosen: str, by: str
    ) -> opportunity.OpportunityView | None:
        async with self.transaction() as conn:
            return await opportunity.choose(conn, call_id, chosen, by, self.clock())

    async def classification_report(
        self, since: datetime | None, until: datetime | None, branch: str | None
    ) -> opportunity.ClassificationReport:
        async with self.transaction() as conn:
            return await opportunity.report(conn, since, until, branch)


def _by_time(
    events: Sequence[StoredEvent], span: timedelta = timedelta(days=1)
) -> Iterator[list[StoredEvent]]:
    """Events in time order, cut where a group would span more than ``span``: each group's calls
    are read for its own time span, not for the years between a patient's first and last event."""
    group: list[StoredEvent] = []
    for event in events:
        if group and (event.happened_at - group[0].happened_at > span or len(group) >= CHUNK):
            yield group
            group = []
        group.append(event)
    if group:
        yield group
