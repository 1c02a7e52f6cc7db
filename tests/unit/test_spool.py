"""The fact spool: accepted facts survive a process's death and are replayed exactly once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ari_app.facts.spool import BadLine, FactSpool, Spooled, SpoolError
from ari_app.facts.types import CallAnswered, CallEnded, CallStarted, LegEnded, LegProgress
from ari_app.facts.writer import FactWriter
from ari_app.numbers import Regions
from ari_app.store import CallStore

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 2, 9, 1, tzinfo=UTC)


def started(call_id: str) -> CallStarted:
    return CallStarted(call_id, f"ch-{call_id}", "2025550142", "", "5551234", "downtown", None, T0)


async def test_a_killed_process_facts_are_replayed_exactly_once(tmp_path: Path, store: CallStore) -> None:
    # First process: two facts reach the database, the third only the spool; then it dies
    # (no clean stop: its segment and lock are simply left behind).
    first = FactSpool(tmp_path / "spool")
    first.open()
    writer = FactWriter(store, Regions("US"), spool=first)
    task = asyncio.create_task(writer.run())
    writer.submit(started("k1"))
    writer.submit(CallAnswered("k1", "anna", T0))
    assert await writer.drain(5)
    task.cancel()
    writer.submit(CallEnded("k1", "answered", T1, "caller"))
    first.flush()
    segment = first.segment
    first.close()
    assert await store.spool_position(segment) == 2
    assert (await store.get_call("k1")).outcome is None  # type: ignore[union-attr]

    # Second process: replays what the database lacks, once, then drops the segment.
    second = FactSpool(tmp_path / "spool")
    second.open()
    applied: list[str] = []
    writer2 = FactWriter(store, Regions("US"), spool=second)
    writer2.on_written = lambda f: applied.append(type(f).__name__)
    task2 = asyncio.create_task(writer2.run())
    assert await writer2.replay() == 1
    assert applied == ["CallEnded"]
    call = await store.get_call("k1")
    assert call is not None and call.outcome == "answered" and call.talk_seconds == 60.0
    assert not (tmp_path / "spool" / f"{segment}.jsonl").exists()
    assert await store.spool_position(segment) == 0
    assert await writer2.replay() == 0  # nothing left to replay
    task2.cancel()
    await writer2.finish(5)
    assert not list((tmp_path / "spool").glob("*.jsonl"))  # a clean stop leaves no segment


async def test_a_fact_refused_for_good_is_set_aside_and_not_replayed(
    tmp_path: Path, store: CallStore
) -> None:
    spool = FactSpool(tmp_path / "spool")
    spool.open()
    writer = FactWriter(store, Regions("US"), spool=spool, retry_initial=0.001, retry_max=0.002)
    task = asyncio.create_task(writer.run())
    writer.submit(CallEnded("nobody", "missed", T0))  # no such call: refused every time
    assert await writer.drain(5)
    task.cancel()
    rejected = [json.loads(line) for line in (tmp_path / "spool" / "rejected.jsonl").read_text().splitlines()]
    assert [r["type"] for r in rejected] == ["CallEnded"] and rejected[0]["fact"]["call_id"] == "nobody"
    assert await store.spool_position(spool.segment) == 1  # a restart will not replay it


def test_one_process_per_spool(tmp_path: Path) -> None:
    first = FactSpool(tmp_path / "spool")
    first.open()
    try:
        with pytest.raises(SpoolError, match="in use by another process"):
            FactSpool(tmp_path / "spool").open()
    finally:
        first.close()


def test_a_line_cut_short_is_reported_and_skipped(tmp_path: Path) -> None:
    spool = FactSpool(tmp_path / "spool")
    spool.open()
    spool.append(started("k1"))
    spool.append(CallAnswered("k1", "anna", T0))
    spool.flush()
    spool.close()
    path = tmp_path / "spool" / f"{spool.segment}.jsonl"
    path.write_bytes(path.read_bytes()[:-20])  # the last write cut short (a power loss)
    items = list(FactSpool(tmp_path / "spool").read(spool.segment))
    assert isinstance(items[0], Spooled) and items[0].fact == started("k1") and items[0].seq == 1
    assert isinstance(items[1], BadLine) and items[1].line_no == 2
    assert path.stat().st_mode & 0o077 == 0


def test_leg_facts_spooled_before_they_carried_their_call_still_replay(tmp_path: Path) -> None:
    # As an earlier version wrote them: leg facts without a call id.
    (tmp_path / "spool").mkdir(mode=0o700)
    (tmp_path / "spool" / "old.jsonl").write_text(
        '{"seq":1,"type":"LegProgress","fact":{"leg_id":"leg1","dialed_at":"2026-12-02T09:00:00Z",'
        '"ringing_at":null,"answered_at":null}}\n'
        '{"seq":2,"type":"LegEnded","fact":{"leg_id":"leg1","result":"busy","at":"2026-12-02T09:01:00Z",'
        '"cause":17}}\n'
        '{"seq":3,"type":"LegEnded","fact":{"result":"busy","at":"2026-12-02T09:01:00Z"}}\n'
    )
    items = list(FactSpool(tmp_path / "spool").read("old"))
    assert [item.fact for item in items[:2] if isinstance(item, Spooled)] == [
        LegProgress("", "leg1", dialed_at=T0),
        LegEnded("", "leg1", "busy", T1, 17),
    ]
    assert isinstance(items[2], BadLine) and "leg_id" in items[2].error  # still missing a field
