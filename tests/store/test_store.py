"""The store on SQLite and PostgreSQL: lifecycle, idempotent replays, first end wins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ari_app.facts.types import CallEnded, CallStarted
from ari_app.numbers import Regions
from ari_app.store import CallStore, Database

T0 = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)


@pytest.fixture
async def store(clean_database_url: str):
    db = Database(clean_database_url)
    await db.migrate()
    await db.migrate()  # a second run is a no-op
    yield CallStore(db)
    await db.dispose()


async def _answered_call(store: CallStore, call_id: str, channel: str) -> None:
    await store.call_started(
        call_id=call_id, channel_id=channel, caller_number="2025550142", caller_e164="+12025550142",
        caller_name="", did="5551234", branch="downtown", ad_channel="website", started_at=T0,
    )  # fmt: skip
    for leg, admin in (("leg-a", "anna"), ("leg-b", "ben")):
        await store.leg_created(
            call_id=call_id, leg_id=f"{call_id}-{leg}", admin=admin, endpoint=f"PJSIP/{admin}", created_at=T0
        )
        await store.leg_updated(f"{call_id}-{leg}", dialed_at=T0 + timedelta(seconds=0.1))
    await store.leg_updated(f"{call_id}-leg-a", answered_at=T0 + timedelta(seconds=4))
    await store.call_answered(call_id, admin="anna", answered_at=T0 + timedelta(seconds=4))
    await store.leg_ended(f"{call_id}-leg-b", result="lost", ended_at=T0 + timedelta(seconds=4), cause=16)
    await store.call_ended(
        call_id, outcome="answered", ended_at=T0 + timedelta(seconds=64), hangup_side="caller"
    )
    await store.leg_ended(f"{call_id}-leg-a", result="answered", ended_at=T0 + timedelta(seconds=64))
    await store.recording_saved(
        call_id, name=f"call-{call_id}", fmt="wav", path="2026/11/22/x.wav", duration_seconds=60.0,
        size_bytes=960044, sha256="0" * 64,
    )  # fmt: skip


async def test_answered_call_lifecycle_and_replay(store: CallStore) -> None:
    call_id = str(uuid.uuid4())
    await _answered_call(store, call_id, "1795344977.12")
    first = await store.get_call(call_id)
    await _answered_call(store, call_id, "1795344977.12")  # every fact replayed
    again = await store.get_call(call_id)
    assert first == again and first is not None
    assert (first.outcome, first.admin, first.wait_seconds, first.talk_seconds) == (
        "answered",
        "anna",
        4.0,
        60.0,
    )
    assert first.started_at == T0 and first.started_at.tzinfo is not None
    assert {leg.admin: leg.result for leg in first.legs} == {"anna": "answered", "ben": "lost"}
    assert len(first.recordings) == 1 and first.recordings[0].status == "saved"
    assert (await store.find_by_channel("1795344977.12")) == first
    assert (await store.outcome_counts())["recorded"] == 1


async def test_first_end_wins_and_missed_wait(store: CallStore) -> None:
    call_id = str(uuid.uuid4())
    await store.call_started(
        call_id=call_id, channel_id="c1", caller_number="anonymous", caller_e164=None, caller_name="",
        did="5551234", branch=None, ad_channel=None, started_at=T0,
    )  # fmt: skip
    assert [c.id for c in await store.open_calls()] == [call_id]
    await store.call_ended(call_id, outcome="missed", ended_at=T0 + timedelta(seconds=22))
    await store.call_ended(call_id, outcome="interrupted", ended_at=T0 + timedelta(seconds=99))
    call = await store.get_call(call_id)
    assert call is not None and (call.outcome, call.wait_seconds, call.talk_seconds) == ("missed", 22.0, None)
    assert await store.open_calls() == []


async def test_first_leg_facts_win(store: CallStore) -> None:
    call_id = str(uuid.uuid4())
    await store.call_started(
        call_id=call_id, channel_id="c2", caller_number="1", caller_e164=None, caller_name="",
        did="5551234", branch=None, ad_channel=None, started_at=T0,
    )  # fmt: skip
    await store.leg_created(call_id=call_id, leg_id="l1", admin="anna", endpoint="PJSIP/anna", created_at=T0)
    await store.leg_created(call_id=call_id, leg_id="l1", admin="other", endpoint="PJSIP/x", created_at=T0)
    await store.leg_updated("l1", ringing_at=T0 + timedelta(seconds=1))
    await store.leg_updated("l1", ringing_at=T0 + timedelta(seconds=5), dialed_at=T0)
    await store.leg_ended("l1", result="busy", ended_at=T0 + timedelta(seconds=2), cause=17)
    await store.leg_ended("l1", result="failed", ended_at=T0 + timedelta(seconds=8), cause=38)
    await store.leg_updated("nope", dialed_at=T0)  # an unknown leg is no error: nothing to update
    call = await store.get_call(call_id)
    assert call is not None and len(call.legs) == 1
    leg = call.legs[0]
    assert (leg.admin, leg.dialed_at, leg.ringing_at) == ("anna", T0, T0 + timedelta(seconds=1))
    assert (leg.result, leg.ended_at, leg.cause) == ("busy", T0 + timedelta(seconds=2), 17)


async def test_listing_and_counts(store: CallStore) -> None:
    ids = []
    for n, outcome in enumerate(["answered", "missed", "abandoned", "missed"]):
        cid = str(uuid.uuid4())
        ids.append(cid)
        at = T0 + timedelta(minutes=n)
        await store.call_started(
            call_id=cid, channel_id=f"ch{n}", caller_number="1", caller_e164=None, caller_name="",
            did="5551234", branch="b", ad_channel=None, started_at=at,
        )  # fmt: skip
        await store.call_ended(cid, outcome=outcome, ended_at=at + timedelta(seconds=5))
    await store.recording_failed(ids[0], name="r0", fmt="wav", error="download: 404")
    assert [c.id for c in await store.list_calls(limit=10)] == ids[::-1]
    assert [c.id for c in await store.list_calls(outcome="missed")] == [ids[3], ids[1]]
    assert [c.id for c in await store.list_calls(before=T0 + timedelta(minutes=1))] == [ids[0]]
    counts = await store.outcome_counts()
    assert counts == {"answered": 1, "missed": 2, "abandoned": 1, "recorded": 0}
    assert (await store.outcome_counts(since=T0 + timedelta(minutes=2)))["missed"] == 1


async def test_batch_is_one_transaction(store: CallStore) -> None:
    call_id = str(uuid.uuid4())
    with pytest.raises(RuntimeError):
        async with store.batch():
            await store.call_started(
                call_id=call_id, channel_id="b1", caller_number="1", caller_e164=None, caller_name="",
                did="5551234", branch="b", ad_channel=None, started_at=T0,
            )  # fmt: skip
            raise RuntimeError("the batch fails")
    assert await store.get_call(call_id) is None  # nothing of a failed batch lands
    async with store.batch():
        await store.call_started(
            call_id=call_id, channel_id="b1", caller_number="1", caller_e164=None, caller_name="",
            did="5551234", branch="b", ad_channel=None, started_at=T0,
        )  # fmt: skip
        # The end sees the start written earlier in the same transaction.
        await store.call_ended(call_id, outcome="missed", ended_at=T0 + timedelta(seconds=9))
    call = await store.get_call(call_id)
    assert call is not None and (call.outcome, call.wait_seconds) == ("missed", 9.0)


async def test_fact_writer_batches_onto_the_real_store(store: CallStore) -> None:
    import asyncio

    from ari_app.facts.writer import FactWriter

    writer = FactWriter(store, Regions("US"))
    ids = [str(uuid.uuid4()) for _ in range(30)]
    for n, cid in enumerate(ids):
        writer.submit(CallStarted(cid, f"fw{n}", "2025550142", "", "5551234", "b", None, T0))
        writer.submit(CallEnded(cid, "abandoned", T0 + timedelta(seconds=3), "caller", 127))
    task = asyncio.create_task(writer.run())
    assert await writer.drain(10)
    task.cancel()
    calls = [await store.get_call(cid) for cid in ids]
    assert all(
        call is not None and call.outcome == "abandoned" and call.caller_e164 == "+12025550142"
        for call in calls
    )
