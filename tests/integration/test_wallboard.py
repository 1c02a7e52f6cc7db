"""The wallboard as the app runs (SQLite and PostgreSQL), over HTTP and its websocket with the
simulated PBX: an answered call and a caller who gives up in the day's figures, frames at most
once a second, who may watch which branch (refused before the upgrade), and a restart that
starts from the day's calls in the database."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ari_app.facts.types import CallAnswered, CallEnded, CallStarted
from ari_app.pbxsim.server import PbxSim
from ari_app.simctl import SimControl
from tests.integration.conftest import PASSWORD, USER, until
from tests.integration.live_site import TOKEN, Site, live_site, started_site

pytestmark = pytest.mark.integration

UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


@pytest.fixture
async def site(clean_database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async with live_site(clean_database_url, tmp_path) as s:
        yield s


@dataclass
class Screen:
    """A wallboard socket's frames as they come, each with the moment it arrived."""

    ws: aiohttp.ClientWebSocketResponse
    got: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def start(self) -> Screen:
        self.task = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                self.got.append((time.monotonic(), json.loads(message.data)))

    @property
    def last(self) -> dict[str, Any]:
        return self.got[-1][1] if self.got else {}

    def count(self, name: str) -> int:
        return int(self.last.get("counts", {}).get(name, -1))


