"""The hub's card read: off the call's path, within its timeout, one follow-up per call; its
deltas: serialised once, to the consoles allowed to see them, numbered by each socket."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from ari_app.auth.principal import Principal
from ari_app.facts.types import CallerIdentified, CallStarted, LegCreated
from ari_app.numbers import Regions
from ari_app.people.views import PatientView
from ari_app.screenpop.board import Names
from ari_app.screenpop.console import Console, numbered
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


@dataclass(eq=False)  # hashed by identity, as a Console is
class Recorder:
    """Stands in for a console: who it is and what the hub pushed to it."""

    who: Principal
    got: list[str] = field(default_factory=list)
    dropped: bool = False

    def push(self, message: str) -> None:
        self.got.append(message)


def _admin(login: str, branch: str) -> Principal:
    return Principal("user", login, "admin", login, branch)


async def test_a_delta_is_serialised_once_and_reaches_only_those_who_may_see_it() -> None:
    hub = ScreenPop(Names(Regions("US")), lambda: T0)
    here, also_here = Recorder(_admin("anna", "downtown")), Recorder(_admin("olga", "downtown"))
    elsewhere, offered = Recorder(_admin("ivan", "uptown")), Recorder(_admin("petro", "uptown"))
    boss = Recorder(Principal("user", "maria", "manager"))
    hub.consoles.update(cast(Console, c) for c in (here, also_here, elsewhere, offered, boss))
    hub.on_fact(CallStarted("c1", "ch", "+12025550142", "", "5551234", "downtown", None, T0))
    hub.on_fact(LegCreated("c1", "leg-1", "petro", "PJSIP/petro", T0))
    assert [len(c.got) for c in (here, also_here, elsewhere, offered, boss)] == [2, 2, 0, 1, 2]
    assert here.got[1] is also_here.got[1] is offered.got[0]  # the same text object: one dumps
    pop = json.loads(here.got[1])
    assert (pop["event"], pop["admin"], pop["call"]["call_id"]) == ("offered", "petro", "c1")
    assert isinstance(pop["at"], float) and "seq" not in pop  # each socket adds its own number


@pytest.mark.parametrize(
    ("message", "seq"),
    [
        ({"type": "call", "event": "offered", "call": {"n": [1, {"x": "}"}]}}, 1),
        ({"type": "call", "text": 'quote " and brace }'}, 123456),
        ({"type": "call"}, 7),
    ],
)
def test_a_socket_numbers_a_serialised_delta_without_decoding_it(message: dict[str, Any], seq: int) -> None:
    assert json.loads(numbered(json.dumps(message), seq)) == {**message, "seq": seq}
