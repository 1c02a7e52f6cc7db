"""A call's whole life: app process + simulated PBX process, on SQLite and PostgreSQL.

Each scenario asserts what the app sent to ARI (the simulator's request log) and what it
stored (calls, legs, recordings), and that nothing is left behind on the PBX.
"""

from __future__ import annotations

import re
import wave
from typing import Any

import pytest

from tests.integration.conftest import QUICK_QUEUE, World, eventually

pytestmark = pytest.mark.integration


def sent(reqs: list[dict[str, Any]], method: str, suffix: str = "", **query: str) -> list[dict[str, Any]]:
    """Requests with this method whose path ends with ``suffix`` and whose query has ``query``."""
    out = []
    for r in reqs:
        if r["method"] != method or not r["path"].endswith(suffix):
            continue
        if all(r.get("query", {}).get(k) == v for k, v in query.items()):
            out.append(r)
    return out


def legs_by_admin(call: Any) -> dict[str, Any]:
    return {leg.admin: leg for leg in call.legs}


async def test_answered_caller_hangs_up(world_factory: Any) -> None:
    w: World = await world_factory()
    await w.ctl.set_phone("admin101", "answer", answer_after=0.3)
    placed = await w.place(hangup_after=2.0)
    inbound = placed["channel_id"]
    call = await w.finished(inbound)
    await w.quiet()

    assert call.outcome == "answered" and call.admin == "anna" and call.hangup_side == "caller"
    assert call.caller_e164 == "+12025550142" and call.did == "5551234" and call.branch == "downtown"
    assert call.ad_channel == "website"
    assert 1.5 <= (call.talk_seconds or 0) <= 4.0
    assert (call.wait_seconds or 99) < 2.0
    legs = legs_by_admin(call)
    assert legs["anna"].result == "answered" and {legs["ben"].result, legs["chen"].result} == {"lost"}

    reqs = await w.requests()
    # Ring the caller, then one leg per admin with our channel id and the caller's number shown.
    assert sent(reqs, "POST", f"/channels/{inbound}/ring")
    creates = sent(reqs, "POST", "/channels/create", app="clinic", originator=inbound)
    assert len(creates) == 3
    for create in creates:
        assert create["query"]["appArgs"] == f"dialed,{inbound}"
        assert create["body"]["variables"]["CALLERID(num)"] == "+12025550142"
    dials = sent(reqs, "POST", "/dial", caller=inbound)
    assert len(dials) == 3
    assert all(r["status"] == 204 for r in dials)
    winner = legs["anna"].id
    assert sent(reqs, "POST", f"/channels/{inbound}/answer")
    adds = sent(reqs, "POST", "/addChannel")
    assert len(adds) == 1 and adds[0]["query"]["channel"] == f"{inbound},{winner}"
    assert sent(reqs, "POST", "/record", format="wav")
    # Losing legs and, after the caller left, the admin leg and the bridge are ours to end.
    deleted = {r["path"].rsplit("/", 1)[1] for r in sent(reqs, "DELETE") if "/channels/" in r["path"]}
    assert deleted == {legs["ben"].id, legs["chen"].id, winner}
    assert sent(reqs, "DELETE", "") and any("/bridges/" in r["path"] for r in sent(reqs, "DELETE"))

    # The recording came over ARI, is a valid WAV as long as the talk, and left Asterisk.
    (rec,) = call.recordings
    assert rec.status == "saved" and rec.format == "wav"
    assert abs(rec.duration_seconds - (call.talk_seconds or 0)) <= 1.5
    assert sent(reqs, "GET", f"/recordings/stored/{rec.name}/file")
    assert sent(reqs, "DELETE", f"/recordings/stored/{rec.name}")
    path = w.data_dir / "recordings" / rec.path
    assert path.stat().st_mode & 0o077 == 0
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
    status, body = await w.app.api(f"/api/calls/{call.id}/recording")
    assert status == 200 and body == path.read_bytes()


