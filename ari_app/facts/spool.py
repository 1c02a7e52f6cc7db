"""The fact spool: every fact the app accepts is appended here before it is queued for the database.

A spool is a folder of segment files, one JSON line per fact (``{"seq", "type", "fact"}``),
appended to an ``O_APPEND`` descriptor with one ``write()`` for all the facts accepted in one
turn of the event loop, before the loop runs anything else, so an accepted fact is on the
kernel's side before any reaction to it and survives the process being killed; ``fsync`` runs
off the event loop at most every ``fsync_interval`` seconds, against power loss. Each process writes its own
segment. The database keeps, per segment, the last sequence number it committed (in the same
transaction as the facts), so a segment left by a killed process is replayed from exactly the
first fact the database lacks, and deleted once it is all in. An exclusive lock on the folder
keeps two processes from sharing one spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from ari_app.facts.types import FACT_TYPES, Fact

# Fields a fact gained since older versions spooled it: a segment left by one still replays.
LEGACY_DEFAULTS: dict[str, dict[str, object]] = {
    "LegProgress": {"call_id": ""},  # leg facts carry their call since the facts moved to facts/
    "LegEnded": {"call_id": ""},
}
SEGMENT_SUFFIX = ".jsonl"
ROTATE_BYTES = 16 * 1024 * 1024


class SpoolError(RuntimeError):
    pass


def _decode(name: str, raw: msgspec.Raw, cls: type[Fact]) -> Fact:
    try:
        fact: Fact = msgspec.json.decode(raw, type=cls)
        return fact
    except msgspec.ValidationError:
        defaults = LEGACY_DEFAULTS.get(name)
        if defaults is None:
            raise
    fields = msgspec.json.decode(raw)
    if not isinstance(fields, dict):
        raise ValueError(f"{name}: not an object")
    old: Fact = msgspec.convert({**defaults, **fields}, type=cls)
    return old


class _Line(msgspec.Struct):
    seq: int
    type: str
    fact: msgspec.Raw


@dataclass(frozen=True)
class Spooled:
    segment: str
    seq: int
    fact: Fact


@dataclass(frozen=True)
class BadLine:
    segment: str
    line_no: int
    error: str


class FactSpool:
    def __init__(self, directory: Path, *, fsync_interval: float = 1.0) -> None:
        self.directory = directory
        self.fsync_interval = fsync_interval
        self._encoder = msgspec.json.Encoder()
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self.segment = ""
        self._seq = 0
        self._size = 0
        self._dirty = False
        self._pending: list[bytes] = []
        self._flush_scheduled = False
        self.closed_segments: dict[str, int] = {}  # segment -> its last seq, no longer written

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Lock the folder (one process per spool) and start this process's segment."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolError(
                f"spool {self.directory} is in use by another process (one app per data_dir)"
            ) from None
        self._lock_fd = fd
        self._new_segment()

    def _new_segment(self) -> None:
        if self._fd is not None:
            self.flush()
            os.close(self._fd)
            self.closed_segments[self.segment] = self._seq
        self.segment = f"{time.time_ns():020d}-{os.getpid()}"
        path = self.directory / f"{self.segment}{SEGMENT_SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        self._seq = 0
        self._size = 0

    @property
    def last_seq(self) -> int:
        return self._seq

    def close(self) -> None:
        if self._fd is not None:
            self.flush()
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------------ writing
    def append(self, fact: Fact) -> Spooled:
        if self._fd is None:
            raise SpoolError("spool is not open")
        if self._size >= ROTATE_BYTES:
            self._new_segment()
        self._seq += 1
        line = self._encoder.encode({"seq": self._seq, "type": type(fact).__name__, "fact": fact}) + b"\n"
        self._pending.append(line)
        self._size += len(line)
        if not self._flush_scheduled:
            # One write() for every fact accepted in this turn of the event loop, made before
            # the loop does anything else (no await comes between accepting and writing).
            self._flush_scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop: write now
                self.flush()
        return Spooled(self.segment, self._seq, fact)

    def flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending or self._fd is None:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._dirty = True

    async def sync_forever(self) -> None:
        """fsync the open segment now and then, in a thread (it may take milliseconds)."""
        while True:
            await asyncio.sleep(self.fsync_interval)
            fd = self._fd
            if self._dirty and fd is not None:
                self._dirty = False
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(os.fsync, fd)

    # ------------------------------------------------------------------ replay
    def leftover_segments(self) -> list[str]:
        """Segments written by earlier processes, oldest first."""
        names = sorted(p.name[: -len(SEGMENT_SUFFIX)] for p in self.directory.glob(f"*{SEGMENT_SUFFIX}"))
        return [n for n in names if n != self.segment]

    def read(self, segment: str) -> Iterator[Spooled | BadLine]:
        """The facts of a segment in order. A line that does not decode (a write cut short by a
        power loss, or a hand edit) is reported and skipped, never guessed at."""
        path = self.directory / f"{segment}{SEGMENT_SUFFIX}"
        with path.open("rb") as fh:
            for n, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    line = msgspec.json.decode(raw, type=_Line)
                    cls = FACT_TYPES.get(line.type)
                    if cls is None:
                        raise ValueError(f"unknown fact type {line.type!r}")
                    fact: Fact = _decode(line.type, line.fact, cls)
                except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
                    yield BadLine(segment, n, str(exc)[:200])
                    continue
                yield Spooled(segment, line.seq, fact)

    def remove(self, segment: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.directory / f"{segment}{SEGMENT_SUFFIX}").unlink()
        self.closed_segments.pop(segment, None)

    def set_aside(self, item: Spooled, error: str) -> None:
        """Keep a fact the database refused for good where an operator can find it."""
        path = self.directory / "rejected.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            record = {"segment": item.segment, "seq": item.seq, "type": type(item.fact).__name__,
                      "fact": item.fact, "error": error}  # fmt: skip
            os.write(fd, self._encoder.encode(record) + b"\n")
        finally:
            os.close(fd)
