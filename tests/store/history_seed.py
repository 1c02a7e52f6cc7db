"""Rows for the call history's tests, inserted as the other writers would leave them: calls,
their comments (with versions), booking events with their links, and callback tasks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, update

from ari_app.store import Database
from ari_app.store.bookings import BookingEvent, CallLink
from ari_app.store.models import Call, CallbackTask
from ari_app.store.people import CallComment, CallCommentVersion

ZONES = {"downtown": "America/New_York", "kyiv": "Europe/Kyiv"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def call_row(call_id: str, started: str, **values: Any) -> dict[str, Any]:
    started_at = at(started)
    row: dict[str, Any] = dict(
        id=call_id,
        channel_id=f"ch-{call_id}",
        caller_number="2025550100",
        caller_e164="+12025550100",
        caller_name="",
        did="5551234",
        branch="downtown",
        ad_channel=None,
        started_at=started_at,
        ended_at=started_at,
        outcome="answered",
        caller_kind="patient",
        in_statistics=True,
        created_at=started_at,
        updated_at=started_at,
    )
    row.update(values)
    return row


class Seeder:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._events = 0

    async def calls(self, *rows: dict[str, Any]) -> None:
        async with self.db.session() as s, s.begin():
            await s.execute(insert(Call), list(rows))

    async def comment(
        self, call_id: str, caller_type: str, topic: str, text: str = "", versions: int = 1
    ) -> None:
        written = at("2026-03-09T00:00:00+00:00")
        async with self.db.session() as s, s.begin():
            await s.execute(
                insert(CallComment).values(
                    call_id=call_id, caller_type=caller_type, topic=topic, text=text, author="anna",
                    written_at=written, version=versions,
                )
            )  # fmt: skip
            for v in range(1, versions + 1):
                await s.execute(
                    insert(CallCommentVersion).values(
                        call_id=call_id, version=v, caller_type=caller_type, topic=topic, text=text,
                        author="anna", written_at=written,
                    )
                )  # fmt: skip

    async def link(self, call_id: str, kind: str, happened: str, *, rule: str = "patient") -> int:
        self._events += 1
        async with self.db.session() as s, s.begin():
            event_id = await s.scalar(
                insert(BookingEvent)
                .values(
                    event_id=f"ev-{uuid.uuid4()}", kind=kind, booking_id=f"b-{self._events}",
                    patient_external_id="p-1", happened_at=at(happened),
                    appointment_at=at("2026-03-20T09:00:00+00:00"), doctor="Dr Ruiz", topic=None,
                    branch=None, admin=None, received_at=at(happened),
                )
                .returning(BookingEvent.id)
            )  # fmt: skip
            assert event_id is not None
            await s.execute(
                insert(CallLink).values(
                    booking_event_id=event_id, call_id=call_id, rule=rule, distance_seconds=60.0,
                    linked_at=at(happened),
                )
            )  # fmt: skip
        return int(event_id)

    async def callback(self, call_id: str, status: str) -> str:
        task_id = str(uuid.uuid4())
        when = at("2026-03-08T10:00:00+00:00")
        async with self.db.session() as s, s.begin():
            await s.execute(
                insert(CallbackTask).values(
                    id=task_id, number="2025550100", number_e164="+12025550100", branch=None,
                    reason="missed", status=status, due_at=when, created_at=when, updated_at=when,
                    attempts=1, last_call_at=when,
                )
            )  # fmt: skip
            await s.execute(update(Call).where(Call.id == call_id).values(callback_task_id=task_id))
        return task_id
