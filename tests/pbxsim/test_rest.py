"""ARI requests beyond the call flows: Asterisk's error codes and messages, variables, originate,
DTMF, endpoints, applications, auth."""

from __future__ import annotations

import aiohttp

from tests.pbxsim.harness import SimHarness, auth_header, bridged, call_id_of, gone, leg, place, shape

NOT_FOUND = {"message": "Channel not found"}
NOT_IN_STASIS = {"message": "Channel not in Stasis application"}
INVALID_STATE = {"message": "Channel in invalid state"}


async def test_channel_errors_as_asterisk_gives_them(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("POST", "/control/faults", {"stasis_start_delay": 0.5})
    inbound = await place(h)
    assert await h.rest("POST", "/channels/nope/answer") == (404, NOT_FOUND)
    assert await h.rest("GET", "/channels/nope") == (404, NOT_FOUND)
    assert await h.rest("DELETE", "/channels/nope") == (404, NOT_FOUND)
    _, ch = await h.rest(
        "POST", "/channels/create", endpoint="PJSIP/admin101", app="clinic", channelId="leg-1"
    )
    assert ch["id"] == "leg-1"
    assert await h.rest("POST", "/channels/leg-1/ring") == (409, NOT_IN_STASIS)  # not in Stasis yet
    await h.wait_for(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == "leg-1")
    assert await h.rest("POST", "/channels/leg-1/answer") == (412, INVALID_STATE)  # Down, outbound
    assert await h.rest("POST", f"/channels/{inbound}/dial") == (
        409,
        {"message": "Channel is not in the 'Down' state"},
    )
    duplicate = {"message": "Channel with given unique ID already exists"}
    assert await h.rest(
        "POST", "/channels/create", endpoint="PJSIP/admin101", app="clinic", channelId="leg-1"
    ) == (
        409,
        duplicate,
    )
    assert await h.rest("POST", "/channels/create", endpoint="PJSIP/nobody", app="clinic") == (
        500,
        {"message": "Allocation failed"},
    )
    assert await h.rest("POST", "/channels/create", endpoint="admin101", app="clinic") == (
        400,
        {"message": "Invalid endpoint specified"},
    )
    assert await h.rest("POST", "/channels/create", app="clinic") == (
        400,
        {"message": "Endpoint must be specified"},
    )
    assert await h.rest(
        "POST", "/channels/create", endpoint="PJSIP/admin101", app="clinic", formats="mp3"
    ) == (
        400,
        {"message": "Provided format (mp3) was not found"},
    )
    assert (await h.rest("DELETE", "/channels/leg-1", reason="tired"))[0] == 400
    assert (await h.rest("DELETE", "/channels/leg-1", reason="busy", reason_code="17"))[0] == 400
    assert await h.rest("GET", "/no/such/thing") == (404, {"message": "Resource not found"})
    assert await h.rest("PATCH", "/channels") == (405, {"message": "Invalid method"})
    assert await h.rest("GET", "/applications/nobody") == (404, {"message": "Application not found"})


async def test_bridge_errors_as_asterisk_gives_them(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h)
    _, bridge = await h.rest("POST", "/bridges/b-1", type="mixing", name="named")
    assert (bridge["id"], bridge["name"]) == ("b-1", "named")
    assert await h.rest("POST", "/bridges", bridgeId="b-1") == (
        409,
        {"message": "Bridge with id 'b-1' already exists"},
    )
    assert await h.rest("GET", "/bridges/nope") == (404, {"message": "Bridge not found"})
    assert await h.rest("POST", "/bridges/b-1/addChannel", channel="nope") == (
        400,
        {"message": "Channel not found"},
    )
    assert await h.rest("POST", "/bridges/b-1/addChannel") == (400, {"message": "Missing parameter channel"})
    assert await h.rest("POST", "/bridges/b-1/removeChannel", channel=inbound) == (
        422,
        {"message": "Channel not in this bridge"},
    )
    assert (await h.rest("POST", "/bridges", type="mixing,holding"))[0] == 500
    assert await h.rest("DELETE", "/bridges/b-1") == (204, None)
    assert await h.rest("DELETE", "/bridges/b-1") == (404, {"message": "Bridge not found"})


async def test_hangup_reason_code_sets_the_cause(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h)
    leg_id = await leg(h, inbound)  # its originator subscription lets the app see ChannelDestroyed
    assert await h.rest("DELETE", f"/channels/{inbound}", reason_code="21") == (204, None)
    destroyed = await gone(h, inbound)
    assert shape(destroyed)[2:] == (("cause", 21), ("tech_cause", 403), ("cause_txt", "Call Rejected"))
    record = await h.sim_call(await call_id_of(h, inbound))
    assert (record["caller_result"], record["sip_final"]) == ("rejected", "403 Forbidden")
    await h.rest("DELETE", f"/channels/{leg_id}")
    await gone(h, leg_id)


async def test_channel_variables_and_caller_id(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h)
    body = {"variables": {"CALLERID(num)": "5550001", "CALLERID(name)": "Ann", "CLINIC": {"value": "north"}}}
    status, ch = await h.rest(
        "POST", "/channels/create", body, endpoint="PJSIP/admin101", app="clinic", appArgs=f"dialed,{inbound}"
    )
    assert status == 200 and ch["caller"] == {"name": "Ann", "number": "5550001"}
    await h.wait_for(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == ch["id"])
    assert await h.rest("GET", f"/channels/{ch['id']}/variable", variable="CLINIC") == (
        200,
        {"value": "north"},
    )
    assert await h.rest("GET", f"/channels/{ch['id']}/variable", variable="CALLERID(num)") == (
        200,
        {"value": "5550001"},
    )
    assert await h.rest("GET", f"/channels/{ch['id']}/variable", variable="NOPE") == (
        404,
        {"message": "Provided variable was not found"},
    )
    assert (await h.rest("GET", f"/channels/{ch['id']}/variable"))[0] == 400
    assert await h.rest("POST", f"/channels/{inbound}/variable", variable="TOPIC", value="x") == (204, None)
    varset = await h.wait_for(lambda e: e["type"] == "ChannelVarset" and e["variable"] == "TOPIC")
    assert varset["value"] == "x" and varset["channel"]["id"] == inbound
    await h.rest("POST", f"/channels/{inbound}/variable", variable="CALLERID(name)", value="Pat")
    changed = await h.wait_for(lambda e: e["type"] == "ChannelCallerId")
    assert changed["channel"]["caller"] == {"name": "Pat", "number": "5550001"}
    bad = {"variables": {"N": 5}}
    assert (await h.rest("POST", "/channels/create", bad, endpoint="PJSIP/admin101", app="clinic"))[0] == 400


async def test_originate_enters_stasis_when_answered(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    await h.control("PUT", "/control/phones/admin104", {"behaviour": "answer", "answer_after": 1.0})
    status, ch = await h.rest(
        "POST",
        "/channels",
        endpoint="PJSIP/admin104",
        app="clinic",
        appArgs="callback,7",
        callerId='"Clinic" <5551234>',
    )
    assert status == 200 and ch["state"] == "Down" and ch["caller"] == {"name": "Clinic", "number": "5551234"}
    start = await h.wait_for(lambda e: e["type"] == "StasisStart")
    assert start["args"] == ["callback", "7"] and start["channel"]["state"] == "Up"
    seq = [shape(e) for e in h.of(ch["id"])]
    assert seq[-4:] == [
        ("ChannelStateChange", "Up"),
        ("Dial", "Up", ("dialstatus", "ANSWER"), ("dialstring", "")),
        ("ChannelDialplan", "Up"),
        ("StasisStart", "Up"),
    ]
    assert (await h.rest("POST", "/channels", endpoint="PJSIP/admin104"))[0] == 400  # no app


async def test_caller_dtmf_reaches_the_app(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h)
    call_id = await call_id_of(h, inbound)
    status, _ = await h.control_raw("POST", f"/control/calls/{call_id}/dtmf", {"digit": "1"})
    assert status == 409  # no audio before the call is answered
    await h.rest("POST", f"/channels/{inbound}/answer")
    await h.control("POST", f"/control/calls/{call_id}/dtmf", {"digits": "12#"})
    await h.wait_for(lambda e: e["type"] == "ChannelDtmfReceived" and e["digit"] == "#")
    dtmf = [e for e in h.events if e["type"] == "ChannelDtmfReceived"]
    assert [e["digit"] for e in dtmf] == ["1", "2", "#"] and all(e["duration_ms"] > 0 for e in dtmf)
    assert (await h.sim_call(call_id))["dtmf"] == ["1", "2", "#"]


async def test_endpoints_applications_and_asterisk_info(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound, leg_id, bridge_id = await bridged(h)
    _, endpoints = await h.rest("GET", "/endpoints")
    assert {e["resource"] for e in endpoints} == {"trunk", *(f"admin10{n}" for n in range(1, 7))}
    assert await h.rest("GET", "/endpoints/PJSIP/admin101") == (
        200,
        {"technology": "PJSIP", "resource": "admin101", "state": "online", "channel_ids": [leg_id]},
    )
    assert (await h.rest("GET", "/endpoints/PJSIP/nobody"))[0] == 404
    assert (await h.rest("GET", "/endpoints/SIP"))[0] == 404
    _, apps = await h.rest("GET", "/applications")
    assert apps == [
        {
            "name": "clinic",
            "channel_ids": [inbound, leg_id],
            "bridge_ids": [bridge_id],
            "endpoint_ids": [],
            "device_names": [],
            "events_allowed": [],
            "events_disallowed": [],
        }
    ]
    _, info = await h.rest("GET", "/asterisk/info")
    assert info["system"] == {"version": "22.10.1", "entity_id": "02:fc:00:00:00:01"}
    _, ping = await h.rest("GET", "/asterisk/ping")
    assert ping["ping"] == "pong"
    _, channels = await h.rest("GET", "/channels")
    assert {c["id"] for c in channels} == {inbound, leg_id}


async def test_auth_is_required_everywhere(harness: SimHarness) -> None:
    url = harness.sim.ari_url
    async with aiohttp.ClientSession() as s:
        async with s.get(url + "/channels") as resp:
            assert resp.status == 401 and await resp.json() == {"message": "Authentication required"}
            assert resp.headers["WWW-Authenticate"].startswith("Basic")
        async with s.get(url + "/no/such/thing") as resp:
            assert resp.status == 401
        async with s.get(url + "/channels", headers=auth_header(password="wrong")) as resp:
            assert resp.status == 401
        async with s.get(url + "/channels", params={"api_key": "clinic:pw-for-tests"}) as resp:
            assert resp.status == 200
        with_key = url.replace("http", "ws", 1) + "/events?app=clinic&api_key=clinic:pw-for-tests"
        async with s.ws_connect(with_key) as ws:
            assert not ws.closed
        try:
            await s.ws_connect(url.replace("http", "ws", 1) + "/events?app=clinic")
            raise AssertionError("websocket without credentials accepted")
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status == 401
    requests = (await harness.control("GET", "/control/requests"))["requests"]
    assert all("api_key" not in r["query"] for r in requests)  # credentials never logged


async def test_losing_leg_of_a_ring_all_keeps_ringing_until_deleted(harness: SimHarness) -> None:
    h = harness
    await h.connect()
    inbound = await place(h)
    leg_id = await leg(h, inbound, "admin102", timeout=0)  # no timeout: it rings until told
    await h.wait_for(lambda e: e["type"] == "ChannelStateChange" and e["channel"]["id"] == leg_id)
    assert (await h.rest("GET", f"/channels/{leg_id}"))[1]["state"] == "Ringing"
    await h.rest("DELETE", f"/channels/{leg_id}")
    await gone(h, leg_id)


async def test_a_leg_shows_the_caller_id_the_app_gives_it(harness: SimHarness) -> None:
    """``/channels/create`` has no ``callerId`` in Asterisk 22 (rest-api/api-docs/channels.json):
    ``CALLERID()`` in the create's variables sets the leg's own caller id (what the phone is shown
    is its connected line: see the next test); an originate (``POST /channels``) takes
    ``callerId`` as ``"Name" <number>`` or a bare number."""
    h = harness
    await h.connect()
    inbound = await place(h)
    body = {"variables": {"CALLERID(num)": "+380671234567", "CALLERID(name)": "Олена Ковальчук"}}
    status, ch = await h.rest(
        "POST", "/channels/create", body, endpoint="PJSIP/admin101", app="clinic",
        appArgs=f"dialed,{inbound}", callerId="Ignored <1>",
    )  # fmt: skip
    assert status == 200 and ch["caller"] == {"name": "Олена Ковальчук", "number": "+380671234567"}
    start = await h.wait_for(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == ch["id"])
    assert start["channel"]["caller"] == ch["caller"]
    status, bare = await h.rest(
        "POST", "/channels", endpoint="PJSIP/admin102", app="clinic", callerId="5551234"
    )
    assert status == 200 and bare["caller"] == {"name": "", "number": "5551234"}


async def test_the_phone_is_shown_the_legs_connected_line_its_private_name_first(harness: SimHarness) -> None:
    """As recorded on Asterisk 22.10.1 with SIPp phones: the INVITE's From is the leg's connected
    line (res_pjsip_session.c set_from_header), which ``dial?caller=`` fills with the caller's
    caller id (resource_channels.c ast_ari_channels_dial), whatever ``CALLERID()`` the leg got;
    ``CONNECTEDLINE(priv-name)`` set at create survives the dial and wins (the effective id),
    with no event and nothing in the snapshot's ``connected``."""
    h = harness
    await h.control("PUT", "/control/phones/admin101", {"behaviour": "no_answer"})
    await h.control("PUT", "/control/phones/admin102", {"behaviour": "busy"})
    await h.connect()
    inbound = await place(h, caller_name="Carrier Name")
    plain = {"variables": {"CALLERID(num)": "5550001", "CALLERID(name)": "Ann Smith"}}
    private = {"variables": {**plain["variables"], "CONNECTEDLINE(priv-name,i)": "Ann Smith"}}
    ids = []
    for endpoint, body in (("admin101", plain), ("admin102", private)):
        status, ch = await h.rest(
            "POST", "/channels/create", body, endpoint=f"PJSIP/{endpoint}", app="clinic",
            appArgs=f"dialed,{inbound}", originator=inbound,
        )  # fmt: skip
        assert status == 200, ch
        await h.wait_for(lambda e, i=ch["id"]: e["type"] == "StasisStart" and e["channel"]["id"] == i)
        assert await h.rest("POST", f"/channels/{ch['id']}/dial", caller=inbound) == (204, None)
        ids.append(ch["id"])
    for leg_id in ids:
        line = await h.wait_for(
            lambda e, i=leg_id: e["type"] == "ChannelConnectedLine" and e["channel"]["id"] == i
        )
        assert line["channel"]["connected"] == {"name": "Carrier Name", "number": "5550001"}
        await h.wait_for(lambda e, i=leg_id: e["type"] == "Dial" and e["peer"]["id"] == i)  # the INVITE went
    phones = {p["name"]: p["invites"] for p in (await h.control("GET", "/control/phones"))["phones"]}
    fields = ("channel_id", "from_name", "from_user", "pai")
    assert [tuple(i[f] for f in fields) for i in phones["admin101"]] == [
        (ids[0], "Carrier Name", "5550001", None)
    ]
    assert [tuple(i[f] for f in fields) for i in phones["admin102"]] == [
        (ids[1], "Ann Smith", "5550001", None)
    ]  # busy: it got the INVITE all the same
    await h.rest("DELETE", f"/channels/{ids[0]}")
    await gone(h, ids[0])
