"""Server-side sessions: the browser holds a random id in its cookie, the database its hash.

A session ends at the first of: its absolute end (``absolute`` after sign-in), ``idle`` without
activity (``touch``: a request, or the console hub while its tab is open and connected), logout,
a new password, or its user disabled. ``ending`` is the pure rule; ``SessionStore`` applies it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ari_app.auth.principal import Principal
from ari_app.auth.secret_ids import digest, new_secret
from ari_app.store import Database
from ari_app.store.accounts import AuthSession, User

# A request touches its session at most this often: a console's polls do not each write a row.
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class SessionLimits:
    idle: timedelta = timedelta(minutes=10)
    absolute: timedelta = timedelta(hours=12)


def ending(
    last_seen: datetime,
    expires: datetime,
    revoked: datetime | None,
    disabled: bool,
    now: datetime,
    idle: timedelta,
) -> str | None:
    """Why a session is over at ``now`` (``revoked``, ``disabled``, ``expired``, ``idle``), or None."""
    if revoked is not None:
        return "revoked"
    if disabled:
        return "disabled"
    if now >= expires:
        return "expired"
    if now - last_seen >= idle:
        return "idle"
    return None


@dataclass(frozen=True)
class NewSession:
    session_id: str  # for the cookie only: never stored, logged or put in a URL
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class SessionView:
    id_hash: str
    csrf_token: str
    last_seen_at: datetime
    expires_at: datetime
    principal: Principal


class SessionStore:
    def __init__(self, db: Database, limits: SessionLimits) -> None:
        self.db = db
        self.limits = limits

    async def start(self, user_id: int, address: str, user_agent: str, now: datetime) -> NewSession:
        session_id, csrf = new_secret(), new_secret()
        expires = now + self.limits.absolute
        async with self.db.guarded_session() as s, s.begin():
            s.add(
                AuthSession(
                    id_hash=digest(session_id),
                    user_id=user_id,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=expires,
                    address=address[:64],
                    user_agent=user_agent[:256],
                )
            )
        return NewSession(session_id, csrf, expires)

    async def find(self, session_id: str, now: datetime) -> SessionView | None:
        """The live session with this id (from the cookie); None when unknown or over."""
        id_hash = digest(session_id)
        async with self.db.guarded_session() as s:
            found = (
                await s.execute(
                    select(AuthSession, User)
                    .join(User, User.id == AuthSession.user_id)
                    .where(AuthSession.id_hash == id_hash)
                )
            ).one_or_none()
        if found is None:
            return None
        session, user = found
        why = ending(
            session.last_seen_at, session.expires_at, session.revoked_at, user.disabled, now, self.limits.idle
        )
        if why is not None:
            return None
        principal = Principal(
            kind="user",
            name=user.login,
            role=user.role,
            admin_login=user.admin_login,
            branch=user.branch,
            user_id=user.id,
            session_hash=id_hash,
        )
        return SessionView(id_hash, session.csrf_token, session.last_seen_at, session.expires_at, principal)

    async def touch(self, id_hash: str, now: datetime) -> None:
        """Activity: the idle timeout counts from ``now``. A session already over stays over."""
        async with self.db.guarded_session() as s, s.begin():
            await s.execute(
                update(AuthSession)
                .where(
                    AuthSession.id_hash == id_hash,
                    AuthSession.revoked_at.is_(None),
                    AuthSession.expires_at > now,
                    AuthSession.last_seen_at > now - self.limits.idle,
                )
                .values(last_seen_at=now)
            )

    async def end(self, id_hash: str, now: datetime) -> None:
        async with self.db.guarded_session() as s, s.begin():
            await s.execute(
                update(AuthSession)
                .where(AuthSession.id_hash == id_hash, AuthSession.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    async def live(self, id_hashes: Collection[str], now: datetime) -> set[str]:
        """Which of these sessions are still live (for the open websockets' watch)."""
        if not id_hashes:
            return set()
        async with self.db.guarded_session() as s:
            rows = (
                await s.execute(
                    select(AuthSession.id_hash)
                    .join(User, User.id == AuthSession.user_id)
                    .where(
                        AuthSession.id_hash.in_(list(id_hashes)),
                        AuthSession.revoked_at.is_(None),
                        AuthSession.expires_at > now,
                        AuthSession.last_seen_at > now - self.limits.idle,
                        User.disabled.is_(False),
                    )
                )
            ).scalars()
            return set(rows)
