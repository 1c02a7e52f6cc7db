"""The patient's card as the pop shows it: what the admin needs while the phone rings.

Pure: the card as read (``PatientView``) and the day it is read on (for the age) in, a
JSON-ready dict out. Money stays text (a ``Decimal``'s digits, never a float's rounding).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ari_app.people.views import PatientView


def age_on(birth: date | None, today: date) -> int | None:
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def card_of(p: PatientView, today: date) -> dict[str, Any]:
    policy = p.policy
    return {
        "external_id": p.external_id,
        "name": p.full_name,
        "age": age_on(p.birth_date, today),
        "guardian": p.guardian_name,  # a child's parent or guardian
        "balance": str(p.balance),  # below zero: the patient owes
        "debt": str(-p.balance) if p.balance < 0 else None,
        "treatment_sum": str(p.treatment_sum),
        "family_sum": str(p.family_sum),
        "insurance_sum": str(p.insurance_sum),
        "policy": None
        if policy is None
        else {
            "number": policy.number,
            "valid_from": policy.valid_from.isoformat() if policy.valid_from else None,
            "valid_to": policy.valid_to.isoformat() if policy.valid_to else None,
            "active": policy.active,
        },
        "card_comment": p.card_comment,
        "completed_share": p.completed_share,
        "last_visit": p.visits.last.isoformat() if p.visits.last else None,
        "future_appointments": [
            {"booking_id": a.booking_id, "at": a.at.isoformat(), "doctor": a.doctor, "topic": a.topic}
            for a in p.future_appointments
        ],
        "open_tasks": list(p.open_tasks),
        "waiting_list": list(p.waiting_list),
    }
