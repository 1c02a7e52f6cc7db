"""The calls in progress as the admins' consoles see them: a pure state and one function per fact.

``apply`` takes the board and a fact and returns the deltas to push (each names the call's new
row, whole, so a console that starts seeing a call mid-way, when it is offered to them from
another branch, needs nothing it missed). Nothing here reads a clock, a database or a socket:
the hub (``ari_app.screenpop.hub``) feeds facts in, the card read off the call's path comes back
through ``card_read``, the queue's places through ``reposition``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ari_app.auth.principal import Principal
from ari_app.facts.types import (
    CallAnswered,
    CallEnded,
    CallerIdentified,
    CallQueued,
    CallStarted,
    CallTransferred,
    Fact,
    LegCreated,
    LegEnded,
)
from ari_app.numbers import Regions, display

# What a delta says happened; "offered" is the pop (the wave decided, before the phone rings).
EVENTS = ("started", "caller", "card", "offered", "offer_over", "queued", "taken", "transferred", "ended")
# A call on the board this long has lost its end (swept after a restart of Asterisk, say): it
# leaves the board as the next call arrives, so the board never grows without bound.
STALE = timedelta(hours=6)
# What the caller's card is: read when the caller is one patient; "none" otherwise.
CARD_STATES = ("none", "loading", "ready", "unavailable")


@dataclass
class Caller:
    kind: str = "pending"  # pending (not known yet), patient, staff, contractor, unknown
    name: str = ""  # the name to greet: a patient's (or the number's owner), a colleague's
    cards: int = 0  # patient cards the number is on: more than one, the admin picks
    card_id: str | None = None  # the one card's external id
    card: dict[str, Any] | None = None
    card_state: str = "none"


@dataclass
class LiveCall:
    call_id: str
    started_at: datetime
    number: str  # as the branch reads it
    branch: str | None
    ad_channel: str | None
    caller: Caller = field(default_factory=Caller)
    legs: dict[str, str] = field(default_factory=dict)  # leg id -> admin login, legs up now
    offered: list[str] = field(default_factory=list)  # every admin it was offered to, in order
    queued_at: datetime | None = None
    position: int | None = None  # place in the queue while waiting (1: next)
    taken_by: str | None = None
    taken_at: datetime | None = None
    transferred_to: str | None = None
    outcome: str | None = None  # once ended: answered, abandoned (the caller gave up), missed...

    @property
    def admins(self) -> set[str]:
        """Whom it concerns beyond its branch: the admins it was offered to, and who took it."""
        return set(self.offered) | ({self.taken_by} if self.taken_by else set())

    def seen_by(self, who: Principal) -> bool:
        return who.sees_call(self.branch, self.admins)


@dataclass
class Board:
    calls: dict[str, LiveCall] = field(default_factory=dict)


@dataclass(frozen=True)
class Names:
    """What the board needs of the configuration: how numbers read per branch, admins' names."""

    regions: Regions
    admins: Mapping[str, str] = field(default_factory=dict)  # login -> name

    def admin(self, login: str | None) -> str | None:
        return None if login is None else self.admins.get(login, login)


@dataclass(frozen=True)
class Delta:
    event: str
    call: LiveCall  # as it is after the fact (an ended call: its last state, off the board)
    row: dict[str, Any]  # the call's row as pushed
    admin: str | None = None  # "offered", "offer_over": the admin whose pop it is


def row(call: LiveCall, names: Names) -> dict[str, Any]:
    """The call as the console shows it (JSON-ready)."""
    c = call.caller
    return {
        "call_id": call.call_id,
        "started_at": call.started_at.isoformat(),
        "number": call.number,
        "branch": call.branch,
        "ad_channel": call.ad_channel,
        "caller": {
            "kind": c.kind,
            "name": c.name or None,
            "cards": c.cards,
            "card_state": c.card_state,
            "card": c.card,
        },
        "ringing": sorted(set(call.legs.values())),
        "offered_to": list(call.offered),
        "queue_position": call.position,
        "queued_at": call.queued_at.isoformat() if call.queued_at else None,
        "taken_by": call.taken_by,
        "taken_by_name": names.admin(call.taken_by),
        "transferred_to": call.transferred_to,
        "outcome": call.outcome,
    }


