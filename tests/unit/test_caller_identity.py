"""Who a number belongs to, from what each directory holds: staff over contractor over patient,
and what the admin's phone shows."""

from __future__ import annotations

import pytest

from ari_app.people.identity import UNKNOWN, CardMatch, decide

OWN = CardMatch(1, "p1", "Olha Kovalenko", "self")
CHILD = CardMatch(2, "p2", "Andrii Kovalenko", "parent", "mother: Olha")
CHILD_NO_OWNER = CardMatch(3, "p3", "Zoia Kovalenko", "parent")
MOTHERS = CardMatch(4, "p4", "Zoia Kovalenko", "parent", "Olha Kovalenko")
STAFF = ("Nurse Hanna", None)
FIRM = ("Ivan", "DentCo")


@pytest.mark.parametrize(
    ("cards", "staff", "contractor", "kind", "shown", "patient_id", "in_statistics"),
    [
        ([], None, None, "unknown", "", None, True),
        ([OWN], None, None, "patient", "Olha Kovalenko", 1, True),
        ([CHILD], None, None, "patient", "mother: Olha", 2, True),  # the owner is who calls
        ([CHILD_NO_OWNER], None, None, "patient", "Zoia Kovalenko", 3, True),
        ([OWN, CHILD], None, None, "patient", "", None, True),  # the cards disagree: the admin picks
        ([OWN, MOTHERS], None, None, "patient", "Olha Kovalenko", None, True),  # they agree: her
        ([CHILD, CHILD_NO_OWNER], None, None, "patient", "", None, True),  # someone's: not said whose
        ([], STAFF, None, "staff", "Nurse Hanna", None, False),
        ([OWN], STAFF, None, "staff", "Nurse Hanna", 1, False),  # staff wins; the card still comes
        ([], None, FIRM, "contractor", "Ivan", None, False),
        ([OWN, CHILD], None, FIRM, "contractor", "Ivan", None, False),
        ([OWN], STAFF, FIRM, "staff", "Nurse Hanna", 1, False),  # staff over contractor
        ([], ("", None), None, "staff", "", None, False),
    ],
)  # fmt: skip
def test_decide(
    cards: list[CardMatch],
    staff: tuple[str, str | None] | None,
    contractor: tuple[str, str | None] | None,
    kind: str,
    shown: str,
    patient_id: int | None,
    in_statistics: bool,
) -> None:
    who = decide(cards, staff, contractor)
    assert (who.kind, who.display_name, who.patient_id, who.in_statistics) == (
        kind,
        shown,
        patient_id,
        in_statistics,
    )
    assert who.cards == tuple(cards)
    if contractor is not None and staff is None:
        assert (who.contact_name, who.organisation) == contractor


def test_nobody_is_the_unknown_identity() -> None:
    assert decide([], None, None) is UNKNOWN
