"""What a read of the records file yields: the calls whose records are all in, the lines that are
not records, and where the next read starts. Pure: bytes and the time in.

Asterisk appends a call's records together when the call is over, one line each, so a read can
end inside a call's burst (or inside a line, cut short). A call is taken once it is surely
whole: another call's line follows its last, or its last record ended ``settle`` seconds ago.
The next read starts at the first line not yet taken, so nothing is skipped; a call read twice
is imported once (the database keys it by the caller's channel).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ari_app.fallback.cdr import BadRecord, CdrRecord, FallbackCall, call_of, parse_line

# A fragment still showing its first field, the caller's uniqueid, quoted whole: whose it was.
_TORN_HEAD = re.compile(r'^"((?:[A-Za-z0-9_.-]+-)?[0-9]+\.[0-9]+)"(?:,|$)')


@dataclass
class ReadBatch:
    calls: list[FallbackCall] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (the line, what is wrong)
    others: int = 0  # records that are not the fallback's: not ours to import
    position: int = 0  # where the next read starts (bytes into the file)


@dataclass
class _Group:
    records: list[CdrRecord]
    first: int  # offset of its first line
    last_line: int  # index of its last line


def read_batch(data: bytes, start: int, now: datetime, settle: float) -> ReadBatch:
    """``data``: the file from byte ``start`` on."""
    lines = _complete_lines(data)
    groups: dict[str, _Group] = {}
    bad: list[tuple[int, str, str]] = []  # (offset, line, why)
    others: list[int] = []  # offsets of records not the fallback's
    offset = start
    for index, raw in enumerate(lines):
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        try:
            record = parse_line(text)
            if record is None:
                others.append(offset)
        except BadRecord as exc:
            fragment, record = _salvage(text)
            bad.append((offset, fragment, str(exc)))
        if record is not None:
            group = groups.setdefault(record.linkedid, _Group([], offset, index))
            group.records.append(record)
            group.last_line = index
        offset += len(raw)
    settled_before = now - timedelta(seconds=settle)
    waiting = [
        g.first
        for g in groups.values()
        if g.last_line == len(lines) - 1 and max(r.end for r in g.records) > settled_before
    ]
    position = min(waiting) if waiting else offset
    torn = {m.group(1) for _, line, _ in bad if (m := _TORN_HEAD.match(line))}
    # A last line left unfinished that names a call whose records are all in and settled:
    # Asterisk stopped while writing it (a call's records are written together as it ends).
    unfinished = data[sum(len(raw) for raw in lines) :].decode("utf-8", errors="replace")
    if (m := _TORN_HEAD.match(unfinished)) is not None:
        torn.add(m.group(1))
    return ReadBatch(
        calls=[_call(g.records, torn) for g in groups.values() if g.first < position],
        rejected=[(line, why) for at, line, why in bad if at < position],
        others=sum(1 for at in others if at < position),
        position=position,
    )


def _call(records: list[CdrRecord], torn: set[str]) -> FallbackCall:
    call = call_of(records)
    # Records are written in Dial order: the one cut short may be the phone that answered.
    return dataclasses.replace(call, torn=True) if call.linkedid in torn else call


def _salvage(text: str) -> tuple[str, CdrRecord | None]:
    """A bad line may be a record cut short (Asterisk stopped mid-write) with the next record
    appended to it: keep that record, and set aside only what comes before it. The record is
    the line's tail from the last quote on which a whole record parses (one from a quote inside
    the fragment can parse too: the fragment's tail would then pass for the record's head)."""
    start = text.rfind('"')
    while start > 0:
        try:
            record = parse_line(text[start:])
        except BadRecord:
            record = None
        if record is not None:
            return text[:start], record
        start = text.rfind('"', 0, start)
    return text, None


def _complete_lines(data: bytes) -> list[bytes]:
    """Every line that ends with a newline; a last one cut short waits for the next read."""
    lines = data.splitlines(keepends=True)
    if lines and not lines[-1].endswith(b"\n"):
        lines.pop()
    return lines
