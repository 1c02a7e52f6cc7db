"""Shared fixtures: the reference ARI description, and the two databases every store test runs on."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
REPO = Path(__file__).resolve().parent.parent
SHARED_ARI = REPO.parent / "shared" / "asterisk-ari-22"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
# The least configuration an app starts with, for tests that need the app but no calls.
MINIMAL_SETTINGS = {
    "version": 1,
    "ari": {"url": "http://127.0.0.1:1/ari"},  # nothing listens: the app starts without Asterisk
    "http": {"port": 0},
    "fastagi": {"enabled": False},
    "branches": [{"id": "a", "name": "A", "dids": [{"number": "5551234"}]}],
    "admins": [{"login": "x", "name": "X", "endpoint": "PJSIP/x", "branch": "a"}],
}


def _missing(reason: str) -> None:
    """Skip on a developer's machine; in CI a missing dependency is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_ari() -> Path:
    """``../shared/asterisk-ari-22``: Asterisk's api-docs and the recorded traces."""
    if not (SHARED_ARI / "api-docs" / "events.json").is_file():
        # Not shipped with the project (a clone elsewhere has no ../shared): skipped even in CI.
        pytest.skip(f"{SHARED_ARI} is not present")
    return SHARED_ARI


def _pg_base_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_PG)
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url[len("postgresql://") :]
    return url


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    base = _pg_base_url()
    name = f"ariapp_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(base, f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        _missing(f"PostgreSQL not reachable at {base.split('@')[-1]}: {exc}")
    head, _, _ = base.rpartition("/")
    yield f"{head}/{name}"
    try:
        asyncio.run(_pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except Exception:
        pass


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every store test runs twice: on an SQLite file and on PostgreSQL.

    The PostgreSQL database is shared by the session; tests must not assume it is empty
    (use fresh ids) unless they request ``clean_database_url``.
    """
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def clean_database_url(database_url: str) -> AsyncIterator[str]:
    """``database_url`` with every table dropped first, so the test sees an empty database."""
    if database_url.startswith("postgresql"):
        await _pg_admin(
            _pg_base_url().rpartition("/")[0] + "/" + database_url.rpartition("/")[2],
            "DROP SCHEMA public CASCADE; CREATE SCHEMA public;",
        )
    yield database_url
