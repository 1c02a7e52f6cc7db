"""The directories' cards as they are read back: what the API returns and the screen-pop shows.
The age is the reader's to derive (it needs the clinic's today)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class PhoneView:
    number: str  # as the clinic wrote it
    e164: str
    role: str = "self"
    owner: str | None = None


@dataclass(frozen=True)
class PolicyView:
    number: str
    valid_from: date | None
    valid_to: date | None
    active: bool


@dataclass(frozen=True)
class VisitsView:
    completed: int
    no_show: int
    cancelled: int
    last: date | None

    @property
    def completed_share(self) -> float | None:
        """Completed of all the visits booked; None before the first."""
        total = self.completed + self.no_show + self.cancelled
        return self.completed / total if total else None


@dataclass(frozen=True)
class AppointmentView:
    """A visit still ahead, as the scheduler's feed last said of its booking."""

    booking_id: str
    at: datetime
    doctor: str | None
    topic: str | None
    branch: str | None


@dataclass(frozen=True)
class PatientView:
    id: int
    external_id: str
    full_name: str
    birth_date: date | None
    branch: str | None
    phones: tuple[PhoneView, ...]
    guardian_external_id: str | None
    guardian_name: str | None
    family_id: str | None
    balance: Decimal  # below zero: the patient owes
    treatment_sum: Decimal
    family_sum: Decimal
    insurance_sum: Decimal
    policy: PolicyView | None
    card_comment: str | None
    visits: VisitsView
    open_tasks: tuple[dict[str, Any], ...]  # {"title", "due"}: dates as ISO text
    waiting_list: tuple[dict[str, Any], ...]  # {"what", "since", "note"}
    consent: dict[str, Any] | None  # {"subjects", "channels", "hours", "days"}
    updated_at: datetime
    # From the bookings feed: each booking's latest event, not cancelled, its visit still ahead.
    future_appointments: tuple[AppointmentView, ...] = ()

    @property
    def completed_share(self) -> float | None:
        return self.visits.completed_share


@dataclass(frozen=True)
class ContactView:
    kind: str  # staff or contractor
    id: int
    external_id: str
    name: str
    organisation: str | None
    note: str | None
    phones: tuple[PhoneView, ...]
    updated_at: datetime


@dataclass(frozen=True)
class PatientSummary:
    """A card as a search lists it: enough to tell people apart and pick the one the call is
    about (a wife for her husband, a mother for her child), not the whole card."""

    external_id: str
    full_name: str
    birth_date: date | None
    age: int | None  # full years on the clinic's today
    branch: str | None
    guardian_external_id: str | None
    guardian_name: str | None
    phones: tuple[PhoneView, ...]
    matched: str  # what found it: external_id, number or name
