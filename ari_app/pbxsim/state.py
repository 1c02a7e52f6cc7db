"""The simulated world's objects: phones, calls, channels, bridges, playbacks and recordings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ari_app.ari import models as m

BYE_AFTER_REFER = 0.2  # simulated seconds; the recorded SIPp phone paused 200 ms


class SimError(Exception):
    """An ARI error response: status and Asterisk's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Phone:
    """An admin phone behind ``PJSIP/<name>``: what its user does when it rings."""

    name: str
    # answer | no_answer | busy | offline (= not registered) | random (each call draws one, see
    # dialing.phone_acts: for soaks)
    behaviour: str = "no_answer"
    answer_after: float = 1.0
    hangup_after: float | None = None  # the admin hangs up this long after answering
    caller_name: str = ""
    caller_number: str = ""
    context: str = "admins"
    online_behaviour: str = ""  # what it does when registered; kept while it is offline
    allow_transfer: bool = True  # the endpoint's allow_transfer: False answers a REFER 603
    bye_after_refer: float = BYE_AFTER_REFER  # it hangs up this long after its REFER's final NOTIFY
    # What the phone was shown, one entry per INVITE that reached it (see dialing.Pbx.invite).
    invites: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.online_behaviour:
            self.online_behaviour = "no_answer" if self.behaviour == "offline" else self.behaviour

    @property
    def registered(self) -> bool:
        return self.behaviour != "offline"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "behaviour": self.behaviour,
            "registered": self.registered,
            "answer_after": self.answer_after,
            "hangup_after": self.hangup_after,
            "caller_name": self.caller_name,
            "caller_number": self.caller_number,
            "context": self.context,
            "allow_transfer": self.allow_transfer,
            "bye_after_refer": self.bye_after_refer,
            "invites": [dict(i) for i in self.invites],
        }


@dataclass(frozen=True)
class PhoneScript:
    """What the person at one phone does when one particular call rings it (the control API's
    per-call ``phones``): calls in progress keep their own script whatever later calls set."""

    behaviour: str  # answer | no_answer | busy
    answer_after: float = 1.0
    hangup_after: float | None = None


@dataclass
class SimCall:
    """The simulator's own record of one inbound call, for tests to compare with the app's."""

    call_id: str
    channel_id: str | None
    caller: str
    did: str
    app: str
    created_at: float
    app_answered_at: float | None = None  # the app answered the caller's channel
    answered_at: float | None = None  # bridged with an admin phone: talk starts
    talk_started: float | None = None  # monotonic, for talk_seconds in simulated time
    talk_seconds: float | None = None
    ended_at: float | None = None
    caller_result: str | None = None
    sip_final: str | None = None  # what the caller's SIP dialog ended with
    hangup_by: str | None = None  # caller | app | phone | restart
    end_cause: int | None = None
    bridged_with: list[str] = field(default_factory=list)
    playbacks: list[str] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    dtmf: list[str] = field(default_factory=list)
    phone_scripts: dict[str, PhoneScript] = field(default_factory=dict)  # phone name -> its script
    press: tuple[str, float] | None = None  # keys the caller presses, so long after being answered
    abandon_on_answer: float | None = None  # the caller hangs up so long after a phone answers
    fallback: bool = False  # Stasis() failed and the dialplan's [fallback] context took the call

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "channel_id": self.channel_id,
            "caller": self.caller,
            "did": self.did,
            "app": self.app,
            "created_at": self.created_at,
            "app_answered_at": self.app_answered_at,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
            "caller_result": self.caller_result,
            "sip_final": self.sip_final,
            "hangup_by": self.hangup_by,
            "end_cause": self.end_cause,
            "bridged_with": list(self.bridged_with),
            "talk_seconds": self.talk_seconds,
            "playbacks": list(self.playbacks),
            "recordings": list(self.recordings),
            "dtmf": list(self.dtmf),
            "fallback": self.fallback,
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
    kind: str  # inbound (trunk, dialplan) | created (/channels/create) | originated (POST /channels)
    app: str
    endpoint: str  # resource, e.g. admin101 or trunk
    language: str = "en"
    in_stasis: bool = False
    bridge_id: str | None = None
    call: SimCall | None = None
    phone: Phone | None = None
    script: PhoneScript | None = None  # the call's own script for this phone, if it has one
    origin: str | None = None  # the channel it was made for (its originator), if any
    dialed: bool = False
    media: bool = False  # RTP is flowing (answered or early media): hangups report QoS
    ending: bool = False
    hangup_cause: int = 16  # set by DELETE ?reason=; Normal Clearing by default
    variables: dict[str, str] = field(default_factory=dict)
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    playbacks: list[str] = field(default_factory=list)  # queued; the first one plays
    ari_transfers: bool = False  # PJSIP_TRANSFER_HANDLING() is ari-only: a REFER goes to the app
    hooks: int = 0  # framehooks attached (a REFER handed to the app): no native RTP bridging
    # The connected line's private party (CONNECTEDLINE(priv-name), (priv-num)), None = not set.
    # Never in a snapshot nor an event; where set, it wins over ``connected`` in what a PJSIP
    # INVITE presents (ast_channel_connected_effective_id), and a dial's caller= leaves it.
    connected_priv_name: str | None = None
    connected_priv_number: str | None = None
    # The app's subscriptions to the channel besides its Stasis() own (res/stasis/app.c counts
    # them): /channels/create and originate subscribe the app to the channel they make and to
    # its originator (resource_channels.c); a blind transfer's swap drops one of the
    # transferer's. Stasis() takes its own away at StasisEnd: after it the app hears of the
    # channel (the hang-up's tail, ChannelDestroyed) only while one of these is left.
    subs: int = 0

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
            language=self.language,
        )

    def cancel_timers(self) -> None:
        for handle in self.timers:
            handle.cancel()
        self.timers.clear()


