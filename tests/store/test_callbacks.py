"""Callback tasks and the routing facts, on SQLite and PostgreSQL: one task per number, the
status a task may move to, and the HTTP endpoints that serve them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from ari_app.api.http import HealthState, build_api
from ari_app.numbers import to_e164
from ari_app.store import CallStore, Database

T0 = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
TOKEN = "s3cret-token"


@pytest.fixture
async def store(clean_database_url: str) -> AsyncIterator[CallStore]:
    db = Database(clean_database_url)
    await db.migrate()
    try:
        yield CallStore(db)
    finally:
        await db.dispose()


async def _call(store: CallStore, number: str = "2025550142", at: datetime = T0) -> str:
    call_id = str(uuid.uuid4())
    await store.call_started(
        call_id=call_id, channel_id=f"ch-{call_id}", caller_number=number,
        caller_e164=to_e164(number, "US"), caller_name="", did="5551234", branch="downtown",
        ad_channel=None, started_at=at,
    )  # fmt: skip
    return call_id


async def _missed(
    store: CallStore,
    number: str = "2025550142",
    at: datetime = T0,
    reason: str = "abandoned",
    merge_minutes: int = 60,
) -> tuple[str, str]:
    """A call from ``number`` that needs a callback: (call id, task id)."""
    call_id = await _call(store, number, at)
    await store.call_ended(call_id, outcome="abandoned", ended_at=at + timedelta(seconds=30))
    task_id = await store.callback_needed(
        call_id, number=number, number_e164=to_e164(number, "US"), branch="downtown", reason=reason,
        due_at=at + timedelta(minutes=15), at=at + timedelta(seconds=30), merge_minutes=merge_minutes,
    )  # fmt: skip
    return call_id, task_id


async def test_missed_calls_of_one_number_within_the_window_make_one_task(store: CallStore) -> None:
    first, task_id = await _missed(store, at=T0, reason="no_admins")
    second, again = await _missed(store, at=T0 + timedelta(minutes=40), reason="max_wait")
    assert again == task_id
    task = await store.get_callback(task_id)
    assert task is not None
    assert (task.status, task.attempts, task.call_ids) == ("new", 2, [first, second])
    assert task.due_at == T0 + timedelta(minutes=15)  # the earliest
    assert task.reason == "max_wait"  # the latest
    assert task.last_call_at == T0 + timedelta(minutes=40, seconds=30)
    assert task.created_at == T0 + timedelta(seconds=30)
    assert (task.number, task.number_e164, task.branch) == ("2025550142", "+12025550142", "downtown")
    call = await store.get_call(second)
    assert call is not None and call.callback_task_id == task_id

    # A replayed fact changes nothing.
    replayed = await store.callback_needed(
        second, number="2025550142", number_e164="+12025550142", branch="downtown", reason="failed",
        due_at=T0, at=T0 + timedelta(minutes=40, seconds=30),
    )  # fmt: skip
    assert replayed == task_id and await store.get_callback(task_id) == task

    # 61 minutes after the task was last hit: a new task.
    third, other = await _missed(store, at=T0 + timedelta(minutes=101, seconds=30))
    assert other != task_id
    new = await store.get_callback(other)
    assert new is not None and (new.attempts, new.call_ids) == (1, [third])
    assert (await store.get_callback(task_id)).attempts == 2  # type: ignore[union-attr]


async def test_a_closed_task_is_not_merged_into(store: CallStore) -> None:
    _, task_id = await _missed(store)
    await store.set_callback_status(task_id, "closed")
    _, other = await _missed(store, at=T0 + timedelta(minutes=5))
    assert other != task_id
    # A task worked while still open ("read") still takes the number's calls.
    await store.set_callback_status(other, "read")
    _, same = await _missed(store, at=T0 + timedelta(minutes=10))
    assert same == other


async def test_the_same_number_written_differently_merges(store: CallStore) -> None:
    _, task_id = await _missed(store, number="+1 202 555 0142")
    _, again = await _missed(store, number="2025550142", at=T0 + timedelta(minutes=1))
    _, other = await _missed(store, number="2025550143", at=T0 + timedelta(minutes=2))
    assert again == task_id and other != task_id
    # Numbers that do not parse are compared as given.
    _, anon = await _missed(store, number="anonymous", at=T0 + timedelta(minutes=3))
    _, anon2 = await _missed(store, number="anonymous", at=T0 + timedelta(minutes=4))
    assert anon == anon2 and anon not in (task_id, other)


async def test_merge_window_is_configurable(store: CallStore) -> None:
    _, task_id = await _missed(store, merge_minutes=10)
    _, other = await _missed(store, at=T0 + timedelta(minutes=11), merge_minutes=10)
    assert other != task_id


async def test_status_transitions_and_reopen(store: CallStore) -> None:
    _, task_id = await _missed(store)
    read = await store.set_callback_status(task_id, "read")
    assert read is not None and read.status == "read"
    with pytest.raises(
        ValueError, match=r"status read cannot change to new \(allowed: answered, handled_outside, closed"
    ):
        await store.set_callback_status(task_id, "new")
    assert (await store.set_callback_status(task_id, "closed")).status == "closed"  # type: ignore[union-attr]
    assert (await store.set_callback_status(task_id, "closed")).status == "closed"  # type: ignore[union-attr]
    assert (await store.set_callback_status(task_id, "new")).status == "new"  # type: ignore[union-attr]
    assert (await store.set_callback_status(task_id, "answered")).status == "answered"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match=r"status answered cannot change to new \(answered is final\)"):
        await store.set_callback_status(task_id, "new")
    with pytest.raises(ValueError, match="unknown status 'done'"):
        await store.set_callback_status(task_id, "done")
    assert await store.set_callback_status(str(uuid.uuid4()), "closed") is None
    for final in ("handled_outside", "rejected"):
        _, other = await _missed(store, number=f"20255501{len(final)}", at=T0)
        assert (await store.set_callback_status(other, final)).status == final  # type: ignore[union-attr]


async def test_list_open_tasks_soonest_due_first(store: CallStore) -> None:
    _, late = await _missed(store, number="2025550101", at=T0 + timedelta(minutes=30))
    _, soon = await _missed(store, number="2025550102", at=T0)
    _, done = await _missed(store, number="2025550103", at=T0 + timedelta(minutes=5))
    await store.set_callback_status(done, "rejected")
    assert [t.id for t in await store.list_callbacks()] == [soon, late, done]
    assert [t.id for t in await store.list_callbacks(status="open")] == [soon, late]
    assert [t.id for t in await store.list_callbacks(status="rejected")] == [done]
    assert [t.id for t in await store.list_callbacks(limit=1)] == [soon]
    assert await store.list_callbacks(branch="uptown") == []
    assert len(await store.list_callbacks(branch="downtown")) == 3


async def test_routing_facts_on_the_call(store: CallStore) -> None:
    call_id = await _call(store)
    await store.notice_played(call_id, at=T0)
    await store.topic_chosen(call_id, topic="billing", at=T0)
    await store.topic_chosen(call_id, topic="other", at=T0 + timedelta(seconds=1))  # the first wins
    await store.call_queued(call_id, at=T0 + timedelta(seconds=5))
    await store.call_queued(call_id, at=T0 + timedelta(seconds=50))
    for n, to in enumerate(("admin:ben", "group:billing")):
        await store.call_transferred(call_id, from_admin="anna", to=to, at=T0 + timedelta(minutes=n + 1))
    await store.call_transferred(call_id, from_admin="anna", to="admin:ben", at=T0 + timedelta(minutes=1))
    call = await store.get_call(call_id)
    assert call is not None
    assert (call.notice_played, call.topic, call.queued_at, call.transfers, call.callback_task_id) == (
        True,
        "billing",
        T0 + timedelta(seconds=5),
        2,
        None,
    )
    fresh = await store.get_call(await _call(store))
    assert fresh is not None and (fresh.notice_played, fresh.topic, fresh.transfers) == (False, None, 0)


async def test_facts_of_a_call_not_stored_yet_are_refused(store: CallStore) -> None:
    nobody = str(uuid.uuid4())
    for write in (
        lambda: store.notice_played(nobody, at=T0),
        lambda: store.topic_chosen(nobody, topic="x", at=T0),
        lambda: store.call_queued(nobody, at=T0),
        lambda: store.call_transferred(nobody, from_admin="anna", to="admin:ben", at=T0),
        lambda: store.callback_needed(
            nobody, number="1", number_e164=None, branch=None, reason="failed", due_at=T0, at=T0
        ),
    ):
        with pytest.raises(LookupError, match="not stored yet"):
            await write()
    assert await store.list_callbacks() == []


# ------------------------------------------------------------------ HTTP


@pytest.fixture
async def client(store: CallStore, tmp_path: Path) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = build_api(
        store, lambda: HealthState(True, True, 0, 0), CollectorRegistry(), [TOKEN], tmp_path / "rec"
    )
    async with TestClient(TestServer(app)) as client:
        yield client


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_callback_endpoints(store: CallStore, client: TestClient[web.Request, web.Application]) -> None:
    call_id, task_id = await _missed(store)
    await store.topic_chosen(call_id, topic="billing", at=T0)
    for method, path in (
        ("GET", "/api/callbacks"),
        ("GET", f"/api/callbacks/{task_id}"),
        ("POST", f"/api/callbacks/{task_id}/status"),
    ):
        async with client.request(method, path, json={"status": "closed"}) as r:
            assert r.status == 401
    assert (await store.get_callback(task_id)).status == "new"  # type: ignore[union-attr]

    async with client.get("/api/callbacks", params={"status": "open"}, headers=AUTH) as r:
        assert r.status == 200
        body = await r.json()
    [listed] = body["callbacks"]
    assert (listed["id"], listed["attempts"], listed["call_ids"]) == (task_id, 1, [call_id])
    assert listed["due_at"] == (T0 + timedelta(minutes=15)).isoformat()
    for query in ({"status": "done"}, {"limit": "0"}, {"limit": "x"}):
        async with client.get("/api/callbacks", params=query, headers=AUTH) as r:
            assert r.status == 400

    async with client.get(f"/api/callbacks/{task_id}", headers=AUTH) as r:
        assert r.status == 200 and (await r.json())["status"] == "new"
    async with client.get(f"/api/callbacks/{uuid.uuid4()}", headers=AUTH) as r:
        assert r.status == 404 and (await r.json())["error"] == "callback_not_found"

    status_url = f"/api/callbacks/{task_id}/status"
    async with client.post(status_url, json={"status": "answered"}, headers=AUTH) as r:
        assert r.status == 200
        assert (await r.json())["status"] == "answered"
    async with client.post(status_url, json={"status": "new"}, headers=AUTH) as r:
        assert r.status == 400
        assert await r.json() == {
            "error": "bad_transition",
            "detail": "status answered cannot change to new (answered is final)",
        }
    for bad in ({"status": "done"}, {"state": "closed"}):
        async with client.post(status_url, json=bad, headers=AUTH) as r:
            assert r.status == 400 and (await r.json())["error"] == "bad_status"
    for body in (b"{", b'["closed"]'):
        async with client.post(status_url, data=body, headers=AUTH) as r:
            assert r.status == 400 and (await r.json())["error"] == "bad_json"
    async with client.post(
        f"/api/callbacks/{uuid.uuid4()}/status", json={"status": "closed"}, headers=AUTH
    ) as r:
        assert r.status == 404

    # The call's new fields are in the call history.
    async with client.get("/api/calls", headers=AUTH) as r:
        [call] = (await r.json())["calls"]
    assert (call["topic"], call["notice_played"], call["queued_at"], call["transfers"]) == (
        "billing",
        False,
        None,
        0,
    )
    assert call["callback_task_id"] == task_id
