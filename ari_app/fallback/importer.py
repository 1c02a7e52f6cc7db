"""Imports the fallback's records: at start, then every ``fallback.import_every`` seconds.

Each new call becomes the facts a call handled by the app would have left (its row marked
``handled_by = "fallback"``, its legs, its end, and a callback task when nobody answered), written
through the fact writer: the same per-number merging of callback tasks, the same idempotent
writes. The call's id and its legs' ids are derived from the caller's channel, and a call whose
row exists is skipped, so a record read twice (after a restart, a crash, an overlapping read)
adds nothing. How far the file is imported is stored once the facts are in the database; the
file is known by its path and inode, so a new file (moved away, recreated) is read from its
start. Lines that are not records are counted and kept in ``rejected.csv``, never dropped.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import structlog

from ari_app.calls.arrival import arrival
from ari_app.config import Settings
from ari_app.facts.types import (
    CallAnswered,
    CallbackNeeded,
    CallEnded,
    CallStarted,
    Fact,
    LegCreated,
    LegEnded,
    LegProgress,
)
from ari_app.fallback.cdr import FallbackCall
from ari_app.fallback.reading import ReadBatch, read_batch
from ari_app.private_files import private_dir
from ari_app.store import CallStore, StoreUnavailable

log = structlog.get_logger(__name__)

NAMESPACE = uuid.UUID("8e3c1f5a-4f0d-4c55-9d6e-2b7f0c9a1d31")  # ids of imported calls and legs
READ_LIMIT = 8 << 20  # bytes a round reads at most; the rest waits for the next round
REASONS = {"missed": "fallback_missed", "abandoned": "fallback_abandoned", "failed": "unknown_did"}

Submit = Callable[[list[Fact]], Awaitable[None]]  # resolves once they are in the database


def call_id_of(linkedid: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"call:{linkedid}"))


def facts_of(call: FallbackCall, settings: Settings) -> list[Fact]:
    """The facts of one call the fallback took, in the order the app would have made them."""
    call_id = call_id_of(call.linkedid)
    found = settings.branch_for_did(call.did)
    branch = found[0].id if found else call.branch
    ad_channel = found[1].ad_channel if found else None
    logins = {a.endpoint: a.login for a in settings.admins}
    facts: list[Fact] = [
        CallStarted(
            call_id,
            call.linkedid,
            call.caller_number,
            call.caller_name,
            call.did,
            branch,
            ad_channel,
            call.started_at,
            handled_by="fallback",
        ),
    ]
    for n, leg in enumerate(call.legs):
        leg_id = str(uuid.uuid5(NAMESPACE, f"leg:{call.linkedid}:{n}:{leg.endpoint}"))
        admin = logins.get(leg.endpoint, leg.endpoint)
        facts += [
            LegCreated(call_id, leg_id, admin, leg.endpoint, leg.dialed_at),
            LegProgress(call_id, leg_id, dialed_at=leg.dialed_at, answered_at=leg.answered_at),
            LegEnded(call_id, leg_id, leg.result, leg.ended_at, None),
        ]
    if call.answered_at is not None and call.answered_by is not None:
        facts.append(CallAnswered(call_id, logins.get(call.answered_by, call.answered_by), call.answered_at))
    reason = REASONS.get(call.outcome)
    failure = "unknown_did" if call.outcome == "failed" else None
    if call.torn:  # a record of it was lost: the outcome may be wrong, so the row says so
        failure = "fallback_record_torn"
    facts.append(CallEnded(call_id, call.outcome, call.ended_at, None, None, failure))
    if reason is not None:
        due = arrival(settings, call.did, call.ended_at).routing.due(call.ended_at)
        facts.append(CallbackNeeded(call_id, call.caller_number, branch, reason, due, call.ended_at))
    return facts


class FallbackImporter:
    def __init__(
        self,
        settings: Settings,
        store: CallStore,
        submit: Submit,
        data_dir: Path,
        *,
        clock: Callable[[], datetime],
        on_records: Callable[[str, int], None] = lambda result, n: None,
    ) -> None:
        self.settings = settings
        self.path = Path(settings.fallback.cdr_file) if settings.fallback.cdr_file else None
        self._store = store
        self._submit = submit
        self._folder = data_dir / "fallback"
        self._clock = clock
        self._on_records = on_records
        self._missing_said = False

    async def run_forever(self) -> None:
        every = self.settings.fallback.import_every
        while True:
            try:
                await self.import_once()
            except StoreUnavailable as exc:
                log.warning("fallback_import_waits_for_database", error=str(exc)[:200])
            except OSError as exc:
                log.warning("fallback_import_unreadable", path=str(self.path), error=exc.strerror or str(exc))
            await asyncio.sleep(every)

    async def import_once(self) -> int:
        """Import what is new in the file; how many calls were added."""
        if self.path is None:
            return 0
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if not self._missing_said:  # no fallback call yet: Asterisk makes it with the first
                log.info("fallback_records_absent", path=str(self.path))
                self._missing_said = True
            return 0
        source = f"{self.path}@{st.st_dev}:{st.st_ino}"
        start, mark = await self._store.import_position(source)
        if start and not await asyncio.to_thread(_still_there, self.path, start, mark):
            # Cut short or rewritten in place (copytruncate), perhaps grown again past where we
            # were: read it all again (a call already imported is not added twice).
            log.info("fallback_records_rewritten", path=str(self.path), position=start)
            start = 0
        data = await asyncio.to_thread(_read, self.path, start)
        batch = read_batch(data, start, self._clock(), self.settings.fallback.settle)
        added = await self._import(batch)
        if batch.rejected:
            await asyncio.to_thread(self._set_aside, batch.rejected)
        if batch.position != start:
            before = await asyncio.to_thread(_before, self.path, start)
            mark = _mark(before, data[: batch.position - start])
            await self._store.set_import_position(source, batch.position, mark)
        self._on_records("imported", added)
        self._on_records("rejected", len(batch.rejected))
        self._on_records("other", batch.others)
        if added or batch.rejected:
            log.info("fallback_imported", calls=added, rejected=len(batch.rejected), path=str(self.path))
        return added

    async def _import(self, batch: ReadBatch) -> int:
        fresh = batch.calls
        if fresh:
            known = await self._store.calls_by_channels([call.linkedid for call in fresh])
            stored = {rec.channel_id for rec in known}
            fresh = [call for call in fresh if call.linkedid not in stored]
        facts = [fact for call in fresh for fact in facts_of(call, self.settings)]
        if facts:
            await self._submit(facts)  # in the database when this returns
        return len(fresh)

    def _set_aside(self, rejected: list[tuple[str, str]]) -> None:
        private_dir(self._folder, tighten=True)
        path = self._folder / "rejected.csv"
        out = io.StringIO()
        writer = csv.writer(out)
        stamp = self._clock().isoformat()
        for line, why in rejected:
            writer.writerow([stamp, why, line])
            log.warning("fallback_record_rejected", problem=why, path=str(self.path))
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, out.getvalue().encode())
        finally:
            os.close(fd)


def _read(path: Path, start: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(READ_LIMIT)


MARK_BYTES = 256  # the bytes just before an import position, whose hash tells the file is the same


def _before(path: Path, position: int) -> bytes:
    """Up to MARK_BYTES of the file before ``position``."""
    with open(path, "rb") as f:
        f.seek(max(0, position - MARK_BYTES))
        return f.read(min(position, MARK_BYTES))


def _mark(before_start: bytes, read: bytes) -> str:
    """The hash of the MARK_BYTES before the new position: of those just read, and before them
    those before where the read started."""
    tail = (before_start + read)[-MARK_BYTES:]
    return hashlib.sha256(tail).hexdigest()[:32]


def _still_there(path: Path, position: int, mark: str | None) -> bool:
    """Whether the file still holds, just before ``position``, what was there when it was read."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size < position:
            return False
        f.seek(max(0, position - MARK_BYTES))
        tail = f.read(min(position, MARK_BYTES))
    if mark is None:  # saved before positions carried a mark: at least a line must end there
        return tail.endswith(b"\n")
    return hashlib.sha256(tail).hexdigest()[:32] == mark
