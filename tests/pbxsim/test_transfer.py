"""A phone's blind transfer (SIP REFER), as Asterisk 22.10.1 handled it with SIPp phones.

The recorded setup: the caller (trunk) and admin101 in the app's mixing bridge; admin101 sends
``REFER`` with ``Refer-To: <sip:102@...>``. The phones' endpoints had no caller id, hence the
empty ones here. What the recording showed, per handling of the transferer's channel:

- ``PJSIP_TRANSFER_HANDLING()`` = ``ari-only``: ChannelTransfer (no ``state``) with
  ``refer_to.requested_destination.destination`` and ``referred_by`` {source_channel,
  connected_channel, bridge}; each ``transfer_progress`` another ChannelTransfer with ``state``;
  the one after the app took the transferer out of the bridge has only ``source_channel``. The
  phone hangs up after the final NOTIFY: ChannelHangupRequest, StasisEnd, ChannelDestroyed.
- default (``core``): ChannelUnhold, StasisStart of ``Local/102@admins-n;1`` (``args: []``,
  ``replace_channel``), ChannelLeftBridge (transferer), ChannelEnteredBridge (Local),
  ChannelConnectedLine (Local), BridgeBlindTransfer, then the Local's ChannelCallerId, the
  caller's ChannelConnectedLine, Ringing + ``Dial RINGING``, Up + ``Dial ANSWER``; the
  transferer's BYE: ChannelHangupRequest and StasisEnd only. A ``_X.`` target (5559) sends ``;2``
  into the app with ``args: ["transfer", "5559"]``.
- ``allow_transfer=no``: 603, no event.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.pbxsim.harness import Event, SimHarness, bridged, channel_of, leg, shape
from tests.pbxsim.swagger import AriSpec

KEY_EVENTS = Path("/tmp/astcheck/key_events.json")  # the recording, where it was made
NO_ID = {"caller_name": "", "caller_number": ""}  # the recorded endpoints had no callerid


async def _recorded_setup(h: SimHarness, **admin102: Any) -> tuple[str, str, str]:
    """The caller and admin101 bridged (gone native_rtp), admin102 answering after 1 s."""
    await h.control("PUT", "/control/phones/admin101", NO_ID)
    await h.control(
        "PUT", "/control/phones/admin102", {"behaviour": "answer", "answer_after": 1.0, **NO_ID, **admin102}
    )
    await h.connect()
    inbound, leg_id, bridge_id = await bridged(h)
    await _native(h, bridge_id)
    return inbound, leg_id, bridge_id


async def _native(h: SimHarness, bridge_id: str) -> None:
    for _ in range(50):
        _, bridge = await h.rest("GET", f"/bridges/{bridge_id}")
        if bridge["technology"] == "native_rtp":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the bridge never went native_rtp")


async def _refer(h: SimHarness, to: str, phone: str = "admin101") -> dict[str, Any]:
    status, transfer = await h.control_raw("POST", f"/control/phones/{phone}/refer", {"to": to})
    assert status == 200, transfer
    return dict(transfer)


async def _transfer(h: SimHarness, transfer_id: str) -> dict[str, Any]:
    transfers = (await h.control("GET", "/control/transfers"))["transfers"]
    return dict(next(t for t in transfers if t["transfer_id"] == transfer_id))


def _transfers(h: SimHarness) -> list[Event]:
    return [e for e in h.events if e["type"] == "ChannelTransfer"]


def _no_varsets(events: list[Event]) -> list[Event]:
    return [e for e in events if e["type"] != "ChannelVarset"]


# ---------------------------------------------------------------------- ari-only
async def test_ari_only_refer_is_handed_to_the_app(harness: SimHarness) -> None:
    h = harness
    inbound, leg_id, bridge_id = await _recorded_setup(h)
    before = len(h.events)
    status, _ = await h.rest(
        "POST", f"/channels/{leg_id}/variable", variable="PJSIP_TRANSFER_HANDLING()", value="ari-only"
    )
    assert status == 204
    transfer = await _refer(h, "102")
    assert transfer["handling"] == "ari-only" and transfer["sip_response"] == 202
    assert transfer["notifies"] == ["100 Trying"] and transfer["state"] == "pending"

    first = await h.wait_for(lambda e: e["type"] == "ChannelTransfer")
    # The function write published nothing; the REFER's first event is the ChannelTransfer.
    assert _no_varsets(h.events[before:])[0] is first
    assert "state" not in first
    assert first["refer_to"] == {"requested_destination": {"destination": "102"}}
    by = first["referred_by"]
    assert set(by) == {"source_channel", "connected_channel", "bridge"}
    assert by["source_channel"]["id"] == leg_id and by["source_channel"]["state"] == "Up"
    assert by["connected_channel"]["id"] == inbound
    assert by["bridge"]["id"] == bridge_id and by["bridge"]["channels"] == [inbound, leg_id]
    assert by["bridge"]["technology"] == "native_rtp"  # as it was when the REFER came
    # The framehook takes the bridge off native RTP; the legs' peer variables are set again.
    _, bridge = await h.rest("GET", f"/bridges/{bridge_id}")
    assert bridge["technology"] == "simple_bridge"
    after = h.events[h.events.index(first) + 1 :]
    assert [(e["variable"], channel_of(e)["id"]) for e in after][:4] == [
        ("BRIDGEPEER", leg_id),
        ("BRIDGEPVTCALLID", leg_id),
        ("BRIDGEPEER", inbound),
        ("BRIDGEPVTCALLID", inbound),
    ]
    assert "ChannelUnhold" not in {e["type"] for e in h.events[before:]}

    # The app transfers by itself, reporting as it goes (run D of the recording).
    assert await h.rest("POST", f"/channels/{leg_id}/transfer_progress", states="channel_progress") == (
        204,
        None,
    )
    progress = await h.wait_for(
        lambda e: e["type"] == "ChannelTransfer" and e.get("state") == "channel_progress"
    )
    assert set(progress["referred_by"]) == {"source_channel", "connected_channel", "bridge"}
    assert progress["referred_by"]["bridge"]["technology"] == "simple_bridge"
    target = await leg(h, inbound, "admin102", timeout=30)
    await h.wait_for(
        lambda e: e["type"] == "Dial" and e["dialstatus"] == "ANSWER" and e["peer"]["id"] == target
    )
    assert await h.rest("POST", f"/bridges/{bridge_id}/addChannel", channel=target) == (204, None)
    assert await h.rest("POST", f"/bridges/{bridge_id}/removeChannel", channel=leg_id) == (204, None)
    assert await h.rest("POST", f"/channels/{leg_id}/transfer_progress", states="channel_answered") == (
        204,
        None,
    )
    answered = await h.wait_for(
        lambda e: e["type"] == "ChannelTransfer" and e.get("state") == "channel_answered"
    )
    assert set(answered["referred_by"]) == {"source_channel"}  # out of the bridge by now
    assert answered["refer_to"] == first["refer_to"]

    # The phone got NOTIFY 200 and hangs up a moment later.
    destroyed = await h.wait_for(lambda e: e["type"] == "ChannelDestroyed" and e["channel"]["id"] == leg_id)
    assert destroyed["_t"] - answered["_t"] >= 0.2 / 10 * 0.9  # bye_after_refer, at time scale 10
    ending = [shape(e) for e in h.of(leg_id)[-3:]]
    assert ending[0][:2] == ("ChannelHangupRequest", "Up") and ("soft", True) not in ending[0]
    assert ending[1:] == [
        ("StasisEnd", "Up"),
        ("ChannelDestroyed", "Up", ("cause", 16), ("cause_txt", "Normal Clearing")),
    ]
    done = await _transfer(h, transfer["transfer_id"])
    assert done["notifies"] == ["100 Trying", "100 Trying", "200 OK"]
    assert (
        done["state"] == "done"
        and done["bye_sent"]
        and done["ari_states"] == ["channel_progress", "channel_answered"]
    )
    # The caller talks to admin102 now.
    _, bridge = await h.rest("GET", f"/bridges/{bridge_id}")
    assert bridge["channels"] == [inbound, target]


async def test_transfer_progress_states_and_errors(harness: SimHarness) -> None:
    h = harness
    await h.control("PUT", "/control/phones/admin101", {"bye_after_refer": 5.0})
    inbound, leg_id, bridge_id = await _recorded_setup(h)
    url = f"/channels/{leg_id}/transfer_progress"
    # No REFER waiting: Asterisk indicates to the channel anyway, nothing comes of it.
    assert await h.rest("POST", url, states="channel_progress") == (204, None)
    assert _transfers(h) == []
    # find_control comes first (404 / 409), then the states.
    assert await h.rest("POST", "/channels/nope/transfer_progress") == (404, {"message": "Channel not found"})
    assert await h.rest("POST", url) == (400, {"message": "states must not be empty"})
    assert await h.rest("POST", url, states="") == (400, {"message": "states must not be empty"})
    assert await h.rest("POST", url, states="ringing") == (400, {"message": "Invalid states value"})
    await h.control("POST", "/control/faults", {"stasis_start_delay": 0.5})
    status, early = await h.rest("POST", "/channels/create", endpoint="PJSIP/admin103", app="clinic")
    assert status == 200
    assert await h.rest("POST", f"/channels/{early['id']}/transfer_progress", states="channel_progress") == (
        409,
        {"message": "Channel not in Stasis application"},
    )
    await h.control("POST", "/control/faults", {"stasis_start_delay": 0})

    # Only the function-style name (any case) sets the handling; the plain variable is a variable.
    assert await h.rest(
        "POST", f"/channels/{leg_id}/variable", variable="PJSIP_TRANSFER_HANDLING", value="ari-only"
    ) == (204, None)
    assert ("PJSIP_TRANSFER_HANDLING", "ari-only") in h.varsets(leg_id)
    assert await h.rest(
        "POST", f"/channels/{leg_id}/variable", variable="pjsip_transfer_handling()", value="ari-only"
    ) == (204, None)
    assert await h.rest(
        "POST", f"/channels/{leg_id}/variable", variable="PJSIP_TRANSFER_HANDLING()", value="bogus"
    ) == (204, None)
    transfer = await _refer(h, "5559")
    assert transfer["handling"] == "ari-only"  # "bogus" left it as it was
    await h.wait_for(lambda e: e["type"] == "ChannelTransfer")
    # Case does not matter; a body's "states" counts; channel_unavailable reads channel_declined.
    assert await h.rest("POST", url, states="CHANNEL_PROGRESS") == (204, None)
    assert await h.rest("POST", url, {"states": "channel_unavailable"}, states="channel_progress") == (
        204,
        None,
    )
    await h.wait_for(lambda e: e["type"] == "ChannelTransfer" and e.get("state") == "channel_declined")
    assert [e.get("state") for e in _transfers(h)] == [None, "channel_progress", "channel_declined"]
    assert all(e["referred_by"]["connected_channel"]["id"] == inbound for e in _transfers(h))
    # Over: a later state is 204 and changes nothing.
    assert await h.rest("POST", url, states="channel_answered") == (204, None)
    await asyncio.sleep(0.05)
    assert len(_transfers(h)) == 3
    done = await _transfer(h, transfer["transfer_id"])
    assert (
        done["notifies"] == ["100 Trying", "100 Trying", "503 Service Unavailable"]
        and done["state"] == "done"
    )
    # The final NOTIFY took the framehook away: the bridge goes native again.
    await _native(h, bridge_id)


async def test_handling_set_at_create_and_back_to_core(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("PUT", "/control/phones/admin103", {"behaviour": "answer", "answer_after": 0.05})
    status, ch = await h.rest(
        "POST", "/channels/create", {"variables": {"PJSIP_TRANSFER_HANDLING()": "ari-only"}},
        endpoint="PJSIP/admin103", app="clinic",
    )  # fmt: skip
    assert status == 200
    await h.wait_for(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == ch["id"])
    assert await h.rest("POST", f"/channels/{ch['id']}/dial") == (204, None)
    await h.wait_for(lambda e: e["type"] == "Dial" and e["dialstatus"] == "ANSWER")
    first = await _refer(h, "102", "admin103")
    assert first["handling"] == "ari-only"
    event = await h.wait_for(lambda e: e["type"] == "ChannelTransfer")
    assert set(event["referred_by"]) == {"source_channel"}  # not in a bridge
    assert await h.rest(
        "POST", f"/channels/{ch['id']}/variable", variable="PJSIP_TRANSFER_HANDLING()", value="core"
    ) == (204, None)
    second = await _refer(h, "102", "admin103")
    assert second["handling"] == "core"
    # Not bridged: the core transfer is "Invalid", the phone gets 400 and keeps its call.
    assert second["sip_response"] == 400 and second["state"] == "refused"
    blind = await h.wait_for(lambda e: e["type"] == "BridgeBlindTransfer")
    assert blind["result"] == "Invalid" and blind["channel"]["id"] == ch["id"]
    assert "bridge" not in blind and "transferee" not in blind and "replace_channel" not in blind
    assert "ChannelUnhold" not in {e["type"] for e in h.events}


# ---------------------------------------------------------------------- core
async def test_core_blind_transfer_swaps_a_local_channel_in(harness: SimHarness) -> None:
    h = harness
    await h.control("PUT", "/control/phones/admin101", {"bye_after_refer": 3.0})
    inbound, leg_id, bridge_id = await _recorded_setup(h)
    before = len(h.events)
    transfer = await _refer(h, "102")
    assert transfer["handling"] == "core" and transfer["sip_response"] == 202
    assert transfer["notifies"] == ["100 Trying", "200 OK"] and transfer["target"] == "admin102"
    local = str(transfer["local_channel_id"])
    await h.wait_for(
        lambda e: e["type"] == "Dial" and e["dialstatus"] == "ANSWER" and e["peer"]["id"] == local
    )
    # The transferer is still in Stasis, out of the bridge, until its phone hangs up.
    status, still = await h.rest("GET", f"/channels/{leg_id}")
    assert status == 200 and still["state"] == "Up"
    _, bridge = await h.rest("GET", f"/bridges/{bridge_id}")
    assert bridge["channels"] == [inbound, local] and bridge["technology"] == "simple_bridge"

    events = _no_varsets(h.events[before:])
    swap = [(e["type"], channel_of(e).get("id")) for e in events[:6]]
    assert swap == [
        ("ChannelUnhold", leg_id),
        ("StasisStart", local),
        ("ChannelLeftBridge", leg_id),
        ("ChannelEnteredBridge", local),
        ("ChannelConnectedLine", local),
        ("BridgeBlindTransfer", leg_id),
    ]
    start, left, entered, connected, blind = events[1:6]
    ch = start["channel"]
    assert re.fullmatch(r"Local/102@admins-[0-9a-f]{8};1", ch["name"]) and ch["state"] == "Down"
    assert ch["protocol_id"] == "" and start["args"] == []
    assert ch["dialplan"] == {
        "context": "admins",
        "exten": "102",
        "priority": 1,
        "app_name": "Stasis",
        "app_data": "clinic",
    }
    assert start["replace_channel"]["id"] == leg_id
    assert left["bridge"]["channels"] == [inbound] and left["bridge"]["technology"] == "native_rtp"
    assert (
        entered["bridge"]["channels"] == [inbound, local] and entered["bridge"]["technology"] == "native_rtp"
    )
    caller = h.of(inbound)[0]["channel"]["caller"]
    assert connected["channel"]["connected"] == caller
    assert {k: blind[k] for k in ("exten", "context", "result", "is_external")} == {
        "exten": "102", "context": "admins", "result": "Success", "is_external": True,
    }  # fmt: skip
    assert blind["transferee"]["id"] == inbound and blind["replace_channel"]["id"] == local
    assert blind["replace_channel"]["dialplan"]["app_name"] == ""  # as the Local was created
    assert blind["bridge"]["id"] == bridge_id and blind["bridge"]["channels"] == [inbound, leg_id]
    assert blind["bridge"]["technology"] == "native_rtp"
    # Local;2's Dial(): the order of the first three varied between runs; Dial RINGING follows.
    dialing = [(e["type"], channel_of(e)["id"], e.get("dialstatus")) for e in events[6:]]
    assert sorted(dialing[:3]) == [
        ("ChannelCallerId", local, None),
        ("ChannelConnectedLine", inbound, None),
        ("ChannelStateChange", local, None),
    ]
    assert dialing[3:] == [
        ("Dial", local, "RINGING"),
        ("ChannelStateChange", local, None),
        ("Dial", local, "ANSWER"),
    ]
    assert [channel_of(e)["state"] for e in events[6:] if channel_of(e)["id"] == local][-3:] == [
        "Ringing",
        "Up",
        "Up",
    ]
    ringing = next(e for e in events if e["type"] == "Dial")
    assert "caller" not in ringing and ringing["dialstring"] == "" and ringing["forward"] == ""
    # admin102 has no caller id: Dial() presents the extension dialled.
    callee = {"name": "", "number": "102"}
    assert next(e for e in events if e["type"] == "ChannelCallerId")["channel"]["caller"] == callee
    assert h.of(inbound)[-1]["channel"]["connected"] == callee
    assert ("BLINDTRANSFER", h.of(leg_id)[0]["channel"]["name"]) in h.varsets(inbound)
    assert ("BLINDTRANSFER", h.of(inbound)[0]["channel"]["name"]) in h.varsets(leg_id)
    assert ("BRIDGEPVTCALLID", "") in h.varsets(inbound)  # unset: a Local channel has none

    # The phone hangs up its call: the app's last events of the transferer.
    await h.wait_for(lambda e: e["type"] == "StasisEnd" and e["channel"]["id"] == leg_id)
    await asyncio.sleep(0.05)
    assert [shape(e)[0] for e in h.of(leg_id)][-2:] == ["ChannelHangupRequest", "StasisEnd"]
    assert h.varsets(leg_id)[-1][0] == "RTPAUDIOQOSMES"  # no STASISSTATUS, no ChannelDestroyed
    assert (await h.rest("GET", f"/channels/{leg_id}"))[0] == 404
    assert (await _transfer(h, transfer["transfer_id"]))["bye_sent"]

    # The caller hangs up; the app hangs up the Local channel.
    calls = (await h.control("GET", "/control/calls"))["calls"]
    call = next(c for c in calls if c["channel_id"] == inbound)
    assert call["bridged_with"] == ["admin101", "admin102"]
    await h.control("POST", f"/control/calls/{call['call_id']}/hangup")
    await h.wait_for(lambda e: e["type"] == "StasisEnd" and e["channel"]["id"] == inbound)
    # The Local channel is the caller's bridge peer: it gets the ...BRIDGED figures (as recorded).
    assert ("RTPAUDIOQOSBRIDGED", dict(h.varsets(inbound))["RTPAUDIOQOS"]) in h.varsets(local)
    assert await h.rest("DELETE", f"/channels/{local}") == (204, None)
    await h.wait_for(lambda e: e["type"] == "StasisEnd" and e["channel"]["id"] == local)
    await asyncio.sleep(0.05)
    assert [shape(e) for e in h.of(local)][-3:] == [
        ("ChannelHangupRequest", "Up", ("cause", 32), ("soft", True)),
        ("ChannelLeftBridge", "Up"),
        ("StasisEnd", "Up"),
    ]


async def test_core_transfer_to_an_extension_the_app_handles(harness: SimHarness) -> None:
    h = harness
    inbound, leg_id, bridge_id = await _recorded_setup(h)
    before = len(h.events)
    transfer = await _refer(h, "5559")
    assert transfer["route"] == "stasis" and transfer["sip_response"] == 202
    local, half = str(transfer["local_channel_id"]), str(transfer["local2_channel_id"])
    await h.wait_for(lambda e: e["type"] == "BridgeBlindTransfer")
    events = _no_varsets(h.events[before:])
    assert [(e["type"], channel_of(e).get("id")) for e in events[:7]] == [
        ("ChannelUnhold", leg_id),
        ("StasisStart", local),
        ("StasisStart", half),
        ("ChannelLeftBridge", leg_id),
        ("ChannelEnteredBridge", local),
        ("ChannelConnectedLine", local),
        ("BridgeBlindTransfer", leg_id),
    ]
    second = events[2]
    assert second["args"] == ["transfer", "5559"] and "replace_channel" not in second
    assert re.fullmatch(r"Local/5559@admins-[0-9a-f]{8};2", second["channel"]["name"])
    assert second["channel"]["state"] == "Ring"
    assert second["channel"]["dialplan"]["app_data"] == "clinic,transfer,5559"
    await asyncio.sleep(0.1)
    assert [e["type"] for e in h.of(local)] == ["StasisStart", "ChannelEnteredBridge", "ChannelConnectedLine"]
    # The app hangs up the ;1 half: ;2 is hung up with its cause.
    assert await h.rest("DELETE", f"/channels/{local}") == (204, None)
    await h.wait_for(lambda e: e["type"] == "StasisEnd" and e["channel"]["id"] == half)
    assert [shape(e) for e in h.of(half)] == [
        ("StasisStart", "Ring"),
        ("ChannelHangupRequest", "Ring", ("cause", 16)),
        ("StasisEnd", "Ring"),
    ]
    _, bridge = await h.rest("GET", f"/bridges/{bridge_id}")
    assert bridge["channels"] == [inbound]


@pytest.mark.parametrize(
    ("to", "admin102", "status", "cause"),
    [
        ("102", {"behaviour": "busy"}, "BUSY", 17),
        ("109", {}, "CHANUNAVAIL", 3),  # _1XX: Dial(PJSIP/admin109), no such endpoint
        ("102", {"hangup_after": 0.5}, "ANSWER", 16),  # answered, then the callee hangs up
    ],
)
async def test_core_transfer_whose_dial_ends(
    harness: SimHarness, to: str, admin102: dict[str, Any], status: str, cause: int
) -> None:
    h = harness
    inbound, _, bridge_id = await _recorded_setup(h, **admin102)
    transfer = await _refer(h, to)
    local = str(transfer["local_channel_id"])
    await h.wait_for(lambda e: e["type"] == "StasisEnd" and e["channel"]["id"] == local)
    assert ("CHANLOCALSTATUS", status) in h.varsets(local)
    assert [shape(e) for e in h.of(local)][-3:] == [
        ("ChannelHangupRequest", "Up" if status == "ANSWER" else "Down", ("cause", cause)),
        ("ChannelLeftBridge", "Up" if status == "ANSWER" else "Down"),
        ("StasisEnd", "Up" if status == "ANSWER" else "Down"),
    ]
    _, bridge = await h.rest("GET", f"/bridges/{bridge_id}")
    assert bridge["channels"] == [inbound]
    done = await _transfer(h, transfer["transfer_id"])
    assert done["target_state"] == ("ended" if status == "ANSWER" else "failed")


async def test_target_declines_while_ringing(harness: SimHarness) -> None:
    h = harness
    inbound, _, _ = await _recorded_setup(h, behaviour="no_answer")
    transfer = await _refer(h, "102")
    local = str(transfer["local_channel_id"])
    await h.wait_for(
        lambda e: e["type"] == "Dial" and e["dialstatus"] == "RINGING" and e["peer"]["id"] == local
    )
    assert (await _transfer(h, transfer["transfer_id"]))["target_state"] == "ringing"
    assert await h.control("POST", "/control/phones/admin102/hangup") == {"ended": 1}
    await h.wait_for(lambda e: e["type"] == "StasisEnd" and e["channel"]["id"] == local)
    assert ("CHANLOCALSTATUS", "BUSY") in h.varsets(local)
    assert shape(h.of(local)[-3]) == ("ChannelHangupRequest", "Ringing", ("cause", 17))
    # The caller heard the callee's identity while it rang, and stays in the bridge alone.
    assert h.of(inbound)[-1]["channel"]["connected"] == {"name": "", "number": "102"}


async def test_refer_refused_without_events(harness: SimHarness) -> None:
    h = harness
    await h.control("PUT", "/control/phones/admin101", {"allow_transfer": False})
    phones = (await h.control("GET", "/control/phones"))["phones"]
    assert next(p for p in phones if p["name"] == "admin101")["allow_transfer"] is False
    inbound, leg_id, bridge_id = await _recorded_setup(h)
    before = len(h.events)
    transfer = await _refer(h, "102")
    assert transfer["sip_response"] == 603 and transfer["state"] == "refused" and transfer["notifies"] == []
    # No such extension (the dialplan has _1XX and _X.): 404, nothing either.
    await h.control("PUT", "/control/phones/admin101", {"allow_transfer": True})
    transfer = await _refer(h, "sales")
    assert transfer["sip_response"] == 404 and transfer["state"] == "refused"
    await asyncio.sleep(0.1)
    assert h.events[before:] == []
    _, bridge = await h.rest("GET", f"/bridges/{bridge_id}")
    assert bridge["channels"] == [inbound, leg_id]  # the call goes on: no BYE

    assert await h.control_raw("POST", "/control/phones/nobody/refer", {"to": "102"}) == (
        404,
        {"error": "no such phone"},
    )
    status, body = await h.control_raw("POST", "/control/phones/admin104/refer", {"to": "102"})
    assert status == 409 and "no call" in body["error"]
    assert (await h.control_raw("POST", "/control/phones/admin101/refer", {}))[0] == 400


# ---------------------------------------------------------------------- against api-docs and the recording
SCENARIOS = [
    test_ari_only_refer_is_handed_to_the_app,
    test_target_declines_while_ringing,
    test_transfer_progress_states_and_errors,
    test_handling_set_at_create_and_back_to_core,
    test_core_blind_transfer_swaps_a_local_channel_in,
    test_core_transfer_to_an_extension_the_app_handles,
    test_refer_refused_without_events,
]
# Which recorded run each scenario plays, and the events whose shapes must be the recorded ones.
RECORDED = [
    (test_ari_only_refer_is_handed_to_the_app, "D-ari-only", ("ChannelTransfer",)),
    (
        test_core_blind_transfer_swaps_a_local_channel_in,
        "A-core-default",
        ("ChannelUnhold", "BridgeBlindTransfer"),
    ),
    (test_core_transfer_to_an_extension_the_app_handles, "E-core-target-5559", ("BridgeBlindTransfer",)),
]


@pytest.mark.shared
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__.removeprefix("test_"))
async def test_events_and_responses_match_api_docs(
    scenario: Any, harness: SimHarness, shared_ari: Path
) -> None:
    await scenario(harness)
    spec = AriSpec(shared_ari / "api-docs")
    problems = [p for ev in harness.events for p in spec.check_event(_strip(ev))]
    for r in harness.rest_log:
        problems += spec.check_response(r["method"], r["path"], r["status"], r["response"])
    assert problems == []


@pytest.mark.parametrize(
    ("scenario", "run", "kinds"), RECORDED, ids=lambda v: v if isinstance(v, str) else ""
)
async def test_event_shapes_are_the_recorded_ones(
    scenario: Any, run: str, kinds: tuple[str, ...], harness: SimHarness
) -> None:
    recorded = _recording()
    if recorded is None:
        pytest.skip(f"{KEY_EVENTS} (the recording) is not on this machine")
    await scenario(harness)
    for kind in kinds:
        want = {_keys(e) for e in recorded[run] if e.get("type") == kind}
        got = {_keys(e) for e in harness.events if e["type"] == kind}
        assert want and got == want, kind
    # The transfer's StasisStarts: the Local ;1 with replace_channel, the ;2 with args.
    want = {_keys(e) for e in recorded[run] if e.get("type") == "StasisStart" and _is_local(e)}
    got = {_keys(e) for e in harness.events if e["type"] == "StasisStart" and _is_local(e)}
    assert got == want


def _is_local(event: dict[str, Any]) -> bool:
    return str(event["channel"]["name"]).startswith("Local/")


def _strip(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if not k.startswith("_")}


def _recording() -> dict[str, list[dict[str, Any]]] | None:
    return json.loads(KEY_EVENTS.read_text()) if KEY_EVENTS.is_file() else None


def _keys(event: dict[str, Any]) -> tuple[Any, ...]:
    """The shape of an event: its keys, and those of the objects in it."""
    return tuple(
        sorted((k, tuple(sorted(v)) if isinstance(v, dict) else None) for k, v in _strip(event).items())
    )
