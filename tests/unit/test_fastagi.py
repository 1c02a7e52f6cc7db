"""The FastAGI server over real TCP: the dialplan's scripts, and clients that do not speak AGI."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
import structlog.testing
from prometheus_client import CollectorRegistry

from ari_app.config import Settings, parse_settings
from ari_app.dialplan import FastAgiServer, StoreNameLookup
from ari_app.logging import redact
from ari_app.numbers import Regions, to_e164
from ari_app.people.identity import UNKNOWN, CallerIdentity
from ari_app.store import CallStore, Database

Logs = list[MutableMapping[str, Any]]
StartServer = Callable[..., Awaitable[tuple[FastAgiServer, int]]]

WEDNESDAY_10_NY = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York
WEDNESDAY_22_NY = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)  # 22:00 in New York
CHRISTMAS_10_NY = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)  # a Friday, a US public holiday

# What Asterisk 22 sends for AGI(agi://127.0.0.1/caller-name) on a call from the trunk.
ASTERISK_HEADER = {
    "network": "yes",
    "network_script": "caller-name",
    "request": "agi://127.0.0.1/caller-name",
    "channel": "PJSIP/trunk-00000001",
    "language": "en",
    "type": "PJSIP",
    "uniqueid": "1795344977.12",
    "version": "22.0.0",
    "callerid": "5550100",
    "calleridname": "unknown",
    "callingpres": "0",
    "callingani2": "0",
    "callington": "0",
    "callingtns": "0",
    "dnid": "5551234",
    "rdnis": "unknown",
    "context": "from-trunk",
    "extension": "5551234",
    "priority": "2",
    "enhanced": "0.0",
    "accountcode": "",
    "threadid": "140154412123456",
}


def settings(timeout: float) -> Settings:
    return parse_settings(
        {
            "version": 1,
            "fastagi": {"timeout": timeout},
            "branches": [
                {
                    "id": "downtown",
                    "name": "Downtown",
                    "timezone": "America/New_York",
                    "hours": {day: ["08:00-20:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
                    "holidays": {"country": "US"},
                    "dids": [{"number": "5551234"}],
                },
                {"id": "night", "name": "Night line", "dids": [{"number": "+15559999"}]},
            ],
            "admins": [{"login": "anna", "name": "Anna", "endpoint": "PJSIP/admin101", "branch": "downtown"}],
        },
        "test",
    )


def header(script: str = "caller-name", **values: str) -> bytes:
    fields = {**ASTERISK_HEADER, "network_script": script, "request": f"agi://127.0.0.1/{script}", **values}
    return "".join(f"agi_{k}: {v}\n" for k, v in fields.items()).encode() + b"\n"


class DictLookup:
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.branches: list[str | None] = []  # the branch each number was read for

    async def name_for(self, number: str, branch: str | None = None) -> str | None:
        self.branches.append(branch)
        return self.names.get(number)


class StuckLookup:
    async def name_for(self, number: str, branch: str | None = None) -> str | None:
        await asyncio.Event().wait()
        return None


class BrokenLookup:
    async def name_for(self, number: str, branch: str | None = None) -> str | None:
        raise RuntimeError("database said no for 5550100")


@pytest.fixture
def logs() -> Iterator[Logs]:
    with structlog.testing.capture_logs() as captured:
        yield captured


@pytest.fixture
async def start() -> AsyncIterator[StartServer]:
    servers: list[FastAgiServer] = []

    async def start_server(timeout: float = 0.3, **kwargs: Any) -> tuple[FastAgiServer, int]:
        server = FastAgiServer(settings(timeout), **kwargs)
        servers.append(server)
        return server, await server.start("127.0.0.1", 0)

    yield start_server
    for server in servers:
        await server.close()


async def session(port: int, data: bytes, replies: list[bytes] | None = None) -> list[str]:
    """Plays Asterisk: sends the header, answers each command (``200 result=1`` unless told
    otherwise) until the server closes; returns the commands received."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    commands = []
    try:
        while line := await asyncio.wait_for(reader.readline(), 2.0):
            commands.append(line.decode().rstrip("\n"))
            writer.write(replies.pop(0) if replies else b"200 result=1\n")
    finally:
        writer.close()
        await writer.wait_closed()
    return commands


async def closed_by_server(reader: asyncio.StreamReader, within: float = 2.0) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), within) == b""
    except ConnectionResetError:
        return True


