"""Endpoint subscriptions (``/applications/{app}/subscription``) and phone registration.

What Asterisk 22 does (res/stasis/app.c, res/res_stasis.c, main/endpoints.c): an app subscribed
to ``endpoint:PJSIP/x`` (or ``endpoint:PJSIP``) gets an EndpointStateChange for every new
snapshot of the endpoint: registration (state), and channels created on it or destroyed
(``channel_ids``); a state change also sends PeerStatusChange. The subscription outlives the
app's websocket. Errors: 400 "Invalid event source URI scheme", 404 "Application not found",
422 "Event source does not exist" / "Event source was not subscribed to".
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ari_app.ari import models as m
from ari_app.ari.client import AriBadRequest, AriClient, AriNotFound, AriUnprocessable
from tests.pbxsim.harness import PASSWORD, USER, Event, SimHarness, gone, leg, place
from tests.pbxsim.swagger import AriSpec

SUB = "/applications/clinic/subscription"
ALL = "__AST_ENDPOINT_ALL_TOPIC"


def endpoint_events(h: SimHarness, resource: str | None = None) -> list[Event]:
    return [
        e
        for e in h.events
        if e["type"] in ("EndpointStateChange", "PeerStatusChange")
        and (resource is None or e["endpoint"]["resource"] == resource)
    ]


def states(events: list[Event]) -> list[tuple[str, str]]:
    """(type, state or peer_status), with each PeerStatusChange put after its state change (the
    two come in either order, as from Asterisk)."""
    out: list[tuple[str, str]] = []
    for e in events:
        if e["type"] == "EndpointStateChange":
            out.append((e["type"], e["endpoint"]["state"]))
        else:
            out.append((e["type"], e["peer"]["peer_status"]))
    i = 0
    while i < len(out) - 1:
        if out[i][0] == "PeerStatusChange" and out[i + 1][0] == "EndpointStateChange":
            out[i], out[i + 1] = out[i + 1], out[i]
            i += 1
        i += 1
    return out


async def set_phone(h: SimHarness, name: str, **body: Any) -> dict[str, Any]:
    data: dict[str, Any] = await h.control("PUT", f"/control/phones/{name}", body)
    return data


async def test_registration_changes_reach_a_subscribed_app_in_order(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    status, app = await h.rest("POST", SUB, eventSource="endpoint:PJSIP/admin101")
    assert status == 200
    assert app == {
        "name": "clinic", "channel_ids": [], "bridge_ids": [], "endpoint_ids": ["PJSIP/admin101"],
        "device_names": [], "events_allowed": [], "events_disallowed": [],
    }  # fmt: skip
    assert (await set_phone(h, "admin101", registered=False))["registered"] is False
    await h.wait_for(lambda e: e["type"] == "PeerStatusChange")
    await h.wait_for(lambda e: e["type"] == "EndpointStateChange")
    _, offline = await h.rest("GET", "/endpoints/PJSIP/admin101")
    assert offline == {"technology": "PJSIP", "resource": "admin101", "state": "offline", "channel_ids": []}
    change = next(e for e in h.events if e["type"] == "EndpointStateChange")
    assert change["endpoint"] == offline
    assert change["application"] == "clinic" and change["asterisk_id"] == "02:fc:00:00:00:01"
    assert set(change) == {"type", "timestamp", "endpoint", "application", "asterisk_id", "_t"}
    peer = next(e for e in h.events if e["type"] == "PeerStatusChange")
    assert peer["endpoint"] == offline and peer["peer"] == {"peer_status": "Unreachable"}

    await set_phone(h, "admin101", registered=False)  # no change: nothing is published
    await set_phone(h, "admin101", registered=True)
    await h.wait_for(lambda e: e["type"] == "PeerStatusChange" and e["peer"]["peer_status"] == "Reachable")
    await set_phone(h, "admin101", behaviour="offline")  # the old way to take a phone offline
    await set_phone(h, "admin101", behaviour="answer")  # and back: registered again
    await h.wait_for(lambda e: len(endpoint_events(h)) == 8)
    assert states(endpoint_events(h)) == [
        ("EndpointStateChange", "offline"), ("PeerStatusChange", "Unreachable"),
        ("EndpointStateChange", "online"), ("PeerStatusChange", "Reachable"),
    ] * 2  # fmt: skip
    assert (await h.rest("GET", "/endpoints/PJSIP/admin101"))[1]["state"] == "online"
    # Other phones' changes are not sent: the app subscribed to admin101 only.
    await set_phone(h, "admin102", registered=False)
    await h.rest("GET", "/asterisk/ping")
    assert {e["endpoint"]["resource"] for e in endpoint_events(h)} == {"admin101"}


async def test_no_endpoint_events_without_a_subscription(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await set_phone(h, "admin101", registered=False)
    await set_phone(h, "admin101", registered=True)
    await set_phone(h, "admin107")  # a new phone
    inbound = await place(h)
    leg_id = await leg(h, inbound)
    await h.rest("DELETE", f"/channels/{leg_id}")
    await gone(h, leg_id)
    logged = {e["type"] for e in (await h.control("GET", "/control/events"))["events"]}
    assert not logged & {"EndpointStateChange", "PeerStatusChange", "ChannelCreated"}
    assert endpoint_events(h) == []


async def test_the_control_api_registered_field(harness: SimHarness) -> None:
    h = harness
    phone = await set_phone(h, "admin101", behaviour="answer", registered=False)
    assert (phone["behaviour"], phone["registered"]) == ("offline", False)
    phone = await set_phone(h, "admin101", registered=True)  # what it does online was kept
    assert (phone["behaviour"], phone["registered"]) == ("answer", True)
    phone = await set_phone(h, "admin101", behaviour="offline")
    assert (phone["behaviour"], phone["registered"]) == ("offline", False)
    phone = await set_phone(h, "admin101", behaviour="busy")
    assert (phone["behaviour"], phone["registered"]) == ("busy", True)
    bad = await h.control_raw("PUT", "/control/phones/admin101", {"behaviour": "offline", "registered": True})
    assert bad[0] == 400
    assert (await h.control_raw("PUT", "/control/phones/admin101", {"registered": "no"}))[0] == 400
    phones = {p["name"]: p for p in (await h.control("GET", "/control/phones"))["phones"]}
    assert phones["admin101"]["registered"] is True and phones["trunk"]["registered"] is True


async def test_bad_event_sources_get_asterisks_codes(harness: SimHarness) -> None:
    h = harness
    assert await h.rest("POST", SUB, eventSource="endpoint:PJSIP/admin101") == (
        404,
        {"message": "Application not found"},
    )
    await h.connect()
    missing = (400, {"message": "Missing parameter eventSource"})
    assert await h.rest("POST", SUB) == missing
    assert await h.rest("DELETE", SUB) == missing
    scheme = (400, {"message": "Invalid event source URI scheme"})
    for bad in ("PJSIP/admin101", "", "Endpoint:PJSIP/admin101", "sip:admin101"):
        assert await h.rest("POST", SUB, eventSource=bad) == scheme
    assert await h.rest("DELETE", SUB, eventSource="nope:x") == scheme
    absent = (422, {"message": "Event source does not exist"})
    for bad in ("endpoint:PJSIP/nobody", "endpoint:SIP", "endpoint:SIP/admin101", "endpoint:pjsip/admin101",
                "endpoint:PJSIP/", "endpoint:PJSIP/admin101/extra"):  # fmt: skip
        assert await h.rest("POST", SUB, eventSource=bad) == absent
    not_subscribed = (422, {"message": "Event source was not subscribed to"})
    assert await h.rest("DELETE", SUB, eventSource="endpoint:PJSIP/admin101") == not_subscribed
    assert await h.rest("DELETE", SUB, eventSource="endpoint:") == not_subscribed
    # Sources are handled in order: those before the one that fails stay subscribed.
    assert await h.rest("POST", SUB, eventSource="endpoint:PJSIP/admin101,endpoint:PJSIP/nobody") == absent
    _, app = await h.rest("GET", "/applications/clinic")
    assert app["endpoint_ids"] == ["PJSIP/admin101"]
    # Of several eventSource parameters Asterisk reads only the last.
    async with h.http.post(
        h.sim.ari_url + SUB + "?eventSource=endpoint:PJSIP/admin102&eventSource=endpoint:PJSIP/admin103"
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["endpoint_ids"] == ["PJSIP/admin101", "PJSIP/admin103"]
    # An eventSource in a JSON body (a list, or one string) is read too.
    status, app = await h.rest("POST", SUB, {"eventSource": ["endpoint:PJSIP/admin104"]})
    assert status == 200 and "PJSIP/admin104" in app["endpoint_ids"]


async def test_subscriptions_count_and_whole_technology(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    for _ in range(2):
        await h.rest("POST", SUB, eventSource="endpoint:PJSIP/admin101")
    _, app = await h.rest("DELETE", SUB, eventSource="endpoint:PJSIP/admin101")
    assert app["endpoint_ids"] == ["PJSIP/admin101"]  # subscribed twice: one unsubscribe leaves one
    _, app = await h.rest("DELETE", SUB, eventSource="endpoint:PJSIP/admin101")
    assert app["endpoint_ids"] == []
    # endpoint:PJSIP is the technology's endpoint: every PJSIP endpoint's changes, new ones too.
    _, app = await h.rest("POST", SUB, eventSource="endpoint:PJSIP/admin102,endpoint:PJSIP")
    assert app["endpoint_ids"] == ["PJSIP", "PJSIP/admin102"]
    await set_phone(h, "admin103", registered=False)
    await set_phone(h, "admin107", caller_name="Admin 107")
    await set_phone(h, "admin102", registered=False)  # both subscriptions carry it: twice
    await h.wait_for(lambda e: len(endpoint_events(h)) == 10)
    assert states(endpoint_events(h, "admin103")) == [
        ("EndpointStateChange", "offline"), ("PeerStatusChange", "Unreachable")
    ]  # fmt: skip
    assert states(endpoint_events(h, "admin107")) == [
        ("EndpointStateChange", "unknown"), ("EndpointStateChange", "offline"),
        ("EndpointStateChange", "online"), ("PeerStatusChange", "Reachable"),
    ]  # fmt: skip
    assert sorted(states(endpoint_events(h, "admin102"))) == [
        ("EndpointStateChange", "offline"), ("EndpointStateChange", "offline"),
        ("PeerStatusChange", "Unreachable"), ("PeerStatusChange", "Unreachable"),
    ]  # fmt: skip
    # A phone taken out of the configuration ends the subscriptions to it, without an event.
    await h.control("DELETE", "/control/phones/admin102")
    assert (await h.rest("GET", "/applications/clinic"))[1]["endpoint_ids"] == ["PJSIP"]


async def test_all_endpoints_subscription_gets_only_peer_status(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    _, app = await h.rest("POST", SUB, eventSource="endpoint:")
    assert app["endpoint_ids"] == [ALL]
    _, app = await h.rest("POST", SUB, eventSource="endpoint:PJSIP/admin101,endpoint:")
    assert app["endpoint_ids"] == [ALL]  # subscribed to all: nothing narrower is added
    await set_phone(h, "admin101", registered=False)
    await h.wait_for(lambda e: e["type"] == "PeerStatusChange")
    await h.rest("GET", "/asterisk/ping")
    assert states(endpoint_events(h)) == [("PeerStatusChange", "Unreachable")]
    assert await h.rest("DELETE", SUB, eventSource="endpoint:PJSIP/admin101") == (
        422,
        {"message": "Event source was not subscribed to"},
    )
    # Closing the websocket unregisters the app, which drops only the all-endpoints subscription.
    await h.rest("POST", "/applications/clinic/subscription", eventSource="endpoint:")
    await h.disconnect()
    assert await h.rest("GET", "/applications/clinic") == (404, {"message": "Application not found"})


async def test_subscription_survives_the_websocket(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.rest("POST", SUB, eventSource="endpoint:PJSIP/admin101")
    await h.disconnect()
    # Still registered: its subscription keeps it in Asterisk's registry.
    status, app = await h.rest("GET", "/applications/clinic")
    assert status == 200 and app["endpoint_ids"] == ["PJSIP/admin101"]
    assert [a["name"] for a in (await h.rest("GET", "/applications"))[1]] == ["clinic"]
    assert (await h.control("GET", "/control/state"))["apps"] == ["clinic"]
    await set_phone(h, "admin101", registered=False)  # nobody is listening: lost
    lost = [
        e for e in (await h.control("GET", "/control/events"))["events"] if e["type"] == "EndpointStateChange"
    ]
    assert [(e["delivered"], e["endpoint"], e["endpoint_state"]) for e in lost] == [
        (False, "PJSIP/admin101", "offline")
    ]
    # Still no app for Stasis(): it has no websocket.
    call = await h.control("POST", "/control/calls", {"caller": "5550001", "did": "5551234"})
    assert call["result"] == "declined"
    await h.connect()
    assert endpoint_events(h) == []  # nothing replayed
    await set_phone(h, "admin101", registered=True)
    await h.wait_for(lambda e: e["type"] == "EndpointStateChange" and e["endpoint"]["state"] == "online")
    _, app = await h.rest("DELETE", SUB, eventSource="endpoint:PJSIP/admin101")
    assert app["endpoint_ids"] == []
    await h.disconnect()
    assert (await h.rest("GET", "/applications/clinic"))[0] == 404  # nothing holds it any more


async def test_restart_drops_subscriptions(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.rest("POST", SUB, eventSource="endpoint:PJSIP/admin101")
    await h.control("POST", "/control/faults", {"restart": True})
    await h.wait_closed()
    assert await h.rest("GET", "/applications") == (200, [])


async def test_channels_on_a_subscribed_endpoint(harness: SimHarness) -> None:
    """Another app subscribed to admin101 sees its channels come and go, and their channel events
    (not StasisStart/StasisEnd); the app that owns the channel is not affected."""
    h = harness
    await h.connect()
    url = h.sim.ari_url.replace("http", "ws", 1) + "/events?app=presence"
    async with h.http.ws_connect(url) as ws:
        status, _ = await h.rest(
            "POST",
            "/applications/presence/subscription",
            eventSource="endpoint:PJSIP/admin101,endpoint:PJSIP/trunk",
        )
        assert status == 200
        inbound = await place(h)
        leg_id = await leg(h, inbound, timeout=0)
        await h.wait_for(lambda e: e["type"] == "Dial" and e["peer"]["id"] == leg_id and e["dialstatus"])
        await h.rest("DELETE", f"/channels/{leg_id}")
        await gone(h, leg_id)
        await h.control("POST", f"/control/calls/{await _call_of(h, inbound)}/hangup")
        await gone(h, inbound)
        got: list[Event] = []
        trunk_empty = {"technology": "PJSIP", "resource": "trunk", "state": "online", "channel_ids": []}
        while not got or got[-1].get("endpoint") != trunk_empty:
            got.append(await ws.receive_json(timeout=5))
    assert {e["application"] for e in got} == {"presence"}

    def seen(channel_id: str, resource: str) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for e in got:
            if e["type"] == "EndpointStateChange" and e["endpoint"]["resource"] == resource:
                out.append((e["type"], e["endpoint"]["channel_ids"]))
            elif (e.get("channel") or e.get("peer") or {}).get("id") == channel_id:
                out.append((e["type"], e.get("variable", e.get("dialstatus", e.get("dialplan_app")))))
        return out

    trunk = seen(inbound, "trunk")
    assert trunk[:5] == [
        ("EndpointStateChange", [inbound]), ("ChannelCreated", None), ("ChannelDialplan", "NoOp"),
        ("ChannelDialplan", "Stasis"), ("ChannelVarset", "STASISSTATUS"),
    ]  # fmt: skip
    assert trunk[-2:] == [("ChannelDestroyed", None), ("EndpointStateChange", [])]
    created = next(e for e in got if e["type"] == "ChannelCreated" and e["channel"]["id"] == inbound)
    assert created["channel"]["dialplan"] == {
        "context": "from-trunk", "exten": "5551234", "priority": 1, "app_name": "", "app_data": ""
    }  # fmt: skip
    admin = seen(leg_id, "admin101")
    assert admin[:2] == [("EndpointStateChange", [leg_id]), ("ChannelCreated", None)]
    assert admin[-2:] == [("ChannelDestroyed", None), ("EndpointStateChange", [])]
    assert ("Dial", "") in admin and ("Dial", "RINGING") in admin and ("ChannelHangupRequest", None) in admin
    assert not {"StasisStart", "StasisEnd", "ChannelEnteredBridge"} & {e["type"] for e in got}
    # The owner got what it always gets, once: no ChannelCreated, no endpoint events.
    assert not {"ChannelCreated", "EndpointStateChange"} & {e["type"] for e in h.events}
    assert len([e for e in h.of(leg_id) if e["type"] == "ChannelDestroyed"]) == 1


async def test_an_owner_subscribed_to_its_channels_endpoint_gets_them_twice(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.rest("POST", SUB, eventSource="endpoint:PJSIP/admin101")
    inbound = await place(h)
    leg_id = await leg(h, inbound)
    await h.rest("DELETE", f"/channels/{leg_id}")
    await gone(h, leg_id)
    await h.wait_for(lambda e: e["type"] == "EndpointStateChange" and e["endpoint"]["channel_ids"] == [])
    types = [e["type"] for e in h.of(leg_id, varsets=True)]
    assert types.count("ChannelCreated") == 1  # before the app had the channel: endpoint path only
    assert types.count("StasisStart") == 1 and types.count("StasisEnd") == 1  # never forwarded
    assert types.count("ChannelDestroyed") == 2 and types.count("ChannelHangupRequest") == 2
    changes = [e["endpoint"]["channel_ids"] for e in h.events if e["type"] == "EndpointStateChange"]
    assert changes == [[leg_id], []]


async def test_typed_client_subscribes_and_maps_errors(harness: SimHarness) -> None:
    h = harness
    client = AriClient(h.sim.ari_url, USER, PASSWORD, "clinic", timeout=2)
    try:
        with pytest.raises(AriNotFound, match="Application not found"):
            await client.subscribe(["endpoint:PJSIP/admin101"])
        await h.connect()
        app = await client.subscribe(["endpoint:PJSIP/admin101", "endpoint:PJSIP/admin102"])
        assert isinstance(app, m.Application) and app.endpoint_ids == ["PJSIP/admin101", "PJSIP/admin102"]
        with pytest.raises(AriBadRequest, match="Invalid event source URI scheme") as bad:
            await client.subscribe(["PJSIP/admin101"])
        assert bad.value.route == "/applications/{app}/subscription"
        with pytest.raises(AriUnprocessable, match="Event source does not exist"):
            await client.subscribe(["endpoint:PJSIP/nobody"])
        app = await client.unsubscribe(["endpoint:PJSIP/admin102"])
        assert app.endpoint_ids == ["PJSIP/admin101"]
        with pytest.raises(AriUnprocessable, match="Event source was not subscribed to"):
            await client.unsubscribe(["endpoint:PJSIP/admin102"])
        with pytest.raises(ValueError):
            await client.subscribe([])
        with pytest.raises(ValueError):
            await client.subscribe(["endpoint:PJSIP/a,b"])
        await set_phone(h, "admin101", registered=False)
        ev = await h.wait_for(lambda e: e["type"] == "EndpointStateChange")
        parsed = m.parse_event(json.dumps({k: v for k, v in ev.items() if k != "_t"}))
        assert isinstance(parsed, m.EndpointStateChange) and parsed.endpoint.state == "offline"
    finally:
        await client.close()


@pytest.mark.shared
@pytest.mark.parametrize(
    "scenario",
    [
        test_registration_changes_reach_a_subscribed_app_in_order,
        test_bad_event_sources_get_asterisks_codes,
        test_subscriptions_count_and_whole_technology,
        test_all_endpoints_subscription_gets_only_peer_status,
        test_an_owner_subscribed_to_its_channels_endpoint_gets_them_twice,
    ],
    ids=lambda f: f.__name__.removeprefix("test_"),
)
async def test_responses_and_events_match_api_docs(
    scenario: Callable[[SimHarness], Awaitable[None]], shared_ari: Path, harness: SimHarness
) -> None:
    spec = AriSpec(shared_ari / "api-docs")
    await scenario(harness)
    problems: list[str] = []
    for ev in harness.events:
        problems += spec.check_event({k: v for k, v in ev.items() if not k.startswith("_")})
    for r in harness.rest_log:
        problems += spec.check_response(r["method"], r["path"], r["status"], r["response"])
    assert problems == []


async def _call_of(h: SimHarness, channel_id: str) -> str:
    calls = (await h.control("GET", "/control/calls"))["calls"]
    return str(next(c["call_id"] for c in calls if c["channel_id"] == channel_id))


async def test_websocket_for_the_subscribing_app_is_not_needed_to_subscribe_again(
    harness: SimHarness,
) -> None:
    """An app kept registered by its subscriptions can change them without a websocket."""
    h = harness
    await h.connect()
    await h.rest("POST", SUB, eventSource="endpoint:PJSIP/admin101")
    await h.disconnect()
    status, app = await h.rest("POST", SUB, eventSource="endpoint:PJSIP/admin102")
    assert status == 200 and app["endpoint_ids"] == ["PJSIP/admin101", "PJSIP/admin102"]
    async with aiohttp.ClientSession() as s:  # and without auth nothing is answered
        async with s.post(h.sim.ari_url + SUB, params={"eventSource": "endpoint:"}) as resp:
            assert resp.status == 401
