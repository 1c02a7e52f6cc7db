"""The HTTP API under bad input: every error is JSON with a stable id, nothing a client sends
makes it answer 500 (SQLite store; tests/store/test_api_inputs.py runs ids and queries on both
databases)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog
from aiohttp import ClientResponse

from ari_app.calls.desk import FrontDesk
from ari_app.store import CallStore
from ari_app.store.db import StoreUnavailable
from ari_app.store.history import HistoryStore
from tests.api_client import AUTH, NOW, Client, api_client, front_desk, on_call


@pytest.fixture
def desk() -> FrontDesk:
    return front_desk()


@pytest.fixture
async def client(store: CallStore, desk: FrontDesk, tmp_path: Path) -> AsyncIterator[Client]:
    async with api_client(store, tmp_path / "recordings", desk) as client:
        yield client


async def expect_error(r: ClientResponse, status: int, error_id: str, detail: str = "") -> dict[str, Any]:
    """``r`` is the JSON error ``{"error": error_id, "detail": "...detail..."}`` with ``status``."""
    assert r.status == status, await r.text()
    assert r.content_type == "application/json"
    body: dict[str, Any] = await r.json()
    assert set(body) == {"error", "detail"} and body["error"] == error_id, body
    assert detail in body["detail"], body
    return body


# ---------------------------------------------------------------------------- ?before=
async def _call_at(store: CallStore, started_at: datetime) -> str:
    call_id = str(uuid.uuid4())
    await store.call_started(
        call_id=call_id, channel_id=f"ch-{call_id}", caller_number="2025550142", caller_e164="+12025550142",
        caller_name="", did="5551234", branch="downtown", ad_channel="website", started_at=started_at,
    )  # fmt: skip
    return call_id


async def test_before_without_a_utc_offset_is_refused(client: Client) -> None:
    async with client.get("/api/calls", params={"before": "2026-01-01T00:00:00"}, headers=AUTH) as r:
        await expect_error(r, 400, "bad_before", "must carry a UTC offset")
    async with client.get("/api/calls", params={"before": "yesterday"}, headers=AUTH) as r:
        await expect_error(r, 400, "bad_before", "ISO 8601")


@pytest.mark.parametrize(
    ("before", "status"),
    [
        ("9999-12-31T23:59:59+00:00", 200),
        ("0001-01-01T00:00:00+00:00", 200),
        ("9999-12-31T23:59:59-01:00", 400),  # 10000-01-01 in UTC
        ("0001-01-01T00:00:00+01:00", 400),  # year 0 in UTC
    ],
)
async def test_before_at_the_ends_of_time(client: Client, before: str, status: int) -> None:
    async with client.get("/api/calls", params={"before": before}, headers=AUTH) as r:
        if status == 200:
            assert r.status == 200 and (await r.json()) == {"calls": [], "next_cursor": None}
        else:
            await expect_error(r, 400, "bad_before", "out of range")


async def test_before_in_any_offset_means_the_same_instant(store: CallStore, client: Client) -> None:
    call_id = await _call_at(store, NOW)
    just_after = (NOW + timedelta(seconds=1)).astimezone(ZoneInfo("Asia/Tokyo"))
    async with client.get("/api/calls", params={"before": just_after.isoformat()}, headers=AUTH) as r:
        assert [c["id"] for c in (await r.json())["calls"]] == [call_id]
    async with client.get("/api/calls", params={"before": "2026-12-02T10:00:00-05:00"}, headers=AUTH) as r:
        assert (await r.json())["calls"] == []  # 15:00 UTC: started at, not before


# ---------------------------------------------------------------------------- JSON bodies
BODY_ROUTES = [
    ("PUT", "/api/admins/anna/presence"),
    ("POST", "/api/admins/anna/transfer"),
    ("POST", f"/api/callbacks/{uuid.uuid4()}/status"),
]
BAD_BODIES = [
    b"[" * 60_000,  # nested deeper than the decoder recurses
    b'{"a":' * 12_000,
    b"{",
    b"",
    b'{"state": "\xff"}',  # not UTF-8
    b"1" * 5_000,  # an integer longer than Python parses
    b'["paused"]',
    b"null",
]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@pytest.mark.parametrize("body", BAD_BODIES, ids=lambda b: repr(b[:12]))
async def test_every_body_reader_refuses_what_is_not_a_json_object(
    client: Client, method: str, path: str, body: bytes
) -> None:
    async with client.request(method, path, data=body, headers=AUTH) as r:
        await expect_error(r, 400, "bad_json")


# ---------------------------------------------------------------------------- aiohttp's own errors
async def test_no_route_wrong_method_and_large_body_are_json(client: Client) -> None:
    async with client.get("/api/nothing-here", headers=AUTH) as r:
        await expect_error(r, 404, "not_found")
    async with client.delete("/api/calls", headers=AUTH) as r:
        await expect_error(r, 405, "method_not_allowed", "DELETE")
        assert "GET" in r.headers["Allow"]
    async with client.post(f"/api/callbacks/{uuid.uuid4()}/status", data=b"x" * 70_000, headers=AUTH) as r:
        await expect_error(r, 413, "body_too_large", "65536 bytes")
    async with client.get("/api/calls") as r:
        await expect_error(r, 401, "unauthenticated")
    async with client.get("/api/calls", headers={"Authorization": "Bearer wrong-token-0000000000"}) as r:
        await expect_error(r, 403, "forbidden")


async def test_an_unexpected_failure_is_a_generic_500_and_logged(
    store: CallStore, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("connection to db-secret.internal:5432 refused")

    monkeypatch.setattr(HistoryStore, "page", broken)
    with structlog.testing.capture_logs() as logs:
        async with client.get("/api/calls", headers=AUTH) as r:
            text = await r.text()
            await expect_error(r, 500, "internal_error")
    assert "db-secret" not in text and "Traceback" not in text and "RuntimeError" not in text
    [entry] = [e for e in logs if e["event"] == "api_internal_error"]
    assert entry["route"] == "/api/calls" and entry["log_level"] == "error" and entry["exc_info"]


async def test_a_database_out_of_reach_is_503_not_500(
    store: CallStore, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(*_: Any, **__: Any) -> Any:
        raise StoreUnavailable("postgresql://clinic@db/calls", ConnectionRefusedError(111, "refused"))

    monkeypatch.setattr(HistoryStore, "page", unreachable)
    async with client.get("/api/calls", headers=AUTH) as r:
        await expect_error(r, 503, "database_unavailable")


async def _raw(client: Client, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send ``request`` as bytes; the status line, headers and body of the answer."""
    assert client.server.host is not None and client.server.port is not None
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)  # the server closes after an error
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return status, headers, body


