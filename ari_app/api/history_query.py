"""The call history's query parameters, read once and checked: each refusal is a 400 whose id
names the parameter (``bad_from``, ``bad_cursor``...), and a parameter the route does not
read is refused (``unknown_parameter``) rather than silently selecting every call."""

from __future__ import annotations

from datetime import datetime

from multidict import MultiMapping

from ari_app.api import inputs
from ari_app.api.errors import BadRequest
from ari_app.numbers import to_e164
from ari_app.people.schema import CALLER_TYPES
from ari_app.store.history import OPPORTUNITY_CLASSES, CallQuery, Cursor
from ari_app.store.records import UNKNOWN_CALLER

OUTCOMES = ("answered", "missed", "abandoned", "closed", "failed", "interrupted")
FILTERS = (
    "from",
    "until",
    "branch",
    "admin",
    "caller_type",
    "topic",
    "outcome",
    "opportunity",
    "linked",
    "number",
    "number_suffix",
    "include_staff",
)
PAGING = ("limit", "cursor", "before")
MAX_CURSOR = 200  # an encoded (time, call id) is about 110 characters


def period(q: MultiMapping[str]) -> tuple[datetime | None, datetime | None]:
    """``from`` (inclusive) and ``until`` (exclusive), each with its UTC offset."""
    since, until = inputs.instant(q, "from"), inputs.instant(q, "until")
    if since is not None and until is not None and until <= since:
        raise BadRequest("bad_until", "until must be later than from")
    return since, until


def ident(q: MultiMapping[str], name: str) -> str | None:
    """A branch, admin or topic id: bounded text."""
    raw = q.get(name)
    return None if raw is None else inputs.text(name, raw, inputs.MAX_ID)


def call_query(q: MultiMapping[str], default_region: str) -> CallQuery:
    """The filters of ``/api/calls`` and its export; ``number`` is read in ``default_region``."""
    since, until = period(q)
    number = ident(q, "number")
    e164 = None
    if number is not None:
        e164 = to_e164(number, default_region)
        if e164 is None:
            detail = f"number cannot be read as a phone number (region {default_region})"
            raise BadRequest("bad_number", detail)
    suffix = q.get("number_suffix")
    if suffix is not None and not (suffix.isascii() and suffix.isdigit() and 3 <= len(suffix) <= 8):
        raise BadRequest("bad_number_suffix", "number_suffix must be 3 to 8 digits (the number's last ones)")
    return CallQuery(
        since=since,
        until=until,
        branch=ident(q, "branch"),
        admin=ident(q, "admin"),
        caller_type=inputs.choice(q, "caller_type", (*CALLER_TYPES, UNKNOWN_CALLER)),
        topic=ident(q, "topic"),
        outcome=inputs.choice(q, "outcome", OUTCOMES),
        opportunity=inputs.choice(q, "opportunity", OPPORTUNITY_CLASSES),
        linked=inputs.flag(q, "linked"),
        number_e164=e164,
        number_suffix=suffix,
        include_staff=bool(inputs.flag(q, "include_staff")),
    )


def cursor(q: MultiMapping[str]) -> Cursor | None:
    raw = q.get("cursor")
    if raw is None:
        return None
    refused = BadRequest("bad_cursor", "cursor is not one this server gave (take next_cursor as it is)")
    if len(raw) > MAX_CURSOR:
        raise refused
    try:
        return Cursor.decode(raw)
    except ValueError as exc:
        raise refused from exc
