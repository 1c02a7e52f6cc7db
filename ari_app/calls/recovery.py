"""What a fresh process makes of the calls an earlier one left open, from the database and Asterisk.

Pure: given a call's stored record and a snapshot of Asterisk (channels, bridges, whether its
recording is live), say what was found, for ``CallSession.resume`` to act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ari_app.ari import models as m
from ari_app.store.records import CallRecord, LegRecord

BRIDGE_NAME_PREFIX = "call-"


def call_name(call_id: str) -> str:
    """The name of a call's bridge and of its recording: how a restarted app finds them."""
    return f"{BRIDGE_NAME_PREFIX}{call_id}"


@dataclass(frozen=True)
class ResumedLeg:
    channel_id: str
    admin: str
    endpoint: str
    answered: bool  # the database says so, or the leg is Up on Asterisk
    answer_stored: bool = True  # the database knows of its answer (if it answered)


@dataclass(frozen=True)
class Resumed:
    legs: tuple[ResumedLeg, ...]  # the legs the database holds as not ended
    present: frozenset[str]  # those of them still on Asterisk
    inbound_present: bool
    winner: str | None  # the leg that answered, if one did
    answered_at: datetime | None
    bridge_id: str | None  # the call's bridge holding the caller, if any
    bridged: bool  # the caller and the winner are in that bridge together
    bridges: tuple[str, ...]  # every bridge of this call still on Asterisk
    recording_live: bool


@dataclass(frozen=True)
class Snapshot:
    app_channels: frozenset[str]
    channels: dict[str, m.Channel]
    bridges: dict[str, m.Bridge]
    boot: str | None  # Asterisk's startup time: changes when it restarts

    def bridges_of(self, call_id: str) -> list[m.Bridge]:
        name = call_name(call_id)
        return sorted((b for b in self.bridges.values() if b.name == name), key=lambda b: b.id)


def call_of_bridge(bridge: m.Bridge) -> str | None:
    """The call id a bridge was created for, from its name; None for bridges not ours."""
    if bridge.name.startswith(BRIDGE_NAME_PREFIX) and bridge.bridge_class == "stasis":
        return bridge.name[len(BRIDGE_NAME_PREFIX) :] or None
    return None


def assess(call: CallRecord, snap: Snapshot, *, recording_live: bool) -> Resumed:
    open_legs = [leg for leg in call.legs if leg.result is None]
    # A leg that is Up on Asterisk answered, whatever the database says: the process may have
    # died between the phone's 200 and writing it down (SIGKILL 0.4 ms after it, on a real PBX).
    up = {leg.id for leg in open_legs if (ch := snap.channels.get(leg.id)) is not None and ch.state == "Up"}
    legs = tuple(
        ResumedLeg(
            leg.id, leg.admin, leg.endpoint, leg.answered_at is not None or leg.id in up,
            answer_stored=leg.answered_at is not None,
        )
        for leg in open_legs
    )  # fmt: skip
    present = frozenset(leg.channel_id for leg in legs if leg.channel_id in snap.channels)
    winner = _winner(call, open_legs, up)
    ours = snap.bridges_of(call.id)
    # The mixing bridge the caller talks in (or was to be put through to): a caller on hold is
    # in the call's holding bridge meanwhile, which the answer from hold leaves.
    mixing = [b for b in ours if b.bridge_type == "mixing"]
    holding = [b for b in mixing if call.channel_id in b.channels]
    bridge = holding[0] if holding else (mixing[0] if mixing and winner else None)
    bridged = bool(bridge and winner and call.channel_id in bridge.channels and winner in bridge.channels)
    return Resumed(
        legs=legs,
        present=present,
        inbound_present=call.channel_id in snap.channels,
        winner=winner,
        answered_at=call.answered_at,
        bridge_id=bridge.id if bridge else None,
        bridged=bridged,
        bridges=tuple(b.id for b in ours),
        recording_live=recording_live,
    )


def _winner(call: CallRecord, open_legs: list[LegRecord], up: set[str]) -> str | None:
    """The leg that answered: one Up on Asterisk (the one the database knows of first), else the
    one the database says took the call."""
    if up:
        ranked = sorted(
            (leg for leg in open_legs if leg.id in up),
            key=lambda leg: (leg.admin != call.admin, leg.answered_at is None, leg.created_at),
        )
        return ranked[0].id
    if call.answered_at is not None:
        answered = [leg for leg in open_legs if leg.answered_at is not None and leg.admin == call.admin]
        return answered[0].id if answered else None
    return None


def synthetic_start(call: CallRecord, snap: Snapshot) -> m.StasisStart:
    """A StasisStart standing for the one a previous process received (to build a session)."""
    channel = snap.channels.get(call.channel_id)
    if channel is None:
        channel = m.Channel(
            id=call.channel_id,
            name="",
            state="Down",
            protocol_id="",
            caller=m.CallerID(call.caller_name or call.caller_number, call.caller_number),
            connected=m.CallerID(),
            accountcode="",
            dialplan=m.DialplanCEP("", call.did, 1, "Stasis", ""),
            creationtime=call.started_at.isoformat(),
            language="en",
        )
    return m.StasisStart(timestamp=channel.creationtime, application="", args=[call.did], channel=channel)
