"""The console's sign-in over HTTP, and every refusal the issue lists, on SQLite and PostgreSQL.

Each refusal is checked to carry no call or patient data. The session cookie is Secure, which a
client only sends over HTTPS: these tests speak plain HTTP to the test server, so they send the
cookie by hand (the client's own jar is off)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from ari_app.api.auth import Gate
from ari_app.api.http import HealthState, build_api
from ari_app.api.people import People
from ari_app.api.transport import TransportPolicy, networks
from ari_app.auth.accounts import Accounts
from ari_app.auth.passwords import HashCost
from ari_app.config import load_settings
from ari_app.store import CallStore, Database
from ari_app.store.directory import DirectoryStore
from tests.api_client import AUTH, EXAMPLE, TOKEN, ApiTestServer, front_desk

T0 = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
PASSWORD = "violet tram kettle 42"
PATIENT_NAME = "Olga Secretname"
CALL_DOWNTOWN, CALL_RIVERSIDE = "call-downtown-0001", "call-riverside-0001"


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    client: TestClient[web.Request, web.Application]
    accounts: Accounts
    clock: Clock
    store: CallStore
    cookies: dict[str, tuple[str, str]] = field(default_factory=dict)  # login -> (session id, csrf)

    async def sign_in(self, login: str, password: str = PASSWORD, **headers: str) -> aiohttp.ClientResponse:
        r = await self.client.post("/login", json={"login": login, "password": password}, headers=headers)
        if r.status == 200:
            body = await r.json()
            self.cookies[login] = (r.cookies["__Host-session"].value, body["csrf_token"])
        return r

    def as_(self, login: str, csrf: bool = True) -> dict[str, str]:
        session_id, token = self.cookies[login]
        return {"Cookie": f"__Host-session={session_id}", **({"X-CSRF-Token": token} if csrf else {})}

    async def call(self, method: str, path: str, login: str | None, **kw: Any) -> tuple[int, str]:
        headers = {**(self.as_(login) if login else {}), **kw.pop("headers", {})}
        async with self.client.request(method, path, headers=headers, **kw) as r:
            return r.status, await r.text()


async def _user(accounts: Accounts, login: str, role: str, admin: str | None, branch: str | None) -> None:
    await accounts.users.add(login, role, admin, branch, T0)
    code = await accounts.users.new_link(login, T0, timedelta(hours=1), reset=False)
    assert code is not None
    await accounts.users.use_link(code, accounts.passwords.hash(PASSWORD), T0)


async def _seed(store: CallStore, client: TestClient[web.Request, web.Application]) -> None:
    for call_id, branch, did in (
        (CALL_DOWNTOWN, "downtown", "5551000"),
        (CALL_RIVERSIDE, "riverside", "5552000"),
    ):
        await store.call_started(
            call_id=call_id, channel_id=f"ch-{call_id}", caller_number="+15557654321", caller_e164="+15557654321",
            caller_name="", did=did, branch=branch, ad_channel=None, started_at=T0 - timedelta(hours=1),
        )  # fmt: skip
    await store.callback_needed(
        CALL_DOWNTOWN, number="+15557654321", number_e164="+15557654321", branch="downtown",
        reason="missed", due_at=T0, at=T0,
    )  # fmt: skip
    card = {"full_name": PATIENT_NAME, "phones": [{"number": "+15557654321"}]}
    r = await client.put("/api/patients/p-1", json=card, headers=AUTH)
    assert r.status == 200, await r.text()


@pytest.fixture
async def site(clean_database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    db = Database(clean_database_url)
    await db.migrate()
    clock, store, settings = Clock(), CallStore(db), load_settings(EXAMPLE)
    # A cheaper hash, asked for explicitly: the production cost is checked in tests/unit.
    accounts = Accounts.create(db, settings.auth, clock, cost=HashCost(memory_kib=1024, passes=1))
    app = build_api(
        store, lambda: HealthState(True, True, 0, 0), CollectorRegistry(), [TOKEN], tmp_path,
        desk=front_desk(), clock=clock, settings=settings,
        people=People(DirectoryStore(db), settings.regions, clock), accounts=accounts,
        # As behind the clinic's reverse proxy: its X-Forwarded-For names the client.
        transport=TransportPolicy(trusted_proxies=networks(["127.0.0.1", "::1"])),
    )  # fmt: skip
    app.router.add_get("/console-socket", _console_socket(accounts, Gate([TOKEN], clock, accounts.sessions)))
    for login, role, admin, branch in (
        ("anna", "admin", "anna", "downtown"),
        ("dana", "admin", "dana", "riverside"),
        ("boss", "manager", None, None),
    ):
        await _user(accounts, login, role, admin, branch)
    client = TestClient(ApiTestServer(app), cookie_jar=aiohttp.DummyCookieJar())
    await client.start_server()
    try:
        await _seed(store, client)
        yield Site(client, accounts, clock, store)
    finally:
        await client.close()
        await db.dispose()


def _console_socket(accounts: Accounts, gate: Gate) -> Callable[[web.Request], Any]:
    """A websocket route behind the session, as the console's hub will be."""

    async def handler(request: web.Request) -> web.WebSocketResponse:
        _, session = await gate.identify(request)
        assert session is not None
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        accounts.sockets.register(session.id_hash, ws)
        try:
            async for _ in ws:
                await accounts.sockets.activity(session.id_hash)
        finally:
            accounts.sockets.unregister(session.id_hash, ws)
        return ws

    return handler


