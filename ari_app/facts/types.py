"""The call facts: what happened on a call, each carrying its ``call_id``.

Facts are made by the call sessions (and by the fallback import, the recording collector) and
fanned out by type to the consumers subscribed to them (``ari_app.facts.fanout``): the store
writer first, which makes them durable, then the front desk, metrics and the rest. A new fact
is one class here plus the consumers that want it. This module imports nothing of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import get_args


@dataclass(frozen=True)
class CallStarted:
    call_id: str
    channel_id: str
    caller_number: str
    caller_name: str
    did: str
    branch: str | None
    ad_channel: str | None
    at: datetime
    handled_by: str = "app"  # "fallback": imported from the dialplan's records


@dataclass(frozen=True)
class LegCreated:
    call_id: str
    leg_id: str
    admin: str
    endpoint: str
    at: datetime


@dataclass(frozen=True)
class LegProgress:
    call_id: str
    leg_id: str
    dialed_at: datetime | None = None
    ringing_at: datetime | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True)
class LegEnded:
    call_id: str
    leg_id: str
    result: str
    at: datetime
    cause: int | None = None


@dataclass(frozen=True)
class CallAnswered:
    call_id: str
    admin: str
    at: datetime


@dataclass(frozen=True)
class CallEnded:
    call_id: str
    outcome: str
    at: datetime
    hangup_side: str | None = None
    end_cause: int | None = None
    failure_reason: str | None = None


@dataclass(frozen=True)
class RecordingFailedFact:
    call_id: str
    name: str
    fmt: str
    error: str


@dataclass(frozen=True)
class RecordingSaved:
    """A recording archived by the app (written after the call's own facts, in order)."""

    call_id: str
    name: str
    fmt: str
    path: str
    duration_seconds: float
    size_bytes: int
    sha256: str
    repaired: bool = False  # Asterisk stopped before closing the file; its header was rebuilt


@dataclass(frozen=True)
class NoticePlayed:
    """The branch's recording notice was played to the caller in full."""

    call_id: str
    at: datetime


@dataclass(frozen=True)
class TopicChosen:
    call_id: str
    topic: str
    at: datetime


@dataclass(frozen=True)
class CallQueued:
    """Nobody was free: the caller was put on hold to wait."""

    call_id: str
    at: datetime


@dataclass(frozen=True)
class CallTransferred:
    call_id: str
    from_admin: str
    to: str  # "admin:<login>" or "group:<id>"
    at: datetime


@dataclass(frozen=True)
class CallbackNeeded:
    """Nobody talked with this caller: someone must call them back."""

    call_id: str
    number: str
    branch: str | None
    reason: str  # closed_hours | holiday | max_wait | abandoned | no_admins | unknown_did | failed
    due_at: datetime
    at: datetime


@dataclass(frozen=True)
class CallerIdentified:
    """Who the caller is, as the directories knew the number when the call came in.

    ``kind``: patient | staff | contractor | unknown (a directory that failed or was too slow
    says unknown); ``patient_id``: the one card the number is on, if exactly one;
    ``patient_cards``: how many cards it is on; ``in_statistics``: False for staff and
    contractors, whose calls stay out of the admins' and the clinic's statistics; ``name``: the
    name to greet (``CallerIdentity.display_name``) and ``patient_external_id`` the one card's id,
    for the screen-pop, which reads that card (facts spooled before they existed: empty).
    """

    call_id: str
    kind: str
    patient_id: int | None
    patient_cards: int
    in_statistics: bool
    at: datetime
    name: str = ""
    patient_external_id: str | None = None


Fact = (
    CallStarted
    | LegCreated
    | LegProgress
    | LegEnded
    | CallAnswered
    | CallEnded
    | RecordingFailedFact
    | RecordingSaved
    | NoticePlayed
    | TopicChosen
    | CallQueued
    | CallTransferred
    | CallbackNeeded
    | CallerIdentified
)

# By name, for the spool's lines.
FACT_TYPES: dict[str, type[Fact]] = {cls.__name__: cls for cls in get_args(Fact)}
