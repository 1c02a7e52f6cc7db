"""Store fixtures shared by the store's tests: an empty, migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ari_app.store import Database
from ari_app.store.directory import DirectoryStore


@pytest.fixture
async def db(clean_database_url: str) -> AsyncIterator[Database]:
    database = Database(clean_database_url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def directory(db: Database) -> DirectoryStore:
    """The directories on that database."""
    return DirectoryStore(db)
