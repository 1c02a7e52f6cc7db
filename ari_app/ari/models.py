"""Typed ARI resources and events (Asterisk 22), shared by the client and the simulated PBX.

Field names, required fields and types follow Asterisk's own api-docs. Optional fields
default to UNSET so that encoding omits them, exactly as Asterisk omits absent keys
(for example ``ChannelHangupRequest`` without ``cause`` after a far-end BYE).
"""

from __future__ import annotations

from typing import Any, get_args

import msgspec
from msgspec import UNSET, Struct, UnsetType


class CallerID(Struct):
    name: str = ""
    number: str = ""


class DialplanCEP(Struct, omit_defaults=False):
    context: str
    exten: str
    priority: int
    app_name: str = ""
    app_data: str = ""


class Channel(Struct, omit_defaults=True):
    # Key order as Asterisk 22 sends it.
    id: str
    name: str
    state: str
    protocol_id: str
    caller: CallerID
    connected: CallerID
    accountcode: str
    dialplan: DialplanCEP
    creationtime: str
    language: str
    channelvars: dict[str, Any] | UnsetType = UNSET
    caller_rdnis: str | UnsetType = UNSET
    tenantid: str | UnsetType = UNSET


class Bridge(Struct, omit_defaults=True):
    id: str
    technology: str
    bridge_type: str
    bridge_class: str
    creator: str
    name: str
    channels: list[str]
    creationtime: str
    video_mode: str | UnsetType = UNSET
    video_source_id: str | UnsetType = UNSET
    bridgevars: dict[str, Any] | UnsetType = UNSET


class Playback(Struct, omit_defaults=True):
    id: str
    media_uri: str
    target_uri: str
    state: str
    next_media_uri: str | UnsetType = UNSET
    language: str | UnsetType = UNSET


class LiveRecording(Struct, omit_defaults=True):
    name: str
    format: str
    target_uri: str
    state: str
    duration: int | UnsetType = UNSET
    talking_duration: int | UnsetType = UNSET
    silence_duration: int | UnsetType = UNSET
    cause: str | UnsetType = UNSET


class StoredRecording(Struct):
    name: str
    format: str


class Application(Struct):
    name: str
    channel_ids: list[str]
    bridge_ids: list[str]
    endpoint_ids: list[str]
    device_names: list[str]
    events_allowed: list[Any]
    events_disallowed: list[Any]


class Endpoint(Struct, omit_defaults=True):
    technology: str
    resource: str
    channel_ids: list[str]
    state: str | UnsetType = UNSET


class Variable(Struct):
    value: str


class AdditionalParam(Struct):
    parameter_name: str
    parameter_value: str


class RequiredDestination(Struct, omit_defaults=True):
    """What a REFER asked for: ``destination`` (blind) or ``protocol_id`` (attended: a Call-ID)."""

    destination: str | UnsetType = UNSET
    protocol_id: str | UnsetType = UNSET
    additional_protocol_params: list[AdditionalParam] | UnsetType = UNSET


class ReferTo(Struct, omit_defaults=True):
    requested_destination: RequiredDestination
    destination_channel: Channel | UnsetType = UNSET
    connected_channel: Channel | UnsetType = UNSET
    bridge: Bridge | UnsetType = UNSET


class ReferredBy(Struct, omit_defaults=True):
    source_channel: Channel
    connected_channel: Channel | UnsetType = UNSET
    bridge: Bridge | UnsetType = UNSET


# --------------------------------------------------------------------------- events


class Event(Struct, tag_field="type", omit_defaults=True, kw_only=True):
    """Base of every websocket message. ``type`` is the tag."""

    timestamp: str
    application: str
    asterisk_id: str | UnsetType = UNSET


class StasisStart(Event, tag=True):
    args: list[str]
    channel: Channel
    replace_channel: Channel | UnsetType = UNSET


class StasisEnd(Event, tag=True):
    channel: Channel


class ChannelCreated(Event, tag=True):
    channel: Channel


class ChannelDestroyed(Event, tag=True):
    cause: int
    cause_txt: str
    channel: Channel
    tech_cause: int | UnsetType = UNSET


class ChannelStateChange(Event, tag=True):
    channel: Channel


class ChannelDialplan(Event, tag=True):
    channel: Channel
    dialplan_app: str
    dialplan_app_data: str


class ChannelVarset(Event, tag=True):
    variable: str
    value: str
    channel: Channel | UnsetType = UNSET


class ChannelConnectedLine(Event, tag=True):
    channel: Channel


class ChannelCallerId(Event, tag=True):
    caller_presentation: int
    caller_presentation_txt: str
    channel: Channel


class ChannelHangupRequest(Event, tag=True):
    channel: Channel
    cause: int | UnsetType = UNSET
    tech_cause: int | UnsetType = UNSET
    soft: bool | UnsetType = UNSET


class ChannelEnteredBridge(Event, tag=True):
    bridge: Bridge
    channel: Channel | UnsetType = UNSET


class ChannelLeftBridge(Event, tag=True):
    bridge: Bridge
    channel: Channel


class ChannelDtmfReceived(Event, tag=True):
    digit: str
    duration_ms: int
    channel: Channel


class ChannelHold(Event, tag=True):
    channel: Channel
    musicclass: str | UnsetType = UNSET


