"""The generated calls: who calls which number, what every phone does, and how the caller acts.

Pure: the settings, a seeded ``random.Random`` and the time in; ``PlannedCall`` values out. Each
call carries its own script for every admin phone (the simulator applies it to the legs made for
that call only), so overlapping calls never change how another call ends. Every call ends by
itself: the caller or the phone hangs up after the talk, or the app gives up on it (its queue's
maximum wait, the closed message, an unknown number).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ari_app.config import Branch, Did, Settings
from ari_app.routing.hours import status

UNKNOWN_DID = "5559999"  # belongs to no branch: the app plays its failure message


@dataclass(frozen=True)
class PlannedCall:
    kind: str  # answer | race | nobody | abandon | closed | unknown_number
    caller: str
    did: str
    phones: dict[str, dict[str, Any]]  # phone name -> its script for this call
    hangup_after: float | None = None  # the caller ends the talk this long after being bridged
    abandon_after: float | None = None  # the caller gives up if nobody took the call by then
    press: dict[str, Any] | None = None  # keys pressed after the app answers (a topic menu)
    extra: dict[str, Any] = field(default_factory=dict)

    def control_body(self) -> dict[str, Any]:
        """The simulator's ``POST /control/calls`` body."""
        body: dict[str, Any] = {"caller": self.caller, "did": self.did, "phones": self.phones}
        for key in ("hangup_after", "abandon_after", "press"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        return body


@dataclass(frozen=True)
class _Line:
    did: Did
    open: bool
    desk: tuple[str, ...]  # the phones of the groups offered its calls first


class CallMix:
    """Draws calls: mostly to open lines, each call's kind by weight."""

    # kind -> weight. "race": the chosen phone answers just as the caller is about to give up.
    WEIGHTS = {"answer": 50, "race": 4, "nobody": 16, "abandon": 17, "unknown_number": 5, "closed": 8}

    def __init__(self, settings: Settings, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.phones = sorted(_phone(a.endpoint) for a in settings.admins if a.endpoint.startswith("PJSIP/"))
        self.topic_digits = {t.id: t.digit for t in settings.topics}
        lines = [
            _Line(d, _is_open(b, now), _desk(settings, b, d))
            for b in settings.branches
            for d in b.dids
            if settings.groups_for(b, d)
        ]
        self.open_lines = [line for line in lines if line.open]
        self.closed_lines = [line for line in lines if not line.open]
        # A few callers call again and again: their missed calls share one callback task, and a
        # known caller's last admin is offered first.
        self.regulars = [f"202555{rng.randrange(1000, 9999)}" for _ in range(12)]

    def next_call(self) -> PlannedCall:
        kinds = [k for k in self.WEIGHTS if self._possible(k)]
        kind = self.rng.choices(kinds, weights=[self.WEIGHTS[k] for k in kinds])[0]
        caller = self.rng.choice(self.regulars) if self.rng.random() < 0.3 else self._new_number()
        if kind == "unknown_number":
            return PlannedCall(kind, caller, UNKNOWN_DID, self._scripts(None))
        if kind == "closed":
            line = self.rng.choice(self.closed_lines)
            return PlannedCall(kind, caller, line.did.number, self._scripts(None))
        line = self.rng.choice(self.open_lines)
        press = self._press(line.did)
        if kind in ("answer", "race"):
            return self._answered(kind, caller, line, press)
        if kind == "nobody":
            return PlannedCall(kind, caller, line.did.number, self._scripts(None, busy=0.3), press=press)
        # Gives up at any moment: in the notice, the menu, while phones ring or on hold.
        abandon = round(self.rng.uniform(0.3, 16.0), 2)
        return PlannedCall(
            kind, caller, line.did.number, self._scripts(None), abandon_after=abandon, press=press
        )

    def _possible(self, kind: str) -> bool:
        if kind == "closed":
            return bool(self.closed_lines)
        if kind == "unknown_number":
            return True
        return bool(self.open_lines and self.phones)

    def _answered(self, kind: str, caller: str, line: _Line, press: dict[str, Any] | None) -> PlannedCall:
        rng = self.rng
        # Mostly someone at the number's own desk picks up; else someone only overflow or a
        # transfer reaches. Others rung may pick up too (a ring-all race: one wins, the rest
        # are hung up), and one of those who pick up may end the talk before the caller does.
        winner = rng.choice(line.desk if line.desk and rng.random() < 0.8 else self.phones)
        answer_after = round(rng.uniform(0.3, 3.0), 2)
        phones = self._scripts(winner, answer_after=answer_after)
        for name in self.phones:
            if name != winner and rng.random() < 0.5:
                phones[name] = {"behaviour": "answer", "answer_after": round(rng.uniform(0.3, 4.0), 2)}
        if rng.random() < 0.15:  # another phone answers within 50 ms of the first
            close = round(answer_after + rng.uniform(0, 0.05), 3)
            phones[rng.choice(self.phones)] = {"behaviour": "answer", "answer_after": close}
        if rng.random() < 0.35:
            for script in phones.values():
                if script["behaviour"] == "answer":
                    script["hangup_after"] = round(rng.uniform(1.5, 6.0), 2)
        # "race": the caller gives up about when a phone answers (when the phone starts ringing
        # is not known here, so that moment lands before, at or after the answer).
        abandon = round(rng.uniform(0.5, 6.0), 2) if kind == "race" else None
        # Some talk long: their admins have time to pause, drop off or hand them on.
        talk = round(rng.uniform(10.0, 25.0) if rng.random() < 0.25 else rng.uniform(1.5, 8.0), 2)
        return PlannedCall(
            kind, caller, line.did.number, phones, hangup_after=talk, abandon_after=abandon, press=press
        )

    def _scripts(
        self, winner: str | None, *, busy: float = 0.2, **answer: float | None
    ) -> dict[str, dict[str, Any]]:
        scripts: dict[str, dict[str, Any]] = {}
        for name in self.phones:
            if name == winner:
                scripts[name] = {"behaviour": "answer", **{k: v for k, v in answer.items()}}
            else:
                scripts[name] = {"behaviour": "busy" if self.rng.random() < busy else "no_answer"}
        return scripts

    def _press(self, did: Did) -> dict[str, Any] | None:
        menu = did.menu
        if menu is None or self.rng.random() < 0.2:
            return None  # no menu, or the caller waits it out
        digits = [self.topic_digits[t] for t in menu.topics if t in self.topic_digits]
        digit = self.rng.choice(digits) if digits and self.rng.random() < 0.85 else "9"
        return {"digits": digit, "after": round(self.rng.uniform(0.3, 2.5), 2)}

    def _new_number(self) -> str:
        return f"20255{self.rng.randrange(10000, 99999)}"


def _phone(endpoint: str) -> str:
    return endpoint.split("/", 1)[1]


def _desk(settings: Settings, branch: Branch, did: Did) -> tuple[str, ...]:
    members = {a.endpoint for g in settings.groups_for(branch, did) for a in settings.members(g)}
    return tuple(sorted(_phone(e) for e in members if e.startswith("PJSIP/")))


def _is_open(branch: Branch, now: datetime) -> bool:
    schedule = branch.schedule
    return schedule is None or status(schedule, now).open
