"""Login throttling: growing delays after wrong passwords, per (login, address) and per address.

Pure and in memory. A failure for (login, address) lets its next try come only after a delay
that doubles with each failure past the first few, up to a cap; an address's failures (whatever
the logins) do the same with more allowed first, against one address guessing many logins. No
key is per login alone: someone elsewhere cannot lock a user out, and the real user, from their
own address, signs in at once. A success clears the (login, address) key.

Why memory, not the database: one process serves the API today, and a database write per wrong
password would hand a guesser a cheap way to load the database. A restart forgets the counts,
which costs a guesser's delays, never a user's access. With several web instances each counts
its own, which multiplies a guesser's rate by the number of instances, not more.

Nothing is kept forever: a key with no failure for ``forget_after`` is dropped, and past
``max_keys`` the oldest keys go first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class ThrottleRule:
    free: int  # failures allowed before any delay
    base: float  # seconds: the first delay
    cap: float  # seconds: the longest delay

    def delay(self, failures: int) -> float:
        """How long after the latest failure the next try may come, with ``failures`` so far."""
        if failures < self.free:
            return 0.0
        return min(self.cap, self.base * 2.0 ** min(failures - self.free, 32))


PER_LOGIN_AND_ADDRESS = ThrottleRule(free=3, base=1.0, cap=15 * 60.0)
PER_ADDRESS = ThrottleRule(free=20, base=1.0, cap=5 * 60.0)


@dataclass
class _Count:
    failures: int
    last: float  # seconds (the clock's), of the latest failure


class LoginThrottle:
    """``wait(login, address, now)``: seconds before a try is heard (0: now). ``failed`` and
    ``succeeded`` tell it how tries went. ``now`` is any monotonic seconds (tests inject it)."""

    def __init__(
        self,
        per_login: ThrottleRule = PER_LOGIN_AND_ADDRESS,
        per_address: ThrottleRule = PER_ADDRESS,
        *,
        forget_after: float = 24 * 3600.0,
        max_keys: int = 100_000,
    ) -> None:
        self.per_login = per_login
        self.per_address = per_address
        self.forget_after = forget_after
        self.max_keys = max_keys
        self._counts: OrderedDict[tuple[str, str], _Count] = OrderedDict()

    def wait(self, login: str, address: str, now: float) -> float:
        waits = [
            self._wait(("login", f"{login.lower()}\0{address}"), self.per_login, now),
            self._wait(("address", address), self.per_address, now),
        ]
        return max(waits)

    def failed(self, login: str, address: str, now: float) -> None:
        self._add(("login", f"{login.lower()}\0{address}"), now)
        self._add(("address", address), now)

    def succeeded(self, login: str, address: str) -> None:
        self._counts.pop(("login", f"{login.lower()}\0{address}"), None)

    def __len__(self) -> int:
        return len(self._counts)

    def _wait(self, key: tuple[str, str], rule: ThrottleRule, now: float) -> float:
        count = self._counts.get(key)
        if count is None:
            return 0.0
        if now - count.last >= self.forget_after:
            del self._counts[key]
            return 0.0
        return max(0.0, count.last + rule.delay(count.failures) - now)

    def _add(self, key: tuple[str, str], now: float) -> None:
        count = self._counts.pop(key, None)
        if count is None or now - count.last >= self.forget_after:
            count = _Count(0, now)
        count.failures += 1
        count.last = now
        self._counts[key] = count  # to the end: the order is of the latest failure
        while len(self._counts) > self.max_keys:
            self._counts.popitem(last=False)
