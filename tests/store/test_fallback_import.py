"""The app imports the dialplan fallback's records (as a real Asterisk 22.10.1 wrote them) once:
calls marked as the fallback's, with their legs, outcome and a callback task when nobody
answered, merged per number; a restart, a re-read, a torn last line and a bad line add nothing
twice and lose nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from ari_app.app import CallCenterApp
from ari_app.config import Secrets, load_settings
from ari_app.store import CallRecord

DATA = Path(__file__).resolve().parents[1] / "data" / "fallback-cdr-asterisk-22.10.1.csv"
EXAMPLE = Path(__file__).resolve().parents[2] / "ari_app" / "examples" / "clinic.toml"
LINKEDIDS = {
    "1796621694.0": ("answered", "ben"),
    "1796621709.7": ("missed", None),
    "1796621727.15": ("missed", None),
    "1796621749.23": ("abandoned", None),
    "1796621759.30": ("failed", None),
    "1796621766.32": ("answered", "ben"),
    "1796621831.61": ("missed", None),
    "1796621932.80": ("missed", None),
    "1796622055.149": ("failed", None),
}


def _app(database_url: str, tmp_path: Path, records: Path) -> CallCenterApp:
    base = load_settings(EXAMPLE)
    settings = base.model_copy(
        update={
            "ari": base.ari.model_copy(update={"url": "http://127.0.0.1:1/ari"}),  # no Asterisk: app down
            "http": base.http.model_copy(update={"port": 0}),
            "fastagi": base.fastagi.model_copy(update={"enabled": False}),
            "fallback": base.fallback.model_copy(
                update={"cdr_file": str(records), "import_every": 0.2, "settle": 0.5}
            ),
        }
    )
    secrets = Secrets("u", "p", database_url, ())
    return CallCenterApp(
        settings, secrets, data_dir=tmp_path / "data", registry=CollectorRegistry(), migrate=True
    )


async def _until(probe: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 15.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            value = await probe()
            if ok(value):
                return value
            await asyncio.sleep(0.1)


async def _rows(app: CallCenterApp) -> dict[str, CallRecord]:
    return {r.channel_id: r for r in await app.store.calls_by_channels(list(LINKEDIDS))}


async def test_fallback_calls_are_imported_once(clean_database_url: str, tmp_path: Path) -> None:
    records = tmp_path / "cdr-custom" / "clinic-fallback.csv"
    records.parent.mkdir()
    records.write_bytes(DATA.read_bytes())
    app = _app(clean_database_url, tmp_path, records)
    await app.start()
    try:
        rows = await _until(lambda: _rows(app), lambda r: len(r) == len(LINKEDIDS))
        for linkedid, (outcome, admin) in LINKEDIDS.items():
            row = rows[linkedid]
            assert (row.handled_by, row.outcome, row.admin) == ("fallback", outcome, admin), row
            assert row.ended_at and all(leg.result and leg.ended_at for leg in row.legs)
            assert (row.callback_task_id is None) == (outcome == "answered")
        answered = rows["1796621694.0"]
        assert answered.branch == "downtown" and answered.ad_channel == "website"
        assert [(leg.admin, leg.result) for leg in answered.legs] == [
            ("anna", "lost"), ("ben", "answered"), ("chen", "busy"),
        ]  # fmt: skip
        assert answered.talk_seconds is not None and 2.9 < answered.talk_seconds < 3.1
        assert rows["1796621759.30"].failure_reason == "unknown_did"
        # One number, within the merge window: its seven unanswered calls share one task.
        (task,) = await app.store.list_callbacks()
        # (its reason: the latest call's)
        assert (task.number, task.attempts, task.reason) == ("+12025550101", 7, "unknown_did")
        assert set(task.call_ids) == {rows[k].id for k, (o, _) in LINKEDIDS.items() if o != "answered"}
    finally:
        await app.stop(drain_timeout=2)

    # A restart reads the file again from where it was: nothing is added.
    app = _app(clean_database_url, tmp_path, records)
    await app.start()
    try:
        await app.fallback.import_once()
        again = await _rows(app)
        assert {k: (r.id, r.outcome) for k, r in again.items()} == {
            k: (r.id, r.outcome) for k, r in rows.items()
        }
        (task,) = await app.store.list_callbacks()
        assert task.attempts == 7
        # A bad line is set aside; a record cut short waits for the rest of its line.
        answered_line = DATA.read_text().splitlines()[1].replace("1796621694.0", "1796629999.9")
        with records.open("a") as f:
            f.write('"not","a","record"\n')
            f.write(answered_line[:30])
        await app.fallback.import_once()
        assert await app.store.find_by_channel("1796629999.9") is None
        rejected = (tmp_path / "data" / "fallback" / "rejected.csv").read_text()
        assert "expected 12 fields, found 3" in rejected and '"not","a","record"' in rejected.replace(
            '""', '"'
        )
        with records.open("a") as f:
            f.write(answered_line[30:] + "\n")
        late = await _until(lambda: app.store.find_by_channel("1796629999.9"), lambda r: r is not None)
        assert late.outcome == "answered" and late.admin == "ben"
        await app.fallback.import_once()
        assert (tmp_path / "data" / "fallback" / "rejected.csv").read_text() == rejected  # once
        assert app.metrics.fallback_records.labels("rejected")._value.get() == 1
    finally:
        await app.stop(drain_timeout=2)


def _call_lines(linkedid: str, as_id: str | None = None) -> str:
    lines = [line for line in DATA.read_text().splitlines() if line.startswith(f'"{linkedid}",')]
    return "".join(line.replace(linkedid, as_id or linkedid) + "\n" for line in lines)


async def test_a_file_cut_short_or_emptied_and_grown_again_is_read_again(
    clean_database_url: str, tmp_path: Path
) -> None:
    """The position saved is trusted only while the bytes before it are still what was read: a
    file cut short (or emptied in place, as logrotate's copytruncate does) and grown again past
    it would otherwise be read from the middle of a record, and the calls there lost."""
    records = tmp_path / "clinic-fallback.csv"
    records.write_text(_call_lines("1796621709.7") + _call_lines("1796621694.0"))
    app = _app(clean_database_url, tmp_path, records)
    await app.start()
    try:
        await _until(lambda: _rows(app), lambda r: len(r) == 2)
        # The last record cut short, then a new call's records appended, past the old position.
        text = records.read_text()
        grown = _call_lines("1796621694.0", "1796630000.1") + _call_lines("1796621709.7", "1796630000.2")
        records.write_text(text[:-40] + grown)
        later = await _until(
            lambda: app.store.calls_by_channels(["1796630000.1", "1796630000.2"]), lambda r: len(r) == 2
        )
        assert sorted((r.outcome, r.admin, len(r.legs)) for r in later) == [
            ("answered", "ben", 3), ("missed", None, 3),
        ]  # fmt: skip
        # Emptied in place, then many calls written again.
        with records.open("r+") as f:
            f.truncate(0)
        fresh = [f"17966300{n:02d}.5" for n in range(10, 40)]
        records.write_text("".join(_call_lines("1796621749.23", linkedid) for linkedid in fresh))
        rows = await _until(
            lambda: app.store.calls_by_channels(fresh), lambda r: len(r) == len(fresh), timeout=20
        )
        assert {r.outcome for r in rows} == {"abandoned"}
        known = {*LINKEDIDS, "1796630000.1", "1796630000.2", *fresh}
        assert {r.channel_id for r in await app.store.list_calls(limit=500)} <= known  # no phantom
    finally:
        await app.stop(drain_timeout=2)
