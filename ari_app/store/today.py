"""The calls of the day as the wallboard starts from them: so that a restart does not zero its
figures, nor forget the callers still waiting.

One narrow read of the calls started since a given instant (the earliest of the branches'
local midnights, or of the calls still in progress worth showing); the wallboard
(``ari_app.screenpop.wallboard.seed``) sorts them into each branch's own day. Calls logged by
hand (``handled_by`` "manual") rang no phone of the front desk: they are left out.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select

from ari_app.screenpop.wallboard import StoredCall
from ari_app.store.db import Database
from ari_app.store.models import Call

PHONE_CALLS = ("app", "fallback")


async def calls_since(db: Database, since: datetime, branches: Collection[str]) -> list[StoredCall]:
    stmt = (
        select(
            Call.id,
            Call.branch,
            Call.started_at,
            Call.answered_at,
            Call.outcome,
            Call.in_statistics,
            Call.queued_at,
            Call.callback_task_id,
        )
        .where(Call.started_at >= since, Call.branch.in_(list(branches)), Call.handled_by.in_(PHONE_CALLS))
        .order_by(Call.started_at)
    )
    async with db.guarded_session() as s:
        rows = (await s.execute(stmt)).all()
    return [
        StoredCall(
            call_id=r.id,
            branch=r.branch,
            started_at=r.started_at,
            answered_at=r.answered_at,
            outcome=r.outcome,
            in_statistics=bool(r.in_statistics),
            queued_at=r.queued_at,
            settled=r.callback_task_id is not None,
        )
        for r in rows
    ]
