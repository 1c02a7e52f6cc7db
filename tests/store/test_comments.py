"""The call comment on SQLite and PostgreSQL: versions kept, concurrent edits ordered, the
patient and the number on their card, calls logged by hand counted like the others."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from ari_app.numbers import Regions
from ari_app.people.schema import CommentIn, ManualCallIn
from ari_app.store import CallStore, Database
from ari_app.store.comments import CallNotFound, CommentStore, Refused, VersionConflict
from ari_app.store.models import Call
from ari_app.store.people import Patient, PatientPhone

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
REGIONS = Regions("US", {"kyiv": "UA"})


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    await db.migrate()
    try:
        yield db
    finally:
        await db.dispose()


def _unique_time() -> datetime:
    """A start time no other test's call has: the PostgreSQL database is shared by the session."""
    return datetime(2090, 1, 1, tzinfo=UTC) + timedelta(seconds=uuid.uuid4().int % 10**9)


async def _call(
    db: Database,
    number: str = "067 123 45 67",
    branch: str = "kyiv",
    topic: str | None = None,
    started_at: datetime = NOW,
) -> str:
    call_id = str(uuid.uuid4())
    store = CallStore(db)
    await store.call_started(
        call_id=call_id, channel_id=f"ch-{call_id}", caller_number=number, caller_e164=None,
        caller_name="", did="5551234", branch=branch, ad_channel=None, started_at=started_at,
    )  # fmt: skip
    if topic is not None:
        await store.topic_chosen(call_id, topic=topic, at=NOW)
    return call_id


async def _patient(db: Database) -> tuple[int, str]:
    external = f"p-{uuid.uuid4().hex[:12]}"
    async with db.session() as s, s.begin():
        card = Patient(external_id=external, full_name="Card Holder", created_at=NOW, updated_at=NOW)
        s.add(card)
        await s.flush()
        return card.id, external


async def _scalar(db: Database, stmt: Any) -> Any:
    async with db.session() as s:
        return await s.scalar(stmt)


def _comment(**fields: Any) -> CommentIn:
    return CommentIn.model_validate({"caller_type": "patient_to_book", "author": "anna", **fields})


async def test_written_then_edited_keeps_every_version(db: Database) -> None:
    comments, call_id = CommentStore(db), await _call(db)
    _, external = await _patient(db)
    first = await comments.write_comment(
        call_id, _comment(caller_type="employee", text="asked for the roster"), "anna", NOW, REGIONS
    )
    assert (first.version, first.caller_type, first.author, first.written_at) == (1, "employee", "anna", NOW)
    assert await _scalar(db, select(Call.in_statistics).where(Call.id == call_id)) is False
    later = NOW + timedelta(minutes=5)
    for text in ("a patient after all", "booked for Monday"):
        last = await comments.write_comment(
            call_id, _comment(topic="booking", patient_external_id=external, text=text), "ben", later, REGIONS
        )
    assert (last.version, last.text, last.author, last.patient_external_id) == (
        3,
        "booked for Monday",
        "ben",
        external,
    )
    assert await _scalar(db, select(Call.in_statistics).where(Call.id == call_id)) is True
    view = await comments.get_comment(call_id)
    assert view is not None and view.version == 3 and view.topic == "booking"
    assert [(v.version, v.text, v.author) for v in view.history] == [
        (1, "asked for the roster", "anna"),
        (2, "a patient after all", "ben"),
        (3, "booked for Monday", "ben"),
    ]
    assert view.history[0].patient_external_id is None and view.history[2].patient_external_id == external
    assert await comments.get_comment(await _call(db)) is None  # a call with no comment


async def test_expected_version_refuses_an_edit_over_another(db: Database) -> None:
    comments, call_id = CommentStore(db), await _call(db)
    assert (
        await comments.write_comment(call_id, _comment(expected_version=0), "anna", NOW, REGIONS)
    ).version == 1
    assert (
        await comments.write_comment(call_id, _comment(expected_version=1), "ben", NOW, REGIONS)
    ).version == 2
    with pytest.raises(VersionConflict) as refused:
        await comments.write_comment(
            call_id, _comment(expected_version=1, text="stale"), "anna", NOW, REGIONS
        )
    assert (refused.value.expected, refused.value.current) == (1, 2)
    view = await comments.get_comment(call_id)
    assert view is not None and [v.version for v in view.history] == [1, 2]  # nothing of the refused one


async def test_concurrent_saves_each_become_a_version(db: Database) -> None:
    comments, call_id = CommentStore(db), await _call(db)
    await asyncio.gather(
        *(comments.write_comment(call_id, _comment(text=f"save {i}"), "anna", NOW, REGIONS) for i in range(6))
    )
    view = await comments.get_comment(call_id)
    assert view is not None and [v.version for v in view.history] == [1, 2, 3, 4, 5, 6]
    assert view.text == view.history[-1].text  # the last save wins


