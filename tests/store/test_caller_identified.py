"""Who called, on the call's row: written from CallerIdentified (through the fact's row
function), replayed without change, and in what the store hands out (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from ari_app.facts.rows import RowContext, write_rows
from ari_app.facts.types import CallerIdentified, CallStarted
from ari_app.numbers import Regions
from ari_app.store import CallStore, Database

T0 = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)
CTX = RowContext(Regions("US"), 60)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[CallStore]:
    db = Database(database_url)
    await db.migrate()
    yield CallStore(db)
    await db.dispose()


@pytest.mark.parametrize(
    ("fact_fields", "row"),
    [
        (("patient", 7, 1, True), ("patient", 7, True)),
        (("patient", None, 3, True), ("patient", None, True)),
        (("staff", None, 0, False), ("staff", None, False)),
        (("unknown", None, 0, True), ("unknown", None, True)),
    ],
)
async def test_the_caller_lands_on_the_call_row(
    store: CallStore, fact_fields: tuple[str, int | None, int, bool], row: tuple[str, int | None, bool]
) -> None:
    call_id = str(uuid.uuid4())
    start = CallStarted(call_id, f"ch-{call_id}", "2025550142", "", "5551234", "downtown", None, T0)
    await write_rows(store, start, CTX)
    before = await store.get_call(call_id)
    assert before is not None and (before.caller_kind, before.patient_id, before.in_statistics) == (
        None, None, True,
    )  # fmt: skip
    fact = CallerIdentified(call_id, *fact_fields, at=T0)
    await write_rows(store, fact, CTX)
    await write_rows(store, fact, CTX)  # a replay changes nothing
    after = await store.get_call(call_id)
    assert after is not None and (after.caller_kind, after.patient_id, after.in_statistics) == row


async def test_a_caller_identified_before_its_call_is_stored_waits(store: CallStore) -> None:
    with pytest.raises(LookupError):  # the writer retries it once the call's start is in
        await write_rows(store, CallerIdentified(str(uuid.uuid4()), "staff", None, 0, False, T0), CTX)
