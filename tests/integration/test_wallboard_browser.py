"""The wallboard page in a real browser (headless Chromium, driven over its DevTools protocol):
a manager's board, live, counts a call answered on the simulated PBX; the page runs under the
app's Content-Security-Policy without an error; a lost socket says "reconnecting".

Skipped where Chromium is not installed (CI installs it: .ci/run)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ari_app.simctl import SimControl
from tests.integration.conftest import until
from tests.integration.test_wallboard import Site, site  # noqa: F401 (the fixture)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed"),
]


@dataclass
class Browser:
    """One page of a headless Chromium, over the DevTools websocket."""

    ws: aiohttp.ClientWebSocketResponse
    problems: list[str] = field(default_factory=list)  # exceptions, CSP violations, console errors
    _next: int = 0
    _answers: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)

    async def read(self) -> None:
        async for message in self.ws:
            m = json.loads(message.data)
            if "id" in m and m["id"] in self._answers:
                self._answers.pop(m["id"]).set_result(m)
            elif m.get("method") == "Runtime.exceptionThrown":
                self.problems.append(json.dumps(m["params"]["exceptionDetails"])[:500])
            elif m.get("method") == "Log.entryAdded" and m["params"]["entry"]["level"] == "error":
                entry = m["params"]["entry"]
                where = entry.get("url", "")
                if not where.endswith(("/auth/session", "/favicon.ico")) and "WebSocket" not in entry["text"]:
                    self.problems.append(f"{where}: {entry['text']}"[:500])

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        answer = asyncio.get_running_loop().create_future()
        self._answers[self._next] = answer
        await self.ws.send_json({"id": self._next, "method": method, "params": params})
        result = await asyncio.wait_for(answer, 10)
        assert "error" not in result, result
        return result["result"]  # type: ignore[no-any-return]

    async def text(self, element_id: str) -> str:
        found = await self.call(
            "Runtime.evaluate", expression=f"document.getElementById({element_id!r})?.textContent ?? ''"
        )
        return str(found["result"].get("value", ""))


@contextlib.asynccontextmanager
async def chromium(tmp: Path, http: aiohttp.ClientSession) -> AsyncIterator[Browser]:
    profile = tmp / "chromium"
    proc = await asyncio.create_subprocess_exec(
        "chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        await until(lambda: port_file.exists() and bool(port_file.read_text().strip()), timeout=30)
        port = port_file.read_text().split()[0]
        async with http.get(f"http://127.0.0.1:{port}/json") as r:
            target = next(t for t in await r.json() if t["type"] == "page")
        async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            browser = Browser(ws)
            reader = asyncio.get_running_loop().create_task(browser.read())
            try:
                for domain in ("Runtime", "Log", "Network", "Page"):
                    await browser.call(f"{domain}.enable")
                yield browser
            finally:
                reader.cancel()
    finally:
        proc.terminate()
        await proc.wait()


async def test_the_page_counts_an_answered_call_and_says_when_it_reconnects(
    site: Site,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    app, ctl = site.app, SimControl(site.sim.control_url)
    await site.sign_in("boss", "manager", None, None)
    url = f"{site.base}/wallboard?branch=downtown"
    async with chromium(tmp_path, site.http) as browser:
        cookie = {"name": "__Host-session", "value": site.cookies["boss"], "url": site.base, "path": "/"}
        assert (await browser.call("Network.setCookie", **cookie, secure=True))["success"]
        await browser.call("Page.navigate", url=url)
        await _until_text(browser, "link", "Live")
        assert (
            await browser.text("answered") == "0" and await browser.text("service-level") == "\u2013"
        )  # no figure yet
        assert await app.wait_ari(10)
        await ctl.set_phone("admin101", "no_answer")
        await ctl.set_phone("admin102", "answer", answer_after=0.4)
        await ctl.set_phone("admin103", "no_answer")
        state = "document.querySelectorAll('#admins .state-available').length"
        await _until_js(browser, state, 3)  # every phone free: the call is answered, not queued
        await ctl.place_call("+12025550111", "5551234", hangup_after=1.5)
        await _until_text(browser, "answered", "1")
        assert await browser.text("service-level") == "100%"
        assert "1 of 1 answered within 20 s" in await browser.text("level-note")
        # The socket lost (its screens closed by the server): the page says so and comes back.
        for screen in list(app.wallboard.screens["downtown"]):
            await screen.ws.close()
        await _until_text(browser, "link", "Connection lost: reconnecting…", "Live")
        await _until_text(browser, "link", "Live")
        assert browser.problems == []


async def _until_text(browser: Browser, element_id: str, *texts: str, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (found := await browser.text(element_id)) not in texts:
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"#{element_id} shows {found!r}, not {texts}; problems: {browser.problems}")
        await asyncio.sleep(0.1)


async def _until_js(browser: Browser, expression: str, value: Any, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (await browser.call("Runtime.evaluate", expression=expression))["result"].get("value") != value:
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{expression} is not {value!r}")
        await asyncio.sleep(0.1)
