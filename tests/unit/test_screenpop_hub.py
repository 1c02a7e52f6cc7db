"""The hub's card read: off the call's path, within its timeout, one follow-up per call."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ari_app.facts.types import CallerIdentified, CallStarted
from ari_app.numbers import Regions
from ari_app.people.views import PatientView
from ari_app.screenpop.board import Names
from ari_app.screenpop.hub import ScreenPop

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _facts(hub: ScreenPop) -> None:
    hub.on_fact(CallStarted("c1", "ch", "+12025550142", "", "5551234", "downtown", None, T0))
    hub.on_fact(CallerIdentified("c1", "patient", 7, 1, True, T0, "Olha", "p-1"))


async def test_a_slow_card_is_unavailable_after_the_timeout_and_the_call_goes_on() -> None:
    asked: list[str] = []

    async def slow(external_id: str, now: datetime) -> PatientView | None:
        asked.append(external_id)
        await asyncio.sleep(10)
        return None

    hub = ScreenPop(Names(Regions("US")), lambda: T0, cards=slow, card_timeout=0.05)
    _facts(hub)  # returns at once: the read runs in a task of its own
    assert hub.board.calls["c1"].caller.card_state == "loading"
    await asyncio.sleep(0.2)
    assert asked == ["p-1"] and hub.board.calls["c1"].caller.card_state == "unavailable"
    await hub.close()


async def test_a_failing_directory_makes_the_card_unavailable() -> None:
    async def broken(external_id: str, now: datetime) -> PatientView | None:
        raise OSError("database away")

    hub = ScreenPop(Names(Regions("US")), lambda: T0, cards=broken)
    _facts(hub)
    await asyncio.sleep(0.05)
    assert hub.board.calls["c1"].caller.card_state == "unavailable"
    await hub.close()
