"""Call flows through the simulator, each with the event sequence Asterisk 22.10.1 gives, stated here.

These need nothing outside the repository; test_traces.py also holds the simulator to the
recorded traces, and test_fidelity.py to Asterisk's api-docs, when ../shared is present.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from tests.pbxsim.harness import (
    SimHarness,
    call_id_of,
    gone,
    leg,
    place,
    shape,
)

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000"
# The three ringing events, without the leg's state (it depends on their order, which varies).
RING = sorted(
    [
        ("Dial", ("dialstatus", ""), ("dialstring", "admin101")),
        ("ChannelStateChange",),
        ("Dial", ("dialstatus", "RINGING"), ("dialstring", "")),
    ]
)


def ring_set(seq: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted((x[0], *x[2:]) for x in seq)


async def test_inbound_call_enters_stasis_ringing(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h)
    (start,) = h.events
    ch = start["channel"]
    assert start["args"] == ["5551234"] and ch["state"] == "Ring"
    assert ch["dialplan"] == {
        "context": "from-trunk",
        "exten": "5551234",
        "priority": 2,
        "app_name": "Stasis",
        "app_data": "clinic,5551234",
    }
    assert ch["caller"] == {"name": "5550001", "number": "5550001"} and ch["connected"] == {
        "name": "",
        "number": "",
    }
    assert re.fullmatch(r"PJSIP/trunk-[0-9a-f]{8}", ch["name"]) and "@" in ch["protocol_id"]
    seconds, counter = ch["id"].split(".")
    assert abs(int(seconds) - time.time()) < 5 and counter.isdigit()
    assert re.fullmatch(TIMESTAMP, start["timestamp"]) and re.fullmatch(TIMESTAMP, ch["creationtime"])
    assert start["application"] == "clinic" and start["asterisk_id"] == "02:fc:00:00:00:01"
    assert list(ch) == [
        "id",
        "name",
        "state",
        "protocol_id",
        "caller",
        "connected",
        "accountcode",
        "dialplan",
        "creationtime",
        "language",
    ]

    assert await h.rest("POST", f"/channels/{inbound}/ring") == (204, None)
    assert await h.rest("POST", f"/channels/{inbound}/answer") == (204, None)
    up = await h.wait_for(lambda e: e["type"] == "ChannelStateChange")
    assert h.events.index(up) == 1  # /ring sent nothing; the state stayed Ring
    assert shape(up) == ("ChannelStateChange", "Up")
    # The state change went out before the answer's 204 did.
    log = (await h.control("GET", "/control/events"))["events"]
    reqs = (await h.control("GET", "/control/requests"))["requests"]
    answer_done = next(r["t_done"] for r in reqs if r["path"].endswith("/answer"))
    assert next(e["t"] for e in log if e["type"] == "ChannelStateChange") < answer_done


async def test_created_leg_is_dialled_rings_and_answers(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("PUT", "/control/phones/admin101", {"behaviour": "answer", "answer_after": 1.0})
    inbound = await place(h)
    status, ch = await h.rest(
        "POST",
        "/channels/create",
        endpoint="PJSIP/admin101",
        app="clinic",
        appArgs=f"dialed,{inbound}",
        originator=inbound,
    )
    assert status == 200 and ch["state"] == "Down" and re.fullmatch(UUID, ch["protocol_id"])
    assert ch["caller"] == {"name": "Admin 101", "number": "101"} and ch["connected"] == {
        "name": "",
        "number": "",
    }
    assert ch["dialplan"] == {
        "context": "admins",
        "exten": "s",
        "priority": 1,
        "app_name": "",
        "app_data": "",
    }
    leg_id = ch["id"]
    start = await h.wait_for(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == leg_id)
    assert (
        start["args"] == ["dialed", inbound]
        and start["channel"]["dialplan"]["app_data"] == f"clinic,dialed,{inbound}"
    )
    assert await h.rest("POST", f"/channels/{leg_id}/dial", caller=inbound, timeout="15") == (204, None)
    await h.wait_for(lambda e: e["type"] == "Dial" and e["dialstatus"] == "ANSWER")

    seq = [shape(e) for e in h.of(leg_id)]
    assert seq[:3] == [("ChannelDialplan", "Down"), ("StasisStart", "Down"), ("ChannelConnectedLine", "Down")]
    assert ring_set(seq[3:6]) == RING
    assert seq[6:] == [
        ("ChannelStateChange", "Up"),
        ("Dial", "Up", ("dialstatus", "ANSWER"), ("dialstring", "")),
    ]
    dialplan, _, connected, *_ = h.of(leg_id)
    assert (dialplan["dialplan_app"], dialplan["dialplan_app_data"]) == ("Stasis", f"clinic,dialed,{inbound}")
    assert connected["channel"]["connected"] == {"name": "5550001", "number": "5550001"}  # from caller=
    assert h.varsets(leg_id) == [("STASISSTATUS", "")]
    for dial in (e for e in h.of(leg_id) if e["type"] == "Dial"):
        assert "caller" not in dial and dial["forward"] == ""  # caller= never shows in Dial


async def test_busy_phone_ends_the_leg_with_no_dial_status(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("PUT", "/control/phones/admin101", {"behaviour": "busy"})
    inbound = await place(h)
    leg_id = await leg(h, inbound)
    await gone(h, leg_id)
    assert [shape(e) for e in h.of(leg_id)] == [
        ("ChannelDialplan", "Down"),
        ("StasisStart", "Down"),
        ("ChannelConnectedLine", "Down"),
        ("Dial", "Down", ("dialstatus", ""), ("dialstring", "admin101")),
        ("ChannelHangupRequest", "Down", ("cause", 17), ("tech_cause", 486)),
        ("StasisEnd", "Down"),
        ("ChannelDestroyed", "Down", ("cause", 17), ("tech_cause", 486), ("cause_txt", "User busy")),
    ]
    assert h.varsets(leg_id) == [("STASISSTATUS", ""), ("STASISSTATUS", "SUCCESS")]


async def test_unanswered_leg_ends_at_the_dial_timeout(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h)
    leg_id = await leg(h, inbound, timeout=8)
    started = time.monotonic()
    await gone(h, leg_id)
    assert (time.monotonic() - started) * h.sim.pbx.scale >= 7.5  # simulated seconds
    seq = [shape(e) for e in h.of(leg_id)]
    assert ring_set(seq[3:6]) == RING
    assert seq[6:] == [
        ("ChannelHangupRequest", "Ringing", ("cause", 32), ("soft", True)),
        ("StasisEnd", "Ringing"),
        (
            "ChannelDestroyed",
            "Ringing",
            ("cause", 19),
            ("tech_cause", 480),
            ("cause_txt", "User alerting, no answer"),
        ),
    ]


async def test_offline_phone_never_rings(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("PUT", "/control/phones/admin102", {"behaviour": "offline"})
    inbound = await place(h)
    leg_id = await leg(h, inbound, "admin102", timeout=8)
    await gone(h, leg_id)
    assert [shape(e) for e in h.of(leg_id)][3:] == [
        ("Dial", "Down", ("dialstatus", ""), ("dialstring", "admin102")),
        ("ChannelHangupRequest", "Down", ("cause", 32), ("soft", True)),
        ("StasisEnd", "Down"),
        (
            "ChannelDestroyed",
            "Down",
            ("cause", 19),
            ("tech_cause", 480),
            ("cause_txt", "User alerting, no answer"),
        ),
    ]


async def test_ring_all_one_busy_one_silent_one_answers(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("PUT", "/control/phones/admin101", {"behaviour": "busy"})
    await h.control("PUT", "/control/phones/admin103", {"behaviour": "answer", "answer_after": 2.0})
    inbound = await place(h, hangup_after=5.0)
    busy, quiet, winner = [await leg(h, inbound, ep, 15) for ep in ("admin101", "admin102", "admin103")]
    await h.wait_for(lambda e: e["type"] == "Dial" and e["dialstatus"] == "ANSWER")
    assert [shape(e)[:2] for e in h.of(winner)][-2:] == [("ChannelStateChange", "Up"), ("Dial", "Up")]
    assert shape(h.of(busy)[-1])[2:] == (("cause", 17), ("tech_cause", 486), ("cause_txt", "User busy"))
    await h.rest("POST", f"/channels/{inbound}/answer")
    _, bridge = await h.rest("POST", "/bridges", type="mixing")
    assert bridge["technology"] == "simple_bridge" and bridge["channels"] == []
    assert await h.rest("POST", f"/bridges/{bridge['id']}/addChannel", channel=f"{inbound},{winner}") == (
        204,
        None,
    )
    entered = [e for e in h.events if e["type"] == "ChannelEnteredBridge"]
    assert [e["bridge"]["channels"] for e in entered] == [[inbound], [inbound, winner]]
    before = len(h.of(quiet))
    assert await h.rest("DELETE", f"/channels/{quiet}") == (204, None)
    await gone(h, quiet)
    # The losing leg: no Dial event, just the explicit soft hangup, StasisEnd, Normal Clearing.
    assert [shape(e) for e in h.of(quiet)[before:]] == [
        ("ChannelHangupRequest", "Ringing", ("cause", 32), ("soft", True)),
        ("StasisEnd", "Ringing"),
        ("ChannelDestroyed", "Ringing", ("cause", 16), ("cause_txt", "Normal Clearing")),
    ]
    assert h.varsets(quiet)[-1] == ("STASISSTATUS", "SUCCESS")
    await gone(h, inbound)  # the caller hangs up 5 s into the talk
    record = await h.sim_call(await call_id_of(h, inbound))
    assert record["caller_result"] == "answered" and record["hangup_by"] == "caller"
    assert record["bridged_with"] == ["admin103"] and 4.0 <= record["talk_seconds"] <= 7.0
    assert record["sip_final"] == "BYE" and record["answered_at"] >= record["created_at"]


async def test_caller_abandons_while_ringing_and_leg_rings_on(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h, abandon_after=3.0)
    leg_id = await leg(h, inbound, "admin103", timeout=15)
    await gone(h, inbound)
    assert [shape(e) for e in h.of(inbound)] == [
        ("StasisStart", "Ring"),
        ("ChannelHangupRequest", "Ring", ("cause", 127), ("tech_cause", 487)),
        ("StasisEnd", "Ring"),
        ("ChannelHangupRequest", "Ring", ("cause", 16), ("soft", True), ("tech_cause", 487)),
        (
            "ChannelDestroyed",
            "Ring",
            ("cause", 127),
            ("tech_cause", 487),
            ("cause_txt", "Interworking, unspecified"),
        ),
    ]
    status, ch = await h.rest("GET", f"/channels/{leg_id}")
    assert status == 200 and ch["state"] == "Ringing"  # Asterisk leaves the dialled leg alone
    record = await h.sim_call(await call_id_of(h, inbound))
    assert (record["caller_result"], record["sip_final"]) == ("abandoned", "487 Request Terminated")
    await h.rest("DELETE", f"/channels/{leg_id}")
    await gone(h, leg_id)
    assert not (await h.control("GET", "/control/state"))["channels"]


async def test_busy_reason_on_unanswered_inbound(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h)
    # A leg made with originator= subscribes the app to the caller's channel for its whole life.
    leg_id = await leg(h, inbound, timeout=15)
    assert await h.rest("DELETE", f"/channels/{inbound}", reason="busy") == (204, None)
    await gone(h, inbound)
    assert [shape(e) for e in h.of(inbound)][1:] == [
        ("ChannelHangupRequest", "Ring", ("cause", 32), ("soft", True)),
        ("StasisEnd", "Ring"),
        ("ChannelHangupRequest", "Ring", ("cause", 16), ("soft", True)),
        ("ChannelDestroyed", "Ring", ("cause", 17), ("tech_cause", 486), ("cause_txt", "User busy")),
    ]
    record = await h.sim_call(await call_id_of(h, inbound))
    assert (record["caller_result"], record["sip_final"]) == ("busy", "486 Busy Here")
    await h.rest("DELETE", f"/channels/{leg_id}")
    await gone(h, leg_id)


async def test_a_channel_only_stasis_held_is_heard_of_no_more_after_stasis_end(harness: SimHarness) -> None:
    """res_stasis: Stasis() drops its subscription at StasisEnd. With no other (no leg made with
    originator= this channel), the hang-up's tail and ChannelDestroyed never reach the app: as a
    real Asterisk 22.10.1 showed for callers hanging up during a prompt or on hold."""
    h = harness
    await h.connect()
    for how in ("caller", "app"):
        inbound = await place(h)
        assert await h.rest("POST", f"/channels/{inbound}/answer") == (204, None)
        status, _ = await h.rest("POST", f"/channels/{inbound}/play", media="sound:clinic/topic-menu")
        assert status == 201
        if how == "caller":
            await h.control("POST", f"/control/calls/{await call_id_of(h, inbound)}/hangup")
        else:
            assert await h.rest("DELETE", f"/channels/{inbound}") == (204, None)
        await h.wait_for(lambda e, i=inbound: e["type"] == "StasisEnd" and e["channel"]["id"] == i)
        await asyncio.sleep(0.2)
        types = [e["type"] for e in h.of(inbound)]
        assert types[-3:] == ["ChannelHangupRequest", "PlaybackFinished", "StasisEnd"] or types[-2:] == [
            "ChannelHangupRequest", "StasisEnd",
        ], types  # fmt: skip
        hangup = next(e for e in h.of(inbound) if e["type"] == "ChannelHangupRequest")
        assert ("soft" in hangup) == (how == "app")
        assert not (await h.control("GET", "/control/state"))["channels"]
