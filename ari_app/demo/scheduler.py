"""The clinic's scheduler as the demo plays it: after calls it sends booking events to the app's
feed (``POST /api/bookings/events``), as a real scheduler's webhook would. A known patient who
talked with an admin books often (for themselves, or a child on the same number), sometimes
cancels or moves an earlier booking; a new caller who books first gets a card.

It learns of ended calls from the app's own rows (the demo is the clinic here; a real scheduler
knows nothing of calls), and books through the API with the demo's bearer token.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import structlog

from ari_app.config import Settings
from ari_app.demo.api_access import ApiAccess
from ari_app.demo.people import DemoPeople
from ari_app.demo.summary import PlacedCall
from ari_app.store import CallRecord

if TYPE_CHECKING:
    from ari_app.app import CallCenterApp

log = structlog.get_logger(__name__)


class Scheduler:
    def __init__(self, access: ApiAccess, rng: random.Random, cards: dict[str, list[str]]) -> None:
        """``cards``: each known number's cards (E.164 -> external ids), from the demo's clinic."""
        self.api = access.session()
        self.rng = rng
        self.cards = cards
        self.seen: set[str] = set()
        self.booked: dict[str, str] = {}  # booking id -> patient external id
        self.sent: dict[str, int] = {}  # event kind -> how many the feed accepted

    async def after(self, rows: Sequence[CallRecord]) -> None:
        """Book for the calls that ended since the last look."""
        for row in rows:
            if row.id in self.seen or row.ended_at is None:
                continue
            self.seen.add(row.id)
            if row.outcome == "answered" and row.admin is not None:
                await self._after_talk(row)

    async def _after_talk(self, row: CallRecord) -> None:
        cards = self.cards.get(row.caller_e164 or "", [])
        if not cards and self.rng.random() < 0.4:
            cards = [await self._new_card(row)]  # a first visit: the admin makes the card
        if not cards or self.rng.random() > 0.7:
            return
        patient = self.rng.choice(cards)
        ours = [b for b, p in self.booked.items() if p == patient]
        kind = "created" if not ours or self.rng.random() < 0.7 else self.rng.choice(("cancelled", "moved"))
        booking = str(uuid.uuid4()) if kind == "created" else self.rng.choice(ours)
        await self._send(kind, booking, patient, row.admin, row.branch)

    async def _new_card(self, row: CallRecord) -> str:
        external_id = f"demo-new-{row.id[:8]}"
        card = {"full_name": f"New patient {row.id[:4]}", "phones": [{"number": row.caller_number}]}
        if row.branch:
            card["branch"] = row.branch
        async with self.api.put(f"/api/patients/{external_id}", json=card) as r:
            if r.status != 200:
                log.warning("demo_card_refused", status=r.status)
        self.cards.setdefault(row.caller_e164 or "", []).append(external_id)
        return external_id

    async def _send(
        self, kind: str, booking: str, patient: str, admin: str | None, branch: str | None
    ) -> None:
        now = datetime.now(UTC)
        event: dict[str, Any] = {
            "event_id": str(uuid.uuid4()),
            "kind": kind,
            "booking_id": booking,
            "patient_external_id": patient,
            "happened_at": now.isoformat(),
            "appointment_at": (now + timedelta(days=self.rng.randrange(1, 14), hours=2)).isoformat(),
            "doctor": self.rng.choice(("Dr Melnyk", "Dr García", "Dr Chen")),
            "admin": admin,
            "branch": branch,
        }
        async with self.api.post("/api/bookings/events", json=event) as r:
            if r.status not in (200, 201):  # 201: recorded; 200: a duplicate
                log.warning("demo_booking_refused", status=r.status, body=(await r.text())[:200])
                return
        self.sent[kind] = self.sent.get(kind, 0) + 1
        if kind == "created":
            self.booked[booking] = patient
        elif kind == "cancelled":
            self.booked.pop(booking, None)

    async def close(self) -> None:
        await self.api.close()


class Booking:
    """The scheduler's look at ended calls every second, while the demo runs."""

    def __init__(self, scheduler: Scheduler, app: CallCenterApp, placed: list[PlacedCall]) -> None:
        self.scheduler, self.app, self.placed = scheduler, app, placed
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self._look()
            except (aiohttp.ClientError, TimeoutError) as exc:  # the next look tries again
                log.warning("demo_scheduler_look_failed", error=type(exc).__name__)

    async def _look(self) -> None:
        await self.app.facts.drain(5)  # the ended calls' rows are in
        await self.scheduler.after(
            await self.app.store.calls_by_channels([p.channel_id for p in self.placed if p.channel_id])
        )

    async def finish(self) -> None:
        """The last calls' bookings, once every call ended."""
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self._look()

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.scheduler.close()


def cards_of(people: DemoPeople, settings: Settings) -> dict[str, list[str]]:
    """Each demo number's cards, by E.164 (as the call rows have it)."""
    cards: dict[str, list[str]] = {}
    for card in people.patients:
        for phone in card.phones:
            e164 = settings.regions.to_e164(phone.number, card.branch)
            if e164:
                cards.setdefault(e164, []).append(card.external_id)
    return cards
