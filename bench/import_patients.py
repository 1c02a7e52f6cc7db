"""Patients' CSV import speed: ``run_import`` into ``DirectoryStore`` on SQLite and PostgreSQL.

Generates a 100,000-row patients file as a clinic's scheduler exports it (``;`` delimited, UTF-8
with a BOM, Russian headers, Cyrillic and Latin names, day-first dates, amounts with a decimal
comma, numbers written in national and international forms, a quarter of the rows with 2 or 3
numbers: the parent's on children's cards, a spouse's), imports it into a fresh database, then
imports the same file again (every card upserted: nothing added). Prints rows/s for both and
checks the counts after each: as many cards as rows, and the same numbers after the re-import.
On PostgreSQL the import works in its own schema (``--pg-schema``) of the database.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import statistics
import time
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from ari_app.numbers import Regions
from ari_app.people.importer import run_import
from ari_app.store import Database
from ari_app.store.directory import DirectoryStore
from ari_app.store.people import Patient, PatientPhone

SEED = 13
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_e"
REGIONS = Regions("UA", {"Варшава": "PL"})
BRANCHES = ("Киев-Центр", "Киев-Оболонь", "Львів", "Варшава")
SURNAMES = ("Коваленко", "Шевченко", "Бондаренко", "Ткаченко", "Мельник", "Бойко", "Иванова", "Смирнов",
            "Kowalska", "Nowak", "Wiśniewski", "García", "Müller", "Smith", "Horvat", "O'Brien")  # fmt: skip
FIRST = ("Олена", "Ірина", "Андрій", "Тарас", "Ольга", "Иван", "Алексей", "Мария", "Anna", "Piotr",
         "Zofia", "Lucía", "John", "Emma", "Marek", "Éva")  # fmt: skip
HEADER = ("Код пациента", "ФИО", "Дата рождения", "Филиал", "Семья", "Баланс", "Телефон",
          "Телефон роль", "Телефон владелец", "Телефон 2", "Телефон 2 роль", "Телефон 2 владелец",
          "Телефон 3", "Комментарий")  # fmt: skip


def written(rng: random.Random, n: str, polish: bool, local: bool) -> str:
    """A national significant number ``n`` as a clinic may have typed it; a number of another
    country than the card's branch always in an international form."""
    if polish:  # 9 digits
        forms = [f"+48 {n[:3]} {n[3:6]} {n[6:]}", f"+48{n}", f"0048 {n}"]
        return rng.choice(
            [*forms, f"{n[:3]} {n[3:6]} {n[6:]}", f"{n[:3]}-{n[3:6]}-{n[6:]}"] if local else forms
        )
    op, rest = n[:2], n[2:]  # Ukrainian: 2-digit operator code, 7 digits
    forms = [f"+380 {op} {rest[:3]} {rest[3:5]} {rest[5:]}", f"+380{n}", f"+38 (0{op}) {rest[:3]} {rest[3:]}"]
    national = [
        f"0{op} {rest[:3]} {rest[3:5]} {rest[5:]}",
        f"(0{op}) {rest[:3]}-{rest[3:5]}-{rest[5:]}",
        f"0{n}",
        f"380{n}",
    ]
    return rng.choice([*forms, *national] if local else forms)


