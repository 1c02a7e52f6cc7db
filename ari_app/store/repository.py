"""CallStore: every write is idempotent, so replaying a fact changes nothing; the first end wins."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload

from ari_app.people.schema import report_topic
from ari_app.service_level import wait_seconds
from ari_app.store.db import Database
from ari_app.store.models import (
    Call,
    CallbackTask,
    CallLeg,
    CallTransfer,
    ImportPosition,
    Recording,
    SpoolPosition,
)
from ari_app.store.people import CallComment, Patient
from ari_app.store.records import (
    CallbackTaskRecord,
    CallNote,
    CallRecord,
    LegRecord,
    LinkRecord,
    RecordingRecord,
    caller_type,
)

_R = TypeVar("_R", CallRecord, CallNote, LegRecord, LinkRecord, RecordingRecord, CallbackTaskRecord)

OPEN_CALLBACK = ("new", "read")  # still to be worked: a new missed call is added to such a task
CALLBACK_STATUSES = ("new", "read", "answered", "handled_outside", "closed", "rejected")
# status -> the statuses it may become; setting the status a task already has changes nothing.
CALLBACK_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("read", "answered", "handled_outside", "closed", "rejected"),
    "read": ("answered", "handled_outside", "closed", "rejected"),
    "closed": ("new",),  # reopened
}


def _now() -> datetime:
    return datetime.now(UTC)


class CallStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        # The session of a batch opened by this task (see batch()); other tasks never see it.
        self._batch: ContextVar[AsyncSession | None] = ContextVar(f"store-batch-{id(self)}", default=None)

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Run the writes made inside in one transaction: all of them land, or none."""
        async with self._session() as s, s.begin():
            token = self._batch.set(s)
            try:
                yield
            finally:
                self._batch.reset(token)

    def _session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A short session; a refused or dropped connection surfaces as StoreUnavailable."""
        return self.db.guarded_session()

    async def _write(self, *statements: Any) -> None:
        batch = self._batch.get()
        if batch is None:  # a write of its own: its own transaction
            async with self.batch():
                await self._write(*statements)
            return
        # Core execution on the session's connection: these are plain statements, and the ORM's
        # bulk-update machinery would only add per-statement work.
        conn = await batch.connection()
        for stmt in statements:
            await conn.execute(stmt)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        """The connection of this task's batch, else of a transaction of its own."""
        batch = self._batch.get()
        if batch is not None:
            yield await batch.connection()
            return
        async with self.batch():
            own = self._batch.get()
            assert own is not None
            yield await own.connection()

    async def _update_call(self, call_id: str, values: dict[str, Any]) -> None:
        """Update the call's row; LookupError when it is not there yet (its start is still to
        come, so the fact is retried). ``values`` must leave a replayed fact changing nothing."""
        async with self._connection() as conn:
            result = await conn.execute(
                update(Call).where(Call.id == call_id).values(**values, updated_at=_now())
            )
        if result.rowcount == 0:
            raise LookupError(f"call {call_id} is not stored yet")

    def _insert(self, model: Any, values: dict[str, Any]) -> Any:
        """An INSERT of this database's dialect (both have ON CONFLICT)."""
        return (sqlite_insert if self.db.is_sqlite else pg_insert)(model).values(**values)

    def _insert_ignore(self, model: Any, values: dict[str, Any]) -> Any:
        return self._insert(model, values).on_conflict_do_nothing()

    # ------------------------------------------------------------------ writes
    async def call_started(
        self,
        *,
        call_id: str,
        channel_id: str,
        caller_number: str,
        caller_e164: str | None,
        caller_name: str,
        did: str,
        branch: str | None,
        ad_channel: str | None,
        started_at: datetime,
        handled_by: str = "app",
    ) -> None:
        now = _now()
        await self._write(
            self._insert_ignore(
                Call,
                dict(
                    handled_by=handled_by,
                    id=call_id,
                    channel_id=channel_id,
                    caller_number=caller_number,
                    caller_e164=caller_e164,
                    caller_name=caller_name,
                    did=did,
                    branch=branch,
                    ad_channel=ad_channel,
                    started_at=started_at,
                    created_at=now,
                    updated_at=now,
                ),
            )
        )

    async def leg_created(
        self, *, call_id: str, leg_id: str, admin: str, endpoint: str, created_at: datetime
    ) -> None:
        values = dict(id=leg_id, call_id=call_id, admin=admin, endpoint=endpoint, created_at=created_at)
        await self._write(self._insert_ignore(CallLeg, values))

    async def leg_updated(
        self,
        leg_id: str,
        *,
        dialed_at: datetime | None = None,
        ringing_at: datetime | None = None,
        answered_at: datetime | None = None,
    ) -> None:
        stmts = []
        for column, value in (
            ("dialed_at", dialed_at),
            ("ringing_at", ringing_at),
            ("answered_at", answered_at),
        ):
            if value is not None:
                col = getattr(CallLeg, column)
                stmts.append(
                    update(CallLeg).where(CallLeg.id == leg_id, col.is_(None)).values({column: value})
                )
        if stmts:
            await self._write(*stmts)

    async def leg_ended(
        self, leg_id: str, *, result: str, ended_at: datetime, cause: int | None = None
    ) -> None:
        await self._write(
            update(CallLeg)
            .where(CallLeg.id == leg_id, CallLeg.result.is_(None))
            .values(result=result, ended_at=ended_at, cause=cause)
        )

    async def call_answered(self, call_id: str, *, admin: str, answered_at: datetime) -> None:
        await self._write(
            update(Call)
            .where(Call.id == call_id, Call.answered_at.is_(None))
            .values(admin=admin, answered_at=answered_at, updated_at=_now())
        )

    async def call_ended(
        self,
        call_id: str,
        *,
        outcome: str,
        ended_at: datetime,
        hangup_side: str | None = None,
        end_cause: int | None = None,
        failure_reason: str | None = None,
    ) -> None:
        query = select(Call.started_at, Call.answered_at).where(Call.id == call_id)
        batch = self._batch.get()
        if batch is not None:
            row = (await batch.execute(query)).first()
        else:
            async with self._session() as s:
                row = (await s.execute(query)).first()
        if row is None:
            raise LookupError(f"call {call_id} is not stored yet")
        started, answered = row
        wait = wait_seconds(started, answered or ended_at)  # the one definition
        talk = (ended_at - answered).total_seconds() if answered else None
        await self._write(
            update(Call)
            .where(Call.id == call_id, Call.outcome.is_(None))
            .values(
                outcome=outcome,
                ended_at=ended_at,
                hangup_side=hangup_side,
                end_cause=end_cause,
                failure_reason=failure_reason,
                wait_seconds=wait,
                talk_seconds=None if talk is None else max(0.0, talk),
                updated_at=_now(),
            )
        )

    async def recording_saved(
        self,
        call_id: str,
        *,
        name: str,
        fmt: str,
        path: str,
        duration_seconds: float,
        size_bytes: int,
        sha256: str,
        repaired: bool = False,
    ) -> None:
        await self._write(
            self._insert_ignore(
                Recording,
                dict(
                    call_id=call_id,
                    name=name,
                    format=fmt,
                    path=path,
                    duration_seconds=duration_seconds,
                    bytes=size_bytes,
                    sha256=sha256,
                    status="repaired" if repaired else "saved",
                    created_at=_now(),
                ),
            )
        )

    async def recording_failed(self, call_id: str, *, name: str, fmt: str, error: str) -> None:
        values = dict(call_id=call_id, name=name, format=fmt, status="failed", error=error, created_at=_now())
        await self._write(self._insert_ignore(Recording, values))

    async def notice_played(self, call_id: str, *, at: datetime) -> None:
        await self._update_call(call_id, {"notice_played": True})

    async def topic_chosen(self, call_id: str, *, topic: str, at: datetime) -> None:
        await self._update_call(call_id, {"topic": func.coalesce(Call.topic, topic)})  # the first wins

    async def caller_identified(
        self, call_id: str, *, kind: str, patient_id: int | None, patient_cards: int, in_statistics: bool
    ) -> None:
        """Who called, as the directories knew the number then (a replay writes the same)."""
        values = dict(
            caller_kind=kind, patient_id=patient_id, patient_cards=patient_cards, in_statistics=in_statistics
        )
        await self._update_call(call_id, values)

    async def call_queued(self, call_id: str, *, at: datetime) -> None:
        await self._update_call(call_id, {"queued_at": func.coalesce(Call.queued_at, at)})

    async def call_transferred(self, call_id: str, *, from_admin: str, to: str, at: datetime) -> None:
        """One row per transfer (a replay inserts none: unique on call and time); the call's
        ``transfers`` is their count."""
        async with self._connection() as conn:
            if await conn.scalar(select(Call.id).where(Call.id == call_id)) is None:
                raise LookupError(f"call {call_id} is not stored yet")
            values = dict(call_id=call_id, from_admin=from_admin, to=to, at=at)
            await conn.execute(self._insert_ignore(CallTransfer, values))
            count = select(func.count()).where(CallTransfer.call_id == call_id).scalar_subquery()
            await self._update_call(call_id, {"transfers": count})  # in the same transaction

    async def callback_needed(
        self,
        call_id: str,
        *,
        number: str,
        number_e164: str | None,
        branch: str | None,
        reason: str,
        due_at: datetime,
        at: datetime,
        merge_minutes: int = 60,
    ) -> str:
        """Add this call to its number's open callback task, or make one; returns the task's id.

        One task per number: an open task (new or read) of the same number (compared in E.164
        when the number parses, else as given) that was made or last hit within
        ``merge_minutes`` before ``at`` takes the call (attempts + 1, the earliest due time, the
        latest reason); otherwise a new task is made. A call already linked changes nothing.

        Concurrency: the fact writer is the only process that writes tasks and its batches run
        one after another, so two of these never race each other. The open task is read with
        SELECT ... FOR UPDATE (PostgreSQL; SQLite serialises writers anyway), so a status change
        from the API waits for this transaction, and a task closed just before is seen closed
        and not merged into.
        """
        async with self._connection() as conn:
            row = (await conn.execute(select(Call.callback_task_id).where(Call.id == call_id))).first()
            if row is None:
                raise LookupError(f"call {call_id} is not stored yet")
            if row.callback_task_id is not None:
                return str(row.callback_task_id)  # a replayed fact
            now = _now()
            task_id = await conn.scalar(
                select(CallbackTask.id)
                .where(
                    _same_number(number, number_e164),
                    CallbackTask.status.in_(OPEN_CALLBACK),
                    CallbackTask.last_call_at >= at - timedelta(minutes=merge_minutes),
                )
                .order_by(CallbackTask.last_call_at.desc(), CallbackTask.id)
                .limit(1)
                .with_for_update()
            )
            if task_id is not None:
                await conn.execute(
                    update(CallbackTask)
                    .where(CallbackTask.id == task_id)
                    .values(
                        attempts=CallbackTask.attempts + 1,
                        last_call_at=case(
                            (CallbackTask.last_call_at < at, at), else_=CallbackTask.last_call_at
                        ),
                        due_at=case((CallbackTask.due_at > due_at, due_at), else_=CallbackTask.due_at),
                        reason=reason,
                        branch=func.coalesce(CallbackTask.branch, branch),
                        updated_at=now,
                    )
                )
            else:
                task_id = str(uuid.uuid4())
                await conn.execute(
                    self._insert(
                        CallbackTask,
                        dict(
                            id=task_id,
                            number=number,
                            number_e164=number_e164,
                            branch=branch,
                            reason=reason,
                            status="new",
                            due_at=due_at,
                            created_at=at,
                            updated_at=now,
                            attempts=1,
                            last_call_at=at,
                        ),
                    )
                )
            await conn.execute(
                update(Call).where(Call.id == call_id).values(callback_task_id=task_id, updated_at=now)
            )
            return str(task_id)

    async def set_callback_status(self, task_id: str, status: str) -> CallbackTaskRecord | None:
        """Move a task to ``status``; None when there is no such task. ValueError for a status
        that does not exist or a move that is not allowed (see ``CALLBACK_TRANSITIONS``)."""
        if status not in CALLBACK_STATUSES:
            raise ValueError(f"unknown status {status!r}: one of {', '.join(CALLBACK_STATUSES)}")
        # One conditional UPDATE: the check and the move cannot be split by another writer (and
        # on SQLite the transaction takes the write lock at once).
        sources = [old for old, targets in CALLBACK_TRANSITIONS.items() if status in targets]
        async with self._connection() as conn:
            moved = await conn.execute(
                update(CallbackTask)
                .where(CallbackTask.id == task_id, CallbackTask.status.in_(sources))
                .values(status=status, updated_at=_now())
            )
            if moved.rowcount == 0:
                current = await conn.scalar(select(CallbackTask.status).where(CallbackTask.id == task_id))
                if current is None:
                    return None
                if current != status:
                    allowed = CALLBACK_TRANSITIONS.get(current, ())
                    can = f"allowed: {', '.join(allowed)}" if allowed else f"{current} is final"
                    raise ValueError(f"status {current} cannot change to {status} ({can})")
        return await self.get_callback(task_id)

    # ------------------------------------------------------------------ spool positions
    async def set_spool_position(self, segment: str, seq: int) -> None:
        stmt = self._insert(SpoolPosition, dict(segment=segment, last_seq=seq, updated_at=_now()))
        larger = func.max if self.db.is_sqlite else func.greatest  # SQLite's two-argument max
        stmt = stmt.on_conflict_do_update(
            index_elements=[SpoolPosition.segment],
            set_={"last_seq": larger(SpoolPosition.last_seq, stmt.excluded.last_seq)},
        )
        await self._write(stmt)

    async def import_position(self, source: str) -> tuple[int, str | None]:
        """How many bytes of ``source`` (a file of Asterisk's records) are imported, and the mark
        of the bytes just before (to tell the file was rewritten); (0, None) at first."""
        async with self._session() as s:
            query = select(ImportPosition.position, ImportPosition.mark)
            row = (await s.execute(query.where(ImportPosition.source == source))).first()
            return (int(row.position), row.mark) if row is not None else (0, None)

    async def set_import_position(self, source: str, position: int, mark: str | None = None) -> None:
        values = dict(source=source, position=position, mark=mark, updated_at=_now())
        stmt = self._insert(ImportPosition, values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[ImportPosition.source],
            set_={
                "position": stmt.excluded.position,
                "mark": stmt.excluded.mark,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        await self._write(stmt)

    async def spool_position(self, segment: str) -> int:
        async with self._session() as s:
            value = await s.scalar(select(SpoolPosition.last_seq).where(SpoolPosition.segment == segment))
            return int(value or 0)

    async def forget_spool_segment(self, segment: str) -> None:
        await self._write(delete(SpoolPosition).where(SpoolPosition.segment == segment))

    # ------------------------------------------------------------------ reads
    def _select(self) -> Any:
        """Calls with their legs and recordings, and their comment joined in (one query for
        any number of calls)."""
        return (
            select(Call, CallComment, Patient.external_id)
            .outerjoin(CallComment, CallComment.call_id == Call.id)
            .outerjoin(Patient, Patient.id == CallComment.patient_id)
            .options(selectinload(Call.legs), selectinload(Call.recordings))
        )

    async def _calls(self, s: AsyncSession, stmt: Any) -> list[CallRecord]:
        return [
            _record(call, _note(comment, patient)) for call, comment, patient in (await s.execute(stmt)).all()
        ]

    async def _one(self, stmt: Any) -> CallRecord | None:
        async with self._session() as s:
            found = await self._calls(s, stmt)
            return found[0] if found else None

    async def get_call(self, call_id: str) -> CallRecord | None:
        return await self._one(self._select().where(Call.id == call_id))

    async def find_by_channel(self, channel_id: str) -> CallRecord | None:
        return await self._one(self._select().where(Call.channel_id == channel_id))

    async def calls_by_channels(self, channel_ids: list[str]) -> list[CallRecord]:
        """The calls whose caller's channel is one of ``channel_ids`` (any number of them)."""
        found: list[CallRecord] = []
        async with self._session() as s:
            for start in range(0, len(channel_ids), 500):  # well under any bound-parameter limit
                chunk = channel_ids[start : start + 500]
                stmt = self._select().where(Call.channel_id.in_(chunk)).order_by(Call.started_at)
                found += await self._calls(s, stmt)
        return found

    async def list_calls(
        self, *, limit: int = 50, before: datetime | None = None, outcome: str | None = None
    ) -> list[CallRecord]:
        stmt = self._select().order_by(Call.started_at.desc(), Call.id).limit(limit)
        if before is not None:
            stmt = stmt.where(Call.started_at < before)
        if outcome is not None:
            stmt = stmt.where(Call.outcome == outcome)
        async with self._session() as s:
            return await self._calls(s, stmt)

    async def open_calls(self, *, started_before: datetime | None = None) -> list[CallRecord]:
        stmt = self._select().where(Call.outcome.is_(None)).order_by(Call.started_at)
        if started_before is not None:
            stmt = stmt.where(Call.started_at < started_before)
        async with self._session() as s:
            return await self._calls(s, stmt)

    async def outcome_counts(self, since: datetime | None = None) -> dict[str, int]:
        calls = select(Call.outcome, func.count()).where(Call.outcome.is_not(None)).group_by(Call.outcome)
        recorded = (
            select(func.count(func.distinct(Recording.call_id)))
            .join(Call, Call.id == Recording.call_id)
            .where(Recording.status.in_(("saved", "repaired")))
        )
        if since is not None:
            calls = calls.where(Call.started_at >= since)
            recorded = recorded.where(Call.started_at >= since)
        async with self._session() as s:
            counts = {str(k): int(v) for k, v in (await s.execute(calls)).all()}
            counts["recorded"] = int((await s.execute(recorded)).scalar_one())
        return counts

    async def get_callback(self, task_id: str) -> CallbackTaskRecord | None:
        tasks = await self._callbacks(select(CallbackTask).where(CallbackTask.id == task_id))
        return tasks[0] if tasks else None

    async def list_callbacks(
        self, *, status: str | None = None, branch: str | None = None, limit: int = 100
    ) -> list[CallbackTaskRecord]:
        """Open tasks first, the soonest due first (the order to work them in); then the others,
        the latest due first. ``status`` is one of ``CALLBACK_STATUSES``, or "open" (new or read)."""
        is_open = CallbackTask.status.in_(OPEN_CALLBACK)
        stmt = select(CallbackTask).order_by(
            case((is_open, 0), else_=1),
            case((is_open, CallbackTask.due_at)).asc(),
            CallbackTask.due_at.desc(),
            CallbackTask.id,
        )
        if status == "open":
            stmt = stmt.where(is_open)
        elif status is not None:
            stmt = stmt.where(CallbackTask.status == status)
        if branch is not None:
            stmt = stmt.where(CallbackTask.branch == branch)
        return await self._callbacks(stmt.limit(limit))

    async def _callbacks(self, stmt: Any) -> list[CallbackTaskRecord]:
        async with self._session() as s:
            tasks = list((await s.execute(stmt)).scalars())
            calls: dict[str, list[str]] = {t.id: [] for t in tasks}
            if tasks:
                linked = (
                    select(Call.callback_task_id, Call.id)
                    .where(Call.callback_task_id.in_(list(calls)))
                    .order_by(Call.started_at, Call.id)
                )
                for task_id, call_id in (await s.execute(linked)).all():
                    calls[str(task_id)].append(call_id)
        return [_plain(CallbackTaskRecord, t, call_ids=calls[t.id]) for t in tasks]


def _same_number(number: str, number_e164: str | None) -> Any:
    """Tasks of this number: in E.164 when it parses, else the number as given."""
    if number_e164:
        return CallbackTask.number_e164 == number_e164
    return (CallbackTask.number_e164.is_(None)) & (CallbackTask.number == number)


def _plain(cls: type[_R], row: object, **extra: Any) -> _R:
    names = [f.name for f in fields(cls) if f.name not in extra]
    return cls(**{name: getattr(row, name) for name in names}, **extra)


def _note(comment: CallComment | None, patient_external_id: str | None) -> CallNote | None:
    if comment is None:
        return None
    return _plain(CallNote, comment, patient_external_id=patient_external_id)


def _record(c: Call, note: CallNote | None, links: Sequence[LinkRecord] = ()) -> CallRecord:
    """``links``: the call's booking links, where the caller read them (the history does)."""
    legs = [_plain(LegRecord, leg) for leg in c.legs]
    recordings = [_plain(RecordingRecord, r) for r in c.recordings]
    return _plain(
        CallRecord,
        c,
        legs=legs,
        recordings=recordings,
        comment=note,
        report_topic=report_topic(note.topic if note else None, c.topic),
        caller_type=caller_type(note.caller_type if note else None, c.caller_kind),
        opportunity_class=c.opportunity_chosen or c.opportunity,
        links=list(links),
    )
