"""The console and the wallboard in headless Chromium against the app and the simulated PBX.

Two admins of one branch and a manager sign in through the sign-in page. A known patient calls;
both admins' phones ring (ring-all). The pop is on Anna's screen before the simulated PBX rings
her phone; she answers, and her comment, saved on the page, is the stored call's; Ben's console
shows the call taken by Anna; the manager's wallboard counts it answered. No page throws or
breaks the Content-Security-Policy. Screenshots: test-artifacts/browser/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ari_app.facts.types import CallStarted
from ari_app.simctl import SimControl
from tests.integration.conftest import PASSWORD, until
from tests.integration.live_site import BEARER, Site, live_site

# SQLite only: the browser drives the same pages and sockets on either database; the database
# side of each step is tested on both by the console's and the wallboard's integration tests.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

MOTHER = "+12025550111"
CARD = {
    "external_id": "p-olha", "full_name": "Olha Kovalenko", "phones": [{"number": MOTHER}],
    "visits": {"completed": 3, "no_show": 1}, "card_comment": "prefers mornings",
}  # fmt: skip
# Failed requests the pages expect: a call with no comment yet answers 404.
EXPECTED = ("/comment",)


@pytest.fixture
async def site(clean_database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async with live_site(clean_database_url, tmp_path) as s:
        yield s


class Watched:
    """A signed-in page and what went wrong on it: uncaught errors, console errors, CSP reports."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("pageerror", lambda e: self.problems.append(f"uncaught: {e}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        where = (message.location or {}).get("url", "")
        if ("404" in message.text and where.endswith(EXPECTED)) or "WebSocket" in message.text:
            return
        self.problems.append(f"{where}: {message.text}")


async def signed_in(browser: Any, site: Site, login: str, then: str) -> Watched:
    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    page = Watched(await context.new_page())
    await page.page.goto(f"{site.base}/login?next={then}")
    await page.page.fill("#login", login)
    await page.page.fill("#password", PASSWORD)
    await page.page.click("button[type=submit]")
    await page.page.wait_for_url(f"{site.base}{then}")
    return page


async def test_an_admin_gets_the_pop_before_the_ring_answers_and_comments(
    site: Site, browser: Any, artifacts: Path
) -> None:
    app, ctl = site.app, SimControl(site.sim.control_url)
    async with site.http.post(
        f"{site.base}/api/patients/bulk", json={"patients": [CARD]}, headers=BEARER
    ) as r:
        assert (await r.json())["accepted"] == 1
    await site.add_user("anna", "admin", "anna", "downtown")
    await site.add_user("ben", "admin", "ben", "downtown")
    await site.add_user("boss", "manager", None, None)
    calls: list[str] = []
    app.fanout.subscribe(CallStarted, lambda f: calls.append(f.call_id))
    anna = await signed_in(browser, site, "anna", "/console")
    ben = await signed_in(browser, site, "ben", "/console")
    boss = await signed_in(browser, site, "boss", "/wallboard")
    await boss.page.goto(f"{site.base}/wallboard?branch=downtown")
    for page in (anna, ben):
        await page.page.wait_for_selector("[data-testid=connection-state][data-state=live]", timeout=15_000)
    await boss.page.wait_for_selector("#link[data-state=live]", timeout=15_000)
    assert await boss.page.inner_text("#answered") == "0"

    await ctl.set_phone("admin101", "answer", answer_after=1.0)  # Anna's
    await ctl.set_phone("admin102", "no_answer")  # Ben's
    await ctl.set_phone("admin103", "no_answer")
    await site.phones_ready()
    await ctl.place_call(MOTHER, "5551234", hangup_after=4.0)
    pop = anna.page.locator("[data-testid=pop]")
    await pop.wait_for(timeout=20_000)
    call_id = await pop.get_attribute("data-call-id")
    shown_at = int(await pop.get_attribute("data-shown-at") or 0) / 1000
    await until(lambda: bool(calls))
    assert call_id == calls[0]
    await anna.page.get_by_text("Olha Kovalenko").first.wait_for()
    await anna.page.screenshot(path=str(artifacts / "console-pop.png"))
    rang = [i["at"] for p in await ctl.phones() if p["name"] == "admin101" for i in p["invites"]]
    assert rang, "Anna's phone never rang"
    assert shown_at < rang[0], f"the pop came {shown_at - rang[0]:.3f} s after the phone rang"

    # Anna's phone answers: Ben's console says who took the call.
    taken = ben.page.locator("[data-testid=call-status][data-taken-by=anna]")
    await taken.first.wait_for(timeout=20_000)
    await ben.page.screenshot(path=str(artifacts / "console-taken-by-another.png"))

    # Anna writes what the call was about, and saves it.
    await anna.page.select_option("[data-testid=comment-caller-type]", "patient_to_book")
    await anna.page.fill("[data-testid=comment-text]", "Wants a check-up for her son next week")
    await anna.page.click("[data-testid=comment-save]")
    await anna.page.locator("[data-testid=comment-status]").filter(has_text="Saved").wait_for(timeout=10_000)
    await anna.page.screenshot(path=str(artifacts / "console-comment-saved.png"))
    async with site.http.get(f"{site.base}/api/calls/{call_id}/comment", headers=BEARER) as r:
        stored = await r.json()
    assert r.status == 200, stored
    assert stored["text"] == "Wants a check-up for her son next week"
    assert stored["caller_type"] == "patient_to_book" and stored["author"] == "anna"
    assert stored["patient_external_id"] == "p-olha"  # the caller's card, picked for her

    # The manager's wallboard counts the call answered (within the threshold: 100 %).
    await boss.page.locator("#answered").filter(has_text="1").wait_for(timeout=20_000)
    assert await boss.page.inner_text("#service-level") == "100%"
    await boss.page.screenshot(path=str(artifacts / "wallboard.png"))
    await until(lambda: app.screenpop.board.calls == {}, timeout=20)
    assert anna.problems == [] and ben.problems == [] and boss.problems == []


async def test_the_wallboard_says_when_its_socket_is_lost_and_comes_back(site: Site, browser: Any) -> None:
    await site.add_user("boss", "manager", None, None)
    boss = await signed_in(browser, site, "boss", "/wallboard")
    await boss.page.goto(f"{site.base}/wallboard?branch=downtown")
    await boss.page.wait_for_selector("#link[data-state=live]", timeout=15_000)
    assert await boss.page.inner_text("#service-level") == "\u2013"  # nothing answered: no figure
    for screen in list(site.app.wallboard.screens["downtown"]):  # the server closes the socket
        await screen.ws.close()
    await boss.page.locator("#link").filter(has_text="reconnecting").wait_for(timeout=10_000)
    await boss.page.wait_for_selector("#link[data-state=live]", timeout=15_000)
    assert boss.problems == []
