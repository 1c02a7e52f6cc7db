"""`ari-app demo --calls N` runs the app against the simulated PBX and accounts for every call."""

from __future__ import annotations

import re
import sqlite3
import stat
import subprocess
import sys
import wave
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_demo_places_calls_stores_them_and_prints_a_summary(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "ari_app", "demo", "--calls", "8", "--rate", "4", "--seed", "4",
         "--data-dir", str(data), "--http-port", "0"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, re.M))
    assert counts["placed"] == "8" and counts["total"] == "8"
    assert int(counts["answered"]) >= 1 and int(counts["recorded"]) <= int(counts["answered"])
    wavs = list((data / "recordings").rglob("*.wav"))
    assert len(wavs) == int(counts["recorded"])
    for path in wavs:
        with wave.open(str(path)) as w:
            assert w.getnframes() > 0 and w.getframerate() == 8000
    assert (data / "ari-app.db").is_file()
    # Made private from the start: no folder had to be narrowed afterwards.
    assert stat.S_IMODE(data.stat().st_mode) == 0o700 and "path_tightened" not in proc.stderr
    assert stat.S_IMODE((data / "ari-app.db").stat().st_mode) == 0o600
    # Every answered call of a branch that records has its recording (riverside does not record).
    with sqlite3.connect(data / "ari-app.db") as db:
        rows = db.execute(
            "SELECT c.branch, count(r.id) FROM calls c LEFT JOIN recordings r"
            " ON r.call_id = c.id AND r.status = 'saved' WHERE c.outcome = 'answered' GROUP BY c.id"
        ).fetchall()
    assert rows and all(n == (0 if branch == "riverside" else 1) for branch, n in rows)
    assert sum(n for _, n in rows) == int(counts["recorded"])
