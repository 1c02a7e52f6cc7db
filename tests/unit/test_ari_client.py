"""The ARI client and events websocket against the in-process simulator and small fake servers."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from aiohttp import web

from ari_app.ari import models as m
from ari_app.ari.client import (
    AriBadRequest,
    AriClient,
    AriConflict,
    AriNotFound,
    AriUnavailable,
    AriUnprocessable,
)
from ari_app.ari.events import EventStream
from ari_app.pbxsim.server import PbxSim

SECRET = "pw-not-in-logs-7731"


@pytest.fixture
async def sim() -> AsyncIterator[PbxSim]:
    s = PbxSim(username="clinic", password=SECRET, seed=2)
    await s.start()
    yield s
    await s.stop()


async def _control(sim: PbxSim, method: str, path: str, body: Any = None) -> Any:
    import aiohttp

    async with aiohttp.ClientSession() as s, s.request(method, sim.control_url + path, json=body) as r:
        return await r.json()


async def test_rest_operations_and_error_mapping(sim: PbxSim) -> None:
    client = AriClient(sim.ari_url, "clinic", SECRET, "clinic", timeout=2)
    events: list[m.Event] = []
    stream = EventStream(sim.ari_url, "clinic", SECRET, "clinic", on_event=events.append, on_connected=_noop)
    task = asyncio.create_task(stream.run())
    try:
        assert await stream.wait_connected(3)
        await _control(sim, "PUT", "/control/phones/admin101", {"behaviour": "no_answer"})
        call = await _control(sim, "POST", "/control/calls", {"caller": "5550001", "did": "5551234"})
        inbound = call["channel_id"]
        await client.ring(inbound)
        await _control(sim, "POST", "/control/faults", {"stasis_start_delay": 0.5})
        leg = await client.create_channel(
            "PJSIP/admin101",
            app_args=["dialed", inbound],
            originator=inbound,
            channel_id="leg-1",
            variables={"CALLERID(num)": "5550001", "CALLERID(name)": "Ann"},
        )
        assert isinstance(leg, m.Channel) and leg.id == "leg-1" and leg.caller.name == "Ann"
        bridge = await client.create_bridge("mixing", bridge_id="b-1")
        assert bridge.id == "b-1" and bridge.channels == []
        app = await client.get_application()
        assert inbound in app.channel_ids
        assert {c.id for c in await client.list_channels()} >= {inbound, "leg-1"}
        with pytest.raises(AriNotFound) as nf:
            await client.answer("no-such-channel")
        assert nf.value.route == "/channels/{id}/answer" and nf.value.message == "Channel not found"
        with pytest.raises(AriConflict, match="Channel not in Stasis application"):
            await client.dial("leg-1")  # before its StasisStart: the 409 race
        await client.record_bridge("b-1", "r1")
        # Asterisk answers a name in use by a live recording as it does an existing file (EEXIST)
        with pytest.raises(AriConflict, match="'r1' already exists and can not be overwritten"):
            await client.record_bridge("b-1", "r1")
        await client.stop_live_recording("r1")
        with pytest.raises(AriConflict, match="already exists"):
            await client.record_bridge("b-1", "r1", if_exists="fail")
        assert (await client.get_stored_recording("r1")).format == "wav"
        data = await client.download_stored_recording("r1", max_bytes=10_000_000)
        assert data[:4] == b"RIFF"
        await client.delete_stored_recording("r1")
        await client.hangup(inbound)
        await client.destroy_bridge("b-1")
        assert SECRET not in repr(client) and SECRET not in repr(stream)
    finally:
        await stream.stop()
        await asyncio.wait_for(task, 2)
        await client.close()
    assert stream.stats.events == len(events) > 0


async def test_endpoint_subscription_and_its_events(sim: PbxSim) -> None:
    client = AriClient(sim.ari_url, "clinic", SECRET, "clinic", timeout=2)
    events: list[m.Event] = []
    stream = EventStream(sim.ari_url, "clinic", SECRET, "clinic", on_event=events.append, on_connected=_noop)
    task = asyncio.create_task(stream.run())
    try:
        with pytest.raises(AriNotFound, match="Application not found"):
            await client.subscribe(["endpoint:PJSIP/admin101"])  # no websocket yet: not registered
        assert await stream.wait_connected(3)
        await _control(sim, "PUT", "/control/phones/admin101", {"behaviour": "no_answer"})
        app = await client.subscribe(["endpoint:PJSIP/admin101", "endpoint:PJSIP"])
        assert isinstance(app, m.Application) and app.endpoint_ids == ["PJSIP", "PJSIP/admin101"]
        assert (await client.get_application()).endpoint_ids == ["PJSIP", "PJSIP/admin101"]
        with pytest.raises(AriBadRequest, match="Invalid event source URI scheme") as bad:
            await client.subscribe(["PJSIP/admin101"])
        assert bad.value.route == "/applications/{app}/subscription" and bad.value.status == 400
        with pytest.raises(AriUnprocessable, match="Event source does not exist"):
            await client.subscribe(["endpoint:PJSIP/admin999"])
        with pytest.raises(AriNotFound):
            await client.subscribe(["endpoint:PJSIP"], app="nobody")
        for wrong in ([], ["endpoint:PJSIP/a,b"], "endpoint:PJSIP"):
            with pytest.raises((ValueError, TypeError)):
                await client.subscribe(wrong)
        app = await client.unsubscribe(["endpoint:PJSIP"])
        assert app.endpoint_ids == ["PJSIP/admin101"]
        with pytest.raises(AriUnprocessable, match="Event source was not subscribed to"):
            await client.unsubscribe(["endpoint:PJSIP"])
        await _control(sim, "PUT", "/control/phones/admin101", {"registered": False})
        for _ in range(100):
            if any(isinstance(e, m.EndpointStateChange) for e in events) and stream.stats.unknown:
                break
            await asyncio.sleep(0.02)
        change = next(e for e in events if isinstance(e, m.EndpointStateChange))
        assert change.endpoint == m.Endpoint("PJSIP", "admin101", [], "offline")
        assert stream.stats.unknown == 1  # PeerStatusChange: not in the models, counted and skipped
    finally:
        await stream.stop()
        await asyncio.wait_for(task, 2)
        await client.close()


async def test_transfer_progress_and_the_transfer_events(sim: PbxSim) -> None:
    client = AriClient(sim.ari_url, "clinic", SECRET, "clinic", timeout=2)
    events: list[m.Event] = []
    stream = EventStream(sim.ari_url, "clinic", SECRET, "clinic", on_event=events.append, on_connected=_noop)
    task = asyncio.create_task(stream.run())

    async def first(cls: type[m.Event], state: str | None = None, peer: str | None = None) -> Any:
        """The first event of that type (a ChannelTransfer in that state, a Dial with that status)."""
        for _ in range(150):
            for ev in events:
                if not isinstance(ev, cls):
                    continue
                status = getattr(ev, "state", getattr(ev, "dialstatus", None))
                channel = getattr(ev, "channel", getattr(ev, "peer", None))
                if state in (None, status) and (peer is None or getattr(channel, "id", None) == peer):
                    return ev
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {cls.__name__} {state or ''}")

    try:
        assert await stream.wait_connected(3)
        await _control(sim, "PUT", "/control/phones/admin101", {"behaviour": "answer", "answer_after": 0.05})
        call = await _control(sim, "POST", "/control/calls", {"caller": "5550001", "did": "5551234"})
        inbound = call["channel_id"]
        await client.answer(inbound)
        leg = await client.create_channel(
            "PJSIP/admin101", variables={"PJSIP_TRANSFER_HANDLING()": "ari-only"}
        )
        await first(m.StasisStart, peer=leg.id)
        await client.dial(leg.id, caller=inbound)
        await first(m.Dial, "ANSWER")
        bridge = await client.create_bridge()
        await client.add_channels(bridge.id, [inbound, leg.id])
        await client.transfer_progress(leg.id, "channel_progress")  # no REFER yet: nothing happens
        refer = await _control(sim, "POST", "/control/phones/admin101/refer", {"to": "102"})
        assert refer["handling"] == "ari-only" and refer["sip_response"] == 202
        asked = await first(m.ChannelTransfer)
        assert isinstance(asked, m.ChannelTransfer) and asked.state is msgspec.UNSET
        assert asked.refer_to.requested_destination.destination == "102"
        assert asked.referred_by.source_channel.id == leg.id
        assert isinstance(asked.referred_by.connected_channel, m.Channel)
        assert asked.referred_by.connected_channel.id == inbound
        with pytest.raises(AriNotFound, match="Channel not found") as nf:
            await client.transfer_progress("no-such-channel", "channel_progress")
        assert nf.value.route == "/channels/{id}/transfer_progress"
        with pytest.raises(AriBadRequest, match="Invalid states value"):
            await client.transfer_progress(leg.id, "ringing")
        await client.transfer_progress(leg.id, "channel_progress")
        assert (await first(m.ChannelTransfer, "channel_progress")).refer_to == asked.refer_to
        await client.transfer_progress(leg.id, "channel_answered")
        await first(m.ChannelTransfer, "channel_answered")
        await first(m.ChannelDestroyed, peer=leg.id)  # the phone hangs up after the final NOTIFY
    finally:
        await stream.stop()
        await asyncio.wait_for(task, 2)
        await client.close()


def test_recorded_transfer_events_parse() -> None:
    """Asterisk 22.10.1's BridgeBlindTransfer and ChannelTransfer, as recorded (shortened ids)."""
    chan = {
        "id": "1.6", "name": "PJSIP/admin101-00000004", "state": "Up", "protocol_id": "59d0",
        "caller": {"name": "", "number": ""}, "connected": {"name": "Patient", "number": "caller"},
        "accountcode": "", "creationtime": "2026-12-02T22:11:15.575+0000", "language": "en",
        "dialplan": {"context": "admins", "exten": "s", "priority": 1, "app_name": "Stasis",
                     "app_data": "clinic,dialed"},
    }  # fmt: skip
    bridge = {
        "id": "9b18", "technology": "native_rtp", "bridge_type": "mixing", "bridge_class": "stasis",
        "creator": "Stasis", "name": "clinic-1.5", "channels": ["1.5", "1.6"],
        "creationtime": "2026-12-02T22:11:15.574+0000", "video_mode": "talker",
    }  # fmt: skip
    common = {
        "timestamp": "2026-12-02T22:11:19.588+0000",
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "clinic",
    }
    blind = m.parse_event(
        json.dumps(
            {"type": "BridgeBlindTransfer", "channel": chan, "exten": "102", "context": "admins",
             "result": "Success", "is_external": True, "transferee": chan, "replace_channel": chan,
             "bridge": bridge, **common}
        )
    )  # fmt: skip
    assert isinstance(blind, m.BridgeBlindTransfer) and blind.result == "Success" and blind.is_external
    assert isinstance(blind.bridge, m.Bridge) and blind.bridge.channels == ["1.5", "1.6"]
    transfer = m.parse_event(
        json.dumps(
            {"type": "ChannelTransfer", "refer_to": {"requested_destination": {"destination": "102"}},
             "referred_by": {"source_channel": chan}, "state": "channel_answered", **common}
        )
    )  # fmt: skip
    assert isinstance(transfer, m.ChannelTransfer) and transfer.state == "channel_answered"
    assert transfer.referred_by.bridge is msgspec.UNSET
    assert json.loads(m.encode(transfer))["referred_by"] == {"source_channel": chan}  # absent stays absent


