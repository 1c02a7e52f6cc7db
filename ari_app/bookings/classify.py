"""A call's proposed opportunity class (new / current / none) and the reason for it.

The rules are domain.md's "Who calls and why", applied in order; the first that fits
decides. The admin may correct the proposal, so each answer carries a reason id the
console can explain and the classification report can count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Opportunity = Literal["new", "current", "none"]

BUSINESS_KINDS = frozenset({"staff", "contractor"})
BUSINESS_TYPES = frozenset({"employee", "contractor"})


@dataclass(frozen=True)
class CallFacts:
    caller_kind: str | None  # calls.caller_kind: patient | staff | contractor | unknown | None
    comment_type: str | None  # patient_to_book | patient_booked | employee | contractor | other | None
    answered: bool  # an admin talked with the caller
    past_visits: int | None  # completed visits of the call's patient before it; None: no single known patient
    linked_created: tuple[bool, ...]  # per linked created booking: True when for a new patient


def classify(facts: CallFacts) -> tuple[Opportunity, str]:
    """(class, reason id) for a call."""
    # Nobody qualified heard the caller: whatever they wanted, it was not an opportunity
    # the front desk had.
    if not facts.answered:
        return "none", "not_reached"
    # Business calls stay out even when a booking happens to be linked (a staff member's
    # number booking for a patient is still the staff line).
    if facts.caller_kind in BUSINESS_KINDS or facts.comment_type in BUSINESS_TYPES:
        return "none", "business"
    if facts.comment_type == "other":
        return "none", "other"
    # A first visit booked is the strongest evidence of a new patient; it outranks both
    # "about an existing appointment" and a known card (a mother books her child's first visit).
    if any(facts.linked_created):
        return "new", "new_patient_booking"
    if facts.comment_type == "patient_booked":
        return "none", "existing_appointment"
    if facts.past_visits is not None and facts.past_visits > 0:
        return "current", "known_patient_with_visits"
    if facts.past_visits == 0:
        return "new", "known_patient_no_visits"
    # domain.md: when it cannot be told whether the caller has been before, it is new.
    return "new", "unknown_if_visited_before"