async def test_an_answered_call_counts_within_the_threshold(site: Site) -> None:
    app, ctl = site.app, SimControl(site.sim.control_url)
    await site.sign_in("boss", "manager", None, None)
    await until(lambda: app.wallboard.seeded.is_set())
    screen = Screen(await site.screen("boss", "downtown")).start()
    await until(lambda: len(screen.got) == 1)
    first = screen.last
    assert first["type"] == "wallboard" and first["seq"] == 1 and first["branch"]["id"] == "downtown"
    assert first["counts"]["answered"] == 0 and first["service_level"] is None
    assert {a["login"] for a in first["admins"]} == {"anna", "ben", "chen"}
    assert await app.wait_ari(10)
    await ctl.set_phone("admin101", "no_answer")
    await ctl.set_phone("admin102", "answer", answer_after=0.4)
    await ctl.set_phone("admin103", "no_answer")
    # Every phone free, as the wallboard shows it (a phone the PBX did not know yet is watched on
    # a retry): the call is answered, not queued until the caller is sent to a callback.
    await until(lambda: sum(a["state"] == "available" for a in screen.last["admins"]) == 3, timeout=20)
    await ctl.place_call("+12025550111", "5551234", hangup_after=1.5)
    await until(lambda: screen.count("answered") == 1, timeout=20)
    assert screen.count("answered_within") == 1 and screen.last["service_level"] == 1.0
    assert any(a["state"] == "on_call" and a["login"] == "ben" for _, f in screen.got for a in f["admins"])
    await until(lambda: not screen.last["waiting"] and screen.count("calls") == 1, timeout=20)
    # Frames: at most one a second for the branch, however many facts the call made.
    times = [t for t, _ in screen.got[1:]]
    assert all(b - a >= 0.9 for a, b in itertools.pairwise(times)), times
    assert [f["seq"] for _, f in screen.got] == list(range(1, len(screen.got) + 1))
    # The same figures as JSON, for tools (a bearer token reads the desk).
    status, body = await site.get("/api/wallboard/downtown", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and body["counts"]["answered"] == 1 and body["counts"]["answered_within"] == 1
    await screen.ws.close()


async def test_a_caller_who_gives_up_counts_abandoned(site: Site) -> None:
    app, ctl = site.app, SimControl(site.sim.control_url)
    await site.sign_in("anna", "admin", "anna", "downtown")
    screen = Screen(await site.screen("anna", "downtown")).start()
    assert await app.wait_ari(10)
    for phone in ("admin101", "admin102", "admin103"):
        await ctl.set_phone(phone, "busy")
    placed = await ctl.place_call("+12025550177", "5551234")
    await until(lambda: any(w["queued_since"] for w in screen.last.get("waiting", ())), timeout=15)
    since = datetime.fromisoformat(screen.last["waiting"][0]["since"])
    assert timedelta(0) <= datetime.now(UTC) - since < timedelta(seconds=15)
    await ctl.caller_hangup(placed["call_id"])  # tired of waiting
    await until(lambda: screen.count("abandoned") == 1, timeout=15)
    assert (
        screen.last["waiting"] == []
        and screen.count("answered") == 0
        and screen.last["service_level"] is None
    )
    status, body = await site.get("/api/wallboard/downtown", site.cookie("anna"))
    assert status == 200 and body["counts"]["abandoned"] == 1


async def test_who_may_watch_which_branch(site: Site) -> None:
    await site.sign_in("anna", "admin", "anna", "downtown")
    await site.sign_in("boss", "manager", None, None)
    ws, anna = f"{site.base}/wallboard/ws", {**site.cookie("anna"), **UPGRADE}
    for query, headers, status, error in (
        ("?branch=empty", {**anna, "Origin": site.base}, 403, "forbidden"),  # another branch
        ("?branch=nowhere", {**anna, "Origin": site.base}, 404, "branch_not_found"),
        ("", {**anna, "Origin": site.base}, 400, "bad_branch"),
        ("?branch=" + "x" * 100, {**anna, "Origin": site.base}, 400, "field_too_long"),
        ("?branch=downtown", {**anna, "Origin": "https://evil.example"}, 403, "bad_origin"),
        ("?branch=downtown", {**UPGRADE, "Origin": site.base}, 401, "unauthenticated"),
        (
            "?branch=downtown",
            {**UPGRADE, "Origin": site.base, "Authorization": f"Bearer {TOKEN}"},
            403,
            "forbidden",
        ),
    ):
        async with site.http.get(ws + query, headers=headers) as r:
            assert (r.status, (await r.json())["error"]) == (status, error), query
    assert site.app.accounts.sockets.count() == 0
    # The JSON: the branches one may watch; another branch's figures refused.
    assert await site.get("/api/wallboard", site.cookie("anna")) == (
        200,
        {"branches": [{"id": "downtown", "name": "Downtown", "timezone": "UTC"}]},
    )
    status, body = await site.get("/api/wallboard/empty", site.cookie("anna"))
    assert (status, body["error"]) == (403, "forbidden")
    status, body = await site.get("/api/wallboard", site.cookie("boss"))
    assert [b["id"] for b in body["branches"]] == ["downtown", "empty"]
    status, body = await site.get("/api/wallboard/empty", site.cookie("boss"))
    assert status == 200 and body["branch"]["id"] == "empty" and body["admins"] == []
    assert (await site.get("/api/wallboard/downtown", {}))[0] == 401
    # A manager's screen of another branch opens.
    screen = await site.screen("boss", "empty")
    assert (await screen.receive_json(timeout=5))["branch"]["id"] == "empty"
    await screen.send_str("nonsense")
    assert (await screen.receive_json(timeout=5))["error"] == "bad_message"
    await screen.send_str('{"type": "snapshot"}')
    assert (await screen.receive_json(timeout=5))["type"] == "wallboard"
    await screen.close()


async def test_a_restart_starts_from_the_days_calls(clean_database_url: str, tmp_path: Path) -> None:
    sim = PbxSim(username=USER, password=PASSWORD)
    await sim.start()
    now = datetime.now(UTC)
    calls = [("a", 5, "answered"), ("b", 35, "answered"), ("c", None, "abandoned"), ("d", None, "missed")]
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            first = await started_site(sim, clean_database_url, tmp_path / "data", http)
            try:
                fanout = first.app.fanout
                for call_id, answer, outcome in calls:
                    started_at = max(
                        now - timedelta(seconds=60), first.app.wallboard.board.branches["downtown"].day.start
                    )
                    fanout.publish(
                        CallStarted(
                            call_id,
                            f"ch-{call_id}",
                            "+12025550100",
                            "",
                            "5551234",
                            "downtown",
                            None,
                            started_at,
                        )
                    )
                    if answer is not None:
                        fanout.publish(CallAnswered(call_id, "anna", started_at + timedelta(seconds=answer)))
                    await fanout.publish_and_wait(
                        CallEnded(call_id, outcome, started_at + timedelta(seconds=50))
                    )
                before = first.app.wallboard.state("downtown")
            finally:
                await first.app.stop(drain_timeout=2)
            second = await started_site(sim, clean_database_url, tmp_path / "data", http)
            try:
                await until(lambda: second.app.wallboard.seeded.is_set())
                status, after = await second.get(
                    "/api/wallboard/downtown", {"Authorization": f"Bearer {TOKEN}"}
                )
            finally:
                await second.app.stop(drain_timeout=2)
    finally:
        await sim.stop()
    assert status == 200
    expected = {"calls": 4, "answered": 2, "answered_within": 1, "abandoned": 1, "missed": 1}
    assert {k: after["counts"][k] for k in expected} == expected
    assert after["counts"] == before["counts"] and after["service_level"] == 0.5
    assert after["average_answer_seconds"] == 20.0


async def test_the_page(site: Site) -> None:
    await site.sign_in("anna", "admin", "anna", "downtown")
    await site.sign_in("boss", "manager", None, None)
    # An admin's own branch, without asking; its frame in the page's data for the first draw.
    async with site.http.get(f"{site.base}/wallboard", headers=site.cookie("anna")) as r:
        assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
        html = await r.text()
    data = json.loads(html.split('<script type="application/json" id="page-data">')[1].split("</script>")[0])
    assert data["branch"] == "downtown" and data["frame"]["type"] == "wallboard" and data["timezone"] == "UTC"
    assert '<span class="branch" data-no-translate>Downtown</span>' in html
    assert '<script type="module" src="/assets/screenpop/wallboard.js"></script>' in html
    assert "<script>" not in html and "style=" not in html  # nothing inline: the CSP holds
    # A manager picks; an admin may not look at another branch; nobody signed in: to /login.
    async with site.http.get(f"{site.base}/wallboard", headers=site.cookie("boss")) as r:
        picker = await r.text()
    assert r.status == 200 and 'href="/wallboard?branch=empty"' in picker and "wallboard.js" not in picker
    async with site.http.get(f"{site.base}/wallboard?branch=empty", headers=site.cookie("anna")) as r:
        assert (r.status, (await r.json())["error"]) == (403, "forbidden")
    async with site.http.get(f"{site.base}/wallboard?branch=downtown", allow_redirects=False) as r:
        assert (r.status, r.headers["Location"]) == (303, "/login")
    for asset, kind in (("wallboard.js", "text/javascript"), ("wallboard.css", "text/css")):
        async with site.http.get(f"{site.base}/assets/screenpop/{asset}") as r:
            assert r.status == 200 and r.content_type == kind
