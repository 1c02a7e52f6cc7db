"""The console's APIs over HTTP with a signed-in session, on SQLite and PostgreSQL: the patient
search, a number added to a card from a call, the scheduler's links, the admin's own presence,
a recording streamed with Range, and the comment and history used from the console.

The session cookie is Secure, which a client only sends over HTTPS: these tests speak plain HTTP
to the test server, so they send the cookie by hand (the client's own jar is off)."""

from __future__ import annotations

import io
import json
import tomllib
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from ari_app.api.http import HealthState, build_api
from ari_app.api.people import People
from ari_app.auth.accounts import Accounts
from ari_app.auth.passwords import HashCost
from ari_app.bookings.store import BookingStore
from ari_app.calls.arrival import build_dispatcher
from ari_app.calls.desk import FrontDesk
from ari_app.config import Settings, parse_settings
from ari_app.store import CallStore, Database
from ari_app.store.directory import DirectoryStore
from ari_app.store.recordings import RecordingArchive
from tests.api_client import AUTH, EXAMPLE, TOKEN, ApiTestServer

T0 = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
PASSWORD = "violet tram kettle 42"
CALL_DOWNTOWN, CALL_RIVERSIDE = "call-downtown-0001", "call-riverside-0001"
WIFE = "+15557654321"  # she calls about her husband's visit
BOOK = "https://scheduler.example/book?patient={patient_id}&call={call_id}"
CANCEL = "https://scheduler.example/bookings/{booking_id}/cancel?call={call_id}"
MOVE = "http://localhost:8080/move/{booking_id}?patient={patient_id}"


@dataclass
class Site:
    client: TestClient[web.Request, web.Application]
    accounts: Accounts
    store: CallStore
    archive: Path
    relinked: list[list[str]]
    cookies: dict[str, tuple[str, str]] = field(default_factory=dict)

    async def sign_in(self, login: str) -> None:
        r = await self.client.post("/login", json={"login": login, "password": PASSWORD})
        assert r.status == 200, await r.text()
        self.cookies[login] = (r.cookies["__Host-session"].value, (await r.json())["csrf_token"])

    def as_(self, login: str, csrf: bool = True) -> dict[str, str]:
        session_id, token = self.cookies[login]
        return {"Cookie": f"__Host-session={session_id}", **({"X-CSRF-Token": token} if csrf else {})}

    async def call(self, method: str, path: str, login: str | None, **kw: Any) -> tuple[int, Any]:
        headers = {**(self.as_(login) if login else {}), **kw.pop("headers", {})}
        async with self.client.request(method, path, headers=headers, **kw) as r:
            text = await r.text()
            return r.status, json.loads(text) if r.content_type == "application/json" else text

    async def audit(self, kind: str) -> list[dict[str, Any]]:
        page = await self.accounts.audit.page(200)
        return [
            {"actor": e.actor, "subject": e.subject, "detail": e.detail}
            for e in page.events
            if e.kind == kind
        ]


def _settings() -> Settings:
    data = tomllib.loads(EXAMPLE.read_text())
    data["scheduler"] = {"book_url": BOOK, "cancel_url": CANCEL, "move_url": MOVE}
    data["calls"] = {**data["calls"], "pause_reasons": ["lunch", "training"]}
    return parse_settings(data, "test")


async def _seed(site: Site) -> None:
    for call_id, branch in ((CALL_DOWNTOWN, "downtown"), (CALL_RIVERSIDE, "riverside")):
        await site.store.call_started(
            call_id=call_id, channel_id=f"ch-{call_id}", caller_number="555 765 4321", caller_e164=WIFE,
            caller_name="", did="5551000", branch=branch, ad_channel=None, started_at=T0 - timedelta(hours=1),
        )  # fmt: skip
    cards = {
        "p-1": {"full_name": "Olga Kovalenko", "birth_date": "1990-12-15", "phones": [{"number": WIFE}]},
        "p-2": {"full_name": "Taras Kovalenko", "birth_date": "1988-03-01",
                "phones": [{"number": "+15550001111"}]},
        "p-3": {"full_name": "Петро Іваненко-Шевчук", "guardian_name": "Ганна", "phones": []},
        "p&4": {"full_name": "Ivan O'Brien", "phones": []},
    }  # fmt: skip
    for ext, card in cards.items():
        r = await site.client.put(f"/api/patients/{ext}", json=card, headers=AUTH)
        assert r.status == 200, await r.text()


