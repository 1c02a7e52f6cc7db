"""``i18n.js`` under Node (where it is installed), with a page's data as the server writes it:
messages, plurals by the locale's rules, and the formats in the page's locale and zone. The
pages' own use of it is checked in a browser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

I18N_JS = Path(__file__).resolve().parents[2] / "ari_app" / "i18n" / "static" / "i18n.js"
NODE = shutil.which("node")

# What the page's script asks i18n.js, one call a line; the answers come back as JSON.
CALLS = """
const { page, t, tn, fmt } = await import(process.argv[1]);
const out = [
  t("Manager"), t("Not translated"), t("{login}: {role}", { login: "anna", role: t("Manager") }),
  t("{missing} stays"),
  ...[1, 2, 5, 21, 1.5].map((n) => tn("{n} call", "{n} calls", n, { n: fmt.number(n) })),
  fmt.dateTime("2026-12-07T20:05:00Z"), fmt.date("2026-12-07T23:30:00Z"), fmt.time("2026-12-07T20:05:00Z"),
  fmt.number(1234567.5), fmt.percent(0.125), fmt.money("-120.50"), fmt.money("0.10", "USD"),
  fmt.money("12345678901234567.89"),
  fmt.duration(0), fmt.duration(65), fmt.duration(3723), page.locale,
];
try { fmt.money("12,50"); } catch (e) { out.push(e.name); }
console.log(JSON.stringify(out));
"""
PAGE = {
    "locale": "uk-UA",
    "timezone": "Europe/Kyiv",
    "currency": "UAH",
    "messages": {
        "Manager": "Менеджер",
        "{login}: {role}": "{role} {login}",
        "{n} call": {
            "one": "{n} дзвінок",
            "few": "{n} дзвінки",
            "many": "{n} дзвінків",
            "other": "{n} дзвінка",
        },
    },
}


def _run(tmp_path: Path, page: dict[str, Any]) -> list[str]:
    assert NODE is not None
    module = tmp_path / "i18n.mjs"  # Node reads a .js outside a package as CommonJS
    module.write_text(I18N_JS.read_text("utf-8"))
    setup = f"globalThis.document = {{ getElementById: () => ({{ textContent: {json.dumps(json.dumps(page))} }}) }};"
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", setup + CALLS, module.as_uri()],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer: list[str] = json.loads(done.stdout)
    return answer


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_i18n_js_translates_and_formats_in_the_pages_locale(tmp_path: Path) -> None:
    assert _run(tmp_path, PAGE) == [
        "Менеджер", "Not translated", "Менеджер anna", "{missing} stays",
        "1 дзвінок", "2 дзвінки", "5 дзвінків", "21 дзвінок", "1,5 дзвінка",
        "7 груд. 2026 р., 22:05", "8 груд. 2026 р.", "22:05",
        "1\xa0234\xa0567,5", "12,5%", "-120,50\xa0₴", "0,10\xa0USD",
        "12\xa0345\xa0678\xa0901\xa0234\xa0567,89\xa0₴",  # from the text: no float rounding
        "0:00", "1:05", "1:02:03", "uk-UA", "RangeError",
    ]  # fmt: skip


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_i18n_js_in_english_without_messages(tmp_path: Path) -> None:
    page = {"locale": "en-US", "timezone": "America/New_York", "currency": "USD", "messages": {}}
    answer = _run(tmp_path, page)
    assert answer[4:9] == ["1 call", "2 calls", "5 calls", "21 calls", "1.5 calls"]
    assert answer[9:12] == ["Dec 7, 2026, 3:05 PM", "Dec 7, 2026", "3:05 PM"]
    assert answer[14:17] == ["-$120.50", "$0.10", "$12,345,678,901,234,567.89"]
