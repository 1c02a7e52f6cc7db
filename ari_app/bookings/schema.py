"""The bookings feed's input: one event from the clinic's scheduler, or a batch of them.

Every time must carry its UTC offset: a naive time could be the branch's wall clock or UTC, and
guessing wrong moves a booking by hours, out of its call's window. Unknown fields are refused
(a typo in a field name would otherwise drop it unseen) and every string is bounded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

MAX_EVENTS = 1000
Kind = Literal["created", "cancelled", "moved"]
Id = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")
]
Short = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")
]


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must carry a UTC offset (Z or +HH:MM)")
    return value.astimezone(UTC)


AwareTime = Annotated[datetime, AfterValidator(_aware_utc)]


class BookingEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Id
    kind: Kind
    booking_id: Id
    patient_external_id: Id
    happened_at: AwareTime  # when it was done in the scheduler
    appointment_at: AwareTime | None = None  # the visit (its new time when moved)
    doctor: Text | None = None
    topic: Short | None = None
    branch: Short | None = None
    admin: Short | None = None  # the login of the admin who made it, when the scheduler knows

    def fingerprint(self) -> tuple[object, ...]:
        """What must be equal for a resent event to be the same event (its duplicate)."""
        return tuple(getattr(self, name) for name in FIELDS)


FIELDS = tuple(BookingEventIn.model_fields)


class BookingBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    events: Annotated[list[BookingEventIn], Field(min_length=1, max_length=MAX_EVENTS)]


class OpportunityIn(BaseModel):
    """An admin's correction of a call's proposed class."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    opportunity: Literal["new", "current", "none"]
    by: Short  # the admin's login
