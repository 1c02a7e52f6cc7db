"""A database that answers but will not let us in (no such database, role or password) is an
outage: said at once with the server's reason, reminded with backoff, its end said once, and
facts wait for it rather than being set aside."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog.testing
from prometheus_client import CollectorRegistry

from ari_app.app import CallCenterApp
from ari_app.config import Secrets, parse_settings
from ari_app.facts.types import CallStarted
from ari_app.store import CallStore, Database, StoreUnavailable
from ari_app.store.outage import OutageLog
from tests.conftest import MINIMAL_SETTINGS, _pg_admin, _pg_base_url

T0 = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)


@pytest.fixture
async def missing_db(pg_url: str) -> AsyncIterator[str]:
    """The URL of a database that does not exist (yet: a test may create it); dropped after."""
    name = f"ariapp_missing_{uuid.uuid4().hex[:8]}"
    yield f"{pg_url.rpartition('/')[0]}/{name}"
    await _pg_admin(_pg_base_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_no_such_database_or_role_is_an_outage_with_the_servers_reason(
    missing_db: str,
) -> None:
    no_role = missing_db.replace("postgres@", "nosuchuser:hunter2-secret@").rpartition("/")[0] + "/test"
    for url, reason in ((missing_db, "does not exist"), (no_role, 'role "nosuchuser" does not exist')):
        db = Database(url)
        try:
            problem = await db.probe(timeout=3)
            assert problem is not None and problem.login_refused, url
            assert reason in problem.reason and "hunter2" not in str(problem) + problem.reason
            with pytest.raises(StoreUnavailable):  # not a refused fact: an outage
                await CallStore(db).get_call("x")
        finally:
            await db.dispose()
    db = Database(missing_db)
    try:
        problem = await db.probe(timeout=3)
        assert problem is not None and f'database "{missing_db.rpartition("/")[2]}"' in problem.reason
    finally:
        await db.dispose()


async def test_app_says_so_at_once_and_once_more_when_it_is_back(missing_db: str, tmp_path: Path) -> None:
    settings = parse_settings(MINIMAL_SETTINGS, "test")
    secrets = Secrets("u", "p", missing_db, ())
    app = CallCenterApp(settings, secrets, data_dir=tmp_path / "data", registry=CollectorRegistry())
    with structlog.testing.capture_logs() as logs:
        await app.start()
        try:
            await _until(lambda: _events(logs, "database_unavailable"))
            down = _events(logs, "database_unavailable")[0]
            assert down["problem"] == "login_refused" and "does not exist" in down["reason"]
            assert down["log_level"] == "error" and "DATABASE_URL" in down["hint"]
            assert not app._health().database_ok
            app.facts.submit(CallStarted("k1", "ch1", "2025550142", "", "5551234", "a", None, T0))
            await asyncio.sleep(1.0)
            assert app.facts.rejected == [] and app.facts.waiting_since is not None  # waits

            name = missing_db.rpartition("/")[2]
            await _pg_admin(_pg_base_url(), f'CREATE DATABASE "{name}"')
            fresh = Database(missing_db)
            await fresh.migrate()
            await fresh.dispose()
            await _until(lambda: _events(logs, "database_available"))
            assert await app.facts.drain(10)
            assert await app.store.get_call("k1") is not None and app.facts.rejected == []
            assert app._health().database_ok
        finally:
            await app.stop(drain_timeout=1)
    assert len(_events(logs, "database_unavailable")) == 1  # no reminder within 5 s
    assert len(_events(logs, "database_available")) == 1


def test_outage_is_reminded_with_backoff_and_its_end_said_once() -> None:
    now = [0.0]
    outage = OutageLog("postgresql+asyncpg://u@h/db", clock=lambda: now[0])
    refused = StoreUnavailable("u@h/db", ConnectionRefusedError(111, "Connection refused"))
    with structlog.testing.capture_logs() as logs:
        for second in range(200):
            now[0] = float(second)
            outage.observe(refused)
        now[0] = 200.0
        outage.observe(None)
        outage.observe(None)
    said = [e["down_seconds"] for e in logs if e["event"] == "database_unavailable"]
    assert said == [0, 5, 15, 35, 75, 135, 195]  # 5, 10, 20, 40 s apart, then every 60 s
    assert {e["problem"] for e in logs if e["event"] == "database_unavailable"} == {"unreachable"}
    assert [e["down_seconds"] for e in logs if e["event"] == "database_available"] == [200]


def test_another_reason_is_said_at_once() -> None:
    now = [0.0]
    outage = OutageLog("db", clock=lambda: now[0])
    with structlog.testing.capture_logs() as logs:
        outage.observe(StoreUnavailable("db", ConnectionRefusedError(111, "Connection refused")))
        now[0] = 1.0
        outage.observe(StoreUnavailable("db", TimeoutError()))
    refused = "ConnectionRefusedError: [Errno 111] Connection refused"
    assert [e["reason"] for e in logs] == [refused, "timed out"]


def _events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


async def _until(ok: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if ok():
                return
            await asyncio.sleep(0.05)
