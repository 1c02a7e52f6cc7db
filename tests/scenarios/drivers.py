"""The PBX side of the routing scenarios, swappable: the simulated PBX, or a real Asterisk.

A scenario speaks only this interface: admin phones that answer, ring out or are busy, phones
that register or not, callers who dial a DID (and press keys, or hang up), and the list of ARI
requests the app sent. ``SimDriver`` runs ``ari_app``'s simulator as a process; with
``ARI_URL`` set, ``tests/scenarios/asterisk_driver.py`` drives a real Asterisk with SIPp.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

from ari_app.simctl import SimControl, SimProcess


@dataclass(frozen=True)
class PlacedCall:
    caller: str
    did: str
    ref: str  # the driver's handle for the call (the simulator's call id, a SIPp run)


@dataclass(frozen=True)
class Shown:
    """What an admin phone was shown for one call, as the INVITE that rang it said: the From
    header's display name ("" without one) and user part, and P-Asserted-Identity (None when the
    INVITE had none)."""

    name: str
    number: str
    pai: str | None = None


class PbxDriver(Protocol):
    ari_url: str
    username: str
    password: str
    phones: tuple[str, ...]  # endpoint resources the scenarios may use: admin101 ...

    async def phone(
        self, name: str, behaviour: str, *, answer_after: float = 1.0, hangup_after: float | None = None
    ) -> None:
        """behaviour: answer | no_answer | busy | random (each call draws one of those)."""

    async def register(self, name: str, registered: bool) -> None: ...

    async def call(
        self,
        caller: str,
        did: str,
        *,
        hangup_after: float | None = None,
        abandon_after: float | None = None,
        digits: str | None = None,
        digits_after: float = 1.0,
        abandon_on_answer: float | None = None,
    ) -> PlacedCall:
        """``hangup_after``: seconds after an admin answers; ``abandon_after``: seconds after dialling
        while nobody answered; ``digits``: keys pressed ``digits_after`` seconds after the call is
        answered (by the app, for its menu); ``abandon_on_answer``: the caller hangs up that long
        after an admin's phone answers, before being put through (a CANCEL crossing the 200)."""

    async def talked(self, call: PlacedCall) -> bool:
        """Whether the caller was ever put through to an admin phone (in one bridge with it)."""

    async def caller_left_at(self, call: PlacedCall) -> float | None:
        """When the caller hung up (wall clock), if the caller is who ended the call."""

    async def slow_bridge_joins(self, seconds: float) -> None:
        """Channels join a bridge this long after addChannel's reply, one after another (a real
        Asterisk does so by itself when channel threads are busy; a no-op there)."""

    async def cut_websocket_on(self, method: str, path_regex: str, away_for: float) -> None:
        """The next ARI request of the app's that matches cuts its websocket before it is acted
        on: the events it causes are lost, and the app cannot connect again for ``away_for`` s."""

    async def withhold_answers(self, on: bool) -> None:
        """While on, the app is not told that admin phones answer (their Up and Dial ANSWER), as
        if it had died the moment they did."""

    async def phone_answered(self, call: PlacedCall) -> None:
        """Until an admin phone answers one of this call's legs, as the PBX has it."""

    async def admin_hangup(self, name: str) -> None:
        """The admin on this phone hangs up (BYE)."""

    async def refer(self, name: str, to: str) -> None:
        """The admin on this phone transfers its call: SIP REFER to extension ``to`` (blind)."""

    async def shown(self, name: str) -> list[Shown]:
        """What this phone was shown, one entry per call that rang it (its first INVITE), in order."""

    async def ari_requests(self) -> list[dict[str, Any]]:
        """The ARI requests the app sent, in order: {"method", "path", "query"}."""

    async def quiet(self, timeout: float = 20.0) -> None:
        """Wait until no call is left on the PBX."""

    async def close(self) -> None: ...


