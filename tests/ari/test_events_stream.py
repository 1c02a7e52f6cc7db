"""EventStream against the fake server: order, resync, reconnect with backoff, bad frames."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from ari_app.ari.events import EventStream, backoff_delay
from tests.ari.fake_ari import APP, PASSWORD, TS, USER, FakeAri, LogEntries, WsScript, event
from tests.ari.recorder import Recorder, ids


async def test_events_arrive_in_order_on_an_authorised_app_subscription(
    fake: FakeAri, rec: Recorder, running: Callable[..., EventStream]
) -> None:
    fake.ws_scripts = [WsScript([event("ChannelStateChange", i) for i in range(50)])]
    stream = running()
    await rec.until(lambda: len(rec.events) == 50)
    assert ids(rec) == [f"1795344924.{i}" for i in range(50)]
    assert rec.timeline[0] == "resync"  # the resync took its first step before the first event
    [ws] = fake.ws_requests
    assert ws.query == {"app": APP, "subscribeAll": "false"}
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert ws.headers["Authorization"] == f"Basic {token}"
    assert stream.connected and (stream.stats.frames, stream.stats.events) == (50, 50)


async def test_recorded_asterisk_events_all_pass_in_order(
    shared_ari: Path, fake: FakeAri, rec: Recorder, running: Callable[..., EventStream]
) -> None:
    frames: list[str] = []
    for trace in sorted((shared_ari / "traces").glob("*.jsonl")):
        for line in trace.read_text().splitlines():
            entry = json.loads(line)
            if entry["dir"] == "event":
                frames.append(json.dumps(entry["event"]))
    fake.ws_scripts = [WsScript(list(frames))]
    stream = running()
    await rec.until(lambda: len(rec.events) == len(frames))
    assert [type(e).__name__ for e in rec.events] == [json.loads(f)["type"] for f in frames]
    assert rec.bad == [] and stream.stats.events == len(frames) > 100


async def test_events_keep_flowing_while_the_resync_runs(
    fake: FakeAri, rec: Recorder, running: Callable[..., EventStream]
) -> None:
    rec.resync_gate = asyncio.Event()
    fake.ws_scripts = [WsScript([event("ChannelStateChange", i) for i in range(3)])]
    running()
    await rec.until(lambda: len(rec.events) == 3)
    assert rec.timeline == ["resync", *(f"ChannelStateChange:1795344924.{i}" for i in range(3))]
    rec.resync_gate.set()
    await rec.until(lambda: "resync-done" in rec.timeline)


async def test_a_drop_reconnects_and_resyncs_again(
    fake: FakeAri, rec: Recorder, running: Callable[..., EventStream]
) -> None:
    fake.ws_scripts = [
        WsScript([event("ChannelStateChange", 1)], then="close"),
        WsScript([event("ChannelStateChange", 2)]),
    ]
    stream = running()
    await rec.until(lambda: len(rec.events) == 2)
    assert rec.timeline == [
        "resync",
        "ChannelStateChange:1795344924.1",
        "disconnected",
        "resync",
        "ChannelStateChange:1795344924.2",
    ]
    assert (stream.stats.connects, stream.stats.reconnects) == (2, 1)


@pytest.mark.parametrize("seed", [1, 7])
def test_backoff_is_full_jitter_under_a_doubling_cap(seed: int) -> None:
    rng, replica = random.Random(seed), random.Random(seed)
    caps = [0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]
    delays = [backoff_delay(n, 0.2, 2.0, rng) for n in range(len(caps))]
    assert delays == [replica.uniform(0, cap) for cap in caps]
    assert all(0 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    assert backoff_delay(10_000, 0.2, 2.0, rng) <= 2.0  # no overflow far out


async def test_reconnect_waits_grow_and_reset_after_a_connection(
    fake: FakeAri, rec: Recorder, running: Callable[..., EventStream]
) -> None:
    fake.reject_ws = 4  # four 503 handshakes, then a connection the server closes, then one held
    fake.ws_scripts = [WsScript(then="close")]
    stream = running(backoff_initial=0.04, backoff_max=0.1, rng=random.Random(5))
    await rec.until(lambda: rec.count("resync") == 2)
    replica = random.Random(5)
    expected = [replica.uniform(0, cap) for cap in (0.04, 0.08, 0.1, 0.1, 0.04)]  # reset: 0.04
    gaps = [b - a for a, b in zip(fake.ws_attempts, fake.ws_attempts[1:], strict=False)]
    assert len(gaps) == 5
    for gap, delay in zip(gaps, expected, strict=True):
        assert delay - 0.002 <= gap < delay + 0.5
    assert stream.stats.connects == 2


async def test_bad_frames_are_counted_and_skipped_without_losing_the_connection(
    fake: FakeAri, rec: Recorder, running: Callable[..., EventStream], logs: LogEntries
) -> None:
    unknown = json.dumps({"type": "ChannelTalkingStarted", "timestamp": TS, "application": APP})
    no_channel = json.dumps({"type": "StasisEnd", "timestamp": TS, "application": APP, "caller": "5550001"})
    fake.ws_scripts = [
        WsScript(
            [
                event("ChannelStateChange", 1),
                unknown,
                "{truncated 5550001",
                no_channel,
                unknown,
                b"\x00binary",
                "x" * 3000,  # over max_frame_bytes, within what aiohttp still accepts
                "é" * 1500,  # 1500 characters, 3000 bytes
                event("ChannelStateChange", 2),
            ]
        )
    ]
    stream = running(max_frame_bytes=2000)
    await rec.until(lambda: len(rec.events) == 2)
    assert ids(rec) == ["1795344924.1", "1795344924.2"]
    kinds = ["unknown", "malformed", "malformed", "unknown", "oversize", "oversize"]
    assert [kind for kind, _ in rec.bad] == kinds
    assert "StasisEnd: Object missing required field `channel`" in rec.bad[2][1]
    s = stream.stats
    assert (s.frames, s.events, s.unknown, s.malformed, s.oversize, s.binary) == (9, 2, 2, 2, 2, 1)
    assert (s.connects, s.reconnects) == (1, 0)
    assert [e["type"] for e in logs if e["event"] == "ari_unknown_event_skipped"] == ["ChannelTalkingStarted"]
    malformed = [e for e in logs if e["event"] == "ari_frame_malformed"]
    assert [e["log_level"] for e in malformed] == ["warning", "warning"]
    assert "5550001" not in repr(logs)  # the frames themselves are never logged


async def test_a_ten_megabyte_frame_is_skipped_and_the_connection_kept(
    fake: FakeAri, rec: Recorder, running: Callable[..., EventStream]
) -> None:
    huge = "x" * 10_000_000
    fake.ws_scripts = [WsScript([event("ChannelStateChange", 1), huge, event("ChannelStateChange", 2)])]
    stream = running()  # default limit: 4 MiB
    await rec.until(lambda: len(rec.events) == 2)
    assert (stream.stats.oversize, stream.stats.connects) == (1, 1)


async def test_a_frame_beyond_aiohttps_limit_costs_the_connection_and_is_counted(
    fake: FakeAri, rec: Recorder, running: Callable[..., EventStream]
) -> None:
    fake.ws_scripts = [
        WsScript([event("ChannelStateChange", 1), "x" * 5000, event("ChannelStateChange", 9)]),
        WsScript([event("ChannelStateChange", 2)]),
    ]
    stream = running(max_frame_bytes=1000)  # aiohttp closes with 1009 over 4 * 1000 bytes
    await rec.until(lambda: len(rec.events) == 2)
    assert ids(rec) == ["1795344924.1", "1795344924.2"]  # 9 was lost with the connection
    assert rec.timeline.index("bad:oversize") < rec.timeline.index("disconnected")
    assert (stream.stats.oversize, stream.stats.reconnects, rec.count("resync")) == (1, 1, 2)
