"""JSON answers of the API's own records (dataclasses with datetimes, dates and sums in them)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):  # money: as text, never rounded through a float
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_reply(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(value, default=_default), status=status, content_type="application/json"
    )
