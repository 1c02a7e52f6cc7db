"""Store fixtures shared by the directories' tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ari_app.store import Database
from ari_app.store.directory import DirectoryStore


@pytest.fixture
async def directory(clean_database_url: str) -> AsyncIterator[DirectoryStore]:
    """The directories on an empty, migrated database (SQLite and PostgreSQL)."""
    db = Database(clean_database_url)
    await db.migrate()
    try:
        yield DirectoryStore(db)
    finally:
        await db.dispose()