class SimDriver:
    def __init__(self, sim: SimProcess, ctl: SimControl, username: str, password: str) -> None:
        self.sim, self.ctl = sim, ctl
        self.ari_url = sim.ari_url
        self.username, self.password = username, password
        self.phones = tuple(f"admin{n}" for n in range(101, 107))
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    async def start(cls, username: str, password: str) -> SimDriver:
        sim = await SimProcess.start(username=username, password=password, seed=5)
        driver = cls(sim, SimControl(sim.control_url), username, password)
        for name in driver.phones:
            await driver.phone(name, "no_answer")
        return driver

    async def phone(
        self, name: str, behaviour: str, *, answer_after: float = 1.0, hangup_after: float | None = None
    ) -> None:
        await self.ctl.set_phone(
            name, behaviour, answer_after=answer_after, hangup_after=hangup_after,
            caller_name=name, caller_number=name[-3:],
        )  # fmt: skip

    async def register(self, name: str, registered: bool) -> None:
        await self.ctl._req("PUT", f"/control/phones/{name}", {"registered": registered})

    async def call(
        self,
        caller: str,
        did: str,
        *,
        hangup_after: float | None = None,
        abandon_after: float | None = None,
        digits: str | None = None,
        digits_after: float = 1.0,
        abandon_on_answer: float | None = None,
    ) -> PlacedCall:
        extra: dict[str, Any] = {}
        if hangup_after is not None:
            extra["hangup_after"] = hangup_after
        if abandon_after is not None:
            extra["abandon_after"] = abandon_after
        if abandon_on_answer is not None:
            extra["abandon_on_answer"] = abandon_on_answer
        placed = await self.ctl.place_call(caller, did, **extra)
        call = PlacedCall(caller, did, placed["call_id"])
        if digits:
            task = asyncio.get_running_loop().create_task(
                self._press_when_answered(call.ref, digits, digits_after)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return call

    async def _press_when_answered(self, call_id: str, digits: str, after: float) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            calls = {c["call_id"]: c for c in await self.ctl.calls()}
            if calls.get(call_id, {}).get("app_answered_at") is not None:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(after)
        await self.ctl._req("POST", f"/control/calls/{call_id}/dtmf", {"digits": digits})

    async def talked(self, call: PlacedCall) -> bool:
        calls = {c["call_id"]: c for c in await self.ctl.calls()}
        return calls[call.ref]["caller_result"] == "answered"

    async def caller_left_at(self, call: PlacedCall) -> float | None:
        record = {c["call_id"]: c for c in await self.ctl.calls()}[call.ref]
        return float(record["ended_at"]) if record["hangup_by"] == "caller" else None

    async def slow_bridge_joins(self, seconds: float) -> None:
        await self.ctl.fault(join_delay=seconds)

    async def cut_websocket_on(self, method: str, path_regex: str, away_for: float) -> None:
        await self.ctl.fault(
            drop_websocket_on={"path_regex": path_regex, "method": method, "away_for": away_for}
        )

    async def withhold_answers(self, on: bool) -> None:
        await self.ctl.fault(lose_events={"for": 600 if on else 0, "types": ["ChannelStateChange", "Dial"]})

    async def phone_answered(self, call: PlacedCall) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            state = await self.ctl.state()
            if any(c["state"] == "Up" and c["name"].startswith("PJSIP/admin") for c in state["channels"]):
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"no phone answered the call from {call.caller}")

    async def admin_hangup(self, name: str) -> None:
        await self.ctl.phone_hangup(name)

    async def refer(self, name: str, to: str) -> None:
        await self.ctl._req("POST", f"/control/phones/{name}/refer", {"to": to})

    async def shown(self, name: str) -> list[Shown]:
        phones = (await self.ctl._req("GET", "/control/phones"))["phones"]
        phone = next(p for p in phones if p["name"] == name)
        return [Shown(i["from_name"], i["from_user"], i["pai"]) for i in phone["invites"]]

    async def ari_requests(self) -> list[dict[str, Any]]:
        return await self.ctl.requests()

    async def quiet(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = await self.ctl.state()
            if not state["channels"] and not state["bridges"]:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"PBX not quiet after {timeout} s: {state}")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.ctl.close()
        await self.sim.stop()
