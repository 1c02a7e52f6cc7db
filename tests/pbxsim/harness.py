"""A bare ARI client for the simulator's tests: raw REST calls and the events websocket, verbatim.

It is deliberately not the project's ARI client: these tests pin down what goes over the wire.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from ari_app.pbxsim.server import PbxSim

USER, PASSWORD = "clinic", "pw-for-tests"
ADMINS = ["admin101", "admin102", "admin103", "admin104", "admin105", "admin106"]
Event = dict[str, Any]


def auth_header(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class SimHarness:
    def __init__(self, sim: PbxSim) -> None:
        self.sim = sim
        self.http = aiohttp.ClientSession(headers=auth_header())
        self.events: list[Event] = []
        self.frames: list[str] = []
        self.rest_log: list[dict[str, Any]] = []
        self.timeline: list[tuple[str, str]] = []  # ("event", type) / ("rest", "METHOD path"), as received
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self.t0 = time.monotonic()

    # ------------------------------------------------------------------ websocket
    async def connect(self, app: str = "clinic") -> None:
        url = self.sim.ari_url.replace("http", "ws", 1) + f"/events?app={app}"
        self._ws = await self.http.ws_connect(url)
        self._reader = asyncio.get_running_loop().create_task(self._read(self._ws))

    async def disconnect(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader
        self._ws = self._reader = None

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            self.frames.append(msg.data)
            try:
                event = json.loads(msg.data)
            except ValueError:
                event = None
            if isinstance(event, dict) and isinstance(event.get("type"), str):
                event["_t"] = time.monotonic() - self.t0
                self.events.append(event)
                self.timeline.append(("event", event["type"]))
            self._changed.set()
        self._changed.set()

    async def wait_for(self, pred: Callable[[Event], bool], timeout: float = 5.0) -> Event:
        """The first event (already received or still to come) that matches ``pred``."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events:
                if pred(ev):
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching event; last seen {[e['type'] for e in self.events][-30:]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                pass

    async def wait_closed(self, timeout: float = 5.0) -> None:
        if self._reader is not None:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)

    # ------------------------------------------------------------------ REST and control
    async def rest(self, method: str, path: str, body: Any = None, **query: str) -> tuple[int, Any]:
        async with self.http.request(
            method, self.sim.ari_url + path, params=query or None, json=body
        ) as resp:
            text = await resp.text()
            data = json.loads(text) if text else None
        self.rest_log.append(
            {"method": method, "path": "/ari" + path, "query": query, "status": resp.status, "response": data}
        )
        self.timeline.append(("rest", f"{method} {path}"))
        return resp.status, data

    async def control_raw(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as s,
            s.request(method, self.sim.control_url + path, json=body) as resp,
        ):
            return resp.status, await resp.json()

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        status, data = await self.control_raw(method, path, body)
        assert status < 400, data
        return data

    async def sim_call(self, call_id: str) -> dict[str, Any]:
        calls = (await self.control("GET", "/control/calls"))["calls"]
        return next(c for c in calls if c["call_id"] == call_id)

    # ------------------------------------------------------------------ reading what came
    def of(self, channel_id: str, varsets: bool = False) -> list[Event]:
        return [
            ev
            for ev in self.events
            if channel_of(ev).get("id") == channel_id and (varsets or ev["type"] != "ChannelVarset")
        ]

    def varsets(self, channel_id: str) -> list[tuple[str, str]]:
        return [
            (e["variable"], e["value"])
            for e in self.of(channel_id, varsets=True)
            if e["type"] == "ChannelVarset"
        ]

    async def close(self) -> None:
        await self.disconnect()
        await self.http.close()


def channel_of(ev: Event) -> dict[str, Any]:
    return ev.get("channel") or ev.get("peer") or {}


def shape(ev: Event) -> tuple[Any, ...]:
    """An event reduced to what must match Asterisk: type, channel state, cause-like fields."""
    fields = tuple(
        (k, ev[k])
        for k in ("cause", "soft", "tech_cause", "cause_txt", "dialstatus", "dialstring")
        if k in ev
    )
    return (ev["type"], channel_of(ev).get("state"), *fields)


# ---------------------------------------------------------------------- call building blocks
async def place(h: SimHarness, **extra: Any) -> str:
    """An inbound call from 5550001 to 5551234; returns its channel id once it is in Stasis."""
    call = await h.control("POST", "/control/calls", {"caller": "5550001", "did": "5551234", **extra})
    await h.wait_for(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == call["channel_id"])
    return str(call["channel_id"])


async def call_id_of(h: SimHarness, channel_id: str) -> str:
    calls = (await h.control("GET", "/control/calls"))["calls"]
    return str(next(c["call_id"] for c in calls if c["channel_id"] == channel_id))


async def leg(h: SimHarness, inbound: str, endpoint: str = "admin101", timeout: int = 0) -> str:
    """Create a leg to ``endpoint`` for the caller, wait for its StasisStart, and dial it."""
    status, ch = await h.rest(
        "POST",
        "/channels/create",
        endpoint=f"PJSIP/{endpoint}",
        app="clinic",
        appArgs=f"dialed,{inbound}",
        originator=inbound,
    )
    assert status == 200, ch
    await h.wait_for(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == ch["id"])
    status, _ = await h.rest("POST", f"/channels/{ch['id']}/dial", caller=inbound, timeout=str(timeout))
    assert status == 204
    return str(ch["id"])


async def answered(h: SimHarness, endpoint: str = "admin101") -> tuple[str, str]:
    """An inbound call and an admin leg that answered it (neither answered by the app nor bridged)."""
    await h.control("PUT", f"/control/phones/{endpoint}", {"behaviour": "answer", "answer_after": 0.05})
    inbound = await place(h)
    leg_id = await leg(h, inbound, endpoint, timeout=15)
    await h.wait_for(
        lambda e: e["type"] == "Dial" and e["dialstatus"] == "ANSWER" and e["peer"]["id"] == leg_id
    )
    return inbound, leg_id


async def bridged(h: SimHarness, endpoint: str = "admin101") -> tuple[str, str, str]:
    """An answered call bridged with its admin leg: (inbound, leg, bridge id)."""
    inbound, leg_id = await answered(h, endpoint)
    assert await h.rest("POST", f"/channels/{inbound}/answer") == (204, None)
    status, bridge = await h.rest("POST", "/bridges", type="mixing")
    assert status == 200
    assert await h.rest("POST", f"/bridges/{bridge['id']}/addChannel", channel=f"{inbound},{leg_id}") == (
        204,
        None,
    )
    return inbound, leg_id, str(bridge["id"])


async def gone(h: SimHarness, channel_id: str, timeout: float = 5.0) -> Event:
    return await h.wait_for(
        lambda e: e["type"] == "ChannelDestroyed" and e["channel"]["id"] == channel_id, timeout
    )
