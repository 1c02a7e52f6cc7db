"""The screen-pop as the app runs (SQLite and PostgreSQL): a signed-in admin's console gets the
pop for a known patient's call before the simulated PBX is asked to ring their phone, then who
took it and the end; a snapshot with its sequence number on (re)connect; a console that stops
reading is dropped while another keeps receiving; refusals before the upgrade."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ari_app.facts.types import CallerIdentified, CallStarted, LegCreated
from ari_app.screenpop.board import card_read
from ari_app.screenpop.console import SLOW_CLOSE
from ari_app.simctl import SimControl
from tests.integration.conftest import until
from tests.integration.live_site import TOKEN, Site, live_site

pytestmark = pytest.mark.integration

UPGRADE = {  # a browser's websocket handshake
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}
MOTHER = "+12025550111"
CARDS = [
    {"external_id": "p-olha", "full_name": "Olha Kovalenko", "phones": [{"number": MOTHER}],
     "visits": {"completed": 3, "no_show": 1}, "card_comment": "prefers mornings"},
]  # fmt: skip


@pytest.fixture
async def site(clean_database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async with live_site(clean_database_url, tmp_path) as s:
        yield s


@dataclass
class Reader:
    """Reads a console's frames as they come, each with the moment it arrived."""

    ws: aiohttp.ClientWebSocketResponse
    got: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def start(self) -> Reader:
        self.task = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                said = json.loads(message.data)  # one message, or a burst sent together
                for m in said if isinstance(said, list) else [said]:
                    self.got.append((time.time(), m))

    def events(self, call_id: str) -> list[dict[str, Any]]:
        return [m for _, m in self.got if m.get("type") == "call" and m["call"]["call_id"] == call_id]

    def first(
        self, call_id: str, event: str, admin: str | None = None
    ) -> tuple[float, dict[str, Any]] | None:
        for t, m in self.got:
            if m.get("type") == "call" and m["call"]["call_id"] == call_id and m["event"] == event:
                if admin is None or m["admin"] == admin:
                    return t, m
        return None


async def test_the_pop_before_the_phone_rings_then_taken_and_ended(site: Site) -> None:
    app, ctl = site.app, SimControl(site.sim.control_url)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with site.http.post(
        f"{site.base}/api/patients/bulk", json={"patients": CARDS}, headers=bearer
    ) as r:
        assert (await r.json())["accepted"] == 1
    await site.sign_in("anna", "admin", "anna", "downtown")
    await site.sign_in("boss", "manager", None, None)
    legs: dict[str, str] = {}
    calls: list[str] = []
    app.fanout.subscribe(LegCreated, lambda f: legs.__setitem__(f.admin, f.leg_id))
    app.fanout.subscribe(CallStarted, lambda f: calls.append(f.call_id))
    anna, boss = Reader(await site.console("anna")).start(), Reader(await site.console("boss")).start()
    await until(lambda: len(anna.got) == 1 and len(boss.got) == 1)
    assert anna.got[0][1] == {"type": "snapshot", "seq": 0, "calls": []}
    assert await app.wait_ari(10)
    await ctl.set_phone("admin101", "no_answer")
    await ctl.set_phone("admin102", "answer", answer_after=0.4)
    await ctl.set_phone("admin103", "no_answer")
    await ctl.place_call(MOTHER, "5551234", hangup_after=1.5)
    await until(lambda: bool(calls) and anna.first(calls[0], "ended") is not None, timeout=20)
    call_id = calls[0]

    pop = anna.first(call_id, "offered", "anna")
    assert pop is not None
    phones = await ctl.phones()
    rang = [i["at"] for p in phones for i in p["invites"] if i["channel_id"] == legs["anna"]]
    assert rang and pop[0] < rang[0], "the pop must reach the console before the phone rings"
    row = pop[1]["call"]
    assert (
        row["number"] == "(202) 555-0111" and row["ad_channel"] == "website" and row["branch"] == "downtown"
    )
    assert row["caller"]["kind"] == "patient" and row["caller"]["name"] == "Olha Kovalenko"
    card = next(m["call"]["caller"]["card"] for m in anna.events(call_id) if m["call"]["caller"]["card"])
    assert card["name"] == "Olha Kovalenko" and card["completed_share"] == 0.75
    assert card["card_comment"] == "prefers mornings"
    taken = anna.first(call_id, "taken")
    assert taken is not None and taken[1]["call"]["taken_by_name"] == "Ben"
    ended = anna.first(call_id, "ended")
    assert ended is not None and ended[1]["call"]["outcome"] == "answered"
    seqs = [m["seq"] for _, m in anna.got[1:]]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap
    assert [m["event"] for m in boss.events(call_id)] == [m["event"] for m in anna.events(call_id)]


async def test_a_caller_waits_in_the_queue_then_gives_up(site: Site) -> None:
    app, ctl = site.app, SimControl(site.sim.control_url)
    await site.sign_in("anna", "admin", "anna", "downtown")
    calls: list[str] = []
    app.fanout.subscribe(CallStarted, lambda f: calls.append(f.call_id))
    anna = Reader(await site.console("anna")).start()
    assert await app.wait_ari(10)
    for phone in ("admin101", "admin102", "admin103"):
        await ctl.set_phone(phone, "busy")
    placed = await ctl.place_call("+12025550177", "5551234")
    await until(lambda: bool(calls) and anna.first(calls[0], "queued") is not None)
    await ctl.caller_hangup(placed["call_id"])  # tired of waiting
    await until(lambda: anna.first(calls[0], "ended") is not None)
    assert any(m["call"]["queue_position"] == 1 for m in anna.events(calls[0]) if m["event"] == "queued")
    ended = anna.first(calls[0], "ended")
    assert ended is not None and ended[1]["call"]["outcome"] == "abandoned"  # the caller gave up
    assert ended[1]["call"]["caller"]["kind"] == "unknown"  # a new caller