def _delta(event: str, call: LiveCall, names: Names, admin: str | None = None) -> list[Delta]:
    return [Delta(event, call, row(call, names), admin)]


def apply(board: Board, fact: Fact, names: Names) -> list[Delta]:
    """The board after ``fact``, and what to push; a fact of a call not on the board (it
    started before this process, or is not ours) changes nothing."""
    if isinstance(fact, CallStarted):
        return _started(board, fact, names)
    call = board.calls.get(fact.call_id)
    if call is None:
        return []
    if isinstance(fact, CallerIdentified):
        return _identified(call, fact, names)
    if isinstance(fact, LegCreated):
        call.legs[fact.leg_id] = fact.admin
        if fact.admin not in call.offered:
            call.offered.append(fact.admin)
        return _delta("offered", call, names, fact.admin)
    if isinstance(fact, LegEnded):
        admin = call.legs.pop(fact.leg_id, None)
        return [] if admin is None or call.taken_by == admin else _delta("offer_over", call, names, admin)
    if isinstance(fact, CallQueued):
        call.queued_at = call.queued_at or fact.at
        return _delta("queued", call, names)
    if isinstance(fact, CallAnswered):
        call.taken_by, call.taken_at, call.position = fact.admin, fact.at, None
        return _delta("taken", call, names)
    if isinstance(fact, CallTransferred):
        call.transferred_to = fact.to
        return _delta("transferred", call, names)
    if isinstance(fact, CallEnded):
        del board.calls[fact.call_id]
        call.outcome, call.legs, call.position = fact.outcome, {}, None
        return _delta("ended", call, names)
    return []


def _started(board: Board, fact: CallStarted, names: Names) -> list[Delta]:
    if fact.handled_by != "app" or fact.call_id in board.calls:
        return []  # the dialplan's calls, imported afterwards, were never in progress here
    for stale in [c for c in board.calls.values() if fact.at - c.started_at > STALE]:
        del board.calls[stale.call_id]  # consoles drop it at their next snapshot
    region = names.regions.of(fact.branch)
    call = LiveCall(fact.call_id, fact.at, display(fact.caller_number, region), fact.branch, fact.ad_channel)
    board.calls[fact.call_id] = call
    return _delta("started", call, names)


def _identified(call: LiveCall, fact: CallerIdentified, names: Names) -> list[Delta]:
    c = call.caller
    c.kind, c.name, c.cards = fact.kind, fact.name, fact.patient_cards
    c.card_id = fact.patient_external_id if fact.kind == "patient" else None
    c.card_state = "loading" if c.card_id else "none"
    return _delta("caller", call, names)


def card_read(board: Board, call_id: str, card: dict[str, Any] | None, names: Names) -> list[Delta]:
    """The card read for the call (None: unreadable, or not in time): a follow-up delta."""
    call = board.calls.get(call_id)
    if call is None or call.caller.card_state != "loading":
        return []
    call.caller.card = card
    call.caller.card_state = "ready" if card is not None else "unavailable"
    return _delta("card", call, names)


def waiting(board: Board) -> list[str]:
    """The calls waiting in the queue now (queued, not taken)."""
    return [c.call_id for c in board.calls.values() if c.queued_at is not None and c.taken_by is None]


def reposition(board: Board, places: Mapping[str, int], names: Names) -> list[Delta]:
    """Each waiting call's place in the queue as the front desk counts it; a delta per change."""
    out: list[Delta] = []
    for call_id, place in places.items():
        call = board.calls.get(call_id)
        if call is None or call.taken_by is not None or call.position == place or place < 1:
            continue
        call.position = place
        out += _delta("queued", call, names)
    return out


def snapshot(board: Board, who: Principal, names: Names) -> list[dict[str, Any]]:
    """The calls in progress ``who`` may see, oldest first."""
    calls = sorted(board.calls.values(), key=lambda c: c.started_at)
    return [row(c, names) for c in calls if c.seen_by(who)]
