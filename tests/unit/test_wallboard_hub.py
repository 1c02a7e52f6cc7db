"""The wallboard's hub: a burst of facts makes one frame per branch, the next no sooner than
``every`` seconds after; only the branch that changed gets one; the admins' states from the desk."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from ari_app.config import parse_settings
from ari_app.facts.types import CallAnswered, CallStarted
from ari_app.screenpop.console import Console
from ari_app.screenpop.wallhub import WallboardHub

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SETTINGS = parse_settings(
    {
        "version": 1,
        "branches": [
            {"id": "north", "name": "North", "timezone": "Europe/Kyiv", "dids": [{"number": "5551000"}]},
            {"id": "south", "name": "South", "dids": [{"number": "5552000"}]},
        ],
        "admins": [
            {"login": "anna", "name": "Anna", "endpoint": "PJSIP/a1", "branch": "north"},
            {"login": "sam", "name": "Sam", "endpoint": "PJSIP/a2", "branch": "south"},
        ],
    },
    "test",
)


class Screen:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def start(self) -> None:
        pass

    def push(self, message: str) -> None:  # serialised once for every screen, as the hub sends
        self.frames.append(json.loads(message))


def started(n: int, branch: str = "north") -> CallStarted:
    return CallStarted(f"c{n}", f"ch{n}", "+380441234567", "", "5551000", branch, None, T0)


async def test_a_burst_makes_one_frame_then_at_most_one_per_interval() -> None:
    presences = [
        {"login": "anna", "state": "available"},
        {"login": "sam", "state": "paused", "pause_reason": "x"},
    ]
    hub = WallboardHub(SETTINGS, lambda: T0, presences=lambda: presences, every=0.3)
    north, south = Screen(), Screen()
    hub.join(cast(Console, north), "north")
    hub.join(cast(Console, south), "south")
    assert [len(north.frames), len(south.frames)] == [1, 1]  # the whole frame on joining
    assert north.frames[0]["day"]["start"] == "2026-03-01T22:00:00+00:00"  # midnight in Kyiv
    for n in range(5):
        hub.on_fact(started(n))
    await asyncio.sleep(0.05)
    assert len(north.frames) == 2 and len(north.frames[1]["waiting"]) == 5
    assert len(south.frames) == 1  # nothing changed there
    hub.on_fact(CallAnswered("c0", "anna", T0 + timedelta(seconds=4)))
    hub.on_fact(CallAnswered("c1", "anna", T0 + timedelta(seconds=25)))
    await asyncio.sleep(0.1)
    assert len(north.frames) == 2  # not yet: the last went out less than 0.3 s ago
    await asyncio.sleep(0.3)
    last = north.frames[-1]
    assert len(north.frames) == 3 and last["counts"]["answered"] == 2 and last["service_level"] == 0.5
    hub.desk_changed()
    await asyncio.sleep(0.35)
    assert [a["state"] for a in south.frames[-1]["admins"]] == ["paused"]
    assert south.frames[-1]["admins"][0]["reason"] == "x"
    hub.leave(cast(Console, north), "north")
    hub.on_fact(started(9))
    await asyncio.sleep(0.35)
    assert len(north.frames) == 4  # the desk's change; nothing after leaving
    hub.close()
