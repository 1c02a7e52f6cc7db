"""What a console search text asks for (``ari_app.people.search``), with no database."""

from __future__ import annotations

from datetime import date

import pytest

from ari_app.numbers import Regions
from ari_app.people.search import BadSearch, age_on, name_words, parse_search, prefix_range

REGIONS = Regions("US", {"kyiv": "UA"})


@pytest.mark.parametrize(
    ("raw", "branch", "terms", "number"),
    [
        ("Ivan Petrenko", None, ("ivan", "petrenko"), None),
        ("  ПЕТРО  ", None, ("петро",), None),
        ("ivan ivan", None, ("ivan",), None),  # a word twice narrows once
        ("(555) 123-4567", None, (), "+15551234567"),
        ("067 123 45 67", "kyiv", (), "+380671234567"),
        ("067 123 45 67", None, (), "+10671234567"),  # read in the default region (US)
        ("12345", None, (), None),
        ("Straße", None, ("strasse",), None),  # case-folded, as the names are
    ],
)
def test_the_search_text(raw: str, branch: str | None, terms: tuple[str, ...], number: str | None) -> None:
    query = parse_search(raw, REGIONS, branch)
    assert (query.text, query.terms, query.number_e164) == (raw.strip(), terms, number)


@pytest.mark.parametrize(
    ("raw", "says"), [("", "q:"), (" ", "q:"), ("a\x00b", "control"), ("x" * 101, "100")]
)
def test_a_search_that_cannot_be_made(raw: str, says: str) -> None:
    with pytest.raises(BadSearch, match=says):
        parse_search(raw, REGIONS, None)


def test_name_words_and_prefix_ranges() -> None:
    apostrophe = "\u2019"
    assert name_words(f"Анна-Марія O{apostrophe}Brien") == {
        "анна-марія", "анна", "марія", f"o{apostrophe}brien", "o", "brien",
    }  # fmt: skip
    low, high = prefix_range("ков")
    assert high is not None
    assert all(low <= w < high for w in ("ков", "коваль", "ковяя"))
    assert not any(low <= w < high for w in ("ко", "кож", "kov"))


@pytest.mark.parametrize(
    ("prefix", "high"),
    [("ab", "ac"), ("a\ud7ff", "a\ue000"), ("a\U0010ffff", "b"), ("\U0010ffff", None)],
)
def test_the_range_after_a_prefix_is_encodable(prefix: str, high: str | None) -> None:
    assert prefix_range(prefix) == (prefix, high)
    if high is not None:
        high.encode("utf-8")  # no surrogate: the database can be sent it


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (None, date(2026, 1, 1), None),
        (date(2000, 3, 1), date(2026, 2, 28), 25),
        (date(2000, 3, 1), date(2026, 3, 1), 26),
    ],
)
def test_age(birth: date | None, today: date, age: int | None) -> None:
    assert age_on(birth, today) == age
