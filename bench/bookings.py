"""Bookings and links at a clinic's size of a year, on SQLite and on PostgreSQL.

Data (from a seed, bulk-loaded, kept between runs unless ``--rebuild``): the directory of
``caller_lookup.py`` (families sharing numbers, several numbers per patient), a year of calls
from those numbers (some from nobody's; started in opening hours, so windows overlap), a tenth of
them with a comment naming a patient, and booking events (created mostly, some cancelled or
moved) placed around a call of the patient or their family, and some far from any call.

Three figures, each run ``--runs`` times (median):

1. relink: ``BookingStore.relink_since(a year ago)`` end to end (links, then every call's class);
   then the links of a sample of events are checked by brute force: the calls about the event's
   patient found by a straightforward query per event, the pure ``linking.best_link`` over them.
2. record: ``BookingStore.record([event])`` for new events one at a time (the feed's path), with
   every call stored: p50 / p99 / max.
3. export: ``GET /api/calls/export.csv`` of every call through the app's HTTP API (in-process),
   the body read in chunks and dropped; growth of the process's resident memory (VmHWM after
   minus VmRSS before). Run in a fresh process of its own so the load's peak does not hide it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from caller_lookup import SEED, Directory, generate, in_schema, pg_dsn, remove_sqlite
from prometheus_client import CollectorRegistry
from sqlalchemy import delete, func, or_, select, text

from ari_app.api.errors import ApiRunner
from ari_app.api.http import HealthState, build_api
from ari_app.bookings.linking import CallSpan, EventAt, best_link
from ari_app.bookings.schema import BookingEventIn
from ari_app.bookings.store import BookingStore
from ari_app.store import CallStore, Database
from ari_app.store.bookings import BookingEvent, CallLink
from ari_app.store.models import Call
from ari_app.store.people import CallComment, Patient, PatientPhone

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
YEAR_AGO = NOW - timedelta(days=365)
MARKER = "bench_bookings"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_b"
SCHEMA = "bench_bookings"
TOKEN = "bench-token-0123456789abcdef"
ADMINS = tuple(f"admin{i:02d}" for i in range(40))
BRANCHES = ("kyiv-center", "kyiv-left", "kyiv-obolon", "lviv", "odesa")
TOPICS = ("checkup", "implant", "cleaning", "orthodontics", "pain", None)
ADS = ("google", "facebook", "radio", "referral", None)
RECORD_PREFIX = "bench-record-"

CALL_COLUMNS = (
    "id", "channel_id", "caller_number", "caller_e164", "caller_name", "did", "branch", "ad_channel",
    "started_at", "answered_at", "ended_at", "wait_seconds", "talk_seconds", "outcome", "admin",
    "hangup_side", "notice_played", "topic", "transfers", "handled_by", "caller_kind", "patient_id",
    "patient_cards", "in_statistics", "created_at", "updated_at",
)  # fmt: skip
COMMENT_COLUMNS = ("call_id", "caller_type", "topic", "patient_id", "text", "author", "written_at", "version")
EVENT_COLUMNS = (
    "id", "event_id", "kind", "booking_id", "patient_external_id", "happened_at", "appointment_at",
    "doctor", "topic", "branch", "admin", "received_at",
)  # fmt: skip
TIME_COLUMNS = {
    "calls": (8, 9, 10, 24, 25),
    "call_comments": (6,),
    "booking_events": (5, 6, 11),
}


# ----------------------------------------------------------------------------------- the data
@dataclass
class Activity:
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    comments: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)


def opening_hours_start(rng: random.Random) -> datetime:
    """A moment of the past year, in the clinics' opening hours (UTC+2: 08:00-20:00 local), busier
    mid-morning and after lunch, fewer on Sundays."""
    while True:
        day = YEAR_AGO + timedelta(days=rng.randrange(365))
        if day.weekday() == 6 and rng.random() < 0.7:
            continue
        hour = rng.choice((6, 7, 7, 8, 8, 8, 9, 9, 10, 11, 11, 12, 12, 13, 14, 15, 16, 17))
        at = day.replace(hour=hour, minute=0, second=0) + timedelta(seconds=rng.randrange(3600))
        if YEAR_AGO <= at < NOW:
            return at


def generate_activity(d: Directory, calls: int, events: int, seed: int) -> Activity:
    rng = random.Random(seed + 7)
    out = Activity()
    cards_of: dict[str, list[int]] = defaultdict(list)  # e164 → cards it is on
    for phone in d.phones:
        cards_of[phone[3]].append(phone[1])
    family: dict[str, list[int]] = defaultdict(list)
    family_of: list[str] = [""] * (len(d.patients) + 1)
    for p in d.patients:
        family[p[7]].append(p[0])
        family_of[p[0]] = p[7]
    # Who calls: patient numbers by row (a number on many cards calls more), 15 % nobody's.
    known_calls: list[int] = []  # indexes of calls from a known number
    for i in range(calls):
        start = opening_hours_start(rng)
        if rng.random() < 0.15:
            e164 = f"+38091{rng.randrange(10**7):07d}"  # 091: no directory number has this code
            number = "0" + e164[4:]
            cards: list[int] = []
        else:
            phone = d.phones[rng.randrange(len(d.phones))]
            number, e164 = phone[2], phone[3]
            cards = cards_of[e164]
        answered = rng.random() < 0.82
        wait = rng.uniform(2, 90)
        talk = min(1800.0, rng.expovariate(1 / 200) + 20) if answered else None
        ended = start + timedelta(seconds=wait + (talk or 0))
        admin = rng.choice(ADMINS) if answered else None
        cid = f"c{i:09d}"
        kind = "patient" if cards else "unknown"
        out.calls.append((
            cid, f"ch-{cid}", number, e164, "", "+380441234567", rng.choice(BRANCHES), rng.choice(ADS),
            start, start + timedelta(seconds=wait) if answered else None, ended, wait, talk,
            "answered" if answered else "abandoned", admin, "caller", False, None, 0, "app", kind,
            cards[0] if len(cards) == 1 else None, len(cards), True, start, ended,
        ))  # fmt: skip
        if answered and rng.random() < 0.1:
            # The admin names the patient the call was about: a card on the number, or (from a
            # number on no card) someone who called from elsewhere.
            chosen = rng.choice(cards) if cards else rng.randrange(1, len(d.patients) + 1)
            out.comments.append((cid, "patient", rng.choice(TOPICS) or "unknown", chosen, "", admin,
                                 ended, 1))  # fmt: skip
        if cards or (answered and out.comments and out.comments[-1][0] == cid):
            known_calls.append(i)
    comment_patient = {c[0]: c[3] for c in out.comments}
    bookings: list[tuple[str, str]] = []  # (booking id, patient external id)
    bookings_of: dict[str, list[str]] = defaultdict(list)
    for n in range(events):
        roll = rng.random()
        kind = "created" if roll < 0.8 or not bookings else ("cancelled" if roll < 0.9 else "moved")
        if rng.random() < 0.8:  # made around a call about the patient
            call = out.calls[known_calls[rng.randrange(len(known_calls))]]
            patient = comment_patient.get(call[0]) or rng.choice(cards_of[call[3]])
            if rng.random() < 0.25:  # a relative of the card: a child booked after a parent's call
                patient = rng.choice(family[family_of[patient]])
            # From 40 minutes before the start to 45 after the end: inside, near and past the edges.
            span = (call[10] - call[8]).total_seconds()
            at = call[8] + timedelta(seconds=rng.uniform(-2400, span + 2700))
            admin = call[14] if rng.random() < 0.6 else rng.choice((*ADMINS, None))
            external = f"P{patient:07d}"
            if kind != "created" and not bookings_of[external]:
                kind = "created"
            booking = rng.choice(bookings_of[external]) if kind != "created" else f"b{n:08d}"
        else:  # any time of the year: mostly far from any call of theirs
            at = opening_hours_start(rng)
            admin = rng.choice((*ADMINS, None))
            if kind == "created":
                booking, external = f"b{n:08d}", f"P{rng.randrange(1, len(d.patients) + 1):07d}"
            else:
                booking, external = bookings[rng.randrange(len(bookings))]
        if kind == "created":
            bookings.append((booking, external))
            bookings_of[external].append(booking)
        if at >= NOW:
            at = NOW - timedelta(minutes=1)
        at = at.replace(microsecond=0)
        out.events.append((
            n + 1, f"e{n:08d}", kind, booking, external, at, at + timedelta(days=rng.randrange(1, 30)),
            "Dr. House", rng.choice(TOPICS), rng.choice(BRANCHES), admin, at,
        ))  # fmt: skip
    # Stored as a live system stores them: calls in the order they came, comments as they were
    # written, events in the order they happened (their ids follow), so that a week's rows lie
    # together in the tables as they do in production, not scattered over the whole file.
    out.calls.sort(key=lambda c: c[8])
    out.comments.sort(key=lambda c: c[6])
    out.events = [(i + 1, *e[1:]) for i, e in enumerate(sorted(out.events, key=lambda e: e[5]))]
    return out


# --------------------------------------------------------------------------------- the loading
async def open_db(kind: str, args: argparse.Namespace) -> Database:
    if kind == "sqlite":
        return Database(f"sqlite+aiosqlite:///{args.sqlite_path}")
    conn = await asyncpg.connect(pg_dsn(args.pg_url))
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{args.pg_schema}"')
    finally:
        await conn.close()
    db = Database(args.pg_url)
    in_schema(db, args.pg_schema)
    return db


def mark_of(args: argparse.Namespace) -> str:
    return f"seed={args.seed} patients={args.patients} calls={args.calls} events={args.events} v3"


async def loaded(db: Database, mark: str) -> bool:
    async with db.engine.connect() as conn:
        try:
            found = await conn.scalar(text("SELECT value FROM bench_marker WHERE name = :n"), {"n": MARKER})
        except Exception:
            return False
        return bool(found == mark)


def stamp(v: datetime | None) -> str | None:
    """As SQLAlchemy's SQLite DateTime writes it (compared as text: the format must match)."""
    return None if v is None else v.strftime("%Y-%m-%d %H:%M:%S.%f")