@pytest.mark.parametrize(
    ("request_bytes", "detail"),
    [
        (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "too long"),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 10_000 + b"\r\n\r\n", "too long"),
        (b"HELLO THERE\r\n\r\n", "not valid HTTP"),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", "not valid HTTP"),
    ],
    ids=["request-line", "header", "not-http", "bad-header-name"],
)
async def test_what_the_http_parser_refuses_is_answered_in_json(
    client: Client, request_bytes: bytes, detail: str
) -> None:
    status, headers, body = await _raw(client, request_bytes)
    assert status.startswith("HTTP/1.") and status.split()[1] == "400", status
    assert headers["content-type"].startswith("application/json")
    answer = json.loads(body)
    assert answer["error"] == "bad_request" and detail in answer["detail"], answer


# ---------------------------------------------------------------------------- bounds
async def test_pause_reason_is_bounded_and_kept_whole_within_it(client: Client) -> None:
    url = "/api/admins/anna/presence"
    async with client.put(url, json={"state": "paused", "reason": "r" * 60_000}, headers=AUTH) as r:
        await expect_error(r, 400, "field_too_long", "reason: at most 200 characters")
    async with client.put(url, json={"state": "paused", "reason": "r" * 200}, headers=AUTH) as r:
        assert r.status == 200 and (await r.json())["pause_reason"] == "r" * 200
    async with client.put(url, json={"state": "paused", "reason": "lunch\x00"}, headers=AUTH) as r:
        await expect_error(r, 400, "bad_text", "reason")


