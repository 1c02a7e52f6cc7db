"""Who is calling, asked of the directories as a call arrives, beside the call and never in its way.

The lookup runs in its own task while the call is answered and greeted; the call waits for it
only before its first wave of legs, and no longer than ``timeout``: a directory that is slow or
failing means an unknown caller (and a warning), never a caller kept from the phones.
"""

from __future__ import annotations

import asyncio

import structlog

from ari_app.numbers import Regions
from ari_app.people.identity import UNKNOWN, CallerDirectory, CallerIdentity

log = structlog.get_logger(__name__)

LOOKUP_TIMEOUT = 0.5  # seconds: the first wave waits no longer for the caller's name


class NobodyKnown:
    """The directory of an app built without one: every caller is unknown."""

    async def identify(self, number_e164: str) -> CallerIdentity:
        return UNKNOWN


class CallerLookup:
    """The caller's number read as dialled at the call's branch, then asked of the directory,
    within ``timeout`` seconds."""

    def __init__(self, directory: CallerDirectory, regions: Regions, timeout: float = LOOKUP_TIMEOUT) -> None:
        self.directory = directory
        self.regions = regions
        self.timeout = timeout

    async def identify(self, number: str, branch: str | None) -> CallerIdentity:
        e164 = self.regions.to_e164(number, branch)
        if e164 is None:  # withheld, "anonymous", junk: nobody to look up
            return UNKNOWN
        try:
            async with asyncio.timeout(self.timeout):
                return await self.directory.identify(e164)
        except TimeoutError:
            log.warning("caller_lookup_slow", timeout=self.timeout, branch=branch)
        except Exception as exc:
            # Only the type: a database error's text may quote the number.
            log.warning("caller_lookup_failed", error=type(exc).__name__, branch=branch)
        return UNKNOWN
