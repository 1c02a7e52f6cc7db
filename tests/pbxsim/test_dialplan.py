"""The simulator's reading of the rendered dialplan's [fallback], and cdr_custom's record format."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ari_app.pbxsim.cdr_custom import (
    CdrRecord,
    CdrWriter,
    MappingError,
    Party,
    clid,
    format_line,
    load_mappings,
    parse_mappings,
)
from ari_app.pbxsim.dialplan import DialplanError, expand, load_dialplan, parse_dialplan

CONFIG = Path(__file__).resolve().parents[2] / "asterisk-config"
# The mapping the records were first recorded with on Asterisk 22.10.1: all 19 fields and 3 epochs.
LAB_FIELDS = (
    "linkedid uniqueid sequence start answer end duration billsec disposition src clid dst dcontext "
    "channel dstchannel lastapp lastdata userfield amaflags"
).split()
LAB_MAPPING = "clinic-fallback-epoch.csv => " + ",".join(
    [*(f"${{CSV_QUOTE(${{CDR({f})}})}}" for f in LAB_FIELDS),
     *(f"${{CSV_QUOTE(${{CDR({f},u)}})}}" for f in ("start", "answer", "end"))]
)  # fmt: skip
# Case 1 as Asterisk 22.10.1 wrote it with that mapping (admin102 answered; admin103 busy).
CASE1_ANSWERED = (
    '"1796621694.0","1796621694.0","4","2026-12-07 05:34:54","2026-12-07 05:34:56","2026-12-07 05:34:59",'
    '"5","3","ANSWERED","+12025550101","""Alice Caller"" <+12025550101>","5551234","fallback",'
    '"PJSIP/trunk-00000000","PJSIP/admin102-00000002","Dial","PJSIP/admin101&PJSIP/admin102&PJSIP/admin103,10",'
    '"clinic-fallback;branch=downtown;did=5551234","DOCUMENTATION","1796621694.154614","1796621696.162999",'
    '"1796621699.170093"\n'
)
CASE1_BUSY = (
    '"1796621694.0","1796621694.0","5","2026-12-07 05:34:54","","2026-12-07 05:34:54","0","0","BUSY",'
    '"+12025550101","""Alice Caller"" <+12025550101>","5551234","fallback","PJSIP/trunk-00000000",'
    '"PJSIP/admin103-00000003","Dial","PJSIP/admin101&PJSIP/admin102&PJSIP/admin103,10",'
    '"clinic-fallback;branch=downtown;did=5551234","DOCUMENTATION","1796621694.155443","0.000000",'
    '"1796621694.157846"\n'
)
CASE1_PARTY = Party(uniqueid="1796621694.0", src="+12025550101", clid=clid("Alice Caller", "+12025550101"),
                    dst="5551234", channel="PJSIP/trunk-00000000")  # fmt: skip
LAB_DIAL = "PJSIP/admin101&PJSIP/admin102&PJSIP/admin103,10"
BASE = "clinic-fallback;branch=downtown;did=5551234"


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The recording ran in UTC; CDR start/answer/end are in local time."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _fallback(*lines: str, globals_: str = "X_PHONES=PJSIP/a1&PJSIP/a2") -> str:
    return f"[globals]\n{globals_}\n\n[from-trunk]\nexten => _X.,1,NoOp(anything \\o goes here)\n\n" + (
        "[fallback]\n" + "\n".join(lines) + "\n"
    )


# ---------------------------------------------------------------------- the dialplan
def test_the_committed_fallback_is_read_as_rendered() -> None:
    plan = load_dialplan(CONFIG / "extensions.conf")
    assert plan.globals["DOWNTOWN_PHONES"] == "PJSIP/admin101&PJSIP/admin102&PJSIP/admin103"
    steps = plan.fallback["5551234"].steps
    assert [s.app for s in steps] == ["Set", "Set", "Dial", "Set", "Playback", "Hangup"]
    assert steps[0].var == "CDR_PROP(disable)" and steps[0].value == "0"
    # "\;" is a literal ";": unescaped, the userfield keeps its separators (as Asterisk 22.10.1 loads it).
    assert steps[1].value == "clinic-fallback;branch=downtown;did=${EXTEN}"
    assert steps[2].targets == ("admin101", "admin102", "admin103") and steps[2].timeout == 30
    assert steps[3].value == "${CDR(userfield)};dial=${DIALSTATUS}"
    assert steps[4].media == ("clinic/callback",)
    assert [s.app for s in plan.fallback["_X."].steps] == ["Set", "Set", "Answer", "Playback", "Hangup"]
    assert plan.fallback["5552000"].steps[2].targets == ("admin104", "admin105")