async def test_answered_admin_hangs_up(world_factory: Any) -> None:
    w: World = await world_factory()
    await w.ctl.set_phone("admin102", "answer", answer_after=0.2, hangup_after=1.0)
    placed = await w.place()
    call = await w.finished(placed["channel_id"])
    await w.quiet()
    assert (call.outcome, call.admin, call.hangup_side) == ("answered", "ben", "admin")
    reqs = await w.requests()
    assert sent(reqs, "DELETE", f"/channels/{placed['channel_id']}")
    sim_call = await w.sim_call(placed["call_id"])
    assert sim_call["answered_at"] and sim_call["ended_at"]


async def test_missed_nobody_answers_waits_on_hold_then_callback(world_factory: Any) -> None:
    w: World = await world_factory(ring_timeout=5, extra=QUICK_QUEUE)
    placed = await w.place()
    call = await w.finished(placed["channel_id"], timeout=30)
    await w.quiet()
    assert call.outcome == "missed" and call.failure_reason == "max_wait"
    assert call.admin is None and call.answered_at is None
    assert {leg.result for leg in call.legs} == {"no_answer"}
    # The first wave rang out on Asterisk's dial timeout (19); a wave still ringing at the
    # maximum wait was hung up by the app.
    first_wave = sorted(call.legs, key=lambda leg: leg.created_at)[:3]
    assert all(leg.cause == 19 for leg in first_wave)
    reqs = await w.requests()
    inbound = placed["channel_id"]
    # The wave rang out; nobody else free: on hold with music until the maximum wait.
    (holding,) = sent(reqs, "POST", "/bridges", type="holding")
    bridge = holding["query"]["bridgeId"]
    assert sent(reqs, "POST", f"/bridges/{bridge}/addChannel", channel=inbound)
    assert sent(reqs, "POST", f"/bridges/{bridge}/moh")
    # Then the callback message, and the caller is hung up.
    assert sent(reqs, "POST", f"/channels/{inbound}/play", media="sound:clinic/callback")
    assert sent(reqs, "DELETE", f"/channels/{inbound}")
    assert not sent(reqs, "POST", "/addChannel", channel=f"{inbound},")
    assert call.recordings == []


async def test_missed_every_phone_busy(world_factory: Any) -> None:
    w: World = await world_factory(extra=QUICK_QUEUE)
    for name in ("admin101", "admin102", "admin103"):
        await w.ctl.set_phone(name, "busy")
    placed = await w.place()
    call = await w.finished(placed["channel_id"], timeout=30)
    await w.quiet()
    assert call.outcome == "missed" and call.failure_reason == "max_wait"
    # Each round's legs were refused at once (486); a round still out at the maximum wait was
    # hung up by the app.
    busy = [leg for leg in call.legs if leg.result == "busy"]
    assert {leg.result for leg in call.legs} <= {"busy", "no_answer"} and len(busy) >= 3
    assert {leg.cause for leg in busy} == {17}
    # Busy is known at once: the caller waits on hold (rung again every retry), not in ringback.
    assert len(call.legs) >= 6
    reqs = await w.requests()
    assert sent(reqs, "POST", "/bridges", type="holding")


async def test_abandoned_while_ringing(world_factory: Any) -> None:
    w: World = await world_factory(ring_timeout=10)
    placed = await w.place(abandon_after=1.0)
    call = await w.finished(placed["channel_id"])
    await w.quiet()  # Asterisk leaves dialled legs ringing: only our DELETEs clear them
    # The branch records: the caller was answered for the notice, so leaving is a BYE (16).
    assert call.outcome == "abandoned" and call.hangup_side == "caller" and call.end_cause == 16
    assert {leg.result for leg in call.legs} == {"cancelled"}
    reqs = await w.requests()
    assert len([r for r in sent(reqs, "DELETE") if "/channels/" in r["path"]]) == 3


async def test_ring_all_busy_no_answer_and_answer(world_factory: Any) -> None:
    w: World = await world_factory(ring_timeout=10)
    await w.ctl.set_phone("admin101", "busy")
    await w.ctl.set_phone("admin102", "no_answer")
    await w.ctl.set_phone("admin103", "answer", answer_after=1.0)
    placed = await w.place(hangup_after=1.0)
    call = await w.finished(placed["channel_id"])
    await w.quiet()
    results = {admin: leg.result for admin, leg in legs_by_admin(call).items()}
    assert results == {"anna": "busy", "ben": "lost", "chen": "answered"}
    assert call.outcome == "answered" and call.admin == "chen"


