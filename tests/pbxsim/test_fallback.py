"""The dialplan's [fallback] when Stasis() fails, and the CDRs it writes: each case measured on a
real Asterisk 22.10.1 (recorded with SIPp callers and phones,
tests/data/fallback-cdr-asterisk-22.10.1.csv), run on the committed asterisk-config and read back
with the app's own importer (ari_app.fallback.cdr)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ari_app.fallback.cdr import CdrRecord, FallbackCall, call_of, parse_line
from ari_app.simctl import SimControl, SimProcess
from tests.pbxsim.conftest import start_harness
from tests.pbxsim.harness import PASSWORD, USER, SimHarness, leg, place

CONFIG = Path(__file__).resolve().parents[2] / "asterisk-config"
SCALE = 10.0
DIAL = 30 / SCALE  # the committed Dial(${DOWNTOWN_PHONES},30), in wall seconds
CALLBACK = 2.0 / SCALE  # clinic/callback: the simulator's stock length for an unknown sound
CALLER = "+12025550101"
BASE = {"branch": "downtown", "did": "5551234"}
SLACK = 0.08  # wall seconds of timer jitter allowed


@pytest.fixture
async def fb(tmp_path: Path) -> AsyncIterator[SimHarness]:
    h = await start_harness(tmp_path / "rec", scale=SCALE, asterisk_config=CONFIG, cdr_dir=tmp_path / "log")
    yield h
    await h.close()
    await h.sim.stop()


def cdr_path(h: SimHarness) -> Path:
    cdr = h.sim.pbx.cdr
    assert cdr is not None
    return cdr.folder / "clinic-fallback.csv"


def records_of(h: SimHarness, linkedid: str) -> list[CdrRecord]:
    path = cdr_path(h)
    lines = path.read_text().splitlines() if path.exists() else []
    return [r for r in (parse_line(line) for line in lines) if r is not None and r.linkedid == linkedid]


async def logged(h: SimHarness, call_id: str, key: str, timeout: float = 10.0) -> dict[str, Any]:
    """The call's log entry once ``key`` has a value."""
    deadline = time.monotonic() + timeout
    while True:
        call = await h.sim_call(call_id)
        if call[key]:
            return call
        assert time.monotonic() < deadline, call
        await asyncio.sleep(0.005)


async def ended(h: SimHarness, call_id: str) -> dict[str, Any]:
    return await logged(h, call_id, "ended_at")


async def fallback_call(h: SimHarness, did: str = "5551234", **extra: Any) -> dict[str, Any]:
    body = {"caller": CALLER, "did": did, "caller_name": "Alice Caller", **extra}
    reply = await h.control("POST", "/control/calls", body)
    assert reply["result"] == "fallback" and re.fullmatch(r"\d+\.\d+", reply["channel_id"]), reply
    return dict(reply)


async def finished(
    h: SimHarness, reply: dict[str, Any]
) -> tuple[dict[str, Any], list[CdrRecord], FallbackCall]:
    call = await ended(h, reply["call_id"])
    recs = records_of(h, reply["channel_id"])
    assert recs, "no records"
    return call, recs, call_of(recs)


async def hang_up_in_message(h: SimHarness, call_id: str) -> None:
    """The caller hangs up once the message has started (the call log lists it)."""
    await logged(h, call_id, "playbacks")
    await h.control("POST", f"/control/calls/{call_id}/hangup")


