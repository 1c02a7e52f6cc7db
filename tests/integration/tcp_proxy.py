"""A TCP proxy for outage tests: forwards to a server until cut, then drops every established
connection (RST, whatever was in flight) and swallows new ones without answering, so clients
wait out their own timeouts, as across a dead network path, until healed."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.cut_now = False
        self.connections = 0
        self.dropped = 0
        self.swallowed = 0
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.StreamWriter] = set()
        self._held: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        self.heal()
        for w in list(self._live):
            _abort(w)
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        self.cut_now = True
        for w in list(self._live):
            self.dropped += 1
            _abort(w)
        self._live.clear()

    def heal(self) -> None:
        self.cut_now = False
        for w in list(self._held):
            _abort(w)  # a client still waiting on a swallowed connection sees it fail
        self._held.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_now:
            self.swallowed += 1
            self._held.add(writer)
            with contextlib.suppress(Exception):
                while await reader.read(65536):
                    pass  # read and ignore: no answer ever comes
            self._held.discard(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _abort(writer)
            return
        self.connections += 1
        self._live.update((writer, up_writer))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)
        self._live.discard(writer)
        self._live.discard(up_writer)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        _abort(writer)


def _abort(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    if transport is not None and not transport.is_closing():
        transport.abort()
