"""Everything the console's sign-in needs, built once by the wiring and handed to the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ari_app.auth.audit import AuditLog
from ari_app.auth.passwords import PRODUCTION, HashCost, Passwords
from ari_app.auth.sessions import SessionLimits, SessionStore
from ari_app.auth.sockets import SessionSockets
from ari_app.auth.throttle import LoginThrottle
from ari_app.auth.tokens import ServiceTokens
from ari_app.auth.users import UserStore
from ari_app.config import AuthSettings
from ari_app.store import Database


@dataclass
class Accounts:
    users: UserStore
    sessions: SessionStore
    services: ServiceTokens
    audit: AuditLog
    passwords: Passwords
    throttle: LoginThrottle
    sockets: SessionSockets
    settings: AuthSettings

    @classmethod
    def create(
        cls,
        db: Database,
        settings: AuthSettings,
        clock: Callable[[], datetime],
        *,
        cost: HashCost = PRODUCTION,
        throttle: LoginThrottle | None = None,
    ) -> Accounts:
        """``cost``: the password hash's; tests may pass a cheaper one, explicitly."""
        limits = SessionLimits(
            idle=timedelta(minutes=settings.idle_minutes), absolute=timedelta(hours=settings.absolute_hours)
        )
        sessions = SessionStore(db, limits)
        return cls(
            users=UserStore(db),
            sessions=sessions,
            services=ServiceTokens(db),
            audit=AuditLog(db),
            passwords=Passwords(cost),
            throttle=throttle or LoginThrottle(),
            sockets=SessionSockets(sessions, clock),
            settings=settings,
        )
