"""The world's core: channels, their events and their endings, as Asterisk 22.10.1 produces them.

Every event is built from the model's current state and sent to the app's websocket at once;
while no websocket is connected the event is lost, as with Asterisk (nothing is replayed).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from ari_app.ari import models as m
from ari_app.pbxsim.ids import ASTERISK_ID, IdAllocator, timestamp
from ari_app.pbxsim.state import Phone, SimBridge, SimCall, SimChannel, SimError, SimPlayback, SimRecording

# How each kind of ending looks: ChannelHangupRequest fields, then ChannelDestroyed cause.
# A soft request's `cause` is Asterisk's soft-hangup bitmask (32 = explicit, ARI DELETE and the
# dial timeout), not a Q.850 cause.
HANGUP_REQUEST: dict[str, dict[str, Any]] = {
    "delete": {"cause": 32, "soft": True},
    "timeout": {"cause": 32, "soft": True},
    "bye": {},  # a far-end BYE before the cause was set: no cause key at all
    "bye16": {"cause": 16},
    "cancel": {"cause": 127, "tech_cause": 487},
    "busy": {"cause": 17, "tech_cause": 486},
}
DESTROY_CAUSE: dict[str, tuple[int, str, int | None]] = {
    "normal": (16, "Normal Clearing", None),
    "cancel": (127, "Interworking, unspecified", 487),
    "busy": (17, "User busy", 486),
    "timeout": (19, "User alerting, no answer", 480),
}
QOS_VARS = ("RTPAUDIOQOS", "RTPAUDIOQOSJITTER", "RTPAUDIOQOSLOSS", "RTPAUDIOQOSRTT", "RTPAUDIOQOSMES")


class World:
    def __init__(self, *, seed: int, time_scale: float = 1.0) -> None:
        self.rng = random.Random(seed)
        self.scale = time_scale
        self.ids = IdAllocator()
        self.channels: dict[str, SimChannel] = {}
        self.bridges: dict[str, SimBridge] = {}
        self.live: dict[str, SimRecording] = {}
        self.stored: dict[str, bytes] = {}
        self.playbacks: dict[str, SimPlayback] = {}
        self.phones: dict[str, Phone] = {}
        self.calls: dict[str, SimCall] = {}
        self.sinks: dict[str, Callable[[bytes], None]] = {}  # app -> websocket sender
        self.event_log: list[dict[str, Any]] = []
        self.talk_limits: dict[str, float] = {}  # call id -> caller hangs up N s into the talk
        self.stasis_start_delay = 0.0
        self.garbage_frames = 0
        self._call_seq = 0

    # ------------------------------------------------------------------ time
    def later(
        self, seconds: float, fn: Callable[[], None], owner: SimChannel | None = None
    ) -> asyncio.TimerHandle:
        handle = asyncio.get_running_loop().call_later(max(0.0, seconds) / self.scale, fn)
        if owner is not None:
            owner.timers.append(handle)
        return handle

    def sim_seconds(self, since: float) -> float:
        """Simulated seconds elapsed since the monotonic time ``since``."""
        return (time.monotonic() - since) * self.scale

    # ------------------------------------------------------------------ events
    def app_exists(self, app: str) -> bool:
        if app in self.sinks:
            return True
        return any(ch.app == app and ch.in_stasis for ch in self.channels.values()) or any(
            b.app == app for b in self.bridges.values()
        )

    def emit(self, app: str, cls: type[m.Event], **fields: Any) -> None:
        event = cls(timestamp=timestamp(), application=app, asterisk_id=ASTERISK_ID, **fields)
        data = m.encode(event)
        sink = self.sinks.get(app)
        channel = fields.get("channel") or fields.get("peer")
        self.event_log.append(
            {
                "app": app,
                "type": cls.__name__,
                "channel": channel.id if isinstance(channel, m.Channel) else None,
                "state": channel.state if isinstance(channel, m.Channel) else None,
                "delivered": sink is not None,
                "t": time.monotonic(),
            }
        )
        if len(self.event_log) > 200_000:
            del self.event_log[:50_000]
        if sink is None:
            return
        if self.garbage_frames > 0:
            self.garbage_frames -= 1
            sink(self.rng.choice([b"{not json", data[: len(data) // 2], b'{"type": 42}', b"[]"]))
        sink(data)

    def varset(self, ch: SimChannel, variable: str, value: str) -> None:
        ch.variables[variable] = value
        self.emit(ch.app, m.ChannelVarset, variable=variable, value=value, channel=ch.snap())

    # ------------------------------------------------------------------ channels
    def get_channel(self, channel_id: str) -> SimChannel:
        ch = self.channels.get(channel_id)
        if ch is None or ch.gone:
            raise SimError(404, "Channel not found")
        return ch

    def new_inbound(self, *, caller: str, caller_name: str, did: str, app: str) -> SimCall:
        self._call_seq += 1
        call = SimCall(f"call-{self._call_seq}", None, caller, did, time.time())
        self.calls[call.call_id] = call
        if not self.app_exists(app):
            # Stasis() fails at once; the dialplan's Hangup() gives the caller 603 Decline.
            call.ended_at = call.created_at
            call.caller_result = "declined"
            return call
        cid = self.ids.channel_id()
        ch = SimChannel(
            id=cid,
            name=self.ids.channel_name("PJSIP", "trunk"),
            state="Ring",
            protocol_id=f"{self._call_seq}-{cid.replace('.', '')}@127.0.0.1",
            caller=m.CallerID(caller_name or caller, caller),
            connected=m.CallerID("", ""),
            dialplan=m.DialplanCEP("from-trunk", did, 2, "Stasis", f"{app},{did}"),
            creationtime=timestamp(),
            kind="inbound",
            app=app,
            endpoint="trunk",
            in_stasis=True,
            call=call,
        )
        call.channel_id = cid
        self.channels[cid] = ch
        self.emit(app, m.StasisStart, args=[did], channel=ch.snap())
        return call

    def create_channel(self, *, endpoint: str, app: str, args: list[str], channel_id: str | None,
                       variables: dict[str, str]) -> SimChannel:  # fmt: skip
        tech, _, resource = endpoint.partition("/")
        if tech != "PJSIP" or not resource:
            raise SimError(400, "Endpoint must be specified as tech/resource")
        phone = self.phones.get(resource)
        if phone is None:
            # chan_pjsip cannot request a channel to an unknown endpoint: Asterisk answers 500.
            raise SimError(500, "Allocation failed")
        if channel_id and channel_id in self.channels:
            raise SimError(409, "Channel with given unique ID already exists")
        cid = channel_id or self.ids.channel_id()
        if channel_id:
            self.ids.skip(1)
        caller = m.CallerID(phone.caller_name, phone.caller_number)
        caller = _apply_callerid(caller, variables)
        ch = SimChannel(
            id=cid,
            name=self.ids.channel_name("PJSIP", resource),
            state="Down",
            protocol_id=IdAllocator.uuid(),
            caller=caller,
            connected=m.CallerID("", ""),
            dialplan=m.DialplanCEP("admins", "s", 1, "", ""),
            creationtime=timestamp(),
            kind="created",
            app=app,
            endpoint=resource,
            phone=phone,
            variables=dict(variables),
        )
        self.channels[cid] = ch
        # The reply comes first; the channel then enters the app (the race behind 409s).
        self.later(self.stasis_start_delay, lambda: self._enter_stasis(ch, args))
        return ch

    def _enter_stasis(self, ch: SimChannel, args: list[str]) -> None:
        if ch.gone:
            return
        data = ",".join([ch.app, *args])
        ch.dialplan = m.DialplanCEP("admins", "s", 1, "Stasis", data)
        self.emit(ch.app, m.ChannelDialplan, channel=ch.snap(), dialplan_app="Stasis", dialplan_app_data=data)
        self.varset(ch, "STASISSTATUS", "")
        ch.in_stasis = True
        self.emit(ch.app, m.StasisStart, args=args, channel=ch.snap())

    def set_state(self, ch: SimChannel, state: str) -> None:
        if ch.state != state:
            ch.state = state
            self.emit(ch.app, m.ChannelStateChange, channel=ch.snap())

    def answer(self, ch: SimChannel) -> None:
        self.set_state(ch, "Up")
        if ch.call and ch.call.app_answered_at is None:
            ch.call.app_answered_at = time.time()

    def end_channel(self, ch: SimChannel, how: str, *, reason: str | None = None, by: str = "app") -> None:
        """One channel's whole ending, in the order Asterisk sends it."""
        if ch.gone:
            return
        ch.gone = True
        ch.cancel_timers()
        bridge = self.bridges.get(ch.bridge_id) if ch.bridge_id else None
        if ch.state == "Up":
            # A channel that carried media reports its RTP statistics as it ends. In a natively
            # bridged call (no recording mixing the audio) its peer shares the RTP session and
            # gets the same figures under the *BRIDGED names, as recorded.
            members = bridge.channels if bridge and not bridge.recording else []
            peers = [self.channels[c] for c in members if c != ch.id and c in self.channels]
            for var in QOS_VARS:
                value = _qos_value(var, self.rng)
                self.varset(ch, var, value)
                for peer in peers:
                    self.varset(peer, f"{var}BRIDGED", value)
        self.emit(ch.app, m.ChannelHangupRequest, channel=ch.snap(), **HANGUP_REQUEST[how])
        if bridge:
            self.leave_bridge(ch, bridge, by_hangup=True)
        for pb_id in list(ch.playbacks):
            self.finish_playback(pb_id)
        if ch.in_stasis:
            self.emit(ch.app, m.StasisEnd, channel=ch.snap())
            self.varset(ch, "STASISSTATUS", "SUCCESS")
        destroy = self._destroy_cause(ch, how, reason)
        if ch.kind == "inbound":
            # Back in the dialplan after Stasis: the app-unload soft hangup (bitmask 16).
            extra = {"tech_cause": destroy[2]} if how == "cancel" else {}
            self.emit(ch.app, m.ChannelHangupRequest, channel=ch.snap(), cause=16, soft=True, **extra)
            ch.dialplan = m.DialplanCEP(ch.dialplan.context, ch.dialplan.exten, ch.dialplan.priority, "", "")
        fields: dict[str, Any] = {"cause": destroy[0], "cause_txt": destroy[1]}
        if destroy[2] is not None:
            fields["tech_cause"] = destroy[2]
        self.emit(ch.app, m.ChannelDestroyed, channel=ch.snap(), **fields)
        del self.channels[ch.id]
        self._record_end(ch, how, by, destroy[0])

    def _destroy_cause(self, ch: SimChannel, how: str, reason: str | None) -> tuple[int, str, int | None]:
        if how == "delete" and reason == "busy" and ch.state != "Up":
            return DESTROY_CAUSE["busy"]  # the SIP caller gets 486 Busy Here
        if how in ("cancel", "busy", "timeout"):
            return DESTROY_CAUSE[how]
        return DESTROY_CAUSE["normal"]

    def _record_end(self, ch: SimChannel, how: str, by: str, cause: int) -> None:
        call = ch.call
        if call is None:
            return
        call.ended_at = time.time()
        call.end_cause = cause
        call.hangup_by = by
        if call.answered_at is not None:
            call.caller_result = "answered"
        elif how == "cancel":
            call.caller_result = "abandoned"
        elif cause == 17:
            call.caller_result = "busy"
        elif by == "caller":
            call.caller_result = "hung_up"
        else:
            call.caller_result = "hung_up_by_app"

    # ------------------------------------------------------------------ bridges (membership)
    def leave_bridge(self, ch: SimChannel, bridge: SimBridge, *, by_hangup: bool) -> None:
        if ch.id not in bridge.channels:
            return
        if by_hangup:
            self.varset(ch, "BRIDGEPEER", "")
            self.varset(ch, "BRIDGEPVTCALLID", "")
            bridge.left_by_hangup = True
        bridge.channels.remove(ch.id)
        ch.bridge_id = None
        self.emit(ch.app, m.ChannelLeftBridge, bridge=bridge.snap(), channel=ch.snap())
        for other in bridge.channels:
            peer = self.channels.get(other)
            if peer is not None and by_hangup:
                self.emit(peer.app, m.ChannelConnectedLine, channel=peer.snap())

    # ------------------------------------------------------------------ playbacks
    def finish_playback(self, pb_id: str) -> None:
        pb = self.playbacks.pop(pb_id, None)
        if pb is None:
            return
        if pb.timer:
            pb.timer.cancel()
        ch = self.channels.get(pb.channel_id)
        if ch and pb_id in ch.playbacks:
            ch.playbacks.remove(pb_id)
        self.emit(pb.app, m.PlaybackFinished, playback=pb.snap("done"))

    # ------------------------------------------------------------------ restart
    def wipe(self) -> None:
        """Asterisk restarted: every channel, bridge and live recording vanishes without events."""
        for ch in self.channels.values():
            ch.cancel_timers()
            if ch.call and ch.call.ended_at is None:
                ch.call.ended_at = time.time()
                ch.call.caller_result = ch.call.caller_result or "lost_in_restart"
        for pb in self.playbacks.values():
            if pb.timer:
                pb.timer.cancel()
        self.channels.clear()
        self.bridges.clear()
        self.live.clear()
        self.playbacks.clear()


def _apply_callerid(caller: m.CallerID, variables: dict[str, str]) -> m.CallerID:
    name, number = caller.name, caller.number
    if "CALLERID(all)" in variables:
        raw = variables["CALLERID(all)"]
        if "<" in raw:
            name, _, rest = raw.partition("<")
            name, number = name.strip().strip('"'), rest.rstrip(">").strip()
        else:
            number = raw
    number = variables.get("CALLERID(num)", variables.get("CALLERID(number)", number))
    name = variables.get("CALLERID(name)", name)
    return m.CallerID(name, number)


def _qos_value(var: str, rng: random.Random) -> str:
    if var == "RTPAUDIOQOS":
        return f"ssrc={rng.randrange(1 << 31)};themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;txcount=0;rlp=0;rtt=0.000000;rxmes=0.000000;txmes=0.000000"  # noqa: E501
    stat = var.removeprefix("RTPAUDIOQOS").lower()
    keys = {"jitter": "rxjitter", "loss": "rxlost", "rtt": "rtt", "mes": "rxmes"}[stat]
    return ";".join(f"{p}{keys}=000.000000" for p in ("min", "max", "avg", "stdev")) + ";"
