"""The proposed opportunity class as a table: one case per rule of domain.md, then the combinations."""

from __future__ import annotations

import pytest

from ari_app.bookings.classify import CallFacts, Opportunity, classify


def facts(
    kind: str | None = "patient",
    comment: str | None = None,
    answered: bool = True,
    visits: int | None = None,
    linked: tuple[bool, ...] = (),
) -> CallFacts:
    return CallFacts(kind, comment, answered, visits, linked)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        # one case per rule
        (facts(answered=False), ("none", "not_reached")),
        (facts(kind="staff"), ("none", "business")),
        (facts(kind="contractor"), ("none", "business")),
        (facts(kind="unknown", comment="employee"), ("none", "business")),
        (facts(kind="unknown", comment="contractor"), ("none", "business")),
        (facts(kind="unknown", comment="other"), ("none", "other")),
        (facts(comment="patient_booked", visits=3), ("none", "existing_appointment")),
        (facts(comment="patient_to_book", visits=0, linked=(True,)), ("new", "new_patient_booking")),
        (facts(comment="patient_to_book", visits=2), ("current", "known_patient_with_visits")),
        (facts(visits=2), ("current", "known_patient_with_visits")),
        (facts(comment="patient_to_book", visits=0), ("new", "known_patient_no_visits")),
        (facts(kind="unknown"), ("new", "unknown_if_visited_before")),
        (facts(kind=None), ("new", "unknown_if_visited_before")),
        # combinations
        # a new and an existing patient's booking
        (facts(visits=4, linked=(True, False)), ("new", "new_patient_booking")),
        (facts(visits=4, linked=(False, True)), ("new", "new_patient_booking")),
        (facts(comment="patient_booked", visits=4, linked=(True,)), ("new", "new_patient_booking")),
        (facts(comment="patient_booked", visits=4, linked=(False,)), ("none", "existing_appointment")),
        (facts(comment="patient_booked"), ("none", "existing_appointment")),
        (facts(kind="staff", linked=(True,)), ("none", "business")),  # staff with a booking
        (facts(kind="staff", comment="patient_to_book", linked=(True,)), ("none", "business")),
        (facts(kind="contractor", linked=(False,)), ("none", "business")),
        (facts(answered=False, linked=(True,)), ("none", "not_reached")),  # not answered, booked later anyway
        (facts(kind="staff", answered=False), ("none", "not_reached")),
        (facts(kind="unknown", comment="other", linked=(True,)), ("none", "other")),
        # an unknown caller, answered
        (facts(kind="unknown", answered=True), ("new", "unknown_if_visited_before")),
        # a booking alone does not change the class: an existing patient's booking keeps current
        (facts(visits=1, linked=(False,)), ("current", "known_patient_with_visits")),
        (facts(visits=1, linked=(False, False)), ("current", "known_patient_with_visits")),
        (facts(kind="unknown", linked=(False,)), ("new", "unknown_if_visited_before")),
    ],
)
def test_classify(call: CallFacts, expected: tuple[Opportunity, str]) -> None:
    assert classify(call) == expected
