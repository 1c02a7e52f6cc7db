"""What a demo run placed and what became of it: counted from this run's call rows only.

Rows are found by the caller's channel id that the simulator gave each placed call, so a data
folder that already holds earlier runs' calls changes nothing in this run's figures.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ari_app.store import CallRecord

if TYPE_CHECKING:
    from ari_app.app import CallCenterApp
    from ari_app.simctl import SimControl

OUTCOMES = ("answered", "missed", "abandoned", "closed", "failed", "interrupted")


@dataclass(frozen=True)
class PlacedCall:
    number: int  # 1, 2, ... in the order placed
    kind: str  # the generated call's kind (see ari_app.demo.mix)
    sim_call_id: str
    channel_id: str | None  # None: the PBX declined it (Stasis failed, and no dialplan fallback)
    fallback: bool = False  # the app was away: the dialplan's fallback took it (imported later)


@dataclass(frozen=True)
class RunSummary:
    placed: int
    outcomes: dict[str, int]
    recorded: int  # calls with a saved (or repaired) recording
    callbacks: int  # distinct callback tasks this run's calls are in
    transfers: int
    queued: int  # calls that waited on hold
    # Stasis() failed: the app's websocket was away, so the PBX turned the call away itself.
    declined: int = 0
    # Who called, as the directories knew them: patient, staff, contractor, unknown (new callers).
    callers: dict[str, int] = field(default_factory=dict)
    bookings_sent: dict[str, int] = field(default_factory=dict)  # the scheduler's events, by kind
    linked: dict[str, int] = field(default_factory=dict)  # events linked to this run's calls, by kind
    opportunities: int = 0  # this run's calls classed new or current
    converted: int = 0  # of those, calls that brought a created booking
    missing: list[PlacedCall] = field(default_factory=list)  # given to the app, but no row or outcome
    leftovers: dict[str, int] = field(default_factory=dict)  # what the app or the PBX still holds

    @property
    def stored(self) -> int:
        return sum(self.outcomes.values())

    @property
    def accounted(self) -> bool:
        return not self.missing and self.stored + self.declined == self.placed and not self.leftovers


def summarise(
    placed: list[PlacedCall], rows: list[CallRecord], links: dict[str, list[str]] | None = None
) -> RunSummary:
    """``links``: each call's linked booking events' kinds (call id -> kinds)."""
    links = links or {}
    by_channel: dict[str | None, CallRecord] = {r.channel_id: r for r in rows}
    given = [p for p in placed if p.channel_id is not None]
    ours = [by_channel[p.channel_id] for p in given if p.channel_id in by_channel]
    missing = [p for p in given if p.channel_id not in by_channel or by_channel[p.channel_id].outcome is None]
    outcomes = Counter(r.outcome for r in ours if r.outcome is not None)
    return RunSummary(
        placed=len(placed),
        outcomes={k: outcomes.get(k, 0) for k in OUTCOMES},
        recorded=sum(1 for r in ours if any(x.status in ("saved", "repaired") for x in r.recordings)),
        callbacks=len({r.callback_task_id for r in ours if r.callback_task_id}),
        transfers=sum(r.transfers for r in ours),
        queued=sum(1 for r in ours if r.queued_at is not None),
        declined=len(placed) - len(given),
        callers=dict(Counter(r.caller_kind or "not looked up" for r in ours)),
        linked=dict(Counter(kind for r in ours for kind in links.get(r.id, ()))),
        opportunities=sum(1 for r in ours if r.opportunity_class in ("new", "current")),
        converted=sum(
            1 for r in ours if r.opportunity_class in ("new", "current") and "created" in links.get(r.id, ())
        ),
        missing=sorted(missing, key=lambda p: p.number),
    )


async def linked_kinds(app: CallCenterApp, call_ids: list[str]) -> dict[str, list[str]]:
    """Each call's linked booking events, by kind (the call rows do not carry them)."""
    from sqlalchemy import select

    from ari_app.store.bookings import BookingEvent, CallLink

    found: dict[str, list[str]] = {}
    async with app.db.session() as s:
        for start in range(0, len(call_ids), 500):
            chunk = call_ids[start : start + 500]
            stmt = (
                select(CallLink.call_id, BookingEvent.kind)
                .join(BookingEvent, BookingEvent.id == CallLink.booking_event_id)
                .where(CallLink.call_id.in_(chunk))
            )
            for call_id, kind in (await s.execute(stmt)).all():
                found.setdefault(call_id, []).append(kind)
    return found


