"""What a clinic's system (or a CSV row) may send for a patient, a staff member or a contractor,
and for a call's comment. Unknown fields are refused, every field is bounded, and a refusal
names the field (pydantic's ``loc``). Numbers are read here as text only: turning them into E.164
needs the branch's region, applied where the card is stored."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

# The five caller types of the call comment (domain.md, "Who calls and why").
CallerType = Literal["patient_to_book", "patient_booked", "employee", "contractor", "other"]
CALLER_TYPES: tuple[str, ...] = CallerType.__args__  # type: ignore[attr-defined]
# Types whose calls are not patients' and stay out of patient statistics.
NOT_PATIENTS = frozenset({"employee", "contractor", "other"})

PhoneRole = Literal["self", "parent", "guardian", "spouse", "child", "relative", "other"]
ContactKind = Literal["staff", "contractor"]

ExternalId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s\x00-\x1f]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
ShortText = Annotated[str, Field(max_length=200)]
Money = Annotated[Decimal, Field(max_digits=14, decimal_places=2, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=100_000)]
NumberText = Annotated[str, Field(min_length=1, max_length=64)]

_HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


# Control characters but tabs and line ends (a NUL cannot be stored in PostgreSQL text), lone
# surrogates (cannot be encoded): refused in every text field, so a card is never half-stored.
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def _clean(value: object) -> object:
    texts = value if isinstance(value, list) else [value]
    for text in texts:
        if isinstance(text, str) and any(
            unicodedata.category(ch) in ("Cc", "Cs") and ch not in _ALLOWED_CONTROLS for ch in text
        ):
            raise ValueError("control characters are not allowed")
    return value


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @field_validator("*")
    @classmethod
    def _no_controls(cls, value: object) -> object:
        return _clean(value)


class PhoneIn(_Input):
    number: NumberText
    role: PhoneRole = "self"
    owner: ShortText | None = None  # whose number, when not the patient's own ("mother: Olga")


class CardNumberIn(_Input):
    """A number an admin learned on a call, for the card the call was about (the console)."""

    call_id: Annotated[str, Field(min_length=1, max_length=64)]
    number: NumberText | None = None  # default: the number the call came from
    role: PhoneRole = "self"
    owner: ShortText | None = None  # whose number, when not the patient's own


class PolicyIn(_Input):
    number: Annotated[str, Field(min_length=1, max_length=64)]
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool = True

    @model_validator(mode="after")
    def _dates_in_order(self) -> PolicyIn:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class VisitsIn(_Input):
    completed: Count = 0
    no_show: Count = 0
    cancelled: Count = 0
    last: date | None = None


class TaskIn(_Input):
    title: Name
    due: date | None = None


class WaitingIn(_Input):
    what: Name  # the service or doctor waited for
    since: date | None = None
    note: ShortText | None = None


class ConsentIn(_Input):
    """What the patient agreed to be called about, how and when; stored and returned now,
    enforced by outbound work later."""

    subjects: list[Literal["reminders", "results", "billing", "marketing"]] = Field(
        default_factory=list, max_length=4
    )
    channels: list[Literal["call", "sms", "messenger", "email"]] = Field(default_factory=list, max_length=4)
    hours: str | None = None  # "09:00-20:00", the patient's local time
    days: list[Annotated[int, Field(ge=1, le=7)]] = Field(default_factory=list, max_length=7)  # ISO

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None and not _HOURS.match(value):
            raise ValueError('hours must read "HH:MM-HH:MM"')
        return value


class PatientIn(_Input):
    external_id: ExternalId
    full_name: Name
    birth_date: date | None = None
    branch: Annotated[str, Field(max_length=64)] | None = None  # home branch: whose region reads the numbers
    phones: list[PhoneIn] = Field(default_factory=list, max_length=20)
    guardian_external_id: ExternalId | None = None
    guardian_name: ShortText | None = None
    family_id: ExternalId | None = None
    balance: Money = Decimal(0)  # below zero: the patient owes; above: an advance
    treatment_sum: Money = Decimal(0)
    family_sum: Money = Decimal(0)
    insurance_sum: Money = Decimal(0)
    policy: PolicyIn | None = None
    card_comment: Annotated[str, Field(max_length=2000)] | None = None
    visits: VisitsIn = VisitsIn()
    open_tasks: list[TaskIn] = Field(default_factory=list, max_length=100)
    waiting_list: list[WaitingIn] = Field(default_factory=list, max_length=50)
    consent: ConsentIn | None = None

    @field_validator("birth_date")
    @classmethod
    def _born(cls, value: date | None) -> date | None:
        if value is not None and not date(1900, 1, 1) <= value <= date(2100, 1, 1):
            raise ValueError("birth_date is not a plausible date of birth")
        return value


class ContactIn(_Input):
    """A staff member or a contractor: whose calls are theirs, not patients'."""

    external_id: ExternalId
    name: Name
    organisation: ShortText | None = None
    note: Annotated[str, Field(max_length=2000)] | None = None
    phones: list[NumberText] = Field(min_length=1, max_length=20)


UNKNOWN_TOPIC = "unknown"  # the comment's topic when the admin could not tell
COMMENT_TEXT_MAX = 4000
Login = Annotated[str, Field(min_length=1, max_length=64)]
# Free text keeps its line breaks and tabs; other control characters (a NUL cannot be stored in
# PostgreSQL text) and lone surrogates (cannot be encoded) are refused.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _plain_text(value: str | None) -> str | None:
    if value is not None and _NOT_TEXT.search(value):
        raise ValueError("control characters are not allowed")
    return value


class CommentIn(_Input):
    """The admin's note on a call. ``topic`` is a configured topic id or "unknown", ``author``
    an admin's login (both checked against the configuration by the API). The author is a body
    field while the API is called by systems with bearer tokens; once admins sign in to the
    console, their session supplies it."""

    caller_type: CallerType
    topic: Annotated[str, Field(min_length=1, max_length=64)] = UNKNOWN_TOPIC
    patient_external_id: ExternalId | None = None  # the card the call was about
    text: Annotated[str, Field(max_length=COMMENT_TEXT_MAX)] = ""
    add_number_to_patient: PhoneRole | None = None  # also put the caller's number on that card
    author: Login
    # The version the admin edited (0: there was no comment yet); another admin's save since
    # then is a conflict, not lost.
    expected_version: Annotated[int, Field(ge=0, strict=True)] | None = None

    @field_validator("text", "topic", "patient_external_id", "author")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return _plain_text(value)

    @field_validator("add_number_to_patient")
    @classmethod
    def _number_needs_card(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("patient_external_id") is None:
            raise ValueError("needs patient_external_id: the card to add the number to")
        return value


class ManualCallIn(_Input):
    """A call that reached an admin's mobile phone outside the PBX, logged by hand."""

    started_at: AwareDatetime
    duration_seconds: Annotated[float, Field(ge=0, le=86_400, allow_inf_nan=False)] | None = None
    number: NumberText
    admin: Login
    branch: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    comment: CommentIn | None = None

    @field_validator("number", "admin", "branch")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return _plain_text(value)


def report_topic(comment_topic: str | None, menu_topic: str | None) -> str | None:
    """The topic reports count a call under: the admin's, unless they left it unknown; else
    what the caller pressed in the phone menu."""
    if comment_topic and comment_topic != UNKNOWN_TOPIC:
        return comment_topic
    return menu_topic
