"""The FastAGI server the dialplan calls: ``AGI(agi://<host>:4573/caller-name)``, ``.../branch-open``.

The AGI reading is our own (``asyncio.start_server``) rather than panoramisk's FastAGI
``Application``: on a client that closes before its blank line it keeps reading an empty
buffer without ever yielding (the whole event loop freezes), and it waits without limit on
one that stalls. Here every header
is bounded in time, lines and bytes; whatever is not AGI is logged by kind, counted and
closed, and ``close()`` ends every live connection with the listener.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from prometheus_client import CollectorRegistry, Counter

from ari_app.config import Settings
from ari_app.dialplan.lookup import NameLookup
from ari_app.dialplan.protocol import (
    MAX_LINE,
    AgiChannel,
    AgiClientError,
    AgiHangup,
    AgiProtocolError,
    AgiRequest,
    command_head,
    read_request,
    verbose,
)
from ari_app.dialplan.scripts import BranchOpen, CallerName, Clock, ScriptAnswer

log = structlog.get_logger(__name__)

Script = Callable[[AgiRequest], Awaitable[ScriptAnswer]]
_DEAD_CHANNEL = 511  # "Command Not Permitted on a dead channel": nothing more will be done


@dataclass(frozen=True)
class FastAgiMetrics:
    requests: Counter
    bad_clients: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> FastAgiMetrics:
        return cls(
            requests=Counter(
                "clinic_fastagi_requests",
                "FastAGI requests from the dialplan, by script and result",
                ["script", "result"],
                registry=registry,
            ),
            bad_clients=Counter(
                "clinic_fastagi_bad_clients",
                "FastAGI connections closed for not speaking AGI, by kind",
                ["kind"],
                registry=registry,
            ),
        )


class FastAgiServer:
    """Answers the dialplan's AGI requests; ``start`` binds, ``close`` ends everything.

    ``timeout`` (``[fastagi] timeout``) bounds the request header and each command's reply;
    ``lookup_timeout`` bounds the name lookup so the call is never held up by the database.
    """

    def __init__(
        self,
        settings: Settings,
        lookup: NameLookup | None = None,
        *,
        registry: CollectorRegistry | None = None,
        clock: Clock = lambda: datetime.now(UTC),
        lookup_timeout: float = 1.0,
    ) -> None:
        self._timeout = settings.fastagi.timeout
        self._scripts: dict[str, Script] = {
            "caller-name": CallerName(lookup, lookup_timeout, functools.partial(_branch_of, settings)),
            "branch-open": BranchOpen(settings, clock),
        }
        self._metrics = FastAgiMetrics.create(registry) if registry is not None else None
        self.requests: collections.Counter[tuple[str, str]] = collections.Counter()  # (script, result)
        self.bad_clients: collections.Counter[str] = collections.Counter()  # kind
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[object], asyncio.StreamWriter] = {}
        self._closing = False

    @property
    def live_connections(self) -> int:
        return len(self._connections)

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0: any free port); returns the port bound."""
        self._closing = False
        self._server = await asyncio.start_server(self._on_connect, host, port, limit=MAX_LINE)
        bound: int = self._server.sockets[0].getsockname()[1]
        log.info("fastagi_listening", host=host, port=bound, timeout=self._timeout)
        return bound

    async def close(self) -> None:
        """Stop listening and end every live connection; returns once their tasks are done."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        # A connection accepted just before the listener closed may start its task only now.
        await asyncio.sleep(0)
        while self._connections:
            tasks = list(self._connections)
            for task, writer in self._connections.items():
                writer.transport.abort()
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
            log.info("fastagi_closed")

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        peer = _peer(writer)
        try:
            if not self._closing:
                await self._session(reader, writer, peer)
        except Exception:
            log.exception("fastagi_session_failed", peer=peer)
        finally:
            self._connections.pop(task, None)
            await _close(writer)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout):
                request = await _read_header(reader)
        except TimeoutError:
            self._bad_client("timeout", peer, f"no complete AGI header within {self._timeout} s")
            return
        except AgiClientError as exc:
            self._bad_client(exc.kind, peer, exc.detail)
            return
        script = self._scripts.get(request.script)
        if script is None:
            label = "unknown"  # never the client's text: labels stay few
            answer = ScriptAnswer("unknown_script", (verbose(f"unknown AGI script {request.script!r}"),))
            log.warning("fastagi_unknown_script", script=request.script[:64], peer=peer)
        else:
            label = request.script
            answer = await script(request)
        self.requests[label, answer.result] += 1
        if self._metrics is not None:
            self._metrics.requests.labels(label, answer.result).inc()
        ended = await self._send(AgiChannel(reader, writer, self._timeout), answer.commands, label, peer)
        took_ms = round((time.monotonic() - started) * 1000, 1)
        log.info("fastagi_request", script=label, result=answer.result, ended=ended, took_ms=took_ms)

    async def _send(self, channel: AgiChannel, commands: tuple[str, ...], script: str, peer: str) -> str:
        """Sends the commands in turn; returns how the session ended, for the log."""
        try:
            for command in commands:
                reply = await channel.send(command)
                if reply.code == _DEAD_CHANNEL:
                    return "dead_channel"
                if reply.code != 200:
                    log.warning("fastagi_command_refused", script=script, command=command_head(command),
                                code=reply.code, peer=peer)  # fmt: skip
        except AgiHangup:
            return "hangup"
        except TimeoutError:
            log.warning("fastagi_reply_timeout", script=script, timeout=self._timeout, peer=peer)
            return "reply_timeout"
        except AgiProtocolError as exc:
            log.warning("fastagi_bad_reply", script=script, detail=str(exc), peer=peer)
            return "bad_reply"
        except ConnectionError:
            return "connection_lost"
        return "done"

    def _bad_client(self, kind: str, peer: str, detail: str) -> None:
        self.bad_clients[kind] += 1
        if self._metrics is not None:
            self._metrics.bad_clients.labels(kind).inc()
        log.warning("fastagi_bad_client", kind=kind, detail=detail, peer=peer)


async def _read_header(reader: asyncio.StreamReader) -> AgiRequest:
    request = await read_request(reader)
    if not request.script:
        raise AgiClientError("no_script", "the header has no agi_network_script")
    return request


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        async with asyncio.timeout(1.0):
            await writer.wait_closed()
    except (TimeoutError, OSError):
        writer.transport.abort()  # a peer that reads nothing must not hold the socket open
    except asyncio.CancelledError:
        writer.transport.abort()
        raise


def _branch_of(settings: Settings, did: str) -> str | None:
    found = settings.branch_for_did(did)
    return found[0].id if found else None