async def test_unknown_number_fails_with_message(world_factory: Any) -> None:
    w: World = await world_factory()
    placed = await w.place(did="5557000")  # a branch with no admins
    call = await w.finished(placed["channel_id"])
    await w.quiet()
    assert (call.outcome, call.failure_reason, call.legs) == ("failed", "no_admins", [])
    reqs = await w.requests()
    assert sent(reqs, "POST", "/play", media="sound:please-try-call-later")
    assert not sent(reqs, "POST", "/channels/create")


async def test_never_dials_before_stasis_start(world_factory: Any) -> None:
    """The 409 race: the created channel's StasisStart lags behind the create reply."""
    w: World = await world_factory()
    await w.ctl.fault(stasis_start_delay=0.3)
    await w.ctl.set_phone("admin101", "answer", answer_after=0.2)
    placed = await w.place(hangup_after=0.5)
    call = await w.finished(placed["channel_id"])
    await w.quiet()
    reqs = await w.requests()
    assert call.outcome == "answered"
    assert [r["status"] for r in sent(reqs, "POST", "/dial")] == [204, 204, 204]


async def test_websocket_drop_mid_call_finishes_normally(world_factory: Any) -> None:
    w: World = await world_factory()
    await w.ctl.set_phone("admin101", "answer", answer_after=0.2)
    placed = await w.place()
    inbound = placed["channel_id"]
    await eventually(
        lambda: w.sim_call(placed["call_id"]), lambda c: bool(c.get("answered_at")), 10, "answer"
    )
    await eventually(w.ctl.state, lambda s: any(b["channels"] for b in s["bridges"]), 10, "bridge")
    # The app's websocket drops and, while it is away, the caller hangs up: those events are lost.
    await w.ctl.fault(drop_websocket=True)
    await w.ctl.caller_hangup(placed["call_id"])
    call = await w.finished(inbound)
    await w.quiet()
    assert call.outcome == "answered" and call.hangup_side == "caller"
    reqs = await w.requests()
    assert sent(reqs, "GET", "/applications/clinic")
    assert len(call.recordings) == 1


async def test_health_and_auth(world_factory: Any) -> None:
    w: World = await world_factory()
    status, body = await w.app.health()
    assert status == 200 and body["ari"] == "connected" and body["database"] == "ok"
    import aiohttp

    async with aiohttp.ClientSession() as s:
        async with s.get(f"{w.app.http}/api/calls") as r:
            assert r.status == 401 and (await r.json())["error"] == "unauthenticated"
        async with s.get(
            f"{w.app.http}/metrics", headers={"Authorization": "Bearer wrong-token-xxxxxxxx"}
        ) as r:
            assert r.status == 403
    await w.sim.stop()
    status, body = await eventually(w.app.health, lambda h: h[0] == 503, 10, "503 without ARI")
    assert body["ari"] == "disconnected"
    assert "s3cret" not in w.app.log()


async def test_malformed_frames_are_counted_and_the_call_goes_on(world_factory: Any) -> None:
    w: World = await world_factory()
    await w.ctl.set_phone("admin101", "answer", answer_after=0.3)
    await w.ctl.fault(malformed_frames=6, send_frames=['{"type": "ChannelTalkingStarted"}', "\x00garbage"])
    placed = await w.place(hangup_after=1.0)
    call = await w.finished(placed["channel_id"])
    await w.quiet()
    assert call.outcome == "answered" and len(call.recordings) == 1
    status, body = await w.app.api("/metrics")
    metrics = body.decode()
    bad = {
        kind: float(value)
        for kind, value in re.findall(r'clinic_ari_bad_frames_total\{kind="(\w+)"\} ([0-9.]+)', metrics)
    }
    assert status == 200 and bad.get("malformed", 0) >= 6 and bad.get("unknown", 0) >= 1
    assert (await w.app.health())[0] == 200
