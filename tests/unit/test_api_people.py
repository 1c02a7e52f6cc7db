"""The directories' HTTP contract: authenticated, each card checked on its own with its fields
named, a bulk request's good cards written and its bad ones listed, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ari_app.numbers import Regions
from ari_app.store import CallStore, Database
from tests.api_client import AUTH, Client, api_client

KYIV = Regions("US", {"kyiv": "UA"})


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'people.db'}")
    await db.migrate()
    try:
        async with api_client(CallStore(db), tmp_path / "recordings", regions=KYIV) as client:
            yield client
    finally:
        await db.dispose()


def card(ext: str, *numbers: str, **more: Any) -> dict[str, Any]:
    return {"external_id": ext, "full_name": f"Patient {ext}", "branch": "kyiv",
            "phones": [{"number": n} for n in numbers], **more}  # fmt: skip


async def _answer(client: Client, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    async with client.request(method, path, **kw) as r:
        assert r.content_type == "application/json", await r.text()
        return r.status, await r.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/patients/p1"), ("PUT", "/api/patients/p1"), ("POST", "/api/patients/bulk"),
     ("GET", "/api/staff/s1"), ("PUT", "/api/contractors/c1"), ("GET", "/api/callers/0671234567")],
)  # fmt: skip
async def test_a_token_is_required(client: Client, method: str, path: str) -> None:
    status, body = await _answer(client, method, path, json={})
    assert (status, body["error"]) == (401, "unauthenticated")


async def test_put_then_get_a_patient(client: Client) -> None:
    sent = card("p1", "067 123 45 67", balance="-12.50", visits={"completed": 3, "no_show": 1})
    status, body = await _answer(client, "PUT", "/api/patients/p1", json=sent, headers=AUTH)
    assert status == 200 and body["phones"] == [
        {"number": "067 123 45 67", "e164": "+380671234567", "role": "self", "owner": None}
    ]
    del sent["external_id"]  # the path names the card
    assert (await _answer(client, "PUT", "/api/patients/p1", json=sent, headers=AUTH))[0] == 200
    status, body = await _answer(client, "GET", "/api/patients/p1", headers=AUTH)
    assert status == 200 and body["balance"] == "-12.50" and body["visits"]["completed_share"] == 0.75
    status, body = await _answer(client, "GET", "/api/patients/nobody", headers=AUTH)
    assert (status, body["error"]) == (404, "patient_not_found")


@pytest.mark.parametrize(
    ("sent", "error", "fields"),
    [
        (card("p1", "12"), "invalid_fields", ["phones[0].number"]),
        (card("p1", "0671234567", colour="red"), "invalid_fields", ["colour"]),
        (card("p1", "0671234567", full_name="x" * 201), "invalid_fields", ["full_name"]),
        (card("p1", "0671234567", full_name="a\u0000b"), "invalid_fields", ["full_name"]),
        (card("p1", phones=[{"number": "067", "role": "boss"}]), "invalid_fields", ["phones[0].role"]),
        (card("p1", policy={"number": "X", "valid_from": "2026-02-01", "valid_to": "2026-01-01"}),
         "invalid_fields", ["policy"]),
        (card("p2", "0671234567"), "external_id_mismatch", []),
    ],
    ids=["bad-number", "unknown-field", "over-long-name", "nul", "bad-role", "policy-dates", "other-id"],
)  # fmt: skip
async def test_a_refused_card_names_its_fields(
    client: Client, sent: dict[str, Any], error: str, fields: list[str]
) -> None:
    status, body = await _answer(client, "PUT", "/api/patients/p1", json=sent, headers=AUTH)
    assert (status, body["error"]) == (400, error)
    assert [e["field"] for e in body.get("errors", [])] == fields
    assert (await _answer(client, "GET", "/api/patients/p1", headers=AUTH))[0] == 404


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
async def test_a_body_that_is_no_json_object_is_400(client: Client, raw: bytes) -> None:
    for path in ("/api/patients/p1", "/api/staff/s1"):
        status, body = await _answer(client, "PUT", path, data=raw, headers=AUTH)
        assert (status, body["error"]) == (400, "bad_json")
    status, body = await _answer(client, "POST", "/api/patients/bulk", data=raw, headers=AUTH)
    assert (status, body["error"]) == (400, "bad_json")


async def test_bulk_writes_the_good_cards_and_lists_the_bad(client: Client) -> None:
    sent = {"patients": [card("p1", "0671234567"), card("p2", "junk"), "not a card",
                         card("p3", "+380501112233", extra=1), {"full_name": "?"}, card("p4")]}  # fmt: skip
    status, body = await _answer(client, "POST", "/api/patients/bulk", json=sent, headers=AUTH)
    assert status == 200 and body["accepted"] == 2
    assert [(r["index"], r["external_id"], [e["field"] for e in r["errors"]]) for r in body["rejected"]] == [
        (1, "p2", ["phones[0].number"]), (2, None, [""]), (3, "p3", ["extra"]), (4, None, ["external_id"]),
    ]  # fmt: skip
    for ext, found in (("p1", 200), ("p2", 404), ("p3", 404), ("p4", 200)):
        assert (await _answer(client, "GET", f"/api/patients/{ext}", headers=AUTH))[0] == found


@pytest.mark.parametrize(
    ("sent", "status", "error"),
    [({"patients": [card(f"p{i}") for i in range(1001)]}, 400, "too_many_items"),
     ({"patients": {}}, 400, "invalid_fields"), ({"patients": [], "more": 1}, 400, "invalid_fields"),
     ({"patients": [card("p1", card_comment="x" * 5_000_000)]}, 413, "body_too_large")],
    ids=["1001-items", "not-a-list", "unknown-key", "over-4-MiB"],
)  # fmt: skip
async def test_bulk_refusals(client: Client, sent: dict[str, Any], status: int, error: str) -> None:
    answer = await _answer(client, "POST", "/api/patients/bulk", json=sent, headers=AUTH)
    assert (answer[0], answer[1]["error"]) == (status, error)


async def test_a_thousand_cards_are_one_request(client: Client) -> None:
    sent = {"patients": [card(f"p{i}", f"067 {i:07d}") for i in range(1000)]}
    status, body = await _answer(client, "POST", "/api/patients/bulk", json=sent, headers=AUTH)
    assert (status, body) == (200, {"accepted": 1000, "rejected": []})


async def test_staff_contractors_and_who_is_calling(client: Client) -> None:
    staff = {"name": "Nurse Hanna", "phones": ["+380 67 123 4567"]}
    assert (await _answer(client, "PUT", "/api/staff/s1", json=staff, headers=AUTH))[0] == 200
    firm = {"contractors": [{"external_id": "c1", "name": "DentCo", "phones": ["+1 212 555 0100"]},
                            {"external_id": "c2", "name": "NoPhones", "phones": []}]}  # fmt: skip
    status, body = await _answer(client, "POST", "/api/contractors/bulk", json=firm, headers=AUTH)
    assert status == 200 and body["accepted"] == 1 and body["rejected"][0]["errors"][0]["field"] == "phones"
    await _answer(client, "PUT", "/api/patients/p1", json=card("p1", "0671234567"), headers=AUTH)
    status, body = await _answer(client, "GET", "/api/callers/067%20123%2045%2067?branch=kyiv", headers=AUTH)
    assert status == 200 and (body["kind"], body["contact_name"], body["number_e164"]) == (
        "staff",
        "Nurse Hanna",
        "+380671234567",
    )
    assert [c["external_id"] for c in body["cards"]] == ["p1"] and body["in_statistics"] is False
    status, body = await _answer(client, "GET", "/api/callers/+12125550100", headers=AUTH)
    assert (status, body["kind"], body["display_name"]) == (200, "contractor", "DentCo")
    status, body = await _answer(client, "GET", "/api/callers/0501112233?branch=kyiv", headers=AUTH)
    assert (status, body["kind"], body["cards"]) == (200, "unknown", [])
    status, body = await _answer(client, "GET", "/api/callers/12?branch=kyiv", headers=AUTH)
    assert (status, body["error"]) == (400, "bad_number") and "UA" in body["detail"]
    status, body = await _answer(client, "GET", "/api/staff/s2", headers=AUTH)
    assert (status, body["error"]) == (404, "staff_not_found")
    status, body = await _answer(client, "GET", "/api/contractors/c1", headers=AUTH)
    assert status == 200 and body["phones"][0]["e164"] == "+12125550100"


async def test_a_card_named_bulk_and_the_single_card_limit(client: Client) -> None:
    status, body = await _answer(client, "GET", "/api/patients/bulk", headers=AUTH)
    assert (status, body["error"]) == (404, "patient_not_found")  # a card's id, not the bulk endpoint
    too_big = card("p1", card_comment="x" * 70_000)
    status, body = await _answer(client, "PUT", "/api/patients/p1", json=too_big, headers=AUTH)
    assert (status, body["error"]) == (413, "body_too_large")
