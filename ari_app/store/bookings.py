"""Tables of the clinic scheduler's bookings as its feed tells them, and what links them to calls.

Every event is kept as received (idempotent by the scheduler's ``event_id``); a link says which
call brought a booking event, by which rule and how far from the call it was made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ari_app.store.models import Base, UtcDateTime


class BookingEvent(Base):
    """A booking created, cancelled or moved in the clinic's scheduler."""

    __tablename__ = "booking_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)  # the scheduler's, for idempotence
    kind: Mapped[str] = mapped_column(String(16))  # created | cancelled | moved
    booking_id: Mapped[str] = mapped_column(String(64), index=True)
    patient_external_id: Mapped[str] = mapped_column(String(64), index=True)
    happened_at: Mapped[datetime] = mapped_column(UtcDateTime())  # when it was done in the scheduler
    appointment_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # the visit (new time if moved)
    doctor: Mapped[str | None] = mapped_column(String(200))
    topic: Mapped[str | None] = mapped_column(String(64))
    branch: Mapped[str | None] = mapped_column(String(64))
    admin: Mapped[str | None] = mapped_column(String(64))  # who made it, when the scheduler says
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_booking_events_happened_at", "happened_at"),)


class CallLink(Base):
    """A booking event brought by a call: one call per event (the nearest; see ari_app.bookings)."""

    __tablename__ = "call_links"

    booking_event_id: Mapped[int] = mapped_column(
        ForeignKey("booking_events.id", ondelete="CASCADE"), primary_key=True
    )
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(16))  # the caller was: patient | family | comment
    distance_seconds: Mapped[float] = mapped_column(Float)  # 0 inside the call, else to its start or end
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime())
