"""The simulator's call scenarios, each with the event sequence Asterisk 22.10.1 gives, stated here.

These need nothing outside the repository; test_fidelity.py also holds the simulator to the
recorded traces and to Asterisk's api-docs when ../shared is present.
"""

from __future__ import annotations

import asyncio
import wave
from io import BytesIO
from typing import Any

from ari_app.ari.models import parse_event
from tests.pbxsim.conftest import SimHarness, shape

# The three ringing events, without the peer's state (it varies with their order).
RING = {("Dial", ("dialstatus", ""), ("dialstring", "admin101")),
        ("ChannelStateChange",),
        ("Dial", ("dialstatus", "RINGING"), ("dialstring", ""))}  # fmt: skip


async def place(h: SimHarness, **extra: Any) -> str:
    call = await h.control("POST", "/control/calls", {"caller": "5550001", "did": "5551234", **extra})
    await h.wait_for(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == call["channel_id"])
    return str(call["channel_id"])


async def leg(h: SimHarness, inbound: str, endpoint: str = "admin101", timeout: int = 0) -> str:
    status, ch = await h.rest(
        "POST", "/channels/create", endpoint=f"PJSIP/{endpoint}", app="clinic",
        appArgs=f"dialed,{inbound}", originator=inbound,
    )  # fmt: skip
    assert status == 200 and ch["state"] == "Down" and ch["dialplan"]["context"] == "admins"
    await h.wait_for(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == ch["id"])
    status, _ = await h.rest("POST", f"/channels/{ch['id']}/dial", caller=inbound, timeout=str(timeout))
    assert status == 204
    return str(ch["id"])


async def answered(h: SimHarness) -> tuple[str, str]:
    """An inbound call and an admin leg that answered it (not yet bridged)."""
    await h.control("PUT", "/control/phones/admin101", {"behaviour": "answer", "answer_after": 0.05})
    inbound = await place(h)
    leg_id = await leg(h, inbound, timeout=15)
    await h.wait_for(lambda e: e["type"] == "Dial" and e["dialstatus"] == "ANSWER")
    return inbound, leg_id


async def gone(h: SimHarness, channel_id: str) -> None:
    await h.wait_for(lambda e: e["type"] == "ChannelDestroyed" and e["channel"]["id"] == channel_id)


async def test_inbound_stasis_start_and_ring(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h)
    start = h.events[0]
    assert start["args"] == ["5551234"] and start["channel"]["state"] == "Ring"
    assert start["channel"]["dialplan"] == {"context": "from-trunk", "exten": "5551234", "priority": 2,
                                            "app_name": "Stasis", "app_data": "clinic,5551234"}  # fmt: skip
    assert await h.rest("POST", f"/channels/{inbound}/ring") == (204, None)
    await asyncio.sleep(0.05)
    assert len(h.events) == 1  # /ring gives no event
    assert await h.rest("POST", f"/channels/{inbound}/answer") == (204, None)
    up = await h.wait_for(lambda e: e["type"] == "ChannelStateChange")
    assert shape(up) == ("ChannelStateChange", "Up")


async def test_busy_phone(harness: SimHarness) -> None:
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


async def test_no_answer_until_dial_timeout(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h)
    leg_id = await leg(h, inbound, timeout=1)
    await gone(h, leg_id)
    seq = [shape(e) for e in h.of(leg_id)]
    assert {(x[0], *x[2:]) for x in seq[3:6]} == RING  # in varying order
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
    await h.control("PUT", "/control/phones/admin101", {"behaviour": "offline"})
    inbound = await place(h)
    leg_id = await leg(h, inbound, timeout=1)
    await gone(h, leg_id)
    types = [shape(e)[0] for e in h.of(leg_id)]
    assert types.count("Dial") == 1 and "ChannelStateChange" not in types


