"""Channels from birth to ChannelDestroyed, with the event sequences Asterisk 22.10.1 produces.

Endings (``how``) and their ChannelHangupRequest shapes, as recorded:
- ``delete`` (ARI DELETE) and ``timeout`` (ARI dial timeout): ``{cause: 32, soft: true}``. That 32
  is Asterisk's soft-hangup bitmask (AST_SOFTHANGUP_EXPLICIT), not a Q.850 cause.
- ``bye``: a far-end BYE, with no ``cause`` key or with ``cause: 16`` (both shapes were seen).
- ``cancel``: the caller's CANCEL, ``{cause: 127, tech_cause: 487}``.
- ``busy``: the phone answered 486, ``{cause: 17, tech_cause: 486}``.
- ``noresponse``: SIP timer B fired for an INVITE nobody took, ``{cause: 18, tech_cause: 408}``.
"""

from __future__ import annotations

import time
from typing import Any

from ari_app.ari import models as m
from ari_app.pbxsim.causes import cause_txt, sip_code, sip_final
from ari_app.pbxsim.ids import new_uuid, timestamp
from ari_app.pbxsim.recorder import Recording
from ari_app.pbxsim.state import SimCall, SimChannel, SimError

FAR_END = {"cancel": (127, 487), "busy": (17, 486), "noresponse": (18, 408)}
DESTROY = {"timeout": (19, 480), **FAR_END}
TRANSFER_HANDLING = "PJSIP_TRANSFER_HANDLING("
ONE_TO_ONE = ("native_rtp", "simple_bridge")  # technologies with a bridge peer (ast_bridge_peer)
QOS_VARS = ("RTPAUDIOQOS", "RTPAUDIOQOSJITTER", "RTPAUDIOQOSLOSS", "RTPAUDIOQOSRTT", "RTPAUDIOQOSMES")


