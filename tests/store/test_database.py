"""The database itself: migrations, URLs, time zones, and what an unreachable server looks like."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import StatementError

from ari_app.store import CallStore, Database, StoreUnavailable
from ari_app.store.db import MIGRATIONS, async_url

T0 = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)


def _head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


async def test_migrations_started_at_once_wait_for_each_other(clean_database_url: str) -> None:
    """The service starting while ``ari-app users add`` (or an import) migrates the same new
    database: one migrates, the others wait for it and find nothing to do."""
    dbs = [Database(clean_database_url) for _ in range(4)]
    try:
        await asyncio.gather(*(db.migrate() for db in dbs))
        async with dbs[0].engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert versions == [_head()]
    finally:
        for db in dbs:
            await db.dispose()


async def test_migrate_twice_is_a_no_op(clean_database_url: str) -> None:
    db = Database(clean_database_url)
    try:
        await db.migrate()
        store = CallStore(db)
        await store.call_started(
            call_id="c-1", channel_id="m1", caller_number="1", caller_e164=None, caller_name="",
            did="5551234", branch=None, ad_channel=None, started_at=T0,
        )  # fmt: skip
        await db.migrate()
        async with db.engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert versions == [_head()]
        assert {"calls", "call_legs", "recordings", "spool_positions", "import_positions"} <= tables
        assert await store.get_call("c-1") is not None  # nothing was recreated
        assert await db.ping() is True
    finally:
        await db.dispose()


async def test_times_come_back_aware_utc(database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.migrate()
        store = CallStore(db)
        call_id = str(uuid.uuid4())
        kyiv = timezone(timedelta(hours=2))
        started = datetime(2026, 11, 22, 15, 0, 0, 250000, tzinfo=kyiv)  # 13:00:00.25 UTC
        await store.call_started(
            call_id=call_id, channel_id=f"tz-{call_id}", caller_number="1", caller_e164=None,
            caller_name="", did="5551234", branch=None, ad_channel=None, started_at=started,
        )  # fmt: skip
        await store.call_ended(call_id, outcome="missed", ended_at=T0 + timedelta(seconds=10.25))
        call = await store.get_call(call_id)
        assert call is not None
        assert call.started_at == started and call.started_at.utcoffset() == timedelta(0)
        assert call.ended_at is not None and call.ended_at.tzinfo is not None
        assert call.wait_seconds == pytest.approx(10.0)
        with pytest.raises(StatementError, match="naive"):
            await store.call_answered(call_id, admin="anna", answered_at=datetime(2026, 11, 22, 13, 0))
    finally:
        await db.dispose()


async def test_unavailable_database_hides_password() -> None:
    db = Database("postgresql://clinic:topsecret@127.0.0.1:1/none")
    try:
        store = CallStore(db)
        for attempt in (
            lambda: store.leg_ended("x", result="lost", ended_at=T0),
            lambda: store.get_call("x"),
            db.migrate,
        ):
            with pytest.raises(StoreUnavailable) as exc:
                await attempt()
            assert "topsecret" not in str(exc.value) and "127.0.0.1:1" in str(exc.value)
            assert "topsecret" not in repr(exc.value.__cause__) + repr(exc.value.__context__)
        assert await db.ping(timeout=1) is False
    finally:
        await db.dispose()


async def test_plain_sqlite_url_gets_wal_and_a_parent_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "data" / "calls.db"
    db = Database(f"sqlite:///{path}")
    try:
        assert db.url.startswith("sqlite+aiosqlite:///")
        await db.migrate()
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() >= 1000
        assert path.is_file()
    finally:
        await db.dispose()


def test_url_mapping() -> None:
    assert async_url("postgresql://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert async_url("postgresql+asyncpg://h/db") == "postgresql+asyncpg://h/db"
    assert "p@" not in Database("postgresql://u:p@h/db").display_url


async def test_the_migrations_build_the_tables_the_code_maps(clean_database_url: str) -> None:
    """Alembic's comparison of the migrated database with the ORM's tables finds nothing to add,
    drop or change: a column the code maps but no migration creates fails here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ari_app.store import accounts, bookings, people  # noqa: F401  (their tables join the metadata)
    from ari_app.store.models import Base

    db = Database(clean_database_url)
    try:
        await db.migrate()
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
        # Server defaults and comments are not compared (alembic does not by default).
        assert diff == []
    finally:
        await db.dispose()
