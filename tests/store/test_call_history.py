"""The call history and its reports on SQLite and PostgreSQL: every filter, cursor pages while
calls arrive, the CSV rows, one call's detail, conversion by each grouping (the day in each
branch's own zone) and the missed calls waiting for a callback.

The seeded calls (UTC; downtown is New York, kyiv is Kyiv):

| call | started | branch | admin | who | outcome | comment | menu | class | links |
|---|---|---|---|---|---|---|---|---|---|
| c1 | 03-07 15:00 | downtown | anna | patient | answered | patient_to_book, implants | - | new | created |
| c2 | 03-08 03:30 (NY 03-07 22:30) | downtown | ben | unknown | answered | - | hygiene | none, chosen current | cancelled |
| c3 | 03-07 22:30 (Kyiv 03-08 00:30) | kyiv | anna | patient | answered | patient_booked, unknown | surgery | current | - |
| c4 | 03-08 10:00 | kyiv | - | unknown | missed | - | - | none | - (callback open) |
| c5 | 03-08 11:00 | downtown | anna | staff | answered | - | - | new | created (out of statistics) |
| c6 | 03-08 12:00 | downtown | - | patient | abandoned | - | - | new | - (callback closed) |
| c7 | 03-08 13:00 | kyiv | ben | patient | answered | other | - | none | - (out of statistics) |
"""

from __future__ import annotations

from typing import Any

import pytest

from ari_app.store import Database
from ari_app.store.history import CallQuery, Cursor, HistoryStore
from ari_app.store.reports import ReportStore
from tests.store.history_seed import ZONES, Seeder, at, call_row


@pytest.fixture
async def seeded(db: Database) -> Seeder:
    seed = Seeder(db)
    await seed.calls(
        call_row("c1", "2026-03-07T15:00:00+00:00", admin="anna", ad_channel="website", opportunity="new",
                 caller_number="+1 202 555 0142", caller_e164="+12025550142"),
        call_row("c2", "2026-03-08T03:30:00+00:00", admin="ben", ad_channel="maps", caller_kind="unknown",
                 topic="hygiene", opportunity="none", opportunity_chosen="current", opportunity_chosen_by="ben"),
        call_row("c3", "2026-03-07T22:30:00+00:00", branch="kyiv", admin="anna", topic="surgery",
                 opportunity="current", caller_number="067 123 45 67", caller_e164="+380671234567"),
        call_row("c4", "2026-03-08T10:00:00+00:00", branch="kyiv", outcome="missed", caller_kind="unknown",
                 opportunity="none", caller_e164="+380501112233", caller_number="0501112233"),
        call_row("c5", "2026-03-08T11:00:00+00:00", admin="anna", caller_kind="staff", in_statistics=False,
                 opportunity="new"),
        call_row("c6", "2026-03-08T12:00:00+00:00", outcome="abandoned", opportunity="new", ad_channel="website"),
        call_row("c7", "2026-03-08T13:00:00+00:00", branch="kyiv", admin="ben", in_statistics=False,
                 opportunity="none"),
    )  # fmt: skip
    await seed.comment("c1", "patient_to_book", "implants", "=first visit, implants", versions=2)
    await seed.comment("c3", "patient_booked", "unknown")
    await seed.comment("c7", "other", "unknown")
    await seed.link("c1", "created", "2026-03-07T15:05:00+00:00")
    await seed.link("c2", "cancelled", "2026-03-08T03:35:00+00:00")
    await seed.link("c5", "created", "2026-03-08T11:05:00+00:00")
    await seed.callback("c4", "new")
    await seed.callback("c6", "closed")
    return seed


async def ids(db: Database, **filters: Any) -> list[str]:
    page = await HistoryStore(db).page(CallQuery(**filters), limit=100)
    return [c.id for c in page.calls]


