"""The fan-out as the app wires it: a consumer added beside the built-in ones sees each call end
once; a durable consumer hears of a fact only once its row is committed, however long the
database is held down. The app runs in this process against the simulated PBX (SQLite and
PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ari_app.facts.types import CallEnded
from ari_app.pbxsim.server import PbxSim
from ari_app.simctl import SimControl
from tests.integration.conftest import PASSWORD, USER, in_process_app, until
from tests.integration.db_hold import writes_blocked

pytestmark = pytest.mark.integration


async def test_consumers_see_each_call_end_once_and_durable_ones_after_the_commit(
    clean_database_url: str, tmp_path: Path
) -> None:
    sim = PbxSim(username=USER, password=PASSWORD)
    await sim.start()
    app = in_process_app(sim.ari_url, clean_database_url, tmp_path / "data")
    ended: list[str] = []
    durable: list[tuple[str, str | None]] = []
    checks: list[asyncio.Task[None]] = []

    async def row_of(call_id: str) -> None:
        row = await app.store.get_call(call_id)
        durable.append((call_id, row.outcome if row else None))

    app.fanout.subscribe(CallEnded, lambda f: ended.append(f.call_id))
    # (a durable consumer reads the row it was told of: it must be there, ended)
    app.fanout.subscribe(
        CallEnded,
        lambda f: checks.append(asyncio.get_running_loop().create_task(row_of(f.call_id))),
        durable=True,
    )
    ctl = SimControl(sim.control_url)
    await app.start()
    try:
        assert await app.wait_ari(10)
        await ctl.set_phone("admin101", "answer", answer_after=0.3)
        for n in range(3):
            await ctl.place_call(f"+1202555010{n}", "5551234", hangup_after=0.3)
        await until(lambda: len(ended) == 3)
        await until(lambda: len(durable) == 3)
        assert sorted(c for c, _ in durable) == sorted(ended) and len(set(ended)) == 3
        assert {outcome for _, outcome in durable} == {"answered"}
        async with writes_blocked(clean_database_url):
            await ctl.place_call("+12025550109", "5551234", hangup_after=0.3)
            await until(lambda: len(ended) == 4)
            await asyncio.sleep(1.0)  # the writer is waiting for the database
            assert len(durable) == 3, "a durable consumer was told before the row was committed"
        await until(lambda: len(durable) == 4)
        assert durable[-1] == (ended[-1], "answered")
        await asyncio.sleep(0.5)
        assert len(ended) == 4 and len(durable) == 4  # once each
    finally:
        await app.stop(drain_timeout=2)
        await ctl.close()
        await sim.stop()
