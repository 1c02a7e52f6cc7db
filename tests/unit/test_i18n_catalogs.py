"""The catalogs: the committed template is up to date, the pseudo locale marks everything and
keeps placeholders, a configured locale without its compiled catalog stops the start, and the
config refuses a locale or currency that does not exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from ari_app.config import ConfigError, parse_settings
from ari_app.i18n.__main__ import main as i18n_main
from ari_app.i18n.catalogs import (
    COMPILE_COMMAND,
    LOCALE_DIR,
    CatalogMissing,
    Catalogs,
    JsMsgid,
    js_messages,
    js_msgids,
    load_translations,
)
from ari_app.i18n.locales import PSEUDO, bcp47
from ari_app.i18n.pseudo import pseudo
from tests.i18n_check import untranslated

_A = {"id": "a", "name": "A", "dids": [{"number": "5551234"}]}
_X = {"login": "x", "name": "X", "endpoint": "PJSIP/x", "branch": "a"}


def _messages(path: Path) -> list[tuple[Any, list[str], str | None]]:
    with path.open("rb") as fp:
        catalog = read_po(fp)
    return sorted(
        ((m.id, sorted(file for file, _ in m.locations), m.context) for m in catalog if m.id), key=str
    )


def test_the_committed_template_has_every_message_of_the_code(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    assert i18n_main(["extract", "--output", str(fresh)]) == 0
    committed = _messages(LOCALE_DIR / "messages.pot")
    assert committed, "the template is empty"
    assert _messages(fresh) == committed, "run `python -m ari_app.i18n extract` and commit the .pot"


def test_the_template_finds_python_template_and_script_messages() -> None:
    found = {m[0] if isinstance(m[0], str) else m[0][0]: m[1] for m in _messages(LOCALE_DIR / "messages.pot")}
    assert found["Wrong login or password."] == ["ari_app/api/login.py"]
    assert found["Sign in"] == ["ari_app/auth/templates/login.html"]
    assert found["Password set. You can sign in now."] == ["ari_app/auth/static/set-password.js"]
    assert JsMsgid("Manager") in js_msgids()
    assert JsMsgid("Sign in") not in js_msgids()  # a template's: never sent to the browser


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sign in", "⟦Šíĝñ íñ⟧"),
        ("Hello {name}, {n} calls", "⟦Ĥéļļó {name}, {n} çáļļš⟧"),
        ("%(num)s seconds, %s left, 100%%", "⟦%(num)s šéçóñđš, %s ļéƒţ, 100%%⟧"),
        ('Read <a href="/help">the help</a> &amp; go', '⟦Ŕéáđ <a href="/help">ţĥé ĥéļþ</a> &amp; ĝó⟧'),
        ("", ""),
    ],
)
def test_the_pseudo_locale_marks_the_text_and_keeps_placeholders_and_html(text: str, expected: str) -> None:
    assert pseudo(text) == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>⟦Šíĝñ íñ⟧</p>", []),
        ("<p>Sign in</p>", ["Sign in"]),
        ("<title>Sign in</title><p>⟦x⟧</p>", ["Sign in"]),
        ("<p>⟦Ŕéáđ <b>ţĥíš</b> ñóŵ⟧</p>", []),
        ("<p>⟦Ĥéļļó⟧, anna</p>", [", anna"]),
        ("<p>12:05 — 3 / 4 …</p>", []),
        ("<p data-no-translate>Olga Petrova <b>+1 555</b></p><p>⟦x⟧</p>", []),
        ('<input placeholder="Search"><img alt="⟦Ļóĝó⟧">', ["Search"]),
        ('<button title="Close" aria-label="⟦Çļóšé⟧">&times;</button>', ["Close"]),
        ('<input type="submit" value="Send"><input type="hidden" value="abc">', ["Send"]),
        ('<button name="action" value="save">⟦Šáṽé⟧</button>', []),  # a button's value is not shown
        ("<script>const x = 'English';</script><style>p::after{content:'x'}</style>", []),
        ('<script type="application/json" id="page-data">{"a": "text"}</script>', []),
        ("<ul><li>⟦Óñé⟧<li>Two</ul>", ["Two"]),
    ],
)
def test_the_checker_finds_unmarked_text(html: str, expected: list[str]) -> None:
    assert untranslated(html) == expected


def _compiled(directory: Path, locale: str, messages: dict[Any, Any]) -> None:
    catalog = Catalog(locale=locale)
    for msgid, text in messages.items():
        catalog.add(msgid, text)
    target = directory / locale / "LC_MESSAGES" / "messages.mo"
    target.parent.mkdir(parents=True)
    with target.open("wb") as fp:
        write_mo(fp, catalog)


def test_a_configured_locale_without_its_compiled_catalog_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(CatalogMissing) as refused:
        Catalogs.load(["en_US", "uk_UA"], tmp_path)
    text = str(refused.value)
    assert "'uk_UA'" in text and COMPILE_COMMAND in text and "messages.mo" in text
    with pytest.raises(CatalogMissing):
        load_translations(PSEUDO, tmp_path)  # English letters, but it must be compiled too
    assert load_translations("en_US", tmp_path).gettext("Sign in") == "Sign in"  # the msgids are English


def test_a_locale_falls_back_to_its_languages_catalog(tmp_path: Path) -> None:
    _compiled(tmp_path, "uk", {"Sign in": "Увійти"})
    catalogs = Catalogs.load(["uk_UA"], tmp_path)
    assert catalogs.get("uk_UA").gettext("Sign in") == "Увійти"
    assert catalogs.get("uk_UA").gettext("Not translated yet") == "Not translated yet"


def test_script_messages_carry_every_plural_category_of_the_locale(tmp_path: Path) -> None:
    forms = ("{n} дзвінок", "{n} дзвінки", "{n} дзвінків")
    _compiled(tmp_path, "uk", {"Manager": "Менеджер", ("{n} call", "{n} calls"): forms})
    ukrainian = Catalogs.load(["uk_UA"], tmp_path).get("uk_UA")
    msgids = [JsMsgid("Manager"), JsMsgid("{n} call", "{n} calls")]
    messages = js_messages("uk_UA", ukrainian, msgids)
    # CLDR: 1, 21 "one"; 2-4, 22 "few"; 0, 5-20 "many"; fractions "other" (gettext's last form).
    assert messages == {
        "Manager": "Менеджер",
        "{n} call": {"one": forms[0], "few": forms[1], "many": forms[2], "other": forms[2]},
    }
    english = js_messages("en_US", load_translations("en_US", tmp_path), msgids)
    assert english["{n} call"] == {"one": "{n} call", "other": "{n} calls"}


@pytest.mark.parametrize(
    ("i18n", "branch", "problem"),
    [
        ({"locale": "xx_YY"}, {}, "i18n.locale: unknown locale 'xx_YY'"),
        ({"locale": "en-US"}, {}, "i18n.locale: unknown locale 'en-US'"),
        ({"currency": "EURO"}, {}, "i18n.currency: unknown currency 'EURO'"),
        ({"timezone": "Kyiv"}, {}, "i18n.timezone: unknown time zone 'Kyiv'"),
        ({}, {"locale": "ua_UA"}, "branches[0].locale: unknown locale 'ua_UA'"),
        ({}, {"currency": "usd"}, "branches[0].currency: unknown currency 'usd'"),
        ({"language": "en"}, {}, "i18n.language: unknown key"),
    ],
)
def test_an_unknown_locale_or_currency_is_a_config_error(
    i18n: dict[str, str], branch: dict[str, str], problem: str
) -> None:
    data = {"version": 1, "i18n": i18n, "branches": [{**_A, **branch}], "admins": [_X]}
    with pytest.raises(ConfigError) as refused:
        parse_settings(data, "clinic.toml")
    assert any(p.startswith(problem) for p in refused.value.problems), refused.value.problems


@pytest.mark.parametrize(
    ("i18n", "branch", "expected"),
    [
        ({}, {}, ("en_US", "USD", None, None)),
        ({"locale": "uk_UA", "currency": "UAH"}, {}, ("uk_UA", "UAH", None, None)),
        ({}, {"locale": "zh_Hans_CN", "currency": "CNY"}, ("en_US", "USD", "zh_Hans_CN", "CNY")),
        ({"locale": PSEUDO}, {"locale": "es_ES"}, (PSEUDO, "USD", "es_ES", None)),
    ],
)
def test_locales_and_currencies_at_load(
    i18n: dict[str, str], branch: dict[str, str], expected: tuple[str | None, ...]
) -> None:
    data = {"version": 1, "i18n": i18n, "branches": [{**_A, **branch}], "admins": [_X]}
    s = parse_settings(data, "clinic.toml")
    assert (s.i18n.locale, s.i18n.currency, s.branches[0].locale, s.branches[0].currency) == expected


@pytest.mark.parametrize(
    ("locale", "tag"), [("en_US", "en-US"), ("zh_Hans_CN", "zh-Hans-CN"), (PSEUDO, "en-XA"), ("ru", "ru")]
)
def test_pages_name_the_locale_the_bcp47_way(locale: str, tag: str) -> None:
    assert bcp47(locale) == tag


def test_run_stops_at_start_naming_the_command_when_a_locale_is_not_compiled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ari_app.__main__ import main
    from tests.unit.test_config import EXAMPLE

    config = tmp_path / "clinic.toml"
    # Western Frisian: a CLDR locale no catalog of ours will ever hold.
    config.write_text(EXAMPLE.read_text().replace('locale = "en_US"', 'locale = "fy_NL"', 1))
    for name, value in {"ARI_USERNAME": "u", "ARI_PASSWORD": "p", "ARI_APP_API_TOKENS": "t" * 20}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'calls.db'}")
    # Logging stays as the tests have it (run's would write to this test's captured stderr).
    monkeypatch.setattr("ari_app.__main__.setup_logging", lambda *_args, **_kw: None)
    assert main(["run", "--config", str(config)]) == 3
    err = capsys.readouterr().err
    assert "'fy_NL'" in err and COMPILE_COMMAND in err
