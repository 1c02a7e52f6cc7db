"""The push hub: a fact subscriber that keeps the board of calls in progress and pushes each
change to the consoles allowed to see it.

It subscribes to the facts as they are published (not once durable): the pop for an admin's
leg goes out with the ``LegCreated`` fact, before the call goes on to ring that admin's phone.
Pushing only queues (``Console.push`` never waits), so the call's path costs a few dict
updates per console. The caller's card is read in a task of its own, with a timeout: the pop
goes out with who is calling at once, the card follows as a delta of its own.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from ari_app.facts.fanout import FactFanout
from ari_app.facts.types import (
    CallAnswered,
    CallEnded,
    CallerIdentified,
    CallQueued,
    CallStarted,
    CallTransferred,
    Fact,
    LegCreated,
    LegEnded,
)
from ari_app.people.views import PatientView
from ari_app.screenpop.board import Board, Delta, Names, apply, card_read, reposition, snapshot, waiting
from ari_app.screenpop.cards import card_of
from ari_app.screenpop.console import Console
from ari_app.screenpop.ring_gate import RingGate

log = structlog.get_logger(__name__)

FACTS = (
    CallStarted,
    CallerIdentified,
    LegCreated,
    LegEnded,
    CallQueued,
    CallAnswered,
    CallTransferred,
    CallEnded,
)
QUEUE_MOVES = (CallQueued, CallAnswered, CallTransferred, CallEnded)  # a waiting call's place may change
CARD_TIMEOUT = 2.0  # seconds: a card not read by then is "unavailable" on this call's pop

CardReader = Callable[[str, datetime], Awaitable[PatientView | None]]  # DirectoryStore.get_patient


class ScreenPop:
    def __init__(
        self,
        names: Names,
        clock: Callable[[], datetime],
        *,
        cards: CardReader | None = None,
        places: Callable[[str], int] | None = None,
        card_timeout: float = CARD_TIMEOUT,
    ) -> None:
        """``cards``: reads a patient's card by external id; ``places``: a waiting call's place in
        the queue as the front desk counts it (1: next)."""
        self.names = names
        self.board = Board()
        self.consoles: set[Console] = set()
        self._clock = clock
        self._cards = cards
        self._places = places
        self._card_timeout = card_timeout
        self._reads: set[asyncio.Task[None]] = set()
        self.ring_gate = RingGate()

    @property
    def card_reads(self) -> int:
        """Card reads under way (each bounded by the card timeout)."""
        return len(self._reads)

    def subscribe(self, fanout: FactFanout) -> None:
        fanout.subscribe(FACTS, self.on_fact)  # as published: the pop must beat the ring

    # ------------------------------------------------------------------ facts in
    def on_fact(self, fact: Fact) -> None:
        self._gate_for(fact)
        deltas = apply(self.board, fact, self.names)
        if self._places is not None and isinstance(fact, QUEUE_MOVES):
            places = {call_id: self._places(call_id) for call_id in waiting(self.board)}
            deltas += reposition(self.board, places, self.names)
        self.send(deltas)
        if isinstance(fact, CallerIdentified):  # after the "caller" delta: the card follows it
            self._read_card(fact.call_id)

    def _gate_for(self, fact: Fact) -> None:
        """An admin with a console open: their phone rings once the pop is on their screen."""
        if isinstance(fact, LegCreated):
            if any(c.who.admin_login == fact.admin and not c.dropped for c in self.consoles):
                self.ring_gate.open(fact.leg_id, fact.call_id, fact.admin)
        elif isinstance(fact, LegEnded):
            self.ring_gate.leg_over(fact.leg_id)
        elif isinstance(fact, CallEnded):
            self.ring_gate.call_over(fact.call_id)

    def shown(self, console: Console, call_id: str) -> None:
        """The console says it shows ``call_id``'s pop (only an admin's own pop opens a gate)."""
        if console.who.admin_login is not None:
            self.ring_gate.shown(call_id, console.who.admin_login)

    async def before_ring(self, leg_id: str) -> None:
        """Called before an admin's leg is dialled: see ``ari_app.screenpop.ring_gate``."""
        await self.ring_gate.before_ring(leg_id)

    def send(self, deltas: list[Delta]) -> None:
        for d in deltas:
            # "at": when the hub queued the delta (epoch seconds), so a console (and
            # bench/screenpop.py) can measure how long the delta took to reach it.
            message = {"type": "call", "event": d.event, "admin": d.admin, "call": d.row, "at": time.time()}
            text = json.dumps(message)  # once for every console: each adds only its "seq"
            branch, admins = d.call.branch, d.call.admins
            for console in list(self.consoles):
                if console.who.sees_call(branch, admins):
                    console.push(text)

    def _read_card(self, call_id: str) -> None:
        call = self.board.calls.get(call_id)
        if call is None or call.caller.card_state != "loading" or call.caller.card_id is None:
            return
        if self._cards is None:
            self.send(card_read(self.board, call_id, None, self.names))
            return
        read = self._read(call_id, call.caller.card_id)
        task = asyncio.get_running_loop().create_task(read, name="screenpop-card")
        self._reads.add(task)
        task.add_done_callback(self._reads.discard)

    async def _read(self, call_id: str, external_id: str) -> None:
        assert self._cards is not None
        now = self._clock()
        card = None
        try:
            async with asyncio.timeout(self._card_timeout):
                found = await self._cards(external_id, now)
            # The age as of today in UTC: a day early or late only around midnight.
            card = card_of(found, now.date()) if found is not None else None
        except TimeoutError:
            log.warning("screenpop_card_slow", timeout=self._card_timeout)
        except Exception as exc:  # only the type: a database error's text may quote the card
            log.warning("screenpop_card_failed", error=type(exc).__name__)
        self.send(card_read(self.board, call_id, card, self.names))

    # ------------------------------------------------------------------ consoles
    def join(self, console: Console) -> None:
        """A browser connected: its snapshot first, then every delta it may see."""
        self.consoles.add(console)
        console.start()
        self.resend(console)

    def resend(self, console: Console) -> None:
        console.snapshot(snapshot(self.board, console.who, self.names))

    def leave(self, console: Console) -> None:
        self.consoles.discard(console)

    async def close(self) -> None:
        for task in list(self._reads):
            task.cancel()
        await asyncio.gather(*self._reads, return_exceptions=True)
