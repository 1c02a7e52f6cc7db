"""ARI resources besides channels: asterisk, applications, bridges, recordings, playbacks, endpoints."""

from __future__ import annotations

from aiohttp import web

from ari_app.ari import models as m
from ari_app.pbxsim.dialing import Pbx
from ari_app.pbxsim.endpoints import MAX_SOURCES, split_sources
from ari_app.pbxsim.ids import ASTERISK_ID, timestamp
from ari_app.pbxsim.replies import int_param, json_body, json_reply, list_param, need, no_content
from ari_app.pbxsim.state import SimError

BUILD_DATE = "2026-11-22 10:30:06 UTC"


class ResourceRoutes:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx

    def routes(self) -> list[web.RouteDef]:
        b, rec = "/ari/bridges/{id}", "/ari/recordings"
        return [
            web.get("/ari/asterisk/info", self.info),
            web.get("/ari/asterisk/ping", self.ping),
            web.get("/ari/applications", self.applications),
            web.get("/ari/applications/{app}", self.application),
            web.post("/ari/applications/{app}/subscription", self.subscription),
            web.delete("/ari/applications/{app}/subscription", self.subscription),
            web.get("/ari/bridges", self.list_bridges),
            web.post("/ari/bridges", self.create_bridge),
            web.post(b, self.create_bridge),
            web.get(b, self.get_bridge),
            web.delete(b, self.destroy_bridge),
            web.post(b + "/addChannel", self.add_channel),
            web.post(b + "/removeChannel", self.remove_channel),
            web.post(b + "/moh", self.bridge_moh),
            web.delete(b + "/moh", self.bridge_moh),
            web.post(b + "/play", self.bridge_play),
            web.post(b + "/play/{pid}", self.bridge_play),
            web.post(b + "/record", self.record),
            web.get(rec + "/stored", self.list_stored),
            web.get(rec + "/stored/{name:.+}/file", self.stored_file),
            web.get(rec + "/stored/{name:.+}", self.get_stored),
            web.delete(rec + "/stored/{name:.+}", self.delete_stored),
            web.get(rec + "/live/{name:.+}", self.get_live),
            web.post(rec + "/live/{name:.+}/stop", self.stop_live),
            web.delete(rec + "/live/{name:.+}", self.cancel_live),
            web.get("/ari/playbacks/{id}", self.get_playback),
            web.delete("/ari/playbacks/{id}", self.stop_playback),
            web.get("/ari/endpoints", self.endpoints),
            web.get("/ari/endpoints/{tech}", self.endpoints),
            web.get("/ari/endpoints/{tech}/{resource}", self.endpoint),
        ]

    # ------------------------------------------------------------------ asterisk and apps
    async def info(self, _: web.Request) -> web.Response:
        started = self.pbx.started_at
        return web.json_response(
            {
                "build": {"os": "Linux", "kernel": "6.1.0", "options": "", "machine": "x86_64",
                          "date": BUILD_DATE, "user": "root"},
                "system": {"version": "22.10.1", "entity_id": ASTERISK_ID},
                "config": {"name": "", "default_language": "en", "setid": {"user": "", "group": ""}},
                "status": {"startup_time": started, "last_reload_time": started},
            }
        )  # fmt: skip

    async def ping(self, _: web.Request) -> web.Response:
        return web.json_response({"asterisk_id": ASTERISK_ID, "ping": "pong", "timestamp": timestamp()})

    def _application(self, name: str) -> m.Application:
        return m.Application(
            name=name, channel_ids=self.pbx.app_channels(name), bridge_ids=self.pbx.app_bridges(name),
            endpoint_ids=self.pbx.app_endpoint_ids(name), device_names=[], events_allowed=[],
            events_disallowed=[],
        )  # fmt: skip

    async def applications(self, _: web.Request) -> web.Response:
        return json_reply([self._application(n) for n in self.pbx.app_names()])

    async def application(self, request: web.Request) -> web.Response:
        name = request.match_info["app"]
        if not self.pbx.app_registered(name):
            raise SimError(404, "Application not found")
        return json_reply(self._application(name))

    async def subscription(self, request: web.Request) -> web.Response:
        """POST subscribes, DELETE unsubscribes; both answer the Application as it is after."""
        name = request.match_info["app"]
        sources = await _event_sources(request)
        if request.method == "POST":
            self.pbx.subscribe(name, sources)
        else:
            self.pbx.unsubscribe(name, sources)
        return json_reply(self._application(name))

    # ------------------------------------------------------------------ bridges
    async def list_bridges(self, _: web.Request) -> web.Response:
        return json_reply([b.snap() for b in self.pbx.bridges.values()])

    async def create_bridge(self, request: web.Request) -> web.Response:
        q = request.query
        bridge_id = request.match_info.get("id") or q.get("bridgeId")
        bridge = self.pbx.create_bridge(q.get("type"), bridge_id, q.get("name", ""))
        return json_reply(bridge.snap())

    async def get_bridge(self, request: web.Request) -> web.Response:
        return json_reply(self.pbx.get_bridge(request.match_info["id"]).snap())

    async def destroy_bridge(self, request: web.Request) -> web.Response:
        self.pbx.destroy_bridge(self.pbx.get_bridge(request.match_info["id"]))
        return no_content()

    async def add_channel(self, request: web.Request) -> web.Response:
        bridge = self.pbx.get_bridge(request.match_info["id"])
        self.pbx.add_channels(bridge, list_param(request, "channel"))
        return no_content()

    async def remove_channel(self, request: web.Request) -> web.Response:
        bridge = self.pbx.get_bridge(request.match_info["id"])
        for cid in list_param(request, "channel") or [need(request, "channel")]:
            self.pbx.remove_channel(bridge, cid)
        return no_content()

    async def bridge_moh(self, request: web.Request) -> web.Response:
        bridge = self.pbx.get_bridge(request.match_info["id"])
        if request.method == "POST":
            self.pbx.start_bridge_moh(bridge)
        else:
            self.pbx.stop_bridge_moh(bridge)
        return no_content()  # and no websocket event at all, as recorded

    async def bridge_play(self, request: web.Request) -> web.Response:
        bridge = self.pbx.get_bridge(request.match_info["id"])
        media = list_param(request, "media")
        if not media:
            raise SimError(400, "Missing parameter media")
        pb = self.pbx.play_on_bridge(
            bridge, media, request.query.get("lang") or "en",
            request.match_info.get("pid") or request.query.get("playbackId"),
        )  # fmt: skip
        return json_reply(pb.snap(), 201)

    async def record(self, request: web.Request) -> web.Response:
        bridge = self.pbx.get_bridge(request.match_info["id"])
        q = request.query
        rec = self.pbx.record_bridge(
            bridge, name=need(request, "name"), fmt=need(request, "format"),
            if_exists=q.get("ifExists") or "fail", max_duration=int_param(request, "maxDurationSeconds"),
            terminate_on=q.get("terminateOn") or "none",
        )  # fmt: skip
        return json_reply(rec.snap("queued"), 201)

    # ------------------------------------------------------------------ recordings and playbacks
    async def list_stored(self, _: web.Request) -> web.Response:
        return json_reply([m.StoredRecording(name=n, format=f) for n, f in self.pbx.files.names()])

    async def get_stored(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not self.pbx.files.exists(name):
            raise SimError(404, "Recording not found")
        return json_reply(m.StoredRecording(name=name, format="wav"))

    async def stored_file(self, request: web.Request) -> web.Response:
        return web.Response(body=self.pbx.files.read(request.match_info["name"]), content_type="audio/wav")

    async def delete_stored(self, request: web.Request) -> web.Response:
        self.pbx.files.delete(request.match_info["name"])
        return no_content()

    async def get_live(self, request: web.Request) -> web.Response:
        rec = self.pbx.live.get(request.match_info["name"])
        if rec is None:
            raise SimError(404, "Recording not found")
        return json_reply(rec.snap())

    async def stop_live(self, request: web.Request) -> web.Response:
        self.pbx.stop_recording(request.match_info["name"])
        return no_content()

    async def cancel_live(self, request: web.Request) -> web.Response:
        self.pbx.stop_recording(request.match_info["name"], cancel=True)
        return no_content()

    async def get_playback(self, request: web.Request) -> web.Response:
        pb = self.pbx.playbacks.get(request.match_info["id"])
        if pb is None:
            raise SimError(404, "Playback not found")
        return json_reply(pb.snap())

    async def stop_playback(self, request: web.Request) -> web.Response:
        self.pbx.stop_playback(request.match_info["id"])
        return no_content()

    # ------------------------------------------------------------------ endpoints
    def _endpoint(self, name: str) -> m.Endpoint:
        return self.pbx.endpoint_snapshot(name)

    async def endpoints(self, request: web.Request) -> web.Response:
        tech = request.match_info.get("tech")
        if tech is not None and tech != "PJSIP":
            raise SimError(404, f"No Endpoints found - invalid tech {tech}")
        return json_reply([self._endpoint(n) for n in sorted(self.pbx.phones)])

    async def endpoint(self, request: web.Request) -> web.Response:
        name = request.match_info["resource"]
        if request.match_info["tech"] != "PJSIP" or name not in self.pbx.phones:
            raise SimError(404, "Endpoint not found")
        return json_reply(self._endpoint(name))


async def _event_sources(request: web.Request) -> list[str]:
    """``eventSource`` as res_ari_applications.c reads it: of several query parameters only the
    last counts, split on commas; an ``eventSource`` in a JSON body (string or list) wins."""
    sources: list[str] = []
    given = request.query.getall("eventSource", [])
    if given:
        sources = split_sources(given[-1])
        if len(sources) >= MAX_SOURCES:
            raise SimError(400, "Too many values for event_source")
    field = (await json_body(request)).get("eventSource")
    if isinstance(field, list):
        sources = [item if isinstance(item, str) else "" for item in field]
    elif field is not None:
        sources = [field if isinstance(field, str) else ""]
    return sources
