"""CallStore: every write is idempotent, so replaying a fact changes nothing; the first end wins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ari_app.store.db import Database, StoreUnavailable, _is_connection_error
from ari_app.store.models import Call, CallLeg, Recording, SpoolPosition
from ari_app.store.records import CallRecord, LegRecord, RecordingRecord

_R = TypeVar("_R", CallRecord, LegRecord, RecordingRecord)


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

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        """A short session; a refused or dropped connection surfaces as StoreUnavailable."""
        try:
            async with self.db.session() as s:
                yield s
        except Exception as exc:
            if _is_connection_error(exc):
                raise StoreUnavailable(self.db.display_url, exc) from None
            raise

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
    ) -> None:
        now = _now()
        await self._write(
            self._insert_ignore(
                Call,
                dict(
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
        wait = ((answered or ended_at) - started).total_seconds()
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
                wait_seconds=max(0.0, wait),
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

    # ------------------------------------------------------------------ spool positions
    async def set_spool_position(self, segment: str, seq: int) -> None:
        stmt = self._insert(SpoolPosition, dict(segment=segment, last_seq=seq, updated_at=_now()))
        larger = func.max if self.db.is_sqlite else func.greatest  # SQLite's two-argument max
        stmt = stmt.on_conflict_do_update(
            index_elements=[SpoolPosition.segment],
            set_={"last_seq": larger(SpoolPosition.last_seq, stmt.excluded.last_seq)},
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
        return select(Call).options(selectinload(Call.legs), selectinload(Call.recordings))

    async def _one(self, stmt: Any) -> CallRecord | None:
        async with self._session() as s:
            call = (await s.execute(stmt)).scalar_one_or_none()
            return _record(call) if call else None

    async def get_call(self, call_id: str) -> CallRecord | None:
        return await self._one(self._select().where(Call.id == call_id))

    async def find_by_channel(self, channel_id: str) -> CallRecord | None:
        return await self._one(self._select().where(Call.channel_id == channel_id))

    async def list_calls(
        self, *, limit: int = 50, before: datetime | None = None, outcome: str | None = None
    ) -> list[CallRecord]:
        stmt = self._select().order_by(Call.started_at.desc(), Call.id).limit(limit)
        if before is not None:
            stmt = stmt.where(Call.started_at < before)
        if outcome is not None:
            stmt = stmt.where(Call.outcome == outcome)
        async with self._session() as s:
            return [_record(c) for c in (await s.execute(stmt)).scalars()]

    async def open_calls(self, *, started_before: datetime | None = None) -> list[CallRecord]:
        stmt = self._select().where(Call.outcome.is_(None)).order_by(Call.started_at)
        if started_before is not None:
            stmt = stmt.where(Call.started_at < started_before)
        async with self._session() as s:
            return [_record(c) for c in (await s.execute(stmt)).scalars()]

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


def _plain(cls: type[_R], row: object, **extra: Any) -> _R:
    names = [f.name for f in fields(cls) if f.name not in extra]
    return cls(**{name: getattr(row, name) for name in names}, **extra)


def _record(c: Call) -> CallRecord:
    legs = [_plain(LegRecord, leg) for leg in c.legs]
    recordings = [_plain(RecordingRecord, r) for r in c.recordings]
    return _plain(CallRecord, c, legs=legs, recordings=recordings)
