"""Who is calling, known before any phone rings: the first wave's legs carry the caller's name
when the directories answer in time, and go out without it when they do not."""

from __future__ import annotations

import pytest

from ari_app.calls import commands as c
from ari_app.calls.session import CallRouting
from ari_app.facts.types import CallerIdentified
from ari_app.people.identity import UNKNOWN, CallerIdentity, CardMatch
from tests.unit.test_call_flow import finished
from tests.unit.test_call_session import Driver, gone

NOTICE = CallRouting(notice="sound:clinic/recording-notice")
ANN = CardMatch(7, "ext-7", "Ann Smith", "self")
KID = CardMatch(8, "ext-8", "Bob Smith", "child", owner="Mother")
PATIENT = CallerIdentity("patient", (ANN,))
FAMILY = CallerIdentity("patient", (ANN, KID))
STAFF = CallerIdentity("staff", (ANN,), contact_name="Dr Who")
NUMBER = "5550001"  # what the carrier sent, name and number alike (see ``chan``)


def _names(d: Driver) -> list[str]:
    return [dict(leg.variables)["CALLERID(name)"] for leg in d.of(c.CreateLeg)]


def _shown(d: Driver) -> list[str | None]:
    """The name the phones are shown over the caller's own (the connected line's private name)."""
    return [dict(leg.variables).get("CONNECTEDLINE(priv-name,i)") for leg in d.of(c.CreateLeg)]


def _wave_held() -> Driver:
    """The first wave is offered while the directories are still being asked: it waits."""
    d = Driver(admins=2, caller_lookup=0.5)
    assert c.StartTimer("caller_lookup", 0.5) in d.commands
    assert d.of(c.Ring) and d.of(c.SeekAdmin)  # the call goes on meanwhile
    assert not d.of(c.CreateLeg)
    return d


@pytest.mark.parametrize(
    ("identity", "name", "kind", "patient_id", "cards", "in_statistics"),
    [
        (PATIENT, "Ann Smith", "patient", 7, 1, True),
        (FAMILY, NUMBER, "patient", None, 2, True),  # several cards: no one name to show
        (STAFF, "Dr Who", "staff", 7, 1, False),  # a colleague who is also a patient: the card too
        (UNKNOWN, NUMBER, "unknown", None, 0, True),
    ],
)
def test_the_held_wave_goes_out_with_what_the_directories_say(
    identity: CallerIdentity, name: str, kind: str, patient_id: int | None, cards: int, in_statistics: bool
) -> None:
    d = _wave_held()
    out = d.feed(c.CallerKnown(identity))
    assert c.CancelTimer("caller_lookup") in out
    assert _names(d) == [name, name]
    assert _shown(d) == [None if name == NUMBER else name] * 2  # nobody known: the carrier's name
    (fact,) = d.of(CallerIdentified)
    assert (fact.call_id, fact.kind, fact.patient_id, fact.patient_cards, fact.in_statistics) == (
        "call1", kind, patient_id, cards, in_statistics,
    )  # fmt: skip


def test_known_during_the_greeting_the_first_legs_carry_the_name() -> None:
    d = Driver(admins=2, routing=NOTICE, caller_lookup=0.5)
    assert [type(x).__name__ for x in d.commands] == ["StartTimer", "Answer", "Play", "StartTimer"]
    d.feed(c.CallerKnown(PATIENT))
    assert not d.of(c.CreateLeg)
    d.feed(finished(d.of(c.Play)[0].playback_id))
    assert _names(d) == ["Ann Smith", "Ann Smith"]


def test_directories_too_slow_the_legs_go_out_without_the_name_and_a_late_answer_is_still_recorded() -> None:
    d = _wave_held()
    d.feed(c.TimerFired("caller_lookup"))
    assert _names(d) == [NUMBER, NUMBER]
    late = d.feed(c.CallerKnown(STAFF))
    assert not any(isinstance(x, c.CreateLeg) for x in late)  # the legs out stay as they are
    assert len(d.of(c.CreateLeg)) == 2
    (fact,) = d.of(CallerIdentified)
    assert fact.kind == "staff" and not fact.in_statistics


def test_one_answer_per_call_and_a_stale_timer_changes_nothing() -> None:
    d = _wave_held()
    d.feed(c.CallerKnown(PATIENT))
    assert d.feed(c.CallerKnown(STAFF)) == []
    assert d.feed(c.TimerFired("caller_lookup")) == []
    assert len(d.of(CallerIdentified)) == 1 and len(d.of(c.CreateLeg)) == 2


def test_a_call_built_without_a_lookup_waits_for_nothing() -> None:
    d = Driver(admins=2)
    assert not any(x.name == "caller_lookup" for x in d.of(c.StartTimer))
    assert _names(d) == [NUMBER, NUMBER]
    d.feed(c.CallerKnown(PATIENT))  # an answer all the same is recorded
    assert len(d.of(CallerIdentified)) == 1


def test_a_caller_who_hangs_up_while_the_wave_is_held_gets_no_legs() -> None:
    d = _wave_held()
    d.feed(*gone("in"))
    d.feed(c.CallerKnown(PATIENT))
    assert not d.of(c.CreateLeg)
