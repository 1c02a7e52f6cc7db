"""The directories on SQLite and PostgreSQL: idempotent upserts, numbers replaced on re-send, a
bad card refused alone, and who a number belongs to when it is on several cards."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ari_app.numbers import Regions
from ari_app.people.schema import ContactIn, PatientIn
from ari_app.store.directory import DirectoryStore, NoSuchCard, UnreadableNumber
from ari_app.store.directory_rows import Card
from ari_app.store.people import Patient, PatientPhone

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
KYIV = Regions("US", {"kyiv": "UA"})


def patient(ext: str, name: str, *phones: dict[str, Any], **more: Any) -> PatientIn:
    return PatientIn.model_validate(
        {"external_id": ext, "full_name": name, "branch": "kyiv", "phones": list(phones), **more}
    )


def phone(number: str, role: str = "self", owner: str | None = None) -> dict[str, Any]:
    return {"number": number, "role": role, "owner": owner}


async def _counts(d: DirectoryStore) -> tuple[int, int]:
    async with d.db.session() as s:
        return (await s.scalar(select(func.count()).select_from(Patient)) or 0,
                await s.scalar(select(func.count()).select_from(PatientPhone)) or 0)  # fmt: skip


async def test_upsert_is_idempotent_and_the_card_reads_back(directory: DirectoryStore) -> None:
    full = patient(
        "p1", "Olha Kovalenko", phone("067 123 45 67"), phone("+380 50 111 2233", "spouse", "Taras"),
        birth_date="1990-04-01", balance="-150.50", policy={"number": "INS-1", "valid_from": "2026-01-01"},
        visits={"completed": 6, "no_show": 1, "cancelled": 1, "last": "2026-11-20"},
        open_tasks=[{"title": "call back about X-ray", "due": "2026-12-03"}],
        waiting_list=[{"what": "orthodontist"}], consent={"subjects": ["reminders"], "hours": "09:00-20:00"},
        guardian_name="Iryna",
    )  # fmt: skip
    for _ in range(2):
        assert await directory.upsert_patients([full], KYIV, NOW) == [None]
    assert await _counts(directory) == (1, 2)
    view = await directory.get_patient("p1")
    assert view is not None
    assert [(p.e164, p.role, p.owner) for p in view.phones] == [
        ("+380671234567", "self", None), ("+380501112233", "spouse", "Taras"),
    ]  # fmt: skip
    assert view.balance == Decimal("-150.50") and view.birth_date == date(1990, 4, 1)
    assert view.policy is not None and view.policy.number == "INS-1" and view.policy.active
    assert view.completed_share == 0.75 and view.visits.last == date(2026, 11, 20)
    assert view.open_tasks == ({"title": "call back about X-ray", "due": "2026-12-03"},)
    assert view.consent is not None and view.consent["hours"] == "09:00-20:00"
    assert view.guardian_name == "Iryna"
    assert await directory.get_patient("nobody") is None


async def test_a_resent_card_replaces_its_numbers(directory: DirectoryStore) -> None:
    await directory.upsert_patients([patient("p1", "A", phone("0671234567"), phone("0501112233"))], KYIV, NOW)
    await directory.upsert_patients([patient("p1", "A B", phone("0931112233", "parent"))], KYIV, NOW)
    view = await directory.get_patient("p1")
    assert view is not None and view.full_name == "A B" and view.completed_share is None
    assert [(p.e164, p.role) for p in view.phones] == [("+380931112233", "parent")]
    assert (await directory.identify("+380671234567")).kind == "unknown"
    assert await _counts(directory) == (1, 1)


async def test_a_bad_number_refuses_only_its_card(directory: DirectoryStore) -> None:
    await directory.upsert_patients([patient("p2", "Old name", phone("0671234567"))], KYIV, NOW)
    result = await directory.upsert_patients(
        [patient("p1", "Good", phone("0501112233")),
         patient("p2", "New name", phone("0671234567"), phone("12"))], KYIV, NOW,
    )  # fmt: skip
    assert result[0] is None
    refused = result[1]
    assert refused is not None and (refused.index, refused.external_id) == (1, "p2")
    assert [f for f, _ in refused.errors] == ["phones[1].number"] and "UA" in refused.errors[0][1]
    kept = await directory.get_patient("p2")  # nothing of the refused card was written
    assert kept is not None and kept.full_name == "Old name" and len(kept.phones) == 1
    assert await directory.get_patient("p1") is not None


async def test_a_mothers_number_on_three_cards(directory: DirectoryStore) -> None:
    mother = phone("+380 67 123 4567", "parent", "mother: Olha")
    await directory.upsert_patients(
        [patient("kid2", "Zoia", mother), patient("kid1", "Andrii", mother),
         patient("mum", "Olha", phone("067 123 45 67"))], KYIV, NOW,
    )  # fmt: skip
    who = await directory.identify("+380671234567")
    assert who.kind == "patient" and who.patient_id is None and who.in_statistics
    assert [(c.external_id, c.role) for c in who.cards] == [
        ("mum", "self"),
        ("kid1", "parent"),
        ("kid2", "parent"),
    ]
    assert who.display_name == ""


async def test_staff_wins_over_a_patient_card_and_contractors_are_known(directory: DirectoryStore) -> None:
    await directory.upsert_patients([patient("p1", "Nurse as patient", phone("067 123 45 67"))], KYIV, NOW)
    staff = ContactIn(external_id="s1", name="Nurse Hanna", phones=["+380671234567"])
    assert await directory.upsert_contacts("staff", [staff, staff], KYIV, NOW) == [None, None]
    supplier = ContactIn(
        external_id="c1", name="Dental supplies", organisation="DentCo", phones=["+1 212 555 0100"]
    )
    assert await directory.upsert_contacts("contractor", [supplier], KYIV, NOW) == [None]
    who = await directory.identify("+380671234567")
    assert (who.kind, who.contact_name, who.in_statistics) == ("staff", "Nurse Hanna", False)
    assert [c.external_id for c in who.cards] == ["p1"] and who.patient_id == who.cards[0].patient_id
    firm = await directory.identify("+12125550100")
    assert (firm.kind, firm.contact_name, firm.organisation, firm.cards) == (
        "contractor",
        "Dental supplies",
        "DentCo",
        (),
    )
    assert (await directory.identify("+380990000000")).kind == "unknown"
    contact = await directory.get_contact("staff", "s1")
    assert contact is not None and [p.e164 for p in contact.phones] == ["+380671234567"]
    assert await directory.get_contact("contractor", "s1") is None
    refused = await directory.upsert_contacts(
        "staff", [ContactIn(external_id="s2", name="X", phones=["x1"])], KYIV, NOW
    )
    assert refused[0] is not None and refused[0].errors[0][0] == "phones[0].number"


async def test_adding_a_number_to_a_card(directory: DirectoryStore) -> None:
    await directory.upsert_patients([patient("p1", "A", phone("0671234567"))], KYIV, NOW)
    added, new = await directory.learn_number("p1", "050 111 22 33", "spouse", "Taras", KYIV)
    assert added.e164 == "+380501112233" and new
    again, new = await directory.learn_number("p1", "+380501112233", "relative", None, KYIV)
    assert (again.role, again.owner, new) == ("spouse", "Taras", False)  # idempotent: left as it was
    view = await directory.get_patient("p1")
    assert view is not None and [(p.e164, p.role) for p in view.phones] == [
        ("+380671234567", "self"), ("+380501112233", "spouse"),
    ]  # fmt: skip
    with pytest.raises(NoSuchCard):
        await directory.learn_number("nobody", "0671234567", "self", None, KYIV)
    with pytest.raises(UnreadableNumber):
        await directory.learn_number("p1", "12", "self", None, KYIV)


@pytest.mark.parametrize(
    ("imported", "after"),
    [
        # The card sent again without the admin's number: it stays, with the admin's role.
        ([phone("0671234567")],
         [("+380501112233", "spouse", "console"), ("+380671234567", "self", "directory")]),
        # The card now names it: it is the directory's, with the directory's role.
        ([phone("0501112233", "relative")], [("+380501112233", "relative", "directory")]),
        # Another card names it as its own: a number may be on several cards; it stays here too.
        ([], [("+380501112233", "spouse", "console")]),
    ],
)  # fmt: skip
async def test_an_import_keeps_the_numbers_admins_added(
    directory: DirectoryStore, imported: list[dict[str, Any]], after: list[tuple[str, str, str]]
) -> None:
    await directory.upsert_patients([patient("p1", "A", phone("0671234567"))], KYIV, NOW)
    await directory.learn_number("p1", "050 111 22 33", "spouse", "Taras", KYIV)
    again = [patient("p1", "A", *imported), patient("p2", "Taras", phone("0501112233"))]
    assert await directory.upsert_patients(again, KYIV, NOW) == [None, None]
    async with directory.db.session() as s:
        rows = (
            await s.execute(
                select(PatientPhone.number_e164, PatientPhone.role, PatientPhone.source)
                .join(Patient, Patient.id == PatientPhone.patient_id)
                .where(Patient.external_id == "p1")
            )
        ).all()
    assert sorted(tuple(r) for r in rows) == after


async def test_the_lookup_uses_the_number_indexes(directory: DirectoryStore) -> None:
    """Each side of the lookup is a search of its e164 index (a later benchmark holds it to 2 ms
    with millions of numbers)."""
    async with directory.db.engine.connect() as conn:
        query = directory._identify.params(n="+380671234567")
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        if directory.db.is_sqlite:
            plan = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")).all()
        else:
            await conn.execute(text("SET enable_seqscan = off"))  # empty tables: the planner would scan
            plan = (await conn.exec_driver_sql(f"EXPLAIN {sql}")).all()
    shown = " ".join(str(row) for row in plan)
    assert "ix_patient_phones_e164" in shown and "ix_contact_phones_e164" in shown, shown


async def test_a_card_the_database_refuses_is_refused_alone(
    directory: DirectoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = directory._write_patients

    async def refusing(conn: AsyncConnection, cards: list[Card]) -> None:
        if any(c.external_id == "bad" for c in cards):
            raise IntegrityError("INSERT ...", {}, Exception("value refused"))
        await write(conn, cards)

    monkeypatch.setattr(directory, "_write_patients", refusing)
    batch = [patient("p1", "A", phone("0671234567")), patient("bad", "B"), patient("p2", "C")]
    result = await directory.upsert_patients(batch, KYIV, NOW)
    assert result[0] is None and result[2] is None
    assert result[1] is not None and result[1].errors == (("", "refused: value refused"),)
    assert await _counts(directory) == (2, 1)


async def test_future_appointments_come_from_the_bookings_feed(directory: DirectoryStore) -> None:
    """Each booking as its latest event leaves it: moved to its new time, cancelled gone, past
    visits not shown."""
    from ari_app.store.bookings import BookingEvent

    await directory.upsert_patients([patient("p1", "Olha Kovalenko", phone("067 123 45 67"))], KYIV, NOW)
    day = timedelta(days=1)

    def event(n: int, kind: str, booking: str, at: datetime, visit: datetime) -> BookingEvent:
        return BookingEvent(
            event_id=f"e{n}", kind=kind, booking_id=booking, patient_external_id="p1", happened_at=at,
            appointment_at=visit, doctor="Dr Melnyk", topic=None, branch="kyiv", admin=None, received_at=at,
        )  # fmt: skip

    async with directory.db.session() as s, s.begin():
        s.add_all([
            event(1, "created", "b-moved", NOW - 3 * day, NOW + 2 * day),
            event(2, "moved", "b-moved", NOW - 2 * day, NOW + 5 * day),
            event(3, "created", "b-cancelled", NOW - 3 * day, NOW + 1 * day),
            event(4, "cancelled", "b-cancelled", NOW - 1 * day, NOW + 1 * day),
            event(5, "created", "b-past", NOW - 9 * day, NOW - 2 * day),
            event(6, "created", "b-soon", NOW - 1 * day, NOW + 3 * day),
        ])  # fmt: skip
    view = await directory.get_patient("p1", NOW)
    assert view is not None
    assert [(a.booking_id, a.at) for a in view.future_appointments] == [
        ("b-soon", NOW + 3 * day), ("b-moved", NOW + 5 * day),
    ]  # fmt: skip
