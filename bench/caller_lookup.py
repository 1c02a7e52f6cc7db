"""Caller lookup time: ``DirectoryStore.identify(e164)`` against 1,000,000 patients and
2,000,000 of their numbers, on SQLite and on PostgreSQL.

The directory has families' shape: a parent's mobile on their children's cards, spouses sharing
a landline and writing each other's mobile down, teenagers with their own; a few hundred numbers
on many cards (a care home's or a school's front desk, about 30 cards each); a few thousand staff
and contractor numbers, some hundred of them also on patient cards. It is generated from a seed
and bulk-loaded into the tables ``Database.migrate()`` makes (COPY on PostgreSQL, one
``executemany`` transaction on SQLite), then kept: a later run finds the same seed and size in a
marker table and the counts in the tables, and skips the load unless ``--rebuild``.

One client looks up 20,000 numbers one after another (70 % known: numbers on patient cards by
their share of the rows, shared ones, staff and contractors; 30 % nobody's), after a warm-up.
Prints p50/p90/p99/p99.9/max per database, the identify statement's query plan, and the same
lookups split into their parts (a ``SELECT 1`` through the lookup engine, the statement on the
driver's own connection) so that time spent in the driver and in our code can be told apart.
On PostgreSQL the directory lives in its own schema (``--pg-schema``) of the database.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from ari_app.store import Database
from ari_app.store.directory import DirectoryStore, identify_query

SEED = 13
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
MARKER = "bench_caller_lookup"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_e"
SCHEMA = "bench_lookup"

SURNAMES = (
    "Коваленко", "Шевченко", "Бондаренко", "Ткаченко", "Кравченко", "Олійник", "Мельник", "Шевчук",
    "Поліщук", "Бойко", "Ткачук", "Лисенко", "Руденко", "Савченко", "Петренко", "Марченко",
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Козлов", "Новиков",
    "Kowalski", "Nowak", "Wiśniewski", "García", "Fernández", "Smith", "Müller", "Horvat",
)  # fmt: skip
FIRST = (
    "Олена", "Ірина", "Наталія", "Тетяна", "Оксана", "Юлія", "Андрій", "Сергій", "Олександр",
    "Дмитро", "Тарас", "Микола", "Анна", "Мария", "Елена", "Ольга", "Иван", "Алексей", "Павел",
    "Anna", "Maria", "Olga", "Piotr", "Jan", "Lucía", "Carlos", "John", "Emma", "Marek", "Eva",
)  # fmt: skip
MOBILE_CODES = (50, 63, 66, 67, 68, 73, 93, 95, 96, 97, 98, 99)
BRANCHES = ("kyiv-center", "kyiv-left", "kyiv-obolon", "lviv", "odesa", None)
PATIENT_COLUMNS = (
    "id", "external_id", "full_name", "birth_date", "branch", "guardian_external_id", "guardian_name",
    "family_id", "balance", "treatment_sum", "family_sum", "insurance_sum", "policy_number",
    "policy_from", "policy_to", "policy_active", "card_comment", "visits_completed", "visits_no_show",
    "visits_cancelled", "last_visit", "open_tasks", "waiting_list", "consent", "created_at", "updated_at",
)  # fmt: skip
PHONE_COLUMNS = ("id", "patient_id", "number", "number_e164", "role", "owner")
CONTACT_COLUMNS = ("id", "kind", "external_id", "name", "organisation", "note", "created_at", "updated_at")
CONTACT_PHONE_COLUMNS = ("id", "contact_id", "number", "number_e164")


# ----------------------------------------------------------------------------------- the data
@dataclass
class Directory:
    patients: list[tuple[Any, ...]] = field(default_factory=list)
    phones: list[tuple[int, int, str, str, str, str | None]] = field(default_factory=list)
    contacts: list[tuple[Any, ...]] = field(default_factory=list)
    contact_phones: list[tuple[int, int, str, str]] = field(default_factory=list)


class Numbers:
    """Unique numbers, E.164 and as a clinic writes them (national form)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[int] = set()

    def _fresh(self, base: int, span: int) -> int:
        while True:
            n = base + self.rng.randrange(span)
            if n not in self.used:
                self.used.add(n)
                return n

    def mobile(self) -> tuple[str, str]:
        code = self.rng.choice(MOBILE_CODES)
        n = self._fresh(380_000_000_000 + code * 10_000_000, 10_000_000)
        d = str(n)[5:]
        return f"0{code} {d[:3]} {d[3:5]} {d[5:]}", f"+{n}"

    def landline(self) -> tuple[str, str]:
        n = self._fresh(380_440_000_000, 10_000_000)  # Kyiv, 044
        d = str(n)[5:]
        return f"(044) {d[:3]}-{d[3:5]}-{d[5:]}", f"+{n}"

    def unknown(self) -> str:
        """A number of the same shape that nobody in the directory has."""
        code = self.rng.choice(MOBILE_CODES)
        base = 380_000_000_000 + code * 10_000_000
        while True:
            n = base + self.rng.randrange(10_000_000)
            if n not in self.used:
                return f"+{n}"


