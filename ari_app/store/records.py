"""Plain values handed out by the store; no ORM object leaves it."""

from __future__ import annotations

from dataclasses import dataclass, field
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
class LinkRecord:
    """A booking event a call brought (``call_links``), with what the scheduler said of it."""

    booking_event_id: int
    event_id: str
    kind: str  # created | cancelled | moved
    booking_id: str
    patient_external_id: str
    happened_at: datetime
    appointment_at: datetime | None
    doctor: str | None
    rule: str  # how the call is about the patient: patient | family | comment
    distance_seconds: float


# The caller type a call without a comment is listed under: what the directories tell of its
# number (staff and contractors are known without an admin), else not known yet.
UNKNOWN_CALLER = "unknown"
_KIND_TYPES = {"staff": "employee", "contractor": "contractor"}


def caller_type(comment_type: str | None, caller_kind: str | None) -> str:
    """The comment's caller type, else the one the directories imply (``UNKNOWN_CALLER``)."""
    if comment_type:
        return comment_type
    return _KIND_TYPES.get(caller_kind or "", UNKNOWN_CALLER)


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
    caller_type: str = UNKNOWN_CALLER  # see caller_type()
    # The opportunity class (new | current | none) as proposed, why, and as an admin chose it;
    # ``opportunity_class`` is the one that counts: the chosen one, else the proposal.
    opportunity: str | None = None
    opportunity_reason: str | None = None
    opportunity_chosen: str | None = None
    opportunity_chosen_by: str | None = None
    opportunity_class: str | None = None
    links: list[LinkRecord] = field(default_factory=list)  # the booking events it brought


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