def test_an_exact_number_beats_the_patterns_which_need_two_characters() -> None:
    plan = load_dialplan(CONFIG / "extensions.conf")
    assert (m := plan.match("5551234")) is not None and m.name == "5551234"
    assert (m := plan.match("5559999")) is not None and m.name == "_X."
    assert (m := plan.match("+15559999")) is not None and m.name == "_+X."
    assert plan.match("5") is None and plan.match("abc") is None and plan.match("") is None


def test_expand_substitutes_and_leaves_unset_names_empty() -> None:
    values = {"EXTEN": "5551234", "CDR(userfield)": "u;x=1"}
    assert expand("${CDR(userfield)};dial=${DIALSTATUS};did=${EXTEN}", values) == "u;x=1;dial=;did=5551234"


def test_a_literal_dial_and_numbers_with_a_plus_are_read() -> None:
    plan = parse_dialplan(
        _fallback("exten => +15551234,1,Dial(PJSIP/a1&${X_PHONES},15)", " same => n,Hangup()")
    )
    ext = plan.fallback["+15551234"]
    assert ext.steps[0].targets == ("a1", "a1", "a2") and ext.steps[0].timeout == 15
    assert plan.match("+15551234") is ext


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["exten => 1,1,NoOp(hi)"], ":8: application NoOp()"),
        (["exten => 1,1,Dial(PJSIP/a1,10,g)"], ":8: Dial() takes targets and a timeout"),
        (["exten => 1,1,Dial(${NOPE},10)"], ":8: ${NOPE} is not in [globals]"),
        (["exten => 1,1,Dial(SIP/a1,10)"], ":8: Dial target 'SIP/a1'"),
        (["exten => 1,1,Dial(PJSIP/a1,0)"], ":8: Dial() takes targets"),
        ([" same => n,Hangup()"], ":8: 'same =>' before any 'exten =>'"),
        (["exten => 1,2,Hangup()"], ":8: expected 'exten => NAME,1"),
        (["exten => 1,1,Answer()", " same => 2,Hangup()"], ":9: expected 'same => n"),
        (["exten => _1XX,1,Hangup()"], ":8: extension '_1XX'"),
        (["exten => 1,1,Set(CDR(userfield)=a\\,b)"], ":8: only '\\;' is understood"),
        (["exten => 1,1,Set(FOO=1)"], ":8: only Set(CDR_PROP(disable)=0)"),
        (["exten => 1,1,Set(CDR_PROP(disable)=1)"], ":8: only Set(CDR_PROP(disable)=0)"),
        (["exten => 1,1,Set(CDR(userfield)=${CALLERID(num)})"], ":8: ${CALLERID(num)} is not a variable"),
        (["exten => 1,1,Playback(a,noanswer)"], ":8: Playback() takes sound files"),
        (["exten => 1,1,Answer(5)"], ":8: Answer() takes no argument"),
        (["exten => 1,1,Hangup()", "exten => 1,1,Hangup()"], ":9: extension 1 defined twice"),
        (["include => other"], ":8: not an exten/same line"),
        (["exten => 1,1,Hangup"], ":8: not an application call"),
    ],
)
def test_anything_else_in_fallback_refuses_to_load_naming_the_line(lines: list[str], message: str) -> None:
    with pytest.raises(DialplanError, match="extensions.conf" + _escape(message)):
        parse_dialplan(_fallback(*lines))


def test_a_global_without_a_value_sign_is_refused() -> None:
    with pytest.raises(DialplanError, match=r"extensions.conf:2: \[globals\] expects NAME=value"):
        parse_dialplan(_fallback("exten => 1,1,Hangup()", globals_="JUNK"))


def _escape(text: str) -> str:
    import re

    return re.escape(text)


