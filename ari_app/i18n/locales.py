"""Which locales and currencies exist (Babel's copy of CLDR), and how a browser names them.

Locales are written the gettext way in the config and the catalogs' folders (``en_US``,
``zh_Hans_CN``) and the BCP 47 way in pages (``en-US``, ``zh-Hans-CN``), where ``Intl`` reads them.
"""

from __future__ import annotations

from babel import Locale, UnknownLocaleError
from babel.numbers import list_currencies

SOURCE_LANGUAGE = "en"  # msgids are English: an English locale needs no catalog
# The pseudo locale: every translation is the English text with accented letters, wrapped in
# ⟦ ⟧ (``ari_app.i18n.pseudo``). en-XA is the code CLDR sets aside for this ("English, pseudo
# accents"); Babel has no data for it, so its formats are English's.
PSEUDO = "en_XA"
PSEUDO_FORMATS = "en"
_EXAMPLES = "such as en_US, ru_RU, uk_UA, es_ES, zh_Hans_CN"


def locale_problem(name: str) -> str | None:
    """Why ``name`` is not a locale we can format and translate for, or None."""
    if name == PSEUDO:
        return None
    try:
        Locale.parse(name)
    except (UnknownLocaleError, ValueError, TypeError):
        return f"unknown locale {name!r}; a CLDR locale {_EXAMPLES} (or {PSEUDO}, the pseudo locale)"
    if "-" in name:
        return f"unknown locale {name!r}: write it with underscores ({name.replace('-', '_')})"
    return None


def currency_problem(code: str) -> str | None:
    if code in list_currencies():
        return None
    return f"unknown currency {code!r}; an ISO 4217 code such as USD, EUR, UAH, RUB, CNY"


def formats_locale(name: str) -> Locale:
    """The Babel locale whose CLDR data formats dates, numbers and plurals for ``name``."""
    return Locale.parse(PSEUDO_FORMATS if name == PSEUDO else name)


def bcp47(name: str) -> str:
    """``en_US`` → ``en-US``, ``zh_Hans_CN`` → ``zh-Hans-CN``: the tag ``Intl`` and ``lang`` take."""
    return name.replace("_", "-")


def is_source_language(name: str) -> bool:
    return name != PSEUDO and Locale.parse(name).language == SOURCE_LANGUAGE
