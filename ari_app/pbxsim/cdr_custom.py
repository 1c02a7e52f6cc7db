"""The fallback's call records as cdr_custom writes them (``cdr_custom.conf``'s ``[mappings]``).

Measured on Asterisk 22.10.1 with SIPp callers and phones
(``tests/data/fallback-cdr-asterisk-22.10.1.csv``): every field of a mapping
is ``${CSV_QUOTE(${CDR(name)})}`` or, for an epoch, ``${CSV_QUOTE(${CDR(name,u)})}``; quoted
fields (``"`` doubled) joined by ``,``, ``\\n`` line ends, no header. ``start``/``answer``/``end``
are ``%Y-%m-%d %H:%M:%S`` in local time (``""`` for no answer); with ``,u`` ``%.6f`` epochs
(``0.000000`` for no answer); ``duration``/``billsec`` are whole seconds, truncated. The file is
opened in append mode for each write; the folder ``<astlogdir>/cdr-custom`` is not created by
Asterisk (our container start script makes it): without it the records are lost, with an ERROR.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

FIELDS = frozenset(
    {"accountcode", "amaflags", "answer", "billsec", "channel", "clid", "dcontext", "disposition", "dst",
     "dstchannel", "duration", "end", "lastapp", "lastdata", "linkedid", "peeraccount", "sequence", "src",
     "start", "uniqueid", "userfield"}
)  # fmt: skip
EPOCH_FIELDS = frozenset({"start", "answer", "end"})
FOLDER = "cdr-custom"  # under Asterisk's log directory
FILE_MODE = 0o640  # the container starts Asterisk with umask 027: the app's group reads them
_FIELD = re.compile(r"\$\{CSV_QUOTE\(\$\{CDR\((?P<name>[a-z]+)(?P<u>,u)?\)\}\)\}")


class MappingError(ValueError):
    """A cdr_custom.conf the simulator does not write as Asterisk would; names the line."""


@dataclass(frozen=True)
class Mapping:
    file_name: str
    fields: tuple[tuple[str, bool], ...]  # (CDR field, as an epoch), in the line's order


@dataclass
class CdrRecord:
    """One record of the caller's CDR chain, open until ``end`` is set."""

    sequence: int
    start: float  # epoch
    answer: float | None = None
    end: float | None = None
    disposition: str = ""
    dstchannel: str = ""
    lastapp: str = ""
    lastdata: str = ""
    userfield: str = ""


@dataclass(frozen=True)
class Party:
    """What every record of one call shares: the caller's channel and the number it called."""

    uniqueid: str  # also the linkedid
    src: str
    clid: str  # "name" <number>
    dst: str
    channel: str  # PJSIP/trunk-0000000c
    dcontext: str = "fallback"
    amaflags: str = "DOCUMENTATION"


def load_mappings(path: Path) -> list[Mapping]:
    return parse_mappings(path.read_text(encoding="utf-8"), path.name)


def parse_mappings(text: str, source: str = "cdr_custom.conf") -> list[Mapping]:
    mappings: list[Mapping] = []
    section = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            if section != "mappings":
                raise MappingError(f"{source}:{number}: only [mappings] is understood, not [{section}]")
            continue
        if section != "mappings":
            raise MappingError(f"{source}:{number}: outside [mappings]: {line!r}")
        mappings.append(_mapping(line, f"{source}:{number}"))
    return mappings


def _mapping(line: str, where: str) -> Mapping:
    name, sep, template = line.partition("=>")
    name, template = name.strip(), template.strip()
    if not sep or not name or "/" in name:
        raise MappingError(f"{where}: expected 'file.csv => ${{CSV_QUOTE(${{CDR(field)}})}},...'")
    fields: list[tuple[str, bool]] = []
    pos = 0
    while True:
        found = _FIELD.match(template, pos)
        if found is None:
            raise MappingError(
                f"{where}: {template[pos : pos + 40]!r}... is not ${{CSV_QUOTE(${{CDR(field)}})}} "
                "or ${CSV_QUOTE(${CDR(field,u)})}"
            )
        field, epoch = found.group("name"), bool(found.group("u"))
        if field not in FIELDS or (epoch and field not in EPOCH_FIELDS):
            asked = field + (",u" if epoch else "")
            raise MappingError(f"{where}: CDR({asked}) is not a field the simulator writes")
        fields.append((field, epoch))
        pos = found.end()
        if pos == len(template):
            return Mapping(name, tuple(fields))
        if template[pos] != ",":
            raise MappingError(f"{where}: expected ',' between fields at {template[pos : pos + 20]!r}")
        pos += 1


def clid(name: str, number: str) -> str:
    """CDR(clid): the display name quoted, empty or not (``"" <+12025550101>``)."""
    return f'"{name}" <{number}>'


def _time(at: float | None, epoch: bool) -> str:
    if epoch:
        return f"{at or 0:.6f}"
    return "" if at is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _seconds(since: float | None, until: float) -> str:
    # cdr.c (cdr_object_get_duration/_billsec): whole milliseconds, then whole seconds, truncated.
    return "0" if since is None else str(int((until - since) * 1000) // 1000)


def field_value(name: str, epoch: bool, rec: CdrRecord, party: Party) -> str:
    end = rec.end if rec.end is not None else time.time()
    if name in EPOCH_FIELDS:
        return _time({"start": rec.start, "answer": rec.answer, "end": end}[name], epoch)
    if name == "duration":
        return _seconds(rec.start, end)
    if name == "billsec":
        return _seconds(rec.answer, end)
    if name in ("linkedid", "uniqueid"):
        return party.uniqueid
    if name == "sequence":
        return str(rec.sequence)
    if name in ("accountcode", "peeraccount"):
        return ""
    source = rec if hasattr(rec, name) else party
    return str(getattr(source, name))


def format_line(mapping: Mapping, rec: CdrRecord, party: Party) -> str:
    values = (field_value(name, epoch, rec, party) for name, epoch in mapping.fields)
    return ",".join('"' + v.replace('"', '""') + '"' for v in values) + "\n"


class CdrWriter:
    """Appends a call's records to every mapping's file, in one write per file."""

    def __init__(self, log_dir: Path, mappings: list[Mapping]) -> None:
        self.folder = log_dir / FOLDER
        self.mappings = mappings
        self.torn = False  # fault: the next write stops half-way through its last line
        self.folder.mkdir(mode=0o750, parents=True, exist_ok=True)

    def write(self, records: list[CdrRecord], party: Party) -> None:
        torn, self.torn = self.torn, False
        for mapping in self.mappings:
            lines = [format_line(mapping, rec, party) for rec in records]
            if torn and lines:
                lines[-1] = lines[-1][: len(lines[-1]) // 2]
            path = self.folder / mapping.file_name
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            except OSError as exc:
                # cdrel_custom/writers.c: "Unable to write CDR to file ...": the records are lost.
                log.error("pbxsim.cdr_lost", file=str(path), error=str(exc), records=len(records))
                continue
            try:
                os.write(fd, "".join(lines).encode())
            finally:
                os.close(fd)
