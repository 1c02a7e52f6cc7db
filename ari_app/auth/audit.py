"""The audit trail: who signed in (or failed to), opened a patient's card, listened to or
downloaded a recording, exported calls, changed a user or a token. Append-only: the database
refuses UPDATE and DELETE on it (migration 0009). ``detail`` never holds a secret, a password,
or patient data beyond the id of what was opened."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ari_app.store import Database
from ari_app.store.accounts import AuditEvent


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    kind: str
    actor: str | None
    subject: str | None
    address: str | None
    detail: dict[str, Any] | None


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditRow]
    next_cursor: str | None


def encode_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(["audit", event_id]).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> int:
    """ValueError for anything ``encode_cursor`` did not make."""
    try:
        kind, event_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except Exception as exc:
        raise ValueError("not a cursor of this list") from exc
    if kind != "audit" or not isinstance(event_id, int) or isinstance(event_id, bool):
        raise ValueError("not a cursor of this list")
    return event_id


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self,
        kind: str,
        actor: str | None,
        now: datetime,
        *,
        subject: str | None = None,
        address: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        event = AuditEvent(
            at=now,
            kind=kind,
            actor=actor,
            subject=subject[:128] if subject else subject,
            address=address[:64] if address else address,
            detail=json.dumps(dict(detail), sort_keys=True) if detail else None,
        )
        async with self.db.guarded_session() as s, s.begin():
            s.add(event)

    async def page(self, limit: int, cursor: str | None = None) -> AuditPage:
        """Newest first, ``limit`` a page; ``cursor``: where the previous page ended."""
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
        if cursor is not None:
            query = query.where(AuditEvent.id < decode_cursor(cursor))
        async with self.db.guarded_session() as s:
            rows = list((await s.execute(query)).scalars())
        more = len(rows) > limit
        events = [
            AuditRow(
                e.id, e.at, e.kind, e.actor, e.subject, e.address, json.loads(e.detail) if e.detail else None
            )
            for e in rows[:limit]
        ]
        return AuditPage(events, encode_cursor(events[-1].id) if more and events else None)
