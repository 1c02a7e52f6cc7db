"""`ari-app demo --calls N` runs the app against the simulated PBX and accounts for every call."""

from __future__ import annotations

import re
import socket
import sqlite3
import stat
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration


def demo(data: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ari_app", "demo", "--data-dir", str(data), *args],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def table(out: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"^(\w[\w ]*?)\s+(\d+)(?:\s+\(.*\))?$", out, re.M)}


def logins(out: str) -> dict[str, str]:
    """The console's sign-ins the demo printed: login -> password."""
    assert re.search(r"^demo: console https://127\.0\.0\.1:\d+/console ", out, re.M), out[:2000]
    return dict(re.findall(r"^demo:   (\S+) / (\S+)  \(", out, re.M))


def works(data: Path, login: str, password: str) -> bool:
    with sqlite3.connect(data / "ari-app.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM users WHERE login = ?", (login,)).fetchone()
    try:
        return bool(PasswordHasher().verify(stored, password))
    except VerifyMismatchError:
        return False


def test_demo_places_calls_stores_them_and_prints_a_summary(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    agi = free_port()
    # The default seed at 2 calls/s: once left a call talking for ever (phones were set per
    # phone, and a later call's setting reached an earlier call's admin).
    proc = demo(data, "--calls", "8", "--rate", "2", "--http-port", "0", "--fastagi-port", str(agi))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert f"FastAGI 127.0.0.1:{agi}" in proc.stdout
    counts = table(proc.stdout)
    assert counts["placed"] == 8 and counts["total"] == 8
    assert counts["answered"] >= 1 and counts["recorded"] <= counts["answered"]
    wavs = list((data / "recordings").rglob("*.wav"))
    assert len(wavs) == counts["recorded"]
    for path in wavs:
        with wave.open(str(path)) as w:
            assert w.getnframes() > 0 and w.getframerate() == 8000
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
    assert sum(n for _, n in rows) == counts["recorded"]

    first = logins(proc.stdout)
    assert set(first) == {"manager", "anna"} and all(works(data, k, v) for k, v in first.items())

    # A second run on the same folder counts its own calls only, though the folder keeps both.
    again = demo(data, "--calls", "3", "--rate", "3", "--seed", "5", "--http-port", "0")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
    # New passwords each run: the printed ones work, the last run's do not.
    second = logins(again.stdout)
    assert all(works(data, k, v) and not works(data, k, first[k]) for k, v in second.items())
    counts = table(again.stdout)
    assert (counts["placed"], counts["total"]) == (3, 3)
    with sqlite3.connect(data / "ari-app.db") as db:
        assert db.execute("SELECT count(*) FROM calls").fetchone()[0] == 11


@pytest.mark.parametrize("which", ["--http-port", "--fastagi-port"])
def test_a_taken_port_is_one_clear_line(tmp_path: Path, which: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = "--fastagi-port" if which == "--http-port" else "--http-port"
        proc = demo(tmp_path / "demo", "--calls", "1", which, str(port), other, "0", timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("demo:")]
    assert str(port) in line and "--http-port" in line and "--fastagi-port" in line
