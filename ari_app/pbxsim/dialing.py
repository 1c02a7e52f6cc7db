"""Dialling admin phones, and what the people at both ends do: answer, ring on, hang up, press keys.

As recorded: a dialled leg gets ``Dial ""`` (dialstring = the endpoint resource),
``ChannelStateChange Ringing`` and ``Dial RINGING`` within a millisecond, in an order that
varies; an answer gives ``ChannelStateChange Up`` then ``Dial ANSWER``. No Dial event ever
reports BUSY, NOANSWER or CANCEL: a failed leg just ends. Asterisk does not hang up a dialled
leg when its ``caller`` leaves.
"""

from __future__ import annotations

import time
from functools import partial

from ari_app.ari import models as m
from ari_app.pbxsim.state import Phone, PhoneScript, SimCall, SimChannel, SimError
from ari_app.pbxsim.transfers import TIMER_B, Transfers

# Orders of (Dial "", Ringing, Dial RINGING) seen in the traces.
RING_ORDERS = (("dial", "state", "ringing"), ("state", "ringing", "dial"), ("dial", "ringing", "state"))
ORIGINATE_TIMEOUT = 30  # POST /channels default
DTMF_GAP = 0.25  # simulated seconds between a caller's key presses
DEFAULT_FROM_USER = "asterisk"  # pjsip.conf [global] default_from_user: From without a number