class Lifecycle(Recording):
    # ------------------------------------------------------------------ birth
    def new_inbound(self, *, caller: str, caller_name: str, did: str, app: str, context: str) -> SimCall:
        call = SimCall(self.next_call_id(), None, caller, did, app, time.time())
        self.calls[call.call_id] = call
        cid, name = self.ids.channel_id(), self.ids.pjsip_name("trunk")
        target = self.stasis_target(app)
        if target is None:
            # Stasis() fails at once ("Stasis app doesn't exist", STASISSTATUS=FAILED) and the
            # dialplan goes to [fallback] for the DID. Without one there, its Hangup() declines
            # the unanswered call: the caller sees 100 Trying, 603 Decline. No ARI event.
            if not self.dialplan_fallback(call, cid, name, caller_name):
                call.ended_at, call.hangup_by = call.created_at, "pbx"
                call.caller_result, call.sip_final = "declined", sip_final(603)
            return call
        ch = SimChannel(
            id=cid, name=name, state="Ring", protocol_id=self.ids.sip_call_id(),
            caller=m.CallerID(caller_name or caller, caller), connected=m.CallerID("", ""),
            dialplan=m.DialplanCEP(context, did, 2, "Stasis", f"{target},{did}"),
            creationtime=timestamp(), kind="inbound", app=target, endpoint="trunk",
            in_stasis=True, call=call,
        )  # fmt: skip
        call.channel_id, call.app = cid, target
        self.channels[cid] = ch
        self._trunk_dialplan(ch, context, did)
        self.emit(target, m.StasisStart, args=[did], channel=ch.snap())
        return call

    def dialplan_fallback(self, call: SimCall, channel_id: str, channel_name: str, caller_name: str) -> bool:
        """The fallback layer runs the call through the dialplan's [fallback]; here there is none."""
        return False

    def _trunk_dialplan(self, ch: SimChannel, context: str, did: str) -> None:
        """What those subscribed to the trunk's endpoint see before the app gets the channel: it
        is created at priority 1, runs the recorded dialplan's NoOp, then Stasis() (which clears
        STASISSTATUS). The app itself is subscribed only from its StasisStart."""
        born = ch.snap()
        born.dialplan = m.DialplanCEP(context, did, 1, "", "")
        listeners = self.channel_added(ch, born)
        if not listeners:
            return
        noop = ch.snap()
        noop.dialplan = m.DialplanCEP(context, did, 1, "NoOp", "")
        for snap, app_name in ((noop, "NoOp"), (ch.snap(), "Stasis")):
            self.to_listeners(
                listeners, m.ChannelDialplan, channel=snap,
                dialplan_app=app_name, dialplan_app_data=snap.dialplan.app_data,
            )  # fmt: skip
        self.to_listeners(listeners, m.ChannelVarset, variable="STASISSTATUS", value="", channel=ch.snap())

    def new_leg(self, *, endpoint: str, app: str, kind: str, channel_id: str | None,
                variables: dict[str, str]) -> SimChannel:  # fmt: skip
        """A channel to a phone (``/channels/create`` or an originate), in state Down."""
        tech, _, dialstring = endpoint.partition("/")
        if not tech or not dialstring:
            raise SimError(400, "Invalid endpoint specified")
        resource = dialstring.split("/", 1)[0]
        phone = self.phones.get(resource) if tech == "PJSIP" else None
        if phone is None:
            raise SimError(500, "Allocation failed")  # chan_pjsip could not request the channel
        if channel_id and channel_id in self.channels:
            raise SimError(409, "Channel with given unique ID already exists")
        ch = SimChannel(
            id=channel_id or self.ids.channel_id(), name=self.ids.pjsip_name(resource), state="Down",
            protocol_id=new_uuid(), caller=m.CallerID(phone.caller_name, phone.caller_number),
            connected=m.CallerID("", ""), dialplan=m.DialplanCEP(phone.context, "s", 1, "", ""),
            creationtime=timestamp(), kind=kind, app=app, endpoint=resource, phone=phone,
        )  # fmt: skip
        for var, value in variables.items():
            self.assign(ch, var, value, report=False)
        ch.subs = 1  # stasis_app_subscribe_channel(app, chan) as it is made
        self.channels[ch.id] = ch
        self.channel_added(ch, ch.snap())
        return ch

    def enter_stasis(self, ch: SimChannel, args: list[str]) -> None:
        """ChannelDialplan, STASISSTATUS="" and StasisStart, as the channel's Stasis() starts."""
        if ch.ending or ch.id not in self.channels:
            return
        if not self.app_active(ch.app):
            # Stasis() fails for an app not registered or not active (no websocket): the
            # channel is hung up, and no event reaches the app.
            del self.channels[ch.id]
            self.channel_removed(ch)
            return
        data = ",".join([ch.app, *args])
        ch.dialplan = m.DialplanCEP(
            ch.dialplan.context, ch.dialplan.exten, ch.dialplan.priority, "Stasis", data
        )
        self.emit(ch.app, m.ChannelDialplan, channel=ch.snap(), dialplan_app="Stasis", dialplan_app_data=data)
        self.varset(ch, "STASISSTATUS", "")
        ch.in_stasis = True
        self.emit(ch.app, m.StasisStart, args=args, channel=ch.snap())

    # ------------------------------------------------------------------ requests on a channel
    def check_state(self, ch: SimChannel) -> None:
        """Down or Ringing (outbound, unanswered) channels refuse media and state operations."""
        if ch.state in ("Down", "Rsrved", "Ringing"):
            raise SimError(412, "Channel in invalid state")

    def answer(self, ch: SimChannel) -> None:
        self.check_state(ch)
        ch.media = True
        if ch.state != "Up":
            self.set_state(ch, "Up")
            if ch.call is not None and ch.call.app_answered_at is None:
                ch.call.app_answered_at = time.time()
            bridge = self.bridges.get(ch.bridge_id or "")
            if bridge is not None:
                self.retech(bridge)

    def assign(self, ch: SimChannel, var: str, value: str, *, report: bool = True) -> None:
        """Set a variable; CALLERID() writes change the caller and publish ChannelCallerId;
        CONNECTEDLINE() writes change the connected line (its public part: ChannelConnectedLine;
        ``priv-`` the private one, no event); PJSIP_TRANSFER_HANDLING() writes set how the
        channel's REFERs are handled."""
        if var.upper().startswith(TRANSFER_HANDLING) and var.endswith(")"):
            # A function write (chan_pjsip's pjsip_transfer_handling_write): no ChannelVarset.
            # "" or "core": Asterisk transfers; "ari-only": the app; anything else: unchanged
            # (a warning; ARI still answers 204). Only a PJSIP channel has the setting.
            if ch.name.startswith("PJSIP/") and value in ("", "core", "ari-only"):
                ch.ari_transfers = value == "ari-only"
        elif var.upper().startswith("CONNECTEDLINE(") and var.endswith(")"):
            self._connected_line_write(ch, var[14:-1], value, report)
        elif var.upper().startswith("CALLERID(") and var.endswith(")"):
            part = var[9:-1].lower()
            name, number = ch.caller.name, ch.caller.number
            if part == "all" and "<" in value:
                name, _, rest = value.partition("<")
                name, number = name.strip().strip('"'), rest.rstrip(">").strip()
            elif part in ("num", "number", "all"):
                number = value
            elif part == "name":
                name = value
            ch.caller = m.CallerID(name, number)
            if report:
                self.emit(ch.app, m.ChannelCallerId, caller_presentation=0,
                          caller_presentation_txt="Presentation Allowed, Not Screened",
                          channel=ch.snap())  # fmt: skip
        elif report:
            self.varset(ch, var, value)
        else:
            ch.variables[var] = value

    def _connected_line_write(self, ch: SimChannel, args: str, value: str, report: bool) -> None:
        """func_callerid.c connectedline_write: ``name``, ``num``/``number`` (the public party:
        the snapshot's ``connected``, ChannelConnectedLine) or ``priv-name``, ``priv-num`` (the
        private one: no event); the option ``i`` only keeps the indication from the channel's
        driver. Other members (``all``, presentation, source...) are not modelled: ignored."""
        member = args.split(",", 1)[0].strip().lower()
        value = value.lstrip()
        if member == "priv-name":
            ch.connected_priv_name = value
        elif member in ("priv-num", "priv-number"):
            ch.connected_priv_number = value
        elif member in ("name", "num", "number"):
            name, number = ch.connected.name, ch.connected.number
            if member == "name":
                name = value
            else:
                number = value
            if (name, number) != (ch.connected.name, ch.connected.number):
                ch.connected = m.CallerID(name, number)
                if report:
                    self.emit(ch.app, m.ChannelConnectedLine, channel=ch.snap())

    def read_var(self, ch: SimChannel, var: str) -> str:
        if var.endswith(")"):
            part = var[var.find("(") + 1 : -1].lower()
            if not var.upper().startswith("CALLERID(") or part not in ("num", "number", "name", "all"):
                raise SimError(500, "Unable to read provided function")
            if part == "name":
                return ch.caller.name
            if part == "all":
                return f'"{ch.caller.name}" <{ch.caller.number}>'
            return ch.caller.number
        if var not in ch.variables:
            raise SimError(404, "Provided variable was not found")
        return ch.variables[var]

    # ------------------------------------------------------------------ endings
    def end_channel(
        self, ch: SimChannel, how: str, *, by: str, request: dict[str, Any] | None = None
    ) -> None:
        """One channel's whole ending, in the order Asterisk sends it. ``request``: the
        ChannelHangupRequest's fields when they are not those ``how`` implies."""
        if ch.ending:
            return
        ch.ending = True
        ch.cancel_timers()
        bridge = self.bridges.get(ch.bridge_id or "")
        if ch.media and ch.kind != "local":
            # chan_pjsip sets the ...BRIDGED figures on the bridge peer (ast_channel_bridge_peer):
            # the other one of a two-party bridge whose technology has one.
            two_party = bridge is not None and bridge.technology in ONE_TO_ONE and self._size(bridge) == 2
            self._report_qos(ch, bridge.channels if bridge is not None and two_party else [])
        shape = self._request_shape(how) if request is None else request
        self.emit(ch.app, m.ChannelHangupRequest, channel=ch.snap(), **shape)
        if bridge is not None:
            self.leave_bridge(ch, bridge, "hangup")
        self.end_playbacks(ch.playbacks)
        if ch.in_stasis:
            ch.in_stasis = False
            self.emit(ch.app, m.StasisEnd, channel=ch.snap())
            self._tail(ch, m.ChannelVarset, variable="STASISSTATUS", value="SUCCESS")
        cause, tech_cause = self._destroy_cause(ch, how)
        if ch.kind == "inbound":
            # Back in the dialplan after Stasis(): the app-unload soft hangup (bitmask 16). Only a
            # far-end CANCEL has set the tech cause by now.
            extra = {"tech_cause": FAR_END[how][1]} if how in FAR_END else {}
            self._tail(ch, m.ChannelHangupRequest, cause=16, soft=True, **extra)
        # Destroyed, the channel no longer runs an application: app_name and app_data go blank.
        ch.dialplan = m.DialplanCEP(ch.dialplan.context, ch.dialplan.exten, ch.dialplan.priority, "", "")
        fields: dict[str, Any] = {"cause": cause, "cause_txt": cause_txt(cause)}
        if tech_cause:
            fields["tech_cause"] = tech_cause
        self._tail(ch, m.ChannelDestroyed, **fields)
        del self.channels[ch.id]
        self.channel_removed(ch)  # the channel leaves its endpoint as it is freed
        self._record_end(ch, how, by, cause)

    def _tail(self, ch: SimChannel, cls: type[m.Event], **fields: Any) -> None:
        """An event after StasisEnd: the app gets it while it holds a subscription to the channel
        besides Stasis()'s (``subs``); those subscribed to the channel's endpoint get it either way."""
        if cls is m.ChannelVarset:
            ch.variables[fields["variable"]] = fields["value"]
        if ch.subs > 0:
            self.emit(ch.app, cls, channel=ch.snap(), **fields)
        elif ch.kind != "local" and ch.endpoint in self.phones:
            self.to_listeners(self.endpoint_listeners(ch.endpoint), cls, channel=ch.snap(), **fields)

    def _request_shape(self, how: str) -> dict[str, Any]:
        if how in ("delete", "timeout"):
            return {"cause": 32, "soft": True}
        if how == "bye":
            return {} if self.rng.random() < 0.5 else {"cause": 16}
        cause, tech = FAR_END[how]
        return {"cause": cause, "tech_cause": tech}

    def _destroy_cause(self, ch: SimChannel, how: str) -> tuple[int, int]:
        if how in DESTROY:
            return DESTROY[how]
        if how == "delete":
            # An unanswered leg ends with a SIP response mapped from the cause (486 for busy);
            # an answered one with a BYE, which has no code.
            answered = ch.state == "Up"
            return ch.hangup_cause, 0 if answered else sip_code(ch.hangup_cause)
        return 16, 0

    def _report_qos(self, ch: SimChannel, native_peers: list[str]) -> None:
        """RTP statistics as the channel ends; a natively bridged peer shares the RTP session
        and gets the same figures under the ``…BRIDGED`` names, interleaved as recorded."""
        peers = [self.channels[c] for c in native_peers if c != ch.id and c in self.channels]
        packets = self.rng.randrange(50, 400)
        for var in QOS_VARS:
            value = _qos_value(var, self.rng.randrange(1 << 31), packets)
            self.varset(ch, var, value)
            for peer in peers:
                self.varset(peer, f"{var}BRIDGED", value)

    def _record_end(self, ch: SimChannel, how: str, by: str, cause: int) -> None:
        call = ch.call
        if call is None:
            return
        call.ended_at, call.end_cause, call.hangup_by = time.time(), cause, by
        if call.talk_started is not None:
            call.talk_seconds = round(self.sim_seconds(call.talk_started), 3)
        if ch.state == "Up":
            call.sip_final = "BYE"
        elif how == "cancel":
            call.sip_final = sip_final(487)
        else:
            call.sip_final = sip_final(sip_code(cause) or 603)
        if call.answered_at is not None:
            call.caller_result = "answered"
        elif by == "caller":
            call.caller_result = "abandoned"
        elif ch.state == "Up":
            call.caller_result = "hung_up_by_app"
        else:
            code = int(call.sip_final.split()[0])
            call.caller_result = {486: "busy", 603: "declined"}.get(code, "rejected")


def _qos_value(var: str, ssrc: int, packets: int) -> str:
    if var == "RTPAUDIOQOS":
        return (f"ssrc={ssrc};themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;"
                f"txcount={packets};rlp=0;rtt=0.000000;rxmes=0.000000;txmes=0.000000")  # fmt: skip
    stat = var.removeprefix("RTPAUDIOQOS").lower()
    key = {"jitter": "rxjitter", "loss": "rxlost", "rtt": "rtt", "mes": "rxmes"}[stat]
    return ";".join(f"{p}{key}=000.000000" for p in ("min", "max", "avg", "stdev")) + ";"
