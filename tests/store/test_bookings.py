"""Booking events and their links to calls in the database (SQLite and PostgreSQL): recorded once,
linked to the call about their patient (own number, a parent's, the comment's choice), relinked
when a call ends or its comment names the patient, and the call's class stored."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ari_app.bookings.cards import RelinkingDirectory
from ari_app.bookings.schema import BookingEventIn
from ari_app.bookings.store import BookingStore, EventConflict
from ari_app.config import load_settings
from ari_app.people.schema import CommentIn, PatientIn
from ari_app.store import CallStore, Database
from ari_app.store.comments import CommentStore
from ari_app.store.directory import DirectoryStore
from ari_app.store.models import Call
from tests.api_client import EXAMPLE

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
MOTHER, CHILD, OTHER = "+15551110001", "+15551110002", "+15551110003"
REGIONS = load_settings(EXAMPLE).regions


@dataclass
class World:
    db: Database
    calls: CallStore
    bookings: BookingStore
    comments: CommentStore
    clock: list[datetime]


@pytest.fixture
async def world(clean_database_url: str) -> AsyncIterator[World]:
    db = Database(clean_database_url)
    await db.migrate()
    clock = [T0 + timedelta(hours=2)]
    directory = DirectoryStore(db)
    cards = [
        PatientIn.model_validate(
            {"external_id": "p-mother", "full_name": "M", "phones": [{"number": MOTHER}], "family_id": "f1",
             "visits": {"completed": 3}}
        ),
        PatientIn.model_validate(
            {"external_id": "p-child", "full_name": "C", "guardian_external_id": "p-mother",
             "family_id": "f1"}
        ),
        PatientIn.model_validate({"external_id": "p-other", "full_name": "O", "phones": [{"number": OTHER}]}),
    ]  # fmt: skip
    assert await directory.upsert_patients(cards, REGIONS, T0) == [None, None, None]
    try:
        yield World(db, CallStore(db), BookingStore(db, clock=lambda: clock[0]), CommentStore(db), clock)
    finally:
        await db.dispose()


async def _call(
    w: World, number: str, start: datetime, minutes: float | None = 15, admin: str = "anna"
) -> str:
    call_id = str(uuid.uuid4())
    await w.calls.call_started(
        call_id=call_id, channel_id=f"ch-{call_id}", caller_number=number, caller_e164=number,
        caller_name="", did="5551234", branch="downtown", ad_channel=None, started_at=start,
    )  # fmt: skip
    identity = await DirectoryStore(w.db).identify(number)  # as the call's CallerIdentified says
    await w.calls.caller_identified(
        call_id, kind=identity.kind, patient_id=identity.patient_id, patient_cards=len(identity.cards),
        in_statistics=identity.in_statistics,
    )  # fmt: skip
    await w.calls.call_answered(call_id, admin=admin, answered_at=start + timedelta(seconds=5))
    if minutes is not None:
        await _end(w, call_id, start + timedelta(minutes=minutes))
    return call_id


async def _end(w: World, call_id: str, at: datetime) -> None:
    await w.calls.call_ended(call_id, outcome="answered", ended_at=at)
    await w.bookings.relink_call(call_id)


def _event(at: datetime, patient: str = "p-mother", kind: str = "created", **more: Any) -> BookingEventIn:
    body = {"event_id": f"e-{uuid.uuid4()}", "kind": kind, "booking_id": "b1", "patient_external_id": patient,
            "happened_at": at.isoformat(), **more}  # fmt: skip
    return BookingEventIn.model_validate(body)


async def _linked(w: World, event: BookingEventIn) -> str | None:
    return (await w.bookings.record([event]))[0].linked_call_id


async def _class(w: World, call_id: str) -> tuple[str | None, str | None]:
    async with w.db.session() as s:
        call = await s.get(Call, call_id)
        assert call is not None
        return call.opportunity, call.opportunity_reason


async def test_recorded_once_and_a_changed_resend_is_a_conflict(world: World) -> None:
    event = _event(T0)
    first = await world.bookings.record([event])
    again = await world.bookings.record([event])
    assert (first[0].result, again[0].result) == ("recorded", "duplicate")
    changed = BookingEventIn.model_validate({**event.model_dump(), "doctor": "Dr X"})
    with pytest.raises(EventConflict):
        await world.bookings.record([_event(T0), changed])  # nothing of the batch is kept
    assert [r.result for r in await world.bookings.record([event, event])] == ["duplicate", "duplicate"]


async def test_the_patients_own_number_links_and_the_class_follows(world: World) -> None:
    call_id = await _call(world, MOTHER, T0)
    assert await _class(world, call_id) == ("current", "known_patient_with_visits")
    event = _event(T0 + timedelta(minutes=40))
    [result] = await world.bookings.record([event])
    assert (result.linked_call_id, result.patient_known) == (call_id, True)
    spans = await world.bookings.candidate_calls(event)
    assert [(s.call_id, s.rule) for s in spans] == [(call_id, "patient")]
    # Outside the window (over 30 minutes after the end): no link.
    assert await _linked(world, _event(T0 + timedelta(minutes=45, seconds=1))) is None


async def test_a_childs_booking_after_the_mothers_call(world: World) -> None:
    call_id = await _call(world, MOTHER, T0)
    event = _event(T0 + timedelta(minutes=10), patient="p-child")
    assert await _linked(world, event) == call_id
    assert [s.rule for s in await world.bookings.candidate_calls(event)] == ["family"]
    # The child has no completed visit: a new patient's booking makes the call new.
    assert await _class(world, call_id) == ("new", "new_patient_booking")


async def test_a_late_comment_choosing_the_patient_relinks(world: World) -> None:
    call_id = await _call(world, OTHER, T0)
    event = _event(T0 + timedelta(minutes=20), patient="p-child")
    assert await _linked(world, event) is None  # another family's number
    comment = CommentIn(caller_type="patient_to_book", patient_external_id="p-child", author="anna")
    await world.comments.write_comment(call_id, comment, "anna", T0, REGIONS)
    await world.bookings.relink_call(call_id)
    spans = await world.bookings.candidate_calls(event)
    assert [(s.call_id, s.rule) for s in spans] == [(call_id, "comment")]
    assert (await world.bookings.record([event]))[0].linked_call_id == call_id
    assert await _class(world, call_id) == ("new", "new_patient_booking")


async def test_a_call_in_progress_then_ended(world: World) -> None:
    world.clock[0] = T0 + timedelta(minutes=10)
    call_id = await _call(world, MOTHER, T0, minutes=None)
    assert await _linked(world, _event(T0 + timedelta(minutes=5))) == call_id  # inside the call so far
    late = _event(T0 + timedelta(minutes=70))  # a booking made after the call: a future call, for now
    assert await _linked(world, late) is None
    world.clock[0] = T0 + timedelta(hours=2)
    await _end(world, call_id, T0 + timedelta(minutes=50))
    assert (await world.bookings.record([late]))[0].linked_call_id == call_id


async def test_of_two_calls_the_nearest_wins(world: World) -> None:
    early = await _call(world, MOTHER, T0, minutes=10)
    later = await _call(world, MOTHER, T0 + timedelta(minutes=30), minutes=10)
    assert await _linked(world, _event(T0 + timedelta(minutes=14))) == early  # 4 min after its end
    assert await _linked(world, _event(T0 + timedelta(minutes=26))) == later  # 4 min before its start
    # A cancellation only within 15 minutes.
    assert await _linked(world, _event(T0 + timedelta(minutes=56), kind="cancelled")) is None


async def test_an_unknown_patient_is_kept_and_linked_once_known(world: World) -> None:
    call_id = await _call(world, "+15551110009", T0)
    event = _event(T0 + timedelta(minutes=5), patient="p-new")
    [result] = await world.bookings.record([event])
    assert (result.result, result.patient_known, result.linked_call_id) == ("recorded", False, None)
    card = PatientIn.model_validate(
        {"external_id": "p-new", "full_name": "N", "phones": [{"number": "+15551110009"}]}
    )
    await DirectoryStore(world.db).upsert_patients([card], REGIONS, T0)
    report = await world.bookings.relink_since(T0 - timedelta(days=1))
    assert (report.events, report.linked) == (1, 1)
    assert (await world.bookings.record([event]))[0].linked_call_id == call_id


async def test_a_card_that_arrives_links_its_patients_events_at_once(world: World) -> None:
    call_id = await _call(world, "+15551110009", T0)
    event = _event(T0 + timedelta(minutes=5), patient="p-new")
    assert await _linked(world, event) is None
    assert await _class(world, call_id) == ("new", "unknown_if_visited_before")
    card = PatientIn.model_validate(
        {"external_id": "p-new", "full_name": "N", "phones": [{"number": "+15551110009"}]}
    )
    # As ``ari-app import patients`` writes it: the directory, then the links its cards change.
    directory = RelinkingDirectory(DirectoryStore(world.db), world.bookings)
    assert await directory.upsert_patients([card], REGIONS, T0) == [None]
    assert (await world.bookings.record([event]))[0].linked_call_id == call_id
    # The card has no completed visit: a new patient's booking makes the call new.
    assert await _class(world, call_id) == ("new", "new_patient_booking")


async def test_a_number_added_to_the_mothers_card_links_her_childs_booking(world: World) -> None:
    call_id = await _call(world, "+15551110008", T0)  # the mother, from her work phone
    event = _event(T0 + timedelta(minutes=20), patient="p-child")
    elsewhere = _event(T0 + timedelta(days=40), patient="p-child")  # far from any call
    assert [r.linked_call_id for r in await world.bookings.record([event, elsewhere])] == [None, None]
    mother = PatientIn.model_validate(
        {"external_id": "p-mother", "full_name": "M", "family_id": "f1", "visits": {"completed": 3},
         "phones": [{"number": MOTHER}, {"number": "+15551110008"}]}
    )  # fmt: skip
    await DirectoryStore(world.db).upsert_patients([mother], REGIONS, T0)
    # The mother's events (none) and her child's and family's: the child's two.
    assert await world.bookings.relink_patients(["p-mother"]) == 2
    found = await world.bookings.record([event, elsewhere])
    assert [(r.result, r.linked_call_id) for r in found] == [("duplicate", call_id), ("duplicate", None)]
    assert await world.bookings.relink_patients(["p-nobody"]) == 0
    assert await world.bookings.relink_patients([]) == 0


async def test_relink_since_matches_the_links_made_one_by_one(world: World) -> None:
    world.clock[0] = T0 + timedelta(hours=4)  # every event below has happened (none in the future)
    calls = [await _call(world, MOTHER, T0 + timedelta(hours=h)) for h in range(3)]
    events = [_event(T0 + timedelta(hours=h, minutes=m)) for h in range(3) for m in (-20, 5, 44, 50)]
    one_by_one = [r.linked_call_id for r in await world.bookings.record(events)]
    seen: list[tuple[str, int, int]] = []
    report = await world.bookings.relink_since(T0 - timedelta(days=1), lambda *p: seen.append(p))
    again = [r.linked_call_id for r in await world.bookings.record(events)]
    assert again == one_by_one
    # h:44 is 29 minutes after a call's end but 16 before the next one's start: the next is nearer.
    c0, c1, c2 = calls
    assert one_by_one == [c0, c0, c1, c1, c1, c1, c2, c2, c2, c2, c2, None]
    assert (report.events, report.linked, report.calls_classified) == (12, 11, 3)
    assert seen[-1] == ("classes", 3, 3)
