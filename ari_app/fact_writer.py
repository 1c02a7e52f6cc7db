"""Writes call facts to the store in the order they happened, waiting out database outages.

Call control never waits on the database: facts are queued here and applied by one task.
A fact that cannot be written yet is retried with backoff; it is never dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import phonenumbers
import structlog

from ari_app.calls import commands as c
from ari_app.store import CallStore, StoreUnavailable
from ari_app.work_queue import WorkQueue

log = structlog.get_logger(__name__)

MAX_REFUSALS = 5
MAX_BATCH = 200


def to_e164(number: str, region: str) -> str | None:
    """The caller's number in E.164, or None when it is not a plausible phone number."""
    if not number or not any(ch.isdigit() for ch in number):
        return None
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mask_number(number: str) -> str:
    """For logs: keep the last three digits only."""
    return ("*" * max(0, len(number) - 3)) + number[-3:] if number else ""


class FactWriter(WorkQueue[c.Fact]):
    def __init__(
        self,
        store: CallStore,
        default_region: str,
        *,
        retry_initial: float = 0.2,
        retry_max: float = 5.0,
        on_written: Callable[[c.Fact], None] | None = None,
    ) -> None:
        super().__init__()
        self._store = store
        self._region = default_region
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._on_written = on_written
        self.failures = 0
        self.rejected: list[c.Fact] = []

    async def run(self) -> None:
        """Write what has queued up in one transaction (one commit for many facts under load)."""
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write_batch(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()
            if self._on_written:
                for fact in batch:
                    self._on_written(fact)

    async def _write_batch(self, batch: list[c.Fact]) -> None:
        if len(batch) > 1:
            delay = self._retry_initial
            while True:
                try:
                    async with self._store.batch():
                        for fact in batch:
                            await self._apply(fact)
                    return
                except asyncio.CancelledError:
                    raise
                except StoreUnavailable as exc:
                    self.failures += 1
                    log.warning("fact_batch_waiting", facts=len(batch), error=str(exc)[:200], retry_in=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._retry_max)
                except Exception:
                    break
        for fact in batch:
            await self._write(fact)

    async def _write(self, fact: c.Fact) -> None:
        """Retry until written. A database outage is waited out for as long as it lasts; a fact
        the store keeps refusing for another reason is set aside (logged, kept in ``rejected``)
        after MAX_REFUSALS tries, so that it cannot hold back every later call's facts."""
        delay = self._retry_initial
        refusals = 0
        while True:
            try:
                await self._apply(fact)
                return
            except asyncio.CancelledError:
                raise
            except StoreUnavailable as exc:
                self.failures += 1
                log.warning(
                    "fact_write_waiting", fact=type(fact).__name__, error=str(exc)[:200], retry_in=delay
                )
            except Exception as exc:
                self.failures += 1
                refusals += 1
                if refusals >= MAX_REFUSALS:
                    self.rejected.append(fact)
                    log.error(
                        "fact_rejected", fact=repr(fact)[:500], error=f"{type(exc).__name__}: {exc}"[:300]
                    )
                    return
                log.warning(
                    "fact_write_failed", fact=type(fact).__name__, error=str(exc)[:200], retry_in=delay
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_max)

    async def _apply(self, f: c.Fact) -> None:
        s = self._store
        if isinstance(f, c.CallStarted):
            await s.call_started(
                call_id=f.call_id,
                channel_id=f.channel_id,
                caller_number=f.caller_number,
                caller_e164=to_e164(f.caller_number, self._region),
                caller_name=f.caller_name,
                did=f.did,
                branch=f.branch,
                ad_channel=f.ad_channel,
                started_at=f.at,
            )
        elif isinstance(f, c.LegCreated):
            await s.leg_created(
                call_id=f.call_id, leg_id=f.leg_id, admin=f.admin, endpoint=f.endpoint, created_at=f.at
            )
        elif isinstance(f, c.LegProgress):
            await s.leg_updated(
                f.leg_id, dialed_at=f.dialed_at, ringing_at=f.ringing_at, answered_at=f.answered_at
            )
        elif isinstance(f, c.LegEnded):
            await s.leg_ended(f.leg_id, result=f.result, ended_at=f.at, cause=f.cause)
        elif isinstance(f, c.CallAnswered):
            await s.call_answered(f.call_id, admin=f.admin, answered_at=f.at)
        elif isinstance(f, c.CallEnded):
            await s.call_ended(
                f.call_id,
                outcome=f.outcome,
                ended_at=f.at,
                hangup_side=f.hangup_side,
                end_cause=f.end_cause,
                failure_reason=f.failure_reason,
            )
        elif isinstance(f, c.RecordingFailedFact):
            await s.recording_failed(f.call_id, name=f.name, fmt=f.fmt, error=f.error)
