"""The directories' rows from their input and back, with no I/O: numbers read in the card's
region, a card's columns, and the views the API and the screen-pop read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ari_app.numbers import to_e164
from ari_app.people.schema import ContactIn, PatientIn, PhoneIn
from ari_app.people.views import (
    AppointmentView,
    ContactView,
    PatientView,
    PhoneView,
    PolicyView,
    VisitsView,
)
from ari_app.store.bookings import BookingEvent
from ari_app.store.people import Contact, Patient

Problems = tuple[tuple[str, str], ...]


@dataclass
class Card:
    """One item of a batch, read and ready to write: its columns and its numbers."""

    index: int
    external_id: str
    row: dict[str, Any]
    phones: list[dict[str, Any]] = field(default_factory=list)


def unreadable(region: str) -> str:
    return f"not a phone number that can be read in region {region}"


def read_numbers(numbers: Sequence[PhoneIn], region: str) -> tuple[list[dict[str, Any]], Problems]:
    """The card's numbers in E.164, or why not. A number written twice (two forms of it) is kept
    once, as first written: the card's list stays what the clinic meant, with no duplicates."""
    rows: list[dict[str, Any]] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, phone in enumerate(numbers):
        e164 = to_e164(phone.number, region, complete=True)
        if e164 is None:
            problems.append((f"phones[{i}].number", unreadable(region)))
        elif e164 not in seen:
            seen.add(e164)
            rows.append(
                {"number": phone.number, "number_e164": e164, "role": phone.role, "owner": phone.owner}
            )
    return rows, tuple(problems)


def contact_numbers(numbers: Sequence[str], region: str) -> tuple[list[dict[str, Any]], Problems]:
    return read_numbers([PhoneIn(number=n) for n in numbers], region)


def patient_row(item: PatientIn, now: datetime) -> dict[str, Any]:
    policy, visits = item.policy, item.visits
    return {
        "external_id": item.external_id,
        "full_name": item.full_name,
        "birth_date": item.birth_date,
        "branch": item.branch,
        "guardian_external_id": item.guardian_external_id,
        "guardian_name": item.guardian_name,
        "family_id": item.family_id,
        "balance": item.balance,
        "treatment_sum": item.treatment_sum,
        "family_sum": item.family_sum,
        "insurance_sum": item.insurance_sum,
        "policy_number": policy.number if policy else None,
        "policy_from": policy.valid_from if policy else None,
        "policy_to": policy.valid_to if policy else None,
        "policy_active": policy.active if policy else False,
        "card_comment": item.card_comment,
        "visits_completed": visits.completed,
        "visits_no_show": visits.no_show,
        "visits_cancelled": visits.cancelled,
        "last_visit": visits.last,
        "open_tasks": [t.model_dump(mode="json") for t in item.open_tasks],
        "waiting_list": [w.model_dump(mode="json") for w in item.waiting_list],
        "consent": item.consent.model_dump(mode="json") if item.consent else None,
        "created_at": now,
        "updated_at": now,
    }


def contact_row(kind: str, item: ContactIn, now: datetime) -> dict[str, Any]:
    return {
        "kind": kind,
        "external_id": item.external_id,
        "name": item.name,
        "organisation": item.organisation,
        "note": item.note,
        "created_at": now,
        "updated_at": now,
    }


def patient_view(p: Patient) -> PatientView:
    policy = (
        PolicyView(p.policy_number, p.policy_from, p.policy_to, p.policy_active)
        if p.policy_number is not None
        else None
    )
    return PatientView(
        id=p.id,
        external_id=p.external_id,
        full_name=p.full_name,
        birth_date=p.birth_date,
        branch=p.branch,
        phones=tuple(PhoneView(x.number, x.number_e164, x.role, x.owner) for x in p.phones),
        guardian_external_id=p.guardian_external_id,
        guardian_name=p.guardian_name,
        family_id=p.family_id,
        balance=p.balance,
        treatment_sum=p.treatment_sum,
        family_sum=p.family_sum,
        insurance_sum=p.insurance_sum,
        policy=policy,
        card_comment=p.card_comment,
        visits=VisitsView(p.visits_completed, p.visits_no_show, p.visits_cancelled, p.last_visit),
        open_tasks=tuple(p.open_tasks or ()),
        waiting_list=tuple(p.waiting_list or ()),
        consent=p.consent,
        updated_at=p.updated_at,
    )


def contact_view(c: Contact) -> ContactView:
    phones = tuple(PhoneView(x.number, x.number_e164) for x in c.phones)
    return ContactView(c.kind, c.id, c.external_id, c.name, c.organisation, c.note, phones, c.updated_at)


def future_appointments(events: Sequence[BookingEvent], now: datetime) -> tuple[AppointmentView, ...]:
    """Each booking as its latest event leaves it (events in the order they happened, the order
    received breaking ties), kept when it was not cancelled and its visit is after ``now``;
    soonest first."""
    latest: dict[str, BookingEvent] = {}
    for event in sorted(events, key=lambda e: (e.happened_at, e.id)):
        latest[event.booking_id] = event
    ahead = [
        AppointmentView(e.booking_id, e.appointment_at, e.doctor, e.topic, e.branch)
        for e in latest.values()
        if e.kind != "cancelled" and e.appointment_at is not None and e.appointment_at > now
    ]
    return tuple(sorted(ahead, key=lambda a: a.at))
