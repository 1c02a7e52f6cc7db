"""Per-call scripts: what each phone does for one call, and the keys its caller presses.

A phone's own behaviour is shared by every call that rings it; a call that brings a script for
a phone keeps it whatever a later call sets, so that overlapping generated calls each end as
their own script says.
"""

from __future__ import annotations

from tests.pbxsim.harness import SimHarness, gone, leg, place


def _destroyed(h: SimHarness, channel_id: str) -> list[int]:
    return [e["cause"] for e in h.of(channel_id) if e["type"] == "ChannelDestroyed"]


async def test_a_calls_script_beats_the_phones_behaviour_and_later_calls(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    script = {"admin101": {"behaviour": "answer", "answer_after": 0.5, "hangup_after": 2}}
    first = await place(h, phones=script)
    # A later call changes the phone itself: the first call's leg must not care.
    await h.control("PUT", "/control/phones/admin101", {"behaviour": "busy"})
    leg1 = await leg(h, first, "admin101", timeout=30)
    await h.wait_for(
        lambda e: e["type"] == "Dial" and e["dialstatus"] == "ANSWER" and e["peer"]["id"] == leg1
    )
    # The phone's user hangs up 2 simulated seconds into the call, as its script said.
    await gone(h, leg1)
    assert "ChannelHangupRequest" in [e["type"] for e in h.of(leg1)]

    # A call without a script for the phone gets the phone's behaviour: busy (cause 17).
    second = await place(h, caller="5550002")
    leg2 = await leg(h, second, "admin101", timeout=30)
    await gone(h, leg2)
    hangups = [e for e in h.of(leg2) if e["type"] == "ChannelHangupRequest" and not e.get("soft")]
    assert [e["cause"] for e in hangups] == [17]


async def test_a_busy_or_silent_script_per_call(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("PUT", "/control/phones/admin102", {"behaviour": "answer", "answer_after": 0.1})
    inbound = await place(
        h, phones={"admin102": {"behaviour": "busy"}, "admin103": {"behaviour": "no_answer"}}
    )
    busy = await leg(h, inbound, "admin102", timeout=30)
    await gone(h, busy)
    assert [e["cause"] for e in h.of(busy) if e["type"] == "ChannelHangupRequest" and not e.get("soft")] == [
        17
    ]
    silent = await leg(h, inbound, "admin103", timeout=2)
    await gone(h, silent)
    assert _destroyed(h, silent) == [19]  # rang out at the dial timeout


async def test_an_unregistered_phone_rings_nowhere_whatever_the_script(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("PUT", "/control/phones/admin104", {"registered": False})
    inbound = await place(h, phones={"admin104": {"behaviour": "answer", "answer_after": 0.1}})
    leg_id = await leg(h, inbound, "admin104", timeout=2)
    await gone(h, leg_id)
    assert not [e for e in h.of(leg_id) if e["type"] == "Dial" and e["dialstatus"] == "ANSWER"]
    assert _destroyed(h, leg_id) == [19]


async def test_the_caller_presses_keys_after_being_answered(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h, press={"digits": "21", "after": 1.0})
    assert await h.rest("POST", f"/channels/{inbound}/answer") == (204, None)
    first = await h.wait_for(lambda e: e["type"] == "ChannelDtmfReceived")
    second = await h.wait_for(lambda e: e["type"] == "ChannelDtmfReceived" and e is not first)
    assert (first["digit"], second["digit"]) == ("2", "1")
    assert first["channel"]["id"] == inbound
    assert (await h.control("GET", "/control/calls"))["calls"][0]["dtmf"] == ["2", "1"]


async def test_bad_scripts_are_refused_before_any_call_is_made(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    for body in (
        {"phones": {"admin101": {"behaviour": "offline"}}},
        {"phones": ["admin101"]},
        {"phones": {"admin101": {"behaviour": "answer", "answer_after": -1}}},
        {"press": {"digits": "x"}},
        {"press": "2"},
    ):
        status, data = await h.control_raw(
            "POST", "/control/calls", {"caller": "1", "did": "5551234", **body}
        )
        assert status == 400, (body, data)
    assert (await h.control("GET", "/control/calls"))["calls"] == []
    assert h.events == []
