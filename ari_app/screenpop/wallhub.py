"""The wallboard's hub: a fact subscriber that keeps each branch's wallboard
(``ari_app.screenpop.wallboard``) and pushes the whole frame of a branch that changed to the
screens watching it, at most once a second per branch (a burst of facts costs one frame; the
timers on the page tick by themselves in between).

At start it reads the day's calls from the database (``run``), so a restart does not zero the
figures; facts that arrive while it reads are applied at once, and their calls are skipped in
what was read. Admins' states come from the front desk: the app calls ``desk_changed`` on each
change of presence. Screens are the console's (``ari_app.screenpop.console.Console``): a
bounded queue and a writer each, a screen that stops reading is dropped.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import structlog

from ari_app.config import Settings
from ari_app.facts.fanout import FactFanout
from ari_app.facts.types import Fact
from ari_app.screenpop.console import Console
from ari_app.screenpop.wallboard import (
    FACTS,
    STALE,
    BranchInfo,
    Wallboard,
    apply,
    frame,
    observe_admins,
    roll,
    seed,
)
from ari_app.store import Database, until_available
from ari_app.store.today import calls_since

log = structlog.get_logger(__name__)

EVERY = 1.0  # seconds: at most one frame per branch this often
ROLL_CHECK = 60.0  # seconds at most between looks at the clock for a new day


def branch_infos(settings: Settings) -> list[BranchInfo]:
    return [
        BranchInfo(b.id, b.name, b.timezone, {a.login: a.name for a in settings.admins_of(b.id)})
        for b in settings.branches
    ]


class WallboardHub:
    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], datetime],
        *,
        presences: Callable[[], Iterable[Mapping[str, Any]]] | None = None,
        db: Database | None = None,
        every: float = EVERY,
    ) -> None:
        """``presences``: the front desk's admins (``FrontDesk.presences``); ``db``: where the
        day's calls are read at start (None: the wallboard starts from zero)."""
        calls = settings.calls
        self.board = Wallboard.of(
            branch_infos(settings), calls.service_level_seconds, clock(), count_staff=calls.count_staff_calls
        )
        self.screens: dict[str, set[Console]] = {b: set() for b in self.board.branches}
        self.seeded = asyncio.Event()
        self._clock = clock
        self._presences = presences
        self._db = db
        self._every = every
        self._last: dict[str, float] = {}  # branch -> loop time of its last frame
        self._due: dict[str, asyncio.TimerHandle] = {}  # branch -> its next frame
        self._told: set[str] | None = set()  # calls the facts told of while the day is read

    def subscribe(self, fanout: FactFanout) -> None:
        fanout.subscribe(FACTS, self.on_fact)

    # ------------------------------------------------------------------ changes in
    def on_fact(self, fact: Fact) -> None:
        if self._told is not None:
            self._told.add(fact.call_id)
        self.changed(roll(self.board, self._clock()) | apply(self.board, fact))

    def desk_changed(self) -> None:
        if self._presences is not None:
            self.changed(observe_admins(self.board, self._presences(), self._clock()))

    async def run(self) -> None:
        """Read the day's calls (waiting out an outage), then start each branch's new day at
        its midnight."""
        await self._seed()
        self.desk_changed()
        while True:
            now = self._clock()
            nearest = min((b.day.end for b in self.board.branches.values()), default=now)
            await asyncio.sleep(min(ROLL_CHECK, max(0.5, (nearest - now).total_seconds() + 0.01)))
            self.changed(roll(self.board, self._clock()))

    async def _seed(self) -> None:
        db, branches = self._db, list(self.board.branches)
        try:
            if db is not None and branches:
                now = self._clock()
                since = min([now - STALE, *(b.day.start for b in self.board.branches.values())])
                rows = await until_available(lambda: calls_since(db, since, branches), "wallboard")
                self.changed(seed(self.board, rows, self._clock(), skip=self._told or ()))
                log.info("wallboard_seeded", calls=len(rows))
        except Exception:  # the figures start from zero; the wallboard still runs
            log.exception("wallboard_seed_failed")
        finally:
            self._told = None
            self.seeded.set()

    # ------------------------------------------------------------------ frames out
    def changed(self, branches: Iterable[str]) -> None:
        """Each branch's frame goes out now, or ``every`` seconds after its last one."""
        for branch in branches:
            if not self.screens.get(branch) or branch in self._due:
                continue
            loop = asyncio.get_running_loop()
            wait = max(0.0, self._last.get(branch, -self._every) + self._every - loop.time())
            self._due[branch] = loop.call_later(wait, self._flush, branch)

    def _flush(self, branch: str) -> None:
        self._due.pop(branch, None)
        self._last[branch] = asyncio.get_running_loop().time()
        message = json.dumps(self.state(branch))  # once for every screen of the branch
        for screen in list(self.screens.get(branch, ())):
            screen.push(message)

    def state(self, branch: str) -> dict[str, Any]:
        """The branch's frame as of now (a new day started if it is one)."""
        now = self._clock()
        roll(self.board, now)
        return frame(self.board, branch, now)

    # ------------------------------------------------------------------ screens
    def join(self, screen: Console, branch: str) -> None:
        """A screen connected: the whole frame first, then each change."""
        self.screens[branch].add(screen)
        screen.start()
        self.resend(screen, branch)

    def resend(self, screen: Console, branch: str) -> None:
        screen.push(json.dumps(self.state(branch)))

    def leave(self, screen: Console, branch: str) -> None:
        self.screens[branch].discard(screen)

    def close(self) -> None:
        for handle in self._due.values():
            handle.cancel()
        self._due.clear()
