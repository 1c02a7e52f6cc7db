"""Fixtures for the ARI client tests: the fake server, a client and streams on it, captured logs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import structlog.testing

from ari_app.ari.client import AriClient
from ari_app.ari.events import EventStream
from tests.ari.fake_ari import APP, PASSWORD, USER, FakeAri, LogEntries
from tests.ari.recorder import Recorder, make_stream


@pytest.fixture
async def fake() -> AsyncIterator[FakeAri]:
    server = FakeAri()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(fake: FakeAri) -> AsyncIterator[AriClient]:
    c = AriClient(fake.url, USER, PASSWORD, APP, timeout=2.0)
    yield c
    await c.close()


@pytest.fixture
def logs() -> Iterator[LogEntries]:
    """Every structlog entry made during the test, at any level."""
    with structlog.testing.capture_logs() as captured:
        yield captured


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
async def running(fake: FakeAri, rec: Recorder) -> AsyncIterator[Callable[..., EventStream]]:
    """Starts streams on the fake server; stops them (and checks run() ended) afterwards."""
    started: list[tuple[EventStream, asyncio.Task[None]]] = []

    def start(url: str | None = None, **options: Any) -> EventStream:
        stream = make_stream(url or fake.url, rec, **options)
        started.append((stream, asyncio.get_running_loop().create_task(stream.run())))
        return stream

    yield start
    for stream, task in started:
        await stream.stop()
        await asyncio.wait_for(task, 1.0)
