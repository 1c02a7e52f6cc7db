"""Fixtures the API and store unit tests share: a migrated SQLite store and the API over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ari_app.store import CallStore, Database
from tests.api_client import Client, api_client


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CallStore]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}")
    await db.migrate()
    try:
        yield CallStore(db)
    finally:
        await db.dispose()


@pytest.fixture
async def client(store: CallStore, tmp_path: Path) -> AsyncIterator[Client]:
    """The API as the app serves it (a module may override this with its own options)."""
    async with api_client(store, tmp_path / "recordings") as client:
        yield client
