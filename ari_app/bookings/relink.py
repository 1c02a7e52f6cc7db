"""Everything again since a date: every booking event's link, then every call's class.

Events are read in time order, ``CHUNK`` at a time (keyset on happened_at and id, so a chunk
costs the same at the end of a year as at its start); each chunk is decided by ``link_events``
in a handful of queries and committed on its own, so a relink interrupted halfway keeps what it
did and can be run again. Calls are then classified in chunks the same way."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ari_app.bookings import opportunity
from ari_app.bookings.linking import Windows
from ari_app.bookings.links import CHUNK, EVENT_COLUMNS, link_events, stored_event
from ari_app.store.bookings import BookingEvent
from ari_app.store.models import Call

Progress = Callable[[str, int, int], None]  # (stage: links | classes, done, total)
Transaction = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


@dataclass(frozen=True)
class Relinker:
    """What a relink works with: a transaction per chunk, the windows, the clock."""

    transaction: Transaction
    windows: Windows
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class RelinkReport:
    events: int
    linked: int
    calls_classified: int


async def relink_since(store: Relinker, since: datetime, progress: Progress | None = None) -> RelinkReport:
    report = await _relink_events(store, since, progress or _quiet)
    before, _ = store.windows.widest
    # A call started up to the widest window before ``since`` may have gained or lost a link.
    classified = await _classify_calls(store, since - before, progress or _quiet)
    return RelinkReport(report[0], report[1], classified)


def _quiet(_stage: str, _done: int, _total: int) -> None:
    pass


async def _relink_events(store: Relinker, since: datetime, progress: Progress) -> tuple[int, int]:
    async with store.transaction() as conn:
        total = (
            await conn.execute(select(func.count()).where(BookingEvent.happened_at >= since))
        ).scalar_one()
    done = linked = 0
    after: tuple[datetime, int] | None = None
    progress("links", 0, total)
    while True:
        now = store.clock()
        async with store.transaction() as conn:
            query = select(*EVENT_COLUMNS).where(BookingEvent.happened_at >= since)
            if after is not None:
                query = query.where(
                    # The plain range bounds the index; with the OR alone each chunk's search
                    # started at ``since`` and a year's relink grew with the square of its size.
                    BookingEvent.happened_at >= after[0],
                    or_(
                        BookingEvent.happened_at > after[0],
                        and_(BookingEvent.happened_at == after[0], BookingEvent.id > after[1]),
                    ),
                )
            rows = (
                await conn.execute(query.order_by(BookingEvent.happened_at, BookingEvent.id).limit(CHUNK))
            ).all()
            if not rows:
                break
            events = [stored_event(r) for r in rows]
            links = await link_events(conn, events, store.windows, now)
        after = (events[-1].happened_at, events[-1].id)
        done += len(events)
        linked += sum(1 for link in links.values() if link is not None)
        progress("links", done, total)
    return done, linked


async def _classify_calls(store: Relinker, since: datetime, progress: Progress) -> int:
    async with store.transaction() as conn:
        total = (await conn.execute(select(func.count()).where(Call.started_at >= since))).scalar_one()
    done = classified = 0
    after: tuple[datetime, str] | None = None
    progress("classes", 0, total)
    while True:
        async with store.transaction() as conn:
            query = select(Call.id, Call.started_at).where(Call.started_at >= since)
            if after is not None:
                query = query.where(
                    Call.started_at >= after[0],
                    or_(Call.started_at > after[0], and_(Call.started_at == after[0], Call.id > after[1])),
                )
            rows = (await conn.execute(query.order_by(Call.started_at, Call.id).limit(CHUNK))).all()
            if not rows:
                break
            classified += await opportunity.classify_calls(conn, [r.id for r in rows], store.clock())
        after = (rows[-1].started_at, rows[-1].id)
        done += len(rows)
        progress("classes", done, total)
    return classified