FILTERS = [
    ({}, ["c6", "c4", "c2", "c3", "c1"]),
    ({"include_staff": True}, ["c7", "c6", "c5", "c4", "c2", "c3", "c1"]),
    ({"since": at("2026-03-08T00:00:00+00:00"), "until": at("2026-03-08T11:00:00+00:00")}, ["c4", "c2"]),
    ({"until": at("2026-03-07T22:30:00+00:00")}, ["c1"]),  # until is exclusive
    ({"branch": "kyiv"}, ["c4", "c3"]),
    ({"admin": "anna"}, ["c3", "c1"]),
    ({"caller_type": "patient_to_book"}, ["c1"]),
    ({"caller_type": "patient_booked"}, ["c3"]),
    ({"caller_type": "unknown"}, ["c6", "c4", "c2"]),  # no comment, not staff
    ({"caller_type": "employee", "include_staff": True}, ["c5"]),  # implied by the directories
    ({"caller_type": "other", "include_staff": True}, ["c7"]),
    ({"topic": "implants"}, ["c1"]),
    ({"topic": "hygiene"}, ["c2"]),  # the menu's, no comment
    ({"topic": "surgery"}, ["c3"]),  # the comment said unknown: the menu's counts
    ({"topic": "unknown"}, ["c6", "c4"]),
    ({"outcome": "missed"}, ["c4"]),
    ({"opportunity": "current"}, ["c2", "c3"]),  # c2: the admin's choice over the proposal
    ({"opportunity": "none"}, ["c4"]),
    ({"opportunity": "new"}, ["c6", "c1"]),
    ({"linked": True}, ["c2", "c1"]),
    ({"linked": False}, ["c6", "c4", "c3"]),
    ({"number_e164": "+380671234567"}, ["c3"]),
    ({"number_suffix": "0142"}, ["c1"]),  # as written
    ({"number_suffix": "4567"}, ["c3"]),  # written with spaces: its E.164 ends so
    ({"branch": "downtown", "linked": True, "admin": "ben"}, ["c2"]),
]


@pytest.mark.parametrize(("filters", "expected"), FILTERS)
async def test_each_filter(
    db: Database, seeded: Seeder, filters: dict[str, Any], expected: list[str]
) -> None:
    assert await ids(db, **filters) == expected


async def test_a_row_carries_its_comment_class_and_links(db: Database, seeded: Seeder) -> None:
    page = await HistoryStore(db).page(CallQuery(), limit=10)
    by_id = {c.id: c for c in page.calls}
    c1, c2 = by_id["c1"], by_id["c2"]
    assert c1.comment is not None and c1.comment.caller_type == "patient_to_book"
    assert (c1.caller_type, c1.report_topic, c1.opportunity_class) == ("patient_to_book", "implants", "new")
    assert [(x.kind, x.rule, x.distance_seconds, x.doctor) for x in c1.links] == [
        ("created", "patient", 60.0, "Dr Ruiz")
    ]
    assert (c2.opportunity, c2.opportunity_chosen, c2.opportunity_class) == ("none", "current", "current")
    assert c2.caller_type == "unknown" and [x.kind for x in c2.links] == ["cancelled"]
    assert by_id["c6"].links == []


async def test_cursor_pages_stay_stable_while_calls_arrive(db: Database, seeded: Seeder) -> None:
    history = HistoryStore(db)
    first = await history.page(CallQuery(), limit=2)
    assert [c.id for c in first.calls] == ["c6", "c4"] and first.next_cursor
    await seeded.calls(call_row("c8", "2026-03-09T09:00:00+00:00"))  # newer than every page
    second = await history.page(CallQuery(), limit=2, cursor=Cursor.decode(first.next_cursor))
    assert [c.id for c in second.calls] == ["c2", "c3"] and second.next_cursor
    last = await history.page(CallQuery(), limit=2, cursor=Cursor.decode(second.next_cursor))
    assert [c.id for c in last.calls] == ["c1"] and last.next_cursor is None
    assert (await history.page(CallQuery(), limit=1)).calls[0].id == "c8"  # a new first page shows it


async def test_calls_of_one_instant_are_paged_by_id(db: Database) -> None:
    seed = Seeder(db)
    await seed.calls(*(call_row(f"t{i}", "2026-03-07T12:00:00+00:00") for i in (3, 1, 4, 2, 5)))
    history, seen, cursor = HistoryStore(db), [], None
    while True:
        page = await history.page(CallQuery(), limit=2, cursor=cursor)
        seen += [c.id for c in page.calls]
        if page.next_cursor is None:
            break
        cursor = Cursor.decode(page.next_cursor)
    assert seen == ["t1", "t2", "t3", "t4", "t5"]


async def test_export_rows_in_pages(db: Database, seeded: Seeder) -> None:
    pages = [p async for p in HistoryStore(db).export(CallQuery(include_staff=True), page=3)]
    assert [len(p) for p in pages] == [3, 3, 1]
    rows = {r.id: r for p in pages for r in p}
    assert list(rows) == ["c7", "c6", "c5", "c4", "c2", "c3", "c1"]
    c1 = rows["c1"]
    assert (c1.caller_type, c1.topic, c1.opportunity, c1.linked_bookings) == (
        "patient_to_book", "implants", "new", 1,
    )  # fmt: skip
    assert c1.comment == "=first visit, implants" and c1.caller_number == "+1 202 555 0142"
    assert (rows["c2"].opportunity, rows["c2"].topic, rows["c6"].comment) == ("current", "hygiene", None)