async def test_a_console_that_stops_reading_is_dropped_and_the_others_go_on(site: Site) -> None:
    await site.sign_in("anna", "admin", "anna", "downtown")
    await site.sign_in("ben", "admin", "ben", "downtown")
    fast = Reader(await site.console("anna")).start()
    slow = await site.console("ben")  # never reads
    hub, now = site.app.screenpop, datetime.now(UTC)
    hub.on_fact(CallStarted("c-slow", "ch", MOTHER, "", "5551234", "downtown", None, now))
    hub.on_fact(CallerIdentified("c-slow", "patient", 1, 1, True, now, "Olha", "p-x"))
    hub.send(card_read(hub.board, "c-slow", {"card_comment": "x" * 64_000}, hub.names))
    for n in range(1, 601):  # each delta carries the card: 38 MB in all
        hub.on_fact(LegCreated("c-slow", f"leg-{n}", "anna", "PJSIP/admin101", now))
        if n % 50 == 0:  # the reader keeps up (it shares this process's loop with the app)
            await until(lambda n=n: len(fast.got) == 4 + n, timeout=5)  # type: ignore[misc]
    await until(lambda: len(hub.consoles) == 1, timeout=20)
    await until(lambda: len(fast.got) == 604, timeout=20)  # snapshot, started, caller, card, 600 pops
    assert [m["seq"] for _, m in fast.got[1:]] == list(range(1, 604))
    while (message := await slow.receive(timeout=5)).type is aiohttp.WSMsgType.TEXT:
        pass  # what it had been sent before it was dropped (now read, too late)
    # Its close frame, if it got past the unread frames before the connection was cut.
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    assert message.type is not aiohttp.WSMsgType.CLOSE or slow.close_code == SLOW_CLOSE


async def test_reconnect_snapshot_and_bad_messages(site: Site) -> None:
    await site.sign_in("anna", "admin", "anna", "downtown")
    hub, now = site.app.screenpop, datetime.now(UTC)
    hub.on_fact(CallStarted("c-1", "ch", MOTHER, "", "5551234", "downtown", "website", now))
    hub.on_fact(CallStarted("c-2", "ch", MOTHER, "", "5559999", "riverside", None, now))
    ws = await site.console("anna")
    first = await ws.receive_json(timeout=5)
    assert first["type"] == "snapshot" and [c["call_id"] for c in first["calls"]] == ["c-1"]
    hub.on_fact(LegCreated("c-1", "l-1", "anna", "PJSIP/admin101", now))
    assert (await ws.receive_json(timeout=5))["seq"] == 1
    for bad in ("nonsense", '{"type": "dance"}', '{"type": "heartbeat", "visible": 1}'):
        await ws.send_str(bad)
        reply = await ws.receive_json(timeout=5)
        assert reply["type"] == "error" and reply["error"] == "bad_message" and reply["detail"]
    await ws.send_bytes(b"\x00")
    assert (await ws.receive_json(timeout=5))["error"] == "bad_message"
    await ws.send_str('{"type": "heartbeat", "visible": true}')
    await ws.send_str('{"type": "snapshot"}')
    again = await ws.receive_json(timeout=5)
    assert again["type"] == "snapshot" and again["seq"] == 1 and again["calls"][0]["ringing"] == ["anna"]
    await ws.close()
    ws = await site.console("anna")  # a new socket: its own sequence, from the snapshot
    assert (await ws.receive_json(timeout=5))["seq"] == 0
    # Signing out closes the session's console at once.
    headers = {"Cookie": f"__Host-session={site.cookies['anna']}", "X-CSRF-Token": site.csrf["anna"]}
    async with site.http.post(f"{site.base}/logout", headers=headers) as r:
        assert r.status in (200, 204, 303)
    message = await ws.receive(timeout=5)
    assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1008)  # policy: the session ended


async def test_refused_before_the_upgrade(site: Site) -> None:
    await site.sign_in("anna", "admin", "anna", "downtown")
    url, cookie = f"{site.base}/console/ws", f"__Host-session={site.cookies['anna']}"
    for headers, status, error in (
        ({"Cookie": cookie, "Origin": "https://evil.example"}, 403, "bad_origin"),
        ({"Cookie": cookie}, 403, "bad_origin"),  # no Origin: not a page of ours
        ({"Origin": site.base}, 401, "unauthenticated"),
        ({"Origin": site.base, "Authorization": f"Bearer {TOKEN}"}, 403, "forbidden"),  # people only
        ({"Origin": site.base, "Cookie": "__Host-session=forged"}, 401, "session_ended"),
    ):
        async with site.http.get(url, headers={**headers, **UPGRADE}) as r:
            assert (r.status, (await r.json())["error"]) == (status, error)
    assert site.app.accounts.sockets.count() == 0
