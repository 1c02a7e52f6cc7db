"""A clinic's exported CSV read into the directories' input, row by row.

Clinics export from Excel or their scheduler: UTF-8 with or without a byte-order mark, ``;``
between columns where the locale's decimal point is a comma (``,`` or tab elsewhere), fields
quoted over several lines, headers in the clinic's language (the aliases are in
``csvcolumns``). A file that cannot be read as a whole (another encoding, a header without the
columns needed) is refused before any row with ``CsvFileError``; a bad row never raises, it comes
out as ``CsvProblem`` with its line so the good rows still load.

The file is decoded as a whole: the encoding is checked before anything is imported, and a
clinic's directory is megabytes, not gigabytes.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ari_app.people.csvcolumns import (
    ALIASES,
    Column,
    Kind,
    fields_of,
    header_lookup,
    parse_cell,
    parse_phone,
    parse_role,
    resolve,
    split_phones,
)

Loc = tuple[str | int, ...]
DELIMITERS = (";", ",", "\t")  # in this order when two split the header equally well
_FIX = 'save it as "CSV UTF-8 (comma delimited)" in Excel or LibreOffice'


class CsvFileError(ValueError):
    """The file as a whole cannot be imported; nothing of it was."""


@dataclass(frozen=True)
class CsvRow:
    """A row as the input model takes it. ``columns`` maps a field path of ``data`` (pydantic's
    ``loc``) to the header it came from, so a refusal can name the clinic's own column."""

    line: int
    data: dict[str, Any]
    cells: tuple[str, ...] = ()
    columns: Mapping[Loc, str] = field(default_factory=dict)

    def column_of(self, loc: Loc) -> str:
        """The CSV column behind ``loc`` (or the nearest field holding it), else the field path."""
        for end in range(len(loc), 0, -1):
            header = self.columns.get(loc[:end])
            if header is not None:
                return header
        return ".".join(str(part) for part in loc) or "row"


@dataclass(frozen=True)
class CsvProblem:
    """Why the row starting at ``line`` cannot be imported; ``column`` as the header writes it."""

    line: int
    column: str | None
    reason: str
    cells: tuple[str, ...] = ()


