"""Every page in the pseudo locale, as a browser shows it with live data: the console with a
call popped, its card read and a history row; the wallboard counting it; the sign-in and account
pages. What the scripts write counts as much as the templates: every visible word must come
from a catalog (wrapped in ⟦ ⟧), data (names, numbers) sits in elements marked
``data-no-translate``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ari_app.i18n.locales import PSEUDO
from ari_app.simctl import SimControl
from tests.browser.test_console import CARD, MOTHER, signed_in
from tests.i18n_check import compile_pseudo, untranslated
from tests.integration.conftest import until
from tests.integration.live_site import BEARER, Site, live_site

# SQLite only: the browser drives the same pages and sockets on either database; the database
# side of each step is tested on both by the console's and the wallboard's integration tests.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


@pytest.fixture
async def site(clean_database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    compile_pseudo()
    async with live_site(clean_database_url, tmp_path, extra=f'\n[i18n]\nlocale = "{PSEUDO}"\n') as s:
        yield s


async def test_every_page_shows_only_translated_words(site: Site, browser: Any, artifacts: Path) -> None:
    app, ctl = site.app, SimControl(site.sim.control_url)
    bulk = f"{site.base}/api/patients/bulk"
    async with site.http.post(bulk, json={"patients": [CARD]}, headers=BEARER) as r:
        assert (await r.json())["accepted"] == 1
    await site.add_user("anna", "admin", "anna", "downtown")
    await site.add_user("boss", "manager", None, None)
    login = await (await browser.new_page()).goto(f"{site.base}/login")
    assert untranslated(await login.text()) == []
    anna = await signed_in(browser, site, "anna", "/console")
    boss = await signed_in(browser, site, "boss", "/console")
    await anna.page.wait_for_selector("[data-testid=connection-state][data-state=live]", timeout=15_000)
    await ctl.set_phone("admin101", "answer", answer_after=1.0)
    await ctl.set_phone("admin102", "no_answer")
    await ctl.set_phone("admin103", "no_answer")
    await site.phones_ready()
    await ctl.place_call(MOTHER, "5551234", hangup_after=3.0)
    await anna.page.locator("[data-testid=pop]").wait_for(timeout=20_000)
    await anna.page.get_by_text("Olha Kovalenko").first.wait_for()
    pages = {"console, the pop": anna, "console, a manager's": boss}
    found = {name: untranslated(await p.page.content()) for name, p in pages.items()}
    await anna.page.screenshot(path=str(artifacts / "console-pseudo-locale.png"))
    await boss.page.goto(f"{site.base}/wallboard?branch=downtown")
    await boss.page.locator("#answered").filter(has_text="1").wait_for(timeout=20_000)
    found["wallboard"] = untranslated(await boss.page.content())
    await boss.page.goto(f"{site.base}/wallboard")
    found["wallboard, the branch picker"] = untranslated(await boss.page.content())
    await boss.page.goto(f"{site.base}/account")
    await boss.page.wait_for_load_state("networkidle")
    found["account"] = untranslated(await boss.page.content())
    await until(lambda: app.screenpop.board.calls == {}, timeout=20)
    await anna.page.click("[data-testid=history-apply]")
    await anna.page.locator("[data-testid=history-row]").first.wait_for(timeout=20_000)
    found["console, the history"] = untranslated(await anna.page.content())
    assert {k: v for k, v in found.items() if v} == {}
    assert anna.problems == [] and boss.problems == []
