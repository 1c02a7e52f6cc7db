"""Nothing lost while the app is down: calls the dialplan's fallback took on the simulated PBX
(running the rendered asterisk-config/ as Asterisk would) become call rows and callback tasks
once the app is back, exactly once; a record torn mid-write loses no other call."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from ari_app.asterisk_config import render
from ari_app.config import parse_settings
from tests.integration.conftest import CONFIG, World, eventually

pytestmark = pytest.mark.integration

FALLBACK = """
[asterisk]
fallback_ring = 5
[fallback]
cdr_file = "{cdr}/cdr-custom/clinic-fallback.csv"
import_every = 0.5
settle = 1
"""


def _rendered(tmp_path: Path, cdr: Path) -> Path:
    """asterisk-config/ as ``ari-app asterisk-config`` renders it for this test's configuration."""
    text = CONFIG.format(ari_url="http://127.0.0.1:1/ari", http_port=1, data_dir=tmp_path, ring_timeout=5,
                         calls_extra="", extra=FALLBACK.format(cdr=cdr))  # fmt: skip
    folder = tmp_path / "asterisk"
    folder.mkdir()
    for name, body in render(parse_settings(tomllib.loads(text), "test")).items():
        (folder / name).write_text(body)
    return folder


async def _ended(w: World, call_id: str) -> dict[str, Any]:
    return await eventually(lambda: w.sim_call(call_id), lambda c: c["ended_at"] is not None, 20, "call end")


async def test_calls_the_fallback_took_are_imported_once(world_factory: Any, tmp_path: Path) -> None:
    cdr = tmp_path / "cdr"
    ast = _rendered(tmp_path, cdr)
    w: World = await world_factory(
        sim_args=["--asterisk-config", str(ast), "--cdr-dir", str(cdr)], extra=FALLBACK.format(cdr=cdr)
    )
    await w.app.stop()  # the app is down: Stasis() fails, the dialplan takes the calls
    answer = {"admin101": {"behaviour": "answer", "answer_after": 0.3}}
    calls = {
        "answered": await w.place("+12025550181", phones=answer, hangup_after=1.0),
        "missed": await w.place("+12025550182"),  # rings 5 s, then the callback message
        "abandoned": await w.place("+12025550183", abandon_after=1.0),
        "failed": await w.place("+12025550184", did="5559999"),  # a number no branch has
    }
    assert {c["result"] for c in calls.values()} == {"fallback"}
    for call in calls.values():
        await _ended(w, call["call_id"])
    # The next call's records are cut short mid-line (a write torn by a crash): that call is
    # lost, as it would be on Asterisk, and the broken line is set aside; nothing else is.
    await w.ctl.fault(torn_cdr=True)
    torn = await w.place("+12025550185", did="5559999")
    await _ended(w, torn["call_id"])
    after = await w.place("+12025550186", did="5559999")
    await _ended(w, after["call_id"])

    await w.restart_app()
    rows = await _rows(w, [*calls.values(), after])
    for outcome, call in calls.items():
        row = rows[call["channel_id"]]
        assert (row.handled_by, row.outcome) == ("fallback", outcome), row
        assert (row.callback_task_id is None) == (outcome == "answered")
    answered = rows[calls["answered"]["channel_id"]]
    assert answered.admin == "anna" and answered.answered_at is not None
    assert {(leg.admin, leg.result) for leg in answered.legs} == {("anna", "answered"), ("ben", "lost"),
                                                                  ("chen", "lost")}  # fmt: skip
    assert await w.store.find_by_channel(torn["channel_id"]) is None
    rejected = (w.data_dir / "fallback" / "rejected.csv").read_text()
    assert rejected.count("\n") == 1
    tasks = await w.store.list_callbacks()
    counted = sorted((t.number, t.attempts) for t in tasks)

    # Another restart reads the file again: nothing is added.
    await w.restart_app()
    imported = 'clinic_fallback_imports_total{result="imported"}'
    await eventually(w.app.metrics, lambda m: m.get(imported) == 0.0, 10, "an import round")
    again = await _rows(w, [*calls.values(), after])
    assert {k: (r.id, r.outcome) for k, r in again.items()} == {k: (r.id, r.outcome) for k, r in rows.items()}
    assert sorted((t.number, t.attempts) for t in await w.store.list_callbacks()) == counted
    assert (w.data_dir / "fallback" / "rejected.csv").read_text() == rejected


async def _rows(w: World, calls: list[dict[str, Any]]) -> dict[str, Any]:
    wanted = [c["channel_id"] for c in calls]

    async def found() -> dict[str, Any]:
        return {r.channel_id: r for r in await w.store.calls_by_channels(wanted)}

    return await eventually(found, lambda r: len(r) == len(wanted) and all(x.outcome for x in r.values()),
                            20, "the fallback's calls")  # fmt: skip
