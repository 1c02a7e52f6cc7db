"""bench/screenpop.py stays runnable: a quick run (5 consoles, one paused, 3 calls) on SQLite and
PostgreSQL, its figures read back from what it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench" / "screenpop.py"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the bench's own run is the point
def test_the_screenpop_bench_measures_pops_on_real_consoles(clean_database_url: str) -> None:
    args = ["--consoles", "5", "--users", "5", "--branches", "1", "--calls", "3", "--rate", "3",
            "--paused-share", "0.2", "--no-pin", "--database-url", clean_database_url]  # fmt: skip
    proc = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "5 users, 5 sessions signed in" in out and "5 consoles connected" in out
    latency = re.search(r"consoles 5 \(1 paused\), 3 calls .* p99 ([\d.]+) ms .*\(n=(\d+)\)", out)
    assert latency is not None, out
    # The first call is offered to the branch's 5 admins, on each of the 4 reading consoles.
    assert int(latency.group(2)) >= 4 * 5 and 0 < float(latency.group(1)) < 5000
    frames = re.search(r"frames received by reading consoles (\d+); reading consoles dropped (\d+)", out)
    assert frames is not None and int(frames.group(1)) > int(latency.group(2))
    assert re.search(r"app RSS: [\d.]+ MB before connecting", out)
    assert out.rstrip().splitlines()[-1].startswith("| 5 | 1 | 3 | ")
