"""What a client sends, read once and checked: the JSON body, bounded text, query parameters.

Each check raises an ``ApiError`` naming the problem, so no handler builds an error response.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from ari_app.api.errors import BadRequest, FieldTooLong

# Logins, group and branch ids (the configuration allows 63 characters), call and task ids
# (UUIDs, 36): longer cannot name anything.
MAX_ID = 64
MAX_LIMIT = 500
_REFUSED_CATEGORIES = ("Cc", "Cs")  # control characters (NUL among them), lone surrogates


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object. Its size is bounded by the application's client_max_size
    (over it, aiohttp raises 413, answered as ``body_too_large``)."""
    try:
        raw = await request.read()
    except web.RequestPayloadError as exc:  # a broken chunked or compressed body
        raise BadRequest("bad_request", "the body could not be read") from exc
    try:
        data = json.loads(raw)
    except RecursionError as exc:  # the decoder recurses once per nested array or object
        raise BadRequest("bad_json", "the body is nested too deeply") from exc
    except ValueError as exc:  # not JSON, not UTF-8 (UnicodeDecodeError), an integer too long
        raise BadRequest("bad_json", "the body must be a JSON object") from exc
    if not isinstance(data, dict):
        raise BadRequest("bad_json", "the body must be a JSON object")
    return data


def text(field: str, value: str, limit: int) -> str:
    """``value`` if it is at most ``limit`` characters of text: no control characters (a NUL
    cannot be stored in PostgreSQL text) nor lone surrogates (cannot be encoded)."""
    if len(value) > limit:
        raise FieldTooLong(field, limit)
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in value):
        raise BadRequest("bad_text", f"{field}: control characters are not allowed")
    return value


def path_id(request: web.Request, name: str) -> str:
    """A path parameter naming something (a login, a call, a task), checked as ``text``."""
    return text(name, request.match_info[name], MAX_ID)


def limit(query: Mapping[str, str], default: int) -> int:
    """The ``limit`` query parameter: 1 to 500 in ASCII digits."""
    raw = query.get("limit")
    if raw is None:
        return default
    # Checked before int(): it would take other scripts' digits and parse thousands of them.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_LIMIT):
        raise BadRequest("bad_limit", f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def before(query: Mapping[str, str]) -> datetime | None:
    """The ``before`` query parameter as aware UTC: an ISO 8601 time with its UTC offset."""
    return instant(query, "before")


def instant(query: Mapping[str, str], name: str) -> datetime | None:
    """The query parameter ``name`` as aware UTC: an ISO 8601 time with its UTC offset (a naive
    time is refused: the server cannot guess whose wall clock it is). Refused: ``bad_<name>``."""
    raw = query.get(name)
    if raw is None:
        return None
    error = f"bad_{name}"
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadRequest(
            error, f"{name} must be an ISO 8601 time such as 2026-01-01T00:00:00Z (send + as %2B)"
        ) from exc
    if parsed.utcoffset() is None:
        raise BadRequest(error, f"{name} must carry a UTC offset (Z or +HH:MM): calls are kept in UTC")
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise BadRequest(error, f"{name} is out of range once converted to UTC") from exc


def flag(query: Mapping[str, str], name: str) -> bool | None:
    """A true/false query parameter (``bad_<name>`` otherwise)."""
    raw = query.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise BadRequest(f"bad_{name}", f"{name} must be true or false")
    return raw == "true"


def choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    """A query parameter that must be one of ``allowed`` (``bad_<name>`` otherwise)."""
    raw = query.get(name)
    if raw is not None and raw not in allowed:
        raise BadRequest(f"bad_{name}", f"{name} must be one of {', '.join(allowed)}")
    return raw


def known_only(query: MultiMapping[str], known: tuple[str, ...]) -> None:
    """Refuse a parameter this route does not read (a misspelt filter would select everything)
    and one given twice (which of them would count?)."""
    for name in query:
        if name not in known:
            shown = name[:40] if name.isprintable() else "a parameter"
            raise BadRequest("unknown_parameter", f"{shown} is not a parameter here: {', '.join(known)}")
        if len(query.getall(name)) > 1:
            raise BadRequest(f"bad_{name}", f"{name} is given more than once")