async def _noop() -> None:
    return None


async def test_unreachable_and_timeout_are_unavailable() -> None:
    client = AriClient("http://127.0.0.1:1/ari", "u", SECRET, "clinic", timeout=1)
    with pytest.raises(AriUnavailable) as exc:
        await client.ping()
    assert SECRET not in str(exc.value)
    await client.close()

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/ari/asterisk/ping", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = AriClient(f"http://127.0.0.1:{port}/ari", "u", SECRET, "clinic", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(AriUnavailable, match="timed out"):
        await client.ping()
    assert time.monotonic() - started < 1.5
    await client.close()
    await runner.cleanup()


class FakeAri:
    """Serves /ari/events and records the Authorization header of each connection."""

    def __init__(self) -> None:
        self.connections = 0
        self.auth: list[str] = []
        self.queries: list[str] = []
        self.frames: list[str | bytes] = []
        self.hold_open = True
        self.sockets: list[web.WebSocketResponse] = []

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        self.connections += 1
        self.auth.append(request.headers.get("Authorization", ""))
        self.queries.append(request.query_string)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        for frame in self.frames:
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
        if self.hold_open:
            async for _ in ws:
                pass
        await ws.close()
        return ws


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeAri, str]]:
    f = FakeAri()
    app = web.Application()
    app.router.add_get("/ari/events", f.handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f, f"http://127.0.0.1:{port}/ari"
    await runner.cleanup()


def _event(kind: str = "StasisEnd") -> str:
    ch = {
        "id": "1.1", "name": "PJSIP/a-1", "state": "Up", "protocol_id": "",
        "caller": {"name": "", "number": ""}, "connected": {"name": "", "number": ""}, "accountcode": "",
        "dialplan": {"context": "c", "exten": "s", "priority": 1, "app_name": "", "app_data": ""},
        "creationtime": "2026-11-22T10:55:24.782+0000", "language": "en",
    }  # fmt: skip
    return json.dumps(
        {"type": kind, "timestamp": "2026-11-22T10:55:24.782+0000", "application": "clinic", "channel": ch}
    )


async def test_bad_frames_are_counted_and_skipped_in_order(fake: tuple[FakeAri, str]) -> None:
    server, url = fake
    server.frames = [
        _event(),
        "{truncated",
        json.dumps({"type": "ChannelTalkingStarted", "timestamp": "x", "application": "clinic"}),
        json.dumps({"type": "StasisEnd", "application": "clinic"}),  # no timestamp, no channel
        "x" * 300_000,  # over the frame limit below
    ]
    got: list[m.Event] = []
    bad: list[tuple[str, str]] = []
    stream = EventStream(
        url, "u", SECRET, "clinic", on_event=got.append, on_connected=_noop,
        on_bad_frame=lambda k, d: bad.append((k, d)), max_frame_bytes=200_000, backoff_initial=5,
    )  # fmt: skip
    task = asyncio.create_task(stream.run())
    await _until(lambda: stream.stats.oversize == 1)
    await stream.stop()
    await asyncio.wait_for(task, 2)
    assert [type(e).__name__ for e in got] == ["StasisEnd"]
    assert [k for k, _ in bad] == ["malformed", "unknown", "malformed", "oversize"]
    assert "missing required field `channel`" in bad[2][1]  # the error names what is wrong
    assert server.auth[0].startswith("Basic ") and SECRET not in server.queries[0]
    assert "app=clinic" in server.queries[0]


async def test_reconnects_with_backoff_and_resyncs_each_time(fake: tuple[FakeAri, str]) -> None:
    server, url = fake
    server.hold_open = False  # the server closes every connection at once
    resyncs = 0

    async def resync() -> None:
        nonlocal resyncs
        resyncs += 1

    stream = EventStream(
        url, "u", SECRET, "clinic", on_event=lambda e: None, on_connected=resync,
        backoff_initial=0.02, backoff_max=0.05, rng=random.Random(1),
    )  # fmt: skip
    task = asyncio.create_task(stream.run())
    await _until(lambda: server.connections >= 3 and resyncs >= 3)
    started = time.monotonic()
    await stream.stop()
    await asyncio.wait_for(task, 1)
    assert time.monotonic() - started < 1.0
    assert stream.stats.connects >= 3


async def test_handler_errors_do_not_stop_the_stream(fake: tuple[FakeAri, str]) -> None:
    server, url = fake
    server.frames = [_event(), _event("StasisStart".replace("Start", "End"))]
    seen: list[str] = []

    def boom(ev: m.Event) -> None:
        seen.append(type(ev).__name__)
        if len(seen) == 1:
            raise RuntimeError("handler bug")

    stream = EventStream(url, "u", SECRET, "clinic", on_event=boom, on_connected=_noop)
    task = asyncio.create_task(stream.run())
    await _until(lambda: len(seen) == 2)
    await stream.stop()
    await asyncio.wait_for(task, 2)
    assert stream.stats.callback_errors == 1


async def _until(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)
