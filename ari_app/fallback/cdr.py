"""The CDR records of the dialplan's fallback: their format, and the calls they describe. Pure.

Asterisk writes them with ``cdr_custom`` (``asterisk-config/cdr_custom.conf``, rendered from
``FIELDS``) only for callers that ran the ``[fallback]`` context: ``cdr.conf`` leaves CDRs off on
every channel (``channeldefaultenabled = no``) and the context turns its caller's back on and
marks it in the userfield. What a real Asterisk 22.10.1 writes (recorded with SIPp phones):

- one record per dialled phone, in Dial order, all with the caller's uniqueid as ``linkedid``:
  ``dstchannel`` names the phone (``PJSIP/admin102-00000002``), ``disposition`` is ANSWERED for
  the one who answered, BUSY, or NO ANSWER (a ring-out, another phone answering, and the
  caller's CANCEL alike);
- when nobody answered and the caller stayed, one more record for the callback message:
  ANSWERED (Playback() answers the caller) with an empty ``dstchannel``, and the only record whose
  userfield ends with ``;dial=<DIALSTATUS>``;
- an unknown number: one ANSWERED record with no ``dstchannel`` (the failure message);
- a call's records are written together when the caller's channel is gone, one CSV line each,
  every field quoted, no header; times are epochs (``CDR(start,u)``), an unanswered ``answer``
  is ``0.000000``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

# The fields of a record, in order; "(u)" reads the time as an epoch (CDR(start,u)).
FIELDS = ("linkedid", "sequence", "start(u)", "answer(u)", "end(u)", "disposition", "src", "clid", "dst",
          "dstchannel", "lastapp", "userfield")  # fmt: skip
MARK = "clinic-fallback"  # the userfield of every record the fallback context writes
FILE_NAME = "clinic-fallback.csv"  # in Asterisk's log directory, cdr-custom/
_PHONE = re.compile(r"^(?P<endpoint>[A-Za-z0-9]+/[^/]+?)-[0-9a-f]{8}$")
_CLID_NAME = re.compile(r'^"(?P<name>.*)" <.*>$')
# <epoch>.<counter>, after "<systemname>-" when asterisk.conf sets one.
_UNIQUEID = re.compile(r"^(?:[A-Za-z0-9_.-]+-)?[0-9]+\.[0-9]+$")


def mapping_line() -> str:
    """The cdr_custom.conf mapping that writes ``FIELDS`` to ``FILE_NAME``."""
    parts = []
    for name in FIELDS:
        expr = f"CDR({name[:-3]},u)" if name.endswith("(u)") else f"CDR({name})"
        parts.append(f"${{CSV_QUOTE(${{{expr}}})}}")
    return f"{FILE_NAME} => {','.join(parts)}"


def userfield(branch: str | None) -> str:
    """The mark the fallback context sets (``;`` escaped: it starts a comment in a .conf line)."""
    return rf"{MARK}\;branch={branch or ''}\;did=${{EXTEN}}"


class BadRecord(ValueError):
    """A line that is not one of our records; the message says what is wrong with it."""


@dataclass(frozen=True)
class CdrRecord:
    linkedid: str
    sequence: int
    start: datetime
    answer: datetime | None
    end: datetime
    disposition: str
    src: str
    clid: str
    dst: str
    dstchannel: str
    lastapp: str
    marks: dict[str, str] = field(default_factory=dict)  # branch, did, dial from the userfield

    @property
    def phone(self) -> str | None:
        """The dialled endpoint, ``PJSIP/admin102``; None for the caller's own part."""
        found = _PHONE.match(self.dstchannel)
        return found.group("endpoint") if found else None


def parse_line(line: str) -> CdrRecord | None:
    """One CSV line; None for a record that is not the fallback's (not ours to import)."""
    try:
        rows = list(csv.reader(io.StringIO(line), strict=True))
    except csv.Error as exc:
        raise BadRecord(f"not CSV: {exc}") from None
    if len(rows) != 1 or len(rows[0]) != len(FIELDS):
        got = len(rows[0]) if len(rows) == 1 else f"{len(rows)} rows"
        raise BadRecord(f"expected {len(FIELDS)} fields, found {got}")
    values = dict(zip(FIELDS, rows[0], strict=True))
    marks = _marks(values["userfield"])
    if marks is None:
        return None
    if not _UNIQUEID.match(values["linkedid"]):
        # A record cut short right after a quote, with the next appended, can still split into
        # twelve fields: its linkedid then holds a quote and the next record's id.
        raise BadRecord(f"linkedid: {values['linkedid'][:40]!r} is not a channel uniqueid")
    return CdrRecord(
        linkedid=values["linkedid"],
        sequence=_int(values, "sequence"),
        start=_epoch(values, "start(u)"),
        answer=_answer(values),
        end=_epoch(values, "end(u)"),
        disposition=values["disposition"],
        src=values["src"],
        clid=values["clid"],
        dst=values["dst"],
        dstchannel=values["dstchannel"],
        lastapp=values["lastapp"],
        marks=marks,
    )


