"""The world's core: its objects, its clock, and the event stream every change goes out on.

Every event is built from the model's current state with the ``ari_app.ari.models`` Structs
and handed to the app's websocket at once, so events leave in model order. While an app has
no websocket its events are lost, as with Asterisk (nothing is replayed on reconnect).
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

LOG_LIMIT = 200_000  # event-log entries kept; the oldest quarter goes when full
_LOGGED_FIELDS = ("cause", "soft", "tech_cause", "dialstatus", "variable", "value", "digit", "result")


class World:
    def __init__(self, *, seed: int, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.rng = random.Random(seed)
        self.scale = time_scale
        self.ids = IdAllocator()
        self.channels: dict[str, SimChannel] = {}
        self.bridges: dict[str, SimBridge] = {}
        self.live: dict[str, SimRecording] = {}
        self.playbacks: dict[str, SimPlayback] = {}
        self.phones: dict[str, Phone] = {"trunk": Phone("trunk", "answer", context="from-trunk")}
        self.calls: dict[str, SimCall] = {}
        self.sinks: dict[str, Callable[[bytes], None]] = {}  # app -> its websocket's queue
        self.event_log: list[dict[str, Any]] = []
        self.talk_limits: dict[str, float] = {}  # call id -> caller hangs up N s into the talk
        # phone -> the call id of the dialplan fallback call it talks on: busy (486) meanwhile
        self.occupied: dict[str, str] = {}
        self.stasis_start_delay = 0.0  # wall seconds before a created channel enters Stasis
        self.join_delay = 0.0  # wall seconds between addChannel's reply and each channel joining
        self.garbage_frames = 0
        # Fault: events made before this (monotonic) time are lost on a websocket that stays
        # up, as when frames go missing; ``lose_types`` limits it to some event types.
        self.lose_until = 0.0
        self.lose_types: frozenset[str] | None = None
        self.app_name_any = False
        self.started_at = timestamp()
        self._call_seq = 0

    # ------------------------------------------------------------------ time
    def later(
        self, seconds: float, fn: Callable[[], None], owner: SimChannel | None = None
    ) -> asyncio.TimerHandle:
        """Run ``fn`` after ``seconds`` of simulated time (wall time divided by the time scale)."""
        return self.after(max(0.0, seconds) / self.scale, fn, owner)

    def after(
        self, wall: float, fn: Callable[[], None], owner: SimChannel | None = None
    ) -> asyncio.TimerHandle:
        """Run ``fn`` after ``wall`` real seconds: the small gaps between causally linked events."""
        handle = asyncio.get_running_loop().call_later(max(0.0, wall), fn)
        if owner is not None:
            owner.timers = [t for t in owner.timers if not t.cancelled()]
            owner.timers.append(handle)
        return handle

    def sim_seconds(self, since: float) -> float:
        """Simulated seconds elapsed since the monotonic time ``since``."""
        return (time.monotonic() - since) * self.scale

    # ------------------------------------------------------------------ apps
    def app_channels(self, app: str) -> list[str]:
        return [c.id for c in self.channels.values() if c.app == app and c.in_stasis]

    def app_bridges(self, app: str) -> list[str]:
        return [b.id for b in self.bridges.values() if b.subs.get(app, 0) > 0]

    def app_exists(self, app: str) -> bool:
        """An app lives while it has a websocket or anything subscribed (Asterisk's registry)."""
        return app in self.sinks or bool(self.app_channels(app)) or bool(self.app_bridges(app))

    def app_names(self) -> list[str]:
        names = {*self.sinks, *(c.app for c in self.channels.values())}
        names |= {app for b in self.bridges.values() for app in b.apps()}
        return sorted(n for n in names if self.app_exists(n))

    def app_left(self, app: str) -> None:
        """The app's websocket went away (stasis_app_unregister); subclasses drop what it ends."""

    def app_active(self, app: str) -> bool:
        """An app with a websocket. One whose websocket went is deactivated (app_deactivate):
        it stays registered while it has channels or bridges, but Stasis() refuses it
        ("Stasis app '%s' not active", res_stasis.c), so calls then take the dialplan's way."""
        return app in self.sinks

    def stasis_target(self, app: str) -> str | None:
        """Which app a ``Stasis(app)`` reaches; with app_name_any, any connected app will do."""
        if self.app_active(app):
            return app
        if self.app_name_any and self.sinks:
            return sorted(self.sinks)[0]
        return None

    # ------------------------------------------------------------------ events
    def emit(self, app: str, cls: type[m.Event], **fields: Any) -> None:
        event = cls(timestamp=timestamp(), application=app, asterisk_id=ASTERISK_ID, **fields)
        sink = self.sinks.get(app)
        if sink is not None and self.lose_until and time.monotonic() < self.lose_until:
            if self.lose_types is None or cls.__name__ in self.lose_types:
                sink = None
        self._log(app, cls.__name__, fields, sink is not None)
        if sink is None:
            return  # no websocket: the event is lost, never queued for a later connection
        if self.garbage_frames > 0:
            self.garbage_frames -= 1
            sink(self._garbage(m.encode(event)))
        sink(m.encode(event))

    def _garbage(self, good: bytes) -> bytes:
        """A frame no ARI client can parse: not JSON, cut short, or not an event object."""
        return self.rng.choice([b"{not json", good[: len(good) // 2], b'{"type": 42}', b"[]"])

    def _log(self, app: str, kind: str, fields: dict[str, Any], delivered: bool) -> None:
        channel = fields.get("channel") or fields.get("peer")
        refer = fields.get("referred_by")
        if isinstance(refer, m.ReferredBy):  # ChannelTransfer: the transferer's channel
            channel = refer.source_channel
        entry: dict[str, Any] = {
            "app": app,
            "type": kind,
            "channel": channel.id if isinstance(channel, m.Channel) else None,
            "state": channel.state if isinstance(channel, m.Channel) else None,
            "delivered": delivered,
            "t": time.monotonic(),
        }
        bridge = fields.get("bridge")
        if isinstance(bridge, m.Bridge):
            entry["bridge"] = bridge.id
        endpoint = fields.get("endpoint")
        if isinstance(endpoint, m.Endpoint):
            entry["endpoint"] = f"{endpoint.technology}/{endpoint.resource}"
            entry["endpoint_state"] = endpoint.state
        entry.update({k: fields[k] for k in _LOGGED_FIELDS if k in fields})
        if kind == "ChannelTransfer" and isinstance(fields.get("state"), str):
            entry["transfer_state"] = fields["state"]
        self.event_log.append(entry)
        if len(self.event_log) > LOG_LIMIT:
            del self.event_log[: LOG_LIMIT // 4]

    def varset(self, ch: SimChannel, variable: str, value: str) -> None:
        ch.variables[variable] = value
        self.emit(ch.app, m.ChannelVarset, variable=variable, value=value, channel=ch.snap())

    def set_state(self, ch: SimChannel, state: str) -> None:
        if ch.state != state:
            ch.state = state
            self.emit(ch.app, m.ChannelStateChange, channel=ch.snap())

    # ------------------------------------------------------------------ lookups
    def get_channel(self, channel_id: str) -> SimChannel:
        ch = self.channels.get(channel_id)
        if ch is None:
            raise SimError(404, "Channel not found")
        return ch

    def control(self, channel_id: str) -> SimChannel:
        """A channel the app controls; Asterisk tells 404 (gone) from 409 (not in Stasis)."""
        ch = self.get_channel(channel_id)
        if not ch.in_stasis:
            raise SimError(409, "Channel not in Stasis application")
        return ch

    def get_bridge(self, bridge_id: str) -> SimBridge:
        bridge = self.bridges.get(bridge_id)
        if bridge is None:
            raise SimError(404, "Bridge not found")
        return bridge

    def next_call_id(self) -> str:
        self._call_seq += 1
        return f"call-{self._call_seq}"

    # ------------------------------------------------------------------ restart
    def wipe(self) -> None:
        """Asterisk went away: every channel, bridge and playback vanishes, without events."""
        now = time.time()
        for ch in self.channels.values():
            ch.cancel_timers()
            call = ch.call
            if call is not None and call.ended_at is None:
                call.ended_at, call.hangup_by = now, "restart"
                call.caller_result = call.caller_result or "lost_in_restart"
        for pb in self.playbacks.values():
            if pb.timer:
                pb.timer.cancel()
        for bridge in self.bridges.values():
            if bridge.tech_timer:
                bridge.tech_timer.cancel()
        self.channels.clear()
        self.bridges.clear()
        self.playbacks.clear()
        self.started_at = timestamp()
