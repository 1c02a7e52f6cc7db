"""Who is asking: a signed-in user (with a role) or a system (a service token with scopes).

Roles: an **admin** or **assistant** is tied to an ``[[admins]]`` login and that admin's branch;
they see their branch's calls and the calls offered to them. A **manager** sees every call.

Scopes name an area and whether the token may change things there: ``calls:read``,
``calls:write``, ``reports:read``, ``callbacks:read``, ``callbacks:write``, ``desk:read``,
``desk:write``, ``directories:read``, ``directories:write``, ``bookings:write``,
``metrics:read``. ``*`` is every scope: the bearer tokens of ``ARI_APP_API_TOKENS`` carry it, as
they served every area before there were scopes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("admin", "assistant", "manager")
DESK_ROLES = frozenset({"admin", "assistant"})  # tied to an [[admins]] login and branch
AREAS = ("calls", "reports", "callbacks", "desk", "directories", "bookings", "metrics")
SCOPES = tuple(f"{area}:{verb}" for area in AREAS for verb in ("read", "write"))
EVERY_SCOPE = "*"


def scope_problem(scope: str) -> str | None:
    if scope == EVERY_SCOPE or scope in SCOPES:
        return None
    return f"unknown scope {scope!r}: one of {', '.join(SCOPES)} (or * for all)"


def needed_scope(area: str, method: str) -> str:
    """Reading (GET, HEAD) an area needs ``<area>:read``; anything else ``<area>:write``."""
    return f"{area}:{'read' if method in ('GET', 'HEAD') else 'write'}"


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" or "service"
    name: str  # the user's login or the token's name
    role: str | None = None  # users only
    admin_login: str | None = None  # admins and assistants: their [[admins]] login
    branch: str | None = None  # admins and assistants: their branch
    scopes: frozenset[str] = field(default_factory=frozenset)  # services only
    user_id: int | None = None
    session_hash: str | None = None  # users: the session the request came with

    @property
    def actor(self) -> str:
        """How the audit trail names them: ``user:anna``, ``token:crm``."""
        return f"{'user' if self.kind == 'user' else 'token'}:{self.name}"

    @property
    def is_user(self) -> bool:
        return self.kind == "user"

    @property
    def sees_every_call(self) -> bool:
        """Managers and systems; admins and assistants see their branch's and their own."""
        return not self.is_user or self.role == "manager"

    def may(self, scope: str) -> bool:
        return EVERY_SCOPE in self.scopes or scope in self.scopes

    def sees_call(self, branch: str | None, admins: set[str]) -> bool:
        """A call of ``branch`` whose legs (or answer) went to ``admins``."""
        if self.sees_every_call:
            return True
        return (branch is not None and branch == self.branch) or (self.admin_login in admins)
