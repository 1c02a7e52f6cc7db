"""A seeded random clinic for holding the set-based relink to the pure rules: families, guardians,
numbers shared by cards, calls that overlap, end at the same instant or are still in progress (one
a stray left open for days), comments choosing patients, and booking events at and around every
window's edges, some for unknown patients, some not yet happened.

Call ids mix cases and punctuation, so that ordering them by the database's locale instead of by
code point would show; events are placed at equal distances from two calls to exercise every tie."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from ari_app.store import Database
from ari_app.store.bookings import BookingEvent
from ari_app.store.models import Call
from ari_app.store.people import CallComment, Patient, PatientPhone

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=4)
ADMINS = ("anna", "bohdan", "olena", None)
KINDS = ("created", "created", "created", "cancelled", "moved")
EDGES = (timedelta(minutes=15), timedelta(minutes=30), timedelta(minutes=20), timedelta(minutes=35))


@dataclass
class Clinic:
    patients: list[dict[str, Any]] = field(default_factory=list)
    phones: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def _call_id(rng: random.Random, n: int) -> str:
    letters = "".join(rng.choice(string.ascii_letters + "-_") for _ in range(6))
    return f"{letters}{n}"


def _directory(rng: random.Random, c: Clinic, patients: int) -> list[str]:
    numbers = [f"+1555{n:07d}" for n in range(patients + patients // 3)]
    for i in range(1, patients + 1):
        family = rng.choice((None, "", *(f"f{n}" for n in range(patients // 5))))
        guardian = rng.choice((None, None, None, "", f"P{rng.randrange(1, patients + 1)}", "P-nobody"))
        c.patients.append(
            dict(
                id=i,
                external_id=f"P{i}",
                full_name=f"Patient {i}",
                guardian_external_id=guardian,
                family_id=family,
                visits_completed=rng.choice((0, 0, 1, 3)),
                created_at=NOW,
                updated_at=NOW,
            )
        )
        for e164 in {rng.choice(numbers) for _ in range(rng.randint(0, 3))}:
            role = rng.choice(("self", "self", "parent", "spouse"))
            c.phones.append(dict(patient_id=i, number=e164, number_e164=e164, role=role))
    return numbers


def _calls(rng: random.Random, c: Clinic, numbers: list[str], count: int) -> None:
    for n in range(count):
        started = SINCE + timedelta(seconds=rng.randrange(4 * 86400), microseconds=rng.randrange(10**6))
        ended: datetime | None = started + timedelta(seconds=rng.uniform(0, 2400))
        if started > NOW - timedelta(hours=3) and rng.random() < 0.5:
            ended = None  # still in progress
        number = rng.choice((*numbers, "+19990000000", None))
        if n % 4 == 1:  # the previous call's start (and often its number and end): ties on distance
            previous = c.calls[-1]
            started, ended = previous["started_at"], previous["ended_at"]
            if ended is not None and rng.random() < 0.5:
                ended = started + timedelta(seconds=rng.uniform(0, 2400))
            number = previous["caller_e164"] if rng.random() < 0.6 else number
        c.calls.append(_call_row(_call_id(rng, n), number, started, ended, rng.choice(ADMINS)))
        if rng.random() < (0.3 if n % 4 == 1 else 0.1):
            chosen = rng.randrange(1, len(c.patients) + 1)
            c.comments.append(
                dict(
                    call_id=c.calls[-1]["id"],
                    caller_type="patient_to_book",
                    topic="unknown",
                    patient_id=chosen,
                    text="",
                    author="anna",
                    written_at=started,
                    version=1,
                )
            )
    # A stray: opened two days before now and never ended (its events were missed).
    c.calls.append(_call_row("stray", numbers[0], NOW - timedelta(days=2), None, None))


def _call_row(call_id: str, number: str | None, started: datetime, ended: datetime | None, admin: Any) -> Any:
    return dict(
        id=call_id,
        channel_id=f"ch-{call_id}",
        caller_number=number or "",
        caller_e164=number,
        caller_name="",
        did="5551234",
        started_at=started,
        ended_at=ended,
        answered_at=started if admin else None,
        admin=admin,
        caller_kind=random.Random(call_id).choice(("patient", "unknown", "staff", None)),
        created_at=started,
        updated_at=started,
    )


def _about(rng: random.Random, c: Clinic, call: dict[str, Any]) -> str:
    """A patient the call may be about: a card on its number, their family or child, the
    comment's choice; or anyone, or a card the directory does not have."""
    cards = [p["patient_id"] for p in c.phones if p["number_e164"] == call["caller_e164"]]
    chosen = [m["patient_id"] for m in c.comments if m["call_id"] == call["id"]]
    roll = rng.random()
    if cards and roll < 0.5:
        card = c.patients[rng.choice(cards) - 1]
        kin = [p for p in c.patients if (p["family_id"] and p["family_id"] == card["family_id"])
               or p["guardian_external_id"] == card["external_id"]]  # fmt: skip
        return str(rng.choice((card, *kin))["external_id"])
    if chosen and roll < 0.8:
        return f"P{chosen[0]}"
    return rng.choice((f"P{rng.randrange(1, len(c.patients) + 1)}", "P-unknown"))


def _events(rng: random.Random, c: Clinic, count: int) -> None:
    for n in range(1, count + 1):
        call = rng.choice(c.calls)
        kind = rng.choice(KINDS)
        end = call["ended_at"] or NOW
        roll = rng.random()
        if roll < 0.3:  # exactly at an edge of some window, before the start or after the end
            at = rng.choice((call["started_at"] - rng.choice(EDGES), end + rng.choice(EDGES)))
        elif roll < 0.9:
            span = (end - call["started_at"]).total_seconds()
            at = call["started_at"] + timedelta(seconds=rng.uniform(-3000, span + 3000))
        else:
            at = NOW + timedelta(minutes=rng.uniform(-30, 30))  # around now: some not yet happened
        c.events.append(
            dict(
                id=n,
                event_id=f"e{n}",
                kind=kind,
                booking_id=f"b{n}",
                patient_external_id=_about(rng, c, call),
                happened_at=at,
                admin=rng.choice((call["admin"], *ADMINS)),
                received_at=NOW,
            )
        )


def clinic(seed: int, patients: int = 300, calls: int = 1500, events: int = 3000) -> Clinic:
    rng = random.Random(seed)
    c = Clinic()
    numbers = _directory(rng, c, patients)
    _calls(rng, c, numbers, calls)
    _events(rng, c, events)
    return c


async def load(db: Database, c: Clinic) -> None:
    async with db.engine.begin() as conn:
        for table, rows in (
            (Patient, c.patients),
            (PatientPhone, c.phones),
            (Call, c.calls),
            (CallComment, c.comments),
            (BookingEvent, c.events),
        ):
            if rows:
                await conn.execute(insert(table), rows)
