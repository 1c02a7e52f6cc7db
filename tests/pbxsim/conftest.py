"""An in-process simulator with a bare websocket client: what an ARI app would see, verbatim."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ari_app.pbxsim.server import PbxSim

USER, PASSWORD = "clinic", "pw-for-tests"


class SimHarness:
    def __init__(self, sim: PbxSim) -> None:
        self.sim = sim
        self.http = aiohttp.ClientSession(
            headers={"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}
        )
        self.events: list[dict[str, Any]] = []
        self.frames: list[str] = []
        self.rest_log: list[dict[str, Any]] = []
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self.t0 = time.monotonic()

    async def connect(self, app: str = "clinic") -> None:
        self._ws = await self.http.ws_connect(self.sim.ari_url.replace("http", "ws") + f"/events?app={app}")
        self._reader = asyncio.get_running_loop().create_task(self._read(self._ws))

    async def disconnect(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader
        self._ws = None

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.frames.append(msg.data)
                try:
                    event = json.loads(msg.data)
                except ValueError:
                    continue
                if isinstance(event, dict) and isinstance(event.get("type"), str):
                    event["_t"] = time.monotonic() - self.t0
                    self.events.append(event)

    async def rest(self, method: str, path: str, body: Any = None, **query: str) -> tuple[int, Any]:
        url = self.sim.ari_url + path
        async with self.http.request(method, url, params=query or None, json=body) as resp:
            text = await resp.text()
            data = json.loads(text) if text else None
            self.rest_log.append(
                {
                    "method": method,
                    "path": "/ari" + path,
                    "query": query,
                    "status": resp.status,
                    "response": data,
                }
            )
            return resp.status, data

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession() as s,
            s.request(method, self.sim.control_url + path, json=body) as resp,
        ):
            assert resp.status < 400, await resp.text()
            return await resp.json()

    async def wait_for(self, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ev in self.events:
                if pred(ev):
                    return ev
            await asyncio.sleep(0.005)
        raise AssertionError(f"no matching event; saw {[e['type'] for e in self.events][-30:]}")

    def of(self, channel_id: str) -> list[dict[str, Any]]:
        out = []
        for ev in self.events:
            ch = ev.get("channel") or ev.get("peer") or {}
            if ch.get("id") == channel_id and ev["type"] != "ChannelVarset":
                out.append(ev)
        return out

    async def close(self) -> None:
        await self.disconnect()
        await self.http.close()


@pytest.fixture
async def harness() -> AsyncIterator[SimHarness]:
    sim = PbxSim(username=USER, password=PASSWORD, seed=3)
    await sim.start()
    h = SimHarness(sim)
    for n, name in enumerate(["admin101", "admin102", "admin103", "admin104", "admin105", "admin106"]):
        phone = {"behaviour": "no_answer", "caller_name": f"Admin {101 + n}", "caller_number": str(101 + n)}
        await h.control("PUT", f"/control/phones/{name}", phone)
    yield h
    await h.close()
    await sim.stop()


def shape(ev: dict[str, Any]) -> tuple[Any, ...]:
    """An event reduced to what must match Asterisk: type, state and cause-like fields."""
    ch = ev.get("channel") or ev.get("peer") or {}
    fields = tuple(
        (k, ev[k])
        for k in ("cause", "soft", "tech_cause", "cause_txt", "dialstatus", "dialstring")
        if k in ev
    )
    return (ev["type"], ch.get("state"), *fields)
