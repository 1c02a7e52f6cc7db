"""The simulated world's objects: phones, channels, bridges, recordings, and the calls placed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ari_app.ari import models as m


class SimError(Exception):
    """An ARI error response: status and Asterisk's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Phone:
    """An admin phone behind ``PJSIP/<name>``."""

    name: str
    behaviour: str = "no_answer"  # answer | no_answer | busy | offline
    answer_after: float = 1.0
    hangup_after: float | None = None
    caller_name: str = ""
    caller_number: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "behaviour": self.behaviour,
            "answer_after": self.answer_after,
            "hangup_after": self.hangup_after,
            "caller_name": self.caller_name,
            "caller_number": self.caller_number,
        }


@dataclass
class SimCall:
    """The simulator's own record of one inbound call, for tests to compare with the app's."""

    call_id: str
    channel_id: str | None
    caller: str
    did: str
    created_at: float
    app_answered_at: float | None = None
    answered_at: float | None = None  # bridged with an admin phone: talk starts
    ended_at: float | None = None
    caller_result: str | None = None
    hangup_by: str | None = None  # caller | app | phone
    bridged_with: list[str] = field(default_factory=list)
    playbacks: list[str] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    end_cause: int | None = None

    def to_json(self) -> dict[str, Any]:
        talk = None
        if self.answered_at is not None and self.ended_at is not None:
            talk = round(self.ended_at - self.answered_at, 3)
        return {
            "call_id": self.call_id,
            "channel_id": self.channel_id,
            "caller": self.caller,
            "did": self.did,
            "created_at": self.created_at,
            "app_answered_at": self.app_answered_at,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
            "caller_result": self.caller_result,
            "hangup_by": self.hangup_by,
            "bridged_with": list(self.bridged_with),
            "talk_seconds": talk,
            "playbacks": list(self.playbacks),
            "recordings": list(self.recordings),
            "end_cause": self.end_cause,
        }


@dataclass
class SimChannel:
    id: str
    name: str
    state: str
    protocol_id: str
    caller: m.CallerID
    connected: m.CallerID
    dialplan: m.DialplanCEP
    creationtime: str
    kind: str  # inbound | created
    app: str
    endpoint: str  # resource, e.g. admin101 or trunk
    in_stasis: bool = False
    bridge_id: str | None = None
    call: SimCall | None = None
    phone: Phone | None = None
    dialed: bool = False
    gone: bool = False
    variables: dict[str, str] = field(default_factory=dict)
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    playbacks: list[str] = field(default_factory=list)

    def snap(self) -> m.Channel:
        return m.Channel(
            id=self.id,
            name=self.name,
            state=self.state,
            protocol_id=self.protocol_id,
            caller=m.CallerID(self.caller.name, self.caller.number),
            connected=m.CallerID(self.connected.name, self.connected.number),
            accountcode="",
            dialplan=m.DialplanCEP(
                self.dialplan.context,
                self.dialplan.exten,
                self.dialplan.priority,
                self.dialplan.app_name,
                self.dialplan.app_data,
            ),
            creationtime=self.creationtime,
            language="en",
        )

    def cancel_timers(self) -> None:
        for handle in self.timers:
            handle.cancel()
        self.timers.clear()


@dataclass
class SimBridge:
    id: str
    bridge_type: str
    technology: str
    name: str
    creationtime: str
    app: str
    channels: list[str] = field(default_factory=list)
    recorder: str | None = None  # internal Recorder channel id while a recording runs
    recording: str | None = None
    left_by_hangup: bool = False

    def snap(self) -> m.Bridge:
        members = list(self.channels)
        if self.recorder and self.channels:
            members.append(self.recorder)
        return m.Bridge(
            id=self.id,
            technology=self.technology,
            bridge_type=self.bridge_type,
            bridge_class="stasis",
            creator="Stasis",
            name=self.name,
            channels=members,
            creationtime=self.creationtime,
            video_mode="talker",
        )


@dataclass
class SimRecording:
    name: str
    format: str
    target_uri: str
    app: str
    started: float
    state: str = "recording"
    duration: int | None = None

    def snap(self, state: str | None = None) -> m.LiveRecording:
        rec = m.LiveRecording(
            name=self.name, format=self.format, target_uri=self.target_uri, state=state or self.state
        )
        if self.duration is not None:
            rec.duration = self.duration
        return rec


@dataclass
class SimPlayback:
    id: str
    media_uri: str
    target_uri: str
    channel_id: str
    app: str
    state: str = "queued"
    timer: asyncio.TimerHandle | None = None

    def snap(self, state: str | None = None) -> m.Playback:
        return m.Playback(
            id=self.id,
            media_uri=self.media_uri,
            target_uri=self.target_uri,
            language="en",
            state=state or self.state,
        )
