"""EventStream lifecycle: heartbeat, stop() in every state, callback failures, credentials."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from ari_app.ari import models as m
from ari_app.ari.events import EventStream, events_url
from tests.ari.fake_ari import PASSWORD, USER, FakeAri, LogEntries, WsScript, event
from tests.ari.recorder import Recorder, make_stream


async def test_heartbeat_detects_a_silent_dead_server(
    fake: FakeAri, rec: Recorder, running: Callable[..., EventStream], logs: LogEntries
) -> None:
    fake.ws_scripts = [WsScript([event("ChannelStateChange", 1)], then="silent")]
    stream = running(heartbeat=0.2)
    await rec.until(lambda: len(rec.events) == 1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await rec.until(lambda: "disconnected" in rec.timeline, timeout=2.0)
    assert loop.time() - started < 1.0  # a ping and half an interval for its pong
    [gone] = [e for e in logs if e["event"] == "ari_ws_disconnected"]
    assert gone["error"] == "ServerTimeoutError"
    await rec.until(lambda: rec.count("resync") == 2)  # and it came back
    assert stream.stats.reconnects == 1


async def _hung_tcp_server() -> tuple[asyncio.Server, asyncio.Event, str]:
    accepted = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()  # never answers the handshake
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, accepted, f"http://127.0.0.1:{port}/ari"


@pytest.mark.parametrize("state", ["reading", "silent_peer", "backoff", "handshake", "resync"])
async def test_stop_ends_run_within_a_second(fake: FakeAri, rec: Recorder, state: str) -> None:
    options: dict[str, Any] = {}
    server = None
    if state == "silent_peer":
        fake.ws_scripts = [WsScript(then="silent")]
    elif state == "backoff":
        fake.reject_ws = 100
        options = {"backoff_initial": 30.0, "backoff_max": 30.0}
    elif state == "resync":
        rec.resync_gate = asyncio.Event()
    elif state == "handshake":
        server, accepted, url = await _hung_tcp_server()
        options = {"connect_timeout": 30.0}
    stream = make_stream(url if server else fake.url, rec, **options)
    task = asyncio.get_running_loop().create_task(stream.run())
    if state == "handshake":
        await asyncio.wait_for(accepted.wait(), 2)
    elif state == "backoff":
        await asyncio.wait_for(fake.ws_attempted.wait(), 2)
    else:
        assert await stream.wait_connected(2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await stream.stop()
    await asyncio.wait_for(task, 1.0)
    assert loop.time() - started < 1.0 and not stream.connected
    if state == "resync":
        assert "resync-cancelled" in rec.timeline
    if server is not None:
        server.close()


async def test_callback_errors_never_stop_the_stream(
    fake: FakeAri, running: Callable[..., EventStream], logs: LogEntries
) -> None:
    seen: list[m.Event] = []
    both = asyncio.Event()

    def on_event(ev: m.Event) -> None:
        seen.append(ev)
        if len(seen) == 1:
            raise RuntimeError("handler bug")
        both.set()

    async def on_connected() -> None:
        raise RuntimeError("resync bug")

    def on_bad_frame(kind: str, detail: str) -> None:
        raise RuntimeError("metrics bug")

    fake.ws_scripts = [WsScript([event("ChannelStateChange", 1), "{bad", event("ChannelStateChange", 2)])]
    stream = running(on_event=on_event, on_connected=on_connected, on_bad_frame=on_bad_frame)
    await asyncio.wait_for(both.wait(), 5)
    assert stream.stats.callback_errors == 1 and stream.stats.malformed == 1
    failures = {e["event"] for e in logs if e["log_level"] == "error"}
    assert failures >= {"ari_event_handler_failed", "ari_resync_failed", "ari_bad_frame_handler_failed"}


async def test_unreachable_asterisk_is_retried_quietly(
    rec: Recorder, running: Callable[..., EventStream], logs: LogEntries
) -> None:
    stream = running("http://127.0.0.1:1/ari")
    assert not await stream.wait_connected(0.3)
    assert not stream.connected and rec.timeline == []
    attempts = [e for e in logs if e["event"] == "ari_ws_unreachable"]
    assert len(attempts) >= 3 and {e["log_level"] for e in attempts} == {"info"}


async def test_no_credentials_in_logs_repr_or_url(
    fake: FakeAri, rec: Recorder, running: Callable[..., EventStream], logs: LogEntries
) -> None:
    fake.reject_ws = 1
    fake.ws_scripts = [WsScript(['{"type": "StasisEnd"}'], then="close")]
    stream = running()
    await rec.until(lambda: rec.count("resync") == 2)
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert any(e["event"] == "ari_ws_rejected" and e["status"] == 503 for e in logs)
    for text in (repr(stream), repr(logs), *(r.raw_path + json.dumps(r.query) for r in fake.ws_requests)):
        assert PASSWORD not in text and token not in text


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://127.0.0.1:8088/ari", "ws://127.0.0.1:8088/ari/events"),
        ("https://pbx.example:8089/ari/", "wss://pbx.example:8089/ari/events"),
    ],
)
def test_events_url_follows_the_rest_url(base: str, url: str) -> None:
    assert events_url(base) == url
