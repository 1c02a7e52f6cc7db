"""The screen-pop's board: each fact and the deltas it makes; who sees which call; the card."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ari_app.auth.principal import Principal
from ari_app.facts.types import (
    CallAnswered,
    CallEnded,
    CallerIdentified,
    CallQueued,
    CallStarted,
    CallTransferred,
    Fact,
    LegCreated,
    LegEnded,
    TopicChosen,
)
from ari_app.numbers import Regions
from ari_app.people.views import PatientView, PolicyView, VisitsView
from ari_app.screenpop.board import Board, Names, apply, card_read, reposition, snapshot, waiting
from ari_app.screenpop.cards import age_on, card_of
from ari_app.screenpop.console import Heartbeat, SnapshotAsked, parse_message

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NAMES = Names(Regions("US"), {"anna": "Anna", "ben": "Ben"})
ANNA = Principal("user", "anna", "admin", admin_login="anna", branch="downtown")
DANA = Principal("user", "dana", "admin", admin_login="dana", branch="riverside")
BOSS = Principal("user", "boss", "manager")


def started(call_id: str = "c1", branch: str | None = "downtown", handled_by: str = "app") -> CallStarted:
    return CallStarted(call_id, "ch", "+12025550142", "", "5551234", branch, "radio", T0, handled_by)


def identified(kind: str = "patient", card: str | None = "p-1", name: str = "Olha") -> CallerIdentified:
    return CallerIdentified(
        "c1", kind, 7 if card else None, 1 if card else 0, kind == "patient", T0, name, card
    )


def run(*facts: Fact) -> tuple[Board, list[tuple[str, str | None]]]:
    board, out = Board(), []
    for fact in facts:
        out += [(d.event, d.admin) for d in apply(board, fact, NAMES)]
    return board, out


# fact -> the deltas it makes, after a call started and its caller was identified
CASES: list[tuple[str, Fact, list[tuple[str, str | None]], dict[str, Any]]] = [
    ("the pop", LegCreated("c1", "l1", "dana", "PJSIP/d", T0), [("offered", "dana")],
     {"ringing": ["dana"], "offered_to": ["dana"]}),
    ("waits", CallQueued("c1", T0), [("queued", None)], {"queued_at": T0.isoformat()}),
    ("taken", CallAnswered("c1", "ben", T0), [("taken", None)], {"taken_by": "ben", "taken_by_name": "Ben"}),
    ("passed on", CallTransferred("c1", "ben", "group:x", T0), [("transferred", None)],
     {"transferred_to": "group:x"}),
    ("gave up", CallEnded("c1", "abandoned", T0), [("ended", None)], {"outcome": "abandoned"}),
    ("a leg not ours", LegEnded("c1", "nope", "no_answer", T0), [], {}),
    ("not pushed", TopicChosen("c1", "x", T0), [], {}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "fact", "deltas", "row"), CASES, ids=[c[0] for c in CASES])
def test_each_fact_and_its_deltas(name: str, fact: Fact, deltas: list[Any], row: dict[str, Any]) -> None:
    board, first = run(started(), identified())
    assert first == [("started", None), ("caller", None)]
    out = apply(board, fact, NAMES)
    assert [(d.event, d.admin) for d in out] == deltas
    for key, value in row.items():
        assert out[0].row[key] == value


def test_the_row_of_a_known_patient() -> None:
    board, _ = run(started(), identified())
    (call,) = snapshot(board, BOSS, NAMES)
    assert call["number"] == "(202) 555-0142" and call["ad_channel"] == "radio"
    assert call["caller"] == {
        "kind": "patient",
        "name": "Olha",
        "cards": 1,
        "card_state": "loading",
        "card": None,
    }
    assert call["started_at"] == T0.isoformat() and call["branch"] == "downtown"


@pytest.mark.parametrize(
    ("kind", "card", "state"),
    [("patient", "p-1", "loading"), ("staff", None, "none"), ("unknown", None, "none")],
)
def test_only_a_patients_card_is_read(kind: str, card: str | None, state: str) -> None:
    board, _ = run(started(), identified(kind, card))
    assert board.calls["c1"].caller.card_state == state


def test_the_card_follows_once() -> None:
    board, _ = run(started(), identified())
    (d,) = card_read(board, "c1", {"name": "Olha"}, NAMES)
    assert d.event == "card" and d.row["caller"]["card_state"] == "ready" and d.row["caller"]["card"]
    assert card_read(board, "c1", {"name": "again"}, NAMES) == []  # one card per call
    board, _ = run(started(), identified())
    (d,) = card_read(board, "c1", None, NAMES)
    assert d.row["caller"]["card_state"] == "unavailable"


def test_a_leg_ending_takes_the_offer_back_but_not_from_who_answered() -> None:
    _, out = run(
        started(),
        LegCreated("c1", "l1", "anna", "e", T0),
        LegCreated("c1", "l2", "ben", "e", T0),
        CallAnswered("c1", "ben", T0),
        LegEnded("c1", "l1", "answered_elsewhere", T0),
        LegEnded("c1", "l2", "hangup", T0),
    )
    assert out[-2:] == [("taken", None), ("offer_over", "anna")]


def test_the_end_leaves_the_board_and_the_dialplans_calls_never_join() -> None:
    board, out = run(started(), CallEnded("c1", "missed", T0), started("c2", handled_by="fallback"))
    assert board.calls == {} and out == [("started", None), ("ended", None)]
    assert apply(board, CallAnswered("c1", "anna", T0), NAMES) == []  # after its end: nothing


def test_places_in_the_queue() -> None:
    board, _ = run(started("c1"), started("c2"), CallQueued("c1", T0), CallQueued("c2", T0))
    assert waiting(board) == ["c1", "c2"]
    moved = reposition(board, {"c1": 1, "c2": 2}, NAMES)
    assert [(d.call.call_id, d.row["queue_position"]) for d in moved] == [("c1", 1), ("c2", 2)]
    assert reposition(board, {"c1": 1, "c2": 2}, NAMES) == []  # no change: nothing pushed
    apply(board, CallAnswered("c1", "anna", T0), NAMES)
    assert waiting(board) == ["c2"]
    assert [d.row["queue_position"] for d in reposition(board, {"c2": 1}, NAMES)] == [1]


VISIBILITY = [
    ("own branch", ANNA, [started()], True),
    ("another branch", DANA, [started()], False),
    ("another branch, offered to them", DANA, [started(), LegCreated("c1", "l", "dana", "e", T0)], True),
    ("another branch, taken by them", DANA, [started(), CallAnswered("c1", "dana", T0)], True),
    ("no branch", ANNA, [started(branch=None)], False),
    ("a manager: every call", BOSS, [started(branch="riverside")], True),
]


@pytest.mark.parametrize(("name", "who", "facts", "sees"), VISIBILITY, ids=[v[0] for v in VISIBILITY])
def test_who_sees_which_call(name: str, who: Principal, facts: list[Fact], sees: bool) -> None:
    board, _ = run(*facts)
    assert board.calls["c1"].seen_by(who) is sees
    assert len(snapshot(board, who, NAMES)) == (1 if sees else 0)


def test_the_card_as_the_pop_shows_it() -> None:
    p = PatientView(
        1, "p-1", "Andrii K", date(2018, 3, 3), "downtown", (), "p-olha", "Olha K", "fam", Decimal("-12.50"),
        Decimal("900"), Decimal("1500"), Decimal("0"), PolicyView("INS-1", date(2026, 1, 1), None, True),
        "prefers mornings", VisitsView(3, 1, 0, date(2026, 2, 1)),
        ({"title": "call back", "due": "2026-03-03"},),
        (), None, T0,
    )  # fmt: skip
    card = card_of(p, date(2026, 3, 2))
    assert card["age"] == 7 and card["guardian"] == "Olha K" and card["debt"] == "12.50"
    assert card["policy"]["active"] is True and card["completed_share"] == 0.75
    assert card["last_visit"] == "2026-02-01" and card["open_tasks"][0]["title"] == "call back"
    assert age_on(date(2018, 3, 2), date(2026, 3, 2)) == 8 and age_on(None, date(2026, 3, 2)) is None


MESSAGES = [
    ('{"type": "snapshot"}', SnapshotAsked()),
    ('{"type": "heartbeat", "visible": true}', Heartbeat(True)),
    ('{"type": "heartbeat"}', Heartbeat(False)),
    ('{"type": "heartbeat", "visible": "yes"}', "heartbeat: visible must be true or false"),
    ("not json", "not JSON"),
    ("[1]", "not a JSON object"),
    ('{"type": "dance"}', "unknown type 'dance'"),
]


@pytest.mark.parametrize(("text", "meant"), MESSAGES)
def test_what_a_console_may_send(text: str, meant: object) -> None:
    said = parse_message(text)
    if isinstance(meant, str):
        assert isinstance(said, str) and said.startswith(meant)
    else:
        assert said == meant


def test_started_at_is_the_calls_own_time() -> None:
    later = CallStarted("c9", "ch", "anonymous", "", "5551234", "downtown", None, T0 + timedelta(minutes=5))
    board, _ = run(started(), later)
    assert [c["call_id"] for c in snapshot(board, ANNA, NAMES)] == ["c1", "c9"]
    assert snapshot(board, ANNA, NAMES)[1]["number"] == "anonymous"


def test_a_call_that_lost_its_end_leaves_the_board_as_another_arrives() -> None:
    late = CallStarted("c2", "ch", "+12025550143", "", "5551234", "downtown", None, T0 + timedelta(hours=7))
    board, _ = run(started(), late)
    assert list(board.calls) == ["c2"]
