"""Stasis bridges: membership, BRIDGEPEER bookkeeping, technology changes, MOH and playbacks.

Asterisk quirks kept here (all from the recorded traces):
- ``POST /bridges`` publishes no BridgeCreated to the app: an app subscribes to a bridge only
  when one of its channels is added (``app_subscribe_bridge``) and unsubscribes when the channel
  departs by ``removeChannel``. A channel that hangs up inside keeps the subscription, so the
  app gets BridgeDestroyed for a bridge its channels left by hanging up, but not for one that
  ``removeChannel`` emptied.
- The technology in snapshots moves: ``simple_bridge`` when created, ``native_rtp`` a moment
  after two PJSIP legs are up, ``softmix`` while a Recorder channel makes it three; the snapshot
  in an event shows the technology from before the change that event causes.
"""

from __future__ import annotations

import time
from functools import partial

from ari_app.ari import models as m
from ari_app.pbxsim.ids import new_uuid, timestamp
from ari_app.pbxsim.media import Media
from ari_app.pbxsim.state import SimBridge, SimChannel, SimError, SimPlayback

NATIVE_SETTLE = 0.02  # wall seconds before a two-party PJSIP bridge goes native_rtp


class Bridging(Media):
    # ------------------------------------------------------------------ lifecycle
    def create_bridge(self, types: str | None, bridge_id: str | None, name: str) -> SimBridge:
        if bridge_id and bridge_id in self.bridges:
            raise SimError(409, f"Bridge with id '{bridge_id}' already exists")
        kinds = {t.strip() for t in (types or "mixing").split(",")}
        mixing, holding = "mixing" in kinds, "holding" in kinds
        if mixing == holding:  # neither, or both: Asterisk cannot build it
            raise SimError(500, "Unable to create bridge")
        bridge = SimBridge(
            id=bridge_id or new_uuid(),
            bridge_type="holding" if holding else "mixing",
            technology="holding_bridge" if holding else "simple_bridge",
            name=name,
            creationtime=timestamp(),
            native=not kinds & {"dtmf_events", "proxy_media"},
        )
        self.bridges[bridge.id] = bridge
        return bridge

    def destroy_bridge(self, bridge: SimBridge) -> None:
        apps = bridge.apps()  # who is subscribed now gets BridgeDestroyed
        self.end_playbacks(bridge.playbacks)
        for cid in list(bridge.channels):
            ch = self.channels.get(cid)
            if ch is not None:
                self.leave_bridge(ch, bridge, "destroy")
        self._end_recording(bridge)
        if bridge.tech_timer:
            bridge.tech_timer.cancel()
        bridge.moh = bridge.announcer = None
        for app in apps:
            self.emit(app, m.BridgeDestroyed, bridge=bridge.snap(show_recorder=False))
        del self.bridges[bridge.id]

    def _end_recording(self, bridge: SimBridge) -> None:
        """Overridden where recordings live: a bridge going away ends its recording."""

    # ------------------------------------------------------------------ membership
    def add_channels(self, bridge: SimBridge, ids: list[str]) -> None:
        chans = [self._stasis_channel(cid) for cid in ids if cid]
        if not chans:
            raise SimError(400, "Missing parameter channel")
        if self.join_delay <= 0:
            self._join(bridge, chans)
            return
        # Asterisk imparts each channel to the bridge and answers 204 before its thread has
        # joined it: with a busy channel thread the ChannelEnteredBridge events come later,
        # one by one (17 and 19 ms after the reply, seen on 22.10.1), and a hang-up can fall
        # in between.
        for n, ch in enumerate(chans, start=1):
            self.after(self.join_delay * n, partial(self._join_later, bridge.id, ch.id))

    def _join_later(self, bridge_id: str, channel_id: str) -> None:
        bridge, ch = self.bridges.get(bridge_id), self.channels.get(channel_id)
        if bridge is not None and ch is not None and ch.in_stasis and not ch.ending:
            self._join(bridge, [ch])

    def _join(self, bridge: SimBridge, chans: list[SimChannel]) -> None:
        for ch in chans:
            if ch.bridge_id == bridge.id:
                continue
            old = self.bridges.get(ch.bridge_id or "")
            if old is not None:
                self.leave_bridge(ch, old, "remove")
            bridge.channels.append(ch.id)
            ch.bridge_id = bridge.id
            bridge.subs[ch.app] = bridge.subs.get(ch.app, 0) + 1
            self.emit(ch.app, m.ChannelEnteredBridge, bridge=bridge.snap(), channel=ch.snap())
        if bridge.bridge_type == "mixing" and self._size(bridge) >= 2:
            rounds = self.rng.choice([2, 3])  # Asterisk sets them again as the bridge settles
            self.set_peers(bridge, rounds=2)
            self._update_connected(bridge)
            if rounds == 3:
                self.after(0.002, lambda: self.set_peers(bridge, rounds=1))
        self.retech(bridge)
        self.note_talk(bridge)

    def _stasis_channel(self, channel_id: str) -> SimChannel:
        ch = self.channels.get(channel_id)
        if ch is None:
            raise SimError(400, "Channel not found")
        if not ch.in_stasis:
            raise SimError(422, "Channel not in Stasis application")
        return ch

    def remove_channel(self, bridge: SimBridge, channel_id: str) -> None:
        ch = self._stasis_channel(channel_id)
        if ch.bridge_id != bridge.id:
            raise SimError(422, "Channel not in this bridge")
        self.leave_bridge(ch, bridge, "remove")

    def leave_bridge(self, ch: SimChannel, bridge: SimBridge, why: str, *, settle: bool = True) -> None:
        """``why``: hangup (the app keeps its bridge subscription), remove, or destroy.
        ``settle=False``: part of a swap; the caller re-evaluates the bridge once it is done."""
        if ch.id not in bridge.channels:
            return
        if bridge.bridge_type == "mixing":
            self.varset(ch, "BRIDGEPEER", "")
            if ch.variables.get("BRIDGEPVTCALLID"):
                self.varset(ch, "BRIDGEPVTCALLID", "")
        bridge.channels.remove(ch.id)
        ch.bridge_id = None
        # Whether the Recorder shows up once the last real leg is gone varied between runs.
        show_recorder = not bridge.channels and self.rng.random() < 0.5
        self.emit(ch.app, m.ChannelLeftBridge, bridge=bridge.snap(show_recorder), channel=ch.snap())
        if why == "remove":
            bridge.subs[ch.app] = max(0, bridge.subs.get(ch.app, 0) - 1)
        if why != "destroy" and bridge.bridge_type == "mixing" and bridge.recorder is not None:
            # The ones left are now talking to the Recorder alone (seen with a recording running).
            self.set_peers(bridge, rounds=1, with_callid=False)
            for other in self._members(bridge):
                other.connected = m.CallerID("", "")
                self.emit(other.app, m.ChannelConnectedLine, channel=other.snap())
        if settle:
            self.retech(bridge)

    def _members(self, bridge: SimBridge) -> list[SimChannel]:
        return [self.channels[c] for c in bridge.channels if c in self.channels]

    def _size(self, bridge: SimBridge) -> int:
        return len(bridge.channels) + (bridge.recorder is not None)

    # ------------------------------------------------------------------ peers and technology
    def set_peers(self, bridge: SimBridge, *, rounds: int, with_callid: bool = True) -> None:
        """BRIDGEPEER (and BRIDGEPVTCALLID) on each member that has someone to talk to."""
        for _ in range(rounds):
            for ch in reversed(self._members(bridge)):  # the newest member is set first
                peers = [c for c in self._members(bridge) if c is not ch]
                names = ([bridge.recorder[1]] if bridge.recorder else []) + [p.name for p in peers]
                if not names:
                    continue
                self.varset(ch, "BRIDGEPEER", ",".join(names))
                if not with_callid:
                    continue
                single = len(names) == 1 and len(peers) == 1
                if single and peers[0].kind == "local":
                    # A Local peer has no private call id: BRIDGEPVTCALLID is unset, which
                    # publishes "" only when there was one to remove.
                    if ch.variables.pop("BRIDGEPVTCALLID", ""):
                        self.emit(ch.app, m.ChannelVarset, variable="BRIDGEPVTCALLID", value="",
                                  channel=ch.snap())  # fmt: skip
                    continue
                self.varset(ch, "BRIDGEPVTCALLID", peers[0].protocol_id if single else "")

    def _update_connected(self, bridge: SimBridge) -> None:
        members = self._members(bridge)
        if len(members) != 2:
            return
        for ch, other in (members, members[::-1]):
            if (ch.connected.name, ch.connected.number) != (other.caller.name, other.caller.number):
                ch.connected = m.CallerID(other.caller.name, other.caller.number)
                self.emit(ch.app, m.ChannelConnectedLine, channel=ch.snap())

    def retech(self, bridge: SimBridge) -> None:
        if bridge.tech_timer:
            bridge.tech_timer.cancel()
            bridge.tech_timer = None
        if bridge.bridge_type == "holding":
            return
        size, members = self._size(bridge), self._members(bridge)
        if size >= 3:
            bridge.technology = "softmix"
            return
        bridge.technology = "simple_bridge"
        # A framehook on a leg (a REFER the app handles) rules out native RTP bridging.
        if size == 2 and bridge.native and all(c.media and c.state == "Up" and not c.hooks for c in members):
            bridge.tech_timer = self.after(NATIVE_SETTLE, lambda: self._go_native(bridge))

    def _go_native(self, bridge: SimBridge) -> None:
        members = self._members(bridge)
        if (
            len(members) == 2
            and bridge.recorder is None
            and all(c.state == "Up" and not c.hooks for c in members)
        ):
            bridge.technology = "native_rtp"

    # ------------------------------------------------------------------ talk
    def note_talk(self, bridge: SimBridge) -> None:
        """A caller bridged with an admin phone: the simulator's call record starts the talk."""
        members = self._members(bridge)
        phones = [c for c in members if c.kind not in ("inbound", "local")]
        for ch in members:
            call = ch.call
            if call is None or not phones or bridge.bridge_type != "mixing":
                continue
            if call.answered_at is None:
                call.answered_at, call.talk_started = time.time(), time.monotonic()
                limit = self.talk_limits.get(call.call_id)
                if limit is not None:
                    self.later(limit, partial(self.caller_leaves, ch), owner=ch)
            call.bridged_with.extend(p.endpoint for p in phones if p.endpoint not in call.bridged_with)

    def caller_leaves(self, ch: SimChannel) -> None:
        """Overridden by the dialing layer: the caller hangs up (BYE)."""

    # ------------------------------------------------------------------ music and playbacks
    def start_bridge_moh(self, bridge: SimBridge) -> None:
        # An Announcer pair plays the music: it takes two channel-id numbers, and no event.
        if bridge.moh is None:
            bridge.moh = self.ids.media_pair("Announcer", "ARI_MOH")[0]

    def stop_bridge_moh(self, bridge: SimBridge) -> None:
        if bridge.moh is None:
            raise SimError(409, "Bridge isn't playing music")
        bridge.moh = None

    def play_on_bridge(
        self, bridge: SimBridge, media: list[str], language: str, playback_id: str | None
    ) -> SimPlayback:
        if bridge.announcer is None:
            bridge.announcer = self.ids.media_pair("Announcer")[0]
        calls = [c.call for c in self._members(bridge) if c.call is not None]
        return self.start_playback(
            target_uri=f"bridge:{bridge.id}", media=media, language=language, playback_id=playback_id,
            apps=bridge.apps(), queue=bridge.playbacks, calls=calls,
        )  # fmt: skip
