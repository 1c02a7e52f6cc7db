"""AriClient operations against the fake server: what goes over the wire, and typed replies."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from ari_app.ari import models as m
from ari_app.ari.client import AriClient, AriError
from tests.ari.fake_ari import (
    APP,
    APPLICATION,
    BR,
    BRIDGE,
    CH,
    INFO,
    LIVE,
    PLAYBACK,
    FakeAri,
    Reply,
    channel,
    ok,
)


@dataclass
class Case:
    call: Callable[[AriClient], Awaitable[Any]]
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    reply: Reply = field(default_factory=Reply)


CASES: dict[str, Case] = {
    "asterisk_info": Case(lambda c: c.asterisk_info(), "GET", "/asterisk/info", reply=ok(INFO)),
    "ping": Case(lambda c: c.ping(), "GET", "/asterisk/ping", reply=ok({"ping": "pong"})),
    "get_application": Case(
        lambda c: c.get_application(), "GET", f"/applications/{APP}", reply=ok(APPLICATION)
    ),
    "list_channels": Case(
        lambda c: c.list_channels(), "GET", "/channels", reply=ok([channel(CH), channel("9.1")])
    ),
    "get_channel": Case(lambda c: c.get_channel(CH), "GET", f"/channels/{CH}", reply=ok(channel(CH))),
    "list_bridges": Case(lambda c: c.list_bridges(), "GET", "/bridges", reply=ok([BRIDGE])),
    "get_bridge": Case(lambda c: c.get_bridge(BR), "GET", f"/bridges/{BR}", reply=ok(BRIDGE)),
    "ring": Case(lambda c: c.ring(CH), "POST", f"/channels/{CH}/ring"),
    "ring_stop": Case(lambda c: c.ring_stop(CH), "DELETE", f"/channels/{CH}/ring"),
    "answer": Case(lambda c: c.answer(CH), "POST", f"/channels/{CH}/answer"),
    "hangup": Case(lambda c: c.hangup(CH), "DELETE", f"/channels/{CH}"),
    "hangup_busy": Case(lambda c: c.hangup(CH, "busy"), "DELETE", f"/channels/{CH}", {"reason": "busy"}),
    "create_channel": Case(
        lambda c: c.create_channel("PJSIP/admin101", app_args=["dialed", CH], originator=CH),
        "POST",
        "/channels/create",
        {"endpoint": "PJSIP/admin101", "app": APP, "appArgs": f"dialed,{CH}", "originator": CH},
        ok(channel("1795344924.1", state="Down")),
    ),
    "create_channel_with_id": Case(
        lambda c: c.create_channel("PJSIP/admin102", channel_id="leg-1"),
        "POST",
        "/channels/create",
        {"endpoint": "PJSIP/admin102", "app": APP, "channelId": "leg-1"},
        ok(channel("leg-1", state="Down")),
    ),
    "dial": Case(
        lambda c: c.dial("1795344924.1", caller=CH, timeout=15),
        "POST",
        "/channels/1795344924.1/dial",
        {"caller": CH, "timeout": "15"},
    ),
    "dial_bare": Case(lambda c: c.dial(CH), "POST", f"/channels/{CH}/dial"),
    "play": Case(
        lambda c: c.play(CH, "sound:hello-world"),
        "POST",
        f"/channels/{CH}/play",
        {"media": "sound:hello-world"},
        ok(PLAYBACK, 201),
    ),
    "play_list": Case(
        lambda c: c.play(CH, ["sound:a", "sound:b"], playback_id="p-1", lang="ru"),
        "POST",
        f"/channels/{CH}/play",
        {"media": "sound:a,sound:b", "playbackId": "p-1", "lang": "ru"},
        ok(PLAYBACK, 201),
    ),
    "stop_playback": Case(lambda c: c.stop_playback("p-1"), "DELETE", "/playbacks/p-1"),
    "start_moh": Case(lambda c: c.start_moh(CH), "POST", f"/channels/{CH}/moh", {"mohClass": "default"}),
    "stop_moh": Case(lambda c: c.stop_moh(CH), "DELETE", f"/channels/{CH}/moh"),
    "set_variable": Case(
        lambda c: c.set_variable(CH, "CALL_ID", "c-1"),
        "POST",
        f"/channels/{CH}/variable",
        {"variable": "CALL_ID", "value": "c-1"},
    ),
    "create_bridge": Case(
        lambda c: c.create_bridge(name="b"), "POST", "/bridges", {"type": "mixing", "name": "b"}, ok(BRIDGE)
    ),
    "create_holding_bridge": Case(
        lambda c: c.create_bridge("holding", bridge_id="h-1"),
        "POST",
        "/bridges",
        {"type": "holding", "bridgeId": "h-1"},
        ok(BRIDGE | {"id": "h-1", "bridge_type": "holding", "technology": "holding_bridge"}),
    ),
    "add_channels": Case(
        lambda c: c.add_channels(BR, [CH, "1795344924.1"]),
        "POST",
        f"/bridges/{BR}/addChannel",
        {"channel": f"{CH},1795344924.1"},
    ),
    "remove_channel": Case(
        lambda c: c.remove_channel(BR, CH), "POST", f"/bridges/{BR}/removeChannel", {"channel": CH}
    ),
    "destroy_bridge": Case(lambda c: c.destroy_bridge(BR), "DELETE", f"/bridges/{BR}"),
    "start_bridge_moh": Case(
        lambda c: c.start_bridge_moh(BR, "jazz"), "POST", f"/bridges/{BR}/moh", {"mohClass": "jazz"}
    ),
    "stop_bridge_moh": Case(lambda c: c.stop_bridge_moh(BR), "DELETE", f"/bridges/{BR}/moh"),
    "record_bridge": Case(
        lambda c: c.record_bridge(BR, "rec-1"),
        "POST",
        f"/bridges/{BR}/record",
        {"name": "rec-1", "format": "wav", "ifExists": "fail"},
        ok(LIVE, 201),
    ),
    "record_bridge_options": Case(
        lambda c: c.record_bridge(BR, "rec-1", if_exists="overwrite", max_duration=3600, beep=True),
        "POST",
        f"/bridges/{BR}/record",
        {
            "name": "rec-1",
            "format": "wav",
            "ifExists": "overwrite",
            "maxDurationSeconds": "3600",
            "beep": "true",
        },
        ok(LIVE, 201),
    ),
    "stop_live_recording": Case(
        lambda c: c.stop_live_recording("rec-1"), "POST", "/recordings/live/rec-1/stop"
    ),
    "get_stored_recording": Case(
        lambda c: c.get_stored_recording("rec-1"),
        "GET",
        "/recordings/stored/rec-1",
        reply=ok({"name": "rec-1", "format": "wav"}),
    ),
    "delete_stored_recording": Case(
        lambda c: c.delete_stored_recording("rec-1"), "DELETE", "/recordings/stored/rec-1"
    ),
}


@pytest.mark.parametrize("name", CASES)
async def test_operation_sends_what_asterisk_expects_and_types_the_reply(
    fake: FakeAri, client: AriClient, name: str
) -> None:
    case = CASES[name]
    fake.reply(case.method, case.path, case.reply)
    result = await case.call(client)
    [sent] = fake.requests
    assert (sent.method, sent.raw_path, sent.query) == (case.method, "/ari" + case.path, case.query)
    assert sent.body == b""
    if case.reply.json is None or name == "ping":
        assert result is None
    else:
        assert m.to_builtins(result) == case.reply.json  # typed, and nothing lost on the way


async def test_typed_replies_are_models(fake: FakeAri, client: AriClient) -> None:
    fake.reply("GET", "/channels", ok([channel(CH)]))
    fake.reply("POST", f"/channels/{CH}/play", ok(PLAYBACK, 201))
    [ch] = await client.list_channels()
    assert isinstance(ch, m.Channel) and ch.dialplan.app_data == "clinic,5551234"
    playback = await client.play(CH, "sound:hello-world")
    assert isinstance(playback, m.Playback) and playback.state == "queued"


async def test_create_channel_sends_variables_as_json_body(fake: FakeAri, client: AriClient) -> None:
    fake.reply("POST", "/channels/create", ok(channel("1795344924.1")))
    await client.create_channel("PJSIP/admin101", variables={"CALLERID(num)": "5550001"})
    [sent] = fake.requests
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == {"variables": {"CALLERID(num)": "5550001"}}


async def test_bad_arguments_are_refused_before_sending(fake: FakeAri, client: AriClient) -> None:
    with pytest.raises(ValueError, match="','"):
        await client.create_channel("PJSIP/admin101", app_args=["a,b"])
    with pytest.raises(ValueError, match="at least one"):
        await client.add_channels(BR, [])
    assert fake.requests == []


async def test_ids_are_quoted_into_one_path_segment(fake: FakeAri, client: AriClient) -> None:
    await client.answer("odd/id?x=1 #")
    [sent] = fake.requests
    _, ari, channels, segment, op = sent.raw_path.split("/")
    assert (ari, channels, op) == ("ari", "channels", "answer")
    assert unquote(segment) == "odd/id?x=1 #" and sent.query == {}


def _trace_call(method: str, path: str, q: dict[str, str]) -> Callable[[AriClient], Awaitable[Any]]:
    """The client call that sends ``method path?q``, as the recording app sent it."""
    parts = path.removeprefix("/ari/").split("/")
    match (method, parts):
        case ("POST", ["channels", "create"]):
            args = q["appArgs"].split(",")
            return lambda c: c.create_channel(q["endpoint"], app_args=args, originator=q["originator"])
        case ("POST", ["channels", cid, "dial"]):
            return lambda c: c.dial(cid, caller=q["caller"], timeout=int(q["timeout"]))
        case ("POST", ["channels", cid, "play"]):
            return lambda c: c.play(cid, q["media"])
        case ("POST", ["channels", cid, ("ring" | "answer") as op]):
            return lambda c: getattr(c, op)(cid)
        case ("DELETE", ["channels", cid]):
            return lambda c: c.hangup(cid, q.get("reason"))
        case ("POST", ["bridges"]):
            return lambda c: c.create_bridge(q["type"], name=q["name"])
        case ("POST", ["bridges", bid, "addChannel"]):
            return lambda c: c.add_channels(bid, q["channel"].split(","))
        case ("POST", ["bridges", bid, "removeChannel"]):
            return lambda c: c.remove_channel(bid, q["channel"])
        case ("POST", ["bridges", bid, "record"]):
            return lambda c: c.record_bridge(bid, q["name"], fmt=q["format"], if_exists=q["ifExists"])
        case ("POST", ["bridges", bid, "moh"]):
            return lambda c: c.start_bridge_moh(bid, q["mohClass"])
        case ("DELETE", ["bridges", bid, "moh"]):
            return lambda c: c.stop_bridge_moh(bid)
        case ("DELETE", ["bridges", bid]):
            return lambda c: c.destroy_bridge(bid)
        case ("GET", ["recordings", "stored", name]):
            return lambda c: c.get_stored_recording(name)
        case ("GET", ["applications", _]):
            return lambda c: c.get_application()
        case ("GET", ["channels"]):
            return lambda c: c.list_channels()
        case ("GET", ["bridges"]):
            return lambda c: c.list_bridges()
    raise AssertionError(f"no client call for {method} {path}")


async def test_recorded_app_traffic_is_reproduced_exactly(
    shared_ari: Path, fake: FakeAri, client: AriClient
) -> None:
    """Every REST call in the traces: same method, path and query; the real reply decodes losslessly."""
    traces = sorted((shared_ari / "traces").glob("*.jsonl"))
    lines = [json.loads(line) for trace in traces for line in trace.read_text().splitlines()]
    calls = [line for line in lines if line["dir"] == "rest"]
    for rest in calls:
        fake.requests.clear()
        reply = Reply(status=rest["status"], json=rest["response"])
        fake.reply(rest["method"], rest["path"].removeprefix("/ari"), reply)
        call = _trace_call(rest["method"], rest["path"], rest["query"])
        if rest["status"] >= 400:
            with pytest.raises(AriError):
                await call(client)
            continue
        result = await call(client)
        [sent] = fake.requests
        assert (sent.method, sent.raw_path, sent.query) == (rest["method"], rest["path"], rest["query"])
        assert (m.to_builtins(result) if result is not None else None) == rest["response"]
    assert len(calls) > 60
