"""``ari-app import bookings FILE.csv`` and ``ari-app relink --since DATE``: the bookings feed from
a file, and every link and class recomputed. Exit codes as the directories' import: 0 all in,
2 some rows rejected (the others are in), 1 the file or configuration cannot be read, 3 the
database is unavailable."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ari_app.bookings.csvimport import EXIT_FILE, BookingImport, import_bookings
from ari_app.bookings.relink import RelinkReport
from ari_app.bookings.store import BookingStore, windows_from
from ari_app.config import Settings
from ari_app.people.csvfile import CsvFileError
from ari_app.store import Database, StoreUnavailable

T = TypeVar("T")
EXIT_DATABASE = 3


def _run(url: str, settings: Settings, work: Callable[[BookingStore], Awaitable[T]]) -> T:
    async def go() -> T:
        db = Database(url)
        try:
            await db.migrate()  # idempotent: a first import into a new database makes its tables
            return await work(BookingStore(db, windows_from(settings.bookings)))
        finally:
            await db.dispose()

    return asyncio.run(go())


def import_file(file: str, timezone: str | None, url: str, settings: Settings, quiet: bool) -> int:
    try:
        zone = ZoneInfo(timezone) if timezone else None
    except (ZoneInfoNotFoundError, ValueError):
        print(f"ari-app: --timezone {timezone}: not a time zone (such as Europe/Berlin)", file=sys.stderr)
        return EXIT_FILE
    try:
        raw = Path(file).read_bytes()
    except OSError as exc:
        print(f"{file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FILE

    def progress(rows: int) -> None:
        if not quiet:
            print(f"\r{file}: {rows} rows read", end="", file=sys.stderr, flush=True)

    try:
        report: BookingImport = _run(url, settings, lambda store: import_bookings(raw, store, zone, progress))
    except CsvFileError as exc:
        print(f"{file}: {exc}", file=sys.stderr)
        return EXIT_FILE
    except StoreUnavailable as exc:
        print(f"ari-app: {exc} (rows of earlier batches may be in)", file=sys.stderr)
        return EXIT_DATABASE
    if not quiet:
        print(file=sys.stderr)
    for error in report.errors:
        print(f"{file}: {error}", file=sys.stderr)
    print(f"{file}: {report.summary()}")
    return report.exit_code


def parse_since(text: str) -> datetime:
    """A date (midnight UTC) or a time with its offset."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        if len(text) > 10:
            raise ValueError("a time needs its UTC offset")
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def relink(since: str, url: str, settings: Settings, quiet: bool) -> int:
    try:
        start = parse_since(since)
    except ValueError:
        print(f"ari-app: --since {since}: a date (2026-01-31) or a time with its offset", file=sys.stderr)
        return EXIT_FILE

    def progress(stage: str, done: int, total: int) -> None:
        if not quiet:
            end = "\n" if done == total else ""
            print(f"\r{stage}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    try:
        report: RelinkReport = _run(url, settings, lambda store: store.relink_since(start, progress))
    except StoreUnavailable as exc:
        print(f"ari-app: {exc} (chunks done before are kept)", file=sys.stderr)
        return EXIT_DATABASE
    print(
        f"relinked {report.events} booking events since {start.isoformat()}: {report.linked} linked, "
        f"{report.calls_classified} calls classified"
    )
    return 0
