"""A phone's blind transfer (SIP REFER), as Asterisk 22.10.1 runs it (res/res_pjsip_refer.c,
main/bridge.c ``ast_bridge_transfer_blind``, main/stasis_channels.c, res/res_stasis.c), checked
against a recording made with SIPp phones: an admin phone bridged with a caller in the app's
mixing bridge sends ``REFER`` with ``Refer-To: <sip:102@...>``.

- ``allow_transfer`` off on the endpoint (phone setting ``allow_transfer: false``): 603 Decline,
  nothing on ARI.
- ``PJSIP_TRANSFER_HANDLING()`` = ``ari-only`` on the transferer's channel: 202, a NOTIFY
  ``100 Trying``, and ChannelTransfer (no ``state``) to the app: ``refer_to.requested_destination
  .destination``, ``referred_by.source_channel`` and, while the transferer is in a bridge, that
  ``bridge`` and (two parties) the ``connected_channel``. The app transfers by itself and reports
  with ``POST /channels/{id}/transfer_progress?states=``: each state is a NOTIFY and another
  ChannelTransfer with ``state`` (``channel_unavailable`` is published as ``channel_declined``,
  as state2str() has it); a final one (anything but ``channel_progress``) ends the REFER and the
  phone hangs up ``bye_after_refer`` later. The REFER's framehook keeps the bridge off
  native_rtp meanwhile: it drops to simple_bridge at once and sets BRIDGEPEER again.
- Otherwise (``core``): the Refer-To user part must exist in the transferer's context
  (``TRANSFER_CONTEXT`` or the phone's) or the REFER gets 404 and nothing happens. The Stasis
  bridge transfers by swapping a Local channel in for the transferer: ChannelUnhold,
  BLINDTRANSFER on the members, StasisStart of ``Local/<to>@<context>-n;1`` (``args: []``,
  ``replace_channel``: the transferer), the transferer's ChannelLeftBridge and the Local's
  ChannelEnteredBridge (one swap: the technology moves only after it), its ChannelConnectedLine,
  BridgeBlindTransfer (the bridge and the transferee as they were before). NOTIFY 100 and 200
  go to the phone at once; it hangs up ``bye_after_refer`` later. The transferer stays in Stasis
  outside any bridge until then; the swap-in StasisStart took one of the app's subscriptions to
  it, so its StasisEnd is the last event the app gets of it (no ChannelDestroyed), as of the
  Local channels.

The Local ``;2`` half runs the recorded ``admins`` dialplan, which the model applies in any
context: a ``to`` naming a phone (``admin<to>``, or a phone whose name ends with ``to``) is
``Dial(PJSIP/<phone>)`` (``_1XX``); another ``_1XX`` dials an endpoint that does not exist;
other digits (``_X.``) run ``Stasis(<app>,transfer,<to>)`` on ``;2``; anything else does not
exist. The dialled leg never shows in ARI (nor in ``GET /channels``); ``;1`` reflects it: the
callee's identity (its caller id, or ``to`` when it has none) as ``;1``'s ChannelCallerId and the
caller's ChannelConnectedLine, ``Ringing`` and the bridge's ``Dial RINGING``, then ``Up`` and
``Dial ANSWER``. When ``;2``'s Dial() ends (busy: 17, unknown endpoint: 3, no answer to the
INVITE: 18 after SIP timer B, the callee hanging up: 16) ``;1`` gets ``CHANLOCALSTATUS`` (the
DIALSTATUS) and a ChannelHangupRequest with that cause and leaves. With ``;2`` in the app, each
half's hang-up hangs up the other (``cause`` its own).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ari_app.ari import models as m
from ari_app.pbxsim.ids import timestamp
from ari_app.pbxsim.lifecycle import ONE_TO_ONE, Lifecycle
from ari_app.pbxsim.state import BYE_AFTER_REFER, Phone, SimBridge, SimChannel, SimError, SimTransfer

TIMER_B = 32.0  # SIP gives up on an INVITE nobody answers (64 x T1)
# transfer_progress ``states``: ChannelTransfer's ``state`` (state2str), the NOTIFY's sipfrag
# (refer_ari_progress_framehook), and whether it ends the REFER.
PROGRESS_STATES: dict[str, tuple[str, str, bool]] = {
    "channel_progress": ("channel_progress", "100 Trying", False),
    "channel_answered": ("channel_answered", "200 OK", True),
    "channel_unavailable": ("channel_declined", "503 Service Unavailable", True),
    "channel_declined": ("channel_declined", "603 Decline", True),
}
# Orders seen as the Local channel starts ringing: its ChannelCallerId, the caller's
# ChannelConnectedLine, its Ringing state, then the bridge's Dial RINGING.
RING_ORDERS = (("callerid", "connected", "state", "dial"), ("connected", "state", "callerid", "dial"))
PRESENTATION = "Presentation Allowed, Not Screened"


class Transfers(Lifecycle):
    def __init__(self, *, seed: int, time_scale: float = 1.0, recordings_dir: Path) -> None:
        super().__init__(seed=seed, time_scale=time_scale, recordings_dir=recordings_dir)
        self.transfers: dict[str, SimTransfer] = {}

    # ------------------------------------------------------------------ the REFER
    def refer(self, phone_name: str, to: str) -> SimTransfer:
        """The phone's user transfers its call (the latest one that is up) to ``to``."""
        phone = self.phones.get(phone_name)
        if phone is None:
            raise SimError(404, "no such phone")
        legs = [
            c
            for c in self.channels.values()
            if c.endpoint == phone_name and c.kind != "local" and c.state == "Up" and not c.ending
        ]
        if not legs:
            raise SimError(409, "the phone has no call up to transfer")
        ch = legs[-1]
        tr = SimTransfer(
            id=f"xfer-{len(self.transfers) + 1}", phone=phone_name, channel_id=ch.id, to=to,
            handling="ari-only" if ch.ari_transfers else "core",
        )  # fmt: skip
        self.transfers[tr.id] = tr
        if not phone.allow_transfer:
            tr.sip_response, tr.state = 603, "refused"  # "transfer attempt blocked": no event
        elif ch.ari_transfers:
            self._ari_refer(tr, ch)
        else:
            self._blind_refer(tr, ch, phone)
        return tr

    def _schedule_bye(self, tr: SimTransfer, ch: SimChannel) -> None:
        """The phone got the REFER's final NOTIFY: its user's call is done, it sends BYE."""
        phone = self.phones.get(tr.phone)
        delay = phone.bye_after_refer if phone is not None else BYE_AFTER_REFER

        def bye() -> None:
            if ch.id in self.channels and not ch.ending:
                tr.bye_sent = True
                self.end_channel(ch, "bye", by="phone")

        self.later(delay, bye, owner=ch)

    # ------------------------------------------------------------------ ari-only
    def _ari_refer(self, tr: SimTransfer, ch: SimChannel) -> None:
        tr.notifies.append("100 Trying")
        ch.hooks += 1  # refer_ari_progress_framehook
        self.emit(ch.app, m.ChannelTransfer, refer_to=self._refer_to(tr), referred_by=self._referred_by(ch))
        bridge = self.bridges.get(ch.bridge_id or "")
        if bridge is not None:
            self._reconfigure(bridge, rounds=3 if bridge.technology == "native_rtp" else 1)

    def transfer_progress(self, ch: SimChannel, states: str) -> None:
        """``POST /channels/{id}/transfer_progress``: an AST_CONTROL_TRANSFER indication. Only a
        REFER still waiting (its framehook) hears it: otherwise nothing happens (still 204)."""
        if not states:
            raise SimError(400, "states must not be empty")
        spec = PROGRESS_STATES.get(states.lower())  # strcasecmp
        if spec is None:
            raise SimError(400, "Invalid states value")
        state, sipfrag, final = spec
        pending = [
            t
            for t in self.transfers.values()
            if t.channel_id == ch.id and t.handling == "ari-only" and t.state == "pending"
        ]
        for tr in pending:
            tr.ari_states.append(states.lower())
            tr.notifies.append(sipfrag)
            self.emit(ch.app, m.ChannelTransfer, refer_to=self._refer_to(tr),
                      referred_by=self._referred_by(ch), state=state)  # fmt: skip
            if final:
                # The subscription is terminated and the framehook detached (its destroy
                # callback's 503 finds no subscription left: no NOTIFY, no event).
                tr.state = "done"
                ch.hooks = max(0, ch.hooks - 1)
                bridge = self.bridges.get(ch.bridge_id or "")
                if bridge is not None:
                    self._reconfigure(bridge, rounds=1)
                self._schedule_bye(tr, ch)

    def _refer_to(self, tr: SimTransfer) -> m.ReferTo:
        return m.ReferTo(requested_destination=m.RequiredDestination(destination=tr.to))

    def _referred_by(self, ch: SimChannel) -> m.ReferredBy:
        """ast_refer_notify_transfer_request: the transferer, its bridge and bridge peer now."""
        bridge = self.bridges.get(ch.bridge_id or "")
        if bridge is None:
            return m.ReferredBy(source_channel=ch.snap())
        peer = self._bridge_peer(ch, bridge)
        if peer is None:
            return m.ReferredBy(source_channel=ch.snap(), bridge=bridge.snap())
        return m.ReferredBy(source_channel=ch.snap(), connected_channel=peer.snap(), bridge=bridge.snap())

    def _bridge_peer(self, ch: SimChannel, bridge: SimBridge) -> SimChannel | None:
        """ast_bridge_peer: the other one of a two-party bridge with a one-to-one technology."""
        if bridge.technology not in ONE_TO_ONE or self._size(bridge) != 2:
            return None
        others = [c for c in self._members(bridge) if c is not ch]
        return others[0] if len(others) == 1 else None

    def _reconfigure(self, bridge: SimBridge, *, rounds: int) -> None:
        """A leg's framehooks changed: the bridge is evaluated again and sets its peers' variables."""
        if bridge.bridge_type == "mixing" and self._size(bridge) >= 2:
            self.set_peers(bridge, rounds=rounds)
        self.retech(bridge)

    # ------------------------------------------------------------------ core: blind transfer
    def _route(self, to: str) -> tuple[str, str | None] | None:
        """Where ``to`` goes in the recorded ``admins`` dialplan; None: no such extension."""
        phone = self._phone_for(to)
        if phone is not None:
            return "dial", phone
        if re.fullmatch(r"1\d\d", to):
            return "unavailable", f"admin{to}"  # _1XX: Dial(PJSIP/admin${EXTEN}), no such endpoint
        if re.fullmatch(r"\d.+", to):
            return "stasis", None  # _X.: Stasis(<app>,transfer,${EXTEN})
        return None

    def _phone_for(self, to: str) -> str | None:
        if not to:
            return None
        if f"admin{to}" in self.phones:
            return f"admin{to}"
        return next((n for n in sorted(self.phones) if n != "trunk" and n.endswith(to)), None)

    def _blind_refer(self, tr: SimTransfer, ch: SimChannel, phone: Phone) -> None:
        tr.context = ch.variables.get("TRANSFER_CONTEXT") or phone.context
        route = self._route(tr.to)
        if route is None:
            tr.sip_response, tr.state = 404, "refused"  # the target does not exist: no event
            return
        tr.route, tr.target = route
        bridge = self.bridges.get(ch.bridge_id or "")
        if bridge is None:
            self._publish_blind(tr, ch, None, "Invalid")  # not bridged: 400, the call goes on
            tr.sip_response, tr.state = 400, "refused"
            return
        before = bridge.snap()
        transferee = self._bridge_peer(ch, bridge)
        transferee_snap = transferee.snap() if transferee is not None else None
        self.emit(ch.app, m.ChannelUnhold, channel=ch.snap())  # "Take off hold if they are on hold"
        others = [c for c in self._members(bridge) if c is not ch]
        if not others and bridge.recorder is None:
            self._publish_blind(tr, ch, bridge, "Invalid", bridge_snap=before)
            tr.sip_response, tr.state = 400, "refused"
            return
        # set_transfer_variables_all: the transferer gets its BRIDGEPEER, the others its name.
        order = [ch, *others] if self.rng.random() < 0.5 else [*others, ch]
        for c in order:
            self.varset(c, "BLINDTRANSFER", ch.variables.get("BRIDGEPEER", "") if c is ch else ch.name)
        l1, replace = self._local_pair(tr, ch)
        self._swap(bridge, ch, l1)
        self._publish_blind(tr, ch, bridge, "Success", bridge_snap=before, transferee=transferee_snap,
                            replace=replace)  # fmt: skip
        if bridge.bridge_type == "mixing":
            self.set_peers(bridge, rounds=3)
        self.retech(bridge)
        tr.notifies += ["100 Trying", "200 OK"]  # media passes at once: "answered"
        tr.state = "done"
        self._schedule_bye(tr, ch)
        self.after(0.002, lambda: self._local_dial(tr, l1), owner=l1)

    def _local_pair(self, tr: SimTransfer, ch: SimChannel) -> tuple[SimChannel, m.Channel]:
        """``Local/<to>@<context>-n;1``, requested by the transferer; it enters Stasis replacing it.
        With the ``stasis`` route ``;2`` enters the app too (``args: [transfer, <to>]``). Returns
        ``;1`` and its snapshot as the transfer message took it (before its StasisStart)."""
        l1_id, l2_id, base = self.ids.local_pair(tr.to, tr.context)
        born = timestamp()
        l1 = SimChannel(
            id=l1_id, name=f"{base};1", state="Down", protocol_id="", caller=m.CallerID("", ""),
            connected=m.CallerID("", ""), dialplan=m.DialplanCEP(tr.context, tr.to, 1, "", ""),
            creationtime=born, kind="local", app=ch.app, endpoint="",
        )  # fmt: skip
        self.channels[l1.id] = l1
        tr.local_id = l1.id
        replace = l1.snap()
        l1.dialplan = m.DialplanCEP(tr.context, tr.to, 1, "Stasis", ch.app)
        l1.in_stasis = True
        self.emit(l1.app, m.StasisStart, args=[], channel=l1.snap(), replace_channel=ch.snap())
        ch.subs = max(0, ch.subs - 1)  # send_start_msg_snapshots: app_unsubscribe_channel_id(replace)
        if tr.route == "stasis":
            l2 = SimChannel(
                id=l2_id, name=f"{base};2", state="Ring", protocol_id="", caller=m.CallerID("", ""),
                connected=m.CallerID("", ""),
                dialplan=m.DialplanCEP(tr.context, tr.to, 1, "Stasis", f"{ch.app},transfer,{tr.to}"),
                creationtime=born, kind="local", app=ch.app, endpoint="", in_stasis=True,
            )  # fmt: skip
            self.channels[l2.id] = l2
            tr.local2_id = l2.id
            self.emit(l2.app, m.StasisStart, args=["transfer", tr.to], channel=l2.snap())
        return l1, replace

    def _swap(self, bridge: SimBridge, old: SimChannel, new: SimChannel) -> None:
        """ast_bridge_impart with a swap: one move, the bridge evaluated once it is done."""
        self.leave_bridge(old, bridge, "remove", settle=False)
        bridge.channels.append(new.id)
        new.bridge_id = bridge.id
        bridge.subs[new.app] = bridge.subs.get(new.app, 0) + 1
        self.emit(new.app, m.ChannelEnteredBridge, bridge=bridge.snap(), channel=new.snap())
        self.varset(new, "BLINDTRANSFER", "")
        if bridge.bridge_type == "mixing":
            self.set_peers(bridge, rounds=1)
            self._update_connected(bridge)

    def _publish_blind(
        self,
        tr: SimTransfer,
        ch: SimChannel,
        bridge: SimBridge | None,
        result: str,
        *,
        bridge_snap: m.Bridge | None = None,
        transferee: m.Channel | None = None,
        replace: m.Channel | None = None,
    ) -> None:
        """BridgeBlindTransfer: to the app controlling the transferer and those on the bridge."""
        fields: dict[str, Any] = {
            "channel": ch.snap(), "exten": tr.to, "context": tr.context, "result": result,
            "is_external": True,
        }  # fmt: skip
        if transferee is not None:
            fields["transferee"] = transferee
        if replace is not None:
            fields["replace_channel"] = replace
        if bridge_snap is not None:
            fields["bridge"] = bridge_snap
        apps = [ch.app, *(a for a in (bridge.apps() if bridge is not None else []) if a != ch.app)]
        for app in apps:
            self.emit(app, m.BridgeBlindTransfer, **fields)

    # ------------------------------------------------------------------ the Local channel's Dial()
    def _local_dial(self, tr: SimTransfer, l1: SimChannel) -> None:
        if l1.ending or l1.id not in self.channels or tr.route == "stasis":
            return
        phone = self.phones.get(tr.target or "") if tr.route == "dial" else None
        if phone is None:
            self._local_ends(tr, l1, "CHANUNAVAIL", 3)  # "endpoint ... was not found"
        elif phone.behaviour == "busy" or phone.name in self.occupied:
            self._local_ends(tr, l1, "BUSY", 17)
        elif phone.behaviour == "offline":
            tr.target_state = "calling"  # nobody behind the contact: SIP timer B, then 408
            self.later(TIMER_B, lambda: self._local_ends(tr, l1, "CHANUNAVAIL", 18), owner=l1)
        else:
            self._local_rings(tr, l1, phone)

    def _local_rings(self, tr: SimTransfer, l1: SimChannel, phone: Phone) -> None:
        tr.target_state = "ringing"
        # app_dial: the callee's caller id, or (none preset) the extension dialled.
        callee = (
            m.CallerID(phone.caller_name, phone.caller_number)
            if phone.caller_number
            else m.CallerID("", tr.to)
        )
        l1.caller = callee
        bridge = self.bridges.get(l1.bridge_id or "")
        peer = self._bridge_peer(l1, bridge) if bridge is not None else None
        for step in self.rng.choice(RING_ORDERS):
            if step == "callerid":
                self.emit(l1.app, m.ChannelCallerId, caller_presentation=0,
                          caller_presentation_txt=PRESENTATION, channel=l1.snap())  # fmt: skip
            elif step == "connected":
                if peer is not None and (peer.connected.name, peer.connected.number) != (
                    callee.name,
                    callee.number,
                ):
                    peer.connected = m.CallerID(callee.name, callee.number)
                    self.emit(peer.app, m.ChannelConnectedLine, channel=peer.snap())
            elif step == "state":
                self.set_state(l1, "Ringing")
            else:
                self._bridge_dial(l1, "RINGING")
        if phone.behaviour == "answer":
            self.later(phone.answer_after, lambda: self._local_answered(tr, l1, phone), owner=l1)

    def _bridge_dial(self, l1: SimChannel, status: str) -> None:
        """bridge_handle_trip: a control frame read from a bridged channel is a Dial event."""
        self.emit(l1.app, m.Dial, peer=l1.snap(), dialstatus=status, forward="", dialstring="")

    def _local_answered(self, tr: SimTransfer, l1: SimChannel, phone: Phone) -> None:
        if l1.ending or l1.state == "Up":
            return
        tr.target_state = "answered"
        self.set_state(l1, "Up")
        self._bridge_dial(l1, "ANSWER")
        bridge = self.bridges.get(l1.bridge_id or "")
        for member in self._members(bridge) if bridge is not None else []:
            if member.call is not None and phone.name not in member.call.bridged_with:
                member.call.bridged_with.append(phone.name)
        if phone.hangup_after is not None:
            self.later(phone.hangup_after, lambda: self._local_ends(tr, l1, "ANSWER", 16), owner=l1)

    def _local_ends(self, tr: SimTransfer, l1: SimChannel, status: str, cause: int) -> None:
        """``;2``'s Dial() is over and its dialplan ends: ast_unreal_hangup hangs ``;1`` up."""
        if l1.ending or l1.id not in self.channels:
            return
        tr.target_state = "ended" if status == "ANSWER" else "failed"
        self.varset(l1, "CHANLOCALSTATUS", status)
        l1.hangup_cause = cause
        self.end_channel(l1, "local", by="pbx", request={"cause": cause})

    def target_hangup(self, name: str) -> int:
        """The person at a transfer's target phone hangs up: BYE when answered, 486 when ringing."""
        ended = 0
        for tr in list(self.transfers.values()):
            l1 = self.channels.get(tr.local_id or "")
            if tr.target != name or l1 is None or l1.ending or tr.target_state not in ("ringing", "answered"):
                continue
            if tr.target_state == "answered":
                self._local_ends(tr, l1, "ANSWER", 16)
            else:
                self._local_ends(tr, l1, "BUSY", 17)
            ended += 1
        return ended

    # ------------------------------------------------------------------ what else a transfer touches
    def answer(self, ch: SimChannel) -> None:
        super().answer(ch)
        if ch.kind != "local":
            return
        ch.media = False  # no RTP of its own: a Local channel reports no QoS
        for tr in self.transfers.values():
            l1 = self.channels.get(tr.local_id or "")
            if tr.local2_id == ch.id and l1 is not None and not l1.ending and l1.state != "Up":
                self.set_state(l1, "Up")
                self._bridge_dial(l1, "ANSWER")

    def end_channel(
        self, ch: SimChannel, how: str, *, by: str, request: dict[str, Any] | None = None
    ) -> None:
        if ch.ending:
            return
        super().end_channel(ch, how, by=by, request=request)
        for tr in self.transfers.values():
            if tr.channel_id == ch.id and tr.state == "pending":
                tr.state = "ended"  # the transferer went before the REFER was done
            if tr.local_id == ch.id:
                if tr.target_state in ("ringing", "answered", "calling"):
                    tr.target_state = "ended"
                self._end_half(tr.local2_id, ch.hangup_cause)
            elif tr.local2_id == ch.id:
                self._end_half(tr.local_id, ch.hangup_cause)

    def _end_half(self, channel_id: str | None, cause: int) -> None:
        other = self.channels.get(channel_id or "")
        if other is not None and not other.ending:
            other.hangup_cause = cause
            self.end_channel(other, "local", by="pbx", request={"cause": cause})

    def wipe(self) -> None:
        super().wipe()
        for tr in self.transfers.values():
            if tr.state == "pending":
                tr.state = "ended"
