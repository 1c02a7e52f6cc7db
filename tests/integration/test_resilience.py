"""Faults: the app's websocket lost, the app SIGKILLed and restarted, Asterisk restarted, the
database cut, bad frames, events missed for good. App and simulator are separate processes over
real sockets; after each fault every call the simulator placed has exactly one row with the
right outcome, and nothing is left on the PBX.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ari_app.ari.client import AriClient
from ari_app.store.models import Call, CallLeg
from tests.integration.conftest import PASSWORD, QUICK_QUEUE, USER, World, eventually
from tests.integration.db_hold import writes_blocked
from tests.integration.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration


async def accounted(w: World, expected: dict[str, str]) -> dict[str, Any]:
    """Every placed call (inbound channel -> outcome) has one finished row; the PBX is empty;
    the database holds one row per call and one leg per channel the app created."""
    rows = {}
    for channel_id, outcome in expected.items():
        rec = await w.finished(channel_id, timeout=30)
        assert rec.outcome == outcome, (channel_id, rec.outcome, rec.failure_reason)
        rows[channel_id] = rec
    await w.quiet(20)
    async with w.db.session() as s:
        calls = await s.scalar(select(func.count()).select_from(Call))
        legs = await s.scalar(select(func.count()).select_from(CallLeg))
    created = {
        r["query"].get("channelId")
        for r in await w.requests()
        if r["method"] == "POST" and r["path"].endswith("/channels/create") and r["status"] == 200
    }
    assert calls == len(expected), f"{calls} call rows for {len(expected)} calls"
    assert legs == len(created), f"{legs} leg rows for {len(created)} legs created"
    return rows


async def until_ringing(w: World, channels: int) -> None:
    """Until the simulator has this many channels up or ringing (caller and admin legs)."""
    await eventually(
        w.ctl.state,
        lambda s: sum(ch["state"] in ("Ringing", "Up", "Ring") for ch in s["channels"]) >= channels,
        10,
        f"{channels} channels ringing",
    )


async def until_bridged(w: World, sim_call_id: str) -> None:
    await eventually(lambda: w.sim_call(sim_call_id), lambda c: bool(c.get("answered_at")), 10, "bridged")


# --------------------------------------------------------------------------- 1. websocket loss
async def test_websocket_loss_events_missed_meanwhile_are_recovered(world_factory: Any) -> None:
    w: World = await world_factory(ring_timeout=10)
    await w.ctl.set_phone("admin101", "answer", answer_after=1.5)
    placed = await w.place(hangup_after=1.0)
    await until_ringing(w, 4)
    # Away for 2.5 s: meanwhile admin101 answers and admin102 rejects the call; both are missed.
    await w.ctl.fault(drop_websocket=True, away_for=2.5)
    await w.ctl.phone_hangup("admin102")
    rows = await accounted(w, {placed["channel_id"]: "answered"})
    call = rows[placed["channel_id"]]
    assert call.admin == "anna" and call.hangup_side == "caller" and len(call.recordings) == 1
    results = {leg.admin: leg.result for leg in call.legs}
    assert results["anna"] == "answered" and results["chen"] == "lost"
    assert results["ben"] in ("busy", "no_answer")  # its cause went by unseen
    lost = [e for e in await w.ctl.events() if not e["delivered"]]
    assert any(e["type"] == "ChannelStateChange" and e["state"] == "Up" for e in lost)
    assert any(e["type"] == "ChannelDestroyed" for e in lost)
    metrics = await w.app.metrics()
    assert metrics["clinic_ari_reconnects_total"] >= 1


async def until_request(w: World, method: str, path_end: str, timeout: float = 10.0) -> None:
    """Until the simulator has answered such a request (polled fast: the next step races it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r["method"] == method and r["path"].endswith(path_end) for r in await w.requests()):
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"no {method} …{path_end} within {timeout} s")