async def test_unknown_patient_or_call_changes_nothing(db: Database) -> None:
    comments, call_id = CommentStore(db), await _call(db)
    with pytest.raises(Refused) as refused:
        await comments.write_comment(
            call_id, _comment(caller_type="other", patient_external_id="no-such-card"), "anna", NOW, REGIONS
        )
    assert refused.value.field == "patient_external_id"
    assert await comments.get_comment(call_id) is None
    assert await _scalar(db, select(Call.in_statistics).where(Call.id == call_id)) is True  # rolled back
    with pytest.raises(CallNotFound):
        await comments.write_comment(str(uuid.uuid4()), _comment(), "anna", NOW, REGIONS)


async def test_the_number_goes_on_the_card_once(db: Database) -> None:
    comments, call_id = CommentStore(db), await _call(db, "067 123 45 67", "kyiv")
    patient_id, external = await _patient(db)
    wanted = _comment(patient_external_id=external, add_number_to_patient="spouse")
    assert (await comments.write_comment(call_id, wanted, "anna", NOW, REGIONS)).number_added is True
    assert (await comments.write_comment(call_id, wanted, "anna", NOW, REGIONS)).number_added is False
    async with db.session() as s:
        phones = (
            await s.execute(select(PatientPhone).where(PatientPhone.patient_id == patient_id))
        ).scalars()
        assert [(p.number, p.number_e164, p.role) for p in phones] == [
            ("067 123 45 67", "+380671234567", "spouse")
        ]
    withheld = await _call(db, "anonymous", "kyiv")
    with pytest.raises(Refused) as refused:
        await comments.write_comment(withheld, wanted, "anna", NOW, REGIONS)
    assert refused.value.field == "add_number_to_patient"
    assert await comments.get_comment(withheld) is None


async def test_a_call_logged_by_hand_is_an_answered_call(db: Database) -> None:
    comments, calls = CommentStore(db), CallStore(db)
    _, external = await _patient(db)
    started = _unique_time()
    logged = ManualCallIn.model_validate(
        {
            "started_at": started.isoformat(), "duration_seconds": 95, "number": "067-123-45-67",
            "admin": "ben", "branch": "kyiv",
            "comment": {"caller_type": "patient_booked", "topic": "results", "author": "ben",
                        "patient_external_id": external, "text": "results by mail"},
        }
    )  # fmt: skip
    call_id = await comments.log_manual_call(logged, NOW, REGIONS)
    call = await calls.get_call(call_id)
    assert call is not None
    assert (call.handled_by, call.outcome, call.admin, call.branch) == ("manual", "answered", "ben", "kyiv")
    assert (call.channel_id, call.caller_e164, call.did) == (f"manual-{call_id}", "+380671234567", "")
    assert (call.started_at, call.answered_at, call.ended_at) == (
        started,
        started,
        started + timedelta(seconds=95),
    )
    assert (call.wait_seconds, call.talk_seconds, call.in_statistics) == (0.0, 95.0, True)
    assert call.comment is not None and call.comment.patient_external_id == external
    assert call.report_topic == "results"
    listed = await calls.list_calls(limit=1, before=started + timedelta(microseconds=1))
    assert [c.id for c in listed] == [call_id]  # in the call history like the others
    with pytest.raises(Refused) as refused:
        await comments.log_manual_call(logged.model_copy(update={"number": "12"}), NOW, REGIONS)
    assert refused.value.field == "number"
    count = (
        select(func.count()).select_from(Call).where(Call.handled_by == "manual", Call.caller_number == "12")
    )
    assert await _scalar(db, count) == 0


@pytest.mark.parametrize(
    ("comment_topic", "menu_topic", "reported"),
    [("billing", "booking", "billing"), ("unknown", "booking", "booking"), (None, "booking", "booking"),
     ("unknown", None, None), ("results", None, "results")],
)  # fmt: skip
async def test_listing_carries_the_comment_and_the_report_topic(
    db: Database, comment_topic: str | None, menu_topic: str | None, reported: str | None
) -> None:
    started = _unique_time()
    call_id = await _call(db, topic=menu_topic, started_at=started)
    if comment_topic is not None:
        await CommentStore(db).write_comment(call_id, _comment(topic=comment_topic), "anna", NOW, REGIONS)
    [call] = await CallStore(db).list_calls(limit=1, before=started + timedelta(microseconds=1))
    assert call.id == call_id
    assert (call.topic, call.report_topic) == (menu_topic, reported)
    assert (call.comment.topic if call.comment else None) == comment_topic
