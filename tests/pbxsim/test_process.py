"""The simulator as its own process: the ready line, real sockets, a clean exit on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from ari_app.ari.client import AriClient
from ari_app.simctl import SimProcess
from tests.pbxsim.harness import auth_header

READY = re.compile(r"pbxsim ready ari=(http://127\.0\.0\.1:(\d+)/ari) control=(http://127\.0\.0\.1:(\d+))$")


async def test_runs_as_a_process_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ari_app.pbxsim",
        "--host",
        "127.0.0.1",
        "--ari-port",
        "0",
        "--control-port",
        "0",
        "--seed",
        "7",
        "--username",
        "clinic",
        "--password",
        "pw-for-tests",
        "--recordings-dir",
        str(tmp_path / "rec"),
        "--time-scale",
        "20",
        "--app-name-any",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().strip()
        found = READY.fullmatch(line)
        assert found, line
        ari, control = found.group(1), found.group(3)
        assert int(found.group(2)) > 0 and int(found.group(4)) > 0  # port 0 became real ports
        async with aiohttp.ClientSession() as s:
            async with s.get(ari + "/asterisk/info", headers=auth_header()) as resp:
                assert resp.status == 200 and (await resp.json())["system"]["version"] == "22.10.1"
            async with s.get(ari + "/asterisk/info") as resp:
                assert resp.status == 401
            async with s.get(control + "/control/state") as resp:
                assert resp.status == 200 and (await resp.json())["channels"] == []
        assert (tmp_path / "rec").is_dir()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 10)
    assert code == 0


async def test_a_password_that_looks_like_an_option_is_passed_safely() -> None:
    """Generated passwords may start with "-"; the simulator gets it by environment, not argv."""
    sim = await SimProcess.start(username="u", password="-Looks_like-an-option")
    try:
        cmdline = await asyncio.to_thread(Path(f"/proc/{sim.proc.pid}/cmdline").read_bytes)
        assert b"Looks_like" not in cmdline
        client = AriClient(sim.ari_url, "u", "-Looks_like-an-option", "clinic")
        try:
            await client.ping()
        finally:
            await client.close()
    finally:
        await sim.stop()


async def test_a_simulator_that_cannot_start_says_why() -> None:
    with pytest.raises(RuntimeError, match=r"exited before it was ready \(exit 2\):\n(.|\n)*--time-scale"):
        await SimProcess.start(username="u", password="p", extra=["--time-scale", "fast"])
