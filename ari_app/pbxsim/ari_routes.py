"""The ARI REST resources the simulator serves, with Asterisk's paths, parameters and codes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ari_app.ari import models as m
from ari_app.pbxsim.ids import ASTERISK_ID, timestamp
from ari_app.pbxsim.pbx import Pbx
from ari_app.pbxsim.state import SimChannel, SimError

NO_FLUSH = web.RequestKey("no_flush", bool)  # reply without waiting for the events it caused
ChannelHandler = Callable[[web.Request, SimChannel], Awaitable[web.Response]]


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=m.encode(obj), status=status, content_type="application/json")


def _no_content() -> web.Response:
    return web.Response(status=204)


def _need(request: web.Request, name: str) -> str:
    value = request.query.get(name)
    if not value:
        raise SimError(400, f"{name}: Missing required field")
    return value


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    try:
        data = json.loads(await request.read() or b"{}")
    except ValueError:
        raise SimError(400, "Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise SimError(400, "Request body must be a JSON object")
    return data


def build_routes(pbx: Pbx, started: str) -> list[web.RouteDef]:
    r = web.RouteTableDef()

    @r.get("/ari/asterisk/info")
    async def info(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "build": {"os": "Linux", "kernel": "6", "options": "", "machine": "x86_64",
                          "date": "2026-11-22 10:30:06 UTC", "user": "root"},
                "system": {"version": "22.10.1", "entity_id": ASTERISK_ID},
                "config": {"name": "", "default_language": "en", "setid": {"user": "", "group": ""}},
                "status": {"startup_time": started, "last_reload_time": started},
            }
        )  # fmt: skip

    @r.get("/ari/asterisk/ping")
    async def ping(_: web.Request) -> web.Response:
        return web.json_response({"asterisk_id": ASTERISK_ID, "ping": "pong", "timestamp": timestamp()})

    def application(name: str) -> m.Application:
        return m.Application(
            name=name,
            channel_ids=[c.id for c in pbx.channels.values() if c.app == name and c.in_stasis],
            bridge_ids=[b.id for b in pbx.bridges.values() if b.app == name],
            endpoint_ids=[],
            device_names=[],
            events_allowed=[],
            events_disallowed=[],
        )

    @r.get("/ari/applications")
    async def applications(_: web.Request) -> web.Response:
        names = sorted(
            {*pbx.sinks, *(c.app for c in pbx.channels.values()), *(b.app for b in pbx.bridges.values())}
        )
        return _json([application(n) for n in names if pbx.app_exists(n)])

    @r.get("/ari/applications/{app}")
    async def get_application(request: web.Request) -> web.Response:
        name = request.match_info["app"]
        if not pbx.app_exists(name):
            raise SimError(404, "Application not found")
        return _json(application(name))

    @r.get("/ari/channels")
    async def list_channels(_: web.Request) -> web.Response:
        return _json([c.snap() for c in pbx.channels.values() if not c.gone])

    @r.post("/ari/channels/create")
    async def create(request: web.Request) -> web.Response:
        endpoint, app = _need(request, "endpoint"), _need(request, "app")
        args = [a for a in request.query.get("appArgs", "").split(",") if a]
        variables = (await _body(request)).get("variables") or {}
        if not isinstance(variables, dict):
            raise SimError(400, "variables must be an object")
        ch = pbx.create_channel(
            endpoint=endpoint, app=app, args=args, channel_id=request.query.get("channelId"),
            variables={str(k): str(v) for k, v in variables.items()},
        )  # fmt: skip
        return _json(ch.snap())

    @r.get("/ari/channels/{id}")
    async def get_channel(request: web.Request) -> web.Response:
        return _json(pbx.get_channel(request.match_info["id"]).snap())

    @r.delete("/ari/channels/{id}")
    async def hangup(request: web.Request) -> web.Response:
        ch = pbx.get_channel(request.match_info["id"])
        # The hang-up happens now; its events are not held back for the reply, which often
        # overtakes them on the wire (as recorded).
        pbx.end_channel(ch, "delete", reason=request.query.get("reason"), by="app")
        request[NO_FLUSH] = True
        return _no_content()

    def channel_op(path: str, method: str = "POST") -> Callable[[ChannelHandler], ChannelHandler]:
        def wrap(fn: ChannelHandler) -> ChannelHandler:
            async def handler(request: web.Request) -> web.Response:
                ch = pbx.get_channel(request.match_info["id"])
                if not ch.in_stasis:
                    raise SimError(409, "Channel not in Stasis application")
                result: web.Response = await fn(request, ch)
                return result

            r.route(method, f"/ari/channels/{{id}}/{path}")(handler)
            return fn

        return wrap

    @channel_op("ring")
    async def ring(_: web.Request, ch: SimChannel) -> web.Response:
        return _no_content()  # the caller hears 180; the state stays Ring and no event follows

    @channel_op("ring", "DELETE")
    async def ring_stop(_: web.Request, ch: SimChannel) -> web.Response:
        return _no_content()

    @channel_op("answer")
    async def answer(_: web.Request, ch: SimChannel) -> web.Response:
        pbx.answer(ch)
        return _no_content()

    @channel_op("progress")
    async def progress(_: web.Request, ch: SimChannel) -> web.Response:
        return _no_content()

    @channel_op("dial")
    async def dial(request: web.Request, ch: SimChannel) -> web.Response:
        try:
            timeout = int(request.query.get("timeout", "0"))
        except ValueError:
            raise SimError(400, "timeout: not an integer") from None
        pbx.dial(ch, request.query.get("caller"), timeout)
        return _no_content()

    @channel_op("play")
    async def play(request: web.Request, ch: SimChannel) -> web.Response:
        pb = pbx.play(ch, _need(request, "media"), request.query.get("playbackId"))
        return _json(pb.snap(), 201)

    @channel_op("play/{pid}")
    async def play_id(request: web.Request, ch: SimChannel) -> web.Response:
        pb = pbx.play(ch, _need(request, "media"), request.match_info["pid"])
        return _json(pb.snap(), 201)

    for verb in ("POST", "DELETE"):
        for what in ("moh", "hold", "silence"):
            channel_op(what, verb)(_ok)

    @channel_op("variable")
    async def set_var(request: web.Request, ch: SimChannel) -> web.Response:
        ch.variables[_need(request, "variable")] = request.query.get("value", "")
        return _no_content()

    @channel_op("variable", "GET")
    async def get_var(request: web.Request, ch: SimChannel) -> web.Response:
        name = _need(request, "variable")
        if name not in ch.variables:
            raise SimError(404, "Provided variable was not found")
        return _json(m.Variable(value=ch.variables[name]))

    # ------------------------------------------------------------------ bridges
    @r.get("/ari/bridges")
    async def list_bridges(_: web.Request) -> web.Response:
        return _json([b.snap() for b in pbx.bridges.values()])

    @r.post("/ari/bridges")
    async def create_bridge(request: web.Request) -> web.Response:
        q = request.query
        bridge = pbx.create_bridge(
            _app_of(pbx), q.get("type", "mixing"), q.get("bridgeId"), q.get("name", "")
        )
        return _json(bridge.snap())

    @r.post("/ari/bridges/{id}")
    async def create_bridge_with_id(request: web.Request) -> web.Response:
        q = request.query
        bridge = pbx.create_bridge(
            _app_of(pbx), q.get("type", "mixing"), request.match_info["id"], q.get("name", "")
        )
        return _json(bridge.snap())

    @r.get("/ari/bridges/{id}")
    async def get_bridge(request: web.Request) -> web.Response:
        return _json(pbx.get_bridge(request.match_info["id"]).snap())

    @r.delete("/ari/bridges/{id}")
    async def destroy_bridge(request: web.Request) -> web.Response:
        pbx.destroy_bridge(pbx.get_bridge(request.match_info["id"]))
        return _no_content()

    @r.post("/ari/bridges/{id}/addChannel")
    async def add_channel(request: web.Request) -> web.Response:
        bridge = pbx.get_bridge(request.match_info["id"])
        pbx.add_channels(bridge, [c for c in _need(request, "channel").split(",") if c])
        return _no_content()

    @r.post("/ari/bridges/{id}/removeChannel")
    async def remove_channel(request: web.Request) -> web.Response:
        pbx.remove_channel(pbx.get_bridge(request.match_info["id"]), _need(request, "channel"))
        return _no_content()

    async def bridge_moh(request: web.Request) -> web.Response:
        pbx.get_bridge(request.match_info["id"])
        return _no_content()  # no websocket event at all, as recorded

    r.post("/ari/bridges/{id}/moh")(bridge_moh)
    r.delete("/ari/bridges/{id}/moh")(bridge_moh)

    @r.post("/ari/bridges/{id}/record")
    async def record(request: web.Request) -> web.Response:
        bridge = pbx.get_bridge(request.match_info["id"])
        q = request.query
        rec = pbx.record_bridge(
            bridge, _need(request, "name"), _need(request, "format"), q.get("ifExists", "fail")
        )
        return _json(rec.snap("queued"), 201)

    # ------------------------------------------------------------------ recordings and playbacks
    @r.get("/ari/recordings/stored")
    async def list_stored(_: web.Request) -> web.Response:
        return _json([m.StoredRecording(name=n, format="wav") for n in pbx.stored])

    def stored(request: web.Request) -> str:
        name = request.match_info["name"]
        if name not in pbx.stored:
            raise SimError(404, "Recording not found")
        return name

    @r.get("/ari/recordings/stored/{name}")
    async def get_stored(request: web.Request) -> web.Response:
        return _json(m.StoredRecording(name=stored(request), format="wav"))

    @r.get("/ari/recordings/stored/{name}/file")
    async def stored_file(request: web.Request) -> web.Response:
        return web.Response(body=pbx.stored[stored(request)], content_type="audio/wav")

    @r.delete("/ari/recordings/stored/{name}")
    async def delete_stored(request: web.Request) -> web.Response:
        del pbx.stored[stored(request)]
        return _no_content()

    @r.get("/ari/recordings/live/{name}")
    async def get_live(request: web.Request) -> web.Response:
        rec = pbx.live.get(request.match_info["name"])
        if rec is None:
            raise SimError(404, "Recording not found")
        return _json(rec.snap())

    @r.post("/ari/recordings/live/{name}/stop")
    async def stop_live(request: web.Request) -> web.Response:
        if request.match_info["name"] not in pbx.live:
            raise SimError(404, "Recording not found")
        pbx.finish_recording(request.match_info["name"])
        return _no_content()

    @r.get("/ari/playbacks/{id}")
    async def get_playback(request: web.Request) -> web.Response:
        pb = pbx.playbacks.get(request.match_info["id"])
        if pb is None:
            raise SimError(404, "Playback not found")
        return _json(pb.snap())

    @r.delete("/ari/playbacks/{id}")
    async def stop_playback(request: web.Request) -> web.Response:
        if request.match_info["id"] not in pbx.playbacks:
            raise SimError(404, "Playback not found")
        pbx.finish_playback(request.match_info["id"])
        return _no_content()

    @r.get("/ari/endpoints")
    async def endpoints(_: web.Request) -> web.Response:
        return _json([_endpoint(pbx, name) for name in pbx.phones])

    @r.get("/ari/endpoints/{tech}/{resource}")
    async def endpoint(request: web.Request) -> web.Response:
        if request.match_info["tech"] != "PJSIP" or request.match_info["resource"] not in pbx.phones:
            raise SimError(404, "Endpoint not found")
        return _json(_endpoint(pbx, request.match_info["resource"]))

    return [route for route in r if isinstance(route, web.RouteDef)]


async def _ok(_: web.Request, ch: SimChannel) -> web.Response:
    return web.Response(status=204)


def _app_of(pbx: Pbx) -> str:
    return next(iter(pbx.sinks), "clinic")


def _endpoint(pbx: Pbx, name: str) -> m.Endpoint:
    phone = pbx.phones[name]
    ids = [c.id for c in pbx.channels.values() if c.kind == "created" and c.endpoint == name]
    state = "offline" if phone.behaviour == "offline" else ("online" if not ids else "busy")
    return m.Endpoint(technology="PJSIP", resource=name, channel_ids=ids, state=state)
