"""Who is calling: a caller's name from what earlier calls from the same number recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ari_app.numbers import to_e164
from ari_app.store.models import Call


class NameLookup(Protocol):
    async def name_for(self, number: str) -> str | None:
        """The caller's name for this number, or None when it is not known."""
        ...


class StoreNameLookup:
    """The most recent non-empty ``caller_name`` of a past call from the number.

    With a ``region`` the number is matched in E.164 (the indexed column, and "+1 555..." finds
    "555..."); a number that is not a plausible phone number is matched as dialled.
    """

    def __init__(self, sessions: Callable[[], AsyncSession], region: str | None = None) -> None:
        self._sessions = sessions
        self._region = region

    async def name_for(self, number: str) -> str | None:
        e164 = to_e164(number, self._region) if self._region else None
        match = Call.caller_e164 == e164 if e164 else Call.caller_number == number
        query = (
            select(Call.caller_name)
            .where(match, Call.caller_name != "")
            .order_by(Call.started_at.desc())
            .limit(1)
        )
        async with self._sessions() as session:
            name = await session.scalar(query)
        return name or None