def _marks(text: str) -> dict[str, str] | None:
    head, *rest = text.split(";")
    if head != MARK:
        return None
    marks = {}
    for part in rest:
        key, sep, value = part.partition("=")
        if not sep:
            raise BadRecord(f"userfield: {part!r} is not key=value")
        marks[key] = value
    return marks


def _int(values: dict[str, str], key: str) -> int:
    try:
        return int(values[key])
    except ValueError:
        raise BadRecord(f"{key}: {values[key]!r} is not a number") from None


def _epoch(values: dict[str, str], key: str) -> datetime:
    text = values[key]
    try:
        seconds = float(text)
    except ValueError:
        raise BadRecord(f"{key}: {text!r} is not an epoch time") from None
    if not 0 < seconds < 2**33:
        raise BadRecord(f"{key}: {text!r} is out of range")
    return datetime.fromtimestamp(seconds, UTC)


def _answer(values: dict[str, str]) -> datetime | None:
    """``0.000000`` when the record's party did not answer."""
    if values["answer(u)"].strip() in ("0", "0.000000", ""):
        return None
    return _epoch(values, "answer(u)")


@dataclass(frozen=True)
class FallbackLeg:
    endpoint: str
    dialed_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    result: str  # answered | busy | no_answer | cancelled


@dataclass(frozen=True)
class FallbackCall:
    """One caller the fallback took: what becomes its call row, legs and callback task."""

    linkedid: str  # the caller's channel uniqueid: the call row's key
    caller_number: str
    caller_name: str
    did: str
    branch: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    outcome: str  # answered | missed | abandoned | failed
    answered_by: str | None  # the endpoint that answered
    legs: tuple[FallbackLeg, ...]
    dial_status: str | None  # DIALSTATUS when nobody answered and the caller stayed
    torn: bool = False  # one of its records was cut short: who answered may be in the lost part


def call_of(records: list[CdrRecord]) -> FallbackCall:
    """The call a linkedid's records describe (every record of it, in any order)."""
    records = sorted(records, key=lambda r: r.sequence)
    first = records[0]
    dialled = [r for r in records if r.phone]
    won = next((r for r in dialled if r.disposition == "ANSWERED"), None)
    dial = next((r.marks["dial"] for r in records if "dial" in r.marks), None)
    if won is not None:
        outcome = "answered"
    elif not dialled and dial is None:
        outcome = "failed"  # a number no branch has: the failure message
    elif dial is not None:
        outcome = "missed"  # nobody answered in time: the callback promise
    else:
        outcome = "abandoned"  # the caller hung up while the phones rang
    legs = tuple(_leg(r, outcome) for r in dialled)
    name = _CLID_NAME.match(first.clid)
    return FallbackCall(
        linkedid=first.linkedid,
        caller_number=first.src,
        caller_name=name.group("name") if name else "",
        did=first.marks.get("did") or first.dst,
        branch=first.marks.get("branch") or None,
        started_at=min(r.start for r in records),
        answered_at=won.answer if won else None,
        ended_at=max(r.end for r in records),
        outcome=outcome,
        answered_by=won.phone if won else None,
        legs=legs,
        dial_status=dial,
    )


def _leg(r: CdrRecord, outcome: str) -> FallbackLeg:
    if r.disposition == "ANSWERED":
        result = "answered"
    elif r.disposition == "BUSY":
        result = "busy"
    elif outcome == "answered":
        result = "lost"  # another phone answered first
    elif outcome == "abandoned":
        result = "cancelled"
    else:
        result = "no_answer"
    assert r.phone is not None
    return FallbackLeg(r.phone, r.start, r.answer if result == "answered" else None, r.end, result)
