"""Writes call facts to the store in the order they happened, waiting out database outages.

Call control never waits on the database: facts are spooled to disk, queued here and applied by
one task. A fact that cannot be written yet is retried with backoff; it is never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from ari_app.facts.rows import RowContext, write_rows
from ari_app.facts.spool import BadLine, FactSpool, Spooled
from ari_app.facts.types import (
    Fact,
)
from ari_app.numbers import Regions
from ari_app.store import CallStore, StoreUnavailable, until_available
from ari_app.work_queue import WorkQueue

log = structlog.get_logger(__name__)

T = TypeVar("T")
MAX_REFUSALS = 5
MAX_BATCH = 200


class FactWriter(WorkQueue[tuple[Spooled, "asyncio.Future[None] | None"]]):
    """Spools each fact as it is accepted, then writes facts to the store in batches.

    A batch and the spool position it reaches commit in one transaction, so after a crash the
    next start replays exactly the facts the database lacks (see ``ari_app.spool``).
    """

    def __init__(
        self,
        store: CallStore,
        regions: Regions,
        *,
        spool: FactSpool | None = None,
        retry_initial: float = 0.2,
        retry_max: float = 5.0,
        gather: float = 0.0,
        callback_merge_minutes: int = 60,
    ) -> None:
        super().__init__()
        self._store = store
        self._spool = spool
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._gather = gather
        # Told of each fact once it is committed, in order (the fan-out's durable consumers).
        self.on_written: Callable[[Fact], None] | None = None
        # (a number's missed calls within callback_merge_minutes: one task)
        self._rows = RowContext(regions, callback_merge_minutes)
        self._committed: dict[str, int] = {}  # segment -> last seq in the database
        self.failures = 0
        self.waiting_since: float | None = None  # monotonic time the store became unavailable
        self.rejected: list[Fact] = []

    def submit(self, fact: Fact) -> None:  # type: ignore[override]  # the queue adds the spool position
        self._queue.put_nowait((self._accept(fact), None))

    def submit_and_wait(self, fact: Fact) -> asyncio.Future[None]:
        """Accept a fact; the future resolves once it is in the database (or set aside)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((self._accept(fact), done))
        return done

    def _accept(self, fact: Fact) -> Spooled:
        return self._spool.append(fact) if self._spool else Spooled("", 0, fact)

    # ------------------------------------------------------------------ replay
    async def replay(self) -> int:
        """Queue the facts earlier processes spooled but the database lacks; wait until they are
        in, then delete their segments. Returns how many facts were replayed."""
        spool = self._spool
        if spool is None:
            return 0
        replayed = 0
        for segment in spool.leftover_segments():
            last = await self._until_available(functools.partial(self._store.spool_position, segment))
            waits: list[asyncio.Future[None]] = []
            for item in spool.read(segment):
                if isinstance(item, BadLine):
                    log.error(
                        "spool_line_unreadable", segment=item.segment, line=item.line_no, error=item.error
                    )
                elif item.seq > last:
                    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                    self._queue.put_nowait((item, done))
                    waits.append(done)
            await asyncio.gather(*waits)
            replayed += len(waits)
            spool.remove(segment)
            await self._until_available(functools.partial(self._store.forget_spool_segment, segment))
            log.info("spool_replayed", segment=segment, facts=len(waits), already_stored=last)
        return replayed

    # ------------------------------------------------------------------ writing
    async def run(self) -> None:
        """Write what has queued up in one transaction (one commit for many facts under load)."""
        while True:
            batch = [await self._queue.get()]
            if self._gather and self._queue.qsize() < MAX_BATCH:
                # Let more facts queue up: one transaction (begin, position, commit) for many
                # facts costs the event loop far less than one for a few, and every fact is
                # already safe in the spool.
                await asyncio.sleep(self._gather)
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            written: list[Spooled] = []
            try:
                written = await self._write_batch([item for item, _ in batch])
            finally:
                for _, done in batch:
                    self._queue.task_done()
                    if done is not None and not done.done():
                        done.set_result(None)
            if self.on_written is not None:
                for item in written:
                    self.on_written(item.fact)
            self._drop_finished_segments()

    async def _write_batch(self, batch: list[Spooled]) -> list[Spooled]:
        """Commit the batch; the facts that are in the database now (not those set aside)."""
        if await self._retrying(lambda: self._commit(batch), 1 if len(batch) > 1 else MAX_REFUSALS):
            return batch
        written = []
        if len(batch) > 1:  # one of them is refused: find it, write the others
            for item in batch:
                if await self._retrying(lambda it=item: self._commit([it]), MAX_REFUSALS):  # type: ignore[misc]
                    written.append(item)
                else:
                    await self._set_aside(item)
            return written
        await self._set_aside(batch[0])
        return written

    async def _set_aside(self, item: Spooled) -> None:
        """Keep a fact the database refuses for good where an operator finds it, and move the
        spool position past it so that a restart does not replay it again."""
        self.rejected.append(item.fact)
        log.error("fact_rejected", fact=type(item.fact).__name__, segment=item.segment, seq=item.seq)
        if self._spool is not None:
            self._spool.set_aside(item, "refused by the database")
            await self._retrying(lambda: self._commit([item], apply=False), MAX_REFUSALS)

    async def _commit(self, items: list[Spooled], *, apply: bool = True) -> None:
        async with self._store.batch():
            for item in items:
                if apply:
                    await write_rows(self._store, item.fact, self._rows)
            positions: dict[str, int] = {}
            for item in items:
                if item.segment:
                    positions[item.segment] = max(positions.get(item.segment, 0), item.seq)
            for segment, seq in positions.items():
                await self._store.set_spool_position(segment, seq)
        for segment, seq in positions.items():
            self._committed[segment] = max(self._committed.get(segment, 0), seq)

    async def _retrying(self, attempt: Callable[[], Awaitable[None]], max_refusals: int) -> bool:
        """True once ``attempt`` succeeds. A database outage is waited out for as long as it lasts;
        any other error counts as a refusal, and ``max_refusals`` of them give False."""
        delay = self._retry_initial
        refusals = 0
        while True:
            try:
                await attempt()
                self.waiting_since = None
                return True
            except asyncio.CancelledError:
                raise
            except StoreUnavailable as exc:
                self.failures += 1
                # Said once per outage: the app's database probe reports it and its end.
                level = log.warning if self.waiting_since is None else log.debug
                if self.waiting_since is None:
                    self.waiting_since = time.monotonic()
                level("facts_waiting_for_database", reason=exc.reason, retry_in=round(delay, 2))
            except Exception as exc:
                self.failures += 1
                refusals += 1
                log.warning("fact_write_refused", error=f"{type(exc).__name__}: {str(exc)[:200]}")
                if refusals >= max_refusals:
                    return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_max)

    async def _until_available(self, read: Callable[[], Awaitable[T]]) -> T:
        return await until_available(read, "spool", initial=self._retry_initial, maximum=self._retry_max)

    def _drop_finished_segments(self) -> None:
        """A segment no longer written to and wholly in the database is deleted."""
        spool = self._spool
        if spool is None:
            return
        for segment, last in list(spool.closed_segments.items()):
            if self._committed.get(segment, 0) >= last:
                spool.remove(segment)

    async def finish(self, timeout: float) -> bool:
        """At a clean stop: drain, and if everything is in the database, drop this segment."""
        drained = await self.drain(timeout)
        spool = self._spool
        if spool is None:
            return drained
        current, last = spool.segment, spool.last_seq
        spool.close()
        if drained and self._committed.get(current, 0) >= last:
            spool.remove(current)
            with contextlib.suppress(Exception):
                await self._store.forget_spool_segment(current)
        return drained
