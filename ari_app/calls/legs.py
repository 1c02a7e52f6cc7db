"""An admin leg of a call, and how its ending is classified."""

from __future__ import annotations

from dataclasses import dataclass

# Q.850 causes seen on a dialled leg's ChannelDestroyed / ChannelHangupRequest.
_BUSY = {17}
_NO_ANSWER = {18, 19}
_UNREACHABLE = {1, 3, 20, 27, 38}


@dataclass
class Leg:
    channel_id: str
    admin: str
    endpoint: str
    ring_timeout: int = 20  # seconds Asterisk lets it ring (its group's, from the wave)
    name: str = ""  # its channel's name, from its StasisStart (what the caller's BRIDGEPEER shows)
    created: bool = False  # the /channels/create reply arrived
    in_stasis: bool = False  # its StasisStart arrived
    dialed: bool = False
    ringing: bool = False
    answered: bool = False
    ended: bool = False
    failed: bool = False
    hangup_reason: str | None = None  # set when we hung it up, and why
    far_cause: int | None = None  # from a non-soft ChannelHangupRequest
    destroy_cause: int | None = None  # from ChannelDestroyed

    @property
    def cause(self) -> int | None:
        return self.destroy_cause if self.destroy_cause is not None else self.far_cause


def leg_result(leg: Leg, *, won: bool) -> str:
    """answered | lost | cancelled | engaged | no_answer | busy | unreachable | failed."""
    if won:
        return "answered"
    if leg.failed:
        return "failed"
    if leg.hangup_reason:
        return leg.hangup_reason
    cause = leg.far_cause if leg.far_cause is not None else leg.destroy_cause
    if cause in _BUSY or leg.destroy_cause in _BUSY:
        return "busy"
    if leg.destroy_cause in _NO_ANSWER or cause in _NO_ANSWER:
        return "no_answer"
    if cause in _UNREACHABLE:
        return "unreachable"
    return "no_answer" if leg.dialed else "failed"
