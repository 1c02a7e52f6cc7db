"""The simulator held to the real Asterisk 22: its api-docs, and the traces recorded from 22.10.1.

Reads ../shared/asterisk-ari-22 (skipped without it on a developer's machine, required in CI).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ari_app.pbxsim.server import PbxSim
from tests.pbxsim import test_scenarios
from tests.pbxsim.conftest import PASSWORD, USER, SimHarness
from tests.pbxsim.swagger import AriSpec

pytestmark = pytest.mark.shared

SCENARIOS: list[Callable[[SimHarness], Awaitable[None]]] = [
    getattr(test_scenarios, name)
    for name in dir(test_scenarios)
    if name.startswith("test_") and name != "test_auth_required"
]


@pytest.fixture(scope="module")
def spec(shared_ari: Path) -> AriSpec:
    return AriSpec(shared_ari / "api-docs")


def _strip(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if not k.startswith("_")}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__.removeprefix("test_"))
async def test_every_response_and_event_matches_api_docs(
    scenario: Callable[[SimHarness], Awaitable[None]], spec: AriSpec, harness: SimHarness
) -> None:
    await scenario(harness)
    problems: list[str] = []
    for ev in harness.events:
        problems += spec.check_event(_strip(ev))
    for r in harness.rest_log:
        problems += spec.check_response(r["method"], r["path"], r["status"], r["response"])
    for r in harness.sim.requests:  # everything the simulator answered, by path and status
        if spec.operation(r["method"], r["path"]) is None and r["path"] != "/ari/events":
            problems.append(f"{r['method']} {r['path']}: not an ARI operation")
    assert harness.events
    assert problems == []


# --------------------------------------------------------------------------- recorded traces

TRACES = [
    "admin_busy",
    "admin_no_answer",
    "answered_app_hangs_up",
    "answered_caller_hangs_up",
    "app_restart_midcall",
    "caller_abandons_while_ringing",
    "queue_with_moh",
    "ringall_first_answers",
]
RING_KEYS = {("Dial", ""), ("Dial", "RINGING"), ("ChannelStateChange", "Ringing")}


def _load(shared: Path, name: str) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in (shared / "traces" / f"{name}.jsonl").read_text().splitlines() if line
    ]


def _channel(ev: dict[str, Any]) -> dict[str, Any]:
    return ev.get("channel") or ev.get("peer") or {}


def _key(ev: dict[str, Any]) -> tuple[Any, ...]:
    """An event as the comparison sees it: type plus the fields that carry meaning."""
    t = ev["type"]
    if t == "Dial":
        return (t, ev["dialstatus"])
    if t == "ChannelStateChange":
        return (t, _channel(ev)["state"])
    if t == "ChannelHangupRequest":
        if not ev.get("soft") and ev.get("cause") in (None, 16) and "tech_cause" not in ev:
            return (t, "far-end BYE")  # both shapes, with and without cause 16, were recorded
        return (t, ev.get("cause"), ev.get("soft"), ev.get("tech_cause"))
    if t == "ChannelDestroyed":
        return (t, ev["cause"], ev["cause_txt"], ev.get("tech_cause"))
    # Bridge membership events compare by type only: whether the internal Recorder channel is
    # still listed when the last leg leaves varied between recorded runs.
    return (t,)


def _normalise(seq: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Sort each run of the three ringing events (their order varies between runs)."""
    out: list[tuple[Any, ...]] = []
    run: list[tuple[Any, ...]] = []
    for k in [*seq, ("end",)]:
        if k[:2] in RING_KEYS:
            run.append(k)
            continue
        out += sorted(run, key=repr)
        run = []
        out.append(k)
    out = [k for k in out if k != ("ChannelConnectedLine",)]
    return out[:-1]


