"""JSON answers of the API's own records (dataclasses with datetimes in them)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_reply(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(value, default=_default), status=status, content_type="application/json"
    )
