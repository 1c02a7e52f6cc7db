"""How a group offers a call to its admins: in which order, and who at once. Pure.

An offer is a list of waves: the admins of a wave ring together; the next wave is rung when
the previous one did not answer. Only available admins are offered a call (not paused, not on
a call, not in wrap-up, not offline). A known patient goes first, alone, to the admin who last
talked with them when that admin is available.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Literal

from ari_app.routing.plan import Target

Strategy = Literal["ring_all", "linear", "round_robin", "least_recent", "fewest_calls", "random"]
STRATEGIES: tuple[Strategy, ...] = (
    "ring_all",
    "linear",
    "round_robin",
    "least_recent",
    "fewest_calls",
    "random",
)


class Presence(Enum):
    AVAILABLE = "available"
    PAUSED = "paused"
    ON_CALL = "on_call"
    RINGING = "ringing"  # offered a call, its phone ringing
    WRAP_UP = "wrap_up"
    OFFLINE = "offline"  # the phone is not registered


@dataclass(frozen=True)
class AdminState:
    login: str
    endpoint: str
    order: int = 0  # the group's order (linear, round-robin, ties)
    presence: Presence = Presence.AVAILABLE
    last_call_ended: datetime | None = None  # None: no call yet today, the longest idle
    calls_today: int = 0

    @property
    def target(self) -> Target:
        return Target(self.login, self.endpoint)


@dataclass(frozen=True)
class Offer:
    waves: tuple[tuple[Target, ...], ...]
    # Why nobody: "no_admins" (none in the group), "nobody_logged_in" (every phone offline),
    # "all_busy" (on a call, in wrap-up or paused). None when there is a wave.
    reason: str | None = None

    @property
    def targets(self) -> tuple[Target, ...]:
        return tuple(t for wave in self.waves for t in wave)


def offer(
    strategy: Strategy,
    admins: Sequence[AdminState],
    *,
    last_offered: str | None = None,
    preferred: str | None = None,
    rng: random.Random | None = None,
) -> Offer:
    """The waves in which ``admins`` are offered a call.

    ``last_offered``: round-robin memory, the admin the previous call went to first.
    ``preferred``: the admin who last talked with this caller (a known patient).
    ``rng``: for ``random`` (seeded in tests).
    """
    if not admins:
        return Offer((), "no_admins")
    free = [a for a in admins if a.presence is Presence.AVAILABLE]
    if not free:
        offline = all(a.presence is Presence.OFFLINE for a in admins)
        return Offer((), "nobody_logged_in" if offline else "all_busy")
    first: list[AdminState] = []
    if preferred is not None:
        first = [a for a in free if a.login == preferred]
        free = [a for a in free if a.login != preferred]
    by_order = sorted(free, key=lambda a: (a.order, a.login))
    if strategy == "ring_all":
        rest: list[tuple[AdminState, ...]] = [tuple(by_order)] if by_order else []
    else:
        rest = [(a,) for a in _ordered(strategy, by_order, admins, last_offered, rng)]
    waves = [tuple(first)] if first else []
    return Offer(tuple(tuple(a.target for a in wave) for wave in [*waves, *rest]))


def _ordered(
    strategy: Strategy,
    free: list[AdminState],
    everyone: Sequence[AdminState],
    last_offered: str | None,
    rng: random.Random | None,
) -> list[AdminState]:
    if strategy == "linear":
        return free
    if strategy == "round_robin":
        # Start after the one the last call went to, in the group's order (busy admins keep
        # their place in the circle).
        circle = [a.login for a in sorted(everyone, key=lambda a: (a.order, a.login))]
        start = circle.index(last_offered) + 1 if last_offered in circle else 0
        rank = {login: (i - start) % len(circle) for i, login in enumerate(circle)}
        return sorted(free, key=lambda a: rank[a.login])
    if strategy == "least_recent":
        return sorted(
            free, key=lambda a: (a.last_call_ended is not None, a.last_call_ended or _EPOCH, a.order)
        )
    if strategy == "fewest_calls":
        return sorted(
            free,
            key=lambda a: (
                a.calls_today,
                a.last_call_ended is not None,
                a.last_call_ended or _EPOCH,
                a.order,
            ),
        )
    if strategy == "random":
        shuffled = list(free)
        (rng or random.Random()).shuffle(shuffled)
        return shuffled
    raise ValueError(f"unknown strategy {strategy!r}; one of {', '.join(STRATEGIES)}")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