def _per_role(events: list[dict[str, Any]], roles: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for ev in events:
        if ev["type"] in ("ChannelVarset",):
            continue
        cid = _channel(ev).get("id")
        role = roles.get(cid or "")
        if role is None:
            role = ev["type"].removesuffix("Started").removesuffix("Finished")
        out.setdefault(role, []).append(_key(ev))
    return {role: _normalise(seq) for role, seq in out.items()}


def _varsets(events: list[dict[str, Any]], roles: dict[str, str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for ev in events:
        if ev["type"] == "ChannelVarset":
            out.setdefault(roles.get(_channel(ev).get("id", ""), "?"), set()).add(ev["variable"])
    return out


class TraceReplay:
    """Plays a trace's world (phones, caller) and its app's REST calls against the simulator."""

    def __init__(self, trace: list[dict[str, Any]], h: SimHarness) -> None:
        self.trace = trace
        self.h = h
        self.events = [line["event"] for line in trace if line["dir"] == "event"]
        self.rests = [line for line in trace if line["dir"] == "rest"]
        start = next(e for e in self.events if e["type"] == "StasisStart" and len(e["args"]) == 1)
        self.t0 = next(line["t"] for line in trace if line["dir"] == "event" and line["event"] is start)
        self.inbound = start["channel"]["id"]
        self.did = start["args"][0]
        self.roles = {self.inbound: "inbound"}
        for r in self.rests:
            if r["path"] == "/ari/channels/create":
                self.roles[r["response"]["id"]] = "leg:" + r["query"]["endpoint"].split("/")[1]
        self.ids: dict[str, str] = {}

    def phones(self) -> dict[str, dict[str, Any]]:
        result = {}
        for r in self.rests:
            if r["path"] != "/ari/channels/create":
                continue
            leg_id, name = r["response"]["id"], r["query"]["endpoint"].split("/")[1]
            dial = next(x for x in self.rests if x["path"] == f"/ari/channels/{leg_id}/dial")
            mine = [
                line
                for line in self.trace
                if line["dir"] == "event" and _channel(line["event"]).get("id") == leg_id
            ]
            up = [
                x["t"]
                for x in mine
                if x["event"]["type"] == "ChannelStateChange" and x["event"]["channel"]["state"] == "Up"
            ]
            if any(x["event"].get("cause") == 17 for x in mine):
                result[name] = {"behaviour": "busy"}
            elif up:
                result[name] = {"behaviour": "answer", "answer_after": max(0.001, up[0] - dial["t_sent"])}
            elif any(x["event"]["type"] == "ChannelStateChange" for x in mine):
                result[name] = {"behaviour": "no_answer"}
            else:
                result[name] = {"behaviour": "offline"}
        return result

    def caller_hangup_at(self) -> float | None:
        for line in self.trace:
            ev = line.get("event") or {}
            if (
                ev.get("type") == "ChannelHangupRequest"
                and _channel(ev).get("id") == self.inbound
                and not ev.get("soft")
            ):
                return float(line["t"]) - self.t0
        return None

    def _sub(self, text: str) -> str:
        for old, new in sorted(self.ids.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(old, new)
        return text

    async def run(self, name: str) -> list[tuple[int, Any]]:
        h = self.h
        for phone, behaviour in self.phones().items():
            await h.control("PUT", f"/control/phones/{phone}", behaviour)
        await h.connect()
        placed = await h.control("POST", "/control/calls", {"caller": "5550001", "did": self.did})
        start = time.monotonic()
        self.ids[self.inbound] = placed["channel_id"]
        hangup_at = self.caller_hangup_at()
        results = []
        hung_up = hangup_at is None
        for r in self.rests:
            due = r["t_sent"] - self.t0
            if name == "app_restart_midcall":
                await self._restart_moves(start, due)
            if not hung_up and hangup_at is not None and due >= hangup_at:
                await self._caught_up(start, hangup_at)
                await h.control("POST", f"/control/calls/{placed['call_id']}/hangup")
                hung_up = True
            await self._caught_up(start, due)
            query = {k: self._sub(v) for k, v in r["query"].items()}
            status, body = await h.rest(r["method"], self._sub(r["path"]).removeprefix("/ari"), **query)
            for old, new in _new_ids(r["response"], body):
                self.ids[old] = new
            results.append((status, body))
        if not hung_up:
            await self._caught_up(start, hangup_at or 0.0)
            await h.control("POST", f"/control/calls/{placed['call_id']}/hangup")
        await asyncio.sleep(0.3)
        return results

    async def _caught_up(self, start: float, due: float) -> None:
        """Wait for the trace's time, and for the events the recorded app had seen by then."""
        await asyncio.sleep(max(0.0, due - (time.monotonic() - start)))
        seen_then = sum(
            1 for line in self.trace
            if line["dir"] == "event" and line["t"] - self.t0 < due and _counted(line["event"])
        )  # fmt: skip
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if sum(1 for e in self.h.events if _counted(e)) >= seen_then:
                break
            await asyncio.sleep(0.005)

    async def _restart_moves(self, start: float, due: float) -> None:
        # The recorded app closed its websocket at 2.44 s and reconnected at 4.49 s.
        for at, action in ((2.44 - self.t0, self.h.disconnect), (4.49 - self.t0, self.h.connect)):
            if due > at and not getattr(self, f"_done{at}", False):
                setattr(self, f"_done{at}", True)
                await asyncio.sleep(max(0.0, at - (time.monotonic() - start)))
                await action()


def _counted(ev: dict[str, Any]) -> bool:
    return ev["type"] not in ("ChannelVarset", "ChannelConnectedLine")


def _new_ids(recorded: Any, ours: Any) -> list[tuple[str, str]]:
    if isinstance(recorded, dict) and isinstance(ours, dict) and "id" in recorded and "id" in ours:
        return [(recorded["id"], ours["id"])]
    return []


@pytest.mark.parametrize("name", TRACES)
async def test_trace_replay_gives_the_same_results_and_events(name: str, shared_ari: Path) -> None:
    sim = PbxSim(username=USER, password=PASSWORD, seed=5)
    await sim.start()
    h = SimHarness(sim)
    try:
        for n in range(1, 7):
            await h.control("PUT", f"/control/phones/admin10{n}", {"caller_name": f"Admin 10{n}",
                                                                  "caller_number": f"10{n}"})  # fmt: skip
        replay = TraceReplay(_load(shared_ari, name), h)
        results = await replay.run(name)
        # Same REST results: status codes and body shapes.
        for r, (status, body) in zip(replay.rests, results, strict=True):
            assert status == r["status"], f"{r['method']} {r['path']}"
            if isinstance(r["response"], dict):
                assert set(body) == set(r["response"]), f"{r['method']} {r['path']}"
            else:
                assert type(body) is type(r["response"]), f"{r['method']} {r['path']}"
        our_roles = {replay.ids.get(cid, cid): role for cid, role in replay.roles.items()}
        expected = _per_role(replay.events, replay.roles)
        got = _per_role(h.events, our_roles)
        for role in sorted({*got, *expected}):
            assert got.get(role) == expected.get(role), (
                f"{role}\n got  {got.get(role)}\n want {expected.get(role)}"
            )
        got_vars, want_vars = _varsets(h.events, our_roles), _varsets(replay.events, replay.roles)
        for role in sorted({*got_vars, *want_vars}):
            assert got_vars.get(role) == want_vars.get(role), role
    finally:
        await h.close()
        await sim.stop()


async def test_stasis_failed_without_app(shared_ari: Path, harness: SimHarness) -> None:
    text = (shared_ari / "traces" / "stasis_failed.txt").read_text()
    assert "603 Decline" in text  # what the recorded caller got
    status, body = await harness.rest("GET", "/applications/clinic")
    assert (status, body) == (404, {"message": "Application not found"})
    assert (await harness.rest("GET", "/applications")) == (200, [])
    call = await harness.control("POST", "/control/calls", {"caller": "5550001", "did": "5551234"})
    assert call["result"] == "declined" and call["channel_id"] is None
