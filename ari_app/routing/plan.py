"""Route plans: the admins a call is offered to, and why nobody when nobody."""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    admin: str  # login
    endpoint: str  # e.g. PJSIP/admin101


@dataclass(frozen=True)
class RoutePlan:
    targets: tuple[Target, ...]
    # Why the plan is empty: "no_branch" (DID unknown), "no_admins" (none configured),
    # "all_engaged" (every admin is on a call). None when there are targets.
    reason: str | None = None

    @property
    def offerable(self) -> bool:
        return bool(self.targets)


def ring_all(branch_known: bool, admins: Iterable[Target], engaged: Set[str]) -> RoutePlan:
    """Ring every admin of the branch at once, except those already talking on a call."""
    if not branch_known:
        return RoutePlan((), "no_branch")
    configured = tuple(admins)
    if not configured:
        return RoutePlan((), "no_admins")
    free = tuple(t for t in configured if t.admin not in engaged)
    if not free:
        return RoutePlan((), "all_engaged")
    return RoutePlan(free)