def sqlite_rows(table: str, rows: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    at = TIME_COLUMNS[table]
    for r in rows:
        yield tuple(stamp(v) if i in at else v for i, v in enumerate(r))


def load_sqlite(path: Path, d: Directory, a: Activity, mark: str) -> None:
    from caller_lookup import CONTACT_COLUMNS, CONTACT_PHONE_COLUMNS, PATIENT_COLUMNS, PHONE_COLUMNS
    from caller_lookup import sqlite_rows as directory_rows

    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-1000000")
        con.execute("BEGIN")
        patients, contacts = directory_rows(d)
        for table, columns, rows in (
            ("patients", PATIENT_COLUMNS, patients),
            ("patient_phones", PHONE_COLUMNS, d.phones),
            ("contacts", CONTACT_COLUMNS, contacts),
            ("contact_phones", CONTACT_PHONE_COLUMNS, d.contact_phones),
            ("calls", CALL_COLUMNS, sqlite_rows("calls", a.calls)),
            ("call_comments", COMMENT_COLUMNS, sqlite_rows("call_comments", a.comments)),
            ("booking_events", EVENT_COLUMNS, sqlite_rows("booking_events", a.events)),
        ):
            marks = ", ".join("?" * len(columns))
            con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        con.execute("CREATE TABLE IF NOT EXISTS bench_marker (name TEXT PRIMARY KEY, value TEXT)")
        con.execute("INSERT OR REPLACE INTO bench_marker VALUES (?, ?)", (MARKER, mark))
        con.execute("COMMIT")
        con.execute("ANALYZE")
    finally:
        con.close()


async def load_postgres(dsn: str, schema: str, d: Directory, a: Activity, mark: str) -> None:
    from caller_lookup import CONTACT_COLUMNS, CONTACT_PHONE_COLUMNS, PATIENT_COLUMNS, PHONE_COLUMNS

    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        async with conn.transaction():
            for table, columns, rows, serial in (
                ("patients", PATIENT_COLUMNS, d.patients, True),
                ("patient_phones", PHONE_COLUMNS, d.phones, True),
                ("contacts", CONTACT_COLUMNS, d.contacts, True),
                ("contact_phones", CONTACT_PHONE_COLUMNS, d.contact_phones, True),
                ("calls", CALL_COLUMNS, a.calls, False),
                ("call_comments", COMMENT_COLUMNS, a.comments, False),
                ("booking_events", EVENT_COLUMNS, a.events, True),
            ):
                await conn.copy_records_to_table(table, records=rows, columns=columns, schema_name=schema)
                if serial:
                    top = f"(SELECT max(id) FROM {table})"
                    await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {top})")
            await conn.execute("CREATE TABLE IF NOT EXISTS bench_marker (name text PRIMARY KEY, value text)")
            await conn.execute(
                "INSERT INTO bench_marker VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2",
                MARKER,
                mark,
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def prepare(kind: str, args: argparse.Namespace) -> Database:
    db = await open_db(kind, args)
    mark = mark_of(args)
    if not args.rebuild and await loaded(db, mark):
        print(f"{kind}: data already loaded ({mark}); --rebuild to make it again", flush=True)
        await forget_recorded(db)
        return db
    await db.dispose()
    if kind == "sqlite":
        remove_sqlite(args.sqlite_path)
    else:
        conn = await asyncpg.connect(pg_dsn(args.pg_url))
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{args.pg_schema}" CASCADE')
        finally:
            await conn.close()
    db = await open_db(kind, args)
    await db.migrate()
    t0 = time.perf_counter()
    d = generate(args.patients, 2 * args.patients, args.seed)
    a = generate_activity(d, args.calls, args.events, args.seed)
    t1 = time.perf_counter()
    if kind == "sqlite":
        await asyncio.to_thread(load_sqlite, args.sqlite_path, d, a, mark)
    else:
        await load_postgres(pg_dsn(args.pg_url), args.pg_schema, d, a, mark)
    t2 = time.perf_counter()
    print(
        f"{kind}: generated {len(d.patients):,} patients, {len(d.phones):,} numbers, {len(a.calls):,} calls "
        f"({len(a.comments):,} with a comment naming a patient), {len(a.events):,} booking events "
        f"in {t1 - t0:.1f} s, loaded in {t2 - t1:.1f} s",
        flush=True,
    )
    del d, a
    gc.collect()
    return db


async def forget_recorded(db: Database) -> None:
    """The events an earlier run's figure 2 recorded, so that every run relinks the same set."""
    async with db.engine.begin() as conn:
        ids = select(BookingEvent.id).where(BookingEvent.event_id.like(RECORD_PREFIX + "%"))
        await conn.execute(delete(CallLink).where(CallLink.booking_event_id.in_(ids)))
        await conn.execute(delete(BookingEvent).where(BookingEvent.event_id.like(RECORD_PREFIX + "%")))


# ------------------------------------------------------------------------------- 1. relink
def profiled(args: argparse.Namespace, name: str) -> cProfile.Profile | None:
    if not args.profile:
        return None
    p = cProfile.Profile()
    p.enable()
    return p


def report_profile(p: cProfile.Profile | None, name: str) -> None:
    if p is None:
        return
    p.disable()
    print(f"--- profile: {name} (cumulative, top 30)")
    pstats.Stats(p).sort_stats("cumulative").print_stats(30)


async def figure_relink(kind: str, db: Database, args: argparse.Namespace) -> list[float]:
    store = BookingStore(db, clock=lambda: NOW)
    times = []
    for run in range(1, args.runs + 1):
        gc.collect()
        p = profiled(args, "relink")
        t0 = time.perf_counter()
        report = await store.relink_since(YEAR_AGO)
        times.append(time.perf_counter() - t0)
        report_profile(p, f"{kind} relink")
        print(
            f"{kind} relink run {run}: {times[-1]:.2f} s: {report.events:,} events, "
            f"{report.linked:,} linked, "
            f"{report.calls_classified:,} calls classified",
            flush=True,
        )
    return times


async def brute_force(
    kind: str, db: Database, store: BookingStore, sample: int, seed: int
) -> tuple[int, int]:
    """For ``sample`` events: the link a straightforward search gives against the stored one."""
    rng = random.Random(seed + 3)
    async with db.engine.connect() as conn:
        # The events the relink decided (those since a year ago; a few were made just before).
        since = select(BookingEvent.id).where(BookingEvent.happened_at >= YEAR_AGO).order_by(BookingEvent.id)
        relinked = list((await conn.execute(since)).scalars())
        ids = sorted(rng.sample(relinked, min(sample, len(relinked))))
        stored = {}
        for at in range(0, len(ids), 1000):
            rows = await conn.execute(
                select(CallLink.booking_event_id, CallLink.call_id, CallLink.rule).where(
                    CallLink.booking_event_id.in_(ids[at : at + 1000])
                )
            )
            stored.update({r.booking_event_id: (r.call_id, r.rule) for r in rows})
        matched = linked = 0
        mismatches: list[tuple[Any, Any, Any]] = []
        for event_id in ids:
            e = (await conn.execute(select(BookingEvent).where(BookingEvent.id == event_id))).one()
            expected = await expected_link(conn, e, store)
            linked += expected is not None
            if expected == stored.get(event_id):
                matched += 1
            elif len(mismatches) < 5:
                mismatches.append((e, expected, stored.get(event_id)))
    print(f"{kind}: brute force on {len(ids):,} events: {matched:,} match ({linked:,} linked)", flush=True)
    for e, expected, got in mismatches:
        print(
            f"  differs: event {e.id} {e.kind} {e.patient_external_id} at {e.happened_at} admin {e.admin}: "
            f"brute force {expected}, stored {got}"
        )
    return matched, len(ids)


async def expected_link(conn: Any, e: Any, store: BookingStore) -> tuple[str, str] | None:
    patient = (
        await conn.execute(
            select(Patient.id, Patient.guardian_external_id, Patient.family_id).where(
                Patient.external_id == e.patient_external_id
            )
        )
    ).one_or_none()
    if patient is None:
        return None
    rules: dict[str, str] = {}  # e164 → strongest rule
    for r in await conn.execute(
        select(PatientPhone.number_e164, PatientPhone.role).where(PatientPhone.patient_id == patient.id)
    ):
        rule = "patient" if r.role == "self" else "family"
        if rules.get(r.number_e164) != "patient":
            rules[r.number_e164] = rule
    kin = [Patient.external_id == patient.guardian_external_id] if patient.guardian_external_id else []
    if patient.family_id:
        kin.append(Patient.family_id == patient.family_id)
    if kin:
        relatives = (
            select(PatientPhone.number_e164)
            .join(Patient, Patient.id == PatientPhone.patient_id)
            .where(or_(*kin), Patient.id != patient.id)
        )
        for n in (await conn.execute(relatives)).scalars():
            rules.setdefault(n, "family")
    around = (e.happened_at - timedelta(hours=14), e.happened_at + timedelta(hours=2))
    spans: dict[str, CallSpan] = {}
    if rules:
        calls = select(Call.id, Call.started_at, Call.ended_at, Call.admin, Call.caller_e164).where(
            Call.caller_e164.in_(list(rules)), Call.started_at.between(*around)
        )
        for c in await conn.execute(calls):
            spans[c.id] = CallSpan(c.id, c.started_at, c.ended_at, c.admin, rules[c.caller_e164])
    chosen = (
        select(Call.id, Call.started_at, Call.ended_at, Call.admin)
        .join(CallComment, CallComment.call_id == Call.id)
        .where(CallComment.patient_id == patient.id, Call.started_at.between(*around))
    )
    for c in await conn.execute(chosen):
        spans[c.id] = CallSpan(c.id, c.started_at, c.ended_at, c.admin, "comment")
    link = best_link(EventAt(e.kind, e.happened_at, e.admin), list(spans.values()), store.windows, NOW)
    return None if link is None else (link.call_id, link.rule)


# ------------------------------------------------------------------------------- 2. record
async def new_events(db: Database, count: int, run: int, seed: int) -> list[BookingEventIn]:
    """Events as the feed sends them: mostly a booking made during or just after a recent call
    of a patient on the caller's number, some for any patient."""
    rng = random.Random(seed + 100 + run)
    async with db.engine.connect() as conn:
        recent = (
            await conn.execute(
                select(Call.started_at, Call.ended_at, Call.admin, PatientPhone.patient_id)
                .join(PatientPhone, PatientPhone.number_e164 == Call.caller_e164)
                .where(Call.started_at >= NOW - timedelta(days=20))
                .limit(count * 5)
            )
        ).all()
        top = await conn.scalar(select(func.max(Patient.id))) or 1
    stamp_ = int(time.time())
    out = []
    for n in range(count):
        if rng.random() < 0.8 and recent:
            c = rng.choice(recent)
            at = c.started_at + timedelta(
                seconds=rng.uniform(0, (c.ended_at - c.started_at).total_seconds() + 900)
            )
            patient, admin = c.patient_id, c.admin
        else:
            at = NOW - timedelta(seconds=rng.randrange(86400 * 20))
            patient, admin = rng.randrange(1, top + 1), rng.choice(ADMINS)
        out.append(
            BookingEventIn(
                event_id=f"{RECORD_PREFIX}{stamp_}-{run}-{n}",
                kind="created" if rng.random() < 0.85 else "cancelled",
                booking_id=f"rb{stamp_}-{run}-{n}",
                patient_external_id=f"P{patient:07d}",
                happened_at=min(at, NOW),
                appointment_at=NOW + timedelta(days=rng.randrange(1, 30)),
                doctor="Dr. House",
                topic="checkup",
                branch=rng.choice(BRANCHES),
                admin=admin,
            )
        )
    return out


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))]


