"""Tables: calls, their admin legs, recordings, transfers and callback tasks. Times are aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on PostgreSQL and on SQLite (which keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(64), unique=True)
    caller_number: Mapped[str] = mapped_column(String(64))
    caller_e164: Mapped[str | None] = mapped_column(String(20))
    caller_name: Mapped[str] = mapped_column(String(128), default="")
    did: Mapped[str] = mapped_column(String(32))
    branch: Mapped[str | None] = mapped_column(String(64))
    ad_channel: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str | None] = mapped_column(String(16))
    admin: Mapped[str | None] = mapped_column(String(64))
    hangup_side: Mapped[str | None] = mapped_column(String(16))
    end_cause: Mapped[int | None] = mapped_column(Integer)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    notice_played: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    topic: Mapped[str | None] = mapped_column(String(64))
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # first put on hold
    transfers: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The task calling this caller back (no FOREIGN KEY: see migration 0003).
    callback_task_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # "app", or "fallback": the dialplan took the call while the app was down (from Asterisk's CDRs).
    handled_by: Mapped[str] = mapped_column(String(16), default="app", server_default="app")
    # Who called, as the directories knew the number when the call came in (CallerIdentified):
    # patient | staff | contractor | unknown; None until looked up.
    caller_kind: Mapped[str | None] = mapped_column(String(16))
    patient_id: Mapped[int | None] = mapped_column(Integer)  # the one card the number is on, if one
    patient_cards: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # cards it is on
    # Staff and contractors' calls stay out of the admins' and the clinic's statistics.
    in_statistics: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The opportunity class (new | current | none), as proposed from what is known and why
    # (ari_app.bookings.classify), and as the admin chose it when they corrected it.
    opportunity: Mapped[str | None] = mapped_column(String(8))
    opportunity_reason: Mapped[str | None] = mapped_column(String(64))
    opportunity_chosen: Mapped[str | None] = mapped_column(String(8))
    opportunity_chosen_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    legs: Mapped[list[CallLeg]] = relationship(back_populates="call", order_by="CallLeg.created_at")
    recordings: Mapped[list[Recording]] = relationship(back_populates="call", order_by="Recording.id")

    __table_args__ = (
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_outcome", "outcome"),
        Index("ix_calls_caller_e164", "caller_e164"),
        Index("ix_calls_branch_started", "branch", "started_at"),
    )


class CallLeg(Base):
    __tablename__ = "call_legs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    admin: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    dialed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ringing_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    result: Mapped[str | None] = mapped_column(String(16))
    cause: Mapped[int | None] = mapped_column(Integer)

    call: Mapped[Call] = relationship(back_populates="legs")


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    format: Mapped[str] = mapped_column(String(16))
    path: Mapped[str | None] = mapped_column(String(512))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    call: Mapped[Call] = relationship(back_populates="recordings")


class CallTransfer(Base):
    """An admin handed the caller on to ``to`` ("admin:<login>" or "group:<id>")."""

    __tablename__ = "call_transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    from_admin: Mapped[str] = mapped_column(String(64))
    to: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UtcDateTime())

    # One transfer of a call per instant: a replayed fact inserts nothing.
    __table_args__ = (UniqueConstraint("call_id", "at", name="uq_call_transfers_call_at"),)


class CallbackTask(Base):
    """Someone must call this number back: one task covers the missed calls of one number."""

    __tablename__ = "callback_tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    number_e164: Mapped[str | None] = mapped_column(String(20))
    branch: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))  # the latest call's
    status: Mapped[str] = mapped_column(String(16))  # new read answered handled_outside closed rejected
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the earliest call's
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())  # when the first call needed it
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer)  # how many missed calls it covers
    last_call_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_callback_tasks_e164_status", "number_e164", "status"),
        Index("ix_callback_tasks_number_status", "number", "status"),
        Index("ix_callback_tasks_due_at", "due_at"),
    )


class ImportPosition(Base):
    """How far a file of Asterisk's records is imported (the source names the file and its inode)."""

    __tablename__ = "import_positions"

    source: Mapped[str] = mapped_column(String(512), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    mark: Mapped[str | None] = mapped_column(String(64), nullable=True)  # hash of the bytes before it
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SpoolPosition(Base):
    """How far each spool segment is in the database (committed with the facts themselves)."""

    __tablename__ = "spool_positions"

    segment: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