class ChannelUnhold(Event, tag=True):
    channel: Channel


class ChannelTransfer(Event, tag=True):
    """A REFER on a channel whose ``PJSIP_TRANSFER_HANDLING()`` is ``ari-only``: the app does the
    transfer. ``state`` is absent on the first one; each ``transfer_progress`` sends another."""

    refer_to: ReferTo
    referred_by: ReferredBy
    state: str | UnsetType = UNSET


class BridgeCreated(Event, tag=True):
    bridge: Bridge


class BridgeDestroyed(Event, tag=True):
    bridge: Bridge


class BridgeBlindTransfer(Event, tag=True):
    channel: Channel
    exten: str
    context: str
    result: str
    is_external: bool
    transferee: Channel | UnsetType = UNSET
    replace_channel: Channel | UnsetType = UNSET
    bridge: Bridge | UnsetType = UNSET


class BridgeAttendedTransfer(Event, tag=True):
    transferer_first_leg: Channel
    transferer_second_leg: Channel
    result: str
    is_external: bool
    destination_type: str
    replace_channel: Channel | UnsetType = UNSET
    transferee: Channel | UnsetType = UNSET
    transfer_target: Channel | UnsetType = UNSET
    transferer_first_leg_bridge: Bridge | UnsetType = UNSET
    transferer_second_leg_bridge: Bridge | UnsetType = UNSET
    destination_bridge: str | UnsetType = UNSET
    destination_application: str | UnsetType = UNSET
    destination_link_first_leg: Channel | UnsetType = UNSET
    destination_link_second_leg: Channel | UnsetType = UNSET
    destination_threeway_channel: Channel | UnsetType = UNSET
    destination_threeway_bridge: Bridge | UnsetType = UNSET


class Dial(Event, tag=True):
    peer: Channel
    dialstatus: str
    caller: Channel | UnsetType = UNSET
    forward: str | UnsetType = UNSET
    forwarded: Channel | UnsetType = UNSET
    dialstring: str | UnsetType = UNSET


class PlaybackStarted(Event, tag=True):
    playback: Playback


class PlaybackContinuing(Event, tag=True):
    playback: Playback


class PlaybackFinished(Event, tag=True):
    playback: Playback


class RecordingStarted(Event, tag=True):
    recording: LiveRecording


class RecordingFinished(Event, tag=True):
    recording: LiveRecording


class RecordingFailed(Event, tag=True):
    recording: LiveRecording


class EndpointStateChange(Event, tag=True):
    endpoint: Endpoint


class ApplicationReplaced(Event, tag=True):
    pass


AnyEvent = (
    StasisStart
    | StasisEnd
    | ChannelCreated
    | ChannelDestroyed
    | ChannelStateChange
    | ChannelDialplan
    | ChannelVarset
    | ChannelConnectedLine
    | ChannelCallerId
    | ChannelHangupRequest
    | ChannelEnteredBridge
    | ChannelLeftBridge
    | ChannelDtmfReceived
    | ChannelHold
    | ChannelUnhold
    | ChannelTransfer
    | BridgeCreated
    | BridgeDestroyed
    | BridgeBlindTransfer
    | BridgeAttendedTransfer
    | Dial
    | PlaybackStarted
    | PlaybackContinuing
    | PlaybackFinished
    | RecordingStarted
    | RecordingFinished
    | RecordingFailed
    | EndpointStateChange
    | ApplicationReplaced
)

EVENT_TYPES: dict[str, type[Event]] = {cls.__name__: cls for cls in get_args(AnyEvent)}


class MalformedEvent(ValueError):
    """A websocket frame that is not a valid ARI event; the message names what is wrong."""


class UnknownEvent(ValueError):
    """A well-formed message of a type this application does not handle."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown ARI event type {event_type!r}")
        self.event_type = event_type


class _Envelope(Struct):
    type: str


_envelope_decoder = msgspec.json.Decoder(_Envelope)
_event_decoder = msgspec.json.Decoder(AnyEvent)
_encoder = msgspec.json.Encoder()


def parse_event(frame: bytes | str) -> Event:
    """Decode one websocket frame into its typed event.

    Raises ``UnknownEvent`` for a well-formed message of an unhandled type and
    ``MalformedEvent`` (naming the field at fault) for anything else.
    """
    try:
        envelope = _envelope_decoder.decode(frame)
    except msgspec.DecodeError as exc:
        raise MalformedEvent(f"not an ARI message: {exc}") from None
    if envelope.type not in EVENT_TYPES:
        raise UnknownEvent(envelope.type)
    try:
        event: Event = _event_decoder.decode(frame)
    except msgspec.DecodeError as exc:
        raise MalformedEvent(f"{envelope.type}: {exc}") from None
    return event


def encode(obj: Any) -> bytes:
    """Encode a model (or list of models) to JSON bytes as Asterisk would send it."""
    return _encoder.encode(obj)


def decode(data: bytes | str, model: type[Any]) -> Any:
    """Decode a REST response body into ``model``; raises ``msgspec.DecodeError``."""
    return msgspec.json.decode(data, type=model)


def to_builtins(obj: Any) -> Any:
    return msgspec.to_builtins(obj)
