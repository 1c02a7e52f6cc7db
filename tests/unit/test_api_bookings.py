"""``/api/bookings/events``, ``/api/calls/{id}/opportunity`` and ``/api/reports/classification`` as
the app serves them (SQLite): bearer or signed, every refusal a stable id, an event recorded once."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ari_app.bookings.signature import sign
from ari_app.store import CallStore
from tests.api_client import AUTH, NOW, Client, api_client

SECRET = "bookings-secret-0123456789abcdef0123"
PATH = "/api/bookings/events"


def _event(**more: Any) -> dict[str, Any]:
    return {"event_id": f"e-{uuid.uuid4()}", "kind": "created", "booking_id": "b-1",
            "patient_external_id": "p-unknown", "happened_at": "2026-12-02T14:50:00+01:00",
            "appointment_at": "2026-12-09T10:00:00Z", "doctor": "Dr Ray", "topic": "booking",
            "branch": "downtown", "admin": "anna", **more}  # fmt: skip


@pytest.fixture
async def client(store: CallStore, tmp_path: Path) -> AsyncIterator[Client]:
    async with api_client(store, tmp_path / "recordings", bookings_secret=SECRET) as client:
        yield client


async def _post(client: Client, raw: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async with client.post(PATH, data=raw, headers={"Content-Type": "application/json", **headers}) as r:
        return r.status, await r.json()


async def _send(client: Client, body: Any) -> tuple[int, Any]:
    return await _post(client, json.dumps(body).encode(), AUTH)


def _signed(raw: bytes, at: float | None = None, secret: str = SECRET) -> dict[str, str]:
    return {"X-Signature": sign(secret, int(time.time() if at is None else at), raw)}


async def test_bearer_and_signature(client: Client) -> None:
    raw = json.dumps(_event()).encode()
    assert (await _post(client, raw, {}))[1]["error"] == "unauthenticated"
    assert (await _post(client, raw, {"Authorization": "Bearer wrong-token-0123456789"}))[0] == 403
    refused = {
        "wrong secret": (_signed(raw, secret="x" * 40), "bad_signature"),
        "stale": (_signed(raw, time.time() - 301), "stale_signature"),
        "from the future": (_signed(raw, time.time() + 301), "stale_signature"),
        "malformed": ({"X-Signature": "v1=abc"}, "bad_signature"),
        "not hex": ({"X-Signature": f"t={int(time.time())},v1={'z' * 64}"}, "bad_signature"),
        "body changed": (_signed(raw), "bad_signature"),
    }
    for case, (headers, error) in refused.items():
        sent = raw.replace(b"Dr Ray", b"Dr Roy") if case == "body changed" else raw
        status, body = await _post(client, sent, headers)
        assert (case, status, body["error"]) == (case, 401, error)
    status, body = await _post(client, raw, _signed(raw))
    assert (status, body["result"]) == (201, "recorded")
    status, body = await _post(client, raw, AUTH)
    assert (status, body["result"]) == (200, "duplicate")


async def test_refusals_name_the_problem(client: Client) -> None:
    status, body = await _send(client, _event(happened_at="2026-12-02T14:50:00"))
    assert (status, body["error"], body["errors"][0]["field"]) == (400, "invalid_fields", "happened_at")
    status, body = await _send(client, {"events": [_event(), _event(appointment_at="2026-12-09 10:00")]})
    assert (status, body["errors"][0]["field"]) == (400, "events.1.appointment_at")
    assert (await _send(client, _event(colour="red")))[1]["errors"][0]["field"] == "colour"
    assert (await _send(client, _event(kind="deleted")))[1]["errors"][0]["field"] == "kind"
    assert (await _send(client, _event(doctor="D" * 201)))[1]["errors"][0]["field"] == "doctor"
    assert (await _post(client, b'{"event_id": ', AUTH))[1]["error"] == "bad_json"
    status, body = await _send(client, {"events": [_event() for _ in range(1001)]})
    assert (status, body["error"]) == (400, "too_many_items")


async def test_idempotent_and_conflicting(client: Client) -> None:
    event = _event()
    status, body = await _send(client, event)
    assert (status, body) == (
        201,
        {"event_id": event["event_id"], "result": "recorded", "patient_known": False, "linked_call_id": None},
    )
    assert (await _send(client, event))[1]["result"] == "duplicate"
    # The same instant written in another offset is the same event.
    assert (await _send(client, {**event, "happened_at": "2026-12-02T13:50:00Z"}))[1]["result"] == "duplicate"
    status, body = await _send(client, {"events": [_event(), {**event, "doctor": "Dr Other"}]})
    assert (status, body["error"]) == (409, "event_conflict")
    other = _event()
    status, body = await _send(client, {"events": [event, other]})
    assert (status, body["recorded"], body["duplicates"]) == (201, 1, 1)
    assert [r["result"] for r in body["results"]] == ["duplicate", "recorded"]


async def _call(store: CallStore) -> str:
    call_id = str(uuid.uuid4())
    await store.call_started(
        call_id=call_id, channel_id=f"ch-{call_id}", caller_number="5551234567", caller_e164="+15551234567",
        caller_name="", did="5551234", branch="downtown", ad_channel=None,
        started_at=NOW - timedelta(minutes=9),
    )  # fmt: skip
    await store.call_answered(call_id, admin="anna", answered_at=NOW - timedelta(minutes=8))
    await store.call_ended(call_id, outcome="answered", ended_at=NOW - timedelta(minutes=3))
    return call_id


async def test_opportunity_corrected_and_the_report(client: Client, store: CallStore) -> None:
    calls = [await _call(store) for _ in range(3)]
    comment = {"caller_type": "patient_to_book", "topic": "booking", "author": "anna"}
    for call_id in calls:  # the comment's save classifies the call
        async with client.put(f"/api/calls/{call_id}/comment", json=comment, headers=AUTH) as r:
            assert r.status == 200
    path = f"/api/calls/{calls[0]}/opportunity"
    async with client.put(path, json={"opportunity": "current", "by": "anna"}, headers=AUTH) as r:
        assert (r.status, await r.json()) == (
            200,
            {"call_id": calls[0], "opportunity": "new", "opportunity_reason": "unknown_if_visited_before",
             "opportunity_chosen": "current", "opportunity_chosen_by": "anna"},
        )  # fmt: skip
    async with client.put(
        f"/api/calls/{calls[1]}/opportunity", json={"opportunity": "new", "by": "anna"}, headers=AUTH
    ) as r:
        assert r.status == 200
    for body, status, error in (
        ({"opportunity": "maybe", "by": "anna"}, 400, "invalid_fields"),
        ({"opportunity": "new", "by": "nobody"}, 400, "invalid_fields"),
    ):
        async with client.put(path, json=body, headers=AUTH) as r:
            assert (r.status, (await r.json())["error"]) == (status, error)
    async with client.put(
        "/api/calls/nope/opportunity", json={"opportunity": "new", "by": "anna"}, headers=AUTH
    ) as r:
        assert (r.status, (await r.json())["error"]) == (404, "call_not_found")
    async with client.get(
        "/api/reports/classification?branch=downtown&from=2026-12-01T00:00:00Z", headers=AUTH
    ) as r:
        report = await r.json()
    assert (report["proposals"], report["reviewed"], report["corrected"], report["kept"]) == (3, 2, 1, 2)
    assert (report["kept_share"], report["target"]) == (0.6667, 0.95)
    async with client.get("/api/reports/classification?from=yesterday", headers=AUTH) as r:
        assert (r.status, (await r.json())["error"]) == (400, "bad_from")
