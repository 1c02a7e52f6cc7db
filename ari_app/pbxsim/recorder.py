"""Bridge recordings: a Recorder channel joins the bridge and writes a real WAV when it ends.

As recorded from Asterisk 22.10.1: ``POST /bridges/{id}/record`` answers 201 ``queued`` but
RecordingStarted (``recording``) is usually out before that reply; the legs' BRIDGEPEER then
names the Recorder too. RecordingFinished (``done``, integer ``duration``, no talking/silence
fields) comes when the recording is stopped or the bridge is torn down. The duration and the
file's length are simulated seconds: wall time multiplied by the time scale.
"""

from __future__ import annotations

import time

from ari_app.ari import models as m
from ari_app.pbxsim.bridging import Bridging
from ari_app.pbxsim.recording_files import FORMATS
from ari_app.pbxsim.state import SimBridge, SimError, SimRecording

TERMINATE_ON = {"none", "any", "*", "#"}
IF_EXISTS = {"fail", "overwrite", "append"}


class Recording(Bridging):
    def record_bridge(
        self,
        bridge: SimBridge,
        *,
        name: str,
        fmt: str,
        if_exists: str = "fail",
        max_duration: int = 0,
        terminate_on: str = "none",
    ) -> SimRecording:
        if fmt not in FORMATS:
            raise SimError(422, "specified format is unknown on this system")
        # Asterisk makes the Recorder pair before it checks the options: even a refused
        # request uses up two channel-id numbers.
        member_id, member_name = self.ids.media_pair("Recorder")
        if terminate_on.lower() not in TERMINATE_ON:
            raise SimError(400, "terminateOn invalid")
        if if_exists.lower() not in IF_EXISTS:
            raise SimError(400, "ifExists invalid")
        if max_duration < 0:
            raise SimError(400, "max_duration_seconds cannot be negative")
        self.files.path(name)  # rejects names that leave the recordings directory
        exists = if_exists.lower() == "fail" and self.files.exists(name)
        if exists or name in self.live:
            raise SimError(409, f"Recording '{name}' already exists and can not be overwritten")
        if bridge.recording is not None:
            self.stop_recording(bridge.recording)
        rec = SimRecording(name, fmt, f"bridge:{bridge.id}", bridge.id, time.monotonic())
        rec.append = if_exists.lower() == "append"
        self.live[name] = rec
        bridge.recorder, bridge.recording = (member_id, member_name), name
        for ch in self._members(bridge):
            if ch.call is not None:
                ch.call.recordings.append(name)
        self.set_peers(bridge, rounds=1)
        for app in bridge.apps():
            self.emit(app, m.RecordingStarted, recording=rec.snap("recording"))
        self.after(0.002, lambda: self._settle_peers(bridge, name))
        self.retech(bridge)
        if max_duration > 0:
            rec.timer = self.later(max_duration, lambda: self.stop_recording(name))
        return rec

    def _settle_peers(self, bridge: SimBridge, name: str) -> None:
        if bridge.recording == name and bridge.id in self.bridges:
            self.set_peers(bridge, rounds=2, with_callid=False)

    def stop_recording(self, name: str, *, cancel: bool = False) -> None:
        rec = self.live.pop(name, None)
        if rec is None:
            raise SimError(404, "Recording not found")
        if rec.timer:
            rec.timer.cancel()
        seconds = self.sim_seconds(rec.started)
        if cancel:
            rec.state = "canceled"
        else:
            self.files.write(name, seconds, append=rec.append)
            rec.state, rec.duration = "done", int(seconds)
        bridge = self.bridges.get(rec.bridge_id)
        for app in bridge.apps() if bridge else []:
            self.emit(app, m.RecordingFinished, recording=rec.snap())
        if bridge is not None and bridge.recording == name:
            bridge.recorder = bridge.recording = None
            if len(bridge.channels) >= 2:
                self.set_peers(bridge, rounds=1)
            self.retech(bridge)

    def _end_recording(self, bridge: SimBridge) -> None:
        if bridge.recording in self.live:
            self.stop_recording(bridge.recording)

    def save_live_recordings(self) -> None:
        """Asterisk went away mid-recording: the file written so far stays, unclosed (header sizes
        0, as Asterisk's wav writer leaves it), with no event."""
        for name, rec in list(self.live.items()):
            if rec.timer:
                rec.timer.cancel()
            self.files.write(name, self.sim_seconds(rec.started), append=rec.append, unclosed=True)
        self.live.clear()
