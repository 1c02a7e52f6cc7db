"""Playbacks on channels and bridges, as res_stasis_playback runs them.

Playbacks on one target run one at a time in the order requested (each is a command on the
channel's control queue): a second ``/play`` answers 201 ``queued`` at once and starts when the
first is done. A playback of several media URIs reports PlaybackStarted for each URI, with a
PlaybackContinuing between them, and one PlaybackFinished at the end.
"""

from __future__ import annotations

import math
from pathlib import Path

from ari_app.ari import models as m
from ari_app.pbxsim.endpoints import Endpoints
from ari_app.pbxsim.ids import new_uuid
from ari_app.pbxsim.recording_files import RecordingFiles
from ari_app.pbxsim.state import SimCall, SimError, SimPlayback

# Stock sound lengths in seconds; any other sound plays for DEFAULT_SOUND.
SOUND_SECONDS = {
    "hello-world": 1.4,  # as recorded from Asterisk 22.10.1
    "beep": 0.3,
    "vm-nobodyavail": 2.2,
    "please-try-call-later": 1.8,
    "pls-hold-while-try": 2.0,
    "queue-periodic-announce": 2.9,
    "queue-thankyou": 1.2,
    "conf-onlyperson": 2.6,
    "tt-monkeys": 6.5,
}
DEFAULT_SOUND = 2.0
SAY_SECONDS = 0.5  # per digit / character / number word


class Media(Endpoints):
    def __init__(self, *, seed: int, time_scale: float = 1.0, recordings_dir: Path) -> None:
        super().__init__(seed=seed, time_scale=time_scale)
        self.files = RecordingFiles(recordings_dir)

    def media_seconds(self, uri: str) -> float | None:
        """How long a media URI plays; None when Asterisk could not play it; inf for tones."""
        scheme, _, rest = uri.partition(":")
        if scheme == "sound" and rest:
            return SOUND_SECONDS.get(rest.rsplit("/", 1)[-1], DEFAULT_SOUND)
        if scheme == "recording":
            return self.files.seconds(rest)
        if scheme in ("number", "digits", "characters") and rest:
            return SAY_SECONDS * len(rest)
        if scheme == "tone" and rest:
            return math.inf  # a tone plays until it is stopped
        return None

    def start_playback(
        self,
        *,
        target_uri: str,
        media: list[str],
        language: str,
        playback_id: str | None,
        apps: list[str],
        queue: list[str],
        calls: list[SimCall],
    ) -> SimPlayback:
        if playback_id and playback_id in self.playbacks:
            raise SimError(409, f"Playback with id '{playback_id}' already exists")
        pb = SimPlayback(playback_id or new_uuid(), media, target_uri, language, apps)
        self.playbacks[pb.id] = pb
        queue.append(pb.id)
        for call in calls:
            call.playbacks.extend(media)
        if len(queue) == 1:
            # The 201 goes out first; the control thread picks the playback up a moment later.
            self.after(0.001, lambda: self._play_current(pb, queue))
        return pb

    def _emit_pb(self, pb: SimPlayback, cls: type[m.Event]) -> None:
        for app in pb.apps:
            self.emit(app, cls, playback=pb.snap())

    def _play_current(self, pb: SimPlayback, queue: list[str]) -> None:
        if pb.id not in self.playbacks:
            return
        pb.state = "playing"
        self._emit_pb(pb, m.PlaybackStarted)
        seconds = self.media_seconds(pb.media[pb.index])
        if seconds is None:
            self._media_done(pb, queue, failed=True)
        elif math.isfinite(seconds):
            pb.timer = self.later(seconds, lambda: self._media_done(pb, queue))

    def _media_done(self, pb: SimPlayback, queue: list[str], failed: bool = False) -> None:
        if pb.id not in self.playbacks:
            return
        if pb.index < len(pb.media) - 1:
            pb.state = "continuing"
            self._emit_pb(pb, m.PlaybackContinuing)
            pb.index += 1
            self._play_current(pb, queue)
            return
        self.finish_playback(pb.id, queue, "failed" if failed else "done")

    def finish_playback(self, pb_id: str, queue: list[str], state: str) -> None:
        pb = self.playbacks.pop(pb_id, None)
        if pb is None:
            return
        if pb.timer:
            pb.timer.cancel()
        pb.state = state
        self._emit_pb(pb, m.PlaybackFinished)
        if pb_id in queue:
            was_current = queue[0] == pb_id
            queue.remove(pb_id)
            if was_current and queue:
                nxt = self.playbacks.get(queue[0])
                if nxt is not None:
                    self.after(0.001, lambda: self._play_current(nxt, queue))

    def end_playbacks(self, queue: list[str]) -> None:
        """The target hung up: the playing one fails; queued ones are flushed without events."""
        if not queue:
            return
        current, *waiting = queue
        for pb_id in waiting:
            dropped = self.playbacks.pop(pb_id, None)
            if dropped and dropped.timer:
                dropped.timer.cancel()
        queue[:] = [current]
        pb = self.playbacks.get(current)
        if pb is not None and pb.state == "queued":
            self.playbacks.pop(current, None)  # never started: nothing to report
            queue.clear()
            return
        self.finish_playback(current, queue, "failed")

    def playback_queue(self, pb: SimPlayback) -> list[str]:
        kind, _, target = pb.target_uri.partition(":")
        if kind == "channel" and target in self.channels:
            return self.channels[target].playbacks
        if kind == "bridge" and target in self.bridges:
            return self.bridges[target].playbacks
        return []

    def stop_playback(self, pb_id: str) -> None:
        """DELETE /playbacks/{id}: stopped or cancelled, it finishes as ``done``."""
        pb = self.playbacks.get(pb_id)
        if pb is None:
            raise SimError(404, "Playback not found")
        self.finish_playback(pb_id, self.playback_queue(pb), "done")
