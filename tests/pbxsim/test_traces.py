"""The simulator replays the recorded Asterisk 22.10.1 traces and must give the same results.

For each ../shared/asterisk-ari-22/traces/*.jsonl scenario the test sets up the same world
(which phone answers, rings on, is busy or is not there; when the caller hangs up), sends the
app's recorded REST calls at the recorded moments (ids substituted), and compares: REST
statuses and response shapes, and per channel the event sequence with the fields that carry
meaning (state, cause, soft, tech_cause, dialstatus, bridge technology). Ids, times and the
orders the README lists as varying are left aside. Time runs SCALE times faster than recorded.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.pbxsim.conftest import start_harness
from tests.pbxsim.harness import SimHarness, channel_of

pytestmark = pytest.mark.shared

SCALE = 10.0
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
Line = dict[str, Any]


def _load(shared: Path, name: str) -> list[Line]:
    text = (shared / "traces" / f"{name}.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line]


def _key(ev: Line) -> tuple[Any, ...]:
    """An event as the comparison sees it: its type and the fields that carry meaning."""
    t = ev["type"]
    if t == "Dial":
        return (t, ev["dialstatus"])
    if t == "ChannelStateChange":
        return (t, channel_of(ev)["state"])
    if t == "ChannelHangupRequest":
        if not ev.get("soft") and ev.get("cause") in (None, 16) and "tech_cause" not in ev:
            return (t, "far-end BYE")  # recorded both with no cause and with cause 16
        return (t, ev.get("cause"), ev.get("soft"), ev.get("tech_cause"))
    if t == "ChannelDestroyed":
        return (t, ev["cause"], ev["cause_txt"], ev.get("tech_cause"), channel_of(ev)["dialplan"]["app_name"])
    if t == "StasisEnd":
        return (t, channel_of(ev)["dialplan"]["app_name"])
    if t in ("ChannelEnteredBridge", "ChannelLeftBridge", "BridgeDestroyed"):
        # Whether the Recorder channel is still listed when the last leg leaves varied between
        # runs, so the member list is left aside; the technology is not.
        return (t, ev["bridge"]["technology"])
    if t.startswith("Recording"):
        return (t, ev["recording"]["state"])
    if t.startswith("Playback"):
        return (t, ev["playback"]["state"])
    return (t,)


def _normalise(seq: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Sort each run of the three ringing events: their order varies between runs."""
    out: list[tuple[Any, ...]] = []
    run: list[tuple[Any, ...]] = []
    for k in [*seq, ("end",)]:
        if k[:2] in RING_KEYS:
            run.append(k)
            continue
        out += sorted(run, key=repr)
        run = []
        out.append(k)
    return out[:-1]


