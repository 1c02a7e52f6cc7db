"""structlog JSON logs. Secrets are never printed and phone numbers are masked: a value under a
key that names a secret (token, password, authorization, cookie...) is replaced, and a URL's
credential-named query parameters lose their values wherever they appear."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from ari_app.api.query_credentials import scrub_query
from ari_app.numbers import mask

_SECRET_KEYS = {
    "password",
    "token",
    "authorization",
    "cookie",
    "session_id",
    "csrf",
    "secret",
    "api_key",
    "dsn",
    "database_url",
}
_NUMBER_KEYS = {"caller", "caller_number", "number", "phone", "callerid"}


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        low = key.lower()
        if any(s in low for s in _SECRET_KEYS):
            event[key] = "***"
        elif low in _NUMBER_KEYS and event[key]:
            event[key] = mask(event[key])
        elif isinstance(event[key], str) and "?" in event[key]:
            event[key] = scrub_query(event[key])
    return event


def setup_logging(level: str = "info", *, json: bool = True, stream: Any = None) -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(level=lvl, stream=stream or sys.stderr, format="%(message)s")
    # Libraries speak only when something is wrong; their chatter is not ours to log.
    for noisy in ("alembic", "aiohttp.access", "aiosqlite", "asyncio", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(max(lvl, logging.WARNING))
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=True,
    )
