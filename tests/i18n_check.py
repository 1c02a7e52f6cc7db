"""Finds the text of a page that did not go through a catalog, in a page rendered in the pseudo
locale (``ari_app.i18n.pseudo``): there every translated text is wrapped in ⟦ ⟧.

``untranslated(html)`` lists what a person would read unmarked: text nodes (the title too), and
the ``placeholder``, ``title``, ``aria-label`` and ``alt`` of any element and the ``value`` of
button inputs (``<input type="submit|button|reset">``; a ``<button>``'s value is never shown, its
content is). Left out: whitespace, text with no letter (digits, punctuation, "…"), scripts and
styles, and whatever sits inside an element marked ``data-no-translate`` (names, numbers, codes:
data, not words of the app). A marked text may hold unmarked tags (``⟦Read <b>this</b>⟧``):
the marks are matched over the page's text as a whole, not node by node.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ari_app.i18n.pseudo import CLOSE, OPEN

ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")
BUTTON_INPUTS = ("submit", "button", "reset")
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
HIDDEN = frozenset({"script", "style", "template"})
_LETTER = re.compile(r"[^\W\d_]")
_MARKED = re.compile(re.escape(OPEN) + r"[^" + re.escape(CLOSE) + r"]*" + re.escape(CLOSE))
_BREAK = "\x00"  # between text nodes in the joined text


def _unmarked(text: str) -> bool:
    return bool(_LETTER.search(_MARKED.sub("", text)))


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped: hidden or data-no-translate)
        self.texts: list[str] = []
        self.attributes: list[str] = []

    @property
    def skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        skipped = self.skipping or tag in HIDDEN or "data-no-translate" in found
        if not skipped:
            names = [*ATTRIBUTES]
            if tag == "input" and found.get("type") in BUTTON_INPUTS:
                names.append("value")
            self.attributes += [found[n] or "" for n in names if found.get(n)]
        if tag not in VOID:
            self.stack.append((tag, skipped))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        # Close up to the matching element (browsers forgive a missing end tag; so does this).
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.texts.append(data)


def untranslated(html: str) -> list[str]:
    """The text a person reads on the page that is not marked by the pseudo locale."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    joined = _MARKED.sub("", _BREAK.join(reader.texts))
    texts = [" ".join(piece.split()) for piece in joined.split(_BREAK)]
    return [t for t in texts if _LETTER.search(t)] + [a for a in reader.attributes if _unmarked(a)]


def marked(text: str) -> bool:
    """The whole text is a pseudo translation (a message sent to a page's script)."""
    return text.startswith(OPEN) and text.endswith(CLOSE)


def compile_pseudo() -> None:
    """The pseudo locale's catalog compiled from the committed template, as the install step
    does (``python -m ari_app.i18n compile``), unless it is newer than the template already."""
    from ari_app.i18n.__main__ import main
    from ari_app.i18n.catalogs import LOCALE_DIR, mo_path
    from ari_app.i18n.locales import PSEUDO

    mo, pot = mo_path(PSEUDO), LOCALE_DIR / "messages.pot"
    if not mo.is_file() or mo.stat().st_mtime < pot.stat().st_mtime:
        assert main(["compile"]) == 0