@pytest.mark.parametrize("field", ["to_admin", "to_group"])
async def test_transfer_targets_are_bounded(client: Client, field: str) -> None:
    async with client.post("/api/admins/anna/transfer", json={field: "x" * 65}, headers=AUTH) as r:
        await expect_error(r, 400, "field_too_long", f"{field}: at most 64 characters")


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("PUT", "/api/admins/{}/presence", "login"),
        ("POST", "/api/admins/{}/transfer", "login"),
        ("GET", "/api/calls/{}", "call_id"),
        ("GET", "/api/calls/{}/recording", "call_id"),
        ("GET", "/api/callbacks/{}", "task_id"),
        ("POST", "/api/callbacks/{}/status", "task_id"),
    ],
)
async def test_path_parameters_are_bounded(client: Client, method: str, path: str, name: str) -> None:
    body = {"state": "available", "to_admin": "ben", "status": "closed"}
    async with client.request(method, path.format("x" * 3000), json=body, headers=AUTH) as r:
        await expect_error(r, 400, "field_too_long", f"{name}: at most 64 characters")


# ---------------------------------------------------------------------------- the desk's refusals
async def test_an_unknown_admin_is_404_for_presence_and_transfer(client: Client) -> None:
    async with client.put("/api/admins/zoe/presence", json={"state": "paused"}, headers=AUTH) as r:
        await expect_error(r, 404, "admin_not_found", "zoe")
    async with client.post("/api/admins/zoe/transfer", json={"to_admin": "ben"}, headers=AUTH) as r:
        await expect_error(r, 404, "admin_not_found", "zoe")


async def test_transfer_refusals_each_have_their_id(client: Client, desk: FrontDesk) -> None:
    url = "/api/admins/anna/transfer"
    async with client.post(url, json={"to_admin": "ben"}, headers=AUTH) as r:
        await expect_error(r, 409, "not_on_call", "anna")
    on_call(desk, "anna", "call-1")
    async with client.post(url, json={"to_admin": "zoe"}, headers=AUTH) as r:
        await expect_error(r, 400, "unknown_target", "zoe")  # a body field, not the path: 400
    async with client.post(url, json={"to_group": "night-shift"}, headers=AUTH) as r:
        await expect_error(r, 400, "unknown_target", "night-shift")
    async with client.post(url, json={"to_admin": "anna"}, headers=AUTH) as r:
        await expect_error(r, 400, "bad_target", "yourself")
    async with client.post(url, json={"to_admin": "ben", "to_group": "call-center"}, headers=AUTH) as r:
        await expect_error(r, 400, "bad_target")
    async with client.post(url, json={"to_group": "call-center"}, headers=AUTH) as r:
        assert r.status == 202 and (await r.json()) == {"call_id": "call-1", "to": "group:call-center"}


async def test_presence_refusals(client: Client) -> None:
    url = "/api/admins/anna/presence"
    async with client.put(url, json={"state": "sleeping"}, headers=AUTH) as r:
        await expect_error(r, 400, "bad_state", "sleeping")
    async with client.put(url, json={"state": "paused", "mood": "sunny"}, headers=AUTH) as r:
        await expect_error(r, 400, "bad_field", "mood")
    async with client.put(url, json={"state": 1}, headers=AUTH) as r:
        await expect_error(r, 400, "bad_state")


# ---------------------------------------------------------------------------- query and headers
@pytest.mark.parametrize("path", ["/api/calls", "/api/callbacks"])
@pytest.mark.parametrize(
    "raw", ["0", "501", "", "x", "5_0", "+5", " 5", "\u0663", "9" * 5_000], ids=lambda raw: repr(raw[:6])
)
async def test_limit_is_1_to_500_in_ascii_digits(client: Client, path: str, raw: str) -> None:
    async with client.get(path, params={"limit": raw}, headers=AUTH) as r:
        await expect_error(r, 400, "bad_limit", "1 to 500")


async def test_limit_at_its_ends(client: Client) -> None:
    for raw in ("1", "500"):
        async with client.get("/api/callbacks", params={"limit": raw}, headers=AUTH) as r:
            assert r.status == 200


async def test_a_token_that_is_not_utf8_is_refused_not_a_500(client: Client) -> None:
    status, _, body = await _raw(
        client,
        b"GET /api/calls HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer \xff\xfe\r\n\r\n",
    )
    assert status.split()[1] == "403" and json.loads(body)["error"] == "forbidden"