def decode(raw: bytes) -> tuple[str, bool]:
    """The text, and whether it began with UTF-8's byte-order mark (Excel's "CSV UTF-8")."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise CsvFileError(f'the file is UTF-16 (Excel\'s "Unicode Text"), not UTF-8: {_FIX}')
    bom = raw.startswith(codecs.BOM_UTF8)
    body = raw[len(codecs.BOM_UTF8) :] if bom else raw
    nul = body.find(b"\x00")
    if nul >= 0:
        line = body.count(b"\n", 0, nul) + 1
        raise CsvFileError(
            f"not UTF-8: line {line} has NUL bytes, as UTF-16 without a byte-order mark has: {_FIX}"
        )
    try:
        return body.decode("utf-8"), bom
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        raise CsvFileError(
            f"not UTF-8: line {line} has bytes UTF-8 does not allow (byte 0x{body[exc.start]:02x}); "
            "the file is probably Windows-1251 or another legacy encoding, as Excel's plain "
            f'"CSV" saves it: {_FIX}, or convert it: iconv -f WINDOWS-1251 -t UTF-8 old.csv > new.csv'
        ) from None


@dataclass(frozen=True)
class CsvFile:
    """A decoded file whose header is understood; ``rows()`` reads the rest."""

    kind: Kind
    text: str
    delimiter: str
    header: tuple[str, ...]
    columns: tuple[Column | None, ...]  # None: an ignored or unnamed column
    bom: bool = False
    ignored: tuple[str, ...] = ()
    where: Mapping[Loc, str] = field(default_factory=dict)  # field path → header, for every row

    def rows(self) -> Iterator[CsvRow | CsvProblem]:
        reader = csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter, strict=True)
        next(reader)  # the header, read by open_csv
        while True:
            line = reader.line_num + 1  # the physical line the record starts on
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield CsvProblem(line, None, f"broken quoting: {exc}")
                continue
            if any(cell.strip() for cell in cells):  # blank lines and Excel's ";;;" rows
                yield from _row(self, line, tuple(cells))


def open_csv(source: bytes | Path, kind: Kind, *, ignore_unknown_columns: bool = False) -> CsvFile:
    """The file, decoded and its header resolved; ``CsvFileError`` when it cannot be imported."""
    raw = source.read_bytes() if isinstance(source, Path) else source
    text, bom = decode(raw)
    first = re.match(r"[^\r\n]*", text)
    if first is None or not first.group().strip():
        raise CsvFileError("line 1: no header (the file is empty or starts with a blank line)")
    lookup = header_lookup()
    delimiter = max(DELIMITERS, key=lambda d: _known(first.group(), d, kind, lookup))
    if _known(first.group(), delimiter, kind, lookup) == 0:
        raise CsvFileError(
            f"line 1 names no column a {kind} file has (split by ; , or tab): "
            f"is it the header? Known columns: {', '.join(_required(kind))}, ..."
        )
    try:
        header = tuple(next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)))
    except csv.Error as exc:
        raise CsvFileError(f"line 1: the header's quoting is broken: {exc}") from None
    columns = tuple(resolve(name, kind, lookup) for name in header)
    unknown = tuple(name for name, col in zip(header, columns, strict=True) if col is None and name.strip())
    problems = _header_problems(header, columns, kind)
    if unknown and not ignore_unknown_columns:
        listed = ", ".join(repr(name) for name in unknown)
        problems.insert(0, f"unknown columns {listed}: rename them or import with --ignore-unknown-columns")
    if problems:
        raise CsvFileError("line 1: " + "; ".join(problems))
    return CsvFile(kind, text, delimiter, header, columns, bom, unknown, _where(header, columns, kind))


def _where(header: tuple[str, ...], columns: tuple[Column | None, ...], kind: Kind) -> dict[Loc, str]:
    """The header behind each field, also when a row leaves it empty ("Field required" names the
    column); a group ("policy", "visits", "phones") is named by its first column."""
    where: dict[Loc, str] = {}
    fields = fields_of(kind)
    for name, col in zip(header, columns, strict=True):
        if col is None:
            continue
        path: Loc = ("phones",) if col.key in ("phone", "phones") else fields[col.key]
        where.setdefault(path, name)
        where.setdefault(path[:1], name)
    return where


def _known(line: str, delimiter: str, kind: Kind, lookup: dict[str, str]) -> int:
    cells = next(csv.reader([line], delimiter=delimiter))
    return sum(1 for cell in cells if resolve(cell, kind, lookup) is not None)


def _required(kind: Kind) -> tuple[str, ...]:
    return ("external_id", "name") if kind == "patients" else ("external_id", "name", "phone")


def _header_problems(header: tuple[str, ...], columns: tuple[Column | None, ...], kind: Kind) -> list[str]:
    problems: list[str] = []
    seen: dict[Column, str] = {}
    for name, col in zip(header, columns, strict=True):
        if col is None:
            continue
        if col in seen:
            problems.append(f"columns {seen[col]!r} and {name!r} are the same column")
        seen.setdefault(col, name)
    keys = {col.key for col in seen}
    for need in _required(kind):
        if need not in keys and not (need == "phone" and "phones" in keys):
            names = dict.fromkeys((need, *ALIASES.get(need, "").split("|")[:4]))  # in order, once each
            aliases = ", ".join(repr(a) for a in names)
            problems.append(f"no {need} column (name it one of {aliases}...)")
    return problems


def _put(data: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    for step in path[:-1]:
        data = data.setdefault(step, {})
    data[path[-1]] = value


def _row(file: CsvFile, line: int, cells: tuple[str, ...]) -> Iterator[CsvRow | CsvProblem]:
    """One record: its data and where each field came from, or every problem it has."""
    problems: list[CsvProblem] = []
    data: dict[str, Any] = {}
    where = dict(file.where)
    phones: list[tuple[int, dict[str, str], dict[str, str]]] = []  # slot, values, headers
    fields = fields_of(file.kind)
    if len(cells) > len(file.header) and any(c.strip() for c in cells[len(file.header) :]):
        problems.append(
            CsvProblem(line, None, f"{len(cells)} cells, the header has {len(file.header)}", cells)
        )
    for index, (name, col) in enumerate(zip(file.header, file.columns, strict=True)):
        text = cells[index].strip() if index < len(cells) else ""
        if not text:
            continue  # an empty cell: not given
        if col is None:
            if not name.strip():
                problems.append(
                    CsvProblem(line, f"#{index + 1}", "a value under a column without a name", cells)
                )
            continue
        try:
            if col.key == "phones":
                for number in split_phones(text):
                    # after any numbered column: slots go up to MAX_PHONE_SLOTS
                    phones.append((1000 + len(phones), {"number": parse_phone(number)}, {"number": name}))
            elif col.key == "phone":
                value = parse_phone(text) if col.part == "number" else text
                slot = next((p for p in phones if p[0] == col.slot), None)
                if slot is None:
                    slot = (col.slot, {}, {})
                    phones.append(slot)
                slot[1][col.part] = parse_role(value) if col.part == "role" else value
                slot[2][col.part] = name
            else:
                path = fields[col.key]
                _put(data, path, parse_cell(col.key, text))
        except ValueError as exc:
            problems.append(CsvProblem(line, name, str(exc), cells))
    problems.extend(_phones(file.kind, line, cells, sorted(phones, key=lambda p: p[0]), data, where))
    if problems:
        yield from problems
    else:
        yield CsvRow(line, data, cells, where)


def _phones(
    kind: Kind,
    line: int,
    cells: tuple[str, ...],
    slots: list[tuple[int, dict[str, str], dict[str, str]]],
    data: dict[str, Any],
    where: dict[Loc, str],
) -> list[CsvProblem]:
    """Numbered phone columns in their order, then a ``phones`` cell's numbers: the list the
    model takes (numbers for a contact, number/role/owner for a patient's card)."""
    problems: list[CsvProblem] = []
    items: list[Any] = []
    for _, values, headers in slots:
        if "number" not in values:
            problems.extend(
                CsvProblem(line, h, f"a phone {part} without its number", cells)
                for part, h in headers.items()
            )
            continue
        at = len(items)
        items.append(values["number"] if kind != "patients" else dict(values))
        where[("phones", at)] = headers["number"]
        for part, header in headers.items():
            where[("phones", at, part)] = header
    if items:
        data["phones"] = items
    return problems
