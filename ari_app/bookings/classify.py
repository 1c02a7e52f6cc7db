"""The opportunity class a call is proposed (pure): new, current or none, with its reason id.

domain.md, "Who calls and why": not reaching an admin, staff and contractors, "other" and calls
only about an existing appointment are no opportunity; a new patient's booking makes a call new;
a known patient with past visits is current; when it cannot be told, new. Whether a booking was
made does not by itself change the class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Opportunity = Literal["new", "current", "none"]
BUSINESS_KINDS = frozenset({"staff", "contractor"})
BUSINESS_TYPES = frozenset({"employee", "contractor"})


@dataclass(frozen=True)
class CallFacts:
    caller_kind: str | None
    comment_type: str | None
    answered: bool
    past_visits: int | None
    linked_created: tuple[bool, ...]


def classify(facts: CallFacts) -> tuple[Opportunity, str]:
    if not facts.answered:
        return "none", "not_reached"
    if facts.comment_type in BUSINESS_TYPES or (
        facts.comment_type is None and facts.caller_kind in BUSINESS_KINDS
    ):
        return "none", "business"
    if facts.comment_type == "other":
        return "none", "other"
    new_booking = any(facts.linked_created)
    if facts.comment_type == "patient_booked" and not new_booking:
        return "none", "existing_appointment"
    if new_booking:
        return "new", "new_patient_booking"
    if facts.past_visits:
        return "current", "known_patient_with_visits"
    return "new", "unknown_if_visited_before"