async def _user(accounts: Accounts, login: str, role: str, admin: str | None, branch: str | None) -> None:
    await accounts.users.add(login, role, admin, branch, T0)
    code = await accounts.users.new_link(login, T0, timedelta(hours=1), reset=False)
    assert code is not None
    await accounts.users.use_link(code, accounts.passwords.hash(PASSWORD), T0)


@pytest.fixture
async def site(clean_database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    db = Database(clean_database_url)
    await db.migrate()
    settings, store = _settings(), CallStore(db)
    accounts = Accounts.create(db, settings.auth, lambda: T0, cost=HashCost(memory_kib=1024, passes=1))
    bookings, relinked = BookingStore(db, clock=lambda: T0), []

    async def relink(ids: list[str]) -> int:
        relinked.append(list(ids))
        return await bookings.relink_patients(ids)

    desk = FrontDesk(settings, build_dispatcher(settings), lambda: T0, lambda _c, _m: True)
    people = People(DirectoryStore(db), settings.regions, lambda: T0, on_patients_saved=relink)
    app = build_api(
        store, lambda: HealthState(True, True, 0, 0), CollectorRegistry(), [TOKEN], tmp_path / "rec",
        desk=desk, clock=lambda: T0, settings=settings, people=people, bookings=bookings,
        accounts=accounts,
    )  # fmt: skip
    for login, role, admin, branch in (
        ("anna", "admin", "anna", "downtown"),
        ("dana", "admin", "dana", "riverside"),
        ("boss", "manager", None, None),
    ):
        await _user(accounts, login, role, admin, branch)
    client = TestClient(ApiTestServer(app), cookie_jar=aiohttp.DummyCookieJar())
    await client.start_server()
    try:
        s = Site(client, accounts, store, tmp_path / "rec", relinked)
        await _seed(s)
        for login in ("anna", "dana", "boss"):
            await s.sign_in(login)
        relinked.clear()
        yield s
    finally:
        await client.close()
        await db.dispose()


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("kovalenko", ["p-1", "p-2"]),  # alphabetical: Olga, Taras
        ("KOV ol", ["p-1"]),  # every word a prefix, any case, any order
        ("tar", ["p-2"]),
        ("пет", ["p-3"]),  # Cyrillic, case-folded
        ("ПЕТРО шев", ["p-3"]),  # a compound name's part
        ("брайен", []),
        ("o'brien", ["p&4"]),
        ("brien", ["p&4"]),
        ("(555) 765-4321", ["p-1"]),  # a national number in the branch's region
        ("+1 555 000 1111", ["p-2"]),
        ("p&4", ["p&4"]),  # the scheduler's id
        ("nobody", []),
    ],
)
async def test_the_search_finds_a_card_by_name_number_or_id(site: Site, q: str, found: list[str]) -> None:
    status, body = await site.call("GET", "/api/patients", "anna", params={"q": q})
    assert status == 200, body
    assert [p["external_id"] for p in body["patients"]] == found


async def test_search_results_are_summaries_bounded_and_audited(site: Site) -> None:
    status, body = await site.call("GET", "/api/patients", "dana", params={"q": "kov", "limit": "1"})
    assert status == 200 and len(body["patients"]) == 1
    olga = body["patients"][0]
    assert olga["age"] == 35 and olga["birth_date"] == "1990-12-15" and olga["matched"] == "name"
    assert olga["phones"] == [{"number": WIFE, "e164": WIFE, "role": "self", "owner": None}]
    assert "balance" not in olga and "card_comment" not in olga  # a summary, not the card
    assert await site.audit("patients_searched") == [
        {"actor": "user:dana", "subject": None, "detail": {"results": 1}}
    ]
    status, _ = await site.call("GET", "/api/patients", None, params={"q": "kov"})
    assert status == 401


