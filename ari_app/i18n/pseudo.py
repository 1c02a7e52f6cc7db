"""The pseudo locale's translations: the English text with accented letters, wrapped in ⟦ ⟧.

A page rendered in the pseudo locale shows at a glance (and to ``tests/i18n_check.py``) every
piece of text that did not go through a catalog: it is the only text without the brackets.
Placeholders (``{name}``, ``%(name)s``, ``%s``), HTML tags and entities are kept as they are, so
the pseudo text formats and renders like the real one.
"""

from __future__ import annotations

import re

from babel.messages.catalog import Catalog

from ari_app.i18n.locales import PSEUDO

OPEN, CLOSE = "⟦", "⟧"
_ACCENTS = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "áƀçđéƒĝĥíĵķļɱñóþʠŕšţúṽŵẋýžÁƁÇĐÉƑĜĤÍĴĶĻṀÑÓÞǪŔŠŢÚṼŴẊÝŽ",
)
# Kept untouched: {name}, %(name)s, %s / %d / %%, <tags ...>, &entities;
_KEEP = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}|%\([A-Za-z_][A-Za-z0-9_]*\)[sdfr]|%[sdfr%]|<[^>]*>|&#?\w+;")


def pseudo(text: str) -> str:
    """``"Sign in as {name}"`` → ``"⟦Šíĝñ íñ áš {name}⟧"``; empty stays empty."""
    if not text:
        return text
    out, at = [], 0
    for kept in _KEEP.finditer(text):
        out.append(text[at : kept.start()].translate(_ACCENTS))
        out.append(kept.group())
        at = kept.end()
    out.append(text[at:].translate(_ACCENTS))
    return OPEN + "".join(out) + CLOSE


def pseudo_catalog(template: Catalog) -> Catalog:
    """The pseudo locale's catalog for every message of ``template`` (the ``.pot``)."""
    catalog = Catalog(locale=PSEUDO, project=template.project, fuzzy=False)
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, (list, tuple)):
            strings = tuple(pseudo(s) for s in message.id)
            catalog.add(message.id, strings, locations=message.locations, flags=message.flags)
        else:
            catalog.add(message.id, pseudo(message.id), locations=message.locations, flags=message.flags)
    return catalog