async def until(condition: Callable[[], bool], within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def open_sockets() -> int:
    """Sockets this process holds (Linux); 0 where /proc is not there."""
    count = 0
    for fd in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:  # the descriptor of the listing itself, already closed
            pass
    return count


# ---------------------------------------------------------------------------- caller-name
async def test_caller_name_sets_the_name_from_past_calls(start: StartServer, logs: Logs) -> None:
    registry = CollectorRegistry()
    server, port = await start(lookup=DictLookup({"5550100": 'Ann "Annie"\n Smith\\'}), registry=registry)
    commands = await session(port, header())
    assert commands == [
        'SET VARIABLE CALLERID(name) "Ann Annie Smith\\\\"',
        'SET VARIABLE CLINIC_KNOWN "1"',
    ]
    assert server.requests == {("caller-name", "known"): 1}
    sample = registry.get_sample_value(
        "clinic_fastagi_requests_total", {"script": "caller-name", "result": "known"}
    )
    assert sample == 1
    assert "Smith" not in repr(logs) and "5550100" not in repr(logs)
    await until(lambda: server.live_connections == 0)


@pytest.mark.parametrize(
    ("callerid", "lookup", "expected", "result"),
    [
        ("5550100", DictLookup({}), ['SET VARIABLE CLINIC_KNOWN "0"'], "unknown"),
        ("5550100", DictLookup({"5550100": ' "\n '}), ['SET VARIABLE CLINIC_KNOWN "0"'], "unknown"),
        ("unknown", DictLookup({}), ['SET VARIABLE CLINIC_KNOWN "0"'], "no_number"),
        ("5550100", StuckLookup(), [], "timeout"),
        ("5550100", BrokenLookup(), [], "error"),
    ],
)
async def test_caller_name_without_a_name(
    start: StartServer, logs: Logs, callerid: str, lookup: Any, expected: list[str], result: str
) -> None:
    server, port = await start(lookup=lookup, lookup_timeout=0.05)
    began = time.monotonic()
    assert await session(port, header(callerid=callerid)) == expected
    assert time.monotonic() - began < 1.0
    assert server.requests == {("caller-name", result): 1}
    if result in ("timeout", "error"):
        warning = next(e for e in logs if e["event"].startswith("fastagi_lookup"))
        # The number is logged under a key the redactor masks: the last three digits only.
        assert warning["log_level"] == "warning" and redact(None, "", dict(warning))["caller"] == "****100"
        assert "5550100" not in repr([redact(None, "", dict(e)) for e in logs])


async def test_caller_name_from_a_real_store(start: StartServer, tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}")
    await db.migrate()
    store = CallStore(db)
    now = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    for n, (number, name, age) in enumerate(
        [("2025550142", "Ann Old", 48), ("2025550142", "Ann Smith", 24), ("2025550142", "", 1),
         ("2025550199", "Someone Else", 2)]
    ):  # fmt: skip
        await store.call_started(
            call_id=f"call-{n}", channel_id=f"chan-{n}", caller_number=number,
            caller_e164=to_e164(number, "US"), caller_name=name, did="5551234", branch="downtown",
            ad_channel=None, started_at=now - timedelta(hours=age),
        )  # fmt: skip
    try:
        lookup = StoreNameLookup(db.session, Regions("US"))
        assert await lookup.name_for("2025550142") == "Ann Smith"
        assert await lookup.name_for("+1 202 555 0142") == "Ann Smith"
        assert await lookup.name_for("2025550100") is None
        assert await StoreNameLookup(db.session).name_for("2025550142") == "Ann Smith"
        assert await StoreNameLookup(db.session).name_for("+12025550142") is None  # as dialled
        _, port = await start(lookup=lookup)
        commands = await session(port, header(callerid="+12025550142"))
        assert commands == ['SET VARIABLE CALLERID(name) "Ann Smith"', 'SET VARIABLE CLINIC_KNOWN "1"']
        # The directories first; their silence or failure leaves the past calls' name.
        for directory, number, expected in [
            (_Directory(STAFF), "2025550142", "Dr Who"),
            (_Directory(UNKNOWN), "2025550142", "Ann Smith"),
            (_Directory(RuntimeError("db down")), "2025550142", "Ann Smith"),
            (_Directory(STAFF), "2025550100", "Dr Who"),
            (_Directory(STAFF), "anonymous", None),  # nothing to ask the directory
        ]:
            both = StoreNameLookup(db.session, Regions("US"), directory)
            assert await both.name_for(number) == expected, directory
        assert _Directory.asked[-1] == "+12025550100"  # in E.164
    finally:
        await db.dispose()


STAFF = CallerIdentity("staff", contact_name="Dr Who")


class _Directory:
    asked: ClassVar[list[str]] = []

    def __init__(self, answer: CallerIdentity | Exception) -> None:
        self._answer = answer

    async def identify(self, number_e164: str) -> CallerIdentity:
        _Directory.asked.append(number_e164)
        if isinstance(self._answer, Exception):
            raise self._answer
        return self._answer


# ---------------------------------------------------------------------------- branch-open
@pytest.mark.parametrize(
    ("now", "values", "expected", "result"),
    [
        (WEDNESDAY_10_NY, {}, ("1", "", "downtown"), "open"),
        (WEDNESDAY_22_NY, {}, ("0", "closed_hours", "downtown"), "closed_hours"),
        (CHRISTMAS_10_NY, {}, ("0", "holiday", "downtown"), "holiday"),
        (WEDNESDAY_10_NY, {"dnid": "unknown"}, ("1", "", "downtown"), "open"),  # from agi_extension
        (WEDNESDAY_22_NY, {"dnid": "15559999"}, ("1", "", "night"), "open"),  # no hours: always open
        (WEDNESDAY_10_NY, {"dnid": "5550000", "extension": "s"}, ("0", "unknown_did", ""), "unknown_did"),
    ],
)
async def test_branch_open(
    start: StartServer, now: datetime, values: dict[str, str], expected: tuple[str, ...], result: str
) -> None:
    server, port = await start(clock=lambda: now)
    commands = await session(port, header("branch-open", **values))
    names = ("CLINIC_OPEN", "CLINIC_CLOSED_REASON", "CLINIC_BRANCH")
    assert commands == [f'SET VARIABLE {n} "{v}"' for n, v in zip(names, expected, strict=True)]
    assert server.requests == {("branch-open", result): 1}


# ---------------------------------------------------------------------------- the protocol
async def test_unknown_script_gets_a_verbose_and_is_closed(start: StartServer) -> None:
    server, port = await start()
    commands = await session(port, header("whois?x=1"))
    assert commands == ["VERBOSE \"unknown AGI script 'whois'\" 1"]
    assert server.requests == {("unknown", "unknown_script"): 1}


async def test_each_reply_is_read_before_the_next_command(start: StartServer) -> None:
    _, port = await start(clock=lambda: WEDNESDAY_10_NY)
    replies = [
        b"100 result=0 Trying...\n200 result=1\n",
        b"520-Invalid command syntax.  Proper usage follows:\nUsage: SET VARIABLE\n"
        b"520 End of proper usage.\n",
        b"200 result=1\n",
    ]
    commands = await session(port, header("branch-open").replace(b"\n", b"\r\n"), replies)
    assert len(commands) == 3


async def test_hangup_from_asterisk_ends_the_session(start: StartServer, logs: Logs) -> None:
    server, port = await start(clock=lambda: WEDNESDAY_10_NY)
    assert await session(port, header("branch-open"), [b"HANGUP\n"]) == ['SET VARIABLE CLINIC_OPEN "1"']
    await until(lambda: server.live_connections == 0)
    assert next(e for e in logs if e["event"] == "fastagi_request")["ended"] == "hangup"


async def test_silent_asterisk_times_out_after_a_command(start: StartServer) -> None:
    server, port = await start(timeout=0.1, clock=lambda: WEDNESDAY_10_NY)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(header("branch-open"))
    assert await reader.readline() == b'SET VARIABLE CLINIC_OPEN "1"\n'
    assert await closed_by_server(reader)
    writer.close()
    await until(lambda: server.live_connections == 0)


BAD_CLIENTS: list[tuple[str, bytes, str]] = [
    ("closes at once", b"", "closed_early"),
    ("closes mid-header", b"agi_network: yes\nagi_network_scr", "closed_early"),
    ("HTTP request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not_agi"),
    ("binary garbage", bytes(range(256)) * 4, "not_agi"),
    ("agi line without colon", b"agi_network yes\n\n", "not_agi"),
    ("blank line first", b"\n", "not_agi"),
    ("no script", b"agi_network: yes\n\n", "no_script"),
    ("line too long", b"agi_x: " + b"a" * 2000 + b"\n\n", "line_too_long"),
    ("too many lines", b"".join(b"agi_n%d: x\n" % i for i in range(250)) + b"\n", "too_many_lines"),
    ("header too large", b"".join(b"agi_n%d: %s\n" % (i, b"a" * 900) for i in range(10)), "too_large"),
]


@pytest.mark.parametrize(("data", "kind"), [c[1:] for c in BAD_CLIENTS], ids=[c[0] for c in BAD_CLIENTS])
async def test_bad_client_is_closed_logged_and_counted(
    start: StartServer, logs: Logs, data: bytes, kind: str
) -> None:
    registry = CollectorRegistry()
    server, port = await start(registry=registry, clock=lambda: WEDNESDAY_10_NY)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    if kind == "closed_early":
        writer.close()
    assert await closed_by_server(reader)
    writer.close()
    await until(lambda: server.live_connections == 0)
    assert server.bad_clients == {kind: 1}
    assert registry.get_sample_value("clinic_fastagi_bad_clients_total", {"kind": kind}) == 1
    entry = next(e for e in logs if e["event"] == "fastagi_bad_client")
    assert entry["kind"] == kind and entry["detail"] and entry["log_level"] == "warning"
    assert len(await session(port, header("branch-open"))) == 3  # still serving


async def test_stalled_header_times_out(start: StartServer) -> None:
    server, port = await start(timeout=0.1)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(header()[:100])
    began = time.monotonic()
    assert await closed_by_server(reader)
    assert 0.08 < time.monotonic() - began < 1.0
    writer.close()
    await until(lambda: server.live_connections == 0)
    assert server.bad_clients == {"timeout": 1}


async def test_fifty_bad_clients_do_not_delay_a_good_one(start: StartServer) -> None:
    server, port = await start(timeout=2.0, clock=lambda: WEDNESDAY_10_NY)
    writers = []
    for i in range(50):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write([b"", b"GET / HTTP/1.0\r\n\r\n", b"agi_network: yes\n"][i % 3])
        if i % 3 == 0:
            writer.close()
        writers.append(writer)
    began = time.monotonic()
    assert len(await session(port, header("branch-open"))) == 3
    assert time.monotonic() - began < 0.5
    await until(lambda: server.live_connections == 16)  # the stalled ones, until their timeout
    assert server.bad_clients == {"closed_early": 17, "not_agi": 17}
    await server.close()
    assert server.live_connections == 0
    for writer in writers:
        writer.close()


async def test_close_leaves_no_task_or_socket(start: StartServer) -> None:
    baseline = open_sockets()
    server, port = await start(timeout=5.0, clock=lambda: WEDNESDAY_10_NY)
    clients = [await asyncio.open_connection("127.0.0.1", port) for _ in range(6)]
    clients[0][1].write(header()[:50])  # stalled mid-header
    clients[1][1].write(header("branch-open"))  # never answers its first command
    assert await clients[1][0].readline()
    clients[2][1].close()  # gone at once
    await until(lambda: server.live_connections == 5)
    await server.close()
    assert server.live_connections == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}
    for reader, writer in clients:
        assert await closed_by_server(reader, within=1.0)
        writer.close()
        await writer.wait_closed()
    await until(lambda: open_sockets() == baseline)


@pytest.mark.parametrize(
    ("values", "branch"),
    [
        ({}, "downtown"),  # the DID dialled (dnid and extension) is downtown's
        ({"dnid": "unknown", "extension": "+15559999"}, "night"),
        ({"dnid": "5550000", "extension": "5550000"}, None),  # not one of ours: the default region
    ],
)
async def test_the_caller_is_read_in_the_dialled_branch_region(
    start: StartServer, values: dict[str, str], branch: str | None
) -> None:
    lookup = DictLookup({"2025550142": "Ann Smith"})
    _, port = await start(lookup=lookup)
    await session(port, header(callerid="2025550142", **values))
    assert lookup.branches == [branch]


async def test_a_branch_region_reads_the_number_for_the_directory(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}")
    await db.migrate()
    try:
        kyiv = StoreNameLookup(db.session, Regions("US", {"kyiv": "UA"}), _Directory(STAFF))
        assert await kyiv.name_for("067 123 45 67", "kyiv") == "Dr Who"
        assert _Directory.asked[-1] == "+380671234567"
    finally:
        await db.dispose()
