"""Reports over the call history: conversion of opportunity calls into bookings, and the missed
calls nobody has called back yet. Staff, contractors' and "other" calls (in_statistics false)
are never counted.

Conversion: of the calls whose class counts as an opportunity (new or current; the admin's
choice over the proposal), the share with at least one linked *created* booking. Grouped in
SQL; the local day of a call is its branch's (``branches[].timezone``): PostgreSQL computes it
(``timezone()``), SQLite knows no zones, so there a narrow projection is streamed in chunks and
the day is read in Python.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ari_app.store.db import Database
from ari_app.store.history import (
    EXPORT_PAGE,
    CallQuery,
    conditions,
    linked_sql,
    opportunity_sql,
    topic_sql,
)
from ari_app.store.models import Call, CallbackTask
from ari_app.store.people import CallComment
from ari_app.store.repository import OPEN_CALLBACK

GROUPINGS = ("admin", "topic", "ad_channel", "branch", "day")
OPPORTUNITIES = ("new", "current")
MISSED_OUTCOMES = ("missed", "abandoned", "closed")
UTC_ZONE = "UTC"  # the day of a call with no branch, or a branch not configured


@dataclass(frozen=True)
class ConversionRow:
    key: str | None  # the admin, topic, channel, branch or local day (ISO date); None: not known
    calls: int  # opportunity calls
    converted: int  # of them, those with a linked created booking

    @property
    def rate(self) -> float | None:
        return self.converted / self.calls if self.calls else None


@dataclass(frozen=True)
class MissedCall:
    call_id: str
    started_at: datetime
    branch: str | None
    caller_number: str
    caller_e164: str | None
    outcome: str
    callback_task_id: str
    callback_status: str
    due_at: datetime


@dataclass(frozen=True)
class MissedReport:
    by_branch: list[tuple[str | None, int]]  # calls waiting for a callback, per branch
    calls: list[MissedCall]  # the oldest first: the order to call them back in


class ReportStore:
    def __init__(self, db: Database, zones: Mapping[str, str] | None = None) -> None:
        """``zones``: each branch's time zone (IANA name)."""
        self.db = db
        self.zones = dict(zones or {})

    async def conversion(
        self, *, by: str, since: datetime | None, until: datetime | None, branch: str | None = None
    ) -> list[ConversionRow]:
        if by not in GROUPINGS:
            raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
        q = CallQuery(since=since, until=until, branch=branch)
        where = [*conditions(q), opportunity_sql().in_(OPPORTUNITIES)]
        converted = case((linked_sql("created"), 1), else_=0)
        base = select(Call.branch, Call.started_at).outerjoin(CallComment, CallComment.call_id == Call.id)
        async with self.db.guarded_session() as s:
            if by == "day" and self.db.is_sqlite:
                counts = await self._days_in_python(s, base.add_columns(converted).where(*where))
            else:
                per_call = base.add_columns(self._key(by).label("key"), converted.label("won")).where(*where)
                counts = await _grouped(s, per_call.subquery())
        return [ConversionRow(key, n, won) for key, (n, won) in sorted(counts.items(), key=_key_order)]

    def _key(self, by: str) -> Any:
        if by == "day":  # PostgreSQL: the local wall-clock time, then its date
            zone = case(self.zones, value=Call.branch, else_=UTC_ZONE) if self.zones else UTC_ZONE
            return cast(func.timezone(zone, Call.started_at), Date)
        plain = {"admin": Call.admin, "ad_channel": Call.ad_channel, "branch": Call.branch}
        return topic_sql() if by == "topic" else plain[by]

    async def _days_in_python(self, s: AsyncSession, stmt: Any) -> dict[str | None, tuple[int, int]]:
        zones = {b: ZoneInfo(z) for b, z in self.zones.items()}
        utc = ZoneInfo(UTC_ZONE)
        calls: Counter[str] = Counter()
        won: Counter[str] = Counter()
        result = await s.stream(stmt.execution_options(yield_per=EXPORT_PAGE))
        async for chunk in result.partitions():
            for branch, started_at, converted in chunk:
                day = started_at.astimezone(zones.get(branch, utc)).date().isoformat()
                calls[day] += 1
                won[day] += converted
        return {day: (n, won[day]) for day, n in calls.items()}

    async def missed(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        branch: str | None = None,
        limit: int = 100,
    ) -> MissedReport:
        """Missed, abandoned and after-hours calls whose callback task is still open (new, read)."""
        q = CallQuery(since=since, until=until, branch=branch)
        where = [*conditions(q), Call.outcome.in_(MISSED_OUTCOMES), CallbackTask.status.in_(OPEN_CALLBACK)]
        joined = select(Call, CallbackTask).join(CallbackTask, CallbackTask.id == Call.callback_task_id)
        counts = (
            select(Call.branch, func.count())
            .join(CallbackTask, CallbackTask.id == Call.callback_task_id)
            .where(*where)
            .group_by(Call.branch)
        )
        listed = joined.where(*where).order_by(Call.started_at, Call.id).limit(limit)
        async with self.db.guarded_session() as s:
            by_branch = [(b, int(n)) for b, n in (await s.execute(counts)).all()]
            rows = (await s.execute(listed)).all()
        calls = [
            MissedCall(
                call_id=c.id,
                started_at=c.started_at,
                branch=c.branch,
                caller_number=c.caller_number,
                caller_e164=c.caller_e164,
                outcome=str(c.outcome),
                callback_task_id=t.id,
                callback_status=t.status,
                due_at=t.due_at,
            )
            for c, t in rows
        ]
        return MissedReport(sorted(by_branch, key=_key_order), calls)


async def _grouped(s: AsyncSession, per_call: Any) -> dict[str | None, tuple[int, int]]:
    """Count and sum per key over a subquery, so the key's expression (with its bound values)
    is written once: PostgreSQL would not match a GROUP BY with its own copy of the values."""
    stmt = select(per_call.c.key, func.count(), func.sum(per_call.c.won)).group_by(per_call.c.key)
    found: dict[str | None, tuple[int, int]] = {}
    for key, n, won in (await s.execute(stmt)).all():
        found[None if key is None else str(key)] = (int(n), int(won or 0))
    return found


def _key_order(item: tuple[str | None, Any]) -> tuple[bool, str]:
    return (item[0] is None, item[0] or "")
