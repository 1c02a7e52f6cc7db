"""The front desk: admins' presence and the calls seeking them, between the switchboard and routing.

The switchboard hands it the routing commands a session emits (``SeekAdmin``, ``Widen``,
``StopSeeking``, ``AnnounceQueue``) and every fact; it keeps the dispatcher's picture of who
is ringing, talking, wrapping up, paused or offline, and tells waiting calls when an admin
they may take becomes free.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import structlog

from ari_app.calls import commands as c
from ari_app.config import PAUSE_REASON_MAX, Settings
from ari_app.facts.fanout import FactFanout
from ari_app.facts.types import CallAnswered, LegCreated, LegEnded, LegProgress
from ari_app.routing.dispatch import Dispatcher
from ari_app.routing.strategies import Presence

log = structlog.get_logger(__name__)

LAST_ADMIN_MEMORY = 50_000  # callers remembered with the admin who last talked with them


class PresenceError(ValueError):
    """A presence change or transfer that cannot be made; the subclass says why."""


class UnknownAdmin(PresenceError):
    """The admin asked about (or for) is not in the configuration."""


class UnknownTarget(PresenceError):
    """A transfer's target admin or group is not in the configuration."""


class NotOnCall(PresenceError):
    """A transfer by an admin who is talking with nobody."""


class PresenceRefused(PresenceError):
    """A state other than available or paused; a transfer to oneself."""


class Cancellable(Protocol):
    def cancel(self) -> None: ...


Later = Callable[[float, Callable[[], None]], Cancellable]  # run this in that many seconds


def _loop_later(delay: float, fn: Callable[[], None]) -> Cancellable:
    return asyncio.get_running_loop().call_later(delay, fn)


