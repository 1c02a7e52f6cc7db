"""The relink's queries held to the pure rules they stand for, on SQLite and PostgreSQL: the links
``relink_since`` decides in SQL are exactly those ``link_events`` decides with
``linking.best_link`` (call, rule and distance) on a seeded random clinic, and so are the calls'
classes against ``opportunity.classify_calls``; the class ``CASE`` is ``classify`` on every
combination of the facts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Boolean, Integer, String, func, literal, select, union_all

from ari_app.bookings import opportunity
from ari_app.bookings.classify import CallFacts, classify
from ari_app.bookings.classify_sql import FactColumns, class_of, reason_of
from ari_app.bookings.linking import Windows
from ari_app.bookings.links import EVENT_COLUMNS, link_events, stored_event
from ari_app.bookings.nearest import EPOCH, micros
from ari_app.bookings.relink import Relinker, relink_since
from ari_app.store import Database
from ari_app.store.bookings import BookingEvent, CallLink
from ari_app.store.dialect import epoch_micros
from ari_app.store.models import Call, UtcDateTime
from tests.store.relink_seed import NOW, SINCE, clinic, load

WIDE = Windows(
    created_before=timedelta(minutes=20),
    created_after=timedelta(minutes=35),
    change_before=timedelta(minutes=10),
    change_after=timedelta(minutes=20),
)


async def _stored_links(db: Database) -> dict[int, tuple[str, str, float]]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            select(CallLink.booking_event_id, CallLink.call_id, CallLink.rule, CallLink.distance_seconds)
        )
        return {r.booking_event_id: (r.call_id, r.rule, r.distance_seconds) for r in rows}


async def _classes(db: Database) -> dict[str, tuple[str | None, str | None]]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(select(Call.id, Call.opportunity, Call.opportunity_reason))
        return {r.id: (r.opportunity, r.opportunity_reason) for r in rows}


@pytest.mark.parametrize(("seed", "windows"), [(14, Windows()), (15, WIDE)])
async def test_the_relink_in_sql_decides_as_link_events(db: Database, seed: int, windows: Windows) -> None:
    c = clinic(seed)
    await load(db, c)
    # Spans of 9 hours: events and windows cross the spans' edges.
    relinker = Relinker(db.engine.begin, windows, lambda: NOW, step=timedelta(hours=9))
    report = await relink_since(relinker, SINCE - timedelta(days=1))
    in_sql, classes_in_sql = await _stored_links(db), await _classes(db)

    async with db.engine.begin() as conn:
        query = select(*EVENT_COLUMNS).order_by(BookingEvent.id)
        events = [stored_event(r) for r in await conn.execute(query)]
        decided = await link_events(conn, events, windows, NOW)
        await opportunity.classify_calls(conn, [call["id"] for call in c.calls], NOW)
    in_python = {e: (k.call_id, k.rule, k.distance_seconds) for e, k in decided.items() if k is not None}

    assert in_sql == in_python
    assert (report.events, report.linked) == (len(c.events), len(in_python))
    ended = sum(1 for call in c.calls if call["ended_at"] is not None)
    assert report.calls_classified == ended
    assert classes_in_sql == await _classes(db)
    # The clinic exercises every rule, events left unlinked, and distances of 0 and at the edges.
    assert {rule for _, rule, _ in in_python.values()} == {"comment", "patient", "family"}
    assert 0 < len(in_python) < len(c.events)
    distances = {d for _, _, d in in_python.values()}
    edges = {w.total_seconds() for w in (windows.created_before, windows.created_after, windows.change_after)}
    assert 0.0 in distances and distances & edges


async def test_a_relink_again_changes_nothing(db: Database) -> None:
    await load(db, clinic(16, patients=100, calls=400, events=800))
    relinker = Relinker(db.engine.begin, Windows(), lambda: NOW)
    seen: list[tuple[str, int, int]] = []
    first = await relink_since(relinker, SINCE, lambda *p: seen.append(p))
    links, classes = await _stored_links(db), await _classes(db)
    # Progress ends at its total in both stages, calls still in progress counted.
    last = {stage: (done, total) for stage, done, total in seen}
    assert last["links"][0] == last["links"][1] > 0 and last["classes"][0] == last["classes"][1] > 0
    again = await relink_since(relinker, SINCE)
    assert again == first
    assert (await _stored_links(db), await _classes(db)) == (links, classes)


def _cases() -> list[CallFacts]:
    kinds = ("patient", "staff", "contractor", "unknown", None)
    types = ("patient_to_book", "patient_booked", "employee", "contractor", "other", None)
    visits = (None, 0, 1, 3)
    linked: tuple[tuple[bool, ...], ...] = ((), (False,), (True,), (False, True), (False, False))
    product = itertools.product(kinds, types, (True, False), visits, linked)
    return [CallFacts(*facts) for facts in product]


async def test_the_class_case_is_classify_on_every_combination(db: Database) -> None:
    cases = _cases()
    selects: list[Any] = []
    for n, facts in enumerate(cases):
        f = FactColumns(
            caller_kind=literal(facts.caller_kind, String()),
            comment_type=literal(facts.comment_type, String()),
            answered=literal(facts.answered, Boolean()),
            past_visits=literal(facts.past_visits, Integer()),
            new_patient_booked=literal(any(facts.linked_created), Boolean()),
        )
        reason = reason_of(f)
        selects.append(
            select(literal(n, Integer()).label("n"), class_of(reason).label("o"), reason.label("r"))
        )
    async with db.engine.connect() as conn:
        rows: dict[int, tuple[str, str]] = {}
        for at in range(0, len(selects), 200):  # SQLite takes up to 500 SELECTs in a UNION
            part = await conn.execute(union_all(*selects[at : at + 200]))
            rows.update((r.n, (r.o, r.r)) for r in part)
        assert (await conn.execute(select(func.count()).select_from(Call))).scalar_one() == 0
    assert len(rows) == len(cases) == 5 * 6 * 2 * 4 * 5
    assert [rows[n] for n in range(len(cases))] == [classify(facts) for facts in cases]


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 3, 3, 10, 0, 0, 999999, tzinfo=UTC),  # SQLite's own parsing rounds these up
        datetime(2026, 3, 3, 10, 0, 0, 999500, tzinfo=UTC),
        datetime(2026, 3, 3, 10, 0, 0, 500000, tzinfo=UTC),
        datetime(2026, 3, 3, 10, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        datetime(1970, 1, 1, 0, 0, 1, 2, tzinfo=UTC),
    ],
)
async def test_a_time_in_microseconds_is_exact(db: Database, at: datetime) -> None:
    async with db.engine.connect() as conn:
        got = (await conn.execute(select(epoch_micros(literal(at, UtcDateTime()))))).scalar_one()
    assert got == micros(at - EPOCH)
