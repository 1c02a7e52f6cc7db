"""Tables of who calls: patients (with their numbers, each with its owner and role), staff and
contractors (kept out of patient statistics), and the admins' comments on calls with their
history. Phone numbers are stored twice: as written (shown back) and in E.164 (matched)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ari_app.store.models import Base, UtcDateTime

MONEY = Numeric(14, 2)
DIRECTORY, CONSOLE = "directory", "console"  # where a patient's number came from


class Patient(Base):
    """A card of the clinic's scheduler, keyed by its id there (``external_id``)."""

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date)
    branch: Mapped[str | None] = mapped_column(String(64))  # home branch: its region reads the numbers
    guardian_external_id: Mapped[str | None] = mapped_column(String(64))  # a child's parent's card
    guardian_name: Mapped[str | None] = mapped_column(String(200))
    family_id: Mapped[str | None] = mapped_column(String(64), index=True)
    balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))  # < 0: debt, > 0: advance
    treatment_sum: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    family_sum: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    insurance_sum: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    policy_number: Mapped[str | None] = mapped_column(String(64))
    policy_from: Mapped[date | None] = mapped_column(Date)
    policy_to: Mapped[date | None] = mapped_column(Date)
    policy_active: Mapped[bool] = mapped_column(Boolean, default=False)
    card_comment: Mapped[str | None] = mapped_column(Text)
    visits_completed: Mapped[int] = mapped_column(Integer, default=0)
    visits_no_show: Mapped[int] = mapped_column(Integer, default=0)
    visits_cancelled: Mapped[int] = mapped_column(Integer, default=0)
    last_visit: Mapped[date | None] = mapped_column(Date)
    open_tasks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    waiting_list: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    consent: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # subjects, channels, hours, days
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    phones: Mapped[list[PatientPhone]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="PatientPhone.id"
    )


class PatientPhone(Base):
    """A number on a card: the patient's own, or a parent's, a spouse's... (``role``)."""

    __tablename__ = "patient_phones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(64))  # as the clinic wrote it
    number_e164: Mapped[str] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(16))  # self parent guardian spouse child relative other
    owner: Mapped[str | None] = mapped_column(String(200))  # whose number, when not the patient's
    # Who put it there: "directory" (the scheduler's card: its import replaces these) or
    # "console" (an admin, from a call: kept when the card is imported again).
    source: Mapped[str] = mapped_column(String(16), default=DIRECTORY, server_default=DIRECTORY)

    patient: Mapped[Patient] = relationship(back_populates="phones")

    __table_args__ = (
        UniqueConstraint("patient_id", "number_e164", name="uq_patient_phones_patient_number"),
        Index("ix_patient_phones_e164", "number_e164"),
    )


class PatientNameWord(Base):
    """A word of a card's name, case-folded (``ari_app.people.search``): a name is searched for by
    word prefixes, each a range of this table's primary key. PostgreSQL compares the words in
    codepoint order ("C"), as SQLite does, so a prefix's range is exact whatever the locale."""

    __tablename__ = "patient_name_words"

    word: Mapped[str] = mapped_column(
        String(64).with_variant(String(64, collation="C"), "postgresql"), primary_key=True
    )
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Contact(Base):
    """Someone whose calls are not patients': ``kind`` staff or contractor."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    phones: Mapped[list[ContactPhone]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", order_by="ContactPhone.id"
    )

    __table_args__ = (UniqueConstraint("kind", "external_id", name="uq_contacts_kind_external"),)


class ContactPhone(Base):
    __tablename__ = "contact_phones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    number_e164: Mapped[str] = mapped_column(String(20))

    contact: Mapped[Contact] = relationship(back_populates="phones")

    __table_args__ = (
        UniqueConstraint("contact_id", "number_e164", name="uq_contact_phones_contact_number"),
        Index("ix_contact_phones_e164", "number_e164"),
    )


class CallComment(Base):
    """What the admin wrote down about a call, as it stands now (``version`` counts the edits;
    every version, this one included, is in ``call_comment_versions``)."""

    __tablename__ = "call_comments"

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    caller_type: Mapped[str] = mapped_column(String(24))
    topic: Mapped[str] = mapped_column(String(64))  # a configured topic id, or "unknown"
    # The card the call was about; indexed: a booking's candidate calls are found by it.
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(64))
    written_at: Mapped[datetime] = mapped_column(UtcDateTime())
    version: Mapped[int] = mapped_column(Integer)


class CallCommentVersion(Base):
    __tablename__ = "call_comment_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    caller_type: Mapped[str] = mapped_column(String(24))
    topic: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(64))
    written_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("call_id", "version", name="uq_call_comment_versions"),)