def secs(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def phones(recs: list[CdrRecord]) -> list[str | None]:
    return [r.phone for r in recs]


def check_common(recs: list[CdrRecord], call: dict[str, Any], did: str, name: str = "Alice Caller") -> None:
    """What every record of a call shares, and the call's times as the simulator logged them."""
    seqs = [r.sequence for r in recs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for r in recs:
        assert (r.linkedid, r.src, r.dst, r.clid) == (call["channel_id"], CALLER, did, f'"{name}" <{CALLER}>')
    assert abs(recs[0].start.timestamp() - call["created_at"]) < 0.001  # the caller's channel's creation
    assert abs(max(r.end for r in recs).timestamp() - call["ended_at"]) < 0.01
    assert call["fallback"] is True


# ------------------------------------------------------ the cases recorded on Asterisk 22.10.1
async def test_case1_a_phone_answers_and_the_caller_hangs_up(fb: SimHarness) -> None:
    reply = await fallback_call(
        fb, hangup_after=3,
        phones={"admin101": {"behaviour": "no_answer"},
                "admin102": {"behaviour": "answer", "answer_after": 2}, "admin103": {"behaviour": "busy"}},
    )  # fmt: skip
    call, recs, fc = await finished(fb, reply)
    check_common(recs, call, "5551234")
    assert phones(recs) == ["PJSIP/admin101", "PJSIP/admin102", "PJSIP/admin103"]
    assert [r.disposition for r in recs] == ["NO ANSWER", "ANSWERED", "BUSY"]
    assert all(r.lastapp == "Dial" and r.marks == BASE for r in recs)  # no ;dial= after an answer
    assert all(re.fullmatch(r"PJSIP/admin10\d-[0-9a-f]{8}", r.dstchannel) for r in recs)
    assert recs[1].sequence - recs[0].sequence > 1  # the phones' own (disabled) CDRs took numbers
    rang, won, busy = recs
    assert won.answer is not None and abs(secs(won.answer, rang.end)) < 0.005  # rang until the answer
    assert abs(secs(won.start, won.answer) - 2 / SCALE) < SLACK
    assert abs(secs(won.answer, won.end) - 3 / SCALE) < SLACK
    assert busy.answer is None and secs(busy.start, busy.end) < 0.05
    assert (fc.outcome, fc.answered_by, fc.dial_status, fc.branch) == (
        "answered",
        "PJSIP/admin102",
        None,
        "downtown",
    )
    assert abs(won.answer.timestamp() - call["answered_at"]) < 0.001
    assert (
        call["caller_result"] == "answered" and call["hangup_by"] == "caller" and call["sip_final"] == "BYE"
    )
    assert call["bridged_with"] == ["admin102"] and abs(call["talk_seconds"] - 3) < SLACK * SCALE


async def test_case2_nobody_answers_and_the_caller_hangs_up_during_the_callback(fb: SimHarness) -> None:
    reply = await fallback_call(
        fb, phones={"admin101": {"behaviour": "busy"}, "admin102": {"behaviour": "no_answer"},
                    "admin103": {"behaviour": "no_answer"}},
    )  # fmt: skip
    await hang_up_in_message(fb, reply["call_id"])
    call, recs, fc = await finished(fb, reply)
    check_common(recs, call, "5551234")
    assert phones(recs) == ["PJSIP/admin101", "PJSIP/admin102", "PJSIP/admin103", None]
    assert [r.disposition for r in recs] == ["BUSY", "NO ANSWER", "NO ANSWER", "ANSWERED"]
    assert [r.lastapp for r in recs] == ["Dial", "Dial", "Dial", "Playback"]
    assert [r.marks for r in recs] == [BASE, BASE, BASE, {**BASE, "dial": "NOANSWER"}]
    assert all(abs(secs(r.start, r.end) - DIAL) < SLACK for r in recs[1:3])
    callback = recs[3]
    assert callback.answer is not None and secs(callback.start, callback.answer) < 0.005
    assert abs(secs(recs[2].end, callback.start)) < 0.005 and secs(callback.start, callback.end) < CALLBACK
    assert (fc.outcome, fc.dial_status, fc.answered_by) == ("missed", "NOANSWER", None)
    assert call["caller_result"] == "fallback_missed" and call["hangup_by"] == "caller"
    assert call["sip_final"] == "BYE" and call["playbacks"] == ["sound:clinic/callback"]
    assert call["bridged_with"] == [] and call["talk_seconds"] is None


async def test_case3_the_whole_callback_plays_and_asterisk_hangs_up(fb: SimHarness) -> None:
    reply = await fallback_call(
        fb, phones={"admin101": {"behaviour": "busy"}, "admin102": {"behaviour": "no_answer"},
                    "admin103": {"behaviour": "no_answer"}},
    )  # fmt: skip
    call, recs, fc = await finished(fb, reply)
    check_common(recs, call, "5551234")
    assert [r.disposition for r in recs] == ["BUSY", "NO ANSWER", "NO ANSWER", "ANSWERED"]
    callback = recs[3]
    assert callback.lastapp == "Hangup" and callback.dstchannel == "" and callback.marks["dial"] == "NOANSWER"
    assert abs(secs(callback.start, callback.end) - CALLBACK) < SLACK
    assert fc.outcome == "missed"
    assert (
        call["caller_result"] == "fallback_missed"
        and call["hangup_by"] == "pbx"
        and call["sip_final"] == "BYE"
    )


async def test_case4_the_caller_cancels_while_the_phones_ring(fb: SimHarness) -> None:
    reply = await fallback_call(
        fb, abandon_after=3,
        phones={"admin101": {"behaviour": "no_answer"}, "admin102": {"behaviour": "no_answer"},
                "admin103": {"behaviour": "busy"}},
    )  # fmt: skip
    call, recs, fc = await finished(fb, reply)
    check_common(recs, call, "5551234")
    assert [r.disposition for r in recs] == ["NO ANSWER", "NO ANSWER", "BUSY"]  # a CANCEL is NO ANSWER
    assert all(r.marks == BASE for r in recs)  # no callback record, no ;dial=
    assert all(abs(secs(recs[0].start, r.end) - 3 / SCALE) < SLACK for r in recs[:2])
    assert (fc.outcome, fc.dial_status) == ("abandoned", None)
    assert call["caller_result"] == "abandoned" and call["hangup_by"] == "caller"
    assert call["sip_final"] == "487 Request Terminated" and call["end_cause"] == 127


async def test_case5_an_unknown_number_hears_the_failure_message(fb: SimHarness) -> None:
    reply = await fallback_call(fb, "5559999", caller_name="")
    call, [rec], fc = await finished(fb, reply)
    check_common([rec], call, "5559999", name="")
    assert (rec.disposition, rec.dstchannel, rec.lastapp) == ("ANSWERED", "", "Hangup")
    assert rec.marks == {"branch": "", "did": "5559999"} and rec.answer is not None
    assert abs(secs(rec.answer, rec.end) - 1.8 / SCALE) < SLACK  # please-try-call-later
    assert (fc.outcome, fc.branch, fc.caller_name) == ("failed", None, "")
    assert call["caller_result"] == "fallback_failed" and call["hangup_by"] == "pbx"


async def test_x6_a_plus_number_and_the_caller_leaving_during_the_message(fb: SimHarness) -> None:
    reply = await fallback_call(fb, "+15559999")
    status, _ = await fb.control_raw("POST", f"/control/calls/{reply['call_id']}/dtmf", {"digit": "1"})
    assert status == 409  # nothing in [fallback] reads keys
    await hang_up_in_message(fb, reply["call_id"])
    call, [rec], fc = await finished(fb, reply)
    check_common([rec], call, "+15559999")
    assert (rec.disposition, rec.lastapp, rec.marks["did"]) == ("ANSWERED", "Playback", "+15559999")
    assert (
        fc.outcome == "failed"
        and call["caller_result"] == "fallback_failed"
        and call["hangup_by"] == "caller"
    )


async def test_case6_the_phone_hangs_up_first(fb: SimHarness) -> None:
    reply = await fallback_call(
        fb, phones={"admin101": {"behaviour": "no_answer"},
                    "admin102": {"behaviour": "answer", "answer_after": 2, "hangup_after": 3},
                    "admin103": {"behaviour": "no_answer"}},
    )  # fmt: skip
    call, recs, fc = await finished(fb, reply)
    check_common(recs, call, "5551234")
    assert [r.disposition for r in recs] == ["NO ANSWER", "ANSWERED", "NO ANSWER"]
    assert all(r.marks == BASE for r in recs)  # Dial() without g: the dialplan ends with the bridge
    assert (fc.outcome, fc.answered_by) == ("answered", "PJSIP/admin102")
    assert call["caller_result"] == "answered" and call["hangup_by"] == "phone"
    assert abs(call["talk_seconds"] - 3) < SLACK * SCALE


async def test_x4_every_phone_busy_plays_the_callback_at_once(fb: SimHarness) -> None:
    busy = {"behaviour": "busy"}
    reply = await fallback_call(
        fb, abandon_after=1, phones={"admin101": busy, "admin102": busy, "admin103": busy}
    )
    call, recs, fc = await finished(fb, reply)
    check_common(recs, call, "5551234")
    assert [r.disposition for r in recs] == ["BUSY", "BUSY", "BUSY", "ANSWERED"]
    assert recs[3].lastapp == "Playback" and recs[3].marks == {**BASE, "dial": "BUSY"}
    assert secs(recs[0].start, recs[3].start) < 0.05  # no ringing: the message starts at once
    assert (fc.outcome, fc.dial_status) == ("missed", "BUSY")
    assert call["caller_result"] == "fallback_missed" and call["hangup_by"] == "caller"


# ---------------------------------------------------------------------- around the cases
async def test_a_phone_talking_on_a_fallback_call_is_busy_for_the_next(fb: SimHarness) -> None:
    talk = {"behaviour": "answer", "answer_after": 0.5}
    first = await fallback_call(fb, hangup_after=30, phones={"admin102": talk})
    await logged(fb, first["call_id"], "bridged_with")
    second = await fallback_call(fb, abandon_after=1, phones={"admin102": talk})
    _, recs, _ = await finished(fb, second)
    assert [r.disposition for r in recs[:3]] == ["NO ANSWER", "BUSY", "NO ANSWER"]
    # An app's call dialling it meanwhile gets the 486 too.
    await fb.connect()
    inbound = await place(fb)
    leg_id = await leg(fb, inbound, "admin102", timeout=15)
    gone = await fb.wait_for(lambda e: e["type"] == "ChannelDestroyed" and e["channel"]["id"] == leg_id)
    assert (gone["cause"], gone.get("tech_cause")) == (17, 486)
    await fb.control("POST", f"/control/calls/{first['call_id']}/hangup")
    await ended(fb, first["call_id"])
    assert fb.sim.pbx.occupied == {}


async def test_a_connected_app_gets_the_call_and_no_record_is_written(fb: SimHarness) -> None:
    await fb.connect()
    reply = await fb.control("POST", "/control/calls", {"caller": CALLER, "did": "5551234"})
    assert reply["result"] is None and reply["channel_id"]
    await fb.wait_for(lambda e: e["type"] == "StasisStart")
    await fb.control("POST", f"/control/calls/{reply['call_id']}/hangup")
    await ended(fb, reply["call_id"])
    assert not cdr_path(fb).exists()


async def test_the_admin_hanging_up_a_ringing_phone_makes_it_busy(fb: SimHarness) -> None:
    reply = await fallback_call(fb, abandon_after=5)
    await asyncio.sleep(0.05)
    assert (await fb.control("POST", "/control/phones/admin103/hangup"))["ended"] == 1
    _, recs, fc = await finished(fb, reply)
    assert [r.disposition for r in recs] == ["NO ANSWER", "NO ANSWER", "BUSY"] and fc.outcome == "abandoned"


async def test_records_of_successive_calls_are_appended_with_rising_sequences(fb: SimHarness) -> None:
    one = await fallback_call(fb, "5559999")
    await ended(fb, one["call_id"])
    two = await fallback_call(fb, "5559998")
    await ended(fb, two["call_id"])
    lines = cdr_path(fb).read_text().splitlines()
    recs = [parse_line(line) for line in lines]
    assert len(recs) == 2 and recs[0] is not None and recs[1] is not None
    assert recs[0].sequence < recs[1].sequence and recs[0].linkedid != recs[1].linkedid


async def test_a_torn_last_line(fb: SimHarness) -> None:
    await fb.control("POST", "/control/faults", {"torn_cdr": True})
    busy = {"behaviour": "busy"}
    reply = await fallback_call(fb, phones={"admin101": busy, "admin102": busy, "admin103": busy})
    await ended(fb, reply["call_id"])
    text = cdr_path(fb).read_text()
    assert not text.endswith("\n")
    *whole, torn = text.split("\n")
    assert len(whole) == 3 and all(parse_line(line) is not None for line in whole)
    assert torn.startswith(f'"{reply["channel_id"]}"') and len(torn) > 10


async def test_random_phones_draw_per_call_and_the_records_stay_whole(fb: SimHarness) -> None:
    for name in ("admin101", "admin102", "admin103"):
        await fb.control("PUT", f"/control/phones/{name}", {"behaviour": "random"})
    replies = [await fallback_call(fb, hangup_after=1, abandon_after=60) for _ in range(4)]
    for reply in replies:
        call, recs, fc = await finished(fb, reply)
        assert len(recs) in (3, 4) and phones(recs)[:3] == [
            "PJSIP/admin101",
            "PJSIP/admin102",
            "PJSIP/admin103",
        ]
        assert fc.outcome in ("answered", "missed", "abandoned")
        assert (fc.outcome == "answered") == (call["caller_result"] == "answered")


async def test_without_the_config_stasis_failing_still_declines(tmp_path: Path) -> None:
    h = await start_harness(tmp_path / "rec")
    try:
        reply = await h.control("POST", "/control/calls", {"caller": CALLER, "did": "5551234"})
        assert reply["channel_id"] is None and reply["result"] == "declined"
        status, _ = await h.control_raw("POST", "/control/faults", {"torn_cdr": True})
        assert status == 409
    finally:
        await h.close()
        await h.sim.stop()


async def test_the_process_runs_the_committed_config_and_refuses_one_it_cannot_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "extensions.conf").write_text("[fallback]\nexten => 1,1,NoOp(x)\n")
    with pytest.raises(RuntimeError, match=r"extensions.conf:2: application NoOp\(\) is not one"):
        await SimProcess.start(username=USER, password=PASSWORD, extra=["--asterisk-config", str(bad)])
    with pytest.raises(RuntimeError, match="--cdr-dir needs --asterisk-config"):
        await SimProcess.start(username=USER, password=PASSWORD, extra=["--cdr-dir", str(tmp_path)])
    log = tmp_path / "log"
    extra = ["--asterisk-config", str(CONFIG), "--cdr-dir", str(log), "--time-scale", "50"]
    proc = await SimProcess.start(username=USER, password=PASSWORD, extra=extra)
    control = SimControl(proc.control_url)
    try:
        reply = await control.place_call(CALLER, "5559999")
        assert reply["result"] == "fallback"
        deadline = time.monotonic() + 10
        while not any(c["ended_at"] for c in await control.calls()):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        [line] = (log / "cdr-custom" / "clinic-fallback.csv").read_text().splitlines()
        rec = parse_line(line)
        assert rec is not None and rec.linkedid == reply["channel_id"] and call_of([rec]).outcome == "failed"
    finally:
        await control.close()
        await proc.stop()