async def figure_record(
    kind: str, db: Database, args: argparse.Namespace
) -> list[tuple[float, float, float]]:
    store = BookingStore(db, clock=lambda: NOW)
    out = []
    for run in range(1, args.runs + 1):
        events = await new_events(db, args.record + args.warmup, run, args.seed)
        for e in events[: args.warmup]:
            await store.record([e])
        gc.collect()
        p = profiled(args, "record")
        samples, linked = [], 0
        for e in events[args.warmup :]:
            t0 = time.perf_counter()
            result = await store.record([e])
            samples.append(time.perf_counter() - t0)
            linked += result[0].linked_call_id is not None
        report_profile(p, f"{kind} record")
        f = tuple(x * 1000 for x in (percentile(samples, 0.5), percentile(samples, 0.99), max(samples)))
        out.append((f[0], f[1], f[2]))
        print(
            f"{kind} record run {run}: {len(samples):,} events one at a time ({linked:,} linked): "
            f"p50 {f[0]:.2f} p99 {f[1]:.2f} max {f[2]:.2f} ms",
            flush=True,
        )
    await forget_recorded(db)
    return out


# ------------------------------------------------------------------------------- 3. export
def memory_kb() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0])
    return out


async def export_once(kind: str, args: argparse.Namespace) -> dict[str, float]:
    """In this (fresh) process: serve the API, download the export, report memory and time."""
    db = await open_db(kind, args)
    store = CallStore(db)
    app = build_api(
        store,
        lambda: HealthState(True, True, 0, 0),
        CollectorRegistry(),
        [TOKEN],
        Path("/tmp"),
        bookings=BookingStore(db, clock=lambda: NOW),
    )
    runner = ApiRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}/api/calls/export.csv"
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with http.get(url, headers=headers, params={"from": "2026-12-01T00:00:00Z"}) as r:
                r.raise_for_status()
                await r.content.read(1 << 16)  # a first page: the code and connections are warm
            gc.collect()
            before = memory_kb()
            p = profiled(args, "export")
            t0 = time.perf_counter()
            size = lines = 0
            async with http.get(url, headers=headers) as r:
                r.raise_for_status()
                async for chunk in r.content.iter_chunked(1 << 16):
                    size += len(chunk)
                    lines += chunk.count(b"\n")
            elapsed = time.perf_counter() - t0
            report_profile(p, f"{kind} export")
            after = memory_kb()
    finally:
        await runner.cleanup()
        await db.dispose()
    return {
        "seconds": elapsed,
        "bytes": size,
        "rows": lines - 1,
        "rss_before_mb": before["VmRSS"] / 1024,
        "hwm_after_mb": after["VmHWM"] / 1024,
        "growth_mb": (after["VmHWM"] - before["VmRSS"]) / 1024,
    }