def _no_data(body: str) -> None:
    for secret in (CALL_DOWNTOWN, CALL_RIVERSIDE, PATIENT_NAME, "+15557654321", "7654321"):
        assert secret not in body


async def test_the_login_page_and_the_session_cookie(site: Site) -> None:
    r = await site.client.get("/login")
    page = await r.text()
    assert r.status == 200 and "<form" in page and "style=" not in page
    assert "<style" not in page and r.headers["Cache-Control"] == "no-store"
    # Its one script element is the page data: a data block, which no browser runs.
    assert page.count("<script") == 1 and '<script type="application/json" id="page-data">' in page
    r = await site.sign_in("anna")
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Path=/" in cookie
    assert (
        all(flag in cookie for flag in ("Secure", "HttpOnly", "SameSite=Strict")) and "Domain" not in cookie
    )
    first = site.cookies["anna"][0]
    assert (await site.sign_in("anna", **site.as_("anna"))).status == 200
    assert site.cookies["anna"][0] != first  # a new id at every sign-in; the old one is over
    status, body = await site.call("GET", "/api/calls", None, headers={"Cookie": f"__Host-session={first}"})
    assert (status, "session_ended") == (401, body[body.index("session_ended") :][:13])
    status, _ = await site.call("GET", "/auth/session", "anna")
    assert status == 200


async def test_refused_without_a_session_with_the_wrong_role_and_for_another_branch(site: Site) -> None:
    for path in ("/api/calls", f"/api/calls/{CALL_DOWNTOWN}", "/api/patients/p-1", "/api/callbacks"):
        status, body = await site.call("GET", path, None)
        assert status == 401 and "unauthenticated" in body
        _no_data(body)
    for login in ("anna", "dana", "boss"):
        await site.sign_in(login)
    for method, path in (("GET", "/api/reports/missed"), ("GET", "/api/audit"), ("PUT", "/api/patients/p-1")):
        status, body = await site.call(method, path, "anna", json={"name": "x"} if method == "PUT" else None)
        assert status == 403 and "forbidden" in body
        _no_data(body)
    for path in (
        f"/api/calls/{CALL_DOWNTOWN}",
        f"/api/calls/{CALL_DOWNTOWN}/recording",
        f"/api/calls/{CALL_DOWNTOWN}/comment",
    ):
        status, body = await site.call("GET", path, "dana")
        assert status == 404 and "call_not_found" in body
        _no_data(body)
    status, body = await site.call("GET", "/api/calls", "dana")
    assert status == 200 and CALL_RIVERSIDE in body and CALL_DOWNTOWN not in body
    status, body = await site.call("GET", "/api/callbacks?branch=downtown", "dana")
    assert status == 403
    _no_data(body)
    status, body = await site.call("GET", "/api/callbacks", "dana")
    assert status == 200 and "downtown" not in body
    status, body = await site.call("GET", "/api/calls", "boss")  # a manager sees every call
    assert CALL_RIVERSIDE in body and CALL_DOWNTOWN in body
    status, body = await site.call("GET", "/api/patients/p-1", "dana")  # one patient base for the chain
    assert status == 200 and PATIENT_NAME in body


