"""The app and the simulated PBX in this process, with signed-in people: the console's,
the wallboard's and the browser's tests share it (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from ari_app.app import CallCenterApp
from ari_app.pbxsim.server import PbxSim
from tests.integration.conftest import PASSWORD, QUICK_QUEUE, USER, in_process_app, until

TOKEN = "live-site-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Site:
    app: CallCenterApp
    sim: PbxSim
    base: str
    http: aiohttp.ClientSession
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)

    async def add_user(self, login: str, role: str, admin: str | None, branch: str | None) -> None:
        """A user with the password ``PASSWORD``, set as its one-time link would."""
        users, now = self.app.accounts.users, datetime.now(UTC)
        await users.add(login, role, admin, branch, now)
        code = await users.new_link(login, now, timedelta(hours=1), reset=False)
        assert code is not None
        await users.use_link(code, self.app.accounts.passwords.hash(PASSWORD), now)

    async def sign_in(self, login: str, role: str, admin: str | None, branch: str | None) -> None:
        await self.add_user(login, role, admin, branch)
        async with self.http.post(f"{self.base}/login", json={"login": login, "password": PASSWORD}) as r:
            assert r.status == 200, await r.text()
            self.cookies[login] = r.cookies["__Host-session"].value
            self.csrf[login] = (await r.json())["csrf_token"]

    def cookie(self, login: str) -> dict[str, str]:
        return {"Cookie": f"__Host-session={self.cookies[login]}"}

    async def console(self, login: str) -> aiohttp.ClientWebSocketResponse:
        headers = {**self.cookie(login), "Origin": self.base}
        return await self.http.ws_connect(f"{self.base}/console/ws", headers=headers)

    async def screen(self, login: str, branch: str) -> aiohttp.ClientWebSocketResponse:
        headers = {**self.cookie(login), "Origin": self.base}
        return await self.http.ws_connect(f"{self.base}/wallboard/ws?branch={branch}", headers=headers)

    async def phones_ready(self) -> None:
        """Every admin's phone registered and free: a call placed now rings them, not the queue."""
        assert await self.app.wait_ari(10)
        counts = self.app.desk.counts
        await until(lambda: counts().get("available") == len(self.app.settings.admins), timeout=30)

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        async with self.http.get(f"{self.base}{path}", headers=headers) as r:
            return r.status, await r.json()


async def started_site(
    sim: PbxSim, url: str, data: Path, http: aiohttp.ClientSession, extra: str = ""
) -> Site:
    """``extra``: more configuration (TOML tables) after the queue's."""
    app = in_process_app(sim.ari_url, url, data, tokens=(TOKEN,), extra=QUICK_QUEUE + extra)
    await app.start()
    return Site(app, sim, f"http://127.0.0.1:{app.http_port}", http)


@contextlib.asynccontextmanager
async def live_site(database_url: str, tmp_path: Path, extra: str = "") -> AsyncIterator[Site]:
    sim = PbxSim(username=USER, password=PASSWORD)
    await sim.start()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            site = await started_site(sim, database_url, tmp_path / "data", http, extra)
            try:
                yield site
            finally:
                await site.app.stop(drain_timeout=2)
    finally:
        await sim.stop()