def figure_export(kind: str, args: argparse.Namespace) -> list[dict[str, float]]:
    out = []
    for run in range(1, args.runs + 1):
        command = [sys.executable, __file__, "--export-child", kind, *child_args(args)]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        if args.profile:
            print(done.stdout)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        out.append(figures)
        print(
            f"{kind} export run {run}: {figures['rows']:,} rows, {figures['bytes'] / 1e6:.0f} MB of CSV in "
            f"{figures['seconds']:.1f} s; RSS {figures['rss_before_mb']:.1f} MB before, peak "
            f"{figures['hwm_after_mb']:.1f} MB: growth {figures['growth_mb']:.1f} MB",
            flush=True,
        )
    return out


def child_args(args: argparse.Namespace) -> list[str]:
    out = ["--sqlite-path", str(args.sqlite_path), "--pg-url", args.pg_url, "--pg-schema", args.pg_schema]
    return out + (["--profile"] if args.profile else [])


# ------------------------------------------------------------------------------- the run
async def bench(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    db = await prepare(kind, args)
    out: dict[str, Any] = {}
    try:
        async with db.engine.connect() as conn:
            out["calls"] = await conn.scalar(select(func.count()).select_from(Call))
            out["events"] = await conn.scalar(select(func.count()).select_from(BookingEvent))
        if "relink" in args.figures:
            out["relink"] = await figure_relink(kind, db, args)
        # The planner's statistics as autovacuum would keep them once the links are written (the
        # bulk load analyzed an empty call_links; on PostgreSQL the stale estimate made every
        # export page cost ~300 ms of JIT compilation).
        async with db.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        if "relink" in args.figures:
            out["check"] = await brute_force(
                kind, db, BookingStore(db, clock=lambda: NOW), args.sample, args.seed
            )
        if "record" in args.figures:
            out["record"] = await figure_record(kind, db, args)
    finally:
        await db.dispose()
    if "export" in args.figures:
        out["export"] = figure_export(kind, args)
    return out


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0]


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--sqlite-path", type=Path, default=Path("/tmp/bench_bookings.sqlite"))
    p.add_argument("--pg-url", default=DEFAULT_PG)
    p.add_argument("--pg-schema", default=SCHEMA)
    p.add_argument("--patients", type=int, default=1_000_000, help="2 numbers each")
    p.add_argument("--calls", type=int, default=1_000_000)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--record", type=int, default=2_000, help="events recorded one at a time per run")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--sample", type=int, default=10_000, help="events checked by brute force")
    p.add_argument("--figures", default="relink,record,export")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--rebuild", action="store_true")
    p.add_argument("--profile", action="store_true", help="cProfile each timed part")
    p.add_argument("--export-child", choices=("sqlite", "postgres"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.export_child:
        print(json.dumps(await export_once(args.export_child, args)))
        return
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    results = {}
    for kind in kinds:
        print(f"{kind}: load average {load()} at the start", flush=True)
        results[kind] = await bench(kind, args)
        print(f"{kind}: load average {load()} at the end", flush=True)
    print()
    for kind, r in results.items():
        print(f"{kind}: {r['calls']:,} calls, {r['events']:,} booking events")
    if any("relink" in r for r in results.values()):
        print(
            "\n| relink_since(a year ago), median of runs | time | runs | brute-force check |"
            "\n|---|---|---|---|"
        )
        for kind, r in results.items():
            runs = ", ".join(f"{x:.1f}" for x in r["relink"])
            m, n = r["check"]
            print(f"| {kind} | {statistics.median(r['relink']):.1f} s | {runs} s | {m:,} of {n:,} match |")
    if any("record" in r for r in results.values()):
        print("\n| record([event]) one at a time, median of runs | p50 | p99 | max |\n|---|---|---|---|")
        for kind, r in results.items():
            med = [statistics.median(c) for c in zip(*r["record"], strict=True)]
            print(f"| {kind} | {med[0]:.2f} ms | {med[1]:.2f} ms | {med[2]:.2f} ms |")
    if any("export" in r for r in results.values()):
        print(
            "\n| export.csv of every call, median of runs | rows | time | RSS growth | runs |"
            "\n|---|---|---|---|---|"
        )
        for kind, r in results.items():
            growth = [x["growth_mb"] for x in r["export"]]
            secs = statistics.median(x["seconds"] for x in r["export"])
            runs = ", ".join(f"{g:.1f}" for g in growth)
            rows = r["export"][0]["rows"]
            print(f"| {kind} | {rows:,} | {secs:.1f} s | {statistics.median(growth):.1f} MB | {runs} MB |")


if __name__ == "__main__":
    asyncio.run(main())
