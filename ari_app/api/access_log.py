"""The HTTP access log: off unless the log level is debug, and even then never a query string
(a client may have put a credential there, though the request was refused) nor a header
(Authorization, Cookie)."""

from __future__ import annotations

import logging

import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from ari_app.api.transport import CLIENT_KEY

log = structlog.get_logger(__name__)


class RedactedAccessLog(AbstractAccessLogger):
    """The access log, when asked for, as structlog events: method, path without its query,
    status and time. Never the query string (a client may have put a credential in it even
    though it was refused) nor any header (Authorization, Cookie)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        log.debug(
            "http_request",
            method=request.method,
            path=request.path,
            status=response.status,
            seconds=round(time, 4),
            client=request.get(CLIENT_KEY, request.remote),
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.DEBUG)