async def test_changes_need_the_csrf_token_and_an_admin_acts_only_as_themselves(site: Site) -> None:
    await site.sign_in("anna")
    paused = {"state": "paused", "reason": "lunch"}
    status, body = await site.call(
        "PUT", "/api/admins/anna/presence", "anna", json=paused, headers={"X-CSRF-Token": ""}
    )
    assert status == 403 and "csrf_refused" in body
    forged = {**site.as_("anna", csrf=False), "X-CSRF-Token": "forged-token"}
    async with site.client.put("/api/admins/anna/presence", json=paused, headers=forged) as r:
        assert r.status == 403 and "csrf_refused" in await r.text()
    async with site.client.put(
        "/api/admins/anna/presence", json=paused, headers=site.as_("anna", csrf=False)
    ) as r:
        assert r.status == 403  # no token at all
    status, _ = await site.call("PUT", "/api/admins/anna/presence", "anna", json=paused)
    assert status == 200
    status, body = await site.call("PUT", "/api/admins/ben/presence", "anna", json=paused)
    assert status == 403 and "yourself" in body
    comment = {"caller_type": "patient_to_book", "topic": "unknown", "text": "x", "author": "ben"}
    status, body = await site.call("PUT", f"/api/calls/{CALL_DOWNTOWN}/comment", "anna", json=comment)
    assert status == 403 and "author" in body
    # A system's bearer request is not a browser's: no CSRF token asked.
    status, _ = await site.call(
        "PUT", "/api/admins/anna/presence", None, json={"state": "available"}, headers=AUTH
    )
    assert status == 200


async def test_sessions_end_when_idle_at_their_absolute_end_and_at_logout(site: Site) -> None:
    await site.sign_in("anna")
    site.clock.now = T0 + timedelta(minutes=9)
    assert (await site.call("GET", "/api/calls", "anna"))[0] == 200
    site.clock.now = T0 + timedelta(minutes=19, seconds=1)  # ten minutes since the last request
    status, body = await site.call("GET", "/api/calls", "anna")
    assert status == 401 and "session_ended" in body
    _no_data(body)
    site.clock.now = T0
    await site.sign_in("anna")
    while site.clock.now < T0 + timedelta(hours=12) - timedelta(minutes=9):
        site.clock.now += timedelta(minutes=9)  # used all day: alive until its absolute end
        assert (await site.call("GET", "/api/queue", "anna"))[0] == 200
    site.clock.now = T0 + timedelta(hours=12)
    assert (await site.call("GET", "/api/queue", "anna"))[0] == 401
    site.clock.now = T0
    await site.sign_in("anna")
    assert (await site.call("POST", "/logout", "anna"))[0] == 200
    status, body = await site.call("GET", "/api/calls", "anna")
    assert status == 401 and "session_ended" in body


async def test_revoked_sessions_and_a_disabled_users_websocket_closed_within_5_seconds(site: Site) -> None:
    await site.sign_in("anna")
    await site.sign_in("dana")
    watch = asyncio.create_task(site.accounts.sockets.watch(interval=0.5))
    try:
        ws = await site.client.ws_connect("/console-socket", headers=site.as_("anna", csrf=False))
        other = await site.client.ws_connect("/console-socket", headers=site.as_("dana", csrf=False))
        await ws.send_str("heartbeat")
        await asyncio.sleep(0.1)
        assert site.accounts.sockets.count() == 2
        started = asyncio.get_running_loop().time()
        await site.accounts.users.disable("anna", T0)  # as `ari-app users disable anna` does, elsewhere
        message = await asyncio.wait_for(ws.receive(), timeout=5)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert asyncio.get_running_loop().time() - started < 5 and not other.closed
        status, body = await site.call("GET", "/api/calls", "anna")
        assert status == 401 and "session_ended" in body
        assert (await site.sign_in("anna")).status == 401  # disabled: no new session either
        await site.accounts.users.new_link("dana", T0, timedelta(hours=1), reset=True)  # a reset revokes
        message = await asyncio.wait_for(other.receive(), timeout=5)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert (await site.call("GET", "/api/calls", "dana"))[0] == 401
    finally:
        watch.cancel()


