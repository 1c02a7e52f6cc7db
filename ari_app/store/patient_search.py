"""The console's patient search (``ari_app.people.search`` says what is asked): a card by its
external id, by a number on it, or by its name's word prefixes, each an index lookup.

Cards found by id come first, then by number, then by name (alphabetical); at most ``limit``.
A name's words narrow each other: "iv pet" is the cards with a word starting "iv" and one
starting "pet", each prefix a range of ``patient_name_words``' primary key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ari_app.people.search import SearchQuery, age_on, prefix_range
from ari_app.people.views import PatientSummary, PhoneView
from ari_app.store.people import Patient, PatientNameWord, PatientPhone

_EXTERNAL_ID_MAX = 64


def _by_name(terms: Sequence[str], limit: int) -> Select[Any]:
    query = select(Patient.id)
    for term in terms:
        low, high = prefix_range(term)
        words = select(PatientNameWord.patient_id).where(PatientNameWord.word >= low)
        if high is not None:
            words = words.where(PatientNameWord.word < high)
        query = query.where(Patient.id.in_(words))
    return query.order_by(Patient.full_name, Patient.id).limit(limit)


async def _found(s: AsyncSession, search: SearchQuery, limit: int) -> dict[int, str]:
    """The cards' ids, in the order they are listed, with what found each."""
    found: dict[int, str] = {}
    if len(search.text) <= _EXTERNAL_ID_MAX and not any(ch.isspace() for ch in search.text):
        by_id = await s.scalar(select(Patient.id).where(Patient.external_id == search.text))
        if by_id is not None:
            found[by_id] = "external_id"
    if search.number_e164 is not None:
        by_number = select(PatientPhone.patient_id).where(PatientPhone.number_e164 == search.number_e164)
        for card in (await s.scalars(by_number.order_by(PatientPhone.patient_id).limit(limit))).all():
            found.setdefault(card, "number")
    if search.terms and len(found) < limit:
        for card in (await s.scalars(_by_name(search.terms, limit))).all():
            found.setdefault(card, "name")
    return dict(list(found.items())[:limit])


async def search_patients(
    s: AsyncSession, search: SearchQuery, limit: int, today: date
) -> list[PatientSummary]:
    found = await _found(s, search, limit)
    if not found:
        return []
    cards = await s.scalars(
        select(Patient).options(selectinload(Patient.phones)).where(Patient.id.in_(list(found)))
    )
    by_id = {p.id: p for p in cards}
    rank = {card: i for i, card in enumerate(found)}
    number_first = sorted(by_id.values(), key=lambda p: (rank[p.id], p.full_name))
    return [
        PatientSummary(
            external_id=p.external_id,
            full_name=p.full_name,
            birth_date=p.birth_date,
            age=age_on(p.birth_date, today),
            branch=p.branch,
            guardian_external_id=p.guardian_external_id,
            guardian_name=p.guardian_name,
            phones=tuple(PhoneView(x.number, x.number_e164, x.role, x.owner) for x in p.phones),
            matched=found[p.id],
        )
        for p in number_first
    ]
