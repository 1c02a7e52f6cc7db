"""A handshake Asterisk refuses for a configuration error (credentials, URL, app) says what to
fix, is retried slowly, and is forgotten once a connection comes up."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable

from ari_app.ari.events import EventStream
from tests.ari.fake_ari import PASSWORD, FakeAri, LogEntries


class Longest(random.Random):
    """Backoff without jitter: always the longest delay allowed."""

    def uniform(self, a: float, b: float) -> float:
        return b


async def until(ok: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if ok():
                return
            await asyncio.sleep(0.005)


async def test_wrong_credentials_say_so_and_back_off_further(
    fake: FakeAri, running: Callable[..., EventStream], logs: LogEntries
) -> None:
    fake.reject_ws, fake.reject_status = 7, 401
    # The usual cap (backoff_max 0.05 s) would retry 7 times within 0.35 s.
    stream = running(rng=Longest(), refused_backoff_max=0.3)
    await until(lambda: len(fake.ws_attempts) >= 3 and stream.problem is not None)
    assert stream.problem is not None and stream.problem.state == "unauthorized"
    assert stream.problem.detail == (
        "Asterisk refused the ARI username/password (401): check ARI_USERNAME/ARI_PASSWORD and ari.conf"
    )
    said = [e for e in logs if e["event"] == "ari_credentials_rejected"]
    assert said and {e["detail"] for e in said} == {stream.problem.detail}
    assert {e["log_level"] for e in said} == {"warning"}
    assert PASSWORD not in repr(logs)

    assert await stream.wait_connected(5)  # retried until Asterisk lets us in
    gaps = [b - a for a, b in itertools.pairwise(fake.ws_attempts)]
    assert max(gaps) >= 0.25  # beyond backoff_max, up to refused_backoff_max
    assert stream.problem is None


async def test_no_events_at_that_url_says_which_url(
    fake: FakeAri, running: Callable[..., EventStream], logs: LogEntries
) -> None:
    base = fake.url.removesuffix("/ari") + "/asterisk"  # ARI is served under /ari
    stream = running(base)
    await until(lambda: stream.problem is not None)
    assert stream.problem is not None
    url = base.replace("http://", "ws://") + "/events"
    assert stream.problem.state == "not_found" and url in stream.problem.detail
    assert "check ari.url" in stream.problem.detail
    assert any(e["event"] == "ari_events_not_found" and e["status"] == 404 for e in logs)


async def test_unreachable_asterisk_is_named_but_not_refused(running: Callable[..., EventStream]) -> None:
    stream = running("http://127.0.0.1:1/ari")
    await until(lambda: stream.problem is not None)
    assert stream.problem is not None
    assert stream.problem.state == "disconnected"
    assert stream.problem.detail.startswith("cannot reach ws://127.0.0.1:1/ari/events: ")