async def test_detail_has_links_with_their_events_and_comment_versions(db: Database, seeded: Seeder) -> None:
    found = await HistoryStore(db).detail("c1")
    assert found is not None and found.comment_versions == 2
    [link] = found.call.links
    assert (link.kind, link.booking_id, link.doctor) == ("created", "b-1", "Dr Ruiz")
    assert link.happened_at == at("2026-03-07T15:05:00+00:00")
    assert link.appointment_at == at("2026-03-20T09:00:00+00:00")
    bare = await HistoryStore(db).detail("c6")
    assert bare is not None and bare.comment_versions == 0 and bare.call.comment is None
    assert await HistoryStore(db).detail("nope") is None


CONVERSION = {
    "admin": [("anna", 2, 1), ("ben", 1, 0), (None, 1, 0)],
    "topic": [("hygiene", 1, 0), ("implants", 1, 1), ("surgery", 1, 0), (None, 1, 0)],
    "ad_channel": [("maps", 1, 0), ("website", 2, 1), (None, 1, 0)],
    "branch": [("downtown", 3, 1), ("kyiv", 1, 0)],
    # c2 is 22:30 on the 7th in New York, c3 00:30 on the 8th in Kyiv: in UTC each the other day
    "day": [("2026-03-07", 2, 1), ("2026-03-08", 2, 0)],
}


@pytest.mark.parametrize("by", list(CONVERSION))
async def test_conversion_by_each_grouping(db: Database, seeded: Seeder, by: str) -> None:
    rows = await ReportStore(db, ZONES).conversion(by=by, since=None, until=None)
    assert [(r.key, r.calls, r.converted) for r in rows] == CONVERSION[by]


async def test_conversion_days_follow_daylight_saving(db: Database) -> None:
    """New York falls back on 2026-11-01: 04:30 UTC on the 2nd is 23:30 on the 1st (EST), where
    the summer offset would say 00:30 on the 2nd."""
    seed = Seeder(db)
    await seed.calls(
        call_row("d1", "2026-11-02T04:30:00+00:00", opportunity="new"),
        call_row("d2", "2026-10-31T03:30:00+00:00", opportunity="current"),  # 23:30 EDT on the 30th
    )
    await seed.link("d1", "created", "2026-11-02T04:35:00+00:00")
    rows = await ReportStore(db, ZONES).conversion(by="day", since=None, until=None, branch="downtown")
    assert [(r.key, r.calls, r.converted, r.rate) for r in rows] == [
        ("2026-10-30", 1, 0, 0.0), ("2026-11-01", 1, 1, 1.0),
    ]  # fmt: skip


async def test_conversion_in_a_period_and_branch(db: Database, seeded: Seeder) -> None:
    reports = ReportStore(db, ZONES)
    since, until = at("2026-03-07T00:00:00+00:00"), at("2026-03-08T00:00:00+00:00")
    rows = await reports.conversion(by="branch", since=since, until=until)
    assert [(r.key, r.calls, r.converted) for r in rows] == [("downtown", 1, 1), ("kyiv", 1, 0)]
    rows = await reports.conversion(by="admin", since=None, until=None, branch="kyiv")
    assert [(r.key, r.calls) for r in rows] == [("anna", 1)]
    with pytest.raises(ValueError, match="by must be"):
        await reports.conversion(by="week", since=None, until=None)


async def test_missed_calls_waiting_for_a_callback(db: Database, seeded: Seeder) -> None:
    await seeded.calls(
        call_row("m1", "2026-03-08T20:00:00+00:00", outcome="closed"),
        call_row("m2", "2026-03-08T21:00:00+00:00", outcome="missed", in_statistics=False),
        call_row("m3", "2026-03-08T22:00:00+00:00", outcome="answered"),
    )
    await seeded.callback("m1", "read")
    await seeded.callback("m2", "new")  # staff: left out
    await seeded.callback("m3", "new")  # answered: not a missed call
    report = await ReportStore(db, ZONES).missed()
    assert report.by_branch == [("downtown", 1), ("kyiv", 1)]
    assert [(c.call_id, c.outcome, c.callback_status) for c in report.calls] == [
        ("c4", "missed", "new"), ("m1", "closed", "read"),
    ]  # fmt: skip
    assert [c.call_id for c in (await ReportStore(db).missed(limit=1, branch="downtown")).calls] == ["m1"]
    later = await ReportStore(db).missed(since=at("2026-03-08T11:00:00+00:00"))
    assert [c.call_id for c in later.calls] == ["m1"]
