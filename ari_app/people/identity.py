"""Who a number belongs to, as the directories know it when a call comes in.

One number can be on several patients' cards (a mother's phone on her children's cards), and on
a staff member's or a contractor's entry as well. The caller's kind follows one rule: a staff
number is staff, else a contractor's is a contractor, else a patient's is a patient. Staff and
contractor directories are curated work numbers, while a patient card collects every number a
family ever gave; a colleague who is also a patient calls about work far more often than about a
visit, and the cards still come with the identity so the admin can pick one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

CallerKind = Literal["patient", "staff", "contractor", "unknown"]


@dataclass(frozen=True)
class CardMatch:
    """A patient card the number is on, and whose number it is there."""

    patient_id: int
    external_id: str
    full_name: str
    role: str  # self parent guardian spouse child relative other
    owner: str | None = None


@dataclass(frozen=True)
class CallerIdentity:
    kind: CallerKind
    cards: tuple[CardMatch, ...] = ()
    contact_name: str | None = None  # the staff member's or contractor's name
    organisation: str | None = None

    @property
    def patient_id(self) -> int | None:
        """The card, when the number is on exactly one."""
        return self.cards[0].patient_id if len(self.cards) == 1 else None

    @property
    def in_statistics(self) -> bool:
        """Staff and contractors' calls stay out of the admins' and the clinic's statistics."""
        return self.kind not in ("staff", "contractor")

    @property
    def display_name(self) -> str:
        """What the admin's phone shows: the name to greet, or nothing to go on. A number on
        several cards names its owner when the cards agree who that is (a mother's number on
        her own card and, as the parent's, on her children's); otherwise the admin picks."""
        if self.kind in ("staff", "contractor"):
            return self.contact_name or ""
        if len(self.cards) == 1:
            return self.cards[0].owner or self.cards[0].full_name
        owners = {c.owner or (c.full_name if c.role == "self" else None) for c in self.cards}
        return owners.pop() or "" if len(owners) == 1 else ""


UNKNOWN = CallerIdentity("unknown")


def decide(
    cards: list[CardMatch] | tuple[CardMatch, ...],
    staff: tuple[str, str | None] | None,
    contractor: tuple[str, str | None] | None,
) -> CallerIdentity:
    """The identity from what each directory holds for the number (``staff``/``contractor``:
    name and organisation); the rule is the module's."""
    found = tuple(cards)
    if staff is not None:
        return CallerIdentity("staff", found, staff[0], staff[1])
    if contractor is not None:
        return CallerIdentity("contractor", found, contractor[0], contractor[1])
    if found:
        return CallerIdentity("patient", found)
    return UNKNOWN


class CallerDirectory(Protocol):
    async def identify(self, number_e164: str) -> CallerIdentity:
        """Who has this number; ``UNKNOWN`` when nobody does."""
        ...