class Pbx(Transfers):
    # ------------------------------------------------------------------ creating and dialling
    def create_channel(self, *, endpoint: str, app: str, args: list[str], channel_id: str | None,
                       variables: dict[str, str], originator: str | None = None) -> SimChannel:  # fmt: skip
        ch = self.new_leg(
            endpoint=endpoint, app=app, kind="created", channel_id=channel_id, variables=variables
        )
        # The originator ties the leg to its caller (Asterisk links their linkedid): the leg
        # follows that call's script for this phone, if the call brought one.
        inbound = self.channels.get(originator or "")
        if inbound is not None:
            # The app is subscribed to the originator too, for as long as it lives: it hears of
            # the caller's channel after its StasisEnd (resource_channels.c).
            inbound.subs += 1
            ch.origin = inbound.id
            if inbound.call is not None:
                ch.script = inbound.call.phone_scripts.get(ch.endpoint)
        # The channel's own thread enters Stasis as the reply goes out: a dial sent after the
        # reply finds it there, while its StasisStart usually reaches the app after the reply.
        # With the stasis_start_delay fault that moment comes late, and a dial before it gets 409.
        self.after(self.stasis_start_delay, lambda: self.enter_stasis(ch, args), owner=ch)
        return ch

    def dial(self, ch: SimChannel, caller_id: str | None, timeout: int) -> None:
        if ch.state not in ("Down", "Rsrved"):
            raise SimError(409, "Channel is not in the 'Down' state")
        if ch.kind != "created":
            raise SimError(409, "Dialing a channel not created by ARI")
        if ch.dialed:
            return  # the INVITE is already out; a second one changes nothing
        ch.dialed = True
        caller = self.channels.get(caller_id or "")
        if caller is not None:
            # caller= is never in the Dial event: it shows up as the leg's connected line.
            ch.connected = m.CallerID(caller.caller.name, caller.caller.number)
            ch.language = caller.language
            self.emit(ch.app, m.ChannelConnectedLine, channel=ch.snap())
        self.after(0.001, lambda: self._ring(ch, timeout), owner=ch)

    def originate(self, *, endpoint: str, app: str, args: list[str], caller_id: str, timeout: int,
                  channel_id: str | None, variables: dict[str, str]) -> SimChannel:  # fmt: skip
        """POST /channels with an app: the phone is called; on answer it enters Stasis (Up)."""
        ch = self.new_leg(endpoint=endpoint, app=app, kind="originated", channel_id=channel_id,
                          variables=variables)  # fmt: skip
        if caller_id:
            ch.caller = ch.connected = parse_callerid(caller_id)
        ch.dialed = True
        seconds = ORIGINATE_TIMEOUT if timeout == 0 else max(timeout, 0)
        self.after(0.001, lambda: self._ring(ch, seconds, args), owner=ch)
        return ch

    def draw_script(self) -> PhoneScript:
        roll = self.rng.random()
        if roll < 0.55:
            hangup = round(self.rng.uniform(1.0, 6.0), 2) if self.rng.random() < 0.3 else None
            return PhoneScript("answer", round(self.rng.uniform(0.3, 3.0), 2), hangup)
        return PhoneScript("busy" if roll < 0.7 else "no_answer")

    def _dial_event(self, ch: SimChannel, status: str, dialstring: str = "") -> None:
        self.emit(ch.app, m.Dial, peer=ch.snap(), dialstatus=status, forward="", dialstring=dialstring)

    def _ring(self, ch: SimChannel, timeout: int, stasis_args: list[str] | None = None) -> None:
        phone = ch.phone
        if phone is None or ch.ending:
            return
        if timeout > 0:
            self.later(timeout, lambda: self._dial_timeout(ch), owner=ch)
        if phone.behaviour == "random" and ch.script is None:
            ch.script = self.draw_script()  # this ring's own: the phone's user answers, is busy or away
        acts = phone_acts(ch.script, phone)
        if acts.behaviour == "busy" or phone.name in self.occupied:
            self.invite(ch, phone)
            self._dial_event(ch, "", ch.endpoint)
            self.after(0.002, lambda: self.end_channel(ch, "busy", by="phone"), owner=ch)
            return
        if acts.behaviour == "offline":
            # Nobody behind the static contact: the INVITE goes nowhere, so no RINGING.
            self._dial_event(ch, "", ch.endpoint)
            self.later(TIMER_B, lambda: self.end_channel(ch, "noresponse", by="phone"), owner=ch)
            return
        self.invite(ch, phone)
        for step in self.rng.choice(RING_ORDERS):
            if step == "dial":
                self._dial_event(ch, "", ch.endpoint)
            elif step == "state":
                self.set_state(ch, "Ringing")
            else:
                self._dial_event(ch, "RINGING")
        if acts.behaviour == "answer":
            self.later(acts.answer_after, lambda: self._phone_answers(ch, stasis_args), owner=ch)

    @staticmethod
    def invite(ch: SimChannel, phone: Phone) -> None:
        """The INVITE reaches the phone: it is shown the leg's connected line as it is now, the
        private party over the public one (res_pjsip_session.c set_from_header: the From's
        display name and user part). The endpoints send no P-Asserted-Identity (send_pai off);
        presentation (restricted: anonymous) and the phones a core transfer dials are not
        modelled."""
        name = ch.connected.name if ch.connected_priv_name is None else ch.connected_priv_name
        number = ch.connected.number if ch.connected_priv_number is None else ch.connected_priv_number
        phone.invites.append({
            "channel_id": ch.id, "from_name": name,
            "from_user": number or DEFAULT_FROM_USER, "pai": None,
            "at": time.time(),  # when the phone rang (wall clock: a browser's pop is compared)
        })  # fmt: skip

    def _phone_answers(self, ch: SimChannel, stasis_args: list[str] | None) -> None:
        if ch.ending or ch.state == "Up":
            return
        ch.media = True
        self.set_state(ch, "Up")
        self._dial_event(ch, "ANSWER")
        if ch.kind == "originated":
            self.enter_stasis(ch, stasis_args or [])
        bridge = self.bridges.get(ch.bridge_id or "")
        if bridge is not None:
            self.retech(bridge)
        caller = self.channels.get(ch.origin or "")
        if caller is not None and caller.call is not None and caller.call.abandon_on_answer is not None:
            # The caller gives up just as the phone answers: their CANCEL crosses its 200.
            self.later(caller.call.abandon_on_answer, partial(self.caller_leaves, caller), owner=caller)
        phone = ch.phone
        hangup_after = None if phone is None else phone_acts(ch.script, phone).hangup_after
        if hangup_after is not None:
            self.later(hangup_after, lambda: self.end_channel(ch, "bye", by="phone"), owner=ch)

    def _dial_timeout(self, ch: SimChannel) -> None:
        # The ARI dial timeout hangs up only a leg that is not up yet (control.c bridge_timeout).
        if not ch.ending and ch.state != "Up":
            self.end_channel(ch, "timeout", by="timeout")

    # ------------------------------------------------------------------ callers and admins
    def inbound_of(self, call_id: str) -> SimChannel:
        call = self.calls.get(call_id)
        ch = self.channels.get(call.channel_id or "") if call else None
        if ch is None or ch.ending:
            raise SimError(404, "call not in progress")
        return ch

    def caller_hangup(self, call_id: str) -> None:
        """POST /control/calls/{id}/hangup."""
        self.caller_leaves(self.inbound_of(call_id))

    def abandon_call(self, call: SimCall, seconds: float) -> None:
        """The caller gives up ``seconds`` after the call starts unless a phone talks with them."""
        ch = self.channels.get(call.channel_id or "")
        if ch is not None:
            self.schedule_abandon(ch, seconds)

    def caller_leaves(self, ch: SimChannel) -> None:
        """The caller hangs up: a BYE once answered, a CANCEL before."""
        if ch.id in self.channels and not ch.ending:
            self.end_channel(ch, "bye" if ch.state == "Up" else "cancel", by="caller")

    def answer(self, ch: SimChannel) -> None:
        call = ch.call if ch.kind == "inbound" else None
        first = call is not None and call.app_answered_at is None
        super().answer(ch)
        if first and call is not None and call.press is not None:
            # The caller hears the app at last and presses the keys it came to press.
            digits, after = call.press
            for n, digit in enumerate(digits):
                self.later(after + n * DTMF_GAP, partial(self._dtmf, ch, digit), owner=ch)

    def schedule_abandon(self, ch: SimChannel, seconds: float) -> None:
        def abandon() -> None:
            if ch.call is None or ch.call.answered_at is None:
                self.caller_leaves(ch)

        self.later(seconds, abandon, owner=ch)

    def phone_hangup(self, name: str) -> int:
        """The admin at ``name`` hangs up: a BYE on a call, a 486 to a ringing one (also a call a
        transfer's Local channel made to the phone)."""
        ended = 0
        for ch in [c for c in self.channels.values() if c.kind != "inbound" and c.endpoint == name]:
            if ch.ending or not ch.dialed:
                continue
            self.end_channel(ch, "bye" if ch.state == "Up" else "busy", by="phone")
            ended += 1
        return ended + self.target_hangup(name)

    def send_dtmf(self, call_id: str, digits: str, gap: float = DTMF_GAP) -> None:
        """The caller presses keys: one ChannelDtmfReceived per digit, ``gap`` seconds apart."""
        ch = self.inbound_of(call_id)
        if not ch.media:
            raise SimError(409, "no audio path yet: the call is not answered")
        for n, digit in enumerate(digits):
            self.later(n * gap, partial(self._dtmf, ch, digit), owner=ch)

    def _dtmf(self, ch: SimChannel, digit: str) -> None:
        if ch.ending:
            return
        if ch.call is not None:
            ch.call.dtmf.append(digit)
        self.emit(ch.app, m.ChannelDtmfReceived, digit=digit, duration_ms=self.rng.randrange(80, 200),
                  channel=ch.snap())  # fmt: skip


def phone_acts(script: PhoneScript | None, phone: Phone) -> PhoneScript:
    """What the phone does for one call: the call's script, else the phone's own behaviour. An
    unregistered phone rings nowhere, whatever a script says."""
    if script is None or phone.behaviour == "offline":
        return PhoneScript(phone.behaviour, phone.answer_after, phone.hangup_after)
    return script


def parse_callerid(text: str) -> m.CallerID:
    """``"Name" <number>`` or a bare number, as ast_callerid_parse reads them."""
    if "<" not in text:
        return m.CallerID("", text.strip())
    name, _, rest = text.partition("<")
    return m.CallerID(name.strip().strip('"'), rest.split(">", 1)[0].strip())