@dataclass
class SimTransfer:
    """One REFER a phone sent, and what became of it (GET /control/transfers)."""

    id: str
    phone: str
    channel_id: str  # the transferer: the phone's call leg the REFER came in on
    to: str  # Refer-To's user part
    handling: str  # core | ari-only
    sip_response: int = 202  # 202 accepted; 603 transfers not allowed; 404 no such extension; 400
    notifies: list[str] = field(default_factory=list)  # sipfrags of the NOTIFYs the phone got
    state: str = "pending"  # pending | done | refused | ended (the transferer went first)
    context: str = ""
    route: str = ""  # core: dial (a phone) | unavailable (no such endpoint) | stasis (;2 to the app)
    target: str | None = None  # core: the phone Local;2 dials
    target_state: str | None = None  # ringing | answered | failed | ended
    local_id: str | None = None  # core: Local/<to>@<context>-n;1, swapped into the bridge
    local2_id: str | None = None  # core, route stasis: the ;2 half in the app
    ari_states: list[str] = field(default_factory=list)  # ari-only: transfer_progress states
    bye_sent: bool = False  # the phone hung up its call after the final NOTIFY

    def to_json(self) -> dict[str, Any]:
        return {
            "transfer_id": self.id,
            "phone": self.phone,
            "channel_id": self.channel_id,
            "to": self.to,
            "handling": self.handling,
            "sip_response": self.sip_response,
            "notifies": list(self.notifies),
            "state": self.state,
            "context": self.context,
            "route": self.route or None,
            "target": self.target,
            "target_state": self.target_state,
            "local_channel_id": self.local_id,
            "local2_channel_id": self.local2_id,
            "ari_states": list(self.ari_states),
            "bye_sent": self.bye_sent,
        }


@dataclass
class SimBridge:
    id: str
    bridge_type: str  # mixing | holding
    technology: str
    name: str
    creationtime: str
    channels: list[str] = field(default_factory=list)  # real channels, in the order they joined
    subs: dict[str, int] = field(default_factory=dict)  # app -> bridge subscriptions held
    recorder: tuple[str, str] | None = None  # (id, name) of the Recorder channel while recording
    recording: str | None = None
    announcer: str | None = None  # the Announcer channel used for bridge playbacks
    moh: str | None = None  # the MOH Announcer channel while music plays
    native: bool = True  # dtmf_events/proxy_media bridges never go native_rtp
    playbacks: list[str] = field(default_factory=list)
    tech_timer: asyncio.TimerHandle | None = None

    def snap(self, show_recorder: bool = True) -> m.Bridge:
        members = list(self.channels)
        if show_recorder and self.recorder is not None:
            members.append(self.recorder[0])
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

    def apps(self) -> list[str]:
        return [app for app, n in self.subs.items() if n > 0]


@dataclass
class SimRecording:
    name: str
    format: str
    target_uri: str
    bridge_id: str
    started: float  # monotonic
    append: bool = False  # ifExists=append: add to what the stored file already holds
    state: str = "recording"
    duration: int | None = None
    timer: asyncio.TimerHandle | None = None

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
    media: list[str]
    target_uri: str
    language: str
    apps: list[str]
    index: int = 0
    state: str = "queued"
    timer: asyncio.TimerHandle | None = None

    def snap(self) -> m.Playback:
        pb = m.Playback(
            id=self.id,
            media_uri=self.media[self.index],
            target_uri=self.target_uri,
            state=self.state,
            language=self.language,
        )
        if self.index < len(self.media) - 1:
            pb.next_media_uri = self.media[self.index + 1]
        return pb
