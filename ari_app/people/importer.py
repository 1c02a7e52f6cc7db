"""Import a clinic's CSV into a directory: rows read by ``csvfile``, each validated by the input
model the API uses, the good ones written in batches, each bad one reported with its line.

A row lands whole or not at all (the sink's per-item answer); the good rows of a file land even
when others are refused, so a clinic fixes only the rejects (``--rejects`` writes them out, in the
file's own delimiter, with the reason appended) and imports that file again. Messages name lines
and columns, never a cell's value: the cells are patients' data.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

from pydantic import ValidationError
from tqdm import tqdm

from ari_app.numbers import Regions
from ari_app.people.csvcolumns import Kind
from ari_app.people.csvfile import CsvFile, CsvProblem, CsvRow, Loc, open_csv
from ari_app.people.errors import RowError
from ari_app.people.schema import ContactIn, ContactKind, PatientIn

BATCH_SIZE = 500
EXIT_OK, EXIT_FILE, EXIT_REJECTED = 0, 1, 2
CONTACT_KINDS: dict[Kind, ContactKind] = {"staff": "staff", "contractors": "contractor"}


class DirectorySink(Protocol):
    """Where imported rows go (``ari_app.store.directory.DirectoryStore``): one answer per item,
    None when it was stored, its ``RowError`` when not; every item lands whole or not at all."""

    async def upsert_patients(
        self, items: Sequence[PatientIn], regions: Regions, now: datetime
    ) -> list[RowError | None]: ...

    async def upsert_contacts(
        self, kind: ContactKind, items: Sequence[ContactIn], regions: Regions, now: datetime
    ) -> list[RowError | None]: ...


@dataclass
class ImportReport:
    total: int = 0  # records in the file
    imported: int = 0
    rejected: int = 0
    repeated: int = 0  # rows a later row with the same external id replaced

    @property
    def exit_code(self) -> int:
        return EXIT_REJECTED if self.rejected else EXIT_OK

    def summary(self) -> str:
        text = f"imported {self.imported} rows, rejected {self.rejected} (of {self.total})"
        if self.repeated:
            text += f"; {self.repeated} replaced by a later row with the same external id"
        return text


@dataclass
class _Pending:
    row: CsvRow
    item: PatientIn | ContactIn
    replaced_stored: bool  # the row it replaces was already stored


@dataclass
class _Run:
    """One import's progress: the batch being filled, who was seen where, and the refusals."""

    file: CsvFile
    sink: DirectorySink
    regions: Regions
    now: datetime
    out: TextIO
    bar: tqdm
    report: ImportReport = field(default_factory=ImportReport)
    pending: dict[str, _Pending] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)  # external id → line of the row that wins
    rejects: list[tuple[int, tuple[str, ...], list[str]]] = field(default_factory=list)

    def say(self, message: str) -> None:
        self.bar.write(message, file=self.out)

    def refuse(self, line: int, cells: tuple[str, ...], column: str | None, reason: str) -> None:
        """Report a problem of the row at ``line``; the row counts once however many it has."""
        self.say(f"line {line}, column {column}: {reason}" if column else f"line {line}: {reason}")
        if self.rejects and self.rejects[-1][0] == line:
            self.rejects[-1][2].append(f"{column}: {reason}" if column else reason)
            return
        self.report.rejected += 1
        self.rejects.append((line, cells, [f"{column}: {reason}" if column else reason]))

    def problem(self, problem: CsvProblem) -> None:
        if not (self.rejects and self.rejects[-1][0] == problem.line):
            self.report.total += 1
            self.bar.update(1)
        self.refuse(problem.line, problem.cells, problem.column, problem.reason)

    async def row(self, row: CsvRow, batch_size: int) -> None:
        self.report.total += 1
        self.bar.update(1)
        checked = _validate(self.file.kind, row)
        if isinstance(checked, list):
            for column, reason in checked:
                self.refuse(row.line, row.cells, column, reason)
            return
        key = checked.external_id
        earlier = self.seen.get(key)
        stored = False
        if earlier is not None:
            self.say(f"line {row.line}: warning: same external id as line {earlier}; line {row.line} wins")
            self.report.repeated += 1
            stored = self.pending.pop(key, None) is None
            self.report.imported -= int(stored)
        self.seen[key] = row.line
        self.pending[key] = _Pending(row, checked, stored)
        if len(self.pending) >= batch_size:
            await self.flush()

    async def flush(self) -> None:
        batch = list(self.pending.values())
        self.pending.clear()
        if not batch:
            return
        kind = self.file.kind
        if kind == "patients":
            patients = [p.item for p in batch if isinstance(p.item, PatientIn)]
            answers = await self.sink.upsert_patients(patients, self.regions, self.now)
        else:
            contacts = [p.item for p in batch if isinstance(p.item, ContactIn)]
            answers = await self.sink.upsert_contacts(CONTACT_KINDS[kind], contacts, self.regions, self.now)
        if len(answers) != len(batch):
            raise RuntimeError(f"the directory answered {len(answers)} times for {len(batch)} rows")
        for pending, answer in zip(batch, answers, strict=True):
            if answer is None:
                self.report.imported += 1
                continue
            if pending.replaced_stored:  # the earlier row stays what the directory holds
                self.report.imported += 1
                self.report.repeated -= 1
            for where, reason in answer.errors or (("", "refused"),):
                self.refuse(pending.row.line, pending.row.cells, pending.row.column_of(_loc(where)), reason)


