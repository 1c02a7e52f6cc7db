"""Ids and query values a client makes up, on SQLite and PostgreSQL: never a 500.

PostgreSQL refuses a NUL in text with an error of its own (SQLite takes it), so the API checks
what it passes to the store rather than leaving it to the database.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientResponse

from ari_app.store import CallStore, Database
from tests.api_client import AUTH, Client, api_client


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[CallStore]:
    db = Database(database_url)
    await db.migrate()
    try:
        yield CallStore(db)
    finally:
        await db.dispose()


@pytest.fixture
async def client(store: CallStore, tmp_path: Path) -> AsyncIterator[Client]:
    async with api_client(store, tmp_path / "recordings") as client:
        yield client


async def _error(r: ClientResponse) -> tuple[int, str]:
    assert r.content_type == "application/json", await r.text()
    return r.status, (await r.json())["error"]


# Paths as sent (already %-encoded): a NUL, a lone surrogate's UTF-8, a character beyond the BMP,
# and ids that are no UUID.
GARBAGE_IDS = ["%00", "abc%00def", "%ED%A0%80", "%F0%9F%93%9E", "not-a-uuid", "1'%20OR%20'1'='1", "x" * 64]


@pytest.mark.parametrize("garbage", GARBAGE_IDS, ids=lambda g: g[:16])
async def test_garbage_ids_are_400_or_404_never_500(client: Client, garbage: str) -> None:
    for method, path, expected in (
        ("GET", f"/api/calls/{garbage}", "call_not_found"),
        ("GET", f"/api/calls/{garbage}/recording", "call_not_found"),
        ("GET", f"/api/callbacks/{garbage}", "callback_not_found"),
        ("POST", f"/api/callbacks/{garbage}/status", "callback_not_found"),
    ):
        async with client.request(method, path, json={"status": "closed"}, headers=AUTH) as r:
            status, error = await _error(r)
        if "%00" in garbage:
            assert (status, error) == (400, "bad_text"), path
        else:
            assert (status, error) == (404, expected), path


async def test_store_lookups_of_ids_that_name_nothing(store: CallStore) -> None:
    for garbage in ("not-a-uuid", "x" * 200, "📞", str(uuid.uuid4())):
        assert await store.get_call(garbage) is None
        assert await store.get_callback(garbage) is None


@pytest.mark.parametrize(
    ("branch", "status", "error"),
    [("%00", 400, "bad_text"), ("x" * 65, 400, "field_too_long"), ("a%01b", 400, "bad_text")],
    ids=["nul", "too-long", "control"],
)
async def test_callbacks_branch_filter_is_checked(
    client: Client, branch: str, status: int, error: str
) -> None:
    async with client.get(f"/api/callbacks?branch={branch}", headers=AUTH) as r:
        assert await _error(r) == (status, error)


async def test_callbacks_branch_filter_within_bounds(client: Client) -> None:
    for branch in ("downtown", "x" * 64, "\u00e9cole"):
        async with client.get("/api/callbacks", params={"branch": branch}, headers=AUTH) as r:
            assert r.status == 200, await r.text()
