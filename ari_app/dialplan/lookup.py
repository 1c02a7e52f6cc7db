"""Who is calling: a caller's name from the directories, else from what earlier calls from the
same number recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ari_app.numbers import Regions
from ari_app.people.identity import CallerDirectory
from ari_app.store.models import Call

log = structlog.get_logger(__name__)


class NameLookup(Protocol):
    async def name_for(self, number: str, branch: str | None = None) -> str | None:
        """The caller's name for this number (read in ``branch``'s region), or None when it is
        not known."""
        ...


class StoreNameLookup:
    """The name the directories give the number (a patient, staff, a contractor: the one the
    call flow shows on the admins' phones), else the most recent non-empty ``caller_name`` of a
    past call from it.

    With ``regions`` the number is read in the region of the branch whose DID was dialled (the
    clinic's default when the DID is not one of ours) and past calls are matched in E.164 (the
    indexed column, and "+1 555..." finds "555..."); a number that is not a plausible phone
    number is matched as dialled, and never asked of the directory.
    """

    def __init__(
        self,
        sessions: Callable[[], AsyncSession],
        regions: Regions | None = None,
        directory: CallerDirectory | None = None,
    ) -> None:
        self._sessions = sessions
        self._regions = regions
        self._directory = directory

    async def name_for(self, number: str, branch: str | None = None) -> str | None:
        e164 = self._regions.to_e164(number, branch) if self._regions else None
        if e164 and self._directory is not None:
            try:
                name = (await self._directory.identify(e164)).display_name
            except Exception as exc:  # the past calls still know a name
                log.warning("caller_directory_failed", error=type(exc).__name__)
            else:
                if name:
                    return name
        return await self._past_name(number, e164)

    async def _past_name(self, number: str, e164: str | None) -> str | None:
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
