"""Plain values handed out by the store; no ORM object leaves it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LegRecord:
    id: str
    admin: str
    endpoint: str
    created_at: datetime
    dialed_at: datetime | None
    ringing_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    result: str | None
    cause: int | None


@dataclass(frozen=True)
class RecordingRecord:
    name: str
    format: str
    path: str | None
    duration_seconds: float | None
    bytes: int | None
    sha256: str | None
    status: str
    error: str | None
    created_at: datetime


@dataclass(frozen=True)
class CallNote:
    """The admin's comment on a call, as call listings show it (its history: CommentStore)."""

    caller_type: str
    topic: str
    patient_external_id: str | None
    text: str
    version: int


@dataclass(frozen=True)
class CallRecord:
    id: str
    channel_id: str
    caller_number: str
    caller_e164: str | None
    caller_name: str
    did: str
    branch: str | None
    ad_channel: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    wait_seconds: float | None
    talk_seconds: float | None
    outcome: str | None
    admin: str | None
    hangup_side: str | None
    end_cause: int | None
    failure_reason: str | None
    notice_played: bool
    topic: str | None
    queued_at: datetime | None  # when the caller was first put on hold
    transfers: int
    callback_task_id: str | None
    legs: list[LegRecord]
    recordings: list[RecordingRecord]
    handled_by: str = (
        "app"  # "fallback": the dialplan took it while the app was down; "manual": logged by hand
    )
    # Who called (the directories, when the call came in): patient | staff | contractor |
    # unknown; None: not looked up. Staff, contractors and others are not in patient statistics
    # (the comment's caller type, once written, decides).
    caller_kind: str | None = None
    patient_id: int | None = None
    in_statistics: bool = True
    comment: CallNote | None = None
    report_topic: str | None = None  # the comment's topic unless unknown, else the phone menu's


@dataclass(frozen=True)
class CallbackTaskRecord:
    id: str
    number: str
    number_e164: str | None
    branch: str | None
    reason: str
    status: str
    due_at: datetime
    created_at: datetime
    updated_at: datetime
    attempts: int
    last_call_at: datetime
    call_ids: list[str]  # the missed calls it covers, oldest first
