"""Every error the HTTP API answers is JSON: ``{"error": "<stable id>", "detail": "..."}``;
input refused field by field (400 ``invalid_fields``) also lists ``"errors": [{"field", "reason"}]``.

Handlers raise an ``ApiError`` (its class carries the status, the instance the stable id and
detail); one middleware turns it, aiohttp's own HTTP errors (no such route, wrong method, body
too large) and anything unexpected into that JSON. Requests aiohttp's HTTP parser refuses never
reach a middleware: ``ApiRunner`` answers those in the same JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler

from ari_app.api.access_log import RedactedAccessLog
from ari_app.api.security_headers import add_security_headers
from ari_app.store.db import StoreUnavailable

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The stable ids of the errors aiohttp itself raises, by status.
HTTP_ERROR_IDS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    500: "internal_error",
    503: "database_unavailable",
}
INTERNAL_DETAIL = "the server could not answer this request; it has been logged"


class ApiError(Exception):
    """An answer other than success; the class says the status, the instance the stable id."""

    status: ClassVar[int] = 500

    def __init__(
        self,
        error_id: str,
        detail: str,
        *,
        fields: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error_id}: {detail}")
        self.error_id = error_id
        self.detail = detail
        self.fields = tuple(fields)  # (field, reason) each, answered as "errors" when there are any
        self.headers = dict(headers or {})  # Retry-After...


class BadRequest(ApiError):
    status = 400


class Unauthenticated(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class Gone(ApiError):
    status = 410


class TooLarge(ApiError):
    status = 413


class TooManyRequests(ApiError):
    status = 429


class InvalidFields(BadRequest):
    """Input that names what is wrong with it field by field ("phones[0].number")."""

    def __init__(self, fields: Sequence[tuple[str, str]]) -> None:
        detail = "; ".join(f"{f or 'body'}: {reason}" for f, reason in fields)
        super().__init__("invalid_fields", detail[:1000], fields=fields)


class Invalid(InvalidFields):
    """One field cannot be accepted (wrong type, too long, unknown, not configured)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__([(field, detail)])
        self.field = field


class FieldTooLong(BadRequest):
    def __init__(self, field: str, limit: int) -> None:
        super().__init__("field_too_long", f"{field}: at most {limit} characters")


def error_response(
    status: int,
    error_id: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    fields: Sequence[tuple[str, str]] = (),
) -> web.Response:
    body: dict[str, Any] = {"error": error_id, "detail": detail}
    if fields:
        body["errors"] = [{"field": f, "reason": reason} for f, reason in fields]
    return web.json_response(body, status=status, headers=headers)


def _error_id(status: int) -> str:
    known = HTTP_ERROR_IDS.get(status)
    if known:
        return known
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"


def _description(status: int) -> str:
    try:
        return HTTPStatus(status).description
    except ValueError:
        return ""


def _from_http(request: web.Request, exc: web.HTTPException) -> web.Response:
    """aiohttp's own error (raised by its router or while reading the body) as our JSON."""
    if exc.status == 413:
        detail = f"the body must be at most {request.client_max_size} bytes"
    elif exc.status == 405:
        detail = f"{request.method} is not allowed here; see the Allow header"
    elif exc.status == 404:
        detail = "no such endpoint"
    else:
        detail = _description(exc.status)
    # Keep what the error tells the client in headers (Allow); the body's headers are ours.
    headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
    return error_response(exc.status, _error_id(exc.status), detail, headers)


def _route(request: web.Request) -> str:
    """The route's template (``/api/calls/{call_id}``): never an id or a number from the path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.error_id, exc.detail, exc.headers or None, exc.fields)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # a redirect is an answer, not an error
        return _from_http(request, exc)
    except (asyncio.CancelledError, ConnectionError):
        raise  # the client went away: nobody to answer
    except StoreUnavailable as exc:
        # Not the request's fault and not a bug: the client may try again (health says why).
        log.warning("api_database_unavailable", route=_route(request), reason=exc.reason)
        return error_response(503, "database_unavailable", "the database cannot be reached; try again")
    except Exception:
        # The traceback goes to the log only: it can name internals a client has no use for.
        log.exception("api_internal_error", method=request.method, route=_route(request))
        return error_response(500, "internal_error", INTERNAL_DETAIL)


# ---------------------------------------------------------------------------- the parser's errors
class _JsonErrorProtocol(RequestHandler):
    """aiohttp answers a request its parser refuses (request line or header too long, not HTTP)
    from ``RequestHandler.handle_error``, before any middleware, in text/plain, and offers no hook
    for it (aio-libs/aiohttp#3287); this subclass overrides that one method."""

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            # As aiohttp does: a response is under way, no other can follow.
            raise ConnectionError("response already started; cannot send an error response")
        if status >= 500:
            log.error("http_server_error", status=status, exc_info=exc)
            detail = INTERNAL_DETAIL
        else:
            log.info("http_unreadable_request", status=status, problem=type(exc).__name__ if exc else None)
            detail = (
                "a request line or header is too long"
                if isinstance(exc, LineTooLong)
                else "the request is not valid HTTP"
            )
        response = error_response(status, _error_id(status), detail)
        # No app saw this request, so no response hook: its headers are put on here.
        add_security_headers(response.headers, "https" if request.secure else "http", "/")
        response.force_close()  # what came after the bad bytes cannot be trusted either
        return response


class _JsonErrorServer(web.Server):
    """``web.Server`` is the protocol factory; this one makes ``_JsonErrorProtocol``s, each with
    what the runner gives every connection's handler (the access log, timeouts)."""

    def __init__(self, made: web.Server, handler_kwargs: Mapping[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        # The application's own server, as AppRunner made it: its handler and request factory.
        super().__init__(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=loop,
            **handler_kwargs,
        )
        self.handler_loop = loop
        self.handler_kwargs = dict(handler_kwargs)

    def __call__(self) -> RequestHandler:
        return _JsonErrorProtocol(self, loop=self.handler_loop, **self.handler_kwargs)


class ApiRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer the parser's errors in JSON too.

    ``_make_server`` is ``BaseRunner``'s one abstract method, the one ``AppRunner`` and
    ``ServerRunner`` each implement: the place a runner says what serves its connections."""

    def __init__(
        self,
        app: web.Application,
        *,
        access_log_class: type[AbstractAccessLogger] = RedactedAccessLog,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, access_log_class=access_log_class, **kwargs)
        # What AppRunner passes on to every connection's RequestHandler (access_log, timeouts);
        # handler_cancellation is the server's own, which the application's server already has.
        handler = {k: v for k, v in kwargs.items() if k != "handler_cancellation"}
        self._handler_kwargs = {"access_log_class": access_log_class, **handler}

    async def _make_server(self) -> web.Server:
        return _JsonErrorServer(await super()._make_server(), self._handler_kwargs)
