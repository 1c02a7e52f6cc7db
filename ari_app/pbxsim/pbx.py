"""What the PBX does on request: dialling phones, bridges, recordings, playbacks, callers."""

from __future__ import annotations

import time

from ari_app.ari import models as m
from ari_app.pbxsim.ids import IdAllocator, timestamp
from ari_app.pbxsim.state import SimBridge, SimChannel, SimError, SimPlayback, SimRecording
from ari_app.pbxsim.wav import tone_wav
from ari_app.pbxsim.world import World

# Stock sound lengths in seconds; anything else plays for DEFAULT_SOUND.
SOUND_SECONDS = {"hello-world": 1.4, "vm-nobodyavail": 2.2, "please-try-call-later": 1.8, "beep": 0.3}
DEFAULT_SOUND = 2.0


class Pbx(World):
    # ------------------------------------------------------------------ dialling an admin phone
    def dial(self, ch: SimChannel, caller_id: str | None, timeout: int) -> None:
        if ch.kind != "created" or not ch.in_stasis:
            raise SimError(409, "Channel not in Stasis application")
        if ch.dialed:
            raise SimError(409, "Channel is already dialed")
        caller = self.channels.get(caller_id) if caller_id else None
        if caller_id and caller is None:
            raise SimError(404, "Caller channel not found")
        ch.dialed = True
        if caller is not None:
            ch.connected = m.CallerID(caller.caller.name, caller.caller.number)
        self.emit(ch.app, m.ChannelConnectedLine, channel=ch.snap())
        self.later(0.001, lambda: self._ring(ch, timeout), owner=ch)

    def _dial_event(self, ch: SimChannel, status: str, dialstring: str = "") -> None:
        self.emit(ch.app, m.Dial, peer=ch.snap(), dialstatus=status, forward="", dialstring=dialstring)

    def _ring(self, ch: SimChannel, timeout: int) -> None:
        phone = ch.phone
        assert phone is not None
        if phone.behaviour == "busy":
            self._dial_event(ch, "", ch.endpoint)
            self.later(0.002, lambda: self.end_channel(ch, "busy", by="phone"), owner=ch)
            return
        if phone.behaviour == "offline":
            # Nobody behind the static contact: the INVITE goes nowhere, no RINGING.
            self._dial_event(ch, "", ch.endpoint)
        else:
            # Dial "", Ringing and Dial RINGING arrive within a millisecond, in varying order.
            steps = [
                lambda: self._dial_event(ch, "", ch.endpoint),
                lambda: self.set_state(ch, "Ringing"),
                lambda: self._dial_event(ch, "RINGING"),
            ]
            if self.rng.random() < 0.3:
                steps[0], steps[2] = steps[2], steps[0]
            for step in steps:
                step()
            if phone.behaviour == "answer":
                self.later(phone.answer_after, lambda: self._phone_answers(ch), owner=ch)
        if timeout > 0:
            self.later(timeout, lambda: self._dial_timeout(ch), owner=ch)

    def _phone_answers(self, ch: SimChannel) -> None:
        if ch.gone or ch.state == "Up":
            return
        self.set_state(ch, "Up")
        self._dial_event(ch, "ANSWER")
        phone = ch.phone
        if phone and phone.hangup_after is not None:
            self.later(phone.hangup_after, lambda: self.end_channel(ch, "bye16", by="phone"), owner=ch)

    def _dial_timeout(self, ch: SimChannel) -> None:
        if not ch.gone and ch.state != "Up":
            self.end_channel(ch, "timeout", by="timeout")

    # ------------------------------------------------------------------ callers and phones hanging up
    def caller_hangup(self, call_id: str) -> None:
        call = self.calls.get(call_id)
        ch = self.channels.get(call.channel_id or "") if call else None
        if ch is None:
            raise SimError(404, "call not in progress")
        self.end_channel(ch, "bye" if ch.state == "Up" else "cancel", by="caller")

    def phone_hangup(self, name: str) -> int:
        ended = 0
        for ch in [c for c in self.channels.values() if c.kind == "created" and c.endpoint == name]:
            self.end_channel(ch, "bye16" if ch.state == "Up" else "busy", by="phone")
            ended += 1
        return ended

    def schedule_caller(self, ch: SimChannel, abandon_after: float | None) -> None:
        if abandon_after is not None:

            def abandon() -> None:
                if not ch.gone and (ch.call is None or ch.call.answered_at is None):
                    self.end_channel(ch, "cancel" if ch.state != "Up" else "bye", by="caller")

            self.later(abandon_after, abandon, owner=ch)

    # ------------------------------------------------------------------ bridges
    def create_bridge(self, app: str, bridge_type: str, bridge_id: str | None, name: str) -> SimBridge:
        kinds = {t.strip() for t in (bridge_type or "mixing").split(",")}
        if bridge_id and bridge_id in self.bridges:
            raise SimError(409, "Bridge with this id already exists")
        technology = "holding_bridge" if "holding" in kinds else "simple_bridge"
        btype = "holding" if "holding" in kinds else "mixing"
        bridge = SimBridge(bridge_id or IdAllocator.uuid(), btype, technology, name, timestamp(), app)
        self.bridges[bridge.id] = bridge
        return bridge

    def get_bridge(self, bridge_id: str) -> SimBridge:
        bridge = self.bridges.get(bridge_id)
        if bridge is None:
            raise SimError(404, "Bridge not found")
        return bridge

    def add_channels(self, bridge: SimBridge, ids: list[str]) -> None:
        chans = []
        for cid in ids:
            ch = self.channels.get(cid)
            if ch is None or ch.gone:
                raise SimError(400, "Channel not found")
            if not ch.in_stasis:
                raise SimError(422, "Channel not in Stasis application")
            chans.append(ch)
        for ch in chans:
            if ch.bridge_id == bridge.id:
                continue
            if ch.bridge_id and ch.bridge_id in self.bridges:
                self.leave_bridge(ch, self.bridges[ch.bridge_id], by_hangup=False)
            bridge.channels.append(ch.id)
            ch.bridge_id = bridge.id
            self.emit(ch.app, m.ChannelEnteredBridge, bridge=bridge.snap(), channel=ch.snap())
        members = [self.channels[c] for c in bridge.channels if c in self.channels]
        if len(members) >= 2 and bridge.bridge_type == "mixing":
            for _ in range(2):  # BRIDGEPEER/BRIDGEPVTCALLID are set again as the bridge settles
                for ch in members:
                    peer = next(p for p in members if p is not ch)
                    self.varset(ch, "BRIDGEPEER", peer.name)
                    self.varset(ch, "BRIDGEPVTCALLID", peer.protocol_id)
            self.emit(members[0].app, m.ChannelConnectedLine, channel=members[0].snap())
            self._note_talk(members)

    def _note_talk(self, members: list[SimChannel]) -> None:
        inbound = [c for c in members if c.kind == "inbound" and c.call]
        phones = [c for c in members if c.kind == "created"]
        for ch in inbound:
            call = ch.call
            assert call is not None
            if call.answered_at is None and phones:
                call.answered_at = time.time()
                hang = self.talk_limits.get(call.call_id)
                if hang is not None:
                    self._caller_leaves_after(ch, hang)
            call.bridged_with.extend(p.endpoint for p in phones if p.endpoint not in call.bridged_with)

    def _caller_leaves_after(self, ch: SimChannel, seconds: float) -> None:
        self.later(seconds, lambda: self.end_channel(ch, "bye", by="caller"), owner=ch)

    def remove_channel(self, bridge: SimBridge, channel_id: str) -> None:
        ch = self.channels.get(channel_id)
        if ch is None:
            raise SimError(400, "Channel not found")
        if ch.id not in bridge.channels:
            raise SimError(422, "Channel not in this bridge")
        self.leave_bridge(ch, bridge, by_hangup=False)

    def destroy_bridge(self, bridge: SimBridge) -> None:
        for cid in list(bridge.channels):
            ch = self.channels.get(cid)
            if ch is not None:
                self.leave_bridge(ch, bridge, by_hangup=False)
        if bridge.recording:
            self.finish_recording(bridge.recording)
        # A bridge emptied with removeChannel (or never used) goes without BridgeDestroyed.
        if bridge.left_by_hangup:
            self.emit(bridge.app, m.BridgeDestroyed, bridge=bridge.snap())
        del self.bridges[bridge.id]

    # ------------------------------------------------------------------ recordings
    def record_bridge(self, bridge: SimBridge, name: str, fmt: str, if_exists: str) -> SimRecording:
        if not name:
            raise SimError(400, "Recording name is required")
        if fmt != "wav":
            raise SimError(422, "Recording format is not supported")
        if name in self.live:
            raise SimError(409, "Recording with the same name already in progress")
        if name in self.stored and if_exists == "fail":
            # api-docs: 409 for a name that exists and ifExists=fail (422 is an unknown format).
            raise SimError(409, f"Recording '{name}' already exists and can not be overwritten")
        rec = SimRecording(name, fmt, f"bridge:{bridge.id}", bridge.app, time.monotonic())
        self.live[name] = rec
        bridge.recording = name
        bridge.recorder = self.ids.channel_id()
        self.ids.skip(1)  # the Recorder pair uses two counter numbers
        bridge.technology = "softmix"
        for cid in bridge.channels:
            ch = self.channels.get(cid)
            if ch and ch.call:
                ch.call.recordings.append(name)
        self.emit(bridge.app, m.RecordingStarted, recording=rec.snap("recording"))
        return rec

    def finish_recording(self, name: str) -> None:
        rec = self.live.pop(name, None)
        if rec is None:
            return
        seconds = self.sim_seconds(rec.started)
        rec.duration = int(seconds)
        rec.state = "done"
        self.stored[name] = tone_wav(seconds)
        for bridge in self.bridges.values():
            if bridge.recording == name:
                bridge.recording = None
                bridge.recorder = None
                bridge.technology = "simple_bridge"
        self.emit(rec.app, m.RecordingFinished, recording=rec.snap())

    # ------------------------------------------------------------------ playbacks
    def play(self, ch: SimChannel, media: str, playback_id: str | None) -> SimPlayback:
        if playback_id and playback_id in self.playbacks:
            raise SimError(409, "Playback with this id already exists")
        pb = SimPlayback(playback_id or IdAllocator.uuid(), media, f"channel:{ch.id}", ch.id, ch.app)
        self.playbacks[pb.id] = pb
        ch.playbacks.append(pb.id)
        if ch.call:
            ch.call.playbacks.append(media)
        seconds = sum(SOUND_SECONDS.get(u.split(":", 1)[-1], DEFAULT_SOUND) for u in media.split(","))

        def start() -> None:
            if pb.id in self.playbacks:
                pb.state = "playing"
                self.emit(pb.app, m.PlaybackStarted, playback=pb.snap())
                pb.timer = self.later(seconds, lambda: self.finish_playback(pb.id))

        self.later(0.001, start)
        return pb
