"""What a call session asks for (commands) and what it is told back (inputs besides ARI events).

Commands are executed by the runner (ARI), the switchboard (timers) and the front desk (routing);
what the session learned are facts (``ari_app.facts.types``). All are plain frozen dataclasses,
so the state machine stays pure and its tests are tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ari_app.facts.types import Fact
from ari_app.people.identity import CallerIdentity

# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Ring:
    channel_id: str


@dataclass(frozen=True)
class Answer:
    channel_id: str


@dataclass(frozen=True)
class CreateLeg:
    channel_id: str  # chosen by us (channelId=), so events never outrun what we know
    endpoint: str
    originator: str
    app_args: tuple[str, ...]
    variables: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Dial:
    channel_id: str
    caller: str
    timeout: int


@dataclass(frozen=True)
class CreateBridge:
    bridge_id: str
    name: str = ""  # "call-<call id>": tells a restarted app which call a bridge was for
    kind: str = "mixing"  # or "holding": a waiting caller hears music on hold there


@dataclass(frozen=True)
class RemoveFromBridge:
    bridge_id: str
    channel_id: str


@dataclass(frozen=True)
class StartBridgeMoh:
    bridge_id: str
    moh_class: str = "default"


@dataclass(frozen=True)
class StartMoh:
    channel_id: str
    moh_class: str = "default"


@dataclass(frozen=True)
class StopMoh:
    channel_id: str


@dataclass(frozen=True)
class StopPlayback:
    playback_id: str


@dataclass(frozen=True)
class TransferProgress:
    """Tell a phone how the transfer it asked for (SIP REFER) went: a NOTIFY to it."""

    channel_id: str
    states: str  # channel_progress | channel_answered | channel_declined | ...


@dataclass(frozen=True)
class AddToBridge:
    bridge_id: str
    channel_ids: tuple[str, ...]


@dataclass(frozen=True)
class RecordBridge:
    bridge_id: str
    name: str
    fmt: str = "wav"


@dataclass(frozen=True)
class Play:
    channel_id: str
    playback_id: str
    media: str


@dataclass(frozen=True)
class Hangup:
    channel_id: str
    reason: str | None = None


@dataclass(frozen=True)
class DestroyBridge:
    bridge_id: str


@dataclass(frozen=True)
class StartTimer:
    name: str
    seconds: float


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class CollectRecording:
    """Fetch a finished recording through ARI, check it, archive it, delete it on Asterisk."""

    call_id: str
    name: str
    fmt: str
    reported_seconds: float | None
    started_at: datetime | None = None  # the call's start: the archive folder is its UTC date


# ----------------------------------------------------------------- asked of the switchboard


@dataclass(frozen=True)
class SeekAdmin:
    """Ask for the call's next wave of admins; answered with ``WaveOffered``.

    Every ask carries all the decision needs; the first starts the call's search; ``reset`` starts a new round
    (admins already rung may be rung again); ``widen`` adds the overflow groups first.
    ``transfer_to``: ("admin", login) or ("group", id): the search is for that target only.
    ``beside``: a wave is ringing; offer only the overflow groups, to ring alongside it.
    """

    call_id: str
    groups: tuple[str, ...] = ()  # offered first
    overflow: tuple[str, ...] = ()  # joined after overflow_after, or at once with ``widen``
    topic: str | None = None
    skill: str | None = None  # the topic's: its admins first
    preferred: str | None = None  # the admin who last talked with this caller
    reset: bool = False
    widen: bool = False
    transfer_to: tuple[str, str] | None = None
    beside: bool = False


@dataclass(frozen=True)
class Widen:
    """Add the overflow groups to the call's search, for its next wave."""

    call_id: str


@dataclass(frozen=True)
class StopSeeking:
    """The call no longer looks for an admin (connected, given up, or ended)."""

    call_id: str


@dataclass(frozen=True)
class AnnounceQueue:
    """Tell a waiting caller their position or expected wait (the switchboard knows both)."""

    call_id: str
    channel_id: str
    kind: str  # "position" | "wait"
    playback_id: str