async def leftovers(app: CallCenterApp, ctl: SimControl) -> dict[str, int]:
    """What is still held once every call ended: on the app's side calls, ids, timers, admins
    ringing or on a call and calls seeking one; on the PBX channels, bridges, playbacks and
    recordings. Anything here is a call that did not end cleanly."""
    sizes = app.switchboard.sizes()
    left = {f"app_{k}": sizes[k] for k in ("calls", "index", "timers")}
    desk = app.desk
    counts = desk.counts()
    left |= {"admins_ringing": counts.get("ringing", 0), "admins_on_call": counts.get("on_call", 0)}
    left["calls_seeking"] = len(desk.dispatcher.seekers)
    left["app_desk_legs"] = desk.legs_followed
    state = await ctl.state()
    for key in ("channels", "bridges", "playbacks", "live_recordings", "stored_recordings"):
        left[f"pbx_{key}"] = len(state[key])
    return {k: v for k, v in left.items() if v}


def write_report(
    path: Path,
    summary: RunSummary,
    placed_calls: list[PlacedCall],
    sim_calls: list[dict[str, Any]],
    floor: dict[str, int],
    disturbed: list[tuple[float, float]],
) -> None:
    """The run as JSON, for tests and for looking into a run by hand: the summary, each placed
    call with the simulator's own record of it."""
    by_id = {c["call_id"]: c for c in sim_calls}
    placed = [{**asdict(p), "sim": by_id.get(p.sim_call_id)} for p in placed_calls]
    body = {
        **asdict(summary),
        "floor": floor,
        "pbx_disturbed": disturbed,
        "placed_calls": placed,
        "accounted": summary.accounted,
    }
    path.write_text(json.dumps(body, indent=1, default=str), encoding="utf-8")


CALLER_WORDS = {"patient": "known patients", "unknown": "new", "staff": "staff", "contractor": "contractors"}


def _callers(kinds: dict[str, int]) -> list[str]:
    order = [*CALLER_WORDS, *sorted(set(kinds) - set(CALLER_WORDS))]
    return [f"{kinds[k]} {CALLER_WORDS.get(k, k)}" for k in order if kinds.get(k)]


def _bookings(summary: RunSummary) -> str:
    kinds = ("created", "cancelled", "moved")
    sent = ", ".join(f"{summary.bookings_sent[k]} {k}" for k in kinds if summary.bookings_sent.get(k))
    linked = sum(summary.linked.values())
    share = f"{summary.converted / summary.opportunities:.0%}" if summary.opportunities else "n/a"
    return (
        f"bookings: {sum(summary.bookings_sent.values())} sent ({sent}), {linked} linked to this run's"
        f" calls; conversion {summary.converted} of {summary.opportunities} opportunity calls ({share})"
    )


def render(summary: RunSummary) -> str:
    lines = ["", f"{'outcome':<12}{'calls':>7}", "-" * 19]
    lines += [f"{name:<12}{value:>7}" for name, value in summary.outcomes.items()]
    lines += ["-" * 19, f"{'total':<12}{summary.stored:>7}"]
    if summary.declined:
        lines.append(
            f"{'declined':<12}{summary.declined:>7}  (the PBX turned them away: the app was not connected)"
        )
    lines += [f"{'placed':<12}{summary.placed:>7}", ""]
    lines += [
        f"{'on hold':<12}{summary.queued:>7}",
        f"{'transfers':<12}{summary.transfers:>7}",
        f"{'recorded':<12}{summary.recorded:>7}",
        f"{'callbacks':<12}{summary.callbacks:>7}  (tasks for this run's unanswered calls)",
    ]
    if summary.callers:
        lines += ["", "callers: " + ", ".join(_callers(summary.callers))]
    if summary.bookings_sent:
        lines.append(_bookings(summary))
    if summary.leftovers:
        lines += ["", "left over: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.leftovers.items()))]
    if summary.missing:
        lines.append("")
        lines += [
            f"not accounted for: call {p.number} ({p.kind}, channel {p.channel_id or 'none'})"
            for p in summary.missing
        ]
    return "\n".join(lines)
