"""The fan-out: each fact recorded first, then to the consumers of its type in order; durable
consumers only once the writer reports it committed; one consumer's failure costs no other."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from ari_app.facts.fanout import ALL_FACTS, FactFanout
from ari_app.facts.rows import kept
from ari_app.facts.types import CallAnswered, CallEnded, CallStarted, Fact, LegEnded

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


class Recorder:
    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    def submit(self, fact: Fact) -> None:
        self.seen.append(f"recorded {type(fact).__name__}")

    def submit_and_wait(self, fact: Fact) -> asyncio.Future[None]:
        self.submit(fact)
        return asyncio.get_running_loop().create_future()


def started(call_id: str) -> CallStarted:
    return CallStarted(call_id, f"chan-{call_id}", "5550100", "", "5551234", "downtown", None, T0)


def test_a_fact_is_recorded_first_then_handed_to_its_types_consumers_in_order() -> None:
    seen: list[str] = []
    fanout = FactFanout(Recorder(seen))
    fanout.subscribe(CallStarted, lambda f: seen.append(f"first {f.call_id}"))
    fanout.subscribe((CallStarted, CallEnded), lambda f: seen.append(f"second {type(f).__name__}"))
    fanout.subscribe(CallEnded, lambda f: seen.append("durable"), durable=True)
    fanout.publish(started("c1"))
    fanout.publish(CallAnswered("c1", "anna", T0))  # nobody subscribed: recorded only
    fanout.publish(CallEnded("c1", "answered", T0))
    assert seen == [
        "recorded CallStarted", "first c1", "second CallStarted",
        "recorded CallAnswered",
        "recorded CallEnded", "second CallEnded",
    ]  # fmt: skip
    fanout.committed(CallEnded("c1", "answered", T0))
    assert seen[-1] == "durable"


def test_a_consumer_that_fails_costs_the_others_nothing() -> None:
    seen: list[str] = []
    fanout = FactFanout(Recorder(seen))

    def broken(_: LegEnded) -> None:
        raise RuntimeError("a bug")

    fanout.subscribe(LegEnded, broken)
    fanout.subscribe(LegEnded, lambda f: seen.append(f.leg_id))
    fanout.publish(LegEnded("c1", "leg1", "answered", T0))
    assert seen == ["recorded LegEnded", "leg1"]


def test_only_fact_types_can_be_subscribed_to() -> None:
    fanout = FactFanout(Recorder([]))
    with pytest.raises(TypeError):
        fanout.subscribe(str, lambda _: None)  # type: ignore[arg-type]


async def test_publish_and_wait_resolves_when_the_recorder_says_it_is_stored() -> None:
    seen: list[str] = []
    fanout = FactFanout(Recorder(seen))
    fanout.subscribe(CallEnded, lambda f: seen.append("consumer"))
    done = fanout.publish_and_wait(CallEnded("c1", "missed", T0))
    assert seen == ["recorded CallEnded", "consumer"] and not done.done()


def test_every_fact_type_is_kept_by_the_store() -> None:
    assert kept() == ALL_FACTS
