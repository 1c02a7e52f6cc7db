"""The console's patient search on SQLite and PostgreSQL: by name word prefixes (any case, any
script), by number, by external id; bounded; the words kept in step with the cards; each name
prefix an index range; and the migration filling in the words of cards that existed before it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select, text

from ari_app.numbers import Regions
from ari_app.people.schema import PatientIn
from ari_app.people.search import parse_search
from ari_app.store import Database
from ari_app.store.db import MIGRATIONS
from ari_app.store.directory import DirectoryStore
from ari_app.store.people import PatientNameWord

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
TODAY = date(2026, 12, 2)
KYIV = Regions("US", {"kyiv": "UA"})

CARDS = [
    ("p1", "Олександра Ковальчук", "2010-12-03", ["067 123 45 67"]),
    ("p2", "Олександр Коваль", "1980-01-01", ["+380 50 111 22 33", "067 123 45 67"]),
    ("p3", "Anna-Maria VON Steen", None, []),
    ("p4", "Ärzte Ölmann", None, []),
    ("p5", "Zoë Ωmega", None, []),
]


def _card(ext: str, name: str, birth: str | None, numbers: list[str]) -> PatientIn:
    return PatientIn.model_validate(
        {"external_id": ext, "full_name": name, "branch": "kyiv", "birth_date": birth,
         "phones": [{"number": n} for n in numbers]}
    )  # fmt: skip


@pytest.fixture
async def cards(directory: DirectoryStore) -> DirectoryStore:
    assert await directory.upsert_patients([_card(*c) for c in CARDS], KYIV, NOW) == [None] * len(CARDS)
    return directory


async def _found(d: DirectoryStore, q: str, limit: int = 20, branch: str | None = "kyiv") -> list[str]:
    return [p.external_id for p in await d.search(parse_search(q, KYIV, branch), limit, TODAY)]


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("олекс", ["p2", "p1"]),  # by name: Коваль before Ковальчук
        ("ОЛЕКСАНДРА", ["p1"]),
        ("ковальч олек", ["p1"]),
        ("коваль", ["p2", "p1"]),  # a prefix of both
        ("maria", ["p3"]),  # a compound name's part
        ("anna-m", ["p3"]),
        ("von", ["p3"]),
        ("ärz", ["p4"]),
        ("ÖL", ["p4"]),
        ("ωm", ["p5"]),
        ("zoë", ["p5"]),
        ("067-123-45-67", ["p1", "p2"]),  # by number, in the branch's region
        ("+380501112233", ["p2"]),
        ("p3", ["p3"]),  # by external id
        ("p", []),  # an id must be whole; no name starts "p"
        ("0671234567", ["p1", "p2"]),
    ],
)
async def test_the_search(cards: DirectoryStore, q: str, found: list[str]) -> None:
    assert await _found(cards, q) == found


async def test_a_national_number_is_read_in_the_askers_region(cards: DirectoryStore) -> None:
    assert await _found(cards, "067 123 45 67", branch=None) == []  # the default region: US
    assert await _found(cards, "067 123 45 67", branch="kyiv") == ["p1", "p2"]


async def test_results_are_bounded_and_summarised(cards: DirectoryStore) -> None:
    assert await _found(cards, "коваль", limit=1) == ["p2"]
    [p1] = await cards.search(parse_search("олександра", KYIV, "kyiv"), 5, TODAY)
    assert (p1.age, p1.matched, [p.e164 for p in p1.phones]) == (15, "name", ["+380671234567"])


async def test_a_renamed_card_is_found_by_its_new_name_only(cards: DirectoryStore) -> None:
    assert await cards.upsert_patients([_card("p3", "Anna Berg", None, [])], KYIV, NOW) == [None]
    assert await _found(cards, "steen") == []
    assert await _found(cards, "berg") == ["p3"]
    async with cards.db.session() as s:
        words = (await s.scalars(select(PatientNameWord.word).order_by(PatientNameWord.word))).all()
    assert "steen" not in words and "berg" in words


async def test_a_name_prefix_is_a_range_of_the_words_index(cards: DirectoryStore) -> None:
    from ari_app.store.patient_search import _by_name

    async with cards.db.engine.connect() as conn:
        query = _by_name(("олекс",), 20)
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        if cards.db.is_sqlite:
            plan = " ".join(str(r) for r in (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")).all())
            assert "SEARCH patient_name_words USING COVERING INDEX" in plan, plan
            assert "(word>? AND word<?)" in plan, plan
        else:
            await conn.exec_driver_sql("SET enable_seqscan = off")  # tiny tables: show it can
            plan = " ".join(r[0] for r in (await conn.exec_driver_sql(f"EXPLAIN {sql}")).all())
            assert "patient_name_words_pkey" in plan and "Seq Scan on patient_name_words" not in plan, plan


async def test_the_migration_fills_in_the_words_of_existing_cards(clean_database_url: str) -> None:
    db = Database(clean_database_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))

    def to(revision: str) -> Any:
        def run(sync_conn: Any) -> None:
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, revision)

        return run

    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(to("0009"))
            await conn.execute(
                text(
                    "INSERT INTO patients (external_id, full_name, balance, treatment_sum, family_sum,"
                    " insurance_sum, policy_active, visits_completed, visits_no_show, visits_cancelled,"
                    " open_tasks, waiting_list, created_at, updated_at)"
                    " VALUES ('old', 'Ганна Стара', 0, 0, 0, 0, false, 0, 0, 0, '[]', '[]', :t, :t)"
                ),
                {"t": NOW},
            )
        await db.migrate()
        assert await _found(DirectoryStore(db), "ГАН") == ["old"]
    finally:
        await db.dispose()