def generate(patients: int, phones: int, seed: int) -> Directory:
    """Families until ``patients`` cards, then the shared and staff numbers, then second numbers
    on random cards until exactly ``phones`` patient numbers."""
    rng = random.Random(seed)
    nums = Numbers(rng)
    out = Directory()
    rows, cards = out.patients, out.phones
    zero, created = Decimal(0), NOW - timedelta(days=400)
    days: dict[int, date] = {}
    own: dict[int, set[str]] = {}  # numbers already on a card (for the shared ones added later)

    def born(age: int) -> date:
        o = NOW.date().toordinal() - age * 365 - rng.randrange(365)
        return days.setdefault(o, date.fromordinal(o))

    def card(name: str, age: int, fam: str, guardian: tuple[str, str] | None) -> int:
        pid = len(rows) + 1
        roll = rng.random()
        balance = zero if roll < 0.8 else Decimal(rng.randrange(-50_000, 50_000)) / 100
        policy = f"INS-{pid:07d}" if roll < 0.15 else None
        rows.append((
            pid, f"P{pid:07d}", name, born(age), rng.choice(BRANCHES),
            guardian[0] if guardian else None, guardian[1] if guardian else None, fam,
            balance, zero, zero, zero, policy, date(2026, 1, 1) if policy else None, None, policy is not None,
            None, rng.randrange(30), rng.randrange(3), rng.randrange(4), None, "[]", "[]", None,
            created, created,
        ))  # fmt: skip
        return pid

    def put(pid: int, number: tuple[str, str], role: str, owner: str | None) -> None:
        cards.append((len(cards) + 1, pid, number[0], number[1], role, owner))
        own.setdefault(pid, set()).add(number[1])

    family = 0
    while len(rows) < patients:
        family += 1
        fam = f"F{family:07d}"
        surname = rng.choice(SURNAMES)
        roll = rng.random()
        adults = 1 if roll < 0.45 or 0.62 <= roll < 0.72 else 2
        kids = 0 if roll < 0.62 else rng.choice((1, 1, 2, 2, 2, 3, 4))
        landline = nums.landline() if adults == 2 and rng.random() < 0.35 else None
        parents: list[tuple[int, str, tuple[str, str] | None]] = []
        for _ in range(adults):
            first = rng.choice(FIRST)
            pid = card(f"{surname} {first}", rng.randrange(22, 80), fam, None)
            mobile = nums.mobile() if rng.random() < 0.97 else None
            if mobile:
                put(pid, mobile, "self", None)
            if rng.random() < 0.07:
                put(pid, nums.mobile(), "self", None)
            if landline:
                put(pid, landline, "self", None)
            parents.append((pid, first, mobile))
        if adults == 2 and rng.random() < 0.4:  # each has the other's mobile on their card
            for (pid, _, _), (_, other, mobile) in ((parents[0], parents[1]), (parents[1], parents[0])):
                if mobile:
                    put(pid, mobile, "spouse", other)
        for _ in range(kids):
            if len(rows) >= patients:
                break
            age = rng.randrange(0, 18)
            p0 = parents[0]
            pid = card(f"{surname} {rng.choice(FIRST)}", age, fam, (f"P{p0[0]:07d}", f"{surname} {p0[1]}"))
            if p0[2]:
                put(pid, p0[2], "parent", p0[1])
            if adults == 2 and parents[1][2] and rng.random() < 0.5:
                put(pid, parents[1][2], "parent", parents[1][1])
            if landline and rng.random() < 0.3:
                put(pid, landline, "parent", "home")
            if age >= 12 and rng.random() < 0.6:
                put(pid, nums.mobile(), "self", None)

    # A few hundred front desks (care homes, schools, a partner clinic): about 30 cards each.
    for _ in range(patients // 3_300):
        desk = nums.landline()
        for pid in rng.sample(range(1, len(rows) + 1), rng.randrange(10, 51)):
            if desk[1] not in own.get(pid, ()):
                put(pid, desk, "other", "front desk")

    # Staff and contractors; a few hundred staff numbers also on patient cards.
    staff, contractors = max(1, patients // 330), max(1, patients // 1_000)
    offices = [nums.landline() for _ in range(max(1, contractors // 3))]
    for i in range(staff + contractors):
        cid = i + 1
        kind = "staff" if i < staff else "contractor"
        name = f"{rng.choice(SURNAMES)} {rng.choice(FIRST)}"
        org = None if kind == "staff" else f"Supplier {cid % 97}"
        out.contacts.append((cid, kind, f"{kind[0].upper()}{cid:05d}", name, org, None, created, created))
        numbers = [nums.mobile()] if kind == "staff" or rng.random() < 0.5 else []
        if kind == "contractor":
            numbers.append(rng.choice(offices))  # several people of one company share its office line
        elif rng.random() < 0.2:
            numbers.append(nums.landline())
        for number in numbers:
            out.contact_phones.append((len(out.contact_phones) + 1, cid, number[0], number[1]))
    staff_mobiles = [(p[2], p[3]) for p in out.contact_phones[: staff * 1] if p[3].startswith("+3809")]
    for number in rng.sample(staff_mobiles, min(len(staff_mobiles), max(1, patients // 3_300))):
        for pid in rng.sample(range(1, len(rows) + 1), rng.choice((1, 1, 2, 3))):
            if number[1] not in own.get(pid, ()):
                put(pid, number, rng.choice(("self", "parent", "spouse")), None)

    if len(cards) > phones:
        raise SystemExit(f"the families alone have {len(cards)} numbers, more than --phones {phones}")
    while len(cards) < phones:  # a second (work) number on random cards
        put(rng.randrange(1, len(rows) + 1), nums.mobile(), "self", None)
    return out


# --------------------------------------------------------------------------------- the loading
def pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def in_schema(db: Database, schema: str) -> None:
    """Every connection of ``db`` (the store's and the lookups') works in ``schema``."""

    def server_settings(_d: Any, _rec: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["server_settings"] = {**cparams.get("server_settings", {}), "search_path": schema}

    for engine in {id(db.engine): db.engine, id(db.lookup_engine): db.lookup_engine}.values():
        event.listen(engine.sync_engine, "do_connect", server_settings)


async def open_db(kind: str, args: argparse.Namespace) -> Database:
    if kind == "sqlite":
        return Database(f"sqlite+aiosqlite:///{args.sqlite_path}")
    dsn = pg_dsn(args.pg_url)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{args.pg_schema}"')
    finally:
        await conn.close()
    db = Database(args.pg_url)
    in_schema(db, args.pg_schema)
    return db


async def loaded(db: Database, want: str, patients: int, phones: int) -> bool:
    """The marker says this seed and size, and the tables hold that many rows."""
    async with db.engine.connect() as conn:
        try:
            mark = await conn.scalar(text("SELECT value FROM bench_marker WHERE name = :n"), {"n": MARKER})
        except Exception:
            return False
        if mark != want:
            return False
        count_p = await conn.scalar(text("SELECT count(*) FROM patients"))
        count_n = await conn.scalar(text("SELECT count(*) FROM patient_phones"))
        return (count_p, count_n) == (patients, phones)


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


async def wipe(kind: str, db: Database, args: argparse.Namespace) -> Database:
    """An empty, migrated database in place of ``db``."""
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
    return db


def sqlite_rows(d: Directory) -> tuple[Iterable[tuple[Any, ...]], Iterable[tuple[Any, ...]]]:
    """The rows as SQLAlchemy stores them on SQLite: dates as ISO text, amounts as numbers."""

    def day(v: date | None) -> str | None:
        return v.isoformat() if v is not None else None

    stamp = NOW.replace(tzinfo=None).isoformat(sep=" ")

    def patients() -> Iterator[tuple[Any, ...]]:
        for r in d.patients:
            yield (*r[:3], day(r[3]), *r[4:8], float(r[8]), 0, 0, 0, r[12], day(r[13]), None, int(r[15]),
                   *r[16:24], stamp, stamp)  # fmt: skip

    contacts = ((*c[:6], stamp, stamp) for c in d.contacts)
    return patients(), contacts


def load_sqlite(path: Path, d: Directory, mark: str) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-1000000")
        con.execute("BEGIN")
        patients, contacts = sqlite_rows(d)
        for table, columns, rows in (
            ("patients", PATIENT_COLUMNS, patients),
            ("patient_phones", PHONE_COLUMNS, d.phones),
            ("contacts", CONTACT_COLUMNS, contacts),
            ("contact_phones", CONTACT_PHONE_COLUMNS, d.contact_phones),
        ):
            marks = ", ".join("?" * len(columns))
            con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        con.execute("CREATE TABLE IF NOT EXISTS bench_marker (name TEXT PRIMARY KEY, value TEXT)")
        con.execute("INSERT OR REPLACE INTO bench_marker VALUES (?, ?)", (MARKER, mark))
        con.execute("COMMIT")
        con.execute("ANALYZE")
    finally:
        con.close()


async def load_postgres(dsn: str, schema: str, d: Directory, mark: str) -> None:
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        async with conn.transaction():
            for table, columns, rows in (
                ("patients", PATIENT_COLUMNS, d.patients),
                ("patient_phones", PHONE_COLUMNS, d.phones),
                ("contacts", CONTACT_COLUMNS, d.contacts),
                ("contact_phones", CONTACT_PHONE_COLUMNS, d.contact_phones),
            ):
                await conn.copy_records_to_table(table, records=rows, columns=columns, schema_name=schema)
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
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
    mark = f"seed={args.seed} patients={args.patients} phones={args.phones} v1"
    if not args.rebuild and await loaded(db, mark, args.patients, args.phones):
        print(f"{kind}: directory already loaded ({mark}); --rebuild to make it again", flush=True)
        return db
    db = await wipe(kind, db, args)
    t0 = time.perf_counter()
    d = generate(args.patients, args.phones, args.seed)
    t1 = time.perf_counter()
    if kind == "sqlite":
        await asyncio.to_thread(load_sqlite, args.sqlite_path, d, mark)
    else:
        await load_postgres(pg_dsn(args.pg_url), args.pg_schema, d, mark)
    t2 = time.perf_counter()
    print(
        f"{kind}: generated {len(d.patients):,} patients, {len(d.phones):,} patient numbers, "
        f"{len(d.contacts):,} staff and contractors in {t1 - t0:.1f} s, loaded in {t2 - t1:.1f} s",
        flush=True,
    )
    return db


# ------------------------------------------------------------------------------ the lookups
BY_ID = "SELECT id, number_e164 FROM patient_phones WHERE id IN ({})"
MANY = "SELECT number_e164 FROM patient_phones GROUP BY number_e164 HAVING count(*) >= 10"
STAFF = "SELECT number_e164 FROM contact_phones"
STAFF_ON_CARDS = (
    "SELECT DISTINCT number_e164 FROM contact_phones c"
    " WHERE EXISTS (SELECT 1 FROM patient_phones p WHERE p.number_e164 = c.number_e164)"
)
TAKEN = (
    "SELECT number_e164 FROM patient_phones WHERE number_e164 IN ({0})"
    " UNION SELECT number_e164 FROM contact_phones WHERE number_e164 IN ({0})"
)


async def sample(db: Database, count: int, seed: int) -> list[str]:
    """``count`` numbers to look up: 70 % known (60 points drawn by patient-number row, so a
    number on 30 cards comes up 30 times as often; 4 from numbers on 10 or more cards; 4 staff
    and contractors; 2 staff numbers also on patient cards), 30 % nobody's."""
    rng = random.Random(seed + 1)
    async with db.engine.connect() as conn:

        async def column(sql: str) -> list[Any]:
            return list((await conn.execute(text(sql))).scalars())

        rows = await conn.scalar(text("SELECT max(id) FROM patient_phones")) or 0
        ids = [rng.randrange(1, rows + 1) for _ in range(count * 60 // 100)]
        by_row: list[str] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            found = dict((await conn.execute(text(BY_ID.format(",".join(map(str, chunk)))))).all())
            by_row += [found[x] for x in chunk]
        many, contacts, both = await column(MANY), await column(STAFF), await column(STAFF_ON_CARDS)
        known = set(by_row) | set(many) | set(contacts)
        nums = Numbers(rng)
        unknown: list[str] = []
        while len(unknown) < count * 30 // 100:
            batch = [nums.unknown() for _ in range(1000)]
            taken = set(await column(TAKEN.format(",".join(f"'{n}'" for n in batch))))
            fresh = [n for n in batch if n not in taken and n not in known]
            unknown += fresh[: count * 30 // 100 - len(unknown)]
    print(
        f"  lookups drawn from: {rows:,} patient numbers, {len(many)} numbers on 10+ cards, "
        f"{len(contacts):,} staff/contractor numbers ({len(both)} also on patient cards)"
    )
    picks = by_row + unknown
    for pool, share in ((many, 4), (contacts, 4), (both, 2)):
        picks += [rng.choice(pool) for _ in range(count * share // 100)] if pool else []
    while len(picks) < count:
        picks.append(rng.choice(by_row))
    rng.shuffle(picks)
    return picks


def percentiles(samples: list[float]) -> tuple[float, ...]:
    s = sorted(samples)
    at = [s[min(len(s) - 1, int(len(s) * q))] for q in (0.5, 0.9, 0.99, 0.999)]
    return (*(x * 1000 for x in at), s[-1] * 1000)


async def timed(numbers: list[str], warmup: int, call: Callable[[str], Awaitable[Any]]) -> list[float]:
    for n in numbers[:warmup]:
        await call(n)
    out = []
    for n in numbers:
        t0 = time.perf_counter()
        await call(n)
        out.append(time.perf_counter() - t0)
    return out


async def plan(db: Database, number: str) -> list[str]:
    sql = str(identify_query().compile(db.engine.sync_engine, compile_kwargs={"literal_binds": False}))
    async with db.lookup_engine.connect() as conn:
        if db.is_sqlite:
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", (number, number))
            return [r[-1] for r in rows]
        rows = await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", (number,))
        return [r[0] for r in rows]


async def parts(db: Database, schema: str, numbers: list[str], warmup: int) -> list[tuple[str, list[float]]]:
    """The lookup split: the engine's checkout and a trivial round trip, the statement on the
    driver's own connection (no SQLAlchemy), and the statement through the lookup engine."""
    query = identify_query()
    sql = str(query.compile(db.engine.sync_engine))
    out: list[tuple[str, list[float]]] = []

    async def select_one(_n: str) -> None:
        async with db.lookup_engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    out.append(("`SELECT 1` through the lookup engine", await timed(numbers, warmup, select_one)))

    async def statement(n: str) -> None:
        async with db.lookup_engine.connect() as conn:
            (await conn.execute(query, {"n": n})).all()

    out.append(("the statement through the lookup engine", await timed(numbers, warmup, statement)))
    if db.is_sqlite:
        import aiosqlite

        path = make_url(db.url).database or ""
        async with aiosqlite.connect(path) as raw:

            async def driver(n: str) -> None:
                async with raw.execute(sql, (n, n)) as cur:
                    await cur.fetchall()

            out.append(("the statement on an aiosqlite connection", await timed(numbers, warmup, driver)))
        con = sqlite3.connect(path)
        try:

            async def inline(n: str) -> None:
                con.execute(sql, (n, n)).fetchall()

            out.append(
                ("the statement on a sqlite3 connection (no thread)", await timed(numbers, warmup, inline))
            )
        finally:
            con.close()
    else:
        conn = await asyncpg.connect(pg_dsn(db.url), server_settings={"search_path": schema})
        try:
            stmt = await conn.prepare(sql)

            async def driver(n: str) -> None:
                await stmt.fetch(n)

            out.append(
                ("the statement on an asyncpg connection (prepared)", await timed(numbers, warmup, driver))
            )
        finally:
            await conn.close()
    return out


async def bench(kind: str, args: argparse.Namespace) -> tuple[list[tuple[float, ...]], list[str], list[Any]]:
    db = await prepare(kind, args)
    try:
        numbers = await sample(db, args.lookups, args.seed)
        store = DirectoryStore(db)
        found = sum([(await store.identify(n)).kind != "unknown" for n in numbers[:2000]])
        gc.collect()
        gc.freeze()  # as the app does once started
        runs = []
        for run in range(1, args.runs + 1):
            samples = await timed(numbers, args.warmup, store.identify)
            figures = percentiles(samples)
            runs.append(figures)
            print(
                f"{kind} run {run}: identify x{len(samples):,}: p50 {figures[0]:.3f} p90 {figures[1]:.3f} "
                f"p99 {figures[2]:.3f} p99.9 {figures[3]:.3f} max {figures[4]:.3f} ms "
                f"(of the first 2,000 numbers: {found} known)",
                flush=True,
            )
        shared, cards = Counter(numbers).most_common(1)[0]  # drawn by row: a number on many cards
        query_plan = await plan(db, shared)
        print(f"{kind}: plan of the identify statement for the number drawn most ({cards} times):")
        for line in query_plan:
            print("   ", line)
        split = (
            await parts(db, args.pg_schema, numbers[: args.lookups // 4], args.warmup) if args.profile else []
        )
        for name, values in split:
            f = percentiles(values)
            print(f"  {name}: p50 {f[0]:.3f} p99 {f[2]:.3f} mean {statistics.mean(values) * 1000:.3f} ms")
        gc.unfreeze()
        return runs, query_plan, [(name, percentiles(values)) for name, values in split]
    finally:
        await db.dispose()


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--sqlite-path", type=Path, default=Path("/tmp/bench_caller_lookup.sqlite"))
    p.add_argument("--pg-url", default=DEFAULT_PG)
    p.add_argument("--pg-schema", default=SCHEMA)
    p.add_argument("--patients", type=int, default=1_000_000)
    p.add_argument("--phones", type=int, default=None, help="patient numbers (default: 2 per patient)")
    p.add_argument("--lookups", type=int, default=20_000)
    p.add_argument("--warmup", type=int, default=2_000)
    p.add_argument("--runs", type=int, default=3, help="times the lookups are timed (median reported)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--rebuild", action="store_true")
    p.add_argument("--profile", action="store_true", help="also time the lookup's parts")
    args = p.parse_args()
    args.phones = args.phones or 2 * args.patients
    sys.setswitchinterval(0.0005)  # as `ari-app run` sets it
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    results = {kind: await bench(kind, args) for kind in kinds}
    size = f"{args.patients:,} patients, {args.phones:,} numbers, median of {args.runs} runs"
    print(f"\n| database ({size}) | p50 | p90 | p99 | p99.9 | max |\n|---|---|---|---|---|---|")
    for kind, (runs, _, _) in results.items():
        median = [statistics.median(column) for column in zip(*runs, strict=True)]
        print(f"| {kind} | " + " | ".join(f"{x:.2f} ms" for x in median) + " |")
    for kind, (runs, _, _) in results.items():
        print(f"{kind}: p99 of each run: " + ", ".join(f"{r[2]:.2f}" for r in runs) + " ms")
    if args.profile:
        print("\n| part of the lookup | p50 | p99 |\n|---|---|---|")
        for kind, (_, _, split) in results.items():
            for name, f in split:
                print(f"| {kind}: {name} | {f[0]:.3f} ms | {f[2]:.3f} ms |")


if __name__ == "__main__":
    asyncio.run(main())
