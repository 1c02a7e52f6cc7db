"""The bookings feed from a file: a scheduler's export of booking events, one per row.

Decoded as the directories' imports are (``people.csvfile.decode``: UTF-8 with or without BOM,
the encoding checked first); ``;``, ``,`` or tab between columns. Every time needs its UTC offset
unless ``--timezone`` says where naive times were written. Each row is checked by the feed's own
model; a bad row is reported as ``line N, column X: reason`` (never a cell's value: patients'
data) and the others still load. A row whose event is stored already is a duplicate, not an error."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from ari_app.bookings.schema import BookingEventIn
from ari_app.bookings.store import BookingStore, EventConflict
from ari_app.people.csvfile import CsvFileError, decode

BATCH = 500
EXIT_OK, EXIT_FILE, EXIT_REJECTED = 0, 1, 2
COLUMNS = ("event_id", "kind", "booking_id", "patient_external_id", "happened_at", "appointment_at",
           "doctor", "topic", "branch", "admin")  # fmt: skip
ALIASES = {"patient_id": "patient_external_id"}
TIMES = ("happened_at", "appointment_at")


@dataclass
class BookingImport:
    total: int = 0
    recorded: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_REJECTED if self.errors else EXIT_OK

    def summary(self) -> str:
        return (
            f"recorded {self.recorded} events, {self.duplicates} already there, "
            f"rejected {len(self.errors)} (of {self.total})"
        )


def _header(text: str) -> tuple[str, list[str]]:
    first = text.splitlines()[0] if text.strip() else ""
    best = max((";", ",", "\t"), key=lambda d: sum(_column(c) in COLUMNS for c in first.split(d)))
    names = [_column(c) for c in next(csv.reader([first], delimiter=best))]
    unknown = [n for n in names if n not in COLUMNS]
    missing = [
        c for c in ("event_id", "kind", "booking_id", "patient_external_id", "happened_at") if c not in names
    ]
    if unknown or missing:
        raise CsvFileError(
            f"line 1: unknown columns {unknown}, missing {missing}; the columns are {', '.join(COLUMNS)}"
        )
    return best, names


def _column(name: str) -> str:
    key = name.strip().lower()
    return ALIASES.get(key, key)


def _rows(text: str, zone: ZoneInfo | None) -> Iterator[tuple[int, BookingEventIn | str]]:
    delimiter, names = _header(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    next(reader)
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, f"line {line}: broken quoting: {exc}"
            continue
        if any(c.strip() for c in cells):
            yield line, _event(line, dict(zip(names, (c.strip() for c in cells), strict=False)), zone)


def _event(line: int, row: dict[str, str], zone: ZoneInfo | None) -> BookingEventIn | str:
    data: dict[str, Any] = {k: v for k, v in row.items() if v}
    for name in TIMES:
        if name in data and zone is not None:
            try:
                moment = datetime.fromisoformat(data[name])
            except ValueError:
                continue  # the model says what is wrong with it
            data[name] = moment if moment.tzinfo else moment.replace(tzinfo=zone)
    try:
        return BookingEventIn.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        column = ".".join(str(p) for p in first["loc"]) or "row"
        return f"line {line}, column {column}: {first['msg']}"


async def import_bookings(
    raw: bytes,
    store: BookingStore,
    zone: ZoneInfo | None = None,
    progress: Callable[[int], None] | None = None,
) -> BookingImport:
    """Raises CsvFileError (nothing imported) when the file as a whole cannot be read."""
    text, _ = decode(raw)
    report = BookingImport()
    batch: list[tuple[int, BookingEventIn]] = []
    for line, item in _rows(text, zone):
        report.total += 1
        if isinstance(item, str):
            report.errors.append(item)
        else:
            batch.append((line, item))
        if len(batch) >= BATCH:
            await _record(store, batch, report)
            batch = []
            if progress:
                progress(report.total)
    await _record(store, batch, report)
    if progress:
        progress(report.total)
    return report


async def _record(
    store: BookingStore, batch: list[tuple[int, BookingEventIn]], report: BookingImport
) -> None:
    if not batch:
        return
    try:
        results = await store.record([event for _, event in batch])
    except EventConflict:  # one row reuses an event id: record them one by one to name it
        for line, event in batch:
            try:
                results = await store.record([event])
            except EventConflict:
                report.errors.append(f"line {line}, column event_id: received before with other content")
                continue
            _count(report, [r.result for r in results])
        return
    _count(report, [r.result for r in results])


def _count(report: BookingImport, results: list[str]) -> None:
    report.recorded += results.count("recorded")
    report.duplicates += results.count("duplicate")