@pytest.mark.parametrize(
    ("params", "error", "says"),
    [
        ({}, "bad_search", "q:"),
        ({"q": "   "}, "bad_search", "q:"),
        ({"q": "x" * 101}, "bad_search", "100"),
        ({"q": "a b c d e f"}, "bad_search", "5 words"),
        ({"q": "kov", "limit": "0"}, "bad_limit", "limit"),
        ({"q": "kov", "limit": "51"}, "bad_limit", "limit"),
        ({"q": "kov", "sort": "name"}, "unknown_parameter", "sort"),
    ],
)
async def test_a_search_that_cannot_be_made_is_400_naming_why(
    site: Site, params: dict[str, str], error: str, says: str
) -> None:
    status, body = await site.call("GET", "/api/patients", "anna", params=params)
    assert status == 400 and body["error"] == error and says in body["detail"], body


async def test_an_admin_adds_the_callers_number_to_the_card_the_call_is_about(site: Site) -> None:
    path = "/api/patients/p-2/numbers"
    add = {"call_id": CALL_DOWNTOWN, "role": "spouse", "owner": "Olga"}
    status, body = await site.call("POST", path, "anna", json=add)
    assert status == 201 and body["added"] and body["phone"]["e164"] == WIFE, body
    assert site.relinked == [["p-2"]]
    status, body = await site.call("POST", path, "anna", json=add)  # the same again: nothing changes
    assert status == 200 and not body["added"] and site.relinked == [["p-2"]]
    status, who = await site.call("GET", f"/api/callers/{WIFE}", "anna")
    assert sorted(c["external_id"] for c in who["cards"]) == ["p-1", "p-2"]
    trail = await site.audit("patient_number_added")
    assert [t["detail"] for t in trail] == [
        {"call_id": CALL_DOWNTOWN, "added": False, "role": "spouse"},
        {"call_id": CALL_DOWNTOWN, "added": True, "role": "spouse"},
    ]
    assert all(t["actor"] == "user:anna" and t["subject"] == "p-2" for t in trail)
    assert "7654321" not in json.dumps(trail)
    # The scheduler sends the card again without it: an admin's number stays.
    card = {"full_name": "Taras Kovalenko", "phones": [{"number": "+15550001111"}]}
    assert (await site.client.put("/api/patients/p-2", json=card, headers=AUTH)).status == 200
    _, taras = await site.call("GET", "/api/patients/p-2", "anna")
    assert sorted((p["e164"], p["role"]) for p in taras["phones"]) == [
        ("+15550001111", "self"),
        (WIFE, "spouse"),
    ]


@pytest.mark.parametrize(
    ("login", "path", "body", "status", "error"),
    [
        ("dana", "/api/patients/p-2/numbers", {"call_id": CALL_DOWNTOWN}, 404, "call_not_found"),
        ("boss", "/api/patients/p-2/numbers", {"call_id": CALL_DOWNTOWN}, 403, "forbidden"),
        ("anna", "/api/patients/nobody/numbers", {"call_id": CALL_DOWNTOWN}, 404, "patient_not_found"),
        ("anna", "/api/patients/p-2/numbers", {"call_id": CALL_DOWNTOWN, "number": "12"}, 400,
         "invalid_fields"),
        ("anna", "/api/patients/p-2/numbers", {"number": WIFE}, 400, "invalid_fields"),
        ("anna", "/api/patients/p-2/numbers", {"call_id": CALL_DOWNTOWN, "role": "boss"}, 400,
         "invalid_fields"),
        ("anna", "/api/patients/p-2", {"full_name": "X", "phones": []}, 403, "forbidden"),
        ("anna", "/api/patients/bulk", {"patients": []}, 403, "forbidden"),
    ],
)  # fmt: skip
async def test_the_narrow_write_refuses_what_it_must(
    site: Site, login: str, path: str, body: dict[str, Any], status: int, error: str
) -> None:
    method = "PUT" if path == "/api/patients/p-2" else "POST"
    got, answer = await site.call(method, path, login, json=body)
    assert (got, answer["error"]) == (status, error), answer
    assert site.relinked == []


async def test_a_number_needs_the_csrf_token(site: Site) -> None:
    async with site.client.post(
        "/api/patients/p-2/numbers", json={"call_id": CALL_DOWNTOWN}, headers=site.as_("anna", csrf=False)
    ) as r:
        assert r.status == 403 and (await r.json())["error"] == "csrf_refused"


