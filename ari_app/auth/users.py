"""Users and their one-time password links, in the database.

A user gets a password only through a link's code (``new_link``): the command line prints the
link, never a password. Using a code sets the password, marks the code used and ends the user's
sessions; a new link (a reset) voids the earlier ones, forgets the old password and ends the
user's sessions too. Disabling a user ends their sessions and voids their links.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from ari_app.auth.secret_ids import digest, new_secret
from ari_app.store import Database
from ari_app.store.accounts import AuthSession, PasswordLink, User


class UserExists(ValueError):
    pass


@dataclass(frozen=True)
class UserRow:
    id: int
    login: str
    role: str
    admin_login: str | None
    branch: str | None
    disabled: bool
    has_password: bool
    created_at: datetime


def _row(u: User) -> UserRow:
    return UserRow(
        u.id, u.login, u.role, u.admin_login, u.branch, u.disabled, u.password_hash is not None, u.created_at
    )


class UserStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, login: str, role: str, admin_login: str | None, branch: str | None, now: datetime
    ) -> UserRow:
        user = User(
            login=login, role=role, admin_login=admin_login, branch=branch, created_at=now, updated_at=now
        )
        try:
            async with self.db.guarded_session() as s, s.begin():
                s.add(user)
        except IntegrityError as exc:
            raise UserExists(f"a user {login!r} exists already") from exc
        return _row(user)

    async def get(self, login: str) -> UserRow | None:
        async with self.db.guarded_session() as s:
            user = (await s.execute(select(User).where(User.login == login))).scalar_one_or_none()
        return _row(user) if user is not None else None

    async def all(self) -> list[UserRow]:
        async with self.db.guarded_session() as s:
            return [_row(u) for u in (await s.execute(select(User).order_by(User.login))).scalars()]

    async def password_hash(self, login: str) -> tuple[UserRow, str | None] | None:
        """The user and their stored hash, for a login; None for an unknown login."""
        async with self.db.guarded_session() as s:
            user = (await s.execute(select(User).where(User.login == login))).scalar_one_or_none()
        return (_row(user), user.password_hash) if user is not None else None

    async def disable(self, login: str, now: datetime) -> UserRow | None:
        async with self.db.guarded_session() as s, s.begin():
            user = (await s.execute(select(User).where(User.login == login))).scalar_one_or_none()
            if user is None:
                return None
            user.disabled = True
            user.updated_at = now
            await _end_everything(s, user.id, now)
        return _row(user)

    async def new_link(self, login: str, now: datetime, valid: timedelta, *, reset: bool) -> str | None:
        """A one-time code to set ``login``'s password; None for an unknown login. ``reset``: the
        old password stops working and the user's sessions end at once."""
        code = new_secret()
        async with self.db.guarded_session() as s, s.begin():
            user = (await s.execute(select(User).where(User.login == login))).scalar_one_or_none()
            if user is None:
                return None
            await _end_links(s, user.id, now)
            if reset:
                user.password_hash = None
                user.updated_at = now
                await _end_sessions(s, user.id, now)
            s.add(
                PasswordLink(code_hash=digest(code), user_id=user.id, created_at=now, expires_at=now + valid)
            )
        return code

    async def link_user(self, code: str, now: datetime) -> UserRow | None:
        """Whose password the code sets, while it is unused and unexpired."""
        async with self.db.guarded_session() as s:
            user = (
                await s.execute(
                    select(User)
                    .join(PasswordLink, PasswordLink.user_id == User.id)
                    .where(*_usable(code, now), User.disabled.is_(False))
                )
            ).scalar_one_or_none()
        return _row(user) if user is not None else None

    async def use_link(self, code: str, password_hash: str, now: datetime) -> UserRow | None:
        """Set the password with the code, once: the code is used up in the same transaction."""
        async with self.db.guarded_session() as s, s.begin():
            link = (
                await s.execute(select(PasswordLink).where(*_usable(code, now)).with_for_update())
            ).scalar_one_or_none()
            if link is None:
                return None
            user = await s.get(User, link.user_id)
            if user is None or user.disabled:
                return None
            link.used_at = now
            user.password_hash = password_hash
            user.updated_at = now
            await _end_sessions(s, user.id, now)
        return _row(user)


def _usable(code: str, now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        PasswordLink.code_hash == digest(code),
        PasswordLink.used_at.is_(None),
        PasswordLink.expires_at > now,
    )


async def _end_sessions(s: AsyncSession, user_id: int, now: datetime) -> None:
    await s.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def _end_links(s: AsyncSession, user_id: int, now: datetime) -> None:
    await s.execute(
        update(PasswordLink)
        .where(PasswordLink.user_id == user_id, PasswordLink.used_at.is_(None))
        .values(used_at=now)
    )


async def _end_everything(s: AsyncSession, user_id: int, now: datetime) -> None:
    await _end_sessions(s, user_id, now)
    await _end_links(s, user_id, now)
