"""Holding the database down from a test: its write lock taken, so the app's writes wait."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def writes_blocked(db_url: str) -> AsyncIterator[None]:
    """Hold the database's write lock, so the app's facts can only reach its spool."""
    if db_url.startswith("sqlite"):
        path = db_url.split("///", 1)[1]
        conn = sqlite3.connect(path, timeout=15, isolation_level=None, check_same_thread=False)
        await asyncio.to_thread(conn.execute, "BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    import asyncpg

    pg = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
    tx = pg.transaction()
    await tx.start()
    await pg.execute("LOCK TABLE calls, call_legs, recordings, spool_positions IN EXCLUSIVE MODE")
    try:
        yield
    finally:
        await tx.rollback()
        await pg.close()
