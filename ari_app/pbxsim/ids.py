"""Ids and timestamps shaped as Asterisk 22 makes them."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

ASTERISK_ID = "02:fc:00:00:00:01"


def timestamp(epoch: float | None = None) -> str:
    """``2026-11-22T10:55:24.782+0000``: milliseconds, +0000 with no colon."""
    dt = datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


class IdAllocator:
    """Channel ids ``<unix seconds>.<global counter>``, names ``PJSIP/<ep>-<8 hex counter>``."""

    def __init__(self) -> None:
        self._unique = 0
        self._name = 0

    def channel_id(self) -> str:
        value = f"{int(time.time())}.{self._unique}"
        self._unique += 1
        return value

    def skip(self, n: int) -> None:
        """Internal channels (the Recorder pair) use counter numbers too, leaving gaps."""
        self._unique += n

    def channel_name(self, tech: str, resource: str) -> str:
        value = f"{tech}/{resource}-{self._name:08x}"
        self._name += 1
        return value

    @staticmethod
    def uuid() -> str:
        return str(uuid.uuid4())
