"""Every page of the app rendered in the pseudo locale, over HTTP through the app as it is built
(``build_api``): no text a person reads is left untranslated (``tests/i18n_check.py``), and every
message the pages' scripts get is translated too. On SQLite and PostgreSQL (the sign-in needs
the accounts' tables).

Pages are found by walking the app's routes (sub-apps too): every GET route without a path
parameter that answers HTML, asked by someone signed out, by an admin and by a manager signed in.
A page added later is checked without a line here, once the app below is built with the part
that serves it (as ``screenpop`` is)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from ari_app.api.http import HealthState, build_api
from ari_app.auth.accounts import Accounts
from ari_app.auth.passwords import HashCost
from ari_app.config import I18nSettings, load_settings
from ari_app.i18n.locales import PSEUDO
from ari_app.screenpop.board import Names
from ari_app.screenpop.hub import ScreenPop
from ari_app.screenpop.wallhub import WallboardHub
from ari_app.store import CallStore, Database
from tests.api_client import EXAMPLE, TOKEN, ApiTestServer, front_desk
from tests.i18n_check import compile_pseudo, marked, untranslated

T0 = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
PASSWORD = "violet tram kettle 42"
Client = TestClient[web.Request, web.Application]
KNOWN_PAGES = {"/login", "/account", "/set-password", "/wallboard"}
USERS = (("anna", "admin", "anna", "downtown"), ("boss", "manager", None, None))
SIGNING_IN = {"/login", "/set-password"}  # for people not signed in: the default locale and zone


def _get_paths(app: web.Application) -> Iterator[str]:
    """Every GET path without a parameter, sub-apps' too (their routes carry their prefix)."""
    for resource in app.router.resources():
        sub = getattr(resource, "_app", None)
        if isinstance(sub, web.Application):
            yield from _get_paths(sub)
            continue
        path = resource.canonical
        if "{" not in path and any(r.method == "GET" for r in resource):
            yield path


@pytest.fixture
async def client(clean_database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Client, list[str]]]:
    compile_pseudo()
    db = Database(clean_database_url)
    await db.migrate()
    example = load_settings(EXAMPLE)
    settings = example.model_copy(update={"i18n": I18nSettings(locale=PSEUDO)})
    accounts = Accounts.create(db, settings.auth, lambda: T0, cost=HashCost(memory_kib=1024, passes=1))
    for login, role, admin, branch in USERS:
        await accounts.users.add(login, role, admin, branch, T0)
        code = await accounts.users.new_link(login, T0, timedelta(hours=1), reset=False)
        assert code is not None
        await accounts.users.use_link(code, accounts.passwords.hash(PASSWORD), T0)
    app = build_api(
        CallStore(db), lambda: HealthState(True, True, 0, 0), CollectorRegistry(), [TOKEN], tmp_path,
        desk=front_desk(), clock=lambda: T0, settings=settings, accounts=accounts,
        screenpop=ScreenPop(Names(settings.regions), lambda: T0),
        wallboard=WallboardHub(settings, lambda: T0),
    )  # fmt: skip
    paths = sorted(set(_get_paths(app)))
    async with TestClient(ApiTestServer(app), cookie_jar=aiohttp.DummyCookieJar()) as c:
        yield c, paths
    await db.dispose()


def _page_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    assert found is not None, "a page without its page data"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def _check(path: str, html: str, zone: str = "UTC") -> None:
    """``zone``: the signed-in person's branch's; UTC for no one (the example's branches have two)."""
    assert untranslated(html) == [], path
    data = _page_data(html)
    assert (data["locale"], data["timezone"], data["currency"]) == ("en-XA", zone, "USD")
    for msgid, text in data["messages"].items():
        texts = text.values() if isinstance(text, dict) else [text]
        assert all(marked(t) for t in texts), (path, msgid)


async def _signed_in(client: Client, login: str) -> dict[str, str]:
    r = await client.post("/login", json={"login": login, "password": PASSWORD})
    assert r.status == 200, await r.text()
    return {"Cookie": f"__Host-session={r.cookies['__Host-session'].value}"}


async def test_every_page_in_the_pseudo_locale_is_translated(client: tuple[Client, list[str]]) -> None:
    http, paths = client
    seen = set()
    # A manager has no branch: the default zone (the example's branches have two: UTC).
    people = (
        ({}, "UTC"),
        (await _signed_in(http, "anna"), "America/New_York"),
        (await _signed_in(http, "boss"), "UTC"),
    )
    for headers, zone in people:
        for path in paths:
            async with http.get(path, headers=headers, allow_redirects=False) as r:
                if r.content_type != "text/html":
                    continue
                assert r.status == 200, path
                _check(path, await r.text(), "UTC" if path in SIGNING_IN else zone)
                seen.add(path)
    assert KNOWN_PAGES <= seen, paths


async def test_a_refused_sign_in_form_is_translated(client: tuple[Client, list[str]]) -> None:
    http, _ = client
    r = await http.get("/login")
    token = r.cookies["__Host-login"].value
    cookie = {"Cookie": f"__Host-login={token}"}
    for form, status, problem in (
        ({"login": "anna", "password": "wrong", "csrf": token}, 401, "⟦Ŵŕóñĝ ļóĝíñ óŕ þáššŵóŕđ.⟧"),
        ({"login": "anna", "password": "wrong", "csrf": "forged"}, 403, "⟦Ţĥé šíĝñ-íñ ƒóŕɱ"),
    ):
        async with http.post("/login", data=form, headers=cookie) as r:
            html = await r.text()
            assert (r.status, r.content_type) == (status, "text/html")
            assert problem in html and 'value="anna"' in html
            _check("/login (refused)", html)