def _per_role(events: list[Line], roles: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for ev in events:
        if ev["type"] == "ChannelVarset":
            continue
        role = roles.get(
            channel_of(ev).get("id", ""), ev["type"].removesuffix("Started").removesuffix("Finished")
        )
        out.setdefault(role, []).append(_key(ev))
    return {role: _normalise(seq) for role, seq in out.items()}


def _varsets(events: list[Line], roles: dict[str, str]) -> dict[str, tuple[set[str], list[str]]]:
    """Per role: which variables were set, and the STASISSTATUS values in order."""
    out: dict[str, tuple[set[str], list[str]]] = {}
    for ev in events:
        if ev["type"] == "ChannelVarset":
            names, status = out.setdefault(roles.get(channel_of(ev).get("id", ""), "?"), (set(), []))
            names.add(ev["variable"])
            if ev["variable"] == "STASISSTATUS":
                status.append(ev["value"])
    return out


def _fields(events: list[Line], roles: dict[str, str]) -> dict[str, set[tuple[Any, ...]]]:
    """Per role: each event type with its keys, and who the channel said it was talking to."""
    out: dict[str, set[tuple[Any, ...]]] = {}
    for ev in events:
        ch = channel_of(ev)
        role = str(roles.get(ch.get("id", ""), ev["type"]))
        parties = (ch["caller"]["number"], ch["connected"]["number"], ch["dialplan"]["context"]) if ch else ()
        keys = tuple(sorted(k for k in ev if not k.startswith("_")))
        if _key(ev) == ("ChannelHangupRequest", "far-end BYE"):
            keys = tuple(k for k in keys if k != "cause")  # both shapes were recorded
        out.setdefault(role, set()).add((ev["type"], keys, tuple(sorted(ch)), parties))
    return out


def _counted(ev: Line) -> bool:
    return ev["type"] not in ("ChannelVarset", "ChannelConnectedLine")


class TraceReplay:
    """Plays a trace's world (phones, caller) and its app's REST calls against the simulator."""

    def __init__(self, trace: list[Line], h: SimHarness) -> None:
        self.trace, self.h = trace, h
        self.events = [line["event"] for line in trace if line["dir"] == "event"]
        self.rests = [line for line in trace if line["dir"] == "rest"]
        first = next(
            line for line in trace if line["dir"] == "event" and line["event"]["type"] == "StasisStart"
        )
        self.t0 = float(first["t"])
        self.inbound = first["event"]["channel"]["id"]
        self.did = first["event"]["args"][0]
        self.roles = {self.inbound: "inbound"}
        for r in self.rests:
            if r["path"] == "/ari/channels/create":
                self.roles[r["response"]["id"]] = "leg:" + r["query"]["endpoint"].split("/")[1]
        self.ids: dict[str, str] = {}
        self._done: set[str] = set()

    def _leg_events(self, leg_id: str) -> list[Line]:
        return [
            line
            for line in self.trace
            if line["dir"] == "event" and channel_of(line["event"]).get("id") == leg_id
        ]

    def phones(self) -> dict[str, dict[str, Any]]:
        """What each dialled phone did, read back from the trace."""
        result = {}
        for r in (r for r in self.rests if r["path"] == "/ari/channels/create"):
            leg_id, name = r["response"]["id"], r["query"]["endpoint"].split("/")[1]
            dial = next(x for x in self.rests if x["path"] == f"/ari/channels/{leg_id}/dial")
            mine = self._leg_events(leg_id)
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
                and channel_of(ev).get("id") == self.inbound
                and not ev.get("soft")
            ):
                return float(line["t"]) - self.t0
        return None

    def substitute(self, text: str) -> str:
        for old, new in sorted(self.ids.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(old, new)
        return text

    async def run(self, name: str) -> list[tuple[int, Any]]:
        h = self.h
        for phone, behaviour in self.phones().items():
            await h.control("PUT", f"/control/phones/{phone}", behaviour)
        await h.connect()
        placed = await h.control("POST", "/control/calls", {"caller": "5550001", "did": self.did})
        self.start = time.monotonic()
        self.ids[self.inbound] = placed["channel_id"]
        hangup_at = self.caller_hangup_at()
        results = []
        for r in self.rests:
            due = r["t_sent"] - self.t0
            if name == "app_restart_midcall":
                await self._restart_moves(due)
            if hangup_at is not None and due >= hangup_at and "hangup" not in self._done:
                await self._caller_hangs_up(placed["call_id"], hangup_at)
            await self._caught_up(due)
            query = {k: self.substitute(v) for k, v in r["query"].items()}
            status, body = await h.rest(r["method"], self.substitute(r["path"]).removeprefix("/ari"), **query)
            if isinstance(r["response"], dict) and isinstance(body, dict) and "id" in r["response"]:
                self.ids[r["response"]["id"]] = body["id"]
            results.append((status, body))
        if hangup_at is not None and "hangup" not in self._done:
            await self._caller_hangs_up(placed["call_id"], hangup_at)
        await self._settled()
        return results

    async def _caller_hangs_up(self, call_id: str, at: float) -> None:
        self._done.add("hangup")
        await self._caught_up(at)
        await self.h.control("POST", f"/control/calls/{call_id}/hangup")

    async def _caught_up(self, due: float) -> None:
        """Wait for the trace's moment, and for the events the recorded app had seen by then."""
        await self._until(due)
        seen_then = sum(
            1
            for line in self.trace
            if line["dir"] == "event" and line["t"] - self.t0 < due and _counted(line["event"])
        )
        if seen_then:
            await self.h.wait_for(
                lambda _e: sum(1 for e in self.h.events if _counted(e)) >= seen_then, timeout=3
            )

    async def _until(self, due: float) -> None:
        """The trace's moment ``due`` (seconds into it). Behind it (a loaded machine), the rest
        of the trace shifts later: its gaps are kept (a recording's length is one), not its clock."""
        ahead = due / SCALE - (time.monotonic() - self.start)
        if ahead > 0:
            await asyncio.sleep(ahead)
        else:
            self.start -= ahead

    async def _settled(self) -> None:
        """Until the last recorded event's counterpart has come (or the world is empty)."""
        want = sum(1 for e in self.events if _counted(e))
        try:
            await self.h.wait_for(lambda _e: sum(1 for e in self.h.events if _counted(e)) >= want, timeout=3)
        except AssertionError:
            pass  # the comparison below says what is missing

    async def _restart_moves(self, due: float) -> None:
        # The recorded app closed its websocket at 2.44 s and connected again at 4.49 s.
        for at, what in ((2.44 - self.t0, "disconnect"), (4.49 - self.t0, "connect")):
            if due > at and what not in self._done:
                self._done.add(what)
                await self._until(at)
                await (self.h.disconnect() if what == "disconnect" else self.h.connect())


VOLATILE = {"id", "protocol_id", "creationtime", "timestamp"}


def _differences(recorded: Any, ours: Any, sub: Callable[[str], str], where: str = "$") -> list[str]:
    """Values that differ once recorded ids are swapped for ours; ids, times and the channel
    names' counters aside, and lists of objects compared in id order (Asterisk's is a hash's)."""
    if isinstance(recorded, dict) and isinstance(ours, dict):
        out = []
        for key, value in recorded.items():
            is_counter_name = key == "name" and str(value).startswith("PJSIP/")
            if key not in VOLATILE and not is_counter_name:
                out += _differences(value, ours.get(key), sub, f"{where}.{key}")
        return out
    if isinstance(recorded, list) and isinstance(ours, list) and len(recorded) == len(ours):
        if all(isinstance(x, dict) for x in recorded + ours):
            recorded = sorted(recorded, key=lambda x: sub(str(x.get("id"))))
            ours = sorted(ours, key=lambda x: str(x.get("id")))
        return [
            d
            for i, (r, o) in enumerate(zip(recorded, ours, strict=True))
            for d in _differences(r, o, sub, f"{where}[{i}]")
        ]
    if isinstance(recorded, str) and isinstance(ours, str):
        return [] if sub(recorded) == ours else [f"{where}: {ours!r}, recorded {recorded!r}"]
    return [] if recorded == ours else [f"{where}: {ours!r}, recorded {recorded!r}"]


def _same_shape(recorded: Any, ours: Any) -> bool:
    if isinstance(recorded, dict):
        return isinstance(ours, dict) and set(ours) == set(recorded)
    if isinstance(recorded, list):
        return isinstance(ours, list) and len(ours) == len(recorded) and all(map(_same_shape, recorded, ours))
    return type(ours) is type(recorded)


@pytest.mark.parametrize("name", TRACES)
async def test_trace_replay_gives_the_same_results_and_events(
    name: str, shared_ari: Path, tmp_path: Path
) -> None:
    h = await start_harness(tmp_path / "rec", seed=5, scale=SCALE)
    try:
        replay = TraceReplay(_load(shared_ari, name), h)
        results = await replay.run(name)
        for r, (status, body) in zip(replay.rests, results, strict=True):
            assert status == r["status"], f"{r['method']} {r['path']}: {body}"
            assert _same_shape(r["response"], body), f"{r['method']} {r['path']}: {body}"
            assert _differences(r["response"], body, replay.substitute) == [], f"{r['method']} {r['path']}"
        ours = {replay.ids.get(cid, cid): role for cid, role in replay.roles.items()}
        expected, got = _per_role(replay.events, replay.roles), _per_role(h.events, ours)
        for role in sorted({*got, *expected}):
            assert got.get(role) == expected.get(role), (
                f"{role}\n got  {got.get(role)}\n want {expected.get(role)}"
            )
        want_vars, got_vars = _varsets(replay.events, replay.roles), _varsets(h.events, ours)
        for role in sorted({*got_vars, *want_vars}):
            assert got_vars.get(role) == want_vars.get(role), role
        want_fields, got_fields = _fields(replay.events, replay.roles), _fields(h.events, ours)
        for role in sorted({*got_fields, *want_fields}):
            assert got_fields.get(role) == want_fields.get(role), role
        _check_recording(replay.events, h.events)
    finally:
        await h.close()
        await h.sim.stop()


def _check_recording(recorded: list[Line], ours: list[Line]) -> None:
    want = [e["recording"] for e in recorded if e["type"] == "RecordingFinished"]
    got = [e["recording"] for e in ours if e["type"] == "RecordingFinished"]
    assert [set(r) for r in got] == [set(r) for r in want]
    for g, w in zip(got, want, strict=True):
        assert abs(g["duration"] - w["duration"]) <= 1  # simulated seconds, to the second


async def test_stasis_failed_without_app(shared_ari: Path, harness: SimHarness) -> None:
    text = (shared_ari / "traces" / "stasis_failed.txt").read_text()
    assert "603 Decline" in text and "Stasis app 'clinic' doesn't exist" in text  # what was recorded
    assert await harness.rest("GET", "/applications/clinic") == (404, {"message": "Application not found"})
    assert await harness.rest("GET", "/applications") == (200, [])
    call = await harness.control("POST", "/control/calls", {"caller": "5550001", "did": "5551234"})
    assert call["result"] == "declined" and call["channel_id"] is None
    assert (await harness.sim_call(call["call_id"]))["sip_final"] == "603 Decline"
