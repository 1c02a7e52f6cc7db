"""Facts survive a database outage: retried in order, none lost, none written twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ari_app.facts.spool import FactSpool
from ari_app.facts.types import (
    CallAnswered,
    CallbackNeeded,
    CallEnded,
    CallQueued,
    CallStarted,
    CallTransferred,
    Fact,
    LegCreated,
    NoticePlayed,
    TopicChosen,
)
from ari_app.facts.writer import FactWriter
from ari_app.numbers import Regions, to_e164
from ari_app.numbers import mask as mask_number
from ari_app.store import CallStore, Database, StoreUnavailable

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class FlakyStore:
    """Refuses the first ``failures`` writes or transactions, then records every write; a batch
    lands whole or not at all, as a transaction does."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[tuple[str, Any]] = []
        self._pending: list[tuple[str, Any]] | None = None

    def _refuse(self) -> None:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("postgresql://app@db/clinic", ConnectionRefusedError("refused"))

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        self._refuse()
        self._pending = []
        try:
            yield
            self.calls += self._pending
        finally:
            self._pending = None

    def __getattr__(self, name: str) -> Any:
        async def write(*args: Any, **kwargs: Any) -> None:
            self._refuse()
            target = self.calls if self._pending is None else self._pending
            target.append((name, kwargs.get("call_id") or args[0]))

        return write


async def test_outage_delays_writes_in_order_and_loses_nothing() -> None:
    store = FlakyStore(failures=3)
    writer = FactWriter(store, Regions("US"), retry_initial=0.01, retry_max=0.02)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    facts: list[Fact] = [
        CallStarted("k1", "ch1", "2025550142", "", "5551234", "b", None, T0),
        LegCreated("k1", "leg1", "anna", "PJSIP/admin101", T0),
        CallAnswered("k1", "anna", T0),
        CallEnded("k1", "answered", T0, "caller"),
    ]
    for fact in facts:
        writer.submit(fact)
    assert writer.pending == 4  # call control did not wait for the database
    assert await writer.drain(5)
    task.cancel()
    assert [name for name, _ in store.calls] == ["call_started", "leg_created", "call_answered", "call_ended"]
    assert writer.failures == 3


def test_numbers() -> None:
    assert to_e164("2025550142", "US") == "+12025550142"
    assert to_e164("+44 20 7946 0958", "US") == "+442079460958"
    assert to_e164("anonymous", "US") is None
    assert to_e164("12", "US") is None
    assert mask_number("2025550142") == "*******142"


async def test_a_fact_the_store_keeps_refusing_is_set_aside_not_blocking() -> None:
    class Refuses(FlakyStore):
        def __getattr__(self, name: str) -> Any:
            inner = super().__getattr__(name)

            async def write(*args: Any, **kwargs: Any) -> None:
                if name == "leg_created":
                    raise LookupError("call k1 is not stored")
                await inner(*args, **kwargs)

            return write

    store = Refuses(failures=0)
    writer = FactWriter(store, Regions("US"), retry_initial=0.001, retry_max=0.002)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    writer.submit(LegCreated("k1", "leg1", "anna", "PJSIP/admin101", T0))
    writer.submit(CallEnded("k2", "missed", T0))
    assert await writer.drain(5)
    task.cancel()
    assert [name for name, _ in store.calls] == ["call_ended"]
    assert [type(f).__name__ for f in writer.rejected] == ["LegCreated"]


def _routing_facts(call_id: str, number: str = "+1 202 555 0142") -> list[Fact]:
    return [
        CallStarted(call_id, f"ch-{call_id}", number, "", "5551234", "downtown", None, T0),
        NoticePlayed(call_id, T0 + timedelta(seconds=5)),
        TopicChosen(call_id, "billing", T0 + timedelta(seconds=8)),
        CallQueued(call_id, T0 + timedelta(seconds=9)),
        CallTransferred(call_id, "anna", "group:billing", T0 + timedelta(seconds=60)),
        CallbackNeeded(call_id, number, "downtown", "max_wait", T0 + timedelta(minutes=15), T0),
    ]


async def test_routing_facts_go_to_their_store_methods() -> None:
    class Recorder(FlakyStore):
        def __init__(self) -> None:
            super().__init__(failures=0)
            self.kwargs: dict[str, dict[str, Any]] = {}

        def __getattr__(self, name: str) -> Any:
            inner = super().__getattr__(name)

            async def write(*args: Any, **kwargs: Any) -> None:
                self.kwargs[name] = kwargs
                await inner(*args, **kwargs)

            return write

    store = Recorder()
    writer = FactWriter(store, Regions("US"), callback_merge_minutes=30)  # type: ignore[arg-type]
    task = asyncio.create_task(writer.run())
    for fact in _routing_facts("k1"):
        writer.submit(fact)
    assert await writer.drain(5)
    task.cancel()
    assert [name for name, _ in store.calls] == [
        "call_started", "notice_played", "topic_chosen", "call_queued", "call_transferred", "callback_needed",
    ]  # fmt: skip
    assert store.kwargs["callback_needed"] == dict(
        number="+1 202 555 0142", number_e164="+12025550142", branch="downtown", reason="max_wait",
        due_at=T0 + timedelta(minutes=15), at=T0, merge_minutes=30,
    )  # fmt: skip
    assert store.kwargs["call_transferred"] == dict(
        from_admin="anna", to="group:billing", at=T0 + timedelta(seconds=60)
    )


async def test_routing_facts_are_written_and_survive_a_spool_replay(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}")
    await db.migrate()
    store = CallStore(db)
    try:
        # First process: the first call's facts reach the database; the second call's reach only
        # the spool before the process dies.
        first = FactSpool(tmp_path / "spool")
        first.open()
        writer = FactWriter(store, Regions("US"), spool=first)
        task = asyncio.create_task(writer.run())
        for fact in _routing_facts("k1"):
            writer.submit(fact)
        assert await writer.drain(5)
        task.cancel()
        for fact in _routing_facts("k2", number="2025550142"):
            writer.submit(fact)
        first.flush()
        first.close()
        assert await store.get_call("k2") is None

        second = FactSpool(tmp_path / "spool")
        second.open()
        writer2 = FactWriter(store, Regions("US"), spool=second)
        task2 = asyncio.create_task(writer2.run())
        assert await writer2.replay() == 6
        task2.cancel()
        second.close()
        calls = [await store.get_call(call_id) for call_id in ("k1", "k2")]
        for call in calls:
            assert call is not None
            assert (call.notice_played, call.topic, call.queued_at, call.transfers) == (
                True, "billing", T0 + timedelta(seconds=9), 1,
            )  # fmt: skip
        # Both calls came from one number (written two ways) within the hour: one task.
        [task_record] = await store.list_callbacks()
        assert task_record.number_e164 == "+12025550142" and task_record.attempts == 2
        assert task_record.call_ids == ["k1", "k2"]
        assert {call.callback_task_id for call in calls if call} == {task_record.id}
    finally:
        await db.dispose()
