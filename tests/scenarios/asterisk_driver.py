"""The routing scenarios' PBX driver for a real Asterisk: ARI through a recording proxy, SIPp phones
and callers.

Environment: ``ARI_URL`` (``http://127.0.0.1:8088/ari``), ``ARI_USERNAME``, ``ARI_PASSWORD``;
optional ``ASTERISK_SIP`` (Asterisk's SIP UDP address, ``127.0.0.1:5060``), ``SIPP`` (the
binary), ``SIPP_LOG_DIR`` (keep every SIPp message trace there; otherwise they go to a temporary
folder removed on close). The PBX must be set up as ``tests/scenarios/README.md`` says:
endpoints admin101..admin104 that register (no auth), a trunk identified by the callers' source
addresses, every DID of the trunk into ``Stasis(clinic,${EXTEN})``.

- The app talks to ``ari_proxy.AriProxy``: the requests it sent come from there, and so do the
  events the driver watches to time its callers (when a caller was put through to an admin).
- Each admin phone is one SIPp UAS (``sipp/phone_uas.xml``) on its own port, registered with
  ``sipp/register.xml``; changing its behaviour restarts it.
- Each call is one SIPp UAC (``sipp/caller_uac.xml``) from a port of the trunk's. Hang-ups the
  SIPp scenario cannot time itself (the caller's ``hangup_after``/``abandon_after``, an admin's
  hang-up on demand) are ordered by an INFO the driver sends to that SIPp on the call's Call-ID.
- An admin's blind transfer (``refer``) is ordered the same way (``X-Driver: refer``, the target
  in ``X-Refer-To``): the phone sends the REFER in the call's dialog and hangs up once a NOTIFY
  brings the transfer's final status.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from ari_app.ari.rest import basic_auth
from tests.scenarios.ari_proxy import AriProxy
from tests.scenarios.drivers import PlacedCall, Shown

SIPP_DIR = Path(__file__).with_name("sipp")
LOCAL_IP = "127.0.0.1"
PHONE_PORTS = {"admin101": 5071, "admin102": 5072, "admin103": 5073, "admin104": 5074}
REGISTER_PORT_OFFSET = 100  # a phone registers from its port + 100 (its contact stays its own port)
CALLER_PORTS = (5070, *range(5080, 5100))  # the trunk's identify must match every one of them
BEHAVIOURS = ("answer", "no_answer", "busy", "random")  # random: each call draws one (phone_uas.xml)


@dataclass
class _Phone:
    name: str
    port: int
    settings: tuple[str, float, float | None] | None = None
    proc: asyncio.subprocess.Process | None = None
    runs: int = 0


@dataclass
class _Caller:
    placed: PlacedCall
    port: int
    call_id: str
    proc: asyncio.subprocess.Process
    since: int  # proxy event index at dialling
    log: Path  # its SIPp traces, without the suffix (.msg, .err)
    channel: str | None = None
    bridged_at: float | None = None
    hangup_ordered: bool = False
    left_at: float | None = None  # wall clock (time.time()) when the driver ordered its hang-up
    task: asyncio.Task[None] | None = field(default=None, repr=False)


def _received(trace: Path) -> list[tuple[str, dict[str, str]]]:
    """The messages a SIPp received, in order, from its -trace_msg file: (first line, headers
    with lower-case names)."""
    try:
        text = trace.read_text(errors="replace")
    except OSError:
        return []
    found = []
    for block in text.split("-----------------------------------------------")[1:]:
        lines = block.strip("\r\n").splitlines()
        if len(lines) < 3 or not lines[1].startswith(("UDP message received", "TCP message received")):
            continue
        message = [line.strip() for line in lines[2:]]
        while message and not message[0]:
            message.pop(0)
        if not message:
            continue
        headers: dict[str, str] = {}
        for line in message[1:]:
            if not line:
                break
            name, sep, value = line.partition(":")
            if sep:
                headers.setdefault(name.strip().lower(), value.strip())
        found.append((message[0], headers))
    return found


_NAME_ADDR = re.compile(r'^\s*(?:"((?:[^"\\]|\\.)*)"|([^<"]*?))\s*<([^>]*)>')


def _identity(value: str) -> tuple[str, str]:
    """The display name and user part of a From or P-Asserted-Identity value (RFC 3261 name-addr,
    or a bare addr-spec)."""
    m = _NAME_ADDR.match(value)
    if m:
        quoted, token, uri = m.groups()
        name = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else (token or "").strip()
    else:
        name, uri = "", value.split(";", 1)[0].strip()
    scheme, _, rest = uri.partition(":")
    user = rest.split("@", 1)[0] if "@" in rest else ""
    return name, user.split(";", 1)[0] if scheme.lower() in ("sip", "sips", "tel") else ""


def _udp_ports_bound() -> set[int]:
    ports: set[int] = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                local = line.split()[1]
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


class AsteriskDriver:
    def __init__(
        self, ari: str, username: str, password: str, sip: tuple[str, int], proxy: AriProxy, logs: Path
    ) -> None:
        self.ari_url = proxy.url
        self.username, self.password = username, password
        self.phones = tuple(PHONE_PORTS)
        self.proxy = proxy
        self.logs = logs
        self.leftovers: list[str] = []  # what close() (or start) had to clear on the PBX
        self._ari = ari.rstrip("/")
        self._sip = sip
        self._sipp = os.environ.get("SIPP", "sipp")
        self._keep_logs = bool(os.environ.get("SIPP_LOG_DIR"))
        self._http = aiohttp.ClientSession(
            headers={"Authorization": basic_auth(username, password)}, timeout=aiohttp.ClientTimeout(total=10)
        )
        self._phones = {name: _Phone(name, port) for name, port in PHONE_PORTS.items()}
        self._callers: list[_Caller] = []
        self._free_ports = list(CALLER_PORTS)
        self._orders = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._orders.bind((LOCAL_IP, 0))
        self._orders.setblocking(False)
        self._seq = 0
        self._random_started = 0.0  # when the latest phone in "random" mode was up (time.time())
        self.port_waits: list[float] = []  # calls that found every caller port taken: how long they waited

    @classmethod
    async def start(cls) -> AsteriskDriver:
        ari = os.environ["ARI_URL"]
        username, password = os.environ.get("ARI_USERNAME", ""), os.environ.get("ARI_PASSWORD", "")
        host, _, port = os.environ.get("ASTERISK_SIP", f"{LOCAL_IP}:5060").rpartition(":")
        proxy = AriProxy(ari)
        await proxy.start()
        root = os.environ.get("SIPP_LOG_DIR")
        if root:
            logs = Path(root) / f"{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:6]}"
            logs.mkdir(parents=True)
        else:
            logs = Path(tempfile.mkdtemp(prefix="asterisk-driver-"))
        driver = cls(ari, username, password, (host, int(port)), proxy, logs)
        try:
            await driver._get("/asterisk/info")  # reachable, credentials right
            await driver._clear_pbx("start")
            for name in driver.phones:
                await driver.phone(name, "no_answer")
                await driver.register(name, True)
        except BaseException:
            await driver.close()
            raise
        return driver

    # ------------------------------------------------------------------ phones
    async def phone(
        self, name: str, behaviour: str, *, answer_after: float = 1.0, hangup_after: float | None = None
    ) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown phone behaviour {behaviour!r}")
        ph = self._phones[name]
        settings = (behaviour, answer_after, hangup_after)
        if ph.settings == settings and ph.proc is not None and ph.proc.returncode is None:
            return
        await self._stop(ph.proc)
        if behaviour == "random":
            # SIPp seeds its random numbers with the second it starts in (srand(time(NULL))):
            # phones started in the same second would draw the same behaviours, call after call.
            wait = int(self._random_started) + 1.01 - time.time()  # into the next second
            if wait > 0:
                await asyncio.sleep(wait)
        ph.runs += 1
        log = self.logs / f"phone-{name}-{ph.runs}"
        ph.proc = await self._spawn(
            "-key", "user", name,
            "-sf", str(SIPP_DIR / "phone_uas.xml"),
            "-set", "mode", behaviour,
            "-set", "answer_ms", str(round(answer_after * 1000)),
            "-set", "hangup_ms", str(round((hangup_after or 0) * 1000)),
            "-i", LOCAL_IP, "-p", str(ph.port), "-aa",
            "-trace_err", "-error_file", f"{log}.err", "-trace_msg", "-message_file", f"{log}.msg",
        )  # fmt: skip
        ph.settings = settings
        await self._listening(ph.port, ph.proc, log)
        if behaviour == "random":
            self._random_started = time.time()

    async def register(self, name: str, registered: bool) -> None:
        await self._register(name, registered)
        want = "online" if registered else "offline"
        deadline = time.monotonic() + 10
        while (state := (await self._get(f"/endpoints/PJSIP/{name}"))["state"]) != want:
            if time.monotonic() > deadline:
                raise AssertionError(f"PJSIP/{name} is {state}, not {want}, after its REGISTER")
            await asyncio.sleep(0.05)

    async def _register(self, name: str, registered: bool) -> None:
        port = PHONE_PORTS[name]
        log = self.logs / f"register-{name}-{'on' if registered else 'off'}-{uuid.uuid4().hex[:6]}"
        proc = await self._spawn(
            "-key", "user", name, "-key", "contact_port", str(port),
            "-key", "expires", "3600" if registered else "0",
            "-sf", str(SIPP_DIR / "register.xml"), "-m", "1", "-timeout", "10s",
            "-i", LOCAL_IP, "-p", str(port + REGISTER_PORT_OFFSET),
            "-trace_err", "-error_file", f"{log}.err", "-trace_msg", "-message_file", f"{log}.msg",
        )  # fmt: skip
        if await proc.wait() != 0:
            raise AssertionError(f"REGISTER of {name} failed (sipp exit {proc.returncode}); see {log}.msg")

    async def slow_bridge_joins(self, seconds: float) -> None:
        """Asterisk joins channels to a bridge after addChannel's reply when their threads are
        busy; nothing here can make it do so on purpose."""

    async def cut_websocket_on(self, method: str, path_regex: str, away_for: float) -> None:
        self.proxy.cut_on = (method, path_regex, away_for)

    async def withhold_answers(self, on: bool) -> None:
        def answer(ev: dict[str, Any]) -> bool:
            kind, chan = ev.get("type"), ev.get("channel") or ev.get("peer") or {}
            up = (kind == "ChannelStateChange" and chan.get("state") == "Up") or (
                kind == "Dial" and ev.get("dialstatus") == "ANSWER"
            )
            return up and self._is_phone(chan.get("id", ""))

        self.proxy.withheld = answer if on else None

    async def phone_answered(self, call: PlacedCall) -> None:
        found = next(c for c in self._callers if c.placed.ref == call.ref)
        await asyncio.wait_for(self._phone_answered(found), 20)

    async def talked(self, call: PlacedCall) -> bool:
        found = next(c for c in self._callers if c.placed.ref == call.ref)
        return found.bridged_at is not None

    async def admin_hangup(self, name: str) -> None:
        channels = await self._calls_up(name)
        if not channels:
            raise AssertionError(f"{name} is on no call")
        for chan in channels:
            self._order_hangup(await self._sip_call_id(chan), PHONE_PORTS[name])

    async def refer(self, name: str, to: str) -> None:
        """The phone's latest call that is up is transferred; returns once Asterisk reported the
        REFER on ARI (ChannelTransfer, or BridgeBlindTransfer when Asterisk runs it itself)."""
        channels = await self._calls_up(name)
        if not channels:
            raise AssertionError(f"{name} is on no call to transfer")
        chan = max(channels, key=lambda c: c.get("creationtime", ""))
        since = len(self.proxy.events)
        self._order(await self._sip_call_id(chan), PHONE_PORTS[name], "refer", {"X-Refer-To": to})

        def reported(ev: dict[str, Any]) -> bool:
            if ev.get("type") == "ChannelTransfer":
                return (ev.get("referred_by") or {}).get("source_channel", {}).get("id") == chan["id"]
            if ev.get("type") == "BridgeBlindTransfer":
                return (ev.get("channel") or {}).get("id") == chan["id"]
            return False

        if await self.proxy.wait_event(reported, timeout=5.0, since=since) is None:
            ph = self._phones[name]
            raise AssertionError(
                f"the REFER of {name} ({chan['name']}) to {to} reached ARI as no ChannelTransfer or "
                f"BridgeBlindTransfer in 5 s; see {self.logs / f'phone-{name}-{ph.runs}'}.msg"
            )

    async def _calls_up(self, name: str) -> list[dict[str, Any]]:
        prefix = f"PJSIP/{name}-"
        return [
            c for c in await self._get("/channels") if c["name"].startswith(prefix) and c["state"] == "Up"
        ]

    async def _sip_call_id(self, chan: dict[str, Any]) -> str:
        if chan.get("protocol_id"):
            return str(chan["protocol_id"])
        var = await self._get(f"/channels/{chan['id']}/variable", variable="CHANNEL(pjsip,call-id)")
        return str(var["value"])

    # ------------------------------------------------------------------ callers
    async def call(
        self,
        caller: str,
        did: str,
        *,
        hangup_after: float | None = None,
        abandon_after: float | None = None,
        digits: str | None = None,
        digits_after: float = 1.0,
        abandon_on_answer: float | None = None,
    ) -> PlacedCall:
        port = await self._caller_port()
        ref = uuid.uuid4().hex[:12]
        call_id = f"clinic-{ref}@{LOCAL_IP}"
        log = self.logs / f"caller-{caller.lstrip('+')}-{ref}"
        since = len(self.proxy.events)
        try:
            proc = await self._spawn(
                "-key", "caller", caller, "-key", "digits", digits or "0",
                "-sf", str(SIPP_DIR / "caller_uac.xml"),
                "-set", "dtmf", "yes" if digits else "no",
                "-set", "digits_ms", str(round(digits_after * 1000)),
                "-s", did, "-i", LOCAL_IP, "-p", str(port), "-m", "1", "-aa", "-timeout", "600s",
                "-cid_str", call_id,
                "-trace_err", "-error_file", f"{log}.err", "-trace_msg", "-message_file", f"{log}.msg",
            )  # fmt: skip
        except BaseException:
            self._free_ports.append(port)
            raise
        placed = PlacedCall(caller, did, ref)
        call = _Caller(placed, port, call_id, proc, since, log)
        self._callers.append(call)
        call.task = asyncio.get_running_loop().create_task(
            self._run_caller(call, hangup_after, abandon_after, abandon_on_answer)
        )
        return placed

    async def _run_caller(
        self,
        call: _Caller,
        hangup_after: float | None,
        abandon_after: float | None,
        abandon_on_answer: float | None = None,
    ) -> None:
        ended = asyncio.ensure_future(call.proc.wait())
        bridged = asyncio.ensure_future(self._bridged(call))
        try:
            if abandon_on_answer is not None:
                # (no phone may answer at all: the call can end first, and its port must come back)
                answered = asyncio.ensure_future(self._phone_answered(call))
                try:
                    await asyncio.wait({answered, ended}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    answered.cancel()
                if not ended.done():
                    await asyncio.sleep(abandon_on_answer)
                    if not ended.done():
                        self._hang_up_caller(call)
            if abandon_after is not None and not call.hangup_ordered:
                done, _ = await asyncio.wait(
                    {bridged, ended}, timeout=abandon_after, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:  # nobody answered in time: the caller gives up
                    self._hang_up_caller(call)
            if hangup_after is not None and not call.hangup_ordered:
                await asyncio.wait({bridged, ended}, return_when=asyncio.FIRST_COMPLETED)
                if bridged.done() and not ended.done():
                    done, _ = await asyncio.wait({ended}, timeout=hangup_after)
                    if not done:
                        self._hang_up_caller(call)
            await ended
        finally:
            bridged.cancel()
            with contextlib.suppress(BaseException):
                await bridged
            if call.proc.returncode is not None:
                self._free_ports.append(call.port)

    async def _bridged(self, call: _Caller) -> None:
        """Until the caller is in a bridge with an admin phone's channel (that admin answered)."""
        number, did = call.placed.caller, call.placed.did

        def started(ev: dict[str, Any]) -> bool:
            chan = ev.get("channel") or {}
            return (
                ev.get("type") == "StasisStart"
                and chan.get("caller", {}).get("number") == number
                and chan.get("dialplan", {}).get("exten") == did
            )

        ev = await self.proxy.wait_event(started, since=call.since)
        assert ev is not None
        call.channel = ev["channel"]["id"]

        def with_admin(ev: dict[str, Any]) -> bool:
            if ev.get("type") != "ChannelEnteredBridge":
                return False
            members = ev.get("bridge", {}).get("channels", [])
            return call.channel in members and any(self._is_phone(m) for m in members)

        await self.proxy.wait_event(with_admin, since=call.since)
        call.bridged_at = time.monotonic()

    async def _phone_answered(self, call: _Caller) -> None:
        """Until an admin phone answers a leg made for this caller (its ``Up``, as the app sees it)."""
        number, did = call.placed.caller, call.placed.did
        legs: set[str] = set()

        def answered(ev: dict[str, Any]) -> bool:
            chan = ev.get("channel") or {}
            if ev.get("type") == "StasisStart":
                if (
                    chan.get("caller", {}).get("number") == number
                    and chan.get("dialplan", {}).get("exten") == did
                ):
                    call.channel = chan.get("id")
                elif call.channel and ev.get("args", [])[1:2] == [call.channel]:
                    legs.add(chan.get("id", ""))  # appArgs dialed,<caller's channel>
                return False
            return (
                ev.get("type") == "ChannelStateChange"
                and chan.get("state") == "Up"
                and chan.get("id") in legs
            )

        await self.proxy.wait_event(answered, since=call.since)

    def _is_phone(self, channel_id: str) -> bool:
        name = self.proxy.channel_names.get(channel_id, "")
        return name.startswith("PJSIP/") and name[6:].rsplit("-", 1)[0] in self._phones

    async def _caller_port(self) -> int:
        began = time.monotonic()
        deadline = began + 30
        while True:
            bound = _udp_ports_bound()
            for port in self._free_ports:
                if port not in bound:
                    self._free_ports.remove(port)
                    if time.monotonic() - began > 0.05:
                        self.port_waits.append(time.monotonic() - began)
                    return port
            if time.monotonic() > deadline:
                raise AssertionError(f"no free caller port among {CALLER_PORTS}")
            await asyncio.sleep(0.1)

    def _hang_up_caller(self, call: _Caller) -> None:
        self._order_hangup(call.call_id, call.port)
        call.hangup_ordered = True
        if call.left_at is None:
            call.left_at = time.time()

    async def caller_left_at(self, call: PlacedCall) -> float | None:
        """When Asterisk had the caller's hang-up (wall clock): its ChannelHangupRequest for the
        caller, as the simulator's record says when its caller left; or when the driver ordered it,
        if that event is not in the log. None when the far end had ended the call first: the
        caller's SIPp received a BYE, or a final error to its INVITE, before the order (its
        message trace tells the order in which they came). The order reaches Asterisk a few ms
        later (SIPp, then the BYE or CANCEL): a phone dialled in between was dialled before
        anyone could know."""
        found = next(c for c in self._callers if c.placed.ref == call.ref)
        if found.left_at is None:
            return None
        for first_line, headers in _received(found.log.with_suffix(".msg")):
            if first_line.startswith("INFO ") and "x-driver" in headers:
                return self._hangup_seen(found) or found.left_at  # the order came first
            if first_line.startswith("BYE "):
                return None
            code = first_line.split(" ", 2)[1] if first_line.startswith("SIP/2.0 ") else ""
            if code.isdigit() and int(code) >= 300 and headers.get("cseq", "").endswith("INVITE"):
                return None
        return found.left_at  # the caller's SIPp was gone before the order came

    def _hangup_seen(self, call: _Caller) -> float | None:
        """When the proxy saw the caller's own hang-up request (wall clock), if it did."""
        for ev in self.proxy.events:
            chan = ev.get("channel") or {}
            if (
                ev.get("type") == "ChannelHangupRequest"
                and chan.get("id") == call.channel
                and not ev.get("soft")
            ):
                return time.time() - (time.monotonic() - float(ev["_t"]))
        return None

    def _order_hangup(self, call_id: str, port: int) -> None:
        """An INFO on the call to the SIPp at ``port``: its scenario hangs up on it (BYE, or CANCEL)."""
        self._order(call_id, port, "hang-up")

    def _order(self, call_id: str, port: int, order: str, headers: dict[str, str] | None = None) -> None:
        """An INFO on the call to the SIPp at ``port`` carrying an order for its scenario
        (``X-Driver``: ``hang-up``, ``refer``), not answered."""
        self._seq += 1
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        own = self._orders.getsockname()[1]
        msg = (
            f"INFO sip:sipp@{LOCAL_IP}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {LOCAL_IP}:{own};branch=z9hG4bK-driver-{self._seq}\r\n"
            f"From: <sip:driver@{LOCAL_IP}:{own}>;tag=driver{self._seq}\r\n"
            f"To: <sip:sipp@{LOCAL_IP}:{port}>\r\n"
            f"Call-ID: {call_id}\r\n"
            "CSeq: 1 INFO\r\n"
            "Max-Forwards: 70\r\n"
            f"X-Driver: {order}\r\n"
            f"{extra}"
            "Content-Length: 0\r\n\r\n"
        )
        self._orders.sendto(msg.encode(), (LOCAL_IP, port))

    # ------------------------------------------------------------------ what happened
    async def shown(self, name: str) -> list[Shown]:
        """Read from the phone's SIPp message traces (every run of it): each call's first INVITE
        (no To tag: not a re-INVITE; a retransmission has a Call-ID already seen)."""
        ph = self._phones[name]
        seen: set[str] = set()
        found = []
        for run in range(1, ph.runs + 1):
            for first_line, headers in _received(self.logs / f"phone-{name}-{run}.msg"):
                call_id = headers.get("call-id", "")
                if (
                    not first_line.startswith("INVITE ")
                    or call_id in seen
                    or ";tag=" in headers.get("to", "")
                ):
                    continue
                seen.add(call_id)
                from_name, from_user = _identity(headers.get("from", ""))
                pai = headers.get("p-asserted-identity")
                found.append(Shown(from_name, from_user, pai))
        return found

    async def ari_requests(self) -> list[dict[str, Any]]:
        return [{**r, "query": dict(r["query"])} for r in self.proxy.requests]

    async def quiet(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            channels = [c["name"] for c in await self._get("/channels")]
            callers = [c.placed.caller for c in self._callers if c.proc.returncode is None]
            if not channels and not callers:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"PBX not quiet after {timeout} s: channels {channels}, callers up {callers}"
                )
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        live = [c for c in self._callers if c.proc.returncode is None]
        for call in live:
            if not call.hangup_ordered:
                self._hang_up_caller(call)
        if live:
            await asyncio.wait([asyncio.ensure_future(c.proc.wait()) for c in live], timeout=5)
        for call in self._callers:
            await self._stop(call.proc)
            if call.task is not None:
                call.task.cancel()
                with contextlib.suppress(BaseException):
                    await call.task
        for name, ph in self._phones.items():
            if ph.proc is not None:
                with contextlib.suppress(Exception):
                    await self._register(name, False)
                await self._stop(ph.proc)
        with contextlib.suppress(Exception):
            await self._clear_pbx("close")
        await self.proxy.stop()
        await self._http.close()
        self._orders.close()
        if self._keep_logs:  # what the app sent and what Asterisk told it, for the record
            with (self.logs / "ari.jsonl").open("w") as out:
                for entry in sorted(
                    [{"kind": "request", **r} for r in self.proxy.requests]
                    + [{"kind": "event", **e} for e in self.proxy.events],
                    key=lambda e: e.get("_t", e.get("t", 0)),
                ):
                    out.write(json.dumps(entry, default=str) + "\n")
        else:
            shutil.rmtree(self.logs, ignore_errors=True)
        if self.port_waits:  # the calls were placed slower than asked
            print(
                f"asterisk driver: {len(self.port_waits)} of {len(self._callers)} calls waited for a free "
                f"caller port (up to {max(self.port_waits):.1f} s, {sum(self.port_waits):.0f} s in all)",
                file=sys.stderr,
            )

    # ------------------------------------------------------------------ plumbing
    async def _get(self, path: str, **query: str) -> Any:
        async with self._http.get(f"{self._ari}{path}", params=query) as r:
            if r.status >= 400:
                raise AssertionError(f"ARI GET {path}: {r.status} {await r.text()}")
            return await r.json()

    async def _clear_pbx(self, when: str) -> None:
        """Hang up the channels and destroy the bridges left on the PBX (after the app stopped)."""
        found = []
        for kind in ("channels", "bridges"):
            for item in await self._get(f"/{kind}"):
                what = item.get("name") or f"{item.get('bridge_type')} {item.get('channels')}"
                found.append(f"{when}: {kind} {item['id']} {what}")
                async with self._http.delete(f"{self._ari}/{kind}/{item['id']}"):
                    pass
        if found:
            self.leftovers += found
            print(f"asterisk driver cleared: {found}", file=sys.stderr)

    async def _spawn(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            self._sipp, *args, "-nostdin", f"{self._sip[0]}:{self._sip[1]}",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, cwd=self.logs,
        )  # fmt: skip

    async def _listening(self, port: int, proc: asyncio.subprocess.Process, log: Path) -> None:
        deadline = time.monotonic() + 5
        while port not in _udp_ports_bound():
            if proc.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"sipp did not start on port {port}; see {log}.err")
            await asyncio.sleep(0.02)

    @staticmethod
    async def _stop(proc: asyncio.subprocess.Process | None) -> None:
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 2)
        except TimeoutError:
            proc.kill()
            await proc.wait()
