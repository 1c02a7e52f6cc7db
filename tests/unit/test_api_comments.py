"""``/api/calls/{id}/comment`` and ``/api/calls/manual`` as the app serves them (SQLite): every
refusal a 4xx naming the field, the listing's report topic the comment's unless unknown."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ari_app.api.comments import CommentRules
from ari_app.config import load_settings
from ari_app.people.schema import CommentIn, report_topic
from ari_app.store import CallStore
from tests.api_client import AUTH, EXAMPLE, NOW, Client

GOOD = {"caller_type": "patient_to_book", "topic": "booking", "author": "anna", "text": "first visit"}


async def _call(store: CallStore, topic: str | None = None) -> str:
    call_id = str(uuid.uuid4())
    await store.call_started(
        call_id=call_id, channel_id=f"ch-{call_id}", caller_number="5551234567", caller_e164="+15551234567",
        caller_name="", did="5551234", branch="downtown", ad_channel=None, started_at=NOW,
    )  # fmt: skip
    if topic is not None:
        await store.topic_chosen(call_id, topic=topic, at=NOW)
    return call_id


async def _send(client: Client, method: str, path: str, body: Any, auth: bool = True) -> tuple[int, Any]:
    async with client.request(method, path, json=body, headers=AUTH if auth else {}) as r:
        assert r.content_type == "application/json", await r.text()
        return r.status, await r.json()


async def test_every_route_asks_for_the_token(client: Client, store: CallStore) -> None:
    call_id = await _call(store)
    for method, path in (
        ("PUT", f"/api/calls/{call_id}/comment"),
        ("GET", f"/api/calls/{call_id}/comment"),
        ("POST", "/api/calls/manual"),
    ):
        assert (await _send(client, method, path, GOOD, auth=False))[0] == 401


async def test_written_edited_and_read_with_its_history(client: Client, store: CallStore) -> None:
    call_id = await _call(store)
    path = f"/api/calls/{call_id}/comment"
    assert await _send(client, "GET", path, None) == (
        404,
        {"error": "comment_not_found", "detail": "this call has no comment (or there is no such call)"},
    )
    status, first = await _send(client, "PUT", path, {**GOOD, "expected_version": 0})
    assert (status, first["version"], first["author"], first["written_at"]) == (
        200,
        1,
        "anna",
        NOW.isoformat(),
    )
    status, second = await _send(client, "PUT", path, {**GOOD, "text": "rebooked", "expected_version": 1})
    assert (status, second["version"]) == (200, 2)
    status, stale = await _send(client, "PUT", path, {**GOOD, "text": "lost?", "expected_version": 1})
    assert (status, stale["error"]) == (409, "version_conflict")
    status, view = await _send(client, "GET", path, None)
    assert status == 200 and [(v["version"], v["text"]) for v in view["history"]] == [
        (1, "first visit"),
        (2, "rebooked"),
    ]
    missing = f"/api/calls/{uuid.uuid4()}/comment"
    assert (await _send(client, "PUT", missing, GOOD))[1]["error"] == "call_not_found"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"topic": "astrology"}, "topic"),
        ({"author": "mallory"}, "author"),
        ({"caller_type": "patient"}, "caller_type"),
        ({"text": "x" * 4001}, "text"),
        ({"text": "nul\x00"}, "text"),
        ({"text": "lone \ud800"}, "text"),
        ({"patient_external_id": "\ud800"}, "patient_external_id"),
        ({"bogus": 1}, "bogus"),
        ({"expected_version": "1"}, "expected_version"),
        ({"patient_external_id": "no-such-card"}, "patient_external_id"),
        ({"add_number_to_patient": "self"}, "add_number_to_patient"),
        ({"caller_type": None}, "caller_type"),
    ],
)
async def test_refusals_name_the_field(
    client: Client, store: CallStore, change: dict[str, Any], field: str
) -> None:
    call_id = await _call(store)
    status, body = await _send(client, "PUT", f"/api/calls/{call_id}/comment", {**GOOD, **change})
    assert (status, body["error"], body["errors"][0]["field"]) == (400, "invalid_fields", field)
    assert body["detail"].startswith(f"{field}: ")
    assert (await _send(client, "GET", f"/api/calls/{call_id}/comment", None))[0] == 404  # nothing written


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b"\xff\xfe", b'"text"'])
async def test_a_body_that_is_no_json_object_is_400(client: Client, store: CallStore, raw: bytes) -> None:
    call_id = await _call(store)
    for path in (f"/api/calls/{call_id}/comment", "/api/calls/manual"):
        method = "PUT" if path.endswith("comment") else "POST"
        async with client.request(method, path, data=raw, headers=AUTH) as r:
            assert (r.status, (await r.json())["error"]) == (400, "bad_json")


async def test_listing_shows_the_comment_and_the_topic_reports_count(
    client: Client, store: CallStore
) -> None:
    by_comment, left_unknown, menu_only = [await _call(store, "booking") for _ in range(3)]
    await _send(client, "PUT", f"/api/calls/{by_comment}/comment", {**GOOD, "topic": "billing"})
    await _send(client, "PUT", f"/api/calls/{left_unknown}/comment", {**GOOD, "topic": "unknown"})
    status, body = await _send(client, "GET", "/api/calls", None)
    listed = {c["id"]: c for c in body["calls"]}
    assert status == 200
    assert (listed[by_comment]["topic"], listed[by_comment]["report_topic"]) == ("booking", "billing")
    assert listed[by_comment]["comment"] == {
        "caller_type": "patient_to_book", "topic": "billing", "patient_external_id": None,
        "text": "first visit", "version": 1,
    }  # fmt: skip
    assert listed[left_unknown]["report_topic"] == "booking"
    assert (listed[menu_only]["comment"], listed[menu_only]["report_topic"]) == (None, "booking")
    status, detail = await _send(client, "GET", f"/api/calls/{by_comment}", None)
    assert (status, detail["report_topic"], detail["comment"]["topic"]) == (200, "billing", "billing")


async def test_a_call_logged_by_hand(client: Client) -> None:
    logged = {
        "started_at": "2026-12-02T14:30:00Z", "duration_seconds": 60, "number": "(555) 123-4567",
        "admin": "ben", "branch": "downtown", "comment": {**GOOD, "author": "ben", "caller_type": "other"},
    }  # fmt: skip
    status, body = await _send(client, "POST", "/api/calls/manual", logged)
    assert status == 201
    status, call = await _send(client, "GET", f"/api/calls/{body['call_id']}", None)
    assert (status, call["handled_by"], call["outcome"], call["admin"]) == (200, "manual", "answered", "ben")
    assert (call["caller_e164"], call["in_statistics"], call["report_topic"]) == (
        "+15551234567",
        False,
        "booking",
    )
    status, comment = await _send(client, "GET", f"/api/calls/{body['call_id']}/comment", None)
    assert (status, comment["author"], comment["version"]) == (200, "ben", 1)


async def test_a_call_logged_by_hand_knows_its_caller(client: Client) -> None:
    card = {"full_name": "Olha Kovalenko", "phones": [{"number": "+1 202 555 0142"}]}
    status, _ = await _send(client, "PUT", "/api/patients/p-olha", card)
    assert status == 200
    logged = {"started_at": "2026-12-02T14:30:00Z", "number": "(202) 555-0142", "admin": "ben"}
    status, body = await _send(client, "POST", "/api/calls/manual", logged)
    assert status == 201
    status, call = await _send(client, "GET", f"/api/calls/{body['call_id']}", None)
    assert (call["caller_kind"], call["in_statistics"]) == ("patient", True)
    assert call["patient_id"] is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"admin": "mallory"}, "admin"),
        ({"branch": "mars"}, "branch"),
        ({"started_at": "2026-12-02T16:00:00Z"}, "started_at"),  # an hour after now
        ({"started_at": "2026-12-02T14:00:00"}, "started_at"),  # no offset
        ({"number": "12"}, "number"),
        ({"duration_seconds": -1}, "duration_seconds"),
        ({"comment": {**GOOD, "topic": "astrology"}}, "comment.topic"),
        ({"comment": {**GOOD, "patient_external_id": "no-such-card"}}, "comment.patient_external_id"),
        ({"number": None}, "number"),
    ],
)
async def test_a_call_logged_by_hand_refused(client: Client, change: dict[str, Any], field: str) -> None:
    logged = {"started_at": "2026-12-02T14:30:00Z", "number": "5551234567", "admin": "ben", **change}
    status, body = await _send(client, "POST", "/api/calls/manual", logged)
    assert (status, body["errors"][0]["field"]) == (400, field)
    status, listed = await _send(client, "GET", "/api/calls", None)
    assert listed["calls"] == []  # nothing stored


@pytest.mark.parametrize(
    ("comment_topic", "menu_topic", "reported"),
    [("billing", "booking", "billing"), ("unknown", "booking", "booking"), (None, "booking", "booking"),
     (None, None, None), ("unknown", None, None), ("results", None, "results")],
)  # fmt: skip
def test_report_topic_rule(comment_topic: str | None, menu_topic: str | None, reported: str | None) -> None:
    assert report_topic(comment_topic, menu_topic) == reported


def test_rules_read_the_configuration() -> None:
    rules = CommentRules.of(load_settings(EXAMPLE))
    assert {"booking", "results", "billing"} <= rules.topics and "anna" in rules.admins
    rules.check_comment(CommentIn.model_validate({**GOOD, "topic": "unknown"}))  # always allowed