# ---------------------------------------------------------------------- the records' format
def test_the_committed_mapping_is_read_in_its_order() -> None:
    [mapping] = load_mappings(CONFIG / "cdr_custom.conf")
    assert mapping.file_name == "clinic-fallback.csv"
    assert mapping.fields[:5] == (
        ("linkedid", False), ("sequence", False), ("start", True), ("answer", True), ("end", True)
    )  # fmt: skip
    names = [f for f, _ in mapping.fields][5:]
    assert names == ["disposition", "src", "clid", "dst", "dstchannel", "lastapp", "userfield"]


@pytest.mark.usefixtures("utc")
def test_a_record_is_written_byte_for_byte_as_asterisk_wrote_it() -> None:
    [mapping] = parse_mappings(f"[mappings]\n{LAB_MAPPING}\n")
    answered = CdrRecord(4, 1796621694.154614, 1796621696.162999, 1796621699.170093, "ANSWERED",
                         "PJSIP/admin102-00000002", "Dial", LAB_DIAL, BASE)  # fmt: skip
    busy = CdrRecord(5, 1796621694.155443, None, 1796621694.157846, "BUSY", "PJSIP/admin103-00000003", "Dial",
                     LAB_DIAL, BASE)  # fmt: skip
    assert format_line(mapping, answered, CASE1_PARTY) == CASE1_ANSWERED
    assert format_line(mapping, busy, CASE1_PARTY) == CASE1_BUSY


def test_a_caller_without_a_name_has_an_empty_quoted_one() -> None:
    assert clid("", "+12025550101") == '"" <+12025550101>'


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("f.csv => ${CSV_QUOTE(${CDR(nope)})}", "CDR(nope) is not a field"),
        ("f.csv => ${CSV_QUOTE(${CDR(src,u)})}", "CDR(src,u) is not a field"),
        ("f.csv => ${CDR(src)}", "is not ${CSV_QUOTE"),
        ("f.csv => ${CSV_QUOTE(${CDR(src)})}|${CSV_QUOTE(${CDR(dst)})}", "expected ','"),
        ("f.csv ${CSV_QUOTE(${CDR(src)})}", "expected 'file.csv =>"),
        ("../f.csv => ${CSV_QUOTE(${CDR(src)})}", "expected 'file.csv =>"),
    ],
)
def test_a_mapping_the_simulator_cannot_write_is_refused(line: str, message: str) -> None:
    with pytest.raises(MappingError, match="cdr_custom.conf:2: .*" + _escape(message)):
        parse_mappings(f"[mappings]\n{line}\n")


def test_only_the_mappings_section_is_understood() -> None:
    with pytest.raises(MappingError, match=r"cdr_custom.conf:1: only \[mappings\]"):
        parse_mappings("[clinic-fallback-adv.csv]\nformat = dsv\n")


def test_the_writer_appends_each_call_in_one_go_and_can_tear_the_last_line(tmp_path: Path) -> None:
    [mapping] = parse_mappings(
        "[mappings]\nf.csv => ${CSV_QUOTE(${CDR(sequence)})},${CSV_QUOTE(${CDR(src)})}"
    )
    writer = CdrWriter(tmp_path / "log", [mapping])
    path = tmp_path / "log" / "cdr-custom" / "f.csv"
    recs = [CdrRecord(n, 1.0, None, 2.0) for n in (3, 7)]
    writer.write(recs, CASE1_PARTY)
    assert path.read_text() == '"3","+12025550101"\n"7","+12025550101"\n'
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 & ~umask
    writer.torn = True
    writer.write(recs, CASE1_PARTY)
    # The last line stops half-way (its 19 characters: 9 of them), with no line end.
    assert path.read_text().endswith('"7","+12025550101"\n"3","+12025550101"\n"7","+120')
    assert writer.torn is False  # only the next write


def test_without_its_folder_the_records_are_lost_as_asterisk_loses_them(tmp_path: Path) -> None:
    [mapping] = parse_mappings("[mappings]\nf.csv => ${CSV_QUOTE(${CDR(sequence)})}")
    writer = CdrWriter(tmp_path / "log", [mapping])
    (tmp_path / "log" / "cdr-custom").rmdir()
    writer.write([CdrRecord(1, 1.0, None, 2.0)], CASE1_PARTY)  # logged, not raised
    assert not (tmp_path / "log" / "cdr-custom").exists()