async def test_the_scheduler_links_for_a_call_and_patient(site: Site) -> None:
    event = {
        "event_id": "e1", "kind": "created", "booking_id": "b 1/x", "patient_external_id": "p&4",
        "happened_at": (T0 - timedelta(days=3)).isoformat(),
        "appointment_at": (T0 + timedelta(days=2)).isoformat(),
        "doctor": "Dr Who",
    }  # fmt: skip
    r = await site.client.post("/api/bookings/events", json={"events": [event]}, headers=AUTH)
    assert r.status == 201, await r.text()
    status, body = await site.call("GET", f"/api/calls/{CALL_DOWNTOWN}/scheduler?patient=p%264", "anna")
    assert status == 200, body
    assert body["book"] == f"https://scheduler.example/book?patient=p%264&call={CALL_DOWNTOWN}"
    [visit] = body["appointments"]
    assert visit["cancel"] == f"https://scheduler.example/bookings/b%201%2Fx/cancel?call={CALL_DOWNTOWN}"
    assert visit["move"] == "http://localhost:8080/move/b%201%2Fx?patient=p%264"
    assert visit["doctor"] == "Dr Who"
    assert (await site.audit("patient_opened"))[0]["subject"] == "p&4"
    for login, path, code, error in (
        ("dana", f"/api/calls/{CALL_DOWNTOWN}/scheduler?patient=p-1", 404, "call_not_found"),
        ("anna", f"/api/calls/{CALL_DOWNTOWN}/scheduler?patient=nobody", 404, "patient_not_found"),
        ("anna", f"/api/calls/{CALL_DOWNTOWN}/scheduler", 400, "invalid_fields"),
    ):
        got, answer = await site.call("GET", path, login)
        assert (got, answer["error"]) == (code, error)
    # The comment's patient is the default.
    comment = {"caller_type": "patient_booked", "patient_external_id": "p-1", "author": "anna"}
    assert (await site.call("PUT", f"/api/calls/{CALL_DOWNTOWN}/comment", "anna", json=comment))[0] == 200
    status, body = await site.call("GET", f"/api/calls/{CALL_DOWNTOWN}/scheduler", "anna")
    assert status == 200 and body["patient_id"] == "p-1" and body["appointments"] == []


async def test_the_admin_sees_and_sets_their_own_presence(site: Site) -> None:
    status, me = await site.call("GET", "/api/admins/me", "anna")
    assert status == 200, me
    assert (me["login"], me["branch"], me["role"]) == ("anna", "downtown", "admin")
    assert me["pause_reasons"] == ["lunch", "training"] and me["presence"]["login"] == "anna"
    assert me["name"]
    status, body = await site.call(
        "PUT", "/api/admins/anna/presence", "anna", json={"state": "paused", "reason": "nap"}
    )
    assert status == 400 and body["error"] == "bad_reason" and "lunch" in body["detail"]
    status, body = await site.call(
        "PUT", "/api/admins/anna/presence", "anna", json={"state": "paused", "reason": "lunch"}
    )
    assert status == 200 and body["state"] == "paused" and body["pause_reason"] == "lunch"
    _, me = await site.call("GET", "/api/admins/me", "anna")
    assert me["presence"]["state"] == "paused"
    status, body = await site.call("PUT", "/api/admins/anna/presence", "anna", json={"state": "available"})
    assert status == 200 and body["state"] != "paused"
    status, body = await site.call("GET", "/api/admins/me", "boss")
    assert status == 404 and body["error"] == "admin_not_found"


