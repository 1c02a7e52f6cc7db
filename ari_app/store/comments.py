"""The admins' comments on calls, with every version kept, and calls logged by hand.

A comment is written in one transaction that starts by updating the call's row (its
``in_statistics`` follows the comment's caller type): on PostgreSQL that locks the row, on SQLite
it takes the write lock, so two admins saving the same call's comment at once are put one after
the other. The last save wins and each is a version; a save that names the version it edited
(``expected_version``) is refused when another landed in between.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ari_app.numbers import Regions
from ari_app.people.identity import CallerIdentity
from ari_app.people.schema import NOT_PATIENTS, CommentIn, ManualCallIn
from ari_app.store.db import Database
from ari_app.store.models import Call
from ari_app.store.people import CONSOLE, CallComment, CallCommentVersion, Patient, PatientPhone

MANUAL = "manual"  # calls.handled_by of a call logged by hand


class CallNotFound(LookupError):
    pass


class Refused(ValueError):
    """The input is well formed but cannot be applied; ``field`` names what to change."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class VersionConflict(Exception):
    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"the comment is at version {current}, not {expected}: reload it and edit again")
        self.expected = expected
        self.current = current


@dataclass(frozen=True)
class CommentVersion:
    version: int
    caller_type: str
    topic: str
    patient_external_id: str | None
    text: str
    author: str
    written_at: datetime


@dataclass(frozen=True)
class CommentView:
    """The comment as it stands (its latest version) and every version, oldest first."""

    call_id: str
    version: int
    caller_type: str
    topic: str
    patient_external_id: str | None
    text: str
    author: str
    written_at: datetime
    history: list[CommentVersion] = field(default_factory=list)
    number_added: bool = False  # this save put the caller's number on the patient's card


class CommentStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        with self.db.unavailable_on_connection_errors():
            async with self.db.engine.begin() as conn:
                yield conn

    def _insert(self, model: Any) -> Any:
        return (sqlite_insert if self.db.is_sqlite else pg_insert)(model)

    async def write_comment(
        self, call_id: str, comment: CommentIn, author: str, now: datetime, regions: Regions
    ) -> CommentView:
        """Create or replace the call's comment and add it as the next version. CallNotFound,
        Refused (unknown patient, a number that cannot go on a card), VersionConflict."""
        async with self._transaction() as conn:
            added = await self._write(conn, call_id, comment, author, now, regions)
            view = await self._read(conn, call_id)
        assert view is not None  # written just above, in this transaction
        return replace(view, number_added=added)

    async def _write(
        self,
        conn: AsyncConnection,
        call_id: str,
        comment: CommentIn,
        author: str,
        now: datetime,
        regions: Regions,
    ) -> bool:
        """The comment's writes on ``conn``; whether the caller's number was added to the card."""
        # First statement: the row lock (PostgreSQL) or write lock (SQLite) that orders the saves.
        counted = comment.caller_type not in NOT_PATIENTS  # the admin's judgement over the automatic one
        moved = await conn.execute(
            update(Call).where(Call.id == call_id).values(in_statistics=counted, updated_at=now)
        )
        if moved.rowcount == 0:
            raise CallNotFound(f"no call {call_id}")
        current = await conn.scalar(select(CallComment.version).where(CallComment.call_id == call_id))
        if comment.expected_version is not None and comment.expected_version != (current or 0):
            raise VersionConflict(comment.expected_version, current or 0)
        patient_id = await self._patient_id(conn, comment.patient_external_id)
        added = False
        if comment.add_number_to_patient is not None and patient_id is not None:
            added = await self._add_number(conn, call_id, patient_id, comment.add_number_to_patient, regions)
        version = (current or 0) + 1
        values = dict(
            caller_type=comment.caller_type,
            topic=comment.topic,
            patient_id=patient_id,
            text=comment.text,
            author=author,
            written_at=now,
        )
        if current is None:
            await conn.execute(self._insert(CallComment).values(call_id=call_id, version=version, **values))
        else:
            await conn.execute(
                update(CallComment).where(CallComment.call_id == call_id).values(version=version, **values)
            )
        await conn.execute(
            self._insert(CallCommentVersion).values(call_id=call_id, version=version, **values)
        )
        return added

    async def _patient_id(self, conn: AsyncConnection, external_id: str | None) -> int | None:
        if external_id is None:
            return None
        found = await conn.scalar(select(Patient.id).where(Patient.external_id == external_id))
        if found is None:
            raise Refused("patient_external_id", "no patient card with this external id")
        return int(found)

    async def _add_number(
        self, conn: AsyncConnection, call_id: str, patient_id: int, role: str, regions: Regions
    ) -> bool:
        """The call's caller number on the card (read in the call's branch's region); False when
        the card has it already."""
        row = (await conn.execute(select(Call.caller_number, Call.branch).where(Call.id == call_id))).one()
        e164 = regions.to_e164(row.caller_number, row.branch, complete=True)
        if e164 is None:
            raise Refused("add_number_to_patient", "the caller's number is withheld or not a phone number")
        stmt = self._insert(PatientPhone).values(
            patient_id=patient_id,
            number=row.caller_number,
            number_e164=e164,
            role=role,
            owner=None,
            source=CONSOLE,
        )
        inserted = await conn.execute(stmt.on_conflict_do_nothing())
        return bool(inserted.rowcount)

    async def get_comment(self, call_id: str) -> CommentView | None:
        async with self._transaction() as conn:
            return await self._read(conn, call_id)

    async def _read(self, conn: AsyncConnection, call_id: str) -> CommentView | None:
        versions = (
            select(CallCommentVersion, Patient.external_id)
            .outerjoin(Patient, Patient.id == CallCommentVersion.patient_id)
            .where(CallCommentVersion.call_id == call_id)
            .order_by(CallCommentVersion.version)
        )
        history = [
            CommentVersion(
                version=r.version,
                caller_type=r.caller_type,
                topic=r.topic,
                patient_external_id=r.external_id,
                text=r.text,
                author=r.author,
                written_at=r.written_at,
            )
            for r in (await conn.execute(versions)).all()
        ]
        if not history:
            return None
        last = history[-1]  # the current comment is its latest version
        return CommentView(call_id=call_id, **asdict(last), history=history)

    async def log_manual_call(
        self, call: ManualCallIn, now: datetime, regions: Regions, identity: CallerIdentity | None = None
    ) -> str:
        """Store a call logged by hand as an answered call (``handled_by`` "manual"), with its
        comment if given and who called as the directories know the number (``identity``);
        returns the call's id. Refused when the number is not a phone number."""
        e164 = regions.to_e164(call.number, call.branch)
        if e164 is None:
            raise Refused("number", "not a phone number in the branch's region")
        call_id = str(uuid.uuid4())
        talk = call.duration_seconds
        values = dict(
            id=call_id,
            channel_id=f"manual-{call_id}",
            caller_number=call.number,
            caller_e164=e164,
            caller_name="",
            did="",  # it reached no number of the clinic's PBX
            branch=call.branch,
            started_at=call.started_at,
            answered_at=call.started_at,
            ended_at=call.started_at + timedelta(seconds=talk or 0),
            wait_seconds=0.0,
            talk_seconds=talk,
            outcome="answered",
            admin=call.admin,
            handled_by=MANUAL,
            **_who(identity),
            created_at=now,
            updated_at=now,
        )
        async with self._transaction() as conn:
            await conn.execute(self._insert(Call).values(**values))
            if call.comment is not None:
                await self._write(conn, call_id, call.comment, call.comment.author, now, regions)
        return call_id


def _who(identity: CallerIdentity | None) -> dict[str, object]:
    if identity is None:
        return {}
    return {
        "caller_kind": identity.kind,
        "patient_id": identity.patient_id,
        "patient_cards": len(identity.cards),
        "in_statistics": identity.in_statistics,
    }
