"""Ids, names and timestamps shaped as Asterisk 22 makes them."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

ASTERISK_ID = "02:fc:00:00:00:01"


def timestamp(epoch: float | None = None) -> str:
    """``2026-11-22T10:55:24.782+0000``: milliseconds, +0000 with no colon."""
    dt = datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def new_uuid() -> str:
    return str(uuid.uuid4())


class IdAllocator:
    """Channel ids ``<unix seconds>.<global counter>`` and per-technology name counters.

    The unique-id counter is global and also used by internal channels (a Recorder or
    Announcer pair takes two numbers), so the ids an app sees have gaps. chan_pjsip names its
    channels with its own hex counter; the bridge media channels (Recorder/Announcer) share
    another one. The counters survive a simulated restart, as the spec of the fault asks.

    The CDR engine numbers records with one global ``sequence``: every channel gets a CDR as
    it is made, even a disabled one (cdr.conf ``channeldefaultenabled = no``), and a caller
    takes one more for each further party it dials and for the record after a Dial; so the
    numbers a call's records show have gaps (0, 4, 5 on Asterisk 22.10.1:
    tests/data/fallback-cdr-asterisk-22.10.1.csv).
    """

    def __init__(self) -> None:
        self._unique = 0
        self._pjsip = 0
        self._media = 0
        self._local = 0
        self._sip_calls = 0
        self._cdr = 0
        self.last_cdr_sequence = -1  # the CDR sequence of the channel channel_id() made last

    def channel_id(self) -> str:
        value = f"{int(time.time())}.{self._unique}"
        self._unique += 1
        self.last_cdr_sequence = self.cdr_sequence()
        return value

    def cdr_sequence(self) -> int:
        value = self._cdr
        self._cdr += 1
        return value

    def skip(self, n: int) -> None:
        self._unique += n

    def pjsip_name(self, resource: str) -> str:
        value = f"PJSIP/{resource}-{self._pjsip:08x}"
        self._pjsip += 1
        return value

    def media_pair(self, tech: str, data: str = "ARI") -> tuple[str, str]:
        """An unreal pair (``Recorder/ARI-00000000;1`` and ``;2``): the ``;2`` half joins the
        bridge. Returns that half's id and name; both halves consume unique-id numbers."""
        self.skip(1)
        member_id = self.channel_id()
        name = f"{tech}/{data}-{self._media:08x};2"
        self._media += 1
        return member_id, name

    def local_pair(self, exten: str, context: str) -> tuple[str, str, str]:
        """A Local channel pair (chan_local's own name counter): ids of ``;1`` and ``;2``, and the
        name without the ``;1``/``;2`` suffix, ``Local/102@admins-00000000``."""
        first, second = self.channel_id(), self.channel_id()
        name = f"Local/{exten}@{context}-{self._local:08x}"
        self._local += 1
        return first, second, name

    def sip_call_id(self) -> str:
        """A caller's Call-ID in SIPp's ``<n>-<pid>@<host>`` style (the trunk leg's protocol_id)."""
        self._sip_calls += 1
        return f"{self._sip_calls}-{14600 + self._sip_calls}@127.0.0.1"
