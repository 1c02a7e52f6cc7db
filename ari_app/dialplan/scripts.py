"""The AGI scripts the dialplan calls: what each answers, as the commands to send.

A script decides from the request header (and, for the caller's name, one bounded lookup); the
server then sends its commands. A script never raises: a failed lookup answers nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from ari_app.config import Settings
from ari_app.dialplan.lookup import NameLookup
from ari_app.dialplan.protocol import AgiRequest, clean, set_variable
from ari_app.routing.hours import status

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class ScriptAnswer:
    result: str  # a metric label: "known", "open", "timeout", ...
    commands: tuple[str, ...]


class CallerName:
    """``caller-name``: sets ``CALLERID(name)`` from earlier calls, and ``CLINIC_KNOWN`` 1 or 0."""

    def __init__(
        self,
        lookup: NameLookup | None,
        timeout: float,
        branch_of: Callable[[str], str | None] = lambda _did: None,
    ) -> None:
        self._lookup = lookup
        self._timeout = timeout
        self._branch_of = branch_of  # the DID's branch: its region reads the caller's number

    async def __call__(self, request: AgiRequest) -> ScriptAnswer:
        number = request.get("callerid")
        # Asterisk sends "unknown" for a call without a number; withheld numbers come as "anonymous".
        if sum(ch.isdigit() for ch in number) < 3 or len(number) > 64:
            return ScriptAnswer("no_number", (set_variable("CLINIC_KNOWN", "0"),))
        if self._lookup is None:
            return ScriptAnswer("unknown", (set_variable("CLINIC_KNOWN", "0"),))
        try:
            async with asyncio.timeout(self._timeout):
                found = await self._lookup.name_for(number, self._branch(request))
        except TimeoutError:
            log.warning("fastagi_lookup_timeout", caller=number, timeout=self._timeout)
            return ScriptAnswer("timeout", ())
        except Exception as exc:
            # Only the type: a database error's text may quote the number or a name.
            log.warning("fastagi_lookup_failed", caller=number, error=type(exc).__name__)
            return ScriptAnswer("error", ())
        name = clean(found or "")
        if not name:
            return ScriptAnswer("unknown", (set_variable("CLINIC_KNOWN", "0"),))
        known = (set_variable("CALLERID(name)", name), set_variable("CLINIC_KNOWN", "1"))
        return ScriptAnswer("known", known)

    def _branch(self, request: AgiRequest) -> str | None:
        dids = (request.get("dnid"), request.get("extension"))
        return next((b for b in (self._branch_of(d) for d in dids if d and d != "unknown") if b), None)


class BranchOpen:
    """``branch-open``: the branch of the dialled DID and whether it is open now.

    Sets ``CLINIC_OPEN`` (1 or 0), ``CLINIC_CLOSED_REASON`` (closed_hours, holiday, unknown_did;
    empty while open) and ``CLINIC_BRANCH`` (the branch id; empty for an unknown DID).
    """

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock

    async def __call__(self, request: AgiRequest) -> ScriptAnswer:
        dids = [d for d in (request.get("dnid"), request.get("extension")) if d and d != "unknown"]
        found = next((f for f in map(self._settings.branch_for_did, dids) if f is not None), None)
        if found is None:
            log.warning("fastagi_unknown_did", dids=[d[:32] for d in dids])
            return ScriptAnswer("unknown_did", _answer(False, "unknown_did", ""))
        branch = found[0]
        schedule = branch.schedule
        if schedule is None:  # no [hours]: always open
            return ScriptAnswer("open", _answer(True, "", branch.id))
        now = status(schedule, self._clock())
        reason = "" if now.open else now.reason
        return ScriptAnswer(now.reason, _answer(now.open, reason, branch.id))


def _answer(is_open: bool, reason: str, branch: str) -> tuple[str, ...]:
    return (
        set_variable("CLINIC_OPEN", "1" if is_open else "0"),
        set_variable("CLINIC_CLOSED_REASON", reason),
        set_variable("CLINIC_BRANCH", branch),
    )
