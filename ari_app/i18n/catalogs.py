"""The compiled gettext catalogs each configured locale needs, loaded once at start.

``ari_app/locale/<locale>/LC_MESSAGES/messages.mo`` are built by ``python -m ari_app.i18n
compile`` (the install step), never committed. English is the language of the msgids, so an
English locale without a catalog shows them as they are; any other locale without its ``.mo``
stops the start with the command to run, rather than showing English to people who asked for
another language.

The template (``messages.pot``) also tells which messages the pages' scripts use (those found in
a ``.js`` file): they travel to the browser in the page data (``js_messages``).
"""

from __future__ import annotations

import gettext
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from ari_app.i18n.locales import formats_locale, is_source_language

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
COMPILE_COMMAND = "python -m ari_app.i18n compile"
# A JS message: msgid → its translation; a plural one: CLDR plural category → translation.
JsMessage = str | dict[str, str]


class CatalogMissing(RuntimeError):
    """A configured locale has no compiled catalog: the install step was skipped."""


def mo_path(locale: str, directory: Path = LOCALE_DIR) -> Path:
    return directory / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"


def load_translations(locale: str, directory: Path = LOCALE_DIR) -> gettext.NullTranslations:
    """The locale's catalog, else its language's (``ru_UA`` → ``ru``: one Russian serves all)."""
    path = mo_path(locale, directory)
    for candidate in (path, mo_path(locale.split("_")[0], directory)):
        if candidate.is_file():
            with candidate.open("rb") as fp:
                return gettext.GNUTranslations(fp)
    if is_source_language(locale):
        return gettext.NullTranslations()
    raise CatalogMissing(
        f"no compiled translations for locale {locale!r} ({path} is missing): "
        f"run `{COMPILE_COMMAND}` after installing"
    )


@dataclass(frozen=True)
class JsMsgid:
    singular: str
    plural: str | None = None


@cache
def js_msgids(directory: Path = LOCALE_DIR) -> tuple[JsMsgid, ...]:
    """The template's messages used by a script (a location in a ``.js`` file)."""
    path = directory / f"{DOMAIN}.pot"
    with path.open("rb") as fp:
        template = read_po(fp)
    found = []
    for message in template:
        if not message.id or not any(file.endswith(".js") for file, _ in message.locations):
            continue
        if isinstance(message.id, (list, tuple)):
            found.append(JsMsgid(message.id[0], message.id[1]))
        else:
            found.append(JsMsgid(message.id))
    return tuple(found)


def plural_samples(locale: str) -> dict[str, int]:
    """One whole number per CLDR plural category of the locale (the smallest), to ask gettext
    which of its plural forms that category takes; categories only fractions reach are left out."""
    rule = formats_locale(locale).plural_form
    samples: dict[str, int] = {}
    for n in range(0, 1001):
        samples.setdefault(rule(n), n)
    return samples


def js_messages(
    locale: str, translations: gettext.NullTranslations, msgids: Iterable[JsMsgid]
) -> dict[str, JsMessage]:
    """Every script message in ``locale``; plural ones by category (``Intl.PluralRules`` picks)."""
    samples = plural_samples(locale)
    out: dict[str, JsMessage] = {}
    for m in msgids:
        if m.plural is None:
            out[m.singular] = translations.gettext(m.singular)
        else:
            forms = {cat: translations.ngettext(m.singular, m.plural, n) for cat, n in samples.items()}
            forms.setdefault("other", translations.ngettext(m.singular, m.plural, 1000))
            out[m.singular] = forms
    return out


@dataclass
class Catalogs:
    """The translations of each locale in use, and the script messages in each."""

    translations: dict[str, gettext.NullTranslations]
    directory: Path = LOCALE_DIR
    _js: dict[str, dict[str, JsMessage]] = field(default_factory=dict)

    @classmethod
    def load(cls, locales: Iterable[str], directory: Path = LOCALE_DIR) -> Catalogs:
        """Raises ``CatalogMissing`` for a non-English locale without its ``.mo``."""
        return cls({name: load_translations(name, directory) for name in sorted(set(locales))}, directory)

    def get(self, locale: str) -> gettext.NullTranslations:
        return self.translations[locale]

    def js(self, locale: str) -> dict[str, JsMessage]:
        if locale not in self._js:
            self._js[locale] = js_messages(locale, self.get(locale), js_msgids(self.directory))
        return self._js[locale]
