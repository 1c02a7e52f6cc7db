"""Bridged calls: membership events, BRIDGEPEER, technology, recordings, MOH, teardown orders.

Each test states the sequence Asterisk 22.10.1 gives (see test_scenarios.py for the conventions).
"""

from __future__ import annotations

import asyncio
import re

from tests.pbxsim.harness import SimHarness, answered, bridged, call_id_of, gone, leg, place, shape

FAR_END_BYE = {("ChannelHangupRequest", "Up"), ("ChannelHangupRequest", "Up", ("cause", 16))}


async def test_answered_call_caller_hangs_up_with_recording(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound, leg_id, bridge_id = await bridged(h)
    status, rec = await h.rest(
        "POST", f"/bridges/{bridge_id}/record", name="call-1", format="wav", ifExists="overwrite"
    )
    assert status == 201 and rec["state"] == "queued"
    await h.control("POST", f"/control/calls/{await call_id_of(h, inbound)}/hangup")
    await gone(h, inbound)
    seq = [shape(e) for e in h.of(inbound)]
    assert seq[:4] == [
        ("StasisStart", "Ring"),
        ("ChannelStateChange", "Up"),
        ("ChannelEnteredBridge", "Up"),
        ("ChannelConnectedLine", "Up"),
    ]
    assert seq[4] in FAR_END_BYE  # a BYE: with or without cause 16, both were recorded
    assert seq[5:] == [
        ("ChannelLeftBridge", "Up"),
        ("StasisEnd", "Up"),
        ("ChannelHangupRequest", "Up", ("cause", 16), ("soft", True)),
        ("ChannelDestroyed", "Up", ("cause", 16), ("cause_txt", "Normal Clearing")),
    ]
    names = [v for v, _ in h.varsets(inbound)]
    qos = ["RTPAUDIOQOS", "RTPAUDIOQOSJITTER", "RTPAUDIOQOSLOSS", "RTPAUDIOQOSRTT", "RTPAUDIOQOSMES"]
    assert names[-7:] == [*qos, "BRIDGEPEER", "STASISSTATUS"] and h.varsets(inbound)[-2][1] == ""
    left = next(e for e in h.of(inbound) if e["type"] == "ChannelLeftBridge")
    assert left["bridge"]["technology"] == "softmix" and left["bridge"]["channels"] == [leg_id]
    # The admin now talks to the Recorder alone.
    peer = h.varsets(leg_id)[-1]
    assert peer[0] == "BRIDGEPEER" and re.fullmatch(r"Recorder/ARI-[0-9a-f]{8};2", peer[1])
    assert h.of(leg_id)[-1]["type"] == "ChannelConnectedLine"

    await h.rest("DELETE", f"/channels/{leg_id}")
    await h.rest("DELETE", f"/bridges/{bridge_id}")
    destroyed = await h.wait_for(lambda e: e["type"] == "BridgeDestroyed")
    assert destroyed["bridge"]["channels"] == [] and h.events[-1] is destroyed
    assert [shape(e) for e in h.of(leg_id)][-4:] == [
        ("ChannelHangupRequest", "Up", ("cause", 32), ("soft", True)),
        ("ChannelLeftBridge", "Up"),
        ("StasisEnd", "Up"),
        ("ChannelDestroyed", "Up", ("cause", 16), ("cause_txt", "Normal Clearing")),
    ]
    done = next(e for e in h.events if e["type"] == "RecordingFinished")
    assert done["recording"]["state"] == "done" and isinstance(done["recording"]["duration"], int)
    assert set(done["recording"]) == {"name", "format", "state", "target_uri", "duration"}
    assert await h.rest("GET", "/recordings/stored/call-1") == (200, {"name": "call-1", "format": "wav"})


async def test_app_hangs_up_both_legs(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound, leg_id, bridge_id = await bridged(h)
    for cid in (inbound, leg_id):
        assert await h.rest("DELETE", f"/channels/{cid}") == (204, None)
    assert await h.rest("DELETE", f"/bridges/{bridge_id}") == (204, None)
    await h.wait_for(lambda e: e["type"] == "BridgeDestroyed")
    tail = [("ChannelLeftBridge", "Up"), ("StasisEnd", "Up")]
    assert [shape(e) for e in h.of(inbound)][-5:] == [
        ("ChannelHangupRequest", "Up", ("cause", 32), ("soft", True)),
        *tail,
        ("ChannelHangupRequest", "Up", ("cause", 16), ("soft", True)),  # back in the dialplan
        ("ChannelDestroyed", "Up", ("cause", 16), ("cause_txt", "Normal Clearing")),
    ]
    assert [shape(e) for e in h.of(leg_id)][-4:] == [
        ("ChannelHangupRequest", "Up", ("cause", 32), ("soft", True)),
        *tail,
        ("ChannelDestroyed", "Up", ("cause", 16), ("cause_txt", "Normal Clearing")),
    ]
    record = await h.sim_call(await call_id_of(h, inbound))
    assert (record["caller_result"], record["hangup_by"]) == ("answered", "app")


async def test_bridge_peers_connected_line_and_technology(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound, leg_id, bridge_id = await bridged(h)
    assert not any(e["type"] == "BridgeCreated" for e in h.events)
    peers = [v for v in h.varsets(leg_id) if v[0].startswith("BRIDGE")]
    assert peers[:2] == [
        ("BRIDGEPEER", h.of(inbound)[0]["channel"]["name"]),
        ("BRIDGEPVTCALLID", h.of(inbound)[0]["channel"]["protocol_id"]),
    ]
    assert len(peers) in (4, 6)  # set two or three times as the bridge settles
    connected = [e for e in h.of(inbound) if e["type"] == "ChannelConnectedLine"]
    assert connected[0]["channel"]["connected"] == {"name": "Admin 101", "number": "101"}
    # Two PJSIP legs go native a moment later; a Recorder makes it a softmix bridge.
    await _bridge_becomes(h, bridge_id, "native_rtp")
    assert (await h.rest("POST", f"/bridges/{bridge_id}/record", name="tech", format="wav"))[0] == 201
    _, snap = await h.rest("GET", f"/bridges/{bridge_id}")
    assert (
        snap["technology"] == "softmix"
        and snap["channels"][:2] == [inbound, leg_id]
        and len(snap["channels"]) == 3
    )
    # The Recorder pair took two channel-id numbers: the next channel's counter skips them.
    recorder = snap["channels"][2]
    assert int(recorder.split(".")[1]) == int(leg_id.split(".")[1]) + 2
    await h.rest("POST", "/recordings/live/tech/stop")
    await h.wait_for(lambda e: e["type"] == "RecordingFinished")
    await _bridge_becomes(h, bridge_id, "native_rtp")


async def _bridge_becomes(h: SimHarness, bridge_id: str, technology: str) -> None:
    # No event reports a technology change: poll the snapshot, as an app would.
    for _ in range(100):
        _, snap = await h.rest("GET", f"/bridges/{bridge_id}")
        if snap["technology"] == technology:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"bridge never became {technology}")


async def test_queue_in_holding_bridge_then_mixing(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("PUT", "/control/phones/admin101", {"behaviour": "answer", "answer_after": 0.1})
    inbound = await place(h)
    await h.rest("POST", f"/channels/{inbound}/answer")
    _, hold = await h.rest("POST", "/bridges", type="holding", name="queue")
    assert (hold["technology"], hold["bridge_type"]) == ("holding_bridge", "holding")
    assert await h.rest("POST", f"/bridges/{hold['id']}/addChannel", channel=inbound) == (204, None)
    seen = len(h.events)
    assert await h.rest("POST", f"/bridges/{hold['id']}/moh", mohClass="default") == (204, None)
    leg_id = await leg(h, inbound, timeout=15)
    # The MOH Announcer pair took two channel-id numbers between the caller and the leg.
    assert int(leg_id.split(".")[1]) == int(inbound.split(".")[1]) + 3
    await h.wait_for(lambda e: e["type"] == "Dial" and e["dialstatus"] == "ANSWER")
    assert not any(e["type"].startswith(("Bridge", "ChannelEntered", "ChannelLeft")) for e in h.events[seen:])
    assert await h.rest("DELETE", f"/bridges/{hold['id']}/moh") == (204, None)
    assert await h.rest("DELETE", f"/bridges/{hold['id']}/moh") == (
        409,
        {"message": "Bridge isn't playing music"},
    )
    assert await h.rest("POST", f"/bridges/{hold['id']}/removeChannel", channel=inbound) == (204, None)
    left = await h.wait_for(lambda e: e["type"] == "ChannelLeftBridge")
    assert left["bridge"]["channels"] == [] and left["bridge"]["technology"] == "holding_bridge"
    assert not [v for v in h.varsets(inbound) if v[0].startswith("BRIDGE")]  # holding bridges set none
    _, mix = await h.rest("POST", "/bridges", type="mixing")
    await h.rest("POST", f"/bridges/{mix['id']}/addChannel", channel=inbound)
    await h.rest("POST", f"/bridges/{mix['id']}/addChannel", channel=leg_id)
    assert await h.rest("DELETE", f"/bridges/{hold['id']}") == (204, None)
    await h.control("POST", f"/control/calls/{await call_id_of(h, inbound)}/hangup")
    await gone(h, inbound)
    await h.rest("DELETE", f"/channels/{leg_id}")
    await h.rest("DELETE", f"/bridges/{mix['id']}")
    destroyed = await h.wait_for(lambda e: e["type"] == "BridgeDestroyed")
    # Only the mixing bridge: the holding one was emptied by removeChannel before its DELETE.
    assert [e["bridge"]["id"] for e in h.events if e["type"] == "BridgeDestroyed"] == [mix["id"]]
    assert destroyed["bridge"]["channels"] == []


async def test_admin_hangs_up_and_caller_stays(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound, leg_id, bridge_id = await bridged(h)
    assert (await h.control("POST", "/control/phones/admin101/hangup"))["ended"] == 1
    await gone(h, leg_id)
    leg_seq = [shape(e) for e in h.of(leg_id)]
    assert leg_seq[-4] in FAR_END_BYE and leg_seq[-3:] == [
        ("ChannelLeftBridge", "Up"),
        ("StasisEnd", "Up"),
        ("ChannelDestroyed", "Up", ("cause", 16), ("cause_txt", "Normal Clearing")),
    ]
    status, ch = await h.rest("GET", f"/channels/{inbound}")
    assert status == 200 and ch["state"] == "Up"
    _, bridge = await h.rest("GET", f"/bridges/{bridge_id}")
    assert bridge["channels"] == [inbound]


async def test_channels_can_join_a_bridge_after_addchannels_reply(harness: SimHarness) -> None:
    """With join_delay, addChannel answers at once and the channels join one by one afterwards
    (as a real Asterisk did under load): the caller may hang up before the admin is in."""
    h = harness
    await h.connect()
    inbound, leg_id = await answered(h)
    assert await h.rest("POST", f"/channels/{inbound}/answer") == (204, None)
    await h.control("POST", "/control/faults", {"join_delay": 0.3})
    _, bridge = await h.rest("POST", "/bridges", type="mixing")
    assert await h.rest("POST", f"/bridges/{bridge['id']}/addChannel", channel=f"{inbound},{leg_id}") == (
        204,
        None,
    )
    assert not [e for e in h.events if e["type"] == "ChannelEnteredBridge"]
    first = await h.wait_for(lambda e: e["type"] == "ChannelEnteredBridge")
    assert first["channel"]["id"] == inbound and first["bridge"]["channels"] == [inbound]
    await h.control("POST", f"/control/calls/{await call_id_of(h, inbound)}/hangup")
    await h.wait_for(lambda e: e["type"] == "StasisEnd" and e["channel"]["id"] == inbound)
    await asyncio.sleep(0.5)
    # The admin's leg joins after the caller left: alone, as on Asterisk 22.10.1.
    entered = [
        (e["channel"]["id"], e["bridge"]["channels"]) for e in h.events if e["type"] == "ChannelEnteredBridge"
    ]
    assert entered == [(inbound, [inbound]), (leg_id, [leg_id])]
    assert (await h.sim_call(await call_id_of(h, inbound)))["caller_result"] != "answered"