def _wav(frames: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)  # type: ignore[func-returns-value]
        w.writeframes(bytes(range(256)) * (frames * 2 // 256))
    return out.getvalue()


async def test_a_recording_streams_with_range_and_is_audited_once_per_play(site: Site) -> None:
    data = _wav()
    saved = RecordingArchive(site.archive).save(CALL_DOWNTOWN, "rec-1", "wav", data, T0)
    await site.store.recording_saved(
        CALL_DOWNTOWN, name="rec-1", fmt="wav", path=saved.path_rel, duration_seconds=1.0,
        size_bytes=saved.size, sha256=saved.sha256,
    )  # fmt: skip
    path = f"/api/calls/{CALL_DOWNTOWN}/recording"
    async with site.client.get(path, headers=site.as_("anna", csrf=False)) as r:
        assert r.status == 200 and await r.read() == data
        assert r.headers["Content-Type"] == "audio/wav" and r.headers["Accept-Ranges"] == "bytes"
        assert "no-store" in r.headers["Cache-Control"]
    for ranged in ("bytes=1000-1999", "bytes=2000-"):  # the player seeking: not a new play
        async with site.client.get(path, headers={**site.as_("anna", csrf=False), "Range": ranged}) as r:
            start = int(ranged.split("=")[1].split("-")[0])
            assert r.status == 206 and r.headers["Content-Range"].startswith(f"bytes {start}-")
            assert (await r.read()) == data[start : start + int(r.headers["Content-Length"])]
    async with site.client.get(path, headers={**site.as_("boss", csrf=False), "Range": "bytes=0-"}) as r:
        assert r.status == 206  # another play, from the start
    async with site.client.get(path, headers={**site.as_("anna", csrf=False), "Range": "bytes=999999-"}) as r:
        assert r.status == 416
    assert [e["actor"] for e in await site.audit("recording_opened")] == ["user:boss", "user:anna"]
    status, body = await site.call("GET", path, "dana", headers={"Range": "bytes=0-"})
    assert status == 404 and body["error"] == "call_not_found"


async def test_comments_after_the_call_and_the_history_from_the_console(site: Site) -> None:
    comment = {
        "caller_type": "patient_to_book",
        "topic": "booking",
        "text": "asked for Friday",
        "author": "anna",
    }
    status, body = await site.call("PUT", f"/api/calls/{CALL_DOWNTOWN}/comment", "anna", json=comment)
    assert status == 200 and body["version"] == 1, body
    status, body = await site.call(
        "PUT",
        f"/api/calls/{CALL_DOWNTOWN}/comment",
        "anna",
        json={**comment, "text": "Friday 10:00", "expected_version": 1},
    )
    assert status == 200 and body["version"] == 2
    status, body = await site.call("GET", f"/api/calls/{CALL_DOWNTOWN}/comment", "anna")
    assert [v["text"] for v in body["history"]] == ["asked for Friday", "Friday 10:00"]
    status, body = await site.call("GET", "/api/calls", "anna", params={"topic": "booking"})
    assert status == 200 and [c["id"] for c in body["calls"]] == [CALL_DOWNTOWN]
    status, text = await site.call("GET", "/api/calls/export.csv", "anna", params={"topic": "booking"})
    assert status == 200 and CALL_DOWNTOWN in text and CALL_RIVERSIDE not in text
    status, text = await site.call("GET", "/api/calls/export.csv", "dana")
    assert status == 200 and CALL_RIVERSIDE in text and CALL_DOWNTOWN not in text
    assert [e["actor"] for e in await site.audit("export")] == ["user:dana", "user:anna"]
    status, body = await site.call(
        "PUT", f"/api/calls/{CALL_DOWNTOWN}/comment", "dana", json={**comment, "author": "dana"}
    )
    assert status == 404 and body["error"] == "call_not_found"


async def test_a_comment_that_adds_the_number_relinks_the_patient_and_is_audited(site: Site) -> None:
    comment = {
        "caller_type": "patient_booked", "patient_external_id": "p-2", "add_number_to_patient": "spouse",
        "author": "anna",
    }  # fmt: skip
    status, body = await site.call("PUT", f"/api/calls/{CALL_DOWNTOWN}/comment", "anna", json=comment)
    assert status == 200 and body["number_added"], body
    assert site.relinked == [["p-2"]]
    [added] = await site.audit("patient_number_added")
    assert added == {
        "actor": "user:anna", "subject": "p-2",
        "detail": {"call_id": CALL_DOWNTOWN, "added": True, "role": "spouse"},
    }  # fmt: skip
    status, body = await site.call("PUT", f"/api/calls/{CALL_DOWNTOWN}/comment", "anna", json=comment)
    assert status == 200 and not body["number_added"] and site.relinked == [["p-2"]]
