"""The console page as the app serves it (SQLite and PostgreSQL): ``/console`` wants a signed-in
person (anyone else goes to the sign-in page and comes back after it), its HTML keeps the
Content-Security-Policy (no inline script or style: the page data is a JSON data block), and
every script module it loads, followed import by import, and its style come with their types."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from ari_app.api.security_headers import CONTENT_SECURITY_POLICY
from ari_app.app import CallCenterApp
from tests.integration.conftest import PASSWORD, in_process_app

pytestmark = pytest.mark.integration

TOKEN = "console-page-token-0123456789"
TOPICS = """
[[topics]]
id = "implants"
name = "Implants"
digit = "1"
"""
# What the page's tests find it by (data-testid): each must be in the page as served.
TEST_IDS = (
    "pop-slot", "calls-table", "card", "comment-form", "comment-caller-type", "comment-topic",
    "comment-text", "comment-save", "comment-save-book", "patient-search", "presence", "history",
    "connection-state",
)  # fmt: skip
IMPORT = re.compile(r"""(?:^|\n)\s*import\s[^;]*?from\s+"([^"]+)";""")


@dataclass
class Site:
    app: CallCenterApp
    base: str
    http: aiohttp.ClientSession

    async def person(self, login: str, role: str, admin: str | None, branch: str | None) -> str:
        """A signed-in person's session cookie."""
        users, now = self.app.accounts.users, datetime.now(UTC)
        await users.add(login, role, admin, branch, now)
        code = await users.new_link(login, now, timedelta(hours=1), reset=False)
        assert code is not None
        await users.use_link(code, self.app.accounts.passwords.hash(PASSWORD), now)
        async with self.http.post(f"{self.base}/login", json={"login": login, "password": PASSWORD}) as r:
            assert r.status == 200, await r.text()
            return f"__Host-session={r.cookies['__Host-session'].value}"


@pytest.fixture
async def site(clean_database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    data = tmp_path / "data"
    app = in_process_app("http://127.0.0.1:9/ari", clean_database_url, data, tokens=(TOKEN,), extra=TOPICS)
    await app.start()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            yield Site(app, f"http://127.0.0.1:{app.http_port}", http)
    finally:
        await app.stop(drain_timeout=2)


async def test_without_a_session_the_console_sends_to_sign_in_and_back(site: Site) -> None:
    async with site.http.get(f"{site.base}/console", allow_redirects=False) as r:
        assert r.status == 303
        assert r.headers["Location"] == "/login?next=/console"
    async with site.http.get(f"{site.base}/console", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
        assert r.status == 403  # a system's token does not open a person's console
        assert (await r.json())["error"] == "forbidden"
    ended = {"Cookie": "__Host-session=not-a-session"}
    async with site.http.get(f"{site.base}/console", headers=ended, allow_redirects=False) as r:
        assert r.status == 303


async def test_the_page_keeps_its_policy_and_every_asset_loads(site: Site) -> None:
    cookie = await site.person("anna", "admin", "anna", "downtown")
    async with site.http.get(f"{site.base}/console", headers={"Cookie": cookie}) as r:
        assert r.status == 200
        assert r.content_type == "text/html"
        assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert r.headers["Cache-Control"] == "no-store"
        html = await r.text()
    for test_id in TEST_IDS:
        assert f'data-testid="{test_id}"' in html, test_id
    # No inline script or style: every <script> has a src or is the JSON data block.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs, _ in scripts)
    assert "<style" not in html and " style=" not in html and " onclick=" not in html
    data = json.loads(next(body for attrs, body in scripts if 'id="page-data"' in attrs))
    assert data["topics"] == [{"id": "implants", "name": "Implants"}]
    assert data["admins"]["anna"] == "Anna"
    assert {"locale", "timezone", "currency"} <= set(data)

    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    modules = re.findall(r'<script type="module" src="([^"]+)"', html)
    assert styles == ["/assets/screenpop/console.css"] and modules == ["/assets/screenpop/console.js"]
    for href in styles:
        async with site.http.get(site.base + href) as r:
            assert (r.status, r.content_type) == (200, "text/css"), href
    seen, todo = set(), list(modules)
    while todo:  # the module graph, import by import: a missing file would stop the page
        path = todo.pop()
        seen.add(path)
        async with site.http.get(site.base + path) as r:
            assert (r.status, r.content_type) == (200, "text/javascript"), path
            source = await r.text()
        for target in IMPORT.findall(source):
            resolved = target if target.startswith("/") else path.rsplit("/", 1)[0] + "/" + target[2:]
            if resolved not in seen:
                todo.append(resolved)
    assert "/assets/i18n/i18n.js" in seen and "/assets/screenpop/board.js" in seen


async def test_signing_in_from_the_console_comes_back_to_it(site: Site) -> None:
    await site.person("ben", "manager", None, None)
    cases = (
        ("/console", "/console"),
        ("//elsewhere.example/x", "/account"),
        ("https://elsewhere.example/", "/account"),
        ("/console?x=1", "/account"),
        ("", "/account"),
    )
    for asked, lands in cases:
        async with site.http.get(f"{site.base}/login", params={"next": asked}) as r:
            page = await r.text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf is not None
            assert f'name="next" value="{lands}"' in page  # the form carries it on, checked
            login_cookie = r.cookies["__Host-login"].value
        form = {"login": "ben", "password": PASSWORD, "csrf": csrf.group(1), "next": asked}
        headers = {"Cookie": f"__Host-login={login_cookie}"}
        async with site.http.post(
            f"{site.base}/login", data=form, headers=headers, allow_redirects=False
        ) as r:
            assert r.status == 303, await r.text()
            assert r.headers["Location"] == lands, asked
