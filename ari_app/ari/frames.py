"""One websocket frame at a time: size check, parse at the edge, count what is skipped, hand off.

Nothing here awaits: it runs inside the read loop, which must keep reading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from ari_app.ari.models import Event, MalformedEvent, UnknownEvent, parse_event

log = structlog.get_logger(__name__)

DETAIL_LIMIT = 200
# Unknown types are logged once each; a peer inventing types must not grow memory forever.
MAX_UNKNOWN_TYPES_LOGGED = 100


@dataclass
class EventStreamStats:
    frames: int = 0  # data frames received, text or binary
    events: int = 0  # frames parsed and handed to on_event
    unknown: int = 0
    malformed: int = 0
    oversize: int = 0
    binary: int = 0
    callback_errors: int = 0  # exceptions raised by on_event
    connects: int = 0  # connections established
    reconnects: int = 0  # connections established after the first


class FrameReader:
    def __init__(
        self,
        stats: EventStreamStats,
        on_event: Callable[[Event], None],
        on_bad_frame: Callable[[str, str], None] | None,
        max_frame_bytes: int,
    ) -> None:
        self._stats = stats
        self._on_event = on_event
        self._on_bad_frame = on_bad_frame
        self._max_frame = max_frame_bytes
        self._unknown_logged: set[str] = set()

    def text(self, data: str) -> None:
        self._stats.frames += 1
        if self._too_big(data):
            self.oversize(f"{len(data)} characters, limit {self._max_frame} bytes")
            return
        try:
            event = parse_event(data)
        except UnknownEvent as exc:
            self._unknown(exc.event_type[:DETAIL_LIMIT])
            return
        except MalformedEvent as exc:
            self._malformed(str(exc))
            return
        except Exception as exc:  # anything else the decoder throws is still a bad frame
            self._malformed(f"{type(exc).__name__}: {exc}")
            return
        self._stats.events += 1
        try:
            self._on_event(event)
        except Exception:
            self._stats.callback_errors += 1
            log.exception("ari_event_handler_failed", type=type(event).__name__)

    def binary(self, size: int) -> None:
        # ARI sends JSON text only; a binary frame carries nothing we could use.
        self._stats.frames += 1
        self._stats.binary += 1
        log.debug("ari_binary_frame_skipped", size=size)

    def oversize(self, detail: str) -> None:
        self._stats.oversize += 1
        log.warning("ari_frame_oversize", detail=detail)
        self._bad("oversize", detail)

    def _too_big(self, data: str) -> bool:
        if len(data) > self._max_frame:
            return True
        # Characters undercount bytes only for non-ASCII text; encode just then.
        return not data.isascii() and len(data.encode()) > self._max_frame

    def _unknown(self, event_type: str) -> None:
        self._stats.unknown += 1
        if event_type not in self._unknown_logged and len(self._unknown_logged) < MAX_UNKNOWN_TYPES_LOGGED:
            self._unknown_logged.add(event_type)
            log.debug("ari_unknown_event_skipped", type=event_type)
        self._bad("unknown", event_type)

    def _malformed(self, problem: str) -> None:
        # The problem names the field at fault (msgspec does not quote values); the frame itself
        # is never logged: it carries callers' numbers.
        problem = problem[:DETAIL_LIMIT]
        self._stats.malformed += 1
        log.warning("ari_frame_malformed", problem=problem)
        self._bad("malformed", problem)

    def _bad(self, kind: str, detail: str) -> None:
        if self._on_bad_frame is None:
            return
        try:
            self._on_bad_frame(kind, detail)
        except Exception:
            log.exception("ari_bad_frame_handler_failed", kind=kind)
