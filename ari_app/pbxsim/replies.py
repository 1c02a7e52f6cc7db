"""What the ARI handlers share: replies, and query parameters and JSON bodies read as Asterisk reads them."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ari_app.ari import models as m
from ari_app.pbxsim.state import SimError

# A reply whose events may trail it on the wire (DELETE: the hang-up runs on its own thread).
NO_FLUSH = web.RequestKey("no_flush", bool)


def json_reply(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=m.encode(obj), status=status, content_type="application/json")


def no_content() -> web.Response:
    return web.Response(status=204)


def need(request: web.Request, name: str) -> str:
    value = request.query.get(name, "")
    if not value:
        raise SimError(400, f"Missing parameter {name}")
    return value


def int_param(request: web.Request, name: str, default: int = 0) -> int:
    """Asterisk reads integers with atoi(): leading digits count, anything else is 0."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    digits = raw.strip()
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    head = ""
    for ch in digits:
        if not ch.isdigit():
            break
        head += ch
    return sign * int(head) if head else 0


def list_param(request: web.Request, name: str) -> list[str]:
    """``allowMultiple`` parameters: comma-separated and/or repeated."""
    return [item for raw in request.query.getall(name, []) for item in raw.split(",") if item]


async def json_body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise SimError(400, "Failed to parse request body") from None
    if not isinstance(data, dict):
        raise SimError(400, "Request body must be a JSON object")
    return data


async def variables(request: web.Request) -> dict[str, str]:
    """The body's ``variables``: strings, or objects with a string ``value`` (json_to_ast_variables)."""
    raw = (await json_body(request)).get("variables")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SimError(400, "The 'variables' field must be a JSON object")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            value = value.get("value")
            if not isinstance(value, str):
                raise SimError(400, "Each object value in 'variables' must include string field 'value'")
        if not isinstance(value, str):
            raise SimError(
                400,
                "Each value in 'variables' must be a string or an object with 'value' and optional "
                "'report_events'",
            )
        if key:
            out[str(key)] = value
    return out
