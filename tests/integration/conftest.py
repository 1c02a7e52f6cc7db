"""Integration harness: the app and the simulated PBX as two processes over real sockets.

Each test gets a fresh simulator, a fresh app process configured for it, and a store handle on
the same database (SQLite file or PostgreSQL) to assert what was stored.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from ari_app.app import CallCenterApp
from ari_app.config import Secrets, parse_settings
from ari_app.facts.types import CallEnded, CallStarted, LegProgress
from ari_app.pbxsim.server import PbxSim
from ari_app.people.identity import CallerDirectory
from ari_app.simctl import SimControl, SimProcess
from ari_app.store import CallStore, Database

T = TypeVar("T")
USER, PASSWORD = "clinic", "s3cret-for-tests"
TOKEN = "integration-token-0123456789"

CONFIG = """
version = 1
[ari]
url = "{ari_url}"
app = "clinic"
request_timeout = 3.0
[http]
host = "127.0.0.1"
port = {http_port}
[storage]
data_dir = "{data_dir}"
[fastagi]
port = 0
[calls]
ring_timeout = {ring_timeout}
wrap_up = 0
missed_media = "sound:vm-nobodyavail"
failed_media = "sound:please-try-call-later"
{calls_extra}
[[branches]]
id = "downtown"
name = "Downtown"
record = true
recording_notice = "sound:beep"
dids = [{{ number = "5551234", ad_channel = "website" }}]
[[branches]]
id = "empty"
name = "No admins yet"
dids = [{{ number = "5557000" }}]
[[admins]]
login = "anna"
name = "Anna"
endpoint = "PJSIP/admin101"
branch = "downtown"
[[admins]]
login = "ben"
name = "Ben"
endpoint = "PJSIP/admin102"
branch = "downtown"
[[admins]]
login = "chen"
name = "Chen"
endpoint = "PJSIP/admin103"
branch = "downtown"
{extra}
"""


# Short queue limits: a caller nobody takes waits 10 s on hold, then hears the callback message.
QUICK_QUEUE = """
[[groups]]
id = "downtown"
branch = "downtown"
max_wait = 10
announce_every = 10
[[groups]]
id = "empty"
branch = "empty"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def eventually(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 15.0, what: str = ""
) -> T:
    """Poll ``probe`` until ``ok`` holds; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    value = await probe()
    while not ok(value):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or 'condition'}; last value: {value!r}"[:6000])
        await asyncio.sleep(0.1)
        value = await probe()
    return value


async def until(probe: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until ``probe()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"not within {timeout} s")


@dataclass
class CallWatch:
    """What an in-process app's fan-out tells of calls: each caller number's call, the calls
    ended, and the caller's name each call's legs carried on the PBX when dialled."""

    calls: dict[str, str] = field(default_factory=dict)  # caller number -> call id
    ended: list[str] = field(default_factory=list)
    shown: dict[str, str] = field(default_factory=dict)  # call id -> name on its dialled legs

    @classmethod
    def on(cls, app: CallCenterApp, sim: PbxSim) -> CallWatch:
        watch = cls()

        def dialed(f: LegProgress) -> None:
            leg = sim.pbx.channels.get(f.leg_id)
            if f.dialed_at is not None and leg is not None:
                watch.shown[f.call_id] = leg.caller.name

        app.fanout.subscribe(CallStarted, lambda f: watch.calls.__setitem__(f.caller_number, f.call_id))
        app.fanout.subscribe(LegProgress, dialed)
        app.fanout.subscribe(CallEnded, lambda f: watch.ended.append(f.call_id))
        return watch


def in_process_app(
    ari_url: str,
    database_url: str,
    data: Path,
    *,
    tokens: tuple[str, ...] = (),
    extra: str = "",
    directory: CallerDirectory | None = None,
    registry: CollectorRegistry | None = None,
) -> CallCenterApp:
    """The app of ``CONFIG`` built in this process (FastAGI off, any free HTTP port), for tests
    that subscribe to its fan-out or hand it a directory."""
    text = CONFIG.format(
        ari_url=ari_url, http_port=0, data_dir=data, ring_timeout=10, calls_extra="", extra=extra
    )
    settings = parse_settings(
        tomllib.loads(text.replace("[fastagi]\nport = 0", "[fastagi]\nenabled = false")), "test"
    )
    return CallCenterApp(
        settings, Secrets(USER, PASSWORD, database_url, tokens), data_dir=data,
        registry=registry or CollectorRegistry(), migrate=True, directory=directory,
    )  # fmt: skip


@dataclass
class AppProcess:
    proc: asyncio.subprocess.Process
    http: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def health(self) -> tuple[int, dict[str, Any]]:
        async with aiohttp.ClientSession() as s, s.get(f"{self.http}/healthz") as r:
            return r.status, await r.json()

    async def api(self, path: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession() as s, s.get(f"{self.http}{path}", headers=headers) as r:
            body = await r.read()
            return r.status, body

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs."""
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def metrics(self) -> dict[str, float]:
        """Every sample of /metrics, keyed as Prometheus prints it (name{labels})."""
        status, body = await self.api("/metrics")
        assert status == 200
        out: dict[str, float] = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@dataclass