@pytest.mark.parametrize("who", ["caller", "admin"])
async def test_a_call_put_through_while_the_websocket_was_away_is_answered(
    world_factory: Any, who: str
) -> None:
    """The websocket goes as the app asks Asterisk to put the two through: their joins, their
    talk and one of them hanging up all go by unseen. The one still in the bridge names the
    other in BRIDGEPEER (Asterisk leaves it there when a two-party bridge loses one): the call
    was answered, not abandoned or missed."""
    w: World = await world_factory(ring_timeout=10)
    await w.ctl.set_phone("admin101", "answer", answer_after=1.0)
    for phone in ("admin102", "admin103"):
        await w.ctl.set_phone(phone, "no_answer")
    await w.ctl.fault(join_delay=0.3)  # the joins come after addChannel's reply, as on Asterisk
    placed = await w.place(hangup_after=0.5 if who == "caller" else None)
    await until_request(w, "POST", "/addChannel")
    await w.ctl.fault(drop_websocket=True, away_for=3.0)
    if who == "admin":
        await until_bridged(w, placed["call_id"])
        await asyncio.sleep(0.3)
        await w.ctl.phone_hangup("admin101")
    rows = await accounted(w, {placed["channel_id"]: "answered"})
    call = rows[placed["channel_id"]]
    assert (call.admin, call.hangup_side, call.callback_task_id) == ("anna", who, None)
    assert {leg.admin: leg.result for leg in call.legs}["anna"] == "answered"
    lost = [e["type"] for e in await w.ctl.events() if not e["delivered"]]
    assert "ChannelEnteredBridge" in lost and "ChannelLeftBridge" in lost