# Who executes what: the runner (through ARI; CollectRecording hands a finished recording to the
# collector), the switchboard (the call's timers), the front desk (routing).
AriCommand = (
    Ring
    | Answer
    | CreateLeg
    | Dial
    | CreateBridge
    | RemoveFromBridge
    | StartBridgeMoh
    | StartMoh
    | StopMoh
    | StopPlayback
    | TransferProgress
    | AddToBridge
    | RecordBridge
    | Play
    | Hangup
    | DestroyBridge
    | CollectRecording
)
TimerCommand = StartTimer | CancelTimer
DeskCommand = SeekAdmin | Widen | StopSeeking | AnnounceQueue
Command = AriCommand | TimerCommand | DeskCommand
TIMER_COMMANDS = (StartTimer, CancelTimer)
DESK_COMMANDS = (SeekAdmin, Widen, StopSeeking, AnnounceQueue)

# ------------------------------------------------------------- inputs besides ARI events


@dataclass(frozen=True)
class TimerFired:
    name: str


@dataclass(frozen=True)
class CommandDone:
    command: Command


@dataclass(frozen=True)
class CommandFailed:
    command: Command
    status: int | None  # HTTP status, None when Asterisk could not be reached
    detail: str

    @property
    def gone(self) -> bool:
        """The channel or bridge already went away, a normal race with a hang-up: 404; or, from
        addChannel and removeChannel, 400 "Channel not found" and 422 "Channel not in Stasis
        application" (resource_bridges.c answers those for a channel that hung up or left)."""
        if isinstance(self.command, (AddToBridge, RemoveFromBridge)) and self.status in (400, 422):
            return True
        return self.status == 404


@dataclass(frozen=True)
class BridgeSeen:
    """A resync read one of the call's bridges: who is in it now, or was in it together with the
    one still there (its enter events may have gone by while no events were received)."""

    bridge_id: str
    channels: tuple[str, ...]


@dataclass(frozen=True)
class ChannelVanished:
    """A resync found this channel (or bridge) gone while events were not being received."""

    channel_id: str


@dataclass(frozen=True)
class PbxRestarted:
    """Asterisk restarted while we were disconnected: every channel and bridge of the call is gone."""


@dataclass(frozen=True)
class AdminEngaged:
    """Another call connected this admin: stop ringing them for this one."""

    admin: str


@dataclass(frozen=True)
class WaveOffered:
    """The switchboard's answer to ``SeekAdmin``: whom to ring now, or why nobody."""

    targets: tuple[tuple[str, str], ...]  # (admin login, endpoint)
    ring_timeout: int = 20
    reason: str | None = None  # no_admins | nobody_logged_in | all_busy | all_tried


@dataclass(frozen=True)
class AdminFree:
    """An admin this waiting call may have became free: ask for a wave again."""


@dataclass(frozen=True)
class TransferRequested:
    """An admin asks to hand the connected caller to another admin or a group."""

    to: tuple[str, str] | None  # ("admin", login) | ("group", id); None: no such target
    by: str
    phone_channel: str | None = None  # the admin's phone asked (SIP REFER) on this channel


@dataclass(frozen=True)
class CallerKnown:
    """The directories' answer for the caller's number (``UNKNOWN`` when slow or failing)."""

    identity: CallerIdentity


@dataclass
class Step:
    commands: list[Command] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)

    def by_executor(self) -> tuple[list[AriCommand], list[TimerCommand], list[DeskCommand]]:
        """The commands split by who executes them, each list in the step's order."""
        ari: list[AriCommand] = []
        timers: list[TimerCommand] = []
        desk: list[DeskCommand] = []
        for cmd in self.commands:
            if isinstance(cmd, TIMER_COMMANDS):
                timers.append(cmd)
            elif isinstance(cmd, DESK_COMMANDS):
                desk.append(cmd)
            else:
                ari.append(cmd)
        return ari, timers, desk