class FrontDesk:
    def __init__(
        self,
        settings: Settings,
        dispatcher: Dispatcher,
        clock: Callable[[], datetime],
        deliver: Callable[[str, c.WaveOffered | c.AdminFree | c.TransferRequested | c.AdminEngaged], bool],
        on_change: Callable[[FrontDesk], None] | None = None,
        later: Later | None = None,
    ) -> None:
        self.settings = settings
        self.dispatcher = dispatcher
        self._clock = clock
        self._deliver = deliver
        self._last_admin: OrderedDict[str, str] = OrderedDict()  # caller number -> admin login
        self._numbers: dict[str, str] = {}  # call id -> caller number
        self._leg_admin: dict[str, tuple[str, str]] = {}  # leg id -> (admin, call id), while up
        self._wrap_timers: dict[str, Cancellable] = {}
        # Wrap-up ends on a timer: the event loop's by default, any scheduler's in tests.
        self._later = later or _loop_later
        self._on_change = on_change  # who is free, ringing, talking, paused: the gauges follow

    # ------------------------------------------------------------------ calls
    def call_started(self, call_id: str, caller_number: str, legs: Mapping[str, str] | None = None) -> None:
        """A live call; ``legs`` (leg id -> admin): those it already has, taken over from an
        earlier process (their LegCreated is not made again)."""
        self._numbers[call_id] = caller_number
        for leg_id, admin in (legs or {}).items():
            self._leg_admin[leg_id] = (admin, call_id)

    def remember(self, caller_number: str, admin: str) -> None:
        self._last_admin[caller_number] = admin
        self._last_admin.move_to_end(caller_number)
        while len(self._last_admin) > LAST_ADMIN_MEMORY:
            self._last_admin.popitem(last=False)

    @property
    def legs_followed(self) -> int:
        """Legs it follows (those up now): none once every call has ended."""
        return len(self._leg_admin)

    def last_admin(self, caller_number: str) -> str | None:
        """The admin who last talked with this number (offered first where the strategy allows)."""
        return self._last_admin.get(caller_number) if caller_number else None

    def seek(self, cmd: c.SeekAdmin) -> c.WaveOffered:
        d, now = self.dispatcher, self._clock()
        if cmd.transfer_to is not None:
            kind, target = cmd.transfer_to
            d.done(cmd.call_id)
            if kind == "admin":
                d.seek(cmd.call_id, (), (), now, only=target)
            else:
                d.seek(cmd.call_id, (target,), (), now)
        else:
            d.seek(cmd.call_id, cmd.groups, cmd.overflow, now, skill=cmd.skill, preferred=cmd.preferred)
        if cmd.widen:
            d.widen(cmd.call_id)
        if cmd.reset:
            d.reset(cmd.call_id)
        wave = d.next_wave(cmd.call_id, now, only_overflow=cmd.beside)
        self._changed()
        return c.WaveOffered(
            tuple((t.admin, t.endpoint) for t in wave.targets), wave.ring_timeout, wave.reason
        )

    def widen(self, call_id: str) -> None:
        self.dispatcher.widen(call_id)

    def stop_seeking(self, call_id: str) -> None:
        self.dispatcher.done(call_id)
        self.nudge()

    def call_finished(self, call_id: str) -> None:
        self._numbers.pop(call_id, None)
        for leg_id in [leg for leg, (_, cid) in self._leg_admin.items() if cid == call_id]:
            del self._leg_admin[leg_id]  # (its LegEnded went by unseen: the call was swept)
        if call_id in self.dispatcher.seekers:
            self.dispatcher.done(call_id)
            self.nudge()

    def announcement(self, cmd: c.AnnounceQueue) -> c.Play:
        d = self.dispatcher
        if cmd.kind == "wait":
            minutes = max(1, round(d.expected_wait(cmd.call_id, self._clock()) / 60))
            media = ["sound:queue-holdtime", f"number:{minutes}", "sound:queue-minutes"]
        else:
            pos = d.position(cmd.call_id)
            if pos <= 1:
                media = ["sound:queue-youarenext"]
            else:
                media = ["sound:queue-thereare", f"number:{pos}", "sound:queue-callswaiting"]
        media.append("sound:queue-thankyou")
        return c.Play(cmd.channel_id, cmd.playback_id, ",".join(media))

    # ------------------------------------------------------------------ facts
    def subscribe(self, fanout: FactFanout) -> None:
        fanout.subscribe(CallAnswered, self.admin_engaged)
        fanout.subscribe(LegCreated, self.leg_created)
        fanout.subscribe(LegProgress, self.leg_progress)
        fanout.subscribe(LegEnded, self.leg_ended)

    def admin_engaged(self, fact: CallAnswered) -> None:
        """The admin talks on this call now: the other calls ringing them stop (only those)."""
        ringing = {
            cid for admin, cid in self._leg_admin.values() if admin == fact.admin and cid != fact.call_id
        }
        for call_id in sorted(ringing):
            self._deliver(call_id, c.AdminEngaged(fact.admin))

    def leg_created(self, fact: LegCreated) -> None:
        if fact.call_id in self._numbers:  # a live call's (not one imported from the fallback)
            self._leg_admin[fact.leg_id] = (fact.admin, fact.call_id)

    def leg_progress(self, fact: LegProgress) -> None:
        admin, _ = self._leg_admin.get(fact.leg_id, (None, None))
        if fact.answered_at is None or admin is None:
            return
        self.dispatcher.answered(admin, fact.call_id, self._clock())
        number = self._numbers.get(fact.call_id)
        if number:
            self.remember(number, admin)
        self._changed()

    def leg_ended(self, fact: LegEnded) -> None:
        admin, _ = self._leg_admin.pop(fact.leg_id, (None, None))
        if admin is None:
            return
        d, call_id = self.dispatcher, fact.call_id
        runtime = d.admins.get(admin)
        if runtime is not None and runtime.on_call == call_id:
            d.talk_ended(admin, call_id, self._clock())
            self._schedule_wrap_end(admin)
        else:
            d.leg_ended(admin, call_id)
        self._changed()
        self.nudge()

    def _schedule_wrap_end(self, admin: str) -> None:
        old = self._wrap_timers.pop(admin, None)
        if old:
            old.cancel()
        seconds = self.dispatcher.wrap_up.total_seconds()
        if seconds <= 0:
            return
        self._wrap_timers[admin] = self._later(seconds + 0.01, partial(self._wrap_over, admin))

    def _wrap_over(self, admin: str) -> None:
        self._wrap_timers.pop(admin, None)
        self._changed()
        self.nudge()

    # ------------------------------------------------------------------ presence
    def nudge(self) -> None:
        """Tell the best waiting call of each free admin to ask again."""
        for call_id in self.dispatcher.waiting_for(self._clock()):
            self._deliver(call_id, c.AdminFree())

    def set_presence(self, login: str, state: str, reason: str | None = None) -> dict[str, Any]:
        d, now = self.dispatcher, self._clock()
        if login not in d.admins:
            raise UnknownAdmin(f"no admin {login!r}")
        if state == "paused":
            text = (reason or "paused").strip()[:PAUSE_REASON_MAX] or "paused"
            d.set_paused(login, text, now)
        elif state == "available":
            d.set_paused(login, None, now)
            if d.admins[login].wrap_until is not None:
                d.end_wrap_up(login, now)  # "ready": wrap-up ended early by the admin
        else:
            raise PresenceRefused(f"state must be 'available' or 'paused', not {state!r}")
        log.info("presence_set", admin=login, state=state)
        self._changed()
        self.nudge()
        return self.presence_of(login)

    def set_registered(self, endpoint: str, registered: bool) -> None:
        runtime = self.dispatcher.by_endpoint(endpoint)
        if runtime is None or runtime.registered == registered:
            return
        self.dispatcher.set_registered(runtime.login, registered, self._clock())
        log.info("phone_registration", admin=runtime.login, registered=registered)
        self._changed()
        if registered:
            self.nudge()

    def presence_of(self, login: str) -> dict[str, Any]:
        a = self.dispatcher.admins[login]
        now = self._clock()
        presence = a.presence(now)
        out: dict[str, Any] = {"login": login, "state": presence.value, "registered": a.registered}
        if a.paused is not None:
            out["pause_reason"] = a.paused
        if presence is Presence.WRAP_UP and a.wrap_until is not None:
            out["wrap_up_left"] = round((a.wrap_until - now).total_seconds(), 1)
        if a.on_call:
            out["call_id"] = a.on_call
        out["calls_today"] = a.state(now).calls_today
        return out

    def presences(self) -> list[dict[str, Any]]:
        return [self.presence_of(login) for login in self.dispatcher.admins]

    def counts(self) -> dict[str, int]:
        now = self._clock()
        out = {p.value: 0 for p in Presence}
        for a in self.dispatcher.admins.values():
            out[a.presence(now).value] += 1
        return out

    def waiting(self) -> int:
        return sum(1 for s in self.dispatcher.seekers.values() if s.waiting)

    def transfer(self, by: str, to: tuple[str, str]) -> str:
        """Hand the caller ``by`` is talking with to an admin or a group; the call's id."""
        d = self.dispatcher
        if by not in d.admins:
            raise UnknownAdmin(f"no admin {by!r}")
        kind, target = to
        if kind == "admin" and target not in d.admins:
            raise UnknownTarget(f"no admin {target!r}")
        if kind == "group" and target not in d.rules:
            raise UnknownTarget(f"no group {target!r}")
        if kind == "admin" and target == by:
            raise PresenceRefused("cannot transfer a call to yourself")
        call_id = d.admins[by].on_call
        if call_id is None or not self._deliver(call_id, c.TransferRequested(to, by)):
            raise NotOnCall(f"{by} is not on a call")
        return call_id

    def resolve(self, destination: str) -> tuple[str, str] | None:
        """What a phone's transfer target means: an admin's extension (the digits their endpoint
        ends with: PJSIP/admin102 is 102), an admin's login, or a group's id."""
        d = self.dispatcher
        dest = destination.strip()
        if dest in d.admins:
            return ("admin", dest)
        if dest in d.rules:
            return ("group", dest)
        if dest.isdigit():
            for a in d.admins.values():
                resource = a.endpoint.split("/", 1)[-1]
                if resource.endswith(dest) and not resource[: -len(dest)][-1:].isdigit():
                    return ("admin", a.login)
        return None

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self)

    def close(self) -> None:
        for handle in self._wrap_timers.values():
            handle.cancel()
        self._wrap_timers.clear()