# --------------------------------------------------------------------------- 2. SIGKILL, restart
async def lock_waiters(db_url: str) -> int:
    """Sessions waiting for a table lock (the app's write, inside its open transaction)."""
    import asyncpg

    pg = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(await pg.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"))
    finally:
        await pg.close()


def spooled_lines(data_dir: Path) -> list[dict[str, Any]]:
    lines = []
    for path in sorted((data_dir / "spool").glob("*.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return lines


async def test_sigkill_and_restart_adopts_reoffers_and_closes(world_factory: Any) -> None:
    w: World = await world_factory(ring_timeout=30)
    await w.ctl.set_phone("admin101", "answer", answer_after=0.3)
    async with writes_blocked(w.db_url):
        bridged = await w.place("+12025550101")
        await until_bridged(w, bridged["call_id"])
        ringing = await w.place("+12025550102")
        gone = await w.place("+12025550103")
        # The bridged pair; a call ringing ben and chen; the third waiting on hold for them.
        await until_ringing(w, 2 + 1 + 2 + 1)
        await w.app.kill()
        # Nothing reached the database; every fact is in the spool, and survives the kill.
        spooled = spooled_lines(w.data_dir)
        started = {line["fact"]["channel_id"] for line in spooled if line["type"] == "CallStarted"}
        assert started == {bridged["channel_id"], ringing["channel_id"], gone["channel_id"]}
        # While the app is dead: one caller gives up; the others wait (bridged, ringing).
        await w.ctl.caller_hangup(gone["call_id"])
    await w.ctl.set_phone("admin102", "answer", answer_after=0.3)
    await w.restart_app()
    # The ringing call is offered again (ben answers this time); the bridged one carries on.
    await until_bridged(w, ringing["call_id"])
    await asyncio.sleep(0.5)
    await w.ctl.caller_hangup(bridged["call_id"])
    await w.ctl.caller_hangup(ringing["call_id"])
    rows = await accounted(
        w,
        {
            bridged["channel_id"]: "answered",
            ringing["channel_id"]: "answered",
            gone["channel_id"]: "interrupted",
        },
    )
    first, second, third = rows[bridged["channel_id"]], rows[ringing["channel_id"]], rows[gone["channel_id"]]
    sim_first = await w.sim_call(bridged["call_id"])
    assert first.admin == "anna" and first.hangup_side == "caller" and len(first.recordings) == 1
    assert abs((first.talk_seconds or 0) - sim_first["talk_seconds"]) < 1.5
    assert first.recordings[0].status == "saved"
    assert second.admin == "ben" and len(second.recordings) == 1
    old_legs = [leg for leg in second.legs if leg.result == "interrupted"]
    assert {leg.admin for leg in old_legs} == {"ben", "chen"}
    assert third.failure_reason == "ended_while_app_down" and third.answered_at is None
    assert all(leg.result for leg in third.legs)
    # The spool was replayed once and then removed; the app's counters say so.
    assert not (w.data_dir / "spool" / "rejected.jsonl").exists()
    leftover = [p for p in (w.data_dir / "spool").glob("*.jsonl")]
    assert len(leftover) == 1  # only the running process's own segment
    resumed = 'clinic_switchboard_total{kind="calls_resumed"}'
    await eventually(w.app.metrics, lambda m: m.get(resumed) == 3, 5, "three calls resumed")


# --------------------------------------------------------------------------- 3. Asterisk restart
async def test_asterisk_restart_closes_open_calls_and_takes_new_ones(world_factory: Any) -> None:
    w: World = await world_factory(ring_timeout=30)
    await w.ctl.set_phone("admin101", "answer", answer_after=0.3)
    talking = await w.place("+12025550111")
    await until_bridged(w, talking["call_id"])
    waiting = await w.place("+12025550112")
    await until_ringing(w, 2 + 1 + 2)  # the bridged pair; the caller waiting and two legs ringing
    t0 = time.monotonic()
    # While it boots Asterisk answers 503; then our app is unknown (404) until its websocket is
    # back: the app must retry both. Two extra 404s stand for a slow registration.
    not_yet = {
        "path_regex": "/applications/clinic$",
        "status": 404,
        "count": 2,
        "message": "Application not found",
    }
    await w.ctl.fault(restart=True, down_for=1.5, reject=not_yet)

    async def closed() -> list[Any]:
        return [await w.store.find_by_channel(p["channel_id"]) for p in (talking, waiting)]

    rows = await eventually(closed, lambda rs: all(r and r.outcome for r in rs), 15, "calls closed")
    # Reconnect follows the 1.5 s boot within the 2 s backoff cap; closing takes well under 5 s.
    assert time.monotonic() - t0 < 1.5 + 2.0 + 5.0
    assert {r.failure_reason for r in rows} == {"asterisk_restarted"}
    assert rows[0].answered_at is not None and rows[0].admin == "anna"
    # Asterisk left the recording unclosed (header sizes 0): rebuilt and archived, marked so.
    talking_rec = await eventually(
        lambda: w.store.find_by_channel(talking["channel_id"]),
        lambda r: bool(r and r.recordings),
        10,
        "recording",
    )
    assert [(r.status, r.duration_seconds > 0) for r in talking_rec.recordings] == [("repaired", True)]
    reqs = [r for r in await w.requests() if r["path"].endswith("/applications/clinic")]
    assert [r["status"] for r in reqs][-3:] == [404, 404, 200]
    # New calls are handled at once.
    after = await w.place("+12025550113", hangup_after=0.5)
    await accounted(
        w,
        {
            talking["channel_id"]: "interrupted",
            waiting["channel_id"]: "interrupted",
            after["channel_id"]: "answered",
        },
    )


async def test_stray_bridges_of_our_calls_are_removed_and_others_kept(world_factory: Any) -> None:
    """A bridge named for one of our calls that no call holds (the app died between storing the
    call's end and deleting its bridge) is removed at the next resync; another app's is not."""
    w: World = await world_factory()
    await w.ctl.set_phone("admin101", "answer", answer_after=0.2)
    placed = await w.place(hangup_after=0.3)
    call = await w.finished(placed["channel_id"])
    await w.quiet()
    client = AriClient(w.sim.ari_url, USER, PASSWORD, "other-app")
    try:
        await client.create_bridge("mixing", name=f"call-{call.id}")
        foreign = await client.create_bridge("mixing", name="call-of-another-application")
        await w.ctl.fault(drop_websocket=True)
        await eventually(
            w.ctl.state,
            lambda s: [b["id"] for b in s["bridges"]] == [foreign.id],
            10,
            "our stray bridge removed",
        )
        await client.destroy_bridge(foreign.id)
    finally:
        await client.close()


# --------------------------------------------------------------------------- 4. PostgreSQL outage
async def test_postgresql_outage_waits_in_the_spool(world_factory: Any, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the outage proxy stands in front of PostgreSQL")
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    port = await proxy.start()
    via_proxy = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    try:
        w: World = await world_factory(ring_timeout=5, db_url=via_proxy, extra=QUICK_QUEUE)
        phones = ("admin101", "admin102", "admin103")
        for name in phones:
            await w.ctl.set_phone(name, "answer", answer_after=0.2)

        async def calls_at_intervals(n: int, first: int) -> list[dict[str, Any]]:
            out = []
            for i in range(n):
                out.append(await w.place(f"+120255502{first + i:02d}", hangup_after=0.5))
                await asyncio.sleep(0.6)
            return out

        async def sim_ended() -> list[dict[str, Any]]:
            return [c for c in await w.ctl.calls() if c["ended_at"]]

        placed = await calls_at_intervals(3, 0)
        # Hold the tables (straight to PostgreSQL, not through the proxy) so that the app's next
        # write waits inside its open transaction, then cut: the connection dies mid-transaction.
        async with writes_blocked(database_url):
            placed.append(await w.place("+12025550209", hangup_after=0.5))
            await eventually(w.app.metrics, lambda m: m["clinic_facts_spooled"] > 0, 5, "a fact waiting")
            await eventually(
                lambda: lock_waiters(database_url), lambda n: n > 0, 5, "the app's write waiting on the lock"
            )
            proxy.cut()
        cut_at = time.monotonic()
        placed += await calls_at_intervals(4, 10)
        await eventually(sim_ended, lambda cs: len(cs) == 8, 20, "answered calls to end during the outage")
        for name in phones:
            await w.ctl.set_phone(name, "no_answer")
        missed = await w.place("+12025550299")
        ended = await eventually(sim_ended, lambda cs: len(cs) == 9, 20, "the missed call to end")
        # Every call was handled and ended while the database was unreachable.
        assert proxy.cut_now
        assert sum(c["caller_result"] == "answered" for c in ended) == 8
        await asyncio.sleep(max(0.0, cut_at + 7.0 - time.monotonic()))  # past the 5 s pool timeout
        waiting = await w.app.metrics()
        assert waiting["clinic_store_waiting_seconds"] > 0 and proxy.swallowed > 0
        proxy.heal()
        expected = {p["channel_id"]: "answered" for p in placed} | {missed["channel_id"]: "missed"}
        await accounted(w, expected)
        assert proxy.dropped > 0
        assert "closed in the middle of operation" in w.app.log()  # cut inside a transaction
    finally:
        await proxy.close()


# --------------------------------------------------------------------------- 5. bad frames
def lag_over(metrics: dict[str, float], limit: str = "0.05") -> float:
    total = metrics["clinic_event_loop_lag_seconds_count"]
    return total - metrics[f'clinic_event_loop_lag_seconds_bucket{{le="{limit}"}}']


async def test_bad_frames_are_counted_skipped_and_never_stall_the_loop(world_factory: Any) -> None:
    w: World = await world_factory()
    await w.ctl.set_phone("admin101", "answer", answer_after=0.3)
    placed = await w.place(hangup_after=2.0)
    await until_bridged(w, placed["call_id"])
    before = await w.app.metrics()
    inbound = placed["channel_id"]
    state = await w.ctl.state()
    channel = next(ch for ch in state["channels"] if ch["id"] == inbound)
    base = {"application": "clinic", "timestamp": "2026-12-02T10:00:00.000+0000", "asterisk_id": "x"}
    stray = {**channel, "id": "stray-1", "state": "Down"}
    frames = [
        "\x00\x01garbage",
        '{"type": "StasisStart", "application": "clinic", "channel": {"id": ',  # cut short
        json.dumps({**base, "type": "ChannelTeleported", "channel": channel}),  # unknown type
        json.dumps({**base, "type": "ChannelDestroyed", "cause": 16, "cause_txt": "x", "channel": stray}),
        json.dumps({**base, "type": "StasisStart", "args": ["5551234"], "channel": {**stray, "state": "Up"}}),
        json.dumps({**base, "type": "StasisStart", "args": ["5551234"], "channel": channel}),  # duplicate
        json.dumps({**base, "type": "ChannelVarset", "variable": "X", "value": "1", "channel": channel}),
        json.dumps({**base, "type": "ChannelVarset", "variable": "X", "value": "1", "channel": channel}),
        '{"type": "ChannelDtmfReceived", "digit": "' + "9" * (10 * 1024 * 1024) + '"}',  # 10 MB
    ]
    await w.ctl.fault(send_frames=frames)
    rows = await accounted(w, {inbound: "answered"})
    assert rows[inbound].hangup_side == "caller" and len(rows[inbound].recordings) == 1
    after = await w.app.metrics()
    bad = {k: after[k] - before.get(k, 0) for k in after if k.startswith("clinic_ari_bad_frames_total")}
    assert bad['clinic_ari_bad_frames_total{kind="malformed"}'] >= 2
    assert bad['clinic_ari_bad_frames_total{kind="unknown"}'] >= 1
    assert bad['clinic_ari_bad_frames_total{kind="oversize"}'] >= 1
    assert after['clinic_switchboard_total{kind="unrouted"}'] >= 1  # the early ChannelDestroyed
    assert after['clinic_switchboard_total{kind="stale_starts"}'] == 1  # and the StasisStart after it
    assert lag_over(after) - lag_over(before) == 0, "the event loop stalled over 50 ms"
    assert (await w.app.health())[0] == 200


# --------------------------------------------------------------------------- 6. nothing kept forever
SWEEP = "sweep_interval = 0.5\nsweep_idle = 1.5"


async def test_sweep_closes_a_call_whose_end_was_never_seen(world_factory: Any) -> None:
    w: World = await world_factory(calls_extra=SWEEP)
    await w.ctl.set_phone("admin101", "answer", answer_after=0.3)
    placed = await w.place()
    await until_bridged(w, placed["call_id"])
    # Every event is lost for 1 s, on a websocket that stays up: the caller's hang-up is unseen.
    await w.ctl.fault(lose_events={"for": 1.0})
    await w.ctl.caller_hangup(placed["call_id"])
    rows = await accounted(w, {placed["channel_id"]: "answered"})
    assert rows[placed["channel_id"]].hangup_side == "caller"
    swept = 'clinic_switchboard_total{kind="calls_swept"}'
    await eventually(w.app.metrics, lambda m: m.get(swept, 0) >= 1, 5, "a call swept")
    await eventually(w.app.metrics, lambda m: m["clinic_calls_tracked"] == 0, 5, "nothing tracked")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# SQLite (the embedded default) in CI, for time; SOAK_MEMORY_DATABASES=sqlite,postgresql runs both.
SOAK_MEMORY_DATABASES = os.environ.get("SOAK_MEMORY_DATABASES", "sqlite").split(",")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
@pytest.mark.parametrize("database_url", SOAK_MEMORY_DATABASES, indirect=True)
async def test_soak_memory_stays_flat(world_factory: Any) -> None:
    """A clinic's 8-hour day, compressed: 1,200 calls (about 150 an hour for 8 hours) at 40 a
    second, simulated time running 20x, a share of them with events lost on the way."""
    w: World = await world_factory(calls_extra=SWEEP, sim_args=["--time-scale", "20"], extra=QUICK_QUEUE)
    for name in ("admin101", "admin102", "admin103"):
        await w.ctl.set_phone(name, "answer", answer_after=2.0)
    pid = w.app.proc.pid

    async def held() -> dict[str, float]:
        m = await w.app.metrics()
        return {k: v for k, v in m.items() if "tracked" in k or "spooled" in k or "switchboard_total" in k}

    samples: list[int] = []
    placed: list[dict[str, Any]] = []
    for batch in range(12):
        for i in range(100):
            n = batch * 100 + i
            share = n % 10
            # Mostly short talks; some callers give up at once; some talk long.
            extra: dict[str, Any] = (
                {"hangup_after": 60.0}
                if share < 7
                else {"abandon_after": 1.0}
                if share < 9
                else {"hangup_after": 200.0}
            )
            placed.append(await w.place(f"+1202556{n:04d}", **extra))
            await asyncio.sleep(0.025)
        if batch == 5:
            await w.ctl.fault(lose_events={"for": 0.5, "types": ["ChannelDestroyed", "StasisEnd"]})
        await eventually(held, lambda m: m["clinic_calls_tracked"] < 150, 60, "calls to drain")
        samples.append(rss_kib(pid))
    final = await eventually(held, lambda m: m["clinic_calls_tracked"] == 0, 60, "all calls done")
    await w.quiet(30)
    kinds = ("calls", "index", "timers", "desk_legs", "call_facts", "screenpop_calls", "screenpop_reads")
    for kind in (*kinds, "ring_gates", "wallboard_calls"):
        assert final[f'clinic_tracked_objects{{kind="{kind}"}}'] == 0, kind

    async def rows() -> tuple[int, int]:
        async with w.db.session() as s:
            still_open = await s.scalar(select(func.count()).select_from(Call).where(Call.outcome.is_(None)))
            return int(still_open or 0), int(await s.scalar(select(func.count()).select_from(Call)) or 0)

    # The last facts may still be on their way from the spool to the database (written off the
    # call path, in order): every row ends closed, one per placed call.
    assert await eventually(rows, lambda r: r[0] == 0, 30, "every call row closed") == (0, len(placed))
    # After warm-up (the first quarter), memory does not keep growing with the calls handled.
    warm = samples[2]
    growth_mb = (max(samples[3:]) - warm) / 1024
    print(f"soak RSS after each 100 calls (KiB): {samples}")
    assert growth_mb < 15, f"RSS grew {growth_mb:.1f} MB after warm-up: {samples}"
