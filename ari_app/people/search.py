"""Finding a patient's card from the console: what a search text asks for, with no I/O.

An admin types a name ("петр іван", "o'brien"), a number in any form ("067 123-45-67",
"+380671234567") or the scheduler's id of the card. A name matches when each word typed starts
one of the card's name words, in any order and any case: the cards' names are kept as their
words, case-folded, in a table of their own (``patient_name_words``) whose index a prefix is
looked up in as a range of words, the same on SQLite and PostgreSQL (codepoint order on both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from ari_app.numbers import Regions

MAX_QUERY = 100  # characters: longer is not a search a person typed
MAX_TERMS = 5  # words of a name searched for at once
MAX_WORD = 64  # a name word longer than this is kept cut (the table's column)
# Letters and digits (any script) with the marks and joiners inside a name: "O'Brien", "Анна-Марія".
_WORD = re.compile(r"[^\W_]+(?:['\u2019\-][^\W_]+)*")
_SPLIT = re.compile(r"['\u2019\-]")


def name_words(full_name: str) -> set[str]:
    """The words a card's name is found by: each word case-folded, and a compound word also by
    its parts ("анна-марія" by "анна-марія", "анна" and "марія"; "o'brien" by "brien" too)."""
    words: set[str] = set()
    for match in _WORD.finditer(full_name.casefold()):
        word = match.group(0)
        words.add(word[:MAX_WORD])
        words.update(part[:MAX_WORD] for part in _SPLIT.split(word) if part)
    return words


def prefix_range(prefix: str) -> tuple[str, str | None]:
    """The words starting with ``prefix`` are those in [low, high) (high None: no bound), in
    codepoint order: an index range, no LIKE. The next codepoint skips the surrogates, which
    no stored text holds (and UTF-8 cannot encode)."""
    for cut in range(len(prefix), 0, -1):
        following = ord(prefix[cut - 1]) + 1
        following = 0xE000 if 0xD800 <= following <= 0xDFFF else following
        if following <= 0x10FFFF:
            return prefix, prefix[: cut - 1] + chr(following)
    return prefix, None


@dataclass(frozen=True)
class SearchQuery:
    """What a search text asks for: any of its parts may find a card."""

    text: str  # as typed, trimmed: an external id is matched exactly
    terms: tuple[str, ...]  # name word prefixes, case-folded; () when the text has no letters
    number_e164: str | None  # the text read as a phone number in the asker's region


class BadSearch(ValueError):
    """The search text cannot be searched for (the message says why)."""


def parse_search(raw: str, regions: Regions, branch: str | None) -> SearchQuery:
    """The search asked for by ``raw``; ``branch``: whose region reads a national number."""
    text = raw.strip()
    if not text:
        raise BadSearch("q: type a name, a phone number or a card's id")
    if len(text) > MAX_QUERY:
        raise BadSearch(f"q: at most {MAX_QUERY} characters")
    if any(ord(ch) < 32 for ch in text):
        raise BadSearch("q: control characters are not allowed")
    has_letters = any(ch.isalpha() for ch in text)
    terms = tuple(dict.fromkeys(m.group(0)[:MAX_WORD] for m in _WORD.finditer(text.casefold())))
    if has_letters and len(terms) > MAX_TERMS:
        raise BadSearch(f"q: at most {MAX_TERMS} words of a name")
    # A number is digits with the signs people write around them; letters make it a name.
    number = None if has_letters else regions.to_e164(text, branch, complete=True)
    return SearchQuery(text, terms if has_letters else (), number)


def age_on(birth: date | None, today: date) -> int | None:
    """Full years on ``today``; None without a birth date."""
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
