"""Phone presence: a phone Asterisk does not know yet is retried on its own until it can be
watched; the retries end with the connection and with the app."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Any, cast

from ari_app.ari import models as m
from ari_app.ari.client import AriClient, AriUnprocessable
from ari_app.calls.desk import FrontDesk
from ari_app.presence import PhonePresence

ROUTE = "/applications/{app}/subscription"


class FakeAsterisk:
    """Knows some PJSIP endpoints; subscribing to another answers 422, as Asterisk does."""

    def __init__(self, known: dict[str, str]) -> None:
        self.known = known
        self.subscribed: list[str] = []
        self.attempts: list[tuple[float, str]] = []

    async def subscribe(self, sources: Sequence[str], *, app: str | None = None) -> None:
        for source in sources:
            name = source.removeprefix("endpoint:PJSIP/")
            self.attempts.append((asyncio.get_running_loop().time(), name))
            if name not in self.known:
                raise AriUnprocessable("POST", ROUTE, 422, "Event source does not exist")
            self.subscribed.append(name)

    async def list_endpoints(self, tech: str | None = None) -> list[m.Endpoint]:
        return [m.Endpoint("PJSIP", name, [], state) for name, state in self.known.items()]

    async def get_endpoint(self, tech: str, resource: str) -> m.Endpoint:
        return m.Endpoint(tech, resource, [], self.known[resource])


class Desk:
    def __init__(self) -> None:
        self.registered: dict[str, bool] = {}

    def set_registered(self, endpoint: str, registered: bool) -> None:
        self.registered[endpoint] = registered


def presence(pbx: FakeAsterisk, desk: Desk, **kw: Any) -> PhonePresence:
    endpoints = ["PJSIP/admin101", "PJSIP/admin104"]
    return PhonePresence(cast(AriClient, pbx), "clinic-presence", endpoints, cast(FrontDesk, desk), **kw)


async def test_unknown_phone_is_retried_with_backoff_until_it_exists() -> None:
    pbx, desk = FakeAsterisk({"admin101": "online"}), Desk()
    watch = presence(pbx, desk, retry_initial=0.05, retry_max=0.1)
    await watch.on_connected()
    assert desk.registered == {"PJSIP/admin101": True, "PJSIP/admin104": False}
    assert watch.retrying == ["PJSIP/admin104"]
    await asyncio.sleep(0.6)
    pbx.known["admin104"] = "online"  # defined in Asterisk later
    async with asyncio.timeout(1):
        while True:
            if not watch.retrying:
                break
            await asyncio.sleep(0.01)
    assert desk.registered["PJSIP/admin104"] is True and pbx.subscribed[-1] == "admin104"
    # Tried at connect (all at once, then alone), then 0.05, 0.1, 0.1, ... s apart: without the
    # cap the fourth gap would be 0.4 s.
    times = [t for t, name in pbx.attempts if name == "admin104"][1:]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) >= 5 and gaps[0] >= 0.045 and gaps[1] >= 0.095 and max(gaps) < 0.3
    await watch.close()


async def test_retries_end_with_the_connection_and_with_the_app() -> None:
    pbx, desk = FakeAsterisk({"admin101": "online"}), Desk()
    watch = presence(pbx, desk, retry_initial=0.01)
    await watch.on_connected()
    assert watch.retrying == ["PJSIP/admin104"]
    watch.on_disconnected()
    await asyncio.sleep(0.05)
    assert watch.retrying == [] and len([n for _, n in pbx.attempts if n == "admin104"]) == 2
    await watch.on_connected()
    await watch.close()
    assert watch.retrying == []
