"""Service tokens: a system's bearer token with a name and scopes, kept as its hash.

``ari-app tokens add NAME --scope calls:read`` prints the token once; the database keeps only
its SHA-256, so a lost token is disabled and another made, never shown again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ari_app.auth.principal import Principal
from ari_app.auth.secret_ids import digest, new_secret
from ari_app.store import Database
from ari_app.store.accounts import ServiceToken

PREFIX = "ari_"  # tells a token of ours in a secret scanner's finding


class TokenExists(ValueError):
    pass


@dataclass(frozen=True)
class TokenRow:
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    disabled_at: datetime | None


class ServiceTokens:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, name: str, scopes: tuple[str, ...], now: datetime) -> str:
        token = new_secret(PREFIX)
        row = ServiceToken(name=name, scopes=" ".join(scopes), token_hash=digest(token), created_at=now)
        try:
            async with self.db.guarded_session() as s, s.begin():
                s.add(row)
        except IntegrityError as exc:
            raise TokenExists(f"a token named {name!r} exists already") from exc
        return token

    async def all(self) -> list[TokenRow]:
        async with self.db.guarded_session() as s:
            rows = (await s.execute(select(ServiceToken).order_by(ServiceToken.name))).scalars()
            return [TokenRow(t.name, tuple(t.scopes.split()), t.created_at, t.disabled_at) for t in rows]

    async def disable(self, name: str, now: datetime) -> bool:
        async with self.db.guarded_session() as s, s.begin():
            row = (
                await s.execute(select(ServiceToken).where(ServiceToken.name == name))
            ).scalar_one_or_none()
            if row is None:
                return False
            if row.disabled_at is None:
                row.disabled_at = now
        return True

    async def find(self, token: str) -> Principal | None:
        """The system a token belongs to, while it is enabled."""
        if not token.startswith(PREFIX):
            return None
        async with self.db.guarded_session() as s:
            row = (
                await s.execute(
                    select(ServiceToken).where(
                        ServiceToken.token_hash == digest(token), ServiceToken.disabled_at.is_(None)
                    )
                )
            ).scalar_one_or_none()
        if row is None:
            return None
        return Principal(kind="service", name=row.name, scopes=frozenset(row.scopes.split()))
