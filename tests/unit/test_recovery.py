"""What a restarted process makes of a call an earlier one left open: the database's record and
Asterisk's channels and bridges in, the session's first commands out. One case a row."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from ari_app.ari import models as m
from ari_app.calls import commands as c
from ari_app.calls.recovery import Snapshot, assess, call_name, synthetic_start
from ari_app.calls.session import CallRouting, CallSession, Phase
from ari_app.facts.types import CallAnswered
from ari_app.store.records import CallRecord, LegRecord
from tests.unit.test_call_session import POLICY, chan, entered

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
NOW = T0 + timedelta(seconds=30)


def leg_row(leg_id: str, admin: str, answered: bool = False) -> LegRecord:
    return LegRecord(
        id=leg_id, admin=admin, endpoint=f"PJSIP/{admin}", created_at=T0, dialed_at=T0, ringing_at=T0,
        answered_at=T0 if answered else None, ended_at=None, result=None, cause=None,
    )  # fmt: skip


def call_row(legs: list[LegRecord], answered_by: str | None = None) -> CallRecord:
    return CallRecord(
        id="c1", channel_id="in", caller_number="5550001", caller_e164=None, caller_name="", did="5551234",
        branch="b1", ad_channel=None, started_at=T0, answered_at=T0 if answered_by else None, ended_at=None,
        wait_seconds=None, talk_seconds=None, outcome=None, admin=answered_by, hangup_side=None,
        end_cause=None, failure_reason=None, notice_played=False, topic=None, queued_at=None, transfers=0,
        callback_task_id=None, legs=legs, recordings=[],
    )  # fmt: skip


def bridge(bridge_id: str, kind: str, members: list[str]) -> m.Bridge:
    return m.Bridge(
        id=bridge_id, technology="simple_bridge", bridge_type=kind, bridge_class="stasis", creator="Stasis",
        name=call_name("c1"), channels=members, creationtime="2026-12-07T10:00:00.000+0000",
    )  # fmt: skip


@dataclass(frozen=True)
class Case:
    legs: list[LegRecord]
    channels: dict[str, str]  # channel id -> its state on Asterisk
    bridges: list[m.Bridge] = field(default_factory=list)
    answered_by: str | None = None
    recording_live: bool = False


CASES = {
    # The SIGKILL came 0.4 ms after the phone's 200: Asterisk has the leg Up, the database
    # nothing. It is put through, not hung up and rung again.
    "answered, not stored, not bridged": Case(
        [leg_row("l1", "ann")], {"in": "Ring", "l1": "Up"}, [bridge("mx", "mixing", [])]
    ),
    "answered and stored, not bridged": Case(
        [leg_row("l1", "ann", answered=True)], {"in": "Ring", "l1": "Up"}, [bridge("mx", "mixing", [])]
    ),
    "bridged and recording": Case(
        [leg_row("l1", "ann", answered=True)],
        {"in": "Up", "l1": "Up"},
        [bridge("mx", "mixing", ["in", "l1"])],
        answered_by="ann",
        recording_live=True,
    ),
    "ring-all race: both Up, the database knows ben's": Case(
        [leg_row("l1", "ann"), leg_row("l2", "ben", answered=True)],
        {"in": "Ring", "l1": "Up", "l2": "Up"},
        [bridge("mx", "mixing", [])],
    ),
    "answered from hold, not yet moved": Case(
        [leg_row("l1", "ann")],
        {"in": "Up", "l1": "Up"},
        [bridge("hold", "holding", ["in"]), bridge("mx", "mixing", [])],
    ),
    "still ringing": Case(
        [leg_row("l1", "ann"), leg_row("l2", "ben")], {"in": "Ring", "l1": "Ringing", "l2": "Ringing"}
    ),
    "caller gone": Case([leg_row("l1", "ann")], {"l1": "Up"}),
}

EXPECTED = {
    # case: (winner, phase after, commands that must be there, legs hung up)
    "answered, not stored, not bridged": (
        "l1",
        Phase.CONNECTING,
        [c.Answer("in"), c.AddToBridge("mx", ("in", "l1"))],
        [],
    ),
    "answered and stored, not bridged": (
        "l1",
        Phase.CONNECTING,
        [c.Answer("in"), c.AddToBridge("mx", ("in", "l1"))],
        [],
    ),
    "bridged and recording": ("l1", Phase.CONNECTED, [], []),
    "ring-all race: both Up, the database knows ben's": (
        "l2",
        Phase.CONNECTING,
        [c.AddToBridge("mx", ("in", "l2"))],
        ["l1"],
    ),
    "answered from hold, not yet moved": (
        "l1",
        Phase.CONNECTING,
        [c.DestroyBridge("hold"), c.AddToBridge("mx", ("in", "l1"))],
        [],
    ),
    "still ringing": (None, Phase.OFFERING, [c.Ring("in")], ["l1", "l2"]),
    "caller gone": ("l1", Phase.ENDING, [], ["l1"]),
}


@pytest.mark.parametrize("name", CASES, ids=list(CASES))
def test_a_call_left_open_is_taken_over_as_asterisk_has_it(name: str) -> None:
    case = CASES[name]
    record = call_row(case.legs, case.answered_by)
    channels = {cid: chan(cid, state) for cid, state in case.channels.items()}
    snap = Snapshot(frozenset(channels), channels, {b.id: b for b in case.bridges}, boot="t0")
    found = assess(record, snap, recording_live=case.recording_live)
    winner, phase, wanted, hung_up = EXPECTED[name]
    assert found.winner == winner
    ids = (f"id{n}" for n in itertools.count())
    session = CallSession(
        call_id="c1", start=synthetic_start(record, snap), did="5551234", branch="b1", ad_channel=None,
        routing=CallRouting(), policy=POLICY, new_id=lambda: next(ids), now=NOW,
    )  # fmt: skip
    step = session.resume(found, NOW)
    assert session.phase is phase
    for command in wanted:
        assert command in step.commands, (command, step.commands)
    assert sorted(x.channel_id for x in step.commands if isinstance(x, c.Hangup)) == hung_up
    if phase is Phase.CONNECTING:
        # Answered once put through: the bridge's ChannelEnteredBridge or addChannel's reply.
        assert session.answered_at is None and not any(isinstance(f, CallAnswered) for f in step.facts)
        assert winner is not None
        done = session.handle(entered("mx", "in", winner), NOW)
        assert [f.admin for f in done.facts if isinstance(f, CallAnswered)] == [
            next(leg.admin for leg in case.legs if leg.id == winner)
        ]
        assert any(isinstance(x, c.RecordBridge) for x in done.commands)
    if name == "bridged and recording":
        assert session.answered_at == T0 and not step.commands
