"""Says when the database became unusable, why, and when it is back, without flooding the log.

The app probes the database every second; an outage that lasts hours would otherwise log
thousands of lines, or (as a ping that only answers yes or no) none at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from ari_app.store.db import StoreUnavailable

log = structlog.get_logger(__name__)

LOGIN_HINT = "check the database name, user and password in DATABASE_URL (or database.url)"


class OutageLog:
    """Fed each probe's result: logs an outage at once, then again after ``first_reminder``
    seconds, doubling up to ``max_reminder`` while it lasts; its end is logged once."""

    def __init__(
        self,
        url: str,
        *,
        first_reminder: float = 5.0,
        max_reminder: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._first = first_reminder
        self._max = max_reminder
        self._clock = clock
        self._since: float | None = None  # when the outage began
        self._reason = ""
        self._next = 0.0
        self._interval = first_reminder

    @property
    def down(self) -> bool:
        return self._since is not None

    def observe(self, problem: StoreUnavailable | None) -> None:
        now = self._clock()
        if problem is None:
            if self._since is not None:
                log.info("database_available", url=self._url, down_seconds=round(now - self._since, 1))
                self._since = None
            return
        if self._since is None or problem.reason != self._reason:
            # A new outage, or another cause (the server came back but refuses the login):
            # either is news worth a line now.
            self._since = now if self._since is None else self._since
            self._reason = problem.reason
            self._interval = self._first
        elif now < self._next:
            return
        else:
            self._interval = min(self._interval * 2, self._max)
        self._next = now + self._interval
        self._report(problem, round(now - self._since, 1))

    def _report(self, problem: StoreUnavailable, down: float) -> None:
        if problem.login_refused:
            log.error(
                "database_unavailable", problem="login_refused", reason=problem.reason,
                url=self._url, down_seconds=down, hint=LOGIN_HINT,
            )  # fmt: skip
        else:
            log.warning(
                "database_unavailable", problem="unreachable", reason=problem.reason,
                url=self._url, down_seconds=down,
            )  # fmt: skip
