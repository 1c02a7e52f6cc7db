"""Who takes which call now: admins' presence, calls seeking an admin, and the queue between them.

In memory and synchronous: the switchboard feeds it what happens (legs ringing and ending,
calls answered and ended, pauses, phones registering) and asks it for the next wave of a call.
No I/O and no clock reads: every method that needs the time takes it.

The queue's rule: a free admin goes to the waiting call that has waited longest among the
calls of their groups with the highest priority. A call seeking an admin is not offered an
admin that a call ahead of it in that order is waiting for; so a new call never jumps the
queue, and the next free admin is given the longest-waiting caller.

Rounds: each wave's admins are remembered as tried; when every eligible admin has been tried
without an answer, the call waits (``all_tried``) until ``reset`` starts a new round.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ari_app.routing.plan import Target
from ari_app.routing.strategies import AdminState, Presence, Strategy, offer

AVERAGE_TALK_START = 180.0  # seconds, the expected-wait estimate's first guess


@dataclass(frozen=True)
class GroupRule:
    id: str
    strategy: Strategy
    priority: int
    ring_timeout: int
    prefer_last_admin: bool = True


@dataclass
class AdminRuntime:
    login: str
    endpoint: str
    groups: tuple[str, ...]
    skills: frozenset[str] = frozenset()
    order: int = 0
    paused: str | None = None  # the reason, while paused
    registered: bool = True
    on_call: str | None = None  # the call they are talking on
    ringing: str | None = None  # the call whose leg is ringing them
    wrap_until: datetime | None = None
    last_call_ended: datetime | None = None
    calls_today: int = 0
    calls_day: date | None = None
    changed_at: datetime | None = None

    def presence(self, now: datetime) -> Presence:
        if not self.registered:
            return Presence.OFFLINE
        if self.on_call is not None:
            return Presence.ON_CALL
        if self.ringing is not None:
            return Presence.RINGING
        if self.wrap_until is not None and now < self.wrap_until:
            return Presence.WRAP_UP
        if self.paused is not None:
            return Presence.PAUSED
        return Presence.AVAILABLE

    def state(self, now: datetime) -> AdminState:
        calls = self.calls_today if self.calls_day == now.date() else 0
        return AdminState(
            self.login, self.endpoint, self.order, self.presence(now), self.last_call_ended, calls
        )


@dataclass
class Seeker:
    """A call looking for an admin, from its routing start until answered or given up."""

    call_id: str
    groups: list[str]  # eligible now, in the order they are tried
    overflow: list[str]  # added by ``widen``
    skill: str | None
    preferred: str | None
    since: datetime
    only: str | None = None  # a transfer to one admin: nobody else
    tried: set[str] = field(default_factory=set)
    ringing: set[str] = field(default_factory=set)
    widened: bool = False

    @property
    def waiting(self) -> bool:
        return not self.ringing


@dataclass(frozen=True)
class Wave:
    targets: tuple[Target, ...]
    group: str | None = None
    ring_timeout: int = 20
    # Why nobody: no_admins (none in the eligible groups), nobody_logged_in (every phone
    # offline), all_busy (on calls, ringing, wrap-up, paused, or promised to earlier callers),
    # all_tried (this round rang everyone free without an answer). None with targets.
    reason: str | None = None


class Dispatcher:
    def __init__(
        self,
        groups: Sequence[GroupRule],
        admins: Sequence[AdminRuntime],
        *,
        wrap_up: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self.rules = {g.id: g for g in groups}
        self.admins = {a.login: a for a in admins}
        self.wrap_up = timedelta(seconds=wrap_up)
        self.seekers: dict[str, Seeker] = {}
        self._members: dict[str, list[AdminRuntime]] = {g.id: [] for g in groups}
        for a in admins:
            for g in a.groups:
                self._members.setdefault(g, []).append(a)
        self._last_offered: dict[str, str] = {}  # group -> first admin of its last wave
        self._rng = rng or random.Random()
        self._talk_avg = AVERAGE_TALK_START

    # ------------------------------------------------------------------ calls
    def seek(
        self,
        call_id: str,
        groups: Iterable[str],
        overflow: Iterable[str],
        now: datetime,
        *,
        skill: str | None = None,
        preferred: str | None = None,
        only: str | None = None,
    ) -> Seeker:
        seeker = self.seekers.get(call_id)
        if seeker is None:
            seeker = Seeker(call_id, list(groups), list(overflow), skill, preferred, now, only)
            self.seekers[call_id] = seeker
        return seeker

    def widen(self, call_id: str) -> bool:
        """Add the overflow groups to a call's eligible groups; False when there were none."""
        s = self.seekers.get(call_id)
        if s is None or s.widened:
            return False
        s.widened = True
        added = [g for g in s.overflow if g not in s.groups]
        s.groups.extend(added)
        return bool(added)

    def reset(self, call_id: str) -> None:
        s = self.seekers.get(call_id)
        if s is not None:
            s.tried.clear()

    def done(self, call_id: str) -> None:
        """The call no longer seeks: answered, given up, or ended."""
        s = self.seekers.pop(call_id, None)
        if s is None:
            return
        for login in s.ringing:
            a = self.admins.get(login)
            if a is not None and a.ringing == call_id:
                a.ringing = None

    def next_wave(self, call_id: str, now: datetime, *, only_overflow: bool = False) -> Wave:
        """The call's next admins to ring; ``only_overflow``: from its overflow groups alone (they
        join while a wave of its own groups still rings)."""
        s = self.seekers.get(call_id)
        if s is None:
            return Wave((), reason="no_admins")
        if s.only is not None:
            return self._direct(s, now)
        claims = self._claims(exclude=call_id)
        members_seen = anyone_online = False
        for gid in s.overflow if only_overflow else s.groups:
            rule = self.rules.get(gid)
            if rule is None:
                continue
            members = self._members.get(gid, [])
            members_seen = members_seen or bool(members)
            anyone_online = anyone_online or any(a.registered for a in members)
            free: list[AdminRuntime] = []
            for a in members:
                if a.login in s.tried or a.presence(now) is not Presence.AVAILABLE:
                    continue
                claim = self._best_claim(a, claims)
                if claim is not None and claim < (-rule.priority, s.since):
                    continue  # promised to a caller who has waited longer
                free.append(a)
            if not free:
                continue
            if s.skill is not None:
                free = [a for a in free if s.skill in a.skills] or free
            picked = offer(
                rule.strategy,
                [a.state(now) for a in free],
                last_offered=self._last_offered.get(gid),
                preferred=s.preferred if rule.prefer_last_admin else None,
                rng=self._rng,
            )
            if picked.waves:
                wave = picked.waves[0]
                self._last_offered[gid] = wave[0].admin
                return self._ring(s, wave, gid, rule.ring_timeout)
        if not members_seen:
            return Wave((), reason="no_admins")
        if not anyone_online:
            return Wave((), reason="nobody_logged_in")
        tried_free = any(
            self.admins[x].presence(now) is Presence.AVAILABLE for x in s.tried if x in self.admins
        )
        return Wave((), reason="all_tried" if tried_free else "all_busy")

    def _direct(self, s: Seeker, now: datetime) -> Wave:
        """A transfer to one admin: them or nobody."""
        a = self.admins.get(s.only or "")
        if a is None:
            return Wave((), reason="no_admins")
        presence = a.presence(now)
        if presence is Presence.AVAILABLE and a.login not in s.tried:
            rule = next((self.rules[g] for g in a.groups if g in self.rules), None)
            return self._ring(s, (a.state(now).target,), None, rule.ring_timeout if rule else 20)
        if presence is Presence.OFFLINE:
            return Wave((), reason="nobody_logged_in")
        return Wave((), reason="all_tried" if a.login in s.tried else "all_busy")

    def _ring(self, s: Seeker, wave: tuple[Target, ...], gid: str | None, timeout: int) -> Wave:
        for t in wave:
            s.tried.add(t.admin)
            s.ringing.add(t.admin)
            self.admins[t.admin].ringing = s.call_id
        return Wave(wave, gid, timeout)

    # ------------------------------------------------------------------ the queue
    def _claims(self, exclude: str | None = None) -> dict[str, tuple[int, datetime]]:
        """Per group: the best claim of a waiting call, as (-priority, since)."""
        best: dict[str, tuple[int, datetime]] = {}
        for s in self.seekers.values():
            if s.call_id == exclude or not s.waiting or s.only is not None:
                continue
            for gid in s.groups:
                rule = self.rules.get(gid)
                if rule is None:
                    continue
                key = (-rule.priority, s.since)
                if gid not in best or key < best[gid]:
                    best[gid] = key
        return best

    @staticmethod
    def _best_claim(a: AdminRuntime, claims: dict[str, tuple[int, datetime]]) -> tuple[int, datetime] | None:
        keys = [claims[g] for g in a.groups if g in claims]
        return min(keys) if keys else None

    def waiting_for(self, now: datetime) -> list[str]:
        """Waiting calls that a free admin could take now, best first: the switchboard nudges them.

        An admin a call already rang this round (and who did not answer) is not owed to it
        again until its next round."""
        claims: dict[str, list[tuple[int, datetime, str]]] = {}
        for s in self.seekers.values():
            if not s.waiting:
                continue
            for gid in s.groups:
                rule = self.rules.get(gid)
                if rule is not None:
                    claims.setdefault(gid, []).append((-rule.priority, s.since, s.call_id))
        if not claims:
            return []
        for queue in claims.values():
            queue.sort()
        out: list[str] = []
        for a in self.admins.values():
            if a.presence(now) is not Presence.AVAILABLE:
                continue
            best: tuple[int, datetime, str] | None = None
            for g in a.groups:
                for claim in claims.get(g, ()):
                    if a.login not in self.seekers[claim[2]].tried:
                        if best is None or claim < best:
                            best = claim
                        break
            if best is not None and best[2] not in out:
                out.append(best[2])
        return out

    def position(self, call_id: str) -> int:
        """1 + the waiting calls ahead of this one in any of its groups."""
        s = self.seekers.get(call_id)
        if s is None:
            return 0
        mine = {g: (-self.rules[g].priority, s.since) for g in s.groups if g in self.rules}
        ahead = 0
        for other in self.seekers.values():
            if other.call_id == call_id or not other.waiting:
                continue
            for g in other.groups:
                if g in mine and (-self.rules[g].priority, other.since) < mine[g]:
                    ahead += 1
                    break
        return ahead + 1

    def expected_wait(self, call_id: str, now: datetime) -> float:
        """Seconds: the calls ahead, times the recent average talk time, shared by the admins on duty."""
        s = self.seekers.get(call_id)
        if s is None:
            return 0.0
        staff = {
            a.login for g in s.groups for a in self._members.get(g, []) if a.registered and a.paused is None
        }
        return self.position(call_id) * self._talk_avg / max(1, len(staff))

    # ------------------------------------------------------------------ admins
    def leg_ended(self, login: str, call_id: str) -> None:
        a = self.admins.get(login)
        s = self.seekers.get(call_id)
        if s is not None:
            s.ringing.discard(login)
        if a is not None and a.ringing == call_id:
            a.ringing = None

    def answered(self, login: str, call_id: str, now: datetime) -> None:
        a = self.admins.get(login)
        if a is None:
            return
        if a.ringing == call_id:
            a.ringing = None
        a.on_call = call_id
        a.changed_at = now
        for s in self.seekers.values():  # a new call: calls that rang them may ring them again
            s.tried.discard(login)
        if a.calls_day != now.date():
            a.calls_day, a.calls_today = now.date(), 0
        a.calls_today += 1

    def talk_ended(self, login: str, call_id: str, now: datetime, talk_seconds: float | None = None) -> None:
        a = self.admins.get(login)
        if a is None or a.on_call != call_id:
            return
        a.on_call = None
        a.last_call_ended = now
        a.wrap_until = now + self.wrap_up if self.wrap_up else None
        a.changed_at = now
        if talk_seconds is not None and talk_seconds > 0:
            self._talk_avg = 0.9 * self._talk_avg + 0.1 * talk_seconds

    def set_paused(self, login: str, reason: str | None, now: datetime) -> None:
        a = self.admins[login]
        a.paused = reason
        a.changed_at = now

    def set_registered(self, login: str, registered: bool, now: datetime) -> None:
        a = self.admins[login]
        if a.registered != registered:
            a.registered = registered
            a.changed_at = now

    def end_wrap_up(self, login: str, now: datetime) -> None:
        a = self.admins[login]
        a.wrap_until = None
        a.changed_at = now

    def by_endpoint(self, endpoint: str) -> AdminRuntime | None:
        return next((a for a in self.admins.values() if a.endpoint == endpoint), None)
