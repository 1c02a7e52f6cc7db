"""Caller numbers, names and recordings stay readable by this user only, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog.testing
from prometheus_client import CollectorRegistry

from ari_app.app import CallCenterApp
from ari_app.config import Secrets, parse_settings
from ari_app.store import Database
from tests.conftest import MINIMAL_SETTINGS


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def common_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_database_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "made" / "here" / "calls.db"
    db = Database(f"sqlite:///{path}")
    try:
        await db.migrate()
        assert await db.ping()
        # While a connection is open the -wal and -shm files exist beside the database.
        names = {p.name: mode(p) for p in path.parent.iterdir()}
        assert names == {"calls.db": 0o600, "calls.db-wal": 0o600, "calls.db-shm": 0o600}
        assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
    finally:
        await db.dispose()


async def test_files_an_earlier_run_left_readable_are_narrowed(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    path = tmp_path / "calls.db"
    for name in ("calls.db", "calls.db-wal"):
        (tmp_path / name).touch(mode=0o644)
    with structlog.testing.capture_logs() as logs:
        db = Database(f"sqlite:///{path}")
    await db.dispose()
    assert mode(path) == 0o600 and mode(tmp_path / "calls.db-wal") == 0o600
    assert mode(tmp_path) == 0o755  # a folder the app did not make is not its to change
    assert {e["path"] for e in logs if e["event"] == "path_tightened"} == {
        str(path),
        str(tmp_path / "calls.db-wal"),
    }


async def test_app_data_folder_spool_and_recordings_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    settings = parse_settings(MINIMAL_SETTINGS, "test")
    secrets = Secrets("u", "p", f"sqlite:///{data / 'ari-app.db'}", ())
    app = CallCenterApp(settings, secrets, data_dir=data, registry=CollectorRegistry())
    with structlog.testing.capture_logs() as logs:
        await app.start()
    try:
        assert mode(data) == 0o700
        assert any(e["event"] == "path_tightened" and e["path"] == str(data) for e in logs)
        files = {p.relative_to(data).as_posix(): mode(p) for p in data.rglob("*")}
        segment = next(name for name in files if name.endswith(".jsonl"))
        assert files == {
            "ari-app.db": 0o600,
            "ari-app.db-wal": 0o600,
            "ari-app.db-shm": 0o600,
            "spool": 0o700,
            "spool/lock": 0o600,
            segment: 0o600,
            "recordings": 0o700,
        }
    finally:
        await app.stop(drain_timeout=0)
