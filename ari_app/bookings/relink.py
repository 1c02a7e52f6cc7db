"""Everything again since a date: every booking event's link, then every call's class.

Set-based, a span of time at a time (``Relinker.step``, a week by default): the events made in
the span have their links replaced by one ``DELETE`` and one ``INSERT ... SELECT`` that decides
them in the database (``nearest``), then the calls started in each span get their proposed class
in one ``UPDATE`` (``classify_sql``). Each span commits on its own, so a relink interrupted
halfway keeps what it did and can be run again; a stretch with no events costs one indexed
query, not a span each. ``linking.best_link`` and ``classify.classify`` stay the definitions:
table tests hold the queries equal to them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import InstrumentedAttribute

from ari_app.bookings.classify_sql import reclassify_span
from ari_app.bookings.linking import Windows
from ari_app.bookings.links import LONGEST_CALL
from ari_app.bookings.nearest import relink_span
from ari_app.store.bookings import BookingEvent
from ari_app.store.dialect import plan_for_bulk
from ari_app.store.models import Call

Progress = Callable[[str, int, int], None]  # (stage: links | classes, done, total)
Transaction = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


@dataclass(frozen=True)
class Relinker:
    """What a relink works with: a transaction per chunk, the windows, the clock."""

    transaction: Transaction
    windows: Windows
    clock: Callable[[], datetime]
    # A week of a large clinic's events is ~20,000: one statement's worth, committed together.
    step: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class RelinkReport:
    events: int
    linked: int
    calls_classified: int


async def relink_since(store: Relinker, since: datetime, progress: Progress | None = None) -> RelinkReport:
    report = await _relink_events(store, since, progress or _quiet)
    _, after = store.windows.widest
    # An event at ``since`` may link to a call that ended up to the widest window before it, and
    # that call may have started up to LONGEST_CALL earlier: it may have gained or lost a link.
    classified = await _classify_calls(store, since - after - LONGEST_CALL, progress or _quiet)
    return RelinkReport(report[0], report[1], classified)


def _quiet(_stage: str, _done: int, _total: int) -> None:
    pass


async def _relink_events(store: Relinker, since: datetime, progress: Progress) -> tuple[int, int]:
    linked = 0

    async def span(conn: AsyncConnection, lo: datetime, hi: datetime) -> int:
        nonlocal linked
        result = await relink_span(conn, lo, hi, store.windows, store.clock())
        linked += result.linked
        return result.events

    done = await _by_span(store, BookingEvent.happened_at, since, "links", span, progress)
    return done, linked


async def _classify_calls(store: Relinker, since: datetime, progress: Progress) -> int:
    classified = 0

    async def span(conn: AsyncConnection, lo: datetime, hi: datetime) -> int:
        nonlocal classified
        result = await reclassify_span(conn, lo, hi, store.clock())
        classified += result.ended
        return result.calls

    await _by_span(store, Call.started_at, since, "classes", span, progress)
    return classified


SpanWork = Callable[[AsyncConnection, datetime, datetime], Awaitable[int]]


async def _by_span(
    store: Relinker,
    at: InstrumentedAttribute[Any],
    since: datetime,
    stage: str,
    work: SpanWork,
    progress: Progress,
) -> int:
    """``work`` on [lo, lo + step) spans from ``since``, each in its own transaction, each
    starting at the first row at or after the previous span's end; the sum of what it returns."""
    count = select(func.count()).where(at >= since)
    async with store.transaction() as conn:
        total = int((await conn.execute(count)).scalar_one())
    done = 0
    progress(stage, 0, total)
    lo = since
    while True:
        async with store.transaction() as conn:
            await plan_for_bulk(conn)
            first = (await conn.execute(select(func.min(at)).where(at >= lo))).scalar_one()
            if first is None:
                break
            lo, hi = first, first + store.step
            done += await work(conn, lo, hi)
        lo = hi
        progress(stage, done, total)
    return done
