"""Phone numbers in one place: normalised to E.164 for matching and storing, masked for logs.

Callers' numbers arrive as the carrier sends them ("5551234", "+1 555 123 4567", "00 44 ..."):
normalising takes the region the number was dialled in (the clinic's, later each branch's), so
that one person's calls match however their number was written. A number is medical data's
key: logs carry only its last three digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import phonenumbers

VISIBLE_DIGITS = 3  # a masked number shows its last three digits: enough to tell calls apart


def to_e164(number: str, region: str | None, *, complete: bool = False) -> str | None:
    """The number in E.164, or None when it is not a plausible phone number in ``region``.

    ``complete``: refuse a number that could only be dialled locally (no area code: "067 123",
    "555 1234"), whose E.164 form would be wrong; what a directory stores must be complete."""
    if not number or not any(ch.isdigit() for ch in number):
        return None
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE and (
        complete or reason != phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY
    ):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def display(number: str, region: str) -> str:
    """The number as a person at the branch reads it: national form for the branch's own
    country ("(202) 555-0142"), dialable international form otherwise; as given if unreadable."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return number
    if not phonenumbers.is_possible_number(parsed):
        return number
    if phonenumbers.region_code_for_number(parsed) == region:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_out_of_country_calling_number(parsed, region)


def mask(number: object) -> str:
    """For logs: every character but the last three hidden ("*******234")."""
    text = str(number) if number is not None else ""
    return "*" * max(0, len(text) - VISIBLE_DIGITS) + text[-VISIBLE_DIGITS:]


def is_region(code: str) -> bool:
    """Whether ``code`` is a region phone numbers can be read in ("UA", "US", "GB"...)."""
    return code in phonenumbers.SUPPORTED_REGIONS


@dataclass(frozen=True)
class Regions:
    """Where national numbers are read: each branch's region, else the clinic's default. A clinic
    in Kyiv reads "067 123 45 67" as +380671234567, one in Warsaw the same digits otherwise."""

    default: str
    by_branch: Mapping[str, str] = field(default_factory=dict)

    def of(self, branch: str | None) -> str:
        return self.by_branch.get(branch, self.default) if branch else self.default

    def to_e164(self, number: str, branch: str | None, *, complete: bool = False) -> str | None:
        return to_e164(number, self.of(branch), complete=complete)