async def test_ring_all_busy_no_answer_answer_and_losers(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("PUT", "/control/phones/admin101", {"behaviour": "busy"})
    await h.control("PUT", "/control/phones/admin103", {"behaviour": "answer", "answer_after": 0.2})
    inbound = await place(h)
    busy, quiet, winner = [await leg(h, inbound, ep, 15) for ep in ("admin101", "admin102", "admin103")]
    await h.wait_for(lambda e: e["type"] == "Dial" and e["dialstatus"] == "ANSWER")
    assert [shape(e)[:2] for e in h.of(winner)][-2:] == [("ChannelStateChange", "Up"), ("Dial", "Up")]
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
    await h.rest("DELETE", f"/channels/{quiet}")
    await gone(h, quiet)
    # The losing leg: no Dial event, just the explicit soft hangup, StasisEnd, Normal Clearing.
    assert [shape(e) for e in h.of(quiet)[before:]] == [
        ("ChannelHangupRequest", "Ringing", ("cause", 32), ("soft", True)),
        ("StasisEnd", "Ringing"),
        ("ChannelDestroyed", "Ringing", ("cause", 16), ("cause_txt", "Normal Clearing")),
    ]
    assert shape(h.of(busy)[-1])[2] == ("cause", 17)


async def test_caller_abandons_and_leg_keeps_ringing(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h, abandon_after=0.3)
    leg_id = await leg(h, inbound, timeout=15)
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
    await asyncio.sleep(0.2)
    status, ch = await h.rest("GET", f"/channels/{leg_id}")
    assert status == 200 and ch["state"] == "Ringing"  # Asterisk does not end the dialled leg


async def test_caller_hangs_up_during_playback(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h)
    await h.rest("POST", f"/channels/{inbound}/answer")
    status, pb = await h.rest("POST", f"/channels/{inbound}/play", media="sound:vm-nobodyavail")
    assert status == 201 and pb["state"] == "queued" and pb["target_uri"] == f"channel:{inbound}"
    await h.wait_for(lambda e: e["type"] == "PlaybackStarted")
    calls = await h.control("GET", "/control/calls")
    await h.control("POST", f"/control/calls/{calls['calls'][0]['call_id']}/hangup")
    await gone(h, inbound)
    finished = await h.wait_for(lambda e: e["type"] == "PlaybackFinished")
    assert finished["playback"]["id"] == pb["id"]
    assert [shape(e) for e in h.of(inbound)][-3:] == [
        ("StasisEnd", "Up"),
        ("ChannelHangupRequest", "Up", ("cause", 16), ("soft", True)),
        ("ChannelDestroyed", "Up", ("cause", 16), ("cause_txt", "Normal Clearing")),
    ]


async def test_dial_before_stasis_start_is_409(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("POST", "/control/faults", {"stasis_start_delay": 0.3})
    inbound = await place(h)
    _, ch = await h.rest("POST", "/channels/create", endpoint="PJSIP/admin101", app="clinic",
                         appArgs=f"dialed,{inbound}")  # fmt: skip
    assert await h.rest("POST", f"/channels/{ch['id']}/dial", caller=inbound) == (
        409, {"message": "Channel not in Stasis application"},
    )  # fmt: skip


async def test_busy_reason_on_unanswered_inbound(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h)
    await h.rest("DELETE", f"/channels/{inbound}", reason="busy")
    await gone(h, inbound)
    assert shape(h.of(inbound)[-1])[2:4] == (("cause", 17), ("tech_cause", 486))
    calls = await h.control("GET", "/control/calls")
    assert calls["calls"][0]["caller_result"] == "busy"


async def test_bridge_recording_is_a_real_wav(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound, leg_id = await answered(h)
    await h.rest("POST", f"/channels/{inbound}/answer")
    _, bridge = await h.rest("POST", "/bridges", type="mixing")
    await h.rest("POST", f"/bridges/{bridge['id']}/addChannel", channel=f"{inbound},{leg_id}")
    status, rec = await h.rest("POST", f"/bridges/{bridge['id']}/record", name="r1", format="wav")
    assert status == 201 and rec == {"name": "r1", "format": "wav", "state": "queued",
                                     "target_uri": f"bridge:{bridge['id']}"}  # fmt: skip
    assert any(e["type"] == "RecordingStarted" for e in h.events)  # before the 201
    await asyncio.sleep(1.2)
    for cid in (inbound, leg_id):
        await h.rest("DELETE", f"/channels/{cid}")
    await gone(h, leg_id)
    await h.rest("DELETE", f"/bridges/{bridge['id']}")
    done = await h.wait_for(lambda e: e["type"] == "RecordingFinished")
    assert done["recording"]["state"] == "done" and done["recording"]["duration"] == 1
    assert await h.rest("GET", "/recordings/stored/r1") == (200, {"name": "r1", "format": "wav"})
    async with h.http.get(h.sim.ari_url + "/recordings/stored/r1/file") as resp:
        data = await resp.read()
    with wave.open(BytesIO(data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert 1.2 <= w.getnframes() / 8000 <= 1.6
    assert await h.rest("POST", f"/bridges/{bridge['id']}/record", name="r1", format="wav") == (
        404, {"message": "Bridge not found"},
    )  # fmt: skip
    await h.wait_for(lambda e: e["type"] == "BridgeDestroyed")


async def test_websocket_drop_loses_events_and_keeps_state(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    _, leg_id = await answered(h)
    await h.disconnect()
    seen = len(h.events)
    calls = await h.control("GET", "/control/calls")
    await h.control("POST", f"/control/calls/{calls['calls'][0]['call_id']}/hangup")
    status, app = await h.rest("GET", "/applications/clinic")
    assert status == 200 and app["channel_ids"] == [leg_id]  # the admin leg is still in Stasis
    await h.connect()
    await asyncio.sleep(0.1)
    assert len(h.events) == seen  # nothing replayed
    await h.rest("DELETE", f"/channels/{leg_id}")
    await gone(h, leg_id)
    await h.disconnect()
    assert (await h.rest("GET", "/applications/clinic"))[0] == 404
    declined = await h.control("POST", "/control/calls", {"caller": "5550001", "did": "5551234"})
    assert declined["channel_id"] is None and declined["result"] == "declined"


async def test_restart_wipes_state_and_refuses_while_booting(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await place(h)
    await h.control("POST", "/control/faults", {"restart": True, "down_for": 0.5})
    assert (await h.rest("GET", "/channels"))[0] == 503
    await asyncio.sleep(0.6)
    assert await h.rest("GET", "/channels") == (200, [])


async def test_malformed_frames_on_demand(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("POST", "/control/faults", {"malformed_frames": 2})
    await place(h)
    await place(h)
    await asyncio.sleep(0.05)
    bad = 0
    for frame in h.frames:
        try:
            parse_event(frame)
        except ValueError:
            bad += 1
    assert bad == 2 and len(h.events) >= 2


async def test_auth_required(harness: SimHarness) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as s, s.get(harness.sim.ari_url + "/channels") as resp:
        assert resp.status == 401
