"""The AGI wire protocol as Asterisk speaks it over FastAGI: the request header, commands, replies.

Asterisk opens the connection, sends ``agi_<name>: <value>`` lines and a blank line, then waits
for commands; each command gets one reply (``200 result=1``) before the next is sent. When the
channel hangs up, Asterisk sends a line ``HANGUP`` in place of (or before) the reply.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass

MAX_LINE = 1024  # bytes in one line; the stream reader's limit
MAX_HEADER_LINES = 200
MAX_HEADER_BYTES = 8192
MAX_VALUE = 80  # Asterisk's caller id name field is 80 characters

_HEADER_KEY = re.compile(r"agi_[A-Za-z0-9_]+")
_REPLY = re.compile(r"(\d{3})([ -])(.*)")
_RESULT = re.compile(r"result=(\S*)")
_UNSAFE = re.compile(r'["\x00-\x1f\x7f]')  # quotes end the argument; control characters end the line


class AgiClientError(Exception):
    """The peer is not a well-behaved AGI client; ``kind`` is a metric label, ``detail`` is for logs."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class AgiHangup(Exception):
    """Asterisk sent ``HANGUP``, or closed the connection while a reply was awaited."""


class AgiProtocolError(Exception):
    """A reply that is not AGI (the text is not kept: it may hold caller data)."""


@dataclass(frozen=True)
class AgiRequest:
    headers: Mapping[str, str]  # names without the ``agi_`` prefix: "callerid", "network_script", ...

    def get(self, name: str) -> str:
        return self.headers.get(name, "")

    @property
    def script(self) -> str:
        """The path after the host in ``agi://host:port/<script>?<query>``, without slashes or query."""
        return self.get("network_script").split("?", 1)[0].strip("/")


async def read_request(reader: asyncio.StreamReader) -> AgiRequest:
    """The header up to its blank line. Raises AgiClientError; the caller bounds the time it takes."""
    headers: dict[str, str] = {}
    lines = 0
    size = 0
    while True:
        try:
            raw = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if lines == 0 and not exc.partial:
                raise AgiClientError("closed_early", "closed without sending anything") from None
            raise AgiClientError("closed_early", f"closed mid-header after {lines} lines") from None
        except asyncio.LimitOverrunError:
            detail = f"header line {lines + 1} exceeds {MAX_LINE} bytes"
            raise AgiClientError("line_too_long", detail) from None
        size += len(raw)
        if size > MAX_HEADER_BYTES:
            raise AgiClientError("too_large", f"header exceeds {MAX_HEADER_BYTES} bytes")
        line = raw.rstrip(b"\r\n")
        if not line:
            if not headers:
                raise AgiClientError("not_agi", "blank line before any agi_ header")
            return AgiRequest(headers)
        lines += 1
        if lines > MAX_HEADER_LINES:
            raise AgiClientError("too_many_lines", f"more than {MAX_HEADER_LINES} header lines")
        key, sep, value = line.decode("utf-8", errors="replace").partition(":")
        if not sep or not _HEADER_KEY.fullmatch(key):
            # Only text before an agi_ prefix is shown: a malformed AGI line may hold a caller's name.
            shown = "" if key.startswith("agi_") else f": {line[:16]!r}"
            raise AgiClientError("not_agi", f"header line {lines} is not 'agi_<name>: <value>'{shown}")
        headers[key[4:]] = value.strip()


@dataclass(frozen=True)
class AgiReply:
    code: int
    result: str  # the ``result=`` value of a 200 reply, else ""


class AgiChannel:
    """Sends commands one at a time; each waits for its reply (at most ``timeout`` seconds)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = timeout

    async def send(self, command: str) -> AgiReply:
        self._writer.write(command.encode("utf-8") + b"\n")
        async with asyncio.timeout(self._timeout):
            await self._writer.drain()
            return await self._read_reply()

    async def _read_reply(self) -> AgiReply:
        while True:
            line = await self._line()
            if line == "HANGUP":
                raise AgiHangup("Asterisk sent HANGUP")
            match = _REPLY.fullmatch(line)
            if match is None:
                raise AgiProtocolError(f"reply of {len(line)} characters is not '<code> <text>'")
            code, more, text = int(match[1]), match[2] == "-", match[3]
            if code == 100:  # "100 result=0 Trying...": the real reply follows
                continue
            if more:  # "520-Invalid command syntax.  Proper usage follows:" ... "520 End of proper usage."
                while not (await self._line()).startswith(f"{code} "):
                    pass
            result = _RESULT.match(text) if code == 200 else None
            return AgiReply(code, result[1] if result else "")

    async def _line(self) -> str:
        try:
            raw = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            raise AgiHangup("connection closed by Asterisk") from None
        except asyncio.LimitOverrunError:
            raise AgiProtocolError(f"reply line exceeds {MAX_LINE} bytes") from None
        return raw.rstrip(b"\r\n").decode("utf-8", errors="replace")


def clean(value: str, limit: int = MAX_VALUE) -> str:
    """The value without double quotes and control characters (which would end the argument or
    the command line), trimmed to ``limit`` characters."""
    return _UNSAFE.sub("", value).strip()[:limit]


def quote(value: str, limit: int = MAX_VALUE) -> str:
    """One AGI argument in double quotes; backslashes doubled (Asterisk's argument parser reads
    ``\\x`` as a literal ``x``, so a lone one would swallow the closing quote)."""
    return '"' + clean(value, limit).replace("\\", "\\\\") + '"'


def set_variable(name: str, value: str) -> str:
    return f"SET VARIABLE {name} {quote(value)}"


def verbose(message: str, level: int = 1) -> str:
    return f"VERBOSE {quote(message, limit=200)} {level}"


def command_head(command: str) -> str:
    """What a log may show of a command: its verb and variable name, never the value."""
    return " ".join(command.split(" ", 3)[:3]) if command.startswith("SET VARIABLE") else command.split()[0]
