"""Tables of the people who use the console and the systems that call the API: users, their
server-side sessions, one-time password links, service tokens, and the append-only audit trail.

Secrets are never stored as sent: a session id, a password link's code and a service token are
kept as their SHA-256 (each is 256 random bits, so a plain hash cannot be reversed or guessed);
passwords as argon2id hashes (``ari_app.auth.passwords``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from ari_app.store.models import Base, UtcDateTime


class User(Base):
    """A person: a manager, or an admin or assistant tied to an ``[[admins]]`` login and branch."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # admin | assistant | manager
    admin_login: Mapped[str | None] = mapped_column(String(64))  # the [[admins]] login (not managers)
    branch: Mapped[str | None] = mapped_column(String(64))  # that admin's branch when the user was made
    password_hash: Mapped[str | None] = mapped_column(String(256))  # None until the link is used
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuthSession(Base):
    """A signed-in browser. The cookie carries the id; the table only its hash."""

    __tablename__ = "auth_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))  # sent back in X-CSRF-Token by the console
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the idle timeout counts from it
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the absolute end
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # logout, disable, new password
    address: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(256))


class PasswordLink(Base):
    """A one-time code to set a password (a new user, or a reset)."""

    __tablename__ = "password_links"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ServiceToken(Base):
    """A system's bearer token: its name, what it may do, and when it was disabled."""

    __tablename__ = "service_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(512))  # space-separated: calls:read directories:write
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AuditEvent(Base):
    """Who did what to what, when. Append-only: the database refuses UPDATE and DELETE (0009)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(32))  # login, login_failed, patient_opened, ...
    actor: Mapped[str | None] = mapped_column(String(80))  # user:<login>, token:<name>, cli
    subject: Mapped[str | None] = mapped_column(String(128))  # a patient's external id, a call id...
    address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)  # JSON, never a secret or patient data

    __table_args__ = (Index("ix_audit_events_at", "at"),)
