"""What a client sends, read once and checked.

Each check raises an ``ApiError`` naming the problem, so no handler builds an error response.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ari_app.api.errors import BadRequest


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