class World:
    sim: SimProcess
    ctl: SimControl
    app: AppProcess
    store: CallStore
    db: Database
    data_dir: Path
    config: Path
    db_url: str
    http_port: int

    async def restart_app(self, db_url: str | None = None) -> AppProcess:
        """A new app process on the same configuration, data folder and database."""
        await self.app.stop()
        self.app = await start_app(self.config, self.data_dir, db_url or self.db_url, self.http_port)
        return self.app

    async def place(self, caller: str = "+12025550142", did: str = "5551234", **kw: Any) -> dict[str, Any]:
        return await self.ctl.place_call(caller, did, **kw)

    async def sim_call(self, call_id: str) -> dict[str, Any]:
        calls = await self.ctl.calls()
        return next(c for c in calls if c["call_id"] == call_id)

    async def finished(self, channel_id: str, timeout: float = 20.0) -> Any:
        """Wait until the app stored the call's end, its legs' ends and its recording (if any)."""

        async def probe() -> Any:
            return await self.store.find_by_channel(channel_id)

        def done(rec: Any) -> bool:
            if rec is None or rec.outcome is None or any(leg.result is None for leg in rec.legs):
                return False
            return rec.outcome != "answered" or bool(rec.recordings)

        return await eventually(probe, done, timeout, f"call on {channel_id} to be stored")

    async def quiet(self, timeout: float = 15.0) -> dict[str, Any]:
        """Wait until the simulator holds no channel and no bridge."""
        state = await eventually(
            self.ctl.state, lambda s: not s["channels"] and not s["bridges"], timeout, "simulator to be empty"
        )
        return state

    async def requests(self) -> list[dict[str, Any]]:
        return await self.ctl.requests()


async def start_app(
    config: Path,
    data_dir: Path,
    db_url: str,
    http_port: int,
    env: dict[str, str] | None = None,
    *,
    healthy: bool = True,
) -> AppProcess:
    """The app as a process; with ``healthy``, once /healthz says 200."""
    log_path = data_dir / "app.log"
    env = {
        **os.environ,
        "ARI_USERNAME": USER,
        "ARI_PASSWORD": PASSWORD,
        "DATABASE_URL": db_url,
        "ARI_APP_API_TOKENS": TOKEN,
        **(env or {}),
    }
    with log_path.open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ari_app", "run", "--config", str(config), "--migrate",
            "--log-level", "debug", stdout=log, stderr=log, env=env,
        )  # fmt: skip
    app = AppProcess(proc, f"http://127.0.0.1:{http_port}", log_path)

    async def health() -> int:
        if proc.returncode is not None:
            pytest.fail(f"app exited with {proc.returncode}:\n{app.log()[-3000:]}")
        try:
            return (await app.health())[0]
        except aiohttp.ClientError:
            return 0

    await eventually(health, lambda s: s == (200 if healthy else 503), 20, "app to answer /healthz")
    return app


@pytest.fixture
async def world_factory(
    tmp_path: Path, clean_database_url: str
) -> AsyncIterator[Callable[..., Awaitable[World]]]:
    made: list[World] = []

    async def make(
        ring_timeout: int = 5,
        sim_args: list[str] | None = None,
        calls_extra: str = "",
        extra: str = "",
        db_url: str | None = None,
    ) -> World:
        sim = await SimProcess.start(username=USER, password=PASSWORD, seed=11, extra=sim_args)
        ctl = SimControl(sim.control_url)
        for n, name in enumerate(["admin101", "admin102", "admin103"]):
            await ctl.set_phone(name, "no_answer", caller_name=f"Admin {101 + n}", caller_number=str(101 + n))
        data_dir = tmp_path / "data"
        data_dir.mkdir(exist_ok=True)
        port = free_port()
        config = tmp_path / "clinic.toml"
        config.write_text(
            CONFIG.format(
                ari_url=sim.ari_url,
                http_port=port,
                data_dir=data_dir,
                ring_timeout=ring_timeout,
                calls_extra=calls_extra,
                extra=extra,
            )
        )
        app = await start_app(config, data_dir, db_url or clean_database_url, port)
        db = Database(clean_database_url)
        world = World(sim, ctl, app, CallStore(db), db, data_dir, config, db_url or clean_database_url, port)
        made.append(world)
        return world

    yield make
    for w in made:
        await w.app.stop()
        await w.ctl.close()
        await w.sim.stop()
        await w.db.dispose()
