"""The caller lookups' connections: a fixed set, opened once; lookups that time out in bursts
(more calls at once than connections) open none, so nothing is left half-made per call."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event

from ari_app.calls.caller import CallerLookup
from ari_app.numbers import Regions
from ari_app.store import Database
from ari_app.store.db import LOOKUP_POOL
from ari_app.store.directory import DirectoryStore

POOL = LOOKUP_POOL["pool_size"]


async def test_timed_out_lookups_in_bursts_open_no_connections(
    db: Database, directory: DirectoryStore
) -> None:
    opened: list[Any] = []
    event.listen(db.lookup_engine.sync_engine, "connect", lambda conn, _: opened.append(conn))
    patient = CallerLookup(directory, Regions("US"), timeout=30)
    # Warm: as many lookups at once as the pool holds, none timed out.
    await asyncio.gather(*(patient.identify(f"+1202555{n:04d}", None) for n in range(POOL)))
    warm = len(opened)
    assert 1 <= warm <= POOL

    # Bursts of three times as many calls as connections, each lookup given 1 ms: most give up,
    # waiting for a connection or in the middle of their read.
    hurried = CallerLookup(directory, Regions("US"), timeout=0.001)
    for burst in range(15):
        numbers = (f"+1202556{burst:02d}{n:02d}" for n in range(3 * POOL))
        answers = await asyncio.gather(*(hurried.identify(number, None) for number in numbers))
        assert all(a.kind == "unknown" for a in answers)

    # A connection a timed-out read was using goes back to the pool once the read is over.
    async def settled() -> int:
        for _ in range(100):
            if db.lookup_engine.sync_engine.pool.checkedout() == 0:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.02)
        return db.lookup_engine.sync_engine.pool.checkedout()  # type: ignore[attr-defined]

    assert await settled() == 0
    # 450 lookups later, no connection was opened beyond the pool's.
    assert len(opened) <= POOL, f"{len(opened) - warm} connections opened by timed-out lookups"
    assert (await patient.identify("+12025550000", None)).kind == "unknown"  # the pool still serves
