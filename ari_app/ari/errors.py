"""Why an ARI request failed: one class per way, named by route template, never by ids or secrets.

``path`` is the route template (``/channels/{id}/dial``), so an error is safe to log and its path
is a bounded metric label. The message is Asterisk's own ``{"message": ...}`` when it sent one.
"""

from __future__ import annotations

import json

MESSAGE_LIMIT = 200


class AriError(Exception):
    """A failed ARI request. ``status`` is None when no HTTP response arrived."""

    def __init__(self, method: str, path: str, status: int | None, message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        where = f"{method} {path}"
        super().__init__(f"{where}: {status} {message}" if status is not None else f"{where}: {message}")

    @property
    def route(self) -> str:
        """The route template; the same as ``path``."""
        return self.path


class AriBadRequest(AriError):
    """400: a parameter is missing or wrong (also "Channel not found" from addChannel)."""


class AriNotFound(AriError):
    """404: e.g. a channel that just hung up; a normal race in call control."""


class AriConflict(AriError):
    """409: e.g. "Channel not in Stasis application" when dialling before StasisStart."""


class AriPreconditionFailed(AriError):
    """412: the channel is in the wrong state for the operation."""


class AriUnprocessable(AriError):
    """422: e.g. adding a channel that is not in Stasis to a bridge."""


class AriUnavailable(AriError):
    """Asterisk could not be reached, timed out, or answered 5xx (503 while it boots)."""


class AriBadResponse(AriError):
    """A successful status whose body the client refuses: not the expected model, or too large."""


_BY_STATUS: dict[int, type[AriError]] = {
    400: AriBadRequest,
    404: AriNotFound,
    409: AriConflict,
    412: AriPreconditionFailed,
    422: AriUnprocessable,
}


def error_for_status(method: str, path: str, status: int, body: bytes, reason: str | None) -> AriError:
    """The exception for an HTTP error status; its message is Asterisk's ``message`` when present.

    A body that is not Asterisk's JSON (a proxy's HTML page, say) is not quoted: the reason
    phrase stands in for it, so nothing the server echoed ends up in logs.
    """
    message = ""
    try:
        decoded = json.loads(body) if body else None
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        message = decoded["message"]
    message = (message or reason or f"HTTP {status}")[:MESSAGE_LIMIT]
    cls = _BY_STATUS.get(status) or (AriUnavailable if status >= 500 else AriError)
    return cls(method, path, status, message)
