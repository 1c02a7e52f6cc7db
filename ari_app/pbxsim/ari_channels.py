"""ARI ``/channels`` resources, with Asterisk's parameters, checks, messages and status codes.

Checks follow res/ari/resource_channels.c: a channel that does not exist is 404 "Channel not
found", one outside Stasis is 409 "Channel not in Stasis application", and media or state
operations on an outbound channel that is Down or Ringing are 412 "Channel in invalid state".
"""

from __future__ import annotations

from aiohttp import web

from ari_app.ari import models as m
from ari_app.pbxsim.causes import REASONS
from ari_app.pbxsim.dialing import Pbx
from ari_app.pbxsim.replies import (
    NO_FLUSH,
    int_param,
    json_body,
    json_reply,
    list_param,
    need,
    no_content,
    variables,
)
from ari_app.pbxsim.state import SimChannel, SimError

MUTE_DIRECTIONS = {"in", "out", "both"}
FORMATS = {"ulaw", "alaw", "gsm", "g722", "g726", "g729", "ilbc", "opus", "slin", "slin16", "speex"}


class ChannelRoutes:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx

    def routes(self) -> list[web.RouteDef]:
        base = "/ari/channels"
        simple = ("ring", "progress", "hold", "moh", "silence")
        return [
            web.get(base, self.list_channels),
            web.post(base, self.originate),
            web.post(f"{base}/create", self.create),
            web.get(base + "/{id}", self.get),
            web.post(base + "/{id}", self.originate),
            web.delete(base + "/{id}", self.hangup),
            web.post(base + "/{id}/answer", self.answer),
            *(web.post(f"{base}/{{id}}/{op}", self.stateful) for op in simple),
            *(web.delete(f"{base}/{{id}}/{op}", self.stateful) for op in simple if op != "progress"),
            web.post(base + "/{id}/mute", self.mute),
            web.delete(base + "/{id}/mute", self.mute),
            web.post(base + "/{id}/dtmf", self.dtmf),
            web.post(base + "/{id}/dial", self.dial),
            web.post(base + "/{id}/play", self.play),
            web.post(base + "/{id}/play/{pid}", self.play),
            web.get(base + "/{id}/variable", self.get_var),
            web.post(base + "/{id}/variable", self.set_var),
            web.post(base + "/{id}/transfer_progress", self.transfer_progress),
        ]

    def _ready(self, request: web.Request) -> SimChannel:
        """A controlled channel in a state that takes media and state operations."""
        ch = self.pbx.control(request.match_info["id"])
        self.pbx.check_state(ch)
        return ch

    async def list_channels(self, _: web.Request) -> web.Response:
        return json_reply([c.snap() for c in self.pbx.channels.values()])

    async def get(self, request: web.Request) -> web.Response:
        return json_reply(self.pbx.get_channel(request.match_info["id"]).snap())

    async def create(self, request: web.Request) -> web.Response:
        q = request.query
        endpoint = _checked_endpoint(request)
        ch = self.pbx.create_channel(
            endpoint=endpoint, app=need(request, "app"), args=_app_args(request),
            channel_id=q.get("channelId"), variables=await variables(request),
            originator=q.get("originator"),
        )  # fmt: skip
        request[NO_FLUSH] = True  # its StasisStart comes on the channel's own thread, after this
        return json_reply(ch.snap())

    async def originate(self, request: web.Request) -> web.Response:
        q = request.query
        endpoint = _checked_endpoint(request)
        if not q.get("app"):
            # Dialplan originates (extension/context) are not simulated: only Stasis ones.
            raise SimError(400, "Application or extension must be specified")
        ch = self.pbx.originate(
            endpoint=endpoint, app=q["app"], args=_app_args(request),
            caller_id=q.get("callerId", ""), timeout=int_param(request, "timeout", 30),
            channel_id=request.match_info.get("id") or q.get("channelId"), variables=await variables(request),
        )  # fmt: skip
        return json_reply(ch.snap())

    async def hangup(self, request: web.Request) -> web.Response:
        ch = self.pbx.get_channel(request.match_info["id"])
        reason, code = request.query.get("reason"), request.query.get("reason_code")
        if reason and code:
            raise SimError(400, "The reason and reason_code can't both be specified")
        if code:
            cause = int_param(request, "reason_code")
            if not code.strip().lstrip("+-")[:1].isdigit():
                raise SimError(400, "Invalid reason for hangup reason code provided")
        elif reason:
            if reason not in REASONS:
                raise SimError(400, "Invalid reason for hangup reason provided")
            cause = REASONS[reason]
        else:
            cause = 16
        if not ch.ending:
            ch.hangup_cause = cause
            self.pbx.end_channel(ch, "delete", by="app")
        # The hang-up runs on the channel's own thread: its events often trail the 204.
        request[NO_FLUSH] = True
        return no_content()

    async def answer(self, request: web.Request) -> web.Response:
        self.pbx.answer(self.pbx.control(request.match_info["id"]))
        return no_content()

    async def stateful(self, request: web.Request) -> web.Response:
        # /ring keeps the state at Ring (the caller hears 180); /progress opens early media.
        # None of these (ring, progress, hold, moh, silence) sends an event to the app.
        ch = self._ready(request)
        if request.method == "POST" and request.path.endswith("/progress"):
            ch.media = True
        return no_content()

    async def mute(self, request: web.Request) -> web.Response:
        self._ready(request)
        direction = request.query.get("direction", "both")
        if direction not in MUTE_DIRECTIONS:
            raise SimError(400, "Invalid direction specified")
        return no_content()

    async def dtmf(self, request: web.Request) -> web.Response:
        self._ready(request)
        if not request.query.get("dtmf"):
            raise SimError(400, "DTMF is required")
        return no_content()  # digits go to the far end; the app hears nothing of them

    async def dial(self, request: web.Request) -> web.Response:
        ch = self.pbx.control(request.match_info["id"])
        self.pbx.dial(ch, request.query.get("caller"), max(0, int_param(request, "timeout")))
        return no_content()

    async def play(self, request: web.Request) -> web.Response:
        ch = self._ready(request)
        media = list_param(request, "media")
        if not media:
            raise SimError(400, "Missing parameter media")
        for name in ("skipms", "offsetms"):
            if int_param(request, name) < 0:
                raise SimError(400, f"{name} cannot be negative")
        pb = self.pbx.start_playback(
            target_uri=f"channel:{ch.id}", media=media, language=request.query.get("lang") or ch.language,
            playback_id=request.match_info.get("pid") or request.query.get("playbackId"),
            apps=[ch.app], queue=ch.playbacks, calls=[ch.call] if ch.call else [],
        )  # fmt: skip
        return json_reply(pb.snap(), 201)

    async def get_var(self, request: web.Request) -> web.Response:
        name = request.query.get("variable", "")
        if not name:
            raise SimError(400, "Variable name is required")
        ch = self.pbx.channels.get(request.match_info["id"])
        if ch is None:
            raise SimError(404, "Provided channel was not found")
        return json_reply(m.Variable(value=self.pbx.read_var(ch, name)))

    async def set_var(self, request: web.Request) -> web.Response:
        name = request.query.get("variable", "")
        if not name:
            raise SimError(400, "Variable name is required")
        ch = self.pbx.control(request.match_info["id"])
        self.pbx.assign(ch, name, request.query.get("value", ""))
        return no_content()

    async def transfer_progress(self, request: web.Request) -> web.Response:
        # find_control (404 / 409) first, then the states; a body's "states" counts too.
        ch = self.pbx.control(request.match_info["id"])
        states = request.query.get("states", "")
        body = await json_body(request)
        if "states" in body:  # ast_json_string_get: a non-string is no value at all
            states = body["states"] if isinstance(body["states"], str) else ""
        self.pbx.transfer_progress(ch, states)
        return no_content()


def _app_args(request: web.Request) -> list[str]:
    return [a for a in request.query.get("appArgs", "").split(",") if a]


def _checked_endpoint(request: web.Request) -> str:
    """The checks /channels/create and originate share, in Asterisk's order and words."""
    q = request.query
    if q.get("originator") and q.get("formats"):
        raise SimError(400, "Originator and formats can't both be specified")
    endpoint = q.get("endpoint", "")
    if not endpoint:
        raise SimError(400, "Endpoint must be specified")
    for fmt in (f.strip() for f in q.get("formats", "").split(",") if f.strip()):
        if fmt not in FORMATS:
            raise SimError(400, f"Provided format ({fmt}) was not found")
    return endpoint