def make_csv(rows: int, seed: int) -> tuple[bytes, int]:
    """The file, and how many numbers its cards hold (each row's numbers are distinct)."""
    rng = random.Random(seed)
    used: set[str] = set()

    def number(polish: bool) -> tuple[str, bool]:
        codes = (50, 51, 60, 69, 72, 78) if polish else (50, 63, 66, 67, 68, 73, 93, 95, 96, 97, 98, 99)
        while True:
            n = f"{rng.choice(codes)}{rng.randrange(10**7):07d}"
            if n not in used:
                used.add(n)
                return n, polish

    out = io.StringIO()
    out.write(";".join(HEADER) + "\r\n")
    phones = 0
    parent: tuple[str, str, tuple[str, bool]] | None = None  # surname, first name, number of an adult
    for i in range(1, rows + 1):
        branch = rng.choice(BRANCHES)
        polish = branch == "Варшава"
        child = parent is not None and rng.random() < 0.25
        surname = parent[0] if child and parent else rng.choice(SURNAMES)
        latin = SURNAMES.index(surname) >= 8  # a Latin surname with a Latin first name
        first = rng.choice(FIRST[8:] if latin else FIRST[:8])
        year = rng.randrange(2008, 2025) if child else rng.randrange(1940, 2006)
        day, month = rng.randrange(1, 29), rng.randrange(1, 13)
        birth = f"{day:02d}.{month:02d}.{year}" if rng.random() < 0.8 else f"{year}-{month:02d}-{day:02d}"
        balance = rng.choice(("0", "0", "0", "-150,50", "1 234,00", "300", "-1 000,75"))
        slots: list[tuple[tuple[str, bool], str, str]] = []
        if child and parent:  # the parent's mobile, and a teenager's own now and then
            slots.append((parent[2], "parent", parent[1]))
            if rng.random() < 0.3:
                slots.append((number(polish), "self", ""))
        else:
            own = number(polish)
            slots.append((own, "self", ""))
            if rng.random() < 0.2:
                slots.append((number(polish), "spouse", rng.choice(FIRST)))
            if rng.random() < 0.1:
                slots.append((number(polish), "self", ""))
            parent = (surname, first, own)
        phones += len(slots)
        cells = [f"{i:06d}", f"{surname} {first}", birth, branch, f"F{i // 3}", balance]
        for k in range(3):
            if k < len(slots):
                (n, pl), role, owner = slots[k]
                shown = written(rng, n, pl, local=pl == polish)
                cells += [shown] if k == 2 else [shown, role, owner]
            else:
                cells += [""] if k == 2 else ["", "", ""]
        cells.append(
            rng.choice(("", "", "аллергия на пенициллин", "prefers mornings", 'VIP; "звонить после 18:00"'))
        )
        out.write(
            ";".join(f'"{c.replace(chr(34), chr(34) * 2)}"' if (";" in c or '"' in c) else c for c in cells)
        )
        out.write("\r\n")
    return ("\ufeff" + out.getvalue()).encode("utf-8"), phones


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def in_schema(db: Database, schema: str) -> None:
    def server_settings(_d: Any, _rec: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["server_settings"] = {**cparams.get("server_settings", {}), "search_path": schema}

    for engine in {id(db.engine): db.engine, id(db.lookup_engine): db.lookup_engine}.values():
        event.listen(engine.sync_engine, "do_connect", server_settings)


def open_db(kind: str, args: argparse.Namespace) -> Database:
    if kind == "sqlite":
        return Database(f"sqlite+aiosqlite:///{args.sqlite_path}")
    db = Database(args.pg_url)
    in_schema(db, args.pg_schema)
    return db


async def wipe(kind: str, args: argparse.Namespace) -> None:
    """No database (SQLite) or an empty schema (PostgreSQL): the first import makes the tables."""
    if kind == "sqlite":
        remove_sqlite(args.sqlite_path)
        return
    dsn = make_url(args.pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{args.pg_schema}" CASCADE')
        await conn.execute(f'CREATE SCHEMA "{args.pg_schema}"')
    finally:
        await conn.close()


async def counts(db: Database) -> tuple[int, int, int]:
    async with db.session() as s:
        cards = await s.scalar(select(func.count()).select_from(Patient)) or 0
        ids = await s.scalar(select(func.count(func.distinct(Patient.external_id)))) or 0
        numbers = await s.scalar(select(func.count()).select_from(PatientPhone)) or 0
    return cards, ids, numbers


async def one_run(
    kind: str, path: Path, rows: int, phones: int, args: argparse.Namespace
) -> tuple[float, float]:
    """A first import into an empty database, then the same file again; each with a database
    (and connections) of its own, as two runs of ``ari-app import`` would have."""
    await wipe(kind, args)
    speeds = []
    for what in ("first import", "re-import"):
        db = open_db(kind, args)
        try:
            t0 = time.perf_counter()
            await db.migrate()  # as ``ari-app import`` does
            report = await run_import(
                "patients", path, DirectoryStore(db), REGIONS, quiet=True, err=io.StringIO()
            )
            took = time.perf_counter() - t0
            got = await counts(db)
        finally:
            await db.dispose()
        if report.imported != rows or report.rejected or got != (rows, rows, phones):
            raise SystemExit(
                f"{kind} {what}: {report.summary()}; cards, ids, numbers {got}, want {rows}, {phones}"
            )
        speeds.append(rows / took)
        print(f"  {kind} {what}: {rows:,} rows in {took:.1f} s, {rows / took:,.0f} rows/s; "
              f"{got[0]:,} cards, {got[2]:,} numbers", flush=True)  # fmt: skip
    return speeds[0], speeds[1]


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--csv", type=Path, default=Path("/tmp/bench_patients.csv"))
    p.add_argument("--sqlite-path", type=Path, default=Path("/tmp/bench_import.sqlite"))
    p.add_argument("--pg-url", default=DEFAULT_PG)
    p.add_argument("--pg-schema", default="bench_import")
    p.add_argument("--seed", type=int, default=SEED)
    args = p.parse_args()
    data, phones = make_csv(args.rows, args.seed)
    args.csv.write_bytes(data)
    print(f"{args.csv}: {args.rows:,} rows, {phones:,} numbers, {len(data) / 1e6:.1f} MB", flush=True)
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    results: dict[str, list[tuple[float, float]]] = {}
    for kind in kinds:
        results[kind] = [await one_run(kind, args.csv, args.rows, phones, args) for _ in range(args.runs)]
    print(f"\n| database ({args.rows:,} rows, median of {args.runs}) | first import | re-import (upsert) |")
    print("|---|---|---|")
    for kind, runs in results.items():
        first = statistics.median(r[0] for r in runs)
        again = statistics.median(r[1] for r in runs)
        print(f"| {kind} | {first:,.0f} rows/s | {again:,.0f} rows/s |")


if __name__ == "__main__":
    asyncio.run(main())
