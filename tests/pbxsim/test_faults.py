"""Misbehaviour on demand, and the websocket's life: the 409 race, drops, replacement, restarts,
garbage frames, rejected and slow requests, a client that stops reading, Stasis with no app."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from ari_app.ari.models import parse_event
from tests.pbxsim.conftest import start_harness
from tests.pbxsim.harness import SimHarness, auth_header, bridged, call_id_of, gone, place


async def test_dial_before_stasis_start_is_409(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("POST", "/control/faults", {"stasis_start_delay": 0.3})
    inbound = await place(h)
    status, ch = await h.rest(
        "POST", "/channels/create", endpoint="PJSIP/admin101", app="clinic", appArgs=f"dialed,{inbound}"
    )
    assert status == 200
    assert await h.rest("POST", f"/channels/{ch['id']}/dial", caller=inbound) == (
        409,
        {"message": "Channel not in Stasis application"},
    )
    await h.wait_for(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == ch["id"])
    assert await h.rest("POST", f"/channels/{ch['id']}/dial", caller=inbound) == (204, None)


async def test_websocket_closed_mid_call_loses_events_but_not_the_call(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound, leg_id, bridge_id = await bridged(h)
    await h.control("POST", "/control/faults", {"drop_websocket": True})
    await h.wait_closed()
    seen = len(h.events)
    status, app = await h.rest("GET", "/applications/clinic")
    assert status == 200 and app["channel_ids"] == [inbound, leg_id] and app["bridge_ids"] == [bridge_id]
    await h.control("POST", f"/control/calls/{await call_id_of(h, inbound)}/hangup")
    lost = [e for e in (await h.control("GET", "/control/events"))["events"] if not e["delivered"]]
    assert {"ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"} <= {e["type"] for e in lost}
    await h.connect()
    assert (await h.rest("GET", "/applications/clinic"))[1]["channel_ids"] == [leg_id]
    _, bridges = await h.rest("GET", "/bridges")
    assert [b["channels"] for b in bridges] == [[leg_id]]
    await h.rest("DELETE", f"/channels/{leg_id}")
    await gone(h, leg_id)
    # Nothing was replayed on reconnecting: the first event on the new socket is the hang-up's.
    assert [e["type"] for e in h.events[seen:] if e["type"] != "ChannelVarset"][:1] == [
        "ChannelHangupRequest"
    ]
    await h.disconnect()
    # The bridge its channels left by hanging up still holds the app; once it goes, the app goes.
    assert (await h.rest("GET", "/applications/clinic"))[0] == 200
    await h.rest("DELETE", f"/bridges/{bridge_id}")
    assert await h.rest("GET", "/applications/clinic") == (404, {"message": "Application not found"})
    declined = await h.control("POST", "/control/calls", {"caller": "5550001", "did": "5551234"})
    assert declined["channel_id"] is None and declined["result"] == "declined"


async def test_stasis_fails_for_an_app_whose_websocket_went(harness: SimHarness) -> None:
    """res_stasis: a deactivated app (its websocket closed) stays registered while it has
    channels, but Stasis() refuses it ("not active"): a new call is not handed to it, so no
    StasisStart can be lost for it; the channels it had still lose their events."""
    h = harness
    await h.connect()
    inbound, _, _ = await bridged(h)
    await h.control("POST", "/control/faults", {"drop_websocket": True})
    await h.wait_closed()
    assert (await h.rest("GET", "/applications/clinic"))[0] == 200  # still registered
    call = await h.control("POST", "/control/calls", {"caller": "5550002", "did": "5551234"})
    assert call["channel_id"] is None and call["result"] == "declined"
    assert (await h.sim_call(call["call_id"]))["sip_final"] == "603 Decline"
    # A leg the app created just before it went enters Stasis no more: it is simply hung up.
    await h.connect()
    await h.control("POST", "/control/faults", {"stasis_start_delay": 0.3})
    status, ch = await h.rest(
        "POST", "/channels/create", endpoint="PJSIP/admin102", app="clinic", appArgs=f"dialed,{inbound}"
    )
    assert status == 200
    await h.control("POST", "/control/faults", {"drop_websocket": True})
    await h.wait_closed()
    await asyncio.sleep(0.5)
    assert ch["id"] not in [c["id"] for c in (await h.rest("GET", "/channels"))[1]]
    started = [e for e in (await h.control("GET", "/control/events"))["events"] if e["type"] == "StasisStart"]
    assert ch["id"] not in [e["channel"] for e in started]


async def test_stasis_fails_when_no_app_is_there(harness: SimHarness) -> None:
    h = harness
    assert await h.rest("GET", "/applications/clinic") == (404, {"message": "Application not found"})
    assert await h.rest("GET", "/applications") == (200, [])
    call = await h.control("POST", "/control/calls", {"caller": "5550001", "did": "5551234"})
    assert call["channel_id"] is None and call["result"] == "declined"
    record = await h.sim_call(call["call_id"])
    assert record["sip_final"] == "603 Decline" and record["ended_at"] is not None
    assert (await h.control("GET", "/control/events"))["events"] == []
    assert await h.rest("GET", "/channels") == (200, [])


async def test_a_second_websocket_replaces_the_first(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    async with h.http.ws_connect(h.sim.ari_url.replace("http", "ws", 1) + "/events?app=clinic") as second:
        replaced = await h.wait_for(lambda e: e["type"] == "ApplicationReplaced")
        assert replaced["application"] == "clinic"
        await h.wait_closed()
        await h.control("POST", "/control/calls", {"caller": "5550001", "did": "5551234"})
        msg = await second.receive_json(timeout=5)
        assert msg["type"] == "StasisStart"
    async with h.http.get(h.sim.ari_url + "/events") as resp:
        assert resp.status == 400


async def test_restart_wipes_everything_and_refuses_while_booting(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound, _, _ = await bridged(h)
    await h.control("POST", "/control/faults", {"restart": True, "down_for": 0.3})
    await h.wait_closed()
    assert await h.rest("GET", "/channels") == (503, {"message": "Asterisk not booted"})
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await h.connect()
    for _ in range(100):  # nothing announces the end of the boot: poll, as an app would
        if (await h.rest("GET", "/asterisk/ping"))[0] != 503:
            break
        await asyncio.sleep(0.05)
    assert await h.rest("GET", "/channels") == (200, [])
    assert await h.rest("GET", "/bridges") == (200, [])
    assert (await h.sim_call(await call_id_of(h, inbound)))["caller_result"] == "lost_in_restart"
    await h.connect()
    after = await place(h)
    assert int(after.split(".")[1]) > int(inbound.split(".")[1])  # the id counter went on


async def test_malformed_frames_are_interleaved_with_real_events(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("POST", "/control/faults", {"malformed_frames": 3, "send_frames": ["\x00garbage"]})
    for _ in range(3):
        await place(h)
    parsed = []
    for frame in h.frames:
        try:
            parsed.append(type(parse_event(frame)).__name__)
        except ValueError:
            parsed.append("bad")
    # The raw frame first, then each garbage frame just ahead of a real event.
    assert parsed == ["bad", "bad", "StasisStart", "bad", "StasisStart", "bad", "StasisStart"]


async def test_rejected_and_slow_requests(harness: SimHarness) -> None:
    h = harness
    await h.control(
        "POST", "/control/faults", {"reject": {"path_regex": "/ping$", "status": 500, "count": 1}}
    )
    assert await h.rest("GET", "/asterisk/ping") == (500, {"message": "Internal Server Error"})
    assert (await h.rest("GET", "/asterisk/ping"))[0] == 200
    await h.control("POST", "/control/faults", {"answer_delay": 0.2})
    began = time.monotonic()
    assert (await h.rest("GET", "/asterisk/ping"))[0] == 200
    assert time.monotonic() - began >= 0.2
    await h.control("POST", "/control/faults", {"answer_delay": 0})
    status, _ = await h.control_raw("POST", "/control/faults", {"reject": {"path_regex": "("}})
    assert status == 400


async def test_a_client_that_stops_reading_is_dropped(harness: SimHarness) -> None:
    h = harness
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    port = int(h.sim.ari_url.split(":")[2].split("/")[0])
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = auth_header()["Authorization"]
    writer.write(
        b"GET /ari/events?app=clinic HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nAuthorization: " + key.encode() + b"\r\n\r\n"
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    # From here on the client reads nothing more. Flood it with big frames.
    await h.control("POST", "/control/faults", {"send_frames": ["x" * 100_000] * 300})
    began = time.monotonic()
    assert (await h.rest("GET", "/asterisk/ping"))[0] == 200
    assert time.monotonic() - began < 0.5  # the simulator does not wait for the stuck client
    deadline = time.monotonic() + 10
    while (await h.control("GET", "/control/state"))["apps_connected"]:
        assert time.monotonic() < deadline, "the stuck websocket was never dropped"
        await asyncio.sleep(0.05)
    writer.close()


async def test_app_name_any_routes_calls_to_the_connected_app(tmp_path: Path) -> None:
    h = await start_harness(tmp_path / "rec", app_name_any=True)
    try:
        await h.connect("reception")
        call = await h.control("POST", "/control/calls", {"caller": "5550001", "did": "5551234"})
        start = await h.wait_for(lambda e: e["type"] == "StasisStart")
        assert start["application"] == "reception" and start["channel"]["id"] == call["channel_id"]
        assert start["channel"]["dialplan"]["app_data"] == "reception,5551234"
    finally:
        await h.close()
        await h.sim.stop()


async def test_control_logs_requests_and_events(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h)
    body = {"variables": {"CALLERID(num)": "5550001"}}
    await h.rest(
        "POST", "/channels/create", body, endpoint="PJSIP/admin101", app="clinic", originator=inbound
    )
    reqs = (await h.control("GET", "/control/requests"))["requests"]
    create = next(r for r in reqs if r["path"] == "/ari/channels/create")
    assert create["method"] == "POST" and create["status"] == 200 and create["body"] == body
    assert create["query"]["originator"] == inbound and create["t"] <= create["t_done"]
    events = (await h.control("GET", "/control/events"))["events"]
    assert events[0]["type"] == "StasisStart" and events[0]["channel"] == inbound and events[0]["delivered"]
    await h.control("DELETE", "/control/requests")
    await h.control("DELETE", "/control/events")
    assert (await h.control("GET", "/control/requests"))["requests"] == []
    state = await h.control("GET", "/control/state")
    assert state["apps_connected"] == ["clinic"] and {c["id"] for c in state["channels"]} >= {inbound}
