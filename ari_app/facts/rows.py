"""How each fact becomes rows: one function per fact type, found by the fact's type. A new fact
that the store keeps adds one function here."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ari_app.facts.types import (
    CallAnswered,
    CallbackNeeded,
    CallEnded,
    CallerIdentified,
    CallQueued,
    CallStarted,
    CallTransferred,
    Fact,
    LegCreated,
    LegEnded,
    LegProgress,
    NoticePlayed,
    RecordingFailedFact,
    RecordingSaved,
    TopicChosen,
)
from ari_app.numbers import Regions
from ari_app.store import CallStore


@dataclasses.dataclass(frozen=True)
class RowContext:
    regions: Regions  # callers' numbers are read as dialled at their branch
    callback_merge_minutes: int  # a number's missed calls within this: one callback task


F = TypeVar("F")
Rows = Callable[[CallStore, Any, RowContext], Awaitable[None]]
_ROWS: dict[type, Rows] = {}


def _rows(kind: type[F]) -> Callable[[Callable[[CallStore, F, RowContext], Awaitable[None]]], Rows]:
    def register(fn: Callable[[CallStore, F, RowContext], Awaitable[None]]) -> Rows:
        _ROWS[kind] = fn
        return fn

    return register


async def write_rows(store: CallStore, fact: Fact, ctx: RowContext) -> None:
    await _ROWS[type(fact)](store, fact, ctx)


def kept() -> frozenset[type]:
    """The fact types the store keeps."""
    return frozenset(_ROWS)


@_rows(CallStarted)
async def _started(s: CallStore, f: CallStarted, ctx: RowContext) -> None:
    await s.call_started(
        call_id=f.call_id,
        channel_id=f.channel_id,
        caller_number=f.caller_number,
        caller_e164=ctx.regions.to_e164(f.caller_number, f.branch),
        caller_name=f.caller_name,
        did=f.did,
        branch=f.branch,
        ad_channel=f.ad_channel,
        started_at=f.at,
        handled_by=f.handled_by,
    )


@_rows(LegCreated)
async def _leg_created(s: CallStore, f: LegCreated, _: RowContext) -> None:
    await s.leg_created(
        call_id=f.call_id, leg_id=f.leg_id, admin=f.admin, endpoint=f.endpoint, created_at=f.at
    )


@_rows(LegProgress)
async def _leg_progress(s: CallStore, f: LegProgress, _: RowContext) -> None:
    await s.leg_updated(f.leg_id, dialed_at=f.dialed_at, ringing_at=f.ringing_at, answered_at=f.answered_at)


@_rows(LegEnded)
async def _leg_ended(s: CallStore, f: LegEnded, _: RowContext) -> None:
    await s.leg_ended(f.leg_id, result=f.result, ended_at=f.at, cause=f.cause)


@_rows(CallAnswered)
async def _answered(s: CallStore, f: CallAnswered, _: RowContext) -> None:
    await s.call_answered(f.call_id, admin=f.admin, answered_at=f.at)


@_rows(CallEnded)
async def _ended(s: CallStore, f: CallEnded, _: RowContext) -> None:
    await s.call_ended(
        f.call_id,
        outcome=f.outcome,
        ended_at=f.at,
        hangup_side=f.hangup_side,
        end_cause=f.end_cause,
        failure_reason=f.failure_reason,
    )


@_rows(RecordingFailedFact)
async def _recording_failed(s: CallStore, f: RecordingFailedFact, _: RowContext) -> None:
    await s.recording_failed(f.call_id, name=f.name, fmt=f.fmt, error=f.error)


@_rows(RecordingSaved)
async def _recording_saved(s: CallStore, f: RecordingSaved, _: RowContext) -> None:
    await s.recording_saved(**dataclasses.asdict(f))  # the fact's fields are the columns


@_rows(NoticePlayed)
async def _notice(s: CallStore, f: NoticePlayed, _: RowContext) -> None:
    await s.notice_played(f.call_id, at=f.at)


@_rows(TopicChosen)
async def _topic(s: CallStore, f: TopicChosen, _: RowContext) -> None:
    await s.topic_chosen(f.call_id, topic=f.topic, at=f.at)


@_rows(CallQueued)
async def _queued(s: CallStore, f: CallQueued, _: RowContext) -> None:
    await s.call_queued(f.call_id, at=f.at)


@_rows(CallTransferred)
async def _transferred(s: CallStore, f: CallTransferred, _: RowContext) -> None:
    await s.call_transferred(f.call_id, from_admin=f.from_admin, to=f.to, at=f.at)


@_rows(CallbackNeeded)
async def _callback(s: CallStore, f: CallbackNeeded, ctx: RowContext) -> None:
    await s.callback_needed(
        f.call_id,
        number=f.number,
        number_e164=ctx.regions.to_e164(f.number, f.branch),
        branch=f.branch,
        reason=f.reason,
        due_at=f.due_at,
        at=f.at,
        merge_minutes=ctx.callback_merge_minutes,
    )


@_rows(CallerIdentified)
async def _identified(s: CallStore, f: CallerIdentified, _: RowContext) -> None:
    await s.caller_identified(
        f.call_id,
        kind=f.kind,
        patient_id=f.patient_id,
        patient_cards=f.patient_cards,
        in_statistics=f.in_statistics,
    )
