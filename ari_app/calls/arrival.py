"""What the configuration asks of a call when it arrives: its branch, groups, prompts, hours.

Pure: the settings, the DID and the time in; a ``CallRouting`` and the groups to seek in out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ari_app.calls.state import CallRouting
from ari_app.config import Branch, Did, Settings
from ari_app.routing.dispatch import AdminRuntime, Dispatcher, GroupRule
from ari_app.routing.hours import status


@dataclass(frozen=True)
class Arrival:
    branch: Branch | None
    did: Did | None
    groups: tuple[str, ...]  # offered first
    overflow: tuple[str, ...]  # joined after overflow_after seconds
    routing: CallRouting


def arrival(settings: Settings, did_number: str, now: datetime) -> Arrival:
    found = settings.branch_for_did(did_number)
    calls = settings.calls
    if found is None:
        return Arrival(None, None, (), (), CallRouting(open=False, closed_reason="unknown_did"))
    branch, did = found
    groups = tuple(settings.groups_for(branch, did))
    rules = [g for g in (settings.group(gid) for gid in groups) if g is not None]
    overflow = tuple(dict.fromkeys(o for g in rules for o in g.overflow_to if o not in groups))
    due = calls.callback_due_minutes * 60.0
    if not rules:
        return Arrival(branch, did, (), (), CallRouting(open=False, closed_reason="no_groups"))
    schedule = branch.schedule
    if schedule is not None:
        st = status(schedule, now)
        if not st.open:
            media = [branch.closed_message]
            if st.next_open is not None:
                media += opening_media(st.next_open.astimezone(schedule.zone))
            media.append(branch.callback_message)
            routing = CallRouting(
                open=False,
                closed_reason=st.reason,
                closed_media=tuple(media),
                next_open=st.next_open,
                callback_media=branch.callback_message,
                callback_due=due,
            )
            return Arrival(branch, did, groups, overflow, routing)
    first = rules[0]
    menu = did.menu
    topics = {t.id: t for t in settings.topics}
    routing = CallRouting(
        notice=branch.recording_notice if branch.record and branch.recording_notice else None,
        menu_prompt=menu.prompt if menu else None,
        menu={topics[t].digit: t for t in menu.topics} if menu else {},
        menu_timeout=menu.timeout if menu else 5.0,
        callback_media=branch.callback_message,
        callback_due=due,
        overflow_after=min((g.overflow_after for g in rules if g.overflow_to), default=None)
        if overflow
        else None,
        max_wait=max(g.max_wait for g in rules),
        announce=first.announce,
        announce_every=first.announce_every,
        moh_class=first.moh_class,
        groups=groups,
        overflow=overflow,
        skills={t.id: t.needs for t in settings.topics},
    )
    return Arrival(branch, did, groups, overflow, routing)


def opening_media(local: datetime) -> list[str]:
    """'We open again on <weekday> at <time>' from Asterisk's stock sounds (digits/day-0 is Sunday)."""
    day = (local.weekday() + 1) % 7
    hour12 = local.hour % 12 or 12
    out = ["sound:clinic/we-open", f"sound:digits/day-{day}", f"number:{hour12}"]
    if local.minute:
        out.append(f"number:{local.minute}" if local.minute >= 10 else f"digits:0{local.minute}")
    out.append("sound:digits/a-m" if local.hour < 12 else "sound:digits/p-m")
    return out


def build_dispatcher(settings: Settings) -> Dispatcher:
    rules = [
        GroupRule(
            g.id,
            g.strategy,
            g.priority,
            g.ring_timeout or settings.calls.ring_timeout,
            g.prefer_last_admin,
        )
        for g in settings.groups
    ]
    # Each group's members once (by login): asked per admin and group, a chain of 500 branches
    # and 1,000 admins took minutes to start.
    members = {g.id: {a.login for a in settings.members(g.id)} for g in settings.groups}
    admins = []
    for a in settings.admins:
        groups = tuple(g.id for g in settings.groups if a.login in members[g.id])
        admins.append(AdminRuntime(a.login, a.endpoint, groups, frozenset(a.skills), a.order))
    return Dispatcher(rules, admins, wrap_up=settings.calls.wrap_up)
