"""Routing scenarios: the app as a process against a swappable PBX driver, on SQLite.

Without ``ARI_URL`` the PBX is the simulator. With ``ARI_URL`` (and ``ARI_USERNAME`` /
``ARI_PASSWORD``) it is a real Asterisk configured from ``asterisk-config/`` (``ari-app
asterisk-config`` of the scenario configuration's branches), driven by SIPp: see
``tests/scenarios/asterisk_driver.py``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ari_app.store import CallStore, Database
from tests.integration.conftest import TOKEN, AppProcess, eventually, free_port, start_app
from tests.scenarios.drivers import PbxDriver, SimDriver

BASE = """
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
ring_timeout = 5
wrap_up = {wrap_up}
missed_media = "sound:vm-nobodyavail"
failed_media = "sound:please-try-call-later"

[[branches]]
id = "downtown"
name = "Downtown"
record = true
recording_notice = "sound:beep"
dids = [
  {{ number = "5551234", ad_channel = "website" }},
  {{ number = "5551240", ad_channel = "menu-line", menu = {{ prompt = "sound:clinic/topic-menu", topics = ["booking", "results"], timeout = 3 }} }},
]

[[branches]]
id = "uptown"
name = "Uptown"
record = false
dids = [{{ number = "5552000" }}]

[[branches]]
id = "quiet"
name = "Recorded, the carrier announces it"
record = true
recording_notice = false
groups = ["uptown-desk"]
dids = [{{ number = "5555000" }}]

[[branches]]
id = "closed"
name = "Closed for the day"
record = false
timezone = "America/New_York"
hours = {{ }}
dids = [{{ number = "5553000" }}]

[[branches]]
id = "holiday"
name = "On holiday"
record = false
timezone = "UTC"
hours = {{ mon = ["00:00-24:00"], tue = ["00:00-24:00"], wed = ["00:00-24:00"], thu = ["00:00-24:00"], fri = ["00:00-24:00"], sat = ["00:00-24:00"], sun = ["00:00-24:00"] }}
holidays = {{ closed = [{today}] }}
dids = [{{ number = "5554000" }}]

[[groups]]
id = "downtown-desk"
branch = "downtown"
strategy = "{strategy}"
ring_timeout = {ring_timeout}
overflow_to = ["uptown-desk"]
overflow_after = {overflow_after}
max_wait = {max_wait}
announce = "{announce}"
announce_every = 10

[[groups]]
id = "uptown-desk"
branch = "uptown"
max_wait = 20

[[groups]]
id = "closed-desk"
branch = "closed"

[[groups]]
id = "holiday-desk"
branch = "holiday"

[[topics]]
id = "booking"
name = "Appointments"
digit = "1"

[[topics]]
id = "results"
name = "Test results"
digit = "2"

[[admins]]
login = "anna"
name = "Anna"
endpoint = "PJSIP/admin101"
branch = "downtown"
skills = ["booking"]
order = 1

[[admins]]
login = "ben"
name = "Ben"
endpoint = "PJSIP/admin102"
branch = "downtown"
skills = ["results"]
order = 2

[[admins]]
login = "chen"
name = "Chen"
endpoint = "PJSIP/admin103"
branch = "downtown"
order = 3

[[admins]]
login = "dana"
name = "Dana"
endpoint = "PJSIP/admin104"
branch = "uptown"
"""


@dataclass
class Clinic:
    pbx: PbxDriver
    app: AppProcess
    store: CallStore
    restart: Callable[[], Awaitable[AppProcess]]

    async def kill_and_restart(self) -> None:
        """SIGKILL the app (nothing of it runs on), then a new process on the same data."""
        await self.app.kill()
        self.app = await self.restart()

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            aiohttp.ClientSession() as s,
            s.request(method, f"{self.app.http}{path}", json=body, headers=headers) as r,
        ):
            return r.status, await r.json(content_type=None)

    async def call_of(self, caller: str, timeout: float = 40.0, answered_recording: bool = True) -> Any:
        """The stored call from ``caller`` once it ended, with its legs (and recording, if any)."""

        async def probe() -> Any:
            calls = await self.store.list_calls(limit=200)
            mine = [c for c in calls if c.caller_number == caller]
            return await self.store.get_call(mine[0].id) if mine else None

        def done(rec: Any) -> bool:
            if rec is None or rec.outcome is None or any(leg.result is None for leg in rec.legs):
                return False
            return not answered_recording or rec.outcome != "answered" or bool(rec.recordings)

        return await eventually(probe, done, timeout, f"call from {caller} to be stored")

    async def presence(self, login: str) -> dict[str, Any]:
        status, body = await self.api("GET", "/api/admins")
        assert status == 200, body
        return next(a for a in body["admins"] if a["login"] == login)


async def _driver() -> PbxDriver:
    if os.environ.get("ARI_URL"):
        from tests.scenarios.asterisk_driver import AsteriskDriver

        return await AsteriskDriver.start()
    return await SimDriver.start("clinic", "s3cret-for-scenarios")


@pytest.fixture
async def clinic_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Clinic]]]:
    made: list[tuple[Clinic, Database]] = []

    async def make(
        strategy: str = "ring_all",
        wrap_up: int = 0,
        overflow_after: int = 60,
        max_wait: int = 60,
        announce: str = "position",
        ring_timeout: int = 5,
    ) -> Clinic:
        pbx = await _driver()
        data_dir = tmp_path / f"data{len(made)}"
        data_dir.mkdir(mode=0o700)
        port = free_port()
        config = tmp_path / f"clinic{len(made)}.toml"
        config.write_text(
            BASE.format(
                ari_url=pbx.ari_url, http_port=port, data_dir=data_dir, wrap_up=wrap_up,
                strategy=strategy, overflow_after=overflow_after, max_wait=max_wait, announce=announce,
                ring_timeout=ring_timeout,
                today=datetime.now(UTC).date().isoformat(),
            )
        )  # fmt: skip
        db_url = f"sqlite+aiosqlite:///{data_dir / 'ari-app.db'}"
        env = {"ARI_USERNAME": pbx.username, "ARI_PASSWORD": pbx.password}
        app = await start_app(config, data_dir, db_url, port, env=env)
        db = Database(db_url)
        clinic = Clinic(pbx, app, CallStore(db), lambda: start_app(config, data_dir, db_url, port, env=env))
        made.append((clinic, db))
        # Presence is read at start (phones' registration): wait until the desk knows every admin.
        await eventually(lambda: clinic.api("GET", "/api/admins"), lambda r: r[0] == 200, 10, "admins API")
        return clinic

    yield make
    for clinic, db in made:
        await clinic.app.stop()
        await clinic.pbx.close()
        await db.dispose()
