"""Phone numbers in one place: normalised to E.164 for matching and storing, masked for logs.

Callers' numbers arrive as the carrier sends them ("5551234", "+1 555 123 4567", "00 44 ..."):
normalising takes the region the number was dialled in (the clinic's, later each branch's), so
that one person's calls match however their number was written. A number is medical data's
key: logs carry only its last three digits.
"""

from __future__ import annotations

import phonenumbers

VISIBLE_DIGITS = 3  # a masked number shows its last three digits: enough to tell calls apart


def to_e164(number: str, region: str | None) -> str | None:
    """The number in E.164, or None when it is not a plausible phone number in ``region``."""
    if not number or not any(ch.isdigit() for ch in number):
        return None
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mask(number: object) -> str:
    """For logs: every character but the last three hidden ("*******234")."""
    text = str(number) if number is not None else ""
    return "*" * max(0, len(text) - VISIBLE_DIGITS) + text[-VISIBLE_DIGITS:]
