"""Brings finished recordings from Asterisk into the app's archive, checked, then frees Asterisk.

The app never reads Asterisk's disk: the file comes over ARI (``/recordings/stored/{name}/file``).
It is deleted on Asterisk only once it is archived and recorded in the store, so a failure at
any step leaves the only copy where it was. Store rows go through the fact writer, so they wait
out a database outage in the spool and land after the call's own rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

from ari_app.ari.client import AriClient, AriError, AriNotFound
from ari_app.calls.commands import CollectRecording
from ari_app.facts.types import Fact, RecordingFailedFact, RecordingSaved
from ari_app.store.recordings import InvalidRecording, RecordingArchive, inspect_wav, repair_unclosed_wav
from ari_app.work_queue import WorkQueue

log = structlog.get_logger(__name__)

# Asterisk reports whole seconds; the file may also miss a fraction at either end.
DURATION_TOLERANCE = 1.5


class RecordingCollector(WorkQueue[CollectRecording]):
    def __init__(
        self,
        client: AriClient,
        archive: RecordingArchive,
        record: Callable[[Fact], Awaitable[None]],
        *,
        max_bytes: int,
        attempts: int = 5,
        retry_delay: float = 0.5,
    ) -> None:
        super().__init__()
        self._client = client
        self._archive = archive
        self._record = record  # resolves once the fact is in the database
        self._max_bytes = max_bytes
        self._attempts = attempts
        self._retry_delay = retry_delay
        self.saved = 0
        self.failed = 0

    async def handle(self, job: CollectRecording) -> None:
        try:
            await self._collect(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.failed += 1
            log.exception("recording_collect_crashed", call_id=job.call_id, name=job.name)

    async def _download(self, job: CollectRecording) -> bytes | None:
        delay = self._retry_delay
        for attempt in range(1, self._attempts + 1):
            try:
                return await self._client.download_stored_recording(job.name, max_bytes=self._max_bytes)
            except AriNotFound:
                if attempt == self._attempts:
                    raise
            except AriError as exc:
                if attempt == self._attempts:
                    raise
                log.warning("recording_download_retry", name=job.name, error=str(exc))
            await asyncio.sleep(delay)
            delay *= 2
        return None

    async def _collect(self, job: CollectRecording) -> None:
        try:
            data = await self._download(job)
        except AriError as exc:
            self.failed += 1
            await self._record(RecordingFailedFact(job.call_id, job.name, job.fmt, f"download: {exc}"))
            return
        if data is None:
            return
        repaired = repair_unclosed_wav(data)
        if repaired is not None:
            log.warning("recording_repaired", call_id=job.call_id, name=job.name, bytes=len(data))
            data = repaired
        try:
            info = inspect_wav(data)
        except InvalidRecording as exc:
            # Keep Asterisk's copy: it may be recoverable by hand.
            self.failed += 1
            await self._record(RecordingFailedFact(job.call_id, job.name, job.fmt, f"invalid: {exc}"))
            log.warning("recording_invalid", call_id=job.call_id, name=job.name, error=str(exc))
            return
        expected = job.reported_seconds
        started = job.started_at or datetime.now(UTC)
        saved = await self._archive.save_async(job.call_id, job.name, job.fmt, data, started)
        # Written by the fact writer, after the call's own facts; deleted on Asterisk only once
        # it is in the database.
        await self._record(
            RecordingSaved(
                job.call_id,
                name=job.name,
                fmt=job.fmt,
                path=saved.path_rel,
                duration_seconds=info.duration_seconds,
                size_bytes=saved.size,
                sha256=saved.sha256,
                repaired=repaired is not None,
            )
        )
        if expected is not None and abs(info.duration_seconds - expected) > DURATION_TOLERANCE:
            log.warning(
                "recording_duration_mismatch",
                call_id=job.call_id,
                file_seconds=round(info.duration_seconds, 2),
                expected_seconds=round(expected, 2),
            )
        self.saved += 1
        try:
            await self._client.delete_stored_recording(job.name)
        except AriNotFound:
            pass
        except AriError as exc:
            log.warning("recording_delete_failed", name=job.name, error=str(exc))
