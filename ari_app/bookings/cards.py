"""The directories' import with the booking links its patients' cards change redone: a card
that arrives after its patient's bookings links them, a new number links the calls from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ari_app.bookings.store import BookingStore
from ari_app.numbers import Regions
from ari_app.people.errors import RowError
from ari_app.people.importer import DirectorySink
from ari_app.people.schema import ContactIn, ContactKind, PatientIn


@dataclass(frozen=True)
class RelinkingDirectory:
    directory: DirectorySink
    bookings: BookingStore

    async def upsert_patients(
        self, items: Sequence[PatientIn], regions: Regions, now: datetime
    ) -> list[RowError | None]:
        refused = await self.directory.upsert_patients(items, regions, now)
        saved = [card.external_id for card, no in zip(items, refused, strict=True) if no is None]
        await self.bookings.relink_patients(saved)
        return refused

    async def upsert_contacts(
        self, kind: ContactKind, items: Sequence[ContactIn], regions: Regions, now: datetime
    ) -> list[RowError | None]:
        # Staff and contractors have no bookings: their calls are not opportunities either way.
        return await self.directory.upsert_contacts(kind, items, regions, now)