def _loc(where: str) -> Loc:
    """A sink's field path ("phones.1.number", "phones[1].number") as pydantic's loc."""
    parts = where.replace("[", ".").replace("]", "").split(".")
    return tuple(int(part) if part.isdigit() else part for part in parts if part)


def _validate(kind: Kind, row: CsvRow) -> PatientIn | ContactIn | list[tuple[str, str]]:
    try:
        if kind == "patients":
            return PatientIn.model_validate(row.data)
        return ContactIn.model_validate(row.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        return [(row.column_of(tuple(e["loc"])), e["msg"].removeprefix("Value error, ")) for e in errors]


async def run_import(
    kind: Kind,
    source: Path | bytes,
    sink: DirectorySink,
    regions: Regions,
    *,
    now: datetime | None = None,
    rejects: Path | None = None,
    ignore_unknown_columns: bool = False,
    quiet: bool = False,
    err: TextIO | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import ``source`` into ``sink``; row problems go to ``err`` (stderr) as they are found.
    Raises ``CsvFileError`` (nothing imported) when the file as a whole cannot be read."""
    out = err if err is not None else sys.stderr
    file = open_csv(source, kind, ignore_unknown_columns=ignore_unknown_columns)
    shown = not quiet and out.isatty()
    with tqdm(total=None, unit=" rows", file=out, disable=not shown, mininterval=0.5) as bar:
        run = _Run(file, sink, regions, now or datetime.now(UTC), out, bar)
        if file.ignored:
            run.say("ignoring columns " + ", ".join(repr(name) for name in file.ignored))
        for item in file.rows():
            if isinstance(item, CsvProblem):
                run.problem(item)
            else:
                await run.row(item, batch_size)
        await run.flush()
    if rejects is not None:
        write_rejects(rejects, file, run.rejects)
    return run.report


def write_rejects(path: Path, file: CsvFile, rejects: list[tuple[int, tuple[str, ...], list[str]]]) -> None:
    """The refused rows as they were, in the file's delimiter and encoding, with a ``reason``."""
    width = len(file.header)
    with path.open("w", encoding="utf-8-sig" if file.bom else "utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=file.delimiter)
        writer.writerow([*file.header, "reason"])
        for line, cells, reasons in sorted(rejects, key=lambda r: r[0]):
            padded = [*cells, *[""] * (width - len(cells))]
            writer.writerow([*padded, f"line {line}: " + "; ".join(reasons)])
