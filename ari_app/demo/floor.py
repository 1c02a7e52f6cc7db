"""Life on the floor while the generated calls run: admins pause and come back, phones drop off
and register again, admins hand callers on (through the API and with the phone's transfer key),
and, with ``faults``, the PBX misbehaves (the websocket drops, frames arrive garbled, channels
enter Stasis late, requests are slow or refused once).

Everything goes through the app's HTTP API, as an admin's console would, or through the
simulator's control API, as the phones and the PBX would. ``restore()`` leaves every admin
available, every phone registered and no fault active, so that calls still in progress end as
their scripts say.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import structlog

from ari_app.config import Settings
from ari_app.demo.api_access import ApiAccess
from ari_app.simctl import SimControl

log = structlog.get_logger(__name__)

Action = Callable[[], Awaitable[None]]


class Floor:
    def __init__(
        self,
        settings: Settings,
        ctl: SimControl,
        access: ApiAccess,
        rng: random.Random,
        *,
        faults: bool = False,
        every: float = 2.0,
    ) -> None:
        self.ctl = ctl
        self.rng = rng
        self.every = every
        self.api = access.session()
        self.admins = {a.login: a.endpoint.split("/", 1)[1] for a in settings.admins}
        self.groups = [g.id for g in settings.groups]
        self.paused: set[str] = set()
        self.offline: set[str] = set()
        self.done: dict[str, int] = {}
        # When the PBX was cut off or slow (wall clock, from, until): what happened meanwhile
        # reaches the app at its reconnect, or after the slow requests it is waiting on.
        self.disturbed: list[tuple[float, float]] = []
        actions: dict[str, Action] = {
            "pause": self._pause,
            "unregister": self._unregister,
            "transfer_api": self._transfer_api,
            "transfer_phone": self._transfer_phone,
        }
        if faults:
            actions |= {
                "drop_websocket": self._drop_websocket,
                "malformed_frames": self._malformed_frames,
                "late_stasis": self._late_stasis,
                "slow_pbx": self._slow_pbx,
                "refuse_dial": self._refuse_dial,
            }
        self.actions = actions
        self._later: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Act every ``every`` seconds or so until ``stop`` is set."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.rng.uniform(0.3, 2 * self.every))
                return
            name = self.rng.choice(sorted(self.actions))
            try:
                await self.actions[name]()
                self.done[name] = self.done.get(name, 0) + 1
            except (aiohttp.ClientError, RuntimeError, TimeoutError) as exc:
                log.warning("floor_action_failed", action=name, error=str(exc)[:200])

    async def restore(self) -> None:
        for task in list(self._later):
            task.cancel()
        await asyncio.gather(*self._later, return_exceptions=True)
        await self.ctl.fault(stasis_start_delay=0, answer_delay=0)
        for login in sorted(self.paused):
            await self._presence(login, "available")
        for login in sorted(self.offline):
            await self.ctl.set_phone_registration(self.admins[login], True)
        self.paused.clear()
        self.offline.clear()
        await self.api.close()

    # ------------------------------------------------------------------ the admins
    async def _pause(self) -> None:
        login = self.rng.choice(sorted(set(self.admins) - self.paused) or sorted(self.admins))
        if login in self.paused:
            return
        await self._presence(login, "paused", "break")
        self.paused.add(login)
        self._then(self.rng.uniform(2, 8), lambda: self._unpause(login))

    async def _unpause(self, login: str) -> None:
        if login in self.paused:
            await self._presence(login, "available")
            self.paused.discard(login)

    async def _unregister(self) -> None:
        choices = sorted(set(self.admins) - self.offline)
        if not choices:
            return
        login = self.rng.choice(choices)
        await self.ctl.set_phone_registration(self.admins[login], False)
        self.offline.add(login)
        self._then(self.rng.uniform(2, 8), lambda: self._register(login))

    async def _register(self, login: str) -> None:
        if login in self.offline:
            await self.ctl.set_phone_registration(self.admins[login], True)
            self.offline.discard(login)

    async def _transfer_api(self) -> None:
        by = await self._someone_on_a_call()
        if by is None:
            return
        if self.rng.random() < 0.5:
            body = {"to_group": self.rng.choice(self.groups)}
        else:
            body = {"to_admin": self.rng.choice([a for a in self.admins if a != by])}
        async with self.api.post(f"/api/admins/{by}/transfer", json=body) as resp:
            # 409: the call ended meanwhile; that is the floor's life, not a failure.
            if resp.status not in (202, 409):
                raise RuntimeError(f"transfer by {by}: {resp.status} {(await resp.text())[:200]}")

    async def _transfer_phone(self) -> None:
        by = await self._someone_on_a_call()
        if by is None:
            return
        target = self.rng.choice([a for a in self.admins if a != by])
        # The admin dials the colleague's extension: the last digits of their phone's name.
        with contextlib.suppress(RuntimeError):  # the call ended just now (409)
            await self.ctl.refer(self.admins[by], self.admins[target][-3:])

    async def _someone_on_a_call(self) -> str | None:
        async with self.api.get("/api/admins") as resp:
            data = await resp.json()
        on_call = [a["login"] for a in data["admins"] if a["state"] == "on_call"]
        return self.rng.choice(on_call) if on_call else None

    async def _presence(self, login: str, state: str, reason: str | None = None) -> None:
        body: dict[str, Any] = {"state": state, **({"reason": reason} if reason else {})}
        async with self.api.put(f"/api/admins/{login}/presence", json=body) as resp:
            if resp.status != 200:
                raise RuntimeError(f"presence of {login}: {resp.status} {(await resp.text())[:200]}")

    # ------------------------------------------------------------------ the PBX
    async def _drop_websocket(self) -> None:
        away = round(self.rng.uniform(0, 1.5), 2)
        start = time.time()
        await self.ctl.fault(drop_websocket=True, away_for=away)
        self.disturbed.append((start, time.time() + away))

    async def _malformed_frames(self) -> None:
        await self.ctl.fault(malformed_frames=self.rng.randint(1, 3))

    async def _late_stasis(self) -> None:
        await self.ctl.fault(stasis_start_delay=0.3)
        self._then(self.rng.uniform(1, 4), lambda: self.ctl.fault(stasis_start_delay=0))

    async def _slow_pbx(self) -> None:
        start, lasts = time.time(), self.rng.uniform(1, 3)
        await self.ctl.fault(answer_delay=0.15)
        self.disturbed.append((start, start + lasts + 0.2))
        self._then(lasts, lambda: self.ctl.fault(answer_delay=0))

    async def _refuse_dial(self) -> None:
        await self.ctl.fault(reject={"path_regex": r"^/ari/channels/[^/]+/dial$", "status": 500, "count": 1})

    def _then(self, seconds: float, action: Action) -> None:
        async def later() -> None:
            await asyncio.sleep(seconds)
            try:
                await action()
            except (aiohttp.ClientError, RuntimeError, TimeoutError) as exc:
                log.warning("floor_action_failed", action="undo", error=str(exc)[:200])

        task = asyncio.get_running_loop().create_task(later())
        self._later.add(task)
        task.add_done_callback(self._later.discard)