async def test_logout_closes_the_sessions_websocket_at_once(site: Site) -> None:
    await site.sign_in("anna")
    ws = await site.client.ws_connect("/console-socket", headers=site.as_("anna", csrf=False))
    await ws.send_str("heartbeat")
    await asyncio.sleep(0.1)
    assert (await site.call("POST", "/logout", "anna", headers={"X-CSRF-Token": "forged"}))[0] == 403
    assert (await site.call("POST", "/logout", "anna"))[0] == 200
    message = await asyncio.wait_for(ws.receive(), timeout=2)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_wrong_passwords_are_throttled_and_audited_and_the_audit_is_for_managers(site: Site) -> None:
    for _ in range(3):
        r = await site.sign_in("anna", "wrong password here")
        assert r.status == 401 and "login_failed" in await r.text()
    r = await site.sign_in("anna", PASSWORD)  # too soon: not even checked
    assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
    r = await site.sign_in("nobody", PASSWORD)  # an unknown login fails as a wrong password does
    assert r.status == 401 and "login_failed" in await r.text()
    r = await site.sign_in("boss")
    assert r.status == 200, await r.text()
    await site.sign_in("dana")
    await site.call("GET", "/api/patients/p-1", "dana")
    await site.call("GET", "/api/calls/export.csv", "boss")
    status, body = await site.call("GET", "/api/audit?limit=500", "boss")
    assert status == 200
    kinds = [(e["kind"], e["actor"], e["subject"]) for e in json.loads(body)["events"]]
    assert ("login_failed", None, "anna") in kinds and ("login", "user:boss", None) in kinds
    assert ("patient_opened", "user:dana", "p-1") in kinds and ("export", "user:boss", None) in kinds
    assert PASSWORD not in body and "wrong password" not in body
    assert (await site.call("GET", "/api/audit", None, headers=AUTH))[0] == 403  # people only


async def test_a_thousand_wrong_passwords_from_one_address_leave_the_real_user_in(site: Site) -> None:
    attacker, real = {"X-Forwarded-For": "203.0.113.5"}, {"X-Forwarded-For": "198.51.100.7"}
    answers: dict[int, int] = {}
    for _ in range(1000):
        r = await site.sign_in("anna", "not her password at all", **attacker)
        answers[r.status] = answers.get(r.status, 0) + 1
    # A few tries are checked; the rest are refused unchecked until the growing delay passes.
    assert answers.get(429, 0) >= 990 and answers.get(401, 0) <= 10 and set(answers) <= {401, 429}
    refused = await site.sign_in("anna", PASSWORD, **attacker)  # even the right one, from there
    assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
    r = await site.sign_in("anna", PASSWORD, **real)  # anna herself, from the front desk: at once
    assert r.status == 200, await r.text()
    await site.sign_in("boss", PASSWORD, **real)
    status, body = await site.call("GET", "/api/audit?limit=500", "boss")
    assert status == 200
    failures = [e for e in json.loads(body)["events"] if e["kind"] == "login_failed"]
    assert failures and {e["address"] for e in failures} == {"203.0.113.5"}


async def test_service_tokens_reach_only_their_scopes(site: Site) -> None:
    token = await site.accounts.services.add("crm", ("calls:read",), T0)
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await site.call("GET", "/api/calls", None, headers=bearer))[0] == 200
    status, body = await site.call("GET", "/api/patients/p-1", None, headers=bearer)
    assert status == 403 and "directories:read" in body
    _no_data(body)
    await site.accounts.services.disable("crm", T0)
    assert (await site.call("GET", "/api/calls", None, headers=bearer))[0] == 403


async def test_a_password_link_sets_a_password_once(site: Site) -> None:
    await site.accounts.users.add("chen", "admin", "chen", "downtown", T0)
    code = await site.accounts.users.new_link("chen", T0, timedelta(hours=1), reset=False)
    page = await (await site.client.get("/set-password")).text()
    assert '<script type="module" src="/assets/auth/set-password.js"' in page and "<style" not in page
    r = await site.client.post("/set-password", json={"code": code, "password": "password1234"})
    assert r.status == 400 and "too common" in await r.text()
    r = await site.client.post("/set-password", json={"code": code, "password": PASSWORD})
    assert r.status == 200
    r = await site.client.post("/set-password", json={"code": code, "password": PASSWORD + "!"})
    assert r.status == 403 and "bad_code" in await r.text()
    assert (await site.sign_in("chen")).status == 200
