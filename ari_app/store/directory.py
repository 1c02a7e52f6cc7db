"""DirectoryStore: the patients', staff's and contractors' cards, and who a number belongs to.

A batch is written in one transaction with a statement per table, not per card or number: the
cards are upserted by external id (their ids come back), their numbers deleted and inserted
again, so a re-sent card's list is exactly the one sent. A card whose number cannot be read is
refused before anything is written; should the database still refuse something, the batch is
written again card by card, each in its own transaction, so only that card is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import (
    Select,
    String,
    bindparam,
    cast,
    delete,
    insert,
    literal_column,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload

from ari_app.numbers import Regions
from ari_app.people.errors import RowError
from ari_app.people.identity import CallerIdentity, CardMatch, decide
from ari_app.people.schema import ContactIn, ContactKind, PatientIn, PhoneRole
from ari_app.people.search import SearchQuery, name_words
from ari_app.people.views import ContactView, PatientSummary, PatientView, PhoneView
from ari_app.store.bookings import BookingEvent
from ari_app.store.db import Database, StoreUnavailable, _is_connection_error
from ari_app.store.directory_rows import (
    Card,
    contact_numbers,
    contact_row,
    contact_view,
    future_appointments,
    patient_row,
    patient_view,
    read_numbers,
    unreadable,
)
from ari_app.store.patient_search import search_patients
from ari_app.store.people import (
    CONSOLE,
    DIRECTORY,
    Contact,
    ContactPhone,
    Patient,
    PatientNameWord,
    PatientPhone,
)

Writer = Callable[[AsyncConnection, list[Card]], Awaitable[None]]
_WORDS_FROM_ARRAYS = text(
    "INSERT INTO patient_name_words (word, patient_id)"
    " SELECT * FROM unnest(CAST(:words AS text[]), CAST(:cards AS integer[]))"
)


class NoSuchCard(LookupError):
    """No patient card has that external id."""


class UnreadableNumber(ValueError):
    """The number cannot be read as a phone number in the card's region."""


def identify_query() -> Select[Any]:
    """Everyone who has the number ``:n``: patients' cards (with the number's role and owner)
    and contacts, in one round trip; each side is a lookup of the e164 index and a primary key."""
    n = bindparam("n", type_=String)
    text_null = cast(null(), String)
    patients = (
        select(
            literal_column("'patient'", String).label("kind"),
            Patient.id,
            Patient.external_id,
            Patient.full_name.label("name"),
            PatientPhone.role,
            PatientPhone.owner,
            text_null.label("organisation"),
        )
        .join_from(PatientPhone, Patient, PatientPhone.patient_id == Patient.id)
        .where(PatientPhone.number_e164 == n)
    )
    contacts = (
        select(
            Contact.kind,
            Contact.id,
            Contact.external_id,
            Contact.name,
            text_null,
            text_null,
            Contact.organisation,
        )
        .join_from(ContactPhone, Contact, ContactPhone.contact_id == Contact.id)
        .where(ContactPhone.number_e164 == n)
    )
    return union_all(patients, contacts)  # type: ignore[return-value]


def identity_of(rows: Sequence[Any]) -> CallerIdentity:
    """``decide`` on the rows of ``identify_query``: cards with the patient's own number first,
    then by name; of several staff (or contractor) entries, the first by name."""
    cards = sorted(
        (CardMatch(r.id, r.external_id, r.name, r.role, r.owner) for r in rows if r.kind == "patient"),
        key=lambda c: (c.role != "self", c.full_name, c.patient_id),
    )

    def first(kind: str) -> tuple[str, str | None] | None:
        found = sorted((r.name, r.id, r.organisation) for r in rows if r.kind == kind)
        return (found[0][0], found[0][2]) if found else None

    return decide(cards, first("staff"), first("contractor"))


class DirectoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._identify = identify_query()

    def _session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A short session; a refused or dropped connection surfaces as StoreUnavailable."""
        return self.db.guarded_session()

    # ------------------------------------------------------------------------------ writes
    async def upsert_patients(
        self, items: Sequence[PatientIn], regions: Regions, now: datetime
    ) -> list[RowError | None]:
        """Each item written whole or refused (its ``RowError``, at its index); None: written."""
        refused: list[RowError | None] = [None] * len(items)
        cards: dict[str, Card] = {}  # by external id: the batch's last word on a card wins
        for i, item in enumerate(items):
            phones, problems = read_numbers(item.phones, regions.of(item.branch))
            if problems:
                refused[i] = RowError(i, item.external_id, problems)
                cards.pop(item.external_id, None)
            else:
                cards[item.external_id] = Card(i, item.external_id, patient_row(item, now), phones)
        await self._apply(list(cards.values()), self._write_patients, refused)
        return refused

    async def upsert_contacts(
        self, kind: ContactKind, items: Sequence[ContactIn], regions: Regions, now: datetime
    ) -> list[RowError | None]:
        """As ``upsert_patients``; contacts' numbers are read in the clinic's default region."""
        refused: list[RowError | None] = [None] * len(items)
        cards: dict[str, Card] = {}
        for i, item in enumerate(items):
            phones, problems = contact_numbers(item.phones, regions.of(None))
            if problems:
                refused[i] = RowError(i, item.external_id, problems)
                cards.pop(item.external_id, None)
            else:
                for p in phones:
                    del p["role"], p["owner"]
                cards[item.external_id] = Card(i, item.external_id, contact_row(kind, item, now), phones)
        await self._apply(list(cards.values()), self._write_contacts, refused)
        return refused

    async def _apply(self, cards: list[Card], write: Writer, refused: list[RowError | None]) -> None:
        if not cards:
            return
        try:
            async with self.db.engine.begin() as conn:
                await write(conn, cards)
            return
        except DBAPIError as exc:
            if _is_connection_error(exc):
                raise StoreUnavailable(self.db.display_url, exc) from None
        for card in cards:  # the database refused one of them: find which, write the others
            try:
                async with self.db.engine.begin() as conn:
                    await write(conn, [card])
            except DBAPIError as exc:
                if _is_connection_error(exc):
                    raise StoreUnavailable(self.db.display_url, exc) from None
                reason = str(exc.orig).split("\n", 1)[0][:200] if exc.orig else type(exc).__name__
                refused[card.index] = RowError(card.index, card.external_id, (("", f"refused: {reason}"),))

    @staticmethod
    def _insert(conn: AsyncConnection, table: Any) -> Any:
        return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)

    @staticmethod
    async def _plan_each(conn: AsyncConnection) -> None:
        """PostgreSQL: plan this transaction's statements for their values and the tables' size
        now. A prepared statement's generic plan, made while a first import had filled only a
        few pages, scanned the whole numbers table for each batch's DELETE from then on."""
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")

    async def _write_patients(self, conn: AsyncConnection, cards: list[Card]) -> None:
        ids = await self._write_cards(conn, cards, _PATIENTS)
        await conn.execute(delete(PatientNameWord).where(PatientNameWord.patient_id.in_(list(ids.values()))))
        named = [(ids[c.external_id], w) for c in cards for w in sorted(name_words(c.row["full_name"]))]
        if not named:
            return
        if conn.dialect.name == "postgresql":  # one statement: asyncpg's executemany is a round per row
            cards_of, words = zip(*named, strict=True)
            await conn.execute(_WORDS_FROM_ARRAYS, {"words": list(words), "cards": list(cards_of)})
        else:
            await conn.execute(insert(PatientNameWord), [{"word": w, "patient_id": p} for p, w in named])

    async def _write_contacts(self, conn: AsyncConnection, cards: list[Card]) -> None:
        await self._write_cards(conn, cards, _CONTACTS)

    async def _write_cards(
        self, conn: AsyncConnection, cards: list[Card], kind: _CardTables
    ) -> dict[str, int]:
        """Upsert the cards by their key, then replace their numbers: a card sent again holds
        exactly the numbers it was sent with, and the numbers admins added to it from calls
        (``source`` "console"); a number both name becomes the card's own (the directory's
        role and owner). The cards' ids by external id."""
        await self._plan_each(conn)
        ins = self._insert(conn, kind.table)
        stmt = ins.on_conflict_do_update(
            index_elements=[getattr(kind.table, k) for k in kind.key],
            set_={k: ins.excluded[k] for k in cards[0].row if k not in (*kind.key, "created_at")},
        ).returning(kind.table.id, kind.table.external_id)
        ids = {r.external_id: r.id for r in await conn.execute(stmt, [c.row for c in cards])}
        owner = getattr(kind.phones, kind.owner)
        replaced = delete(kind.phones).where(owner.in_(list(ids.values())))
        if kind.phones is PatientPhone:
            replaced = replaced.where(PatientPhone.source == DIRECTORY)
        await conn.execute(replaced)
        phones = [{**p, kind.owner: ids[c.external_id]} for c in cards for p in c.phones]
        if phones and kind.phones is PatientPhone:
            add = self._insert(conn, PatientPhone)
            taken = add.on_conflict_do_update(
                index_elements=[PatientPhone.patient_id, PatientPhone.number_e164],
                set_={k: add.excluded[k] for k in ("number", "role", "owner", "source")},
            )
            await conn.execute(taken, [{**p, "source": DIRECTORY} for p in phones])
        elif phones:
            await conn.execute(insert(kind.phones), phones)
        return ids

    async def learn_number(
        self, external_id: str, number: str, role: PhoneRole, owner: str | None, regions: Regions
    ) -> tuple[PhoneView, bool]:
        """Put ``number`` on the card (read in the card's branch's region) as an admin's
        (``source`` "console": a later import of the card keeps it). A number already on the
        card stays as it is: the number and False. NoSuchCard, UnreadableNumber: nothing written."""
        async with self._session() as s, s.begin():
            card = (
                await s.execute(select(Patient.id, Patient.branch).where(Patient.external_id == external_id))
            ).first()
            if card is None:
                raise NoSuchCard(external_id)
            e164 = regions.to_e164(number, card.branch, complete=True)
            if e164 is None:
                raise UnreadableNumber(unreadable(regions.of(card.branch)))
            row = {"number": number, "number_e164": e164, "role": role, "owner": owner, "source": CONSOLE}
            conn = await s.connection()
            added = await conn.execute(
                self._insert(conn, PatientPhone).values(patient_id=card.id, **row).on_conflict_do_nothing()
            )
            if added.rowcount:
                return PhoneView(number, e164, role, owner), True
            kept = (
                await s.execute(
                    select(PatientPhone.number, PatientPhone.role, PatientPhone.owner).where(
                        PatientPhone.patient_id == card.id, PatientPhone.number_e164 == e164
                    )
                )
            ).one()
        return PhoneView(kept.number, e164, kept.role, kept.owner), False

    # ------------------------------------------------------------------------------- reads
    async def get_patient(self, external_id: str, now: datetime | None = None) -> PatientView | None:
        """The card, with its visits still ahead from the bookings feed (``now``: the present)."""
        async with self._session() as s:
            found = await s.scalar(
                select(Patient)
                .options(selectinload(Patient.phones))
                .where(Patient.external_id == external_id)
            )
            if found is None:
                return None
            events = (
                await s.scalars(select(BookingEvent).where(BookingEvent.patient_external_id == external_id))
            ).all()
        ahead = future_appointments(events, now or datetime.now(UTC))
        return dataclasses.replace(patient_view(found), future_appointments=ahead)

    async def search(self, query: SearchQuery, limit: int, today: date) -> list[PatientSummary]:
        """The console's search (``ari_app.store.patient_search``); ``today``: ages are on it."""
        async with self._session() as s:
            return await search_patients(s, query, limit, today)

    async def get_contact(self, kind: Literal["staff", "contractor"], external_id: str) -> ContactView | None:
        async with self._session() as s:
            found = await s.scalar(
                select(Contact)
                .options(selectinload(Contact.phones))
                .where(Contact.kind == kind, Contact.external_id == external_id)
            )
            return contact_view(found) if found is not None else None

    async def identify(self, number_e164: str) -> CallerIdentity:
        """Who has the number (already E.164), in one round trip; ``UNKNOWN`` when nobody does."""
        with self.db.unavailable_on_connection_errors():
            rows = await self.db.read(lambda conn: self._holders(conn, number_e164))
        return identity_of(rows)

    async def _holders(self, conn: AsyncConnection, number_e164: str) -> Sequence[Any]:
        return (await conn.execute(self._identify, {"n": number_e164})).all()


@dataclass(frozen=True)
class _CardTables:
    """Where one kind of card and its numbers live."""

    table: type[Patient] | type[Contact]
    key: tuple[str, ...]  # the columns a card is upserted by
    phones: type[PatientPhone] | type[ContactPhone]
    owner: str  # the numbers' column naming their card


_PATIENTS = _CardTables(Patient, ("external_id",), PatientPhone, "patient_id")
_CONTACTS = _CardTables(Contact, ("kind", "external_id"), ContactPhone, "contact_id")
