"""The admin's phone waits for the pop on their screen, bounded: who opens a gate, what lets the
dial go (the admin's own console saying it shows the pop, the leg or call ending, the wait
running out), what the console may send, and a burst of deltas in one frame."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import pytest
from aiohttp import web

from ari_app.auth.principal import Principal
from ari_app.facts.types import CallEnded, CallStarted, LegCreated, LegEnded
from ari_app.numbers import Regions
from ari_app.screenpop.board import Names
from ari_app.screenpop.console import Console, Heartbeat, PopShown, SnapshotAsked, parse_message
from ari_app.screenpop.hub import ScreenPop
from ari_app.screenpop.ring_gate import RingGate

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(eq=False)  # kept in the hub's set of consoles: hashed by identity
class Screen:
    who: Principal
    got: list[str] = field(default_factory=list)
    dropped: bool = False

    def push(self, message: str) -> None:
        self.got.append(message)


def admin(login: str) -> Principal:
    return Principal("user", login, "admin", login, "downtown")


def hub_with(*screens: Screen, wait: float = 0.2) -> ScreenPop:
    hub = ScreenPop(Names(Regions("US")), lambda: T0)
    hub.ring_gate.wait = wait
    hub.consoles.update(cast(Console, s) for s in screens)
    hub.on_fact(CallStarted("c1", "ch", "+12025550142", "", "5551234", "downtown", None, T0))
    return hub


async def waited(hub: ScreenPop, leg: str, meanwhile: object = None) -> float:
    began = time.monotonic()
    ring = asyncio.ensure_future(hub.before_ring(leg))
    await asyncio.sleep(0.02)
    if callable(meanwhile):
        meanwhile()
    await ring
    return time.monotonic() - began


async def test_no_console_open_the_phone_rings_at_once() -> None:
    hub = hub_with(Screen(admin("ben")), Screen(Principal("user", "boss", "manager")))
    hub.on_fact(LegCreated("c1", "leg-a", "anna", "PJSIP/anna", T0))
    assert len(hub.ring_gate) == 0 and await waited(hub, "leg-a") < 0.1


async def test_the_phone_waits_for_the_admins_own_console_to_show_the_pop() -> None:
    anna, ben = Screen(admin("anna")), Screen(admin("ben"))
    hub = hub_with(anna, ben, wait=2.0)
    hub.on_fact(LegCreated("c1", "leg-a", "anna", "PJSIP/anna", T0))
    hub.shown(cast(Console, ben), "c1")  # another admin's screen says nothing of Anna's
    assert not hub.ring_gate._gates["leg-a"].open.done()
    took = await waited(hub, "leg-a", lambda: hub.shown(cast(Console, anna), "c1"))
    assert took < 1.0 and hub.ring_gate.timeouts == 0 and len(hub.ring_gate) == 0


async def test_a_console_that_never_says_costs_the_phone_the_wait_only() -> None:
    hub = hub_with(Screen(admin("anna")), wait=0.15)
    hub.on_fact(LegCreated("c1", "leg-a", "anna", "PJSIP/anna", T0))
    took = await waited(hub, "leg-a")
    assert 0.14 <= took < 1.0 and hub.ring_gate.timeouts == 1 and len(hub.ring_gate) == 0


@pytest.mark.parametrize(
    "ending",
    [
        LegEnded("c1", "leg-a", "no_answer", T0, None),
        CallEnded("c1", "abandoned", T0, "caller"),
    ],
)
async def test_a_leg_or_call_over_lets_the_dial_go_and_leaves_no_gate(ending: object) -> None:
    hub = hub_with(Screen(admin("anna")), wait=2.0)
    hub.on_fact(LegCreated("c1", "leg-a", "anna", "PJSIP/anna", T0))
    assert await waited(hub, "leg-a", lambda: hub.on_fact(ending)) < 1.0  # type: ignore[arg-type]
    assert len(hub.ring_gate) == 0


async def test_a_dropped_console_opens_no_gate() -> None:
    hub = hub_with(Screen(admin("anna"), dropped=True))
    hub.on_fact(LegCreated("c1", "leg-a", "anna", "PJSIP/anna", T0))
    assert len(hub.ring_gate) == 0


async def test_gates_of_one_call_open_together_for_one_admin_only() -> None:
    gate = RingGate(wait=1.0)
    gate.open("leg-a", "c1", "anna")
    gate.open("leg-b", "c1", "ben")
    gate.open("leg-c", "c2", "anna")
    gate.shown("c1", "anna")
    assert [gate._gates[k].open.done() for k in ("leg-a", "leg-b", "leg-c")] == [True, False, False]
    gate.call_over("c1")
    assert list(gate._gates) == ["leg-c"]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"type": "shown", "call_id": "c-1"}', PopShown("c-1")),
        ('{"type": "heartbeat", "visible": true}', Heartbeat(True)),
        ('{"type": "snapshot"}', SnapshotAsked()),
        ('{"type": "shown"}', "shown: call_id must be the call's id"),
        ('{"type": "shown", "call_id": 7}', "shown: call_id must be the call's id"),
        ('{"type": "shown", "call_id": ""}', "shown: call_id must be the call's id"),
        ('{"type": "shown", "call_id": "' + "x" * 65 + '"}', "shown: call_id must be the call's id"),
    ],
)
def test_what_a_console_may_say(text: str, said: object) -> None:
    assert parse_message(text) == said


class Wire:
    """Stands in for the browser's socket: the frames written to it."""

    def __init__(self) -> None:
        self.frames: list[str] = []

    async def send_str(self, text: str) -> None:
        self.frames.append(text)


@pytest.mark.parametrize(("batch", "frames"), [(True, 1), (False, 3)])
async def test_a_burst_goes_out_in_one_frame_where_the_reader_takes_arrays(batch: bool, frames: int) -> None:
    wire = Wire()
    console = Console(cast(web.WebSocketResponse, wire), admin("anna"), limit=10, batch=batch)
    console.start()
    for n in range(3):  # one step's deltas: queued before the writer runs
        console.push(json.dumps({"type": "call", "n": n}))
    await asyncio.sleep(0.01)
    await console.stop()
    said = [json.loads(f) for f in wire.frames]
    messages = [m for f in said for m in (f if isinstance(f, list) else [f])]
    assert len(wire.frames) == frames and [(m["n"], m["seq"]) for m in messages] == [(0, 1), (1, 2), (2, 3)]
    console.push(json.dumps({"type": "call", "n": 3}))  # after the writer stopped: never written
    assert len(wire.frames) == frames
