"""The fallback's CDR records read into calls: the lines a real Asterisk 22.10.1 wrote for each
case (tests/data/fallback-cdr-asterisk-22.10.1.csv, recorded with SIPp callers and phones and
put in the rendered mapping's field order), and what a read of the file takes or leaves."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ari_app.config import load_settings
from ari_app.facts.types import CallAnswered, CallbackNeeded, CallEnded, CallStarted, LegCreated
from ari_app.fallback.cdr import FIELDS, BadRecord, CdrRecord, call_of, parse_line
from ari_app.fallback.importer import call_id_of, facts_of
from ari_app.fallback.reading import read_batch

DATA = Path(__file__).resolve().parents[1] / "data" / "fallback-cdr-asterisk-22.10.1.csv"
EXAMPLE = Path(__file__).resolve().parents[2] / "ari_app" / "examples" / "clinic.toml"


def recorded() -> dict[str, list[CdrRecord]]:
    calls: dict[str, list[CdrRecord]] = defaultdict(list)
    for line in DATA.read_text().splitlines():
        record = parse_line(line)
        assert record is not None
        calls[record.linkedid].append(record)
    return calls


# linkedid: (outcome, who answered, leg results in Dial order, DIALSTATUS)
EXPECTED = {
    "1796621694.0": ("answered", "PJSIP/admin102", ["lost", "answered", "busy"], None),  # talk, caller BYE
    "1796621709.7": ("missed", None, ["busy", "no_answer", "no_answer"], "NOANSWER"),  # callback, caller left
    "1796621727.15": ("missed", None, ["busy", "no_answer", "no_answer"], "NOANSWER"),  # whole callback
    "1796621749.23": ("abandoned", None, ["cancelled", "cancelled", "busy"], None),  # CANCEL while ringing
    "1796621759.30": ("failed", None, [], None),  # an unknown number's message
    "1796621766.32": ("answered", "PJSIP/admin102", ["lost", "answered", "lost"], None),  # phone hangs up
    "1796621831.61": ("missed", None, ["no_answer", "no_answer", "no_answer"], "NOANSWER"),  # phones away
    "1796621932.80": ("missed", None, ["busy", "busy", "busy"], "BUSY"),  # all busy
    "1796622055.149": ("failed", None, [], None),  # unknown number, no caller name, hung up early
}


@pytest.mark.parametrize("linkedid", EXPECTED)
def test_each_recorded_case_is_read_as_the_call_it_was(linkedid: str) -> None:
    call = call_of(recorded()[linkedid])
    outcome, answered_by, legs, dial = EXPECTED[linkedid]
    assert (call.outcome, call.answered_by, [leg.result for leg in call.legs], call.dial_status) == (
        outcome, answered_by, legs, dial,
    )  # fmt: skip
    assert call.linkedid == linkedid and call.caller_number == "+12025550101"
    assert call.started_at <= call.ended_at
    assert (call.answered_at is not None) == (outcome == "answered")
    if call.did == "5551234":
        assert call.caller_name == "Alice Caller" and call.branch == "downtown"


def test_the_answered_calls_times_are_the_callers() -> None:
    call = call_of(recorded()["1796621694.0"])
    assert call.started_at == datetime.fromtimestamp(1796621694.151559, UTC)  # the caller's arrival
    assert call.answered_at == datetime.fromtimestamp(1796621696.162999, UTC)
    assert call.ended_at == datetime.fromtimestamp(1796621699.170093, UTC)
    (won,) = [leg for leg in call.legs if leg.result == "answered"]
    assert won.endpoint == "PJSIP/admin102" and won.answered_at == call.answered_at


def test_facts_of_an_imported_call_are_what_the_app_would_write() -> None:
    settings = load_settings(EXAMPLE)
    missed = facts_of(call_of(recorded()["1796621709.7"]), settings)
    started, *_, ended, callback = missed
    assert isinstance(started, CallStarted) and started.handled_by == "fallback"
    assert started.channel_id == "1796621709.7" and started.call_id == call_id_of("1796621709.7")
    assert (started.branch, started.ad_channel) == ("downtown", "website")
    assert isinstance(ended, CallEnded) and ended.outcome == "missed"
    assert isinstance(callback, CallbackNeeded) and callback.reason == "fallback_missed"
    assert [f.admin for f in missed if isinstance(f, LegCreated)] == ["anna", "ben", "chen"]
    answered = facts_of(call_of(recorded()["1796621694.0"]), settings)
    assert [f.admin for f in answered if isinstance(f, CallAnswered)] == ["ben"]
    assert not [f for f in answered if isinstance(f, CallbackNeeded)]
    # The same records give the same ids: a second import adds nothing.
    assert facts_of(call_of(recorded()["1796621694.0"]), settings) == answered


GOOD = dict(zip(FIELDS, ["1796621694.1", "1", "1796621694.1", "0.000000", "1796621694.2", "BUSY", "1",
                         "c", "5", "", "Dial", "clinic-fallback"], strict=True))  # fmt: skip


def line_with(**fields: str) -> str:
    values = {**GOOD, **{k.replace("_u", "(u)"): v for k, v in fields.items()}}
    return ",".join('"' + values[f].replace('"', '""') + '"' for f in FIELDS)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('"a","b"', "expected 12 fields, found 2"),
        (line_with(end_u="bad"), "end(u)"),
        (line_with(sequence="n"), "sequence"),
        (line_with(userfield="clinic-fallback;oops"), "userfield"),
        (line_with(linkedid=""), "linkedid"),
        (line_with(start_u="-5"), "out of range"),
        (line_with()[:-1], "not CSV"),
    ],
)
def test_a_line_that_is_not_a_record_says_what_is_wrong(line: str, problem: str) -> None:
    with pytest.raises(BadRecord, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_line(line)


def test_records_that_are_not_the_fallbacks_are_not_ours() -> None:
    assert parse_line(line_with(userfield="something-else")) is None
    assert parse_line(line_with()) is not None
    assert len(FIELDS) == 12


def _lines(*linkedids: str) -> list[bytes]:
    return [
        line.encode() + b"\n"
        for line in DATA.read_text().splitlines()
        if parse_line(line).linkedid in linkedids  # type: ignore[union-attr]
    ] if linkedids else []  # fmt: skip


LONG_AFTER = datetime(2030, 1, 1, tzinfo=UTC)
JUST_AFTER = datetime.fromtimestamp(1796621699.5, UTC)  # half a second after case 1 ended


def test_a_read_takes_whole_calls_and_leaves_a_line_cut_short() -> None:
    whole = b"".join(_lines("1796621694.0", "1796621709.7"))
    torn = _lines("1796621727.15")[0][:40]  # the next call's first line, half written
    batch = read_batch(whole + torn, 100, LONG_AFTER, settle=5)
    assert [call.linkedid for call in batch.calls] == ["1796621694.0", "1796621709.7"]
    assert batch.position == 100 + len(whole)  # the torn line is read again next time
    assert batch.rejected == [] and batch.others == 0


def test_the_last_call_waits_until_it_has_surely_all_its_records() -> None:
    first, second, third = _lines("1796621694.0")  # case 1's three records
    # Two of three written, read half a second after it ended: it waits (nothing taken).
    batch = read_batch(first + second, 0, JUST_AFTER, settle=5)
    assert batch.calls == [] and batch.position == 0
    # Another call's record follows: the first is whole.
    following = _lines("1796621709.7")[0]
    batch = read_batch(first + second + third + following, 0, JUST_AFTER, settle=5)
    assert [call.linkedid for call in batch.calls] == ["1796621694.0"]
    assert batch.position == len(first + second + third)
    # Or long enough after its end.
    batch = read_batch(first + second + third, 0, JUST_AFTER + timedelta(seconds=5), settle=5)
    assert [call.outcome for call in batch.calls] == ["answered"]


def test_bad_lines_before_the_cut_are_set_aside_once() -> None:
    good = b"".join(_lines("1796621694.0"))
    bad = b'"broken","line"\n'
    batch = read_batch(bad + good + bad, 0, LONG_AFTER, settle=5)
    assert [why for _, why in batch.rejected] == ["expected 12 fields, found 2"] * 2
    assert batch.position == len(bad + good + bad) and len(batch.calls) == 1


def test_a_record_cut_short_then_appended_to_loses_only_itself() -> None:
    # Asterisk stopped writing mid-line; the next call's record went on the same line.
    cut = _lines("1796621759.30")[0][:50]
    following = _lines("1796622055.149")[0]
    batch = read_batch(cut + following, 0, LONG_AFTER, settle=5)
    assert [call.linkedid for call in batch.calls] == ["1796622055.149"]
    ((fragment, why),) = batch.rejected
    assert fragment == cut.decode() and ("fields" in why or "CSV" in why)


@pytest.mark.parametrize("cut_line", range(len(DATA.read_text().splitlines())))
def test_wherever_a_record_is_cut_only_it_is_lost(cut_line: int) -> None:
    """Asterisk stopped writing a record anywhere in it, and the next call's record went on the
    same line: whatever the cut, that next call is read whole and only the fragment is set aside
    (a cut just after a quote once joined the two into a phantom call)."""
    lines = DATA.read_text().splitlines()
    line = lines[cut_line]
    following = _lines("1796622055.149")[0]  # a call of one record, not the cut one
    for cut in range(1, len(line)):
        fragment = line[:cut].encode()
        batch = read_batch(fragment + following, 0, LONG_AFTER, settle=5)
        assert [call.linkedid for call in batch.calls] == ["1796622055.149"], (cut, fragment)
        assert [f for f, _ in batch.rejected] == [fragment.decode()], cut


def test_a_call_that_lost_a_record_to_a_cut_is_imported_marked_so() -> None:
    """Records are written in Dial order, so the one a crash cuts short may be the phone that
    answered: the call is still imported (and called back, as nobody is seen to answer), but its
    row says a record of it was lost, whenever the fragment still names the call: followed by
    the next call's record on its line, or left as the file's unfinished last line."""
    first, second, _ = _lines("1796621694.0")  # the second record is ben's, who answered
    following = _lines("1796622055.149")[0]
    named_from = len(b'"1796621694.0"')  # the first field whole, closing quote included
    settings = load_settings(EXAMPLE)
    for cut in (3, named_from - 1, named_from, named_from + 1, 40, len(second) // 2, len(second) - 3):
        for tail in (following, b""):
            batch = read_batch(first + second[:cut] + tail, 0, LONG_AFTER, settle=5)
            calls = {call.linkedid: call for call in batch.calls}
            assert calls["1796621694.0"].torn == (cut >= named_from), (cut, tail)
            assert not tail or not calls["1796622055.149"].torn
            facts = facts_of(calls["1796621694.0"], settings)
            ended = next(f for f in facts if isinstance(f, CallEnded))
            assert ended.outcome != "answered" and any(isinstance(f, CallbackNeeded) for f in facts)
            assert (ended.failure_reason == "fallback_record_torn") == (cut >= named_from), (cut, tail)
    # While its records may still be being written (its end within ``settle``), it waits.
    batch = read_batch(first + second[:40], 0, JUST_AFTER, settle=5)
    assert batch.calls == [] and batch.position == 0
