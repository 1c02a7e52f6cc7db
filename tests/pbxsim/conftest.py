"""Fixtures: an in-process simulator with the recorded setup's admin phones, and a bare client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ari_app.pbxsim.server import PbxSim
from tests.pbxsim.harness import ADMINS, PASSWORD, USER, SimHarness

SCALE = 10.0  # simulated seconds per wall second in these tests


async def start_harness(
    recordings: Path,
    *,
    seed: int = 3,
    scale: float = SCALE,
    app_name_any: bool = False,
    asterisk_config: Path | None = None,
    cdr_dir: Path | None = None,
) -> SimHarness:
    sim = PbxSim(
        username=USER,
        password=PASSWORD,
        seed=seed,
        time_scale=scale,
        recordings_dir=recordings,
        app_name_any=app_name_any,
        asterisk_config=asterisk_config,
        cdr_dir=cdr_dir,
    )
    await sim.start()
    h = SimHarness(sim)
    for n, name in enumerate(ADMINS):
        phone = {"behaviour": "no_answer", "caller_name": f"Admin {101 + n}", "caller_number": str(101 + n)}
        await h.control("PUT", f"/control/phones/{name}", phone)
    return h


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[SimHarness]:
    h = await start_harness(tmp_path / "recordings")
    yield h
    await h.close()
    await h.sim.stop()
