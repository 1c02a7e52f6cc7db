"""Reading phone numbers per region: the forms clinics and carriers write them in, and junk."""

from __future__ import annotations

import pytest

from ari_app.numbers import Regions, is_region, mask, to_e164


@pytest.mark.parametrize(
    ("number", "region", "e164"),
    [
        # Ukraine: national with the trunk 0, international with + and with 00, brackets, dashes
        ("067 123 45 67", "UA", "+380671234567"),
        ("(067) 123-45-67", "UA", "+380671234567"),
        ("+380 67 123 4567", "UA", "+380671234567"),
        ("00380671234567", "UA", "+380671234567"),
        ("+380 67 123 4567", "US", "+380671234567"),  # international: the region does not matter
        # Russia: the trunk prefix 8, and +7
        ("8 912 345 67 89", "RU", "+79123456789"),
        ("8 (912) 345-67-89", "RU", "+79123456789"),
        ("+7 912 345-67-89", "RU", "+79123456789"),
        ("+7 912 345-67-89", "UA", "+79123456789"),
        # United States: 1, brackets, the international prefix 011, an extension (dropped)
        ("(555) 123-4567", "US", "+15551234567"),
        ("1 555 123 4567", "US", "+15551234567"),
        ("+1 555 123 4567", "US", "+15551234567"),
        ("555-123-4567 ext. 89", "US", "+15551234567"),
        ("011 44 20 7946 0018", "US", "+442079460018"),
        # Germany and the UK: 0 trunk, 00 international
        ("030 1234567", "DE", "+49301234567"),
        ("0049 30 1234567", "DE", "+49301234567"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("00 44 20 7946 0018", "DE", "+442079460018"),
        # The same digits read in another region are another number
        ("067 123 45 67", "US", "+10671234567"),
        # Junk
        ("", "US", None),
        ("anonymous", "US", None),
        ("+", "US", None),
        ("12", "US", None),
        ("123456789012345678901", "US", None),
        ("+999 123 456", "US", None),  # no such country code
    ],
)
def test_numbers_read_per_region(number: str, region: str, e164: str | None) -> None:
    assert to_e164(number, region) == e164


@pytest.mark.parametrize(
    ("number", "region", "loose", "complete"),
    [
        ("067 123", "UA", "+380067123", None),  # no area code: dialable only locally
        ("555 1234", "US", "+15551234", None),
        ("067 123 45 67", "UA", "+380671234567", "+380671234567"),
    ],
)
def test_a_directory_stores_only_complete_numbers(
    number: str, region: str, loose: str | None, complete: str | None
) -> None:
    """A caller's number is matched as the carrier sent it; a card's number must be whole."""
    assert to_e164(number, region) == loose
    assert to_e164(number, region, complete=True) == complete


def test_each_branch_reads_in_its_own_region() -> None:
    regions = Regions("US", {"kyiv": "UA", "berlin": "DE"})
    assert [regions.of(b) for b in ("kyiv", "berlin", "boston", None)] == ["UA", "DE", "US", "US"]
    assert regions.to_e164("067 123 45 67", "kyiv") == "+380671234567"
    assert regions.to_e164("030 1234567", "berlin") == "+49301234567"
    assert regions.to_e164("(555) 123-4567", "boston") == "+15551234567"


def test_regions_and_masks() -> None:
    assert is_region("UA") and is_region("US") and not is_region("XX") and not is_region("ua")
    assert mask("+380671234567") == "**********567"
    assert mask(None) == ""
