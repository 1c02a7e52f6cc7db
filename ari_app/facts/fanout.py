"""The fan-out: each fact to the consumers subscribed to its type, before and after it is durable.

A fact is recorded first (the writer spools it, so it survives the process, and queues it for
the database), then handed to the consumers subscribed to its type, synchronously and in the
order facts are published: in order per call, and before whatever the call does next. Consumers
subscribed ``durable=True`` get it once its row is committed (the writer reports that, in order),
for work that must find the row there: linking a booking, a work list.

A consumer that raises is logged and skipped; the fact still reaches the others and the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar, get_args

import structlog

from ari_app.facts.types import Fact

log = structlog.get_logger(__name__)

F = TypeVar("F", bound=Fact)
Consumer = Callable[[Any], None]  # takes the fact types it subscribed to


class Recorder(Protocol):
    """Makes facts durable (the writer): ``submit`` spools and queues; ``submit_and_wait``'s
    future resolves once the fact is in the database."""

    def submit(self, fact: Fact) -> None: ...

    def submit_and_wait(self, fact: Fact) -> asyncio.Future[None]: ...


class FactFanout:
    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self._now: dict[type, list[Consumer]] = {}
        self._durable: dict[type, list[Consumer]] = {}

    def subscribe(
        self, kinds: type[F] | Iterable[type[F]], consumer: Callable[[F], None], *, durable: bool = False
    ) -> None:
        """``consumer`` gets every fact of these types (each a class of ``Fact``), as it is made,
        or with ``durable`` once it is committed."""
        table = self._durable if durable else self._now
        for kind in (kinds,) if isinstance(kinds, type) else kinds:
            if kind not in ALL_FACTS:
                raise TypeError(f"{kind!r} is not a fact type")
            table.setdefault(kind, []).append(consumer)

    def publish(self, fact: Fact) -> None:
        self._recorder.submit(fact)
        self._hand_out(self._now, fact)

    def publish_and_wait(self, fact: Fact) -> asyncio.Future[None]:
        """As ``publish``; the future resolves once the fact is in the database."""
        done = self._recorder.submit_and_wait(fact)
        self._hand_out(self._now, fact)
        return done

    def committed(self, fact: Fact) -> None:
        """The writer's word that ``fact`` is in the database (in the order they were written)."""
        self._hand_out(self._durable, fact)

    @staticmethod
    def _hand_out(table: dict[type, list[Consumer]], fact: Fact) -> None:
        for consumer in table.get(type(fact), ()):
            try:
                consumer(fact)
            except Exception:  # one consumer's bug must not cost the others (or the call) a fact
                log.exception("fact_consumer_failed", fact=type(fact).__name__, call_id=fact.call_id)


ALL_FACTS: frozenset[type] = frozenset(get_args(Fact))
