"""The pop on screen before the phone rings: an admin's leg waits to be dialled until one of
their consoles says it shows the call's pop, for at most ``POP_WAIT``.

The pop is pushed when the leg is created, a round trip to Asterisk before the dial; a browser on
a busy machine can still draw it after the phone starts ringing. So when a call is offered to
an admin with a console open, the hub opens a gate for that leg (``open``); the call's dial
waits at it (``before_ring``) until a console of that admin reports the pop shown (``shown``).
Bounded: a console slow, hidden or gone costs the admin's phone at most ``POP_WAIT``; an admin
with no console open is dialled at once. The caller hears ringing all along (their own channel
rings from the start): only the admin's phone waits, and only for the screen.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

POP_WAIT = 0.25  # seconds an admin's phone may wait for their console to show the pop


@dataclass
class _Gate:
    call_id: str
    admin: str
    open: asyncio.Future[None]


class RingGate:
    def __init__(self, wait: float = POP_WAIT) -> None:
        self.wait = wait
        self._gates: dict[str, _Gate] = {}  # leg id -> its gate
        self.timeouts = 0  # dials that went ahead without the pop shown

    def __len__(self) -> int:
        return len(self._gates)

    def open(self, leg_id: str, call_id: str, admin: str) -> None:
        """Hold ``leg_id``'s dial until ``admin``'s console shows ``call_id``'s pop."""
        future = asyncio.get_running_loop().create_future()
        self._gates[leg_id] = _Gate(call_id, admin, future)

    def shown(self, call_id: str, admin: str) -> None:
        """A console of ``admin`` shows ``call_id``'s pop: their legs of that call may ring."""
        for gate in self._gates.values():
            if gate.call_id == call_id and gate.admin == admin and not gate.open.done():
                gate.open.set_result(None)

    def leg_over(self, leg_id: str) -> None:
        gate = self._gates.pop(leg_id, None)
        if gate is not None and not gate.open.done():
            gate.open.set_result(None)

    def call_over(self, call_id: str) -> None:
        for leg_id in [k for k, g in self._gates.items() if g.call_id == call_id]:
            self.leg_over(leg_id)

    async def before_ring(self, leg_id: str) -> None:
        """Waits (bounded) until the leg's admin sees the pop; at once without a gate."""
        gate = self._gates.get(leg_id)
        if gate is None:
            return
        try:
            async with asyncio.timeout(self.wait):
                await asyncio.shield(gate.open)
        except TimeoutError:
            self.timeouts += 1
        finally:
            with contextlib.suppress(KeyError):
                del self._gates[leg_id]
