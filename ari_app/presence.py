"""Admin phones' registration, read through a second ARI app subscribed to their endpoints.

Not the call-control app: an endpoint subscription also forwards its channels' events, which
would reach call control twice for every admin leg it dials.
"""

from __future__ import annotations

import asyncio

import structlog

from ari_app.ari import models as m
from ari_app.ari.client import AriClient, AriError
from ari_app.calls.desk import FrontDesk

log = structlog.get_logger(__name__)


class PhonePresence:
    """Subscribes the presence app to every admin phone after each connect and tells the desk
    which are registered. A phone Asterisk does not know yet (422: its endpoint is defined
    later) is retried on its own, with backoff, until it can be watched."""

    def __init__(
        self,
        client: AriClient,
        app: str,
        endpoints: list[str],
        desk: FrontDesk | None,
        *,
        retry_initial: float = 5.0,
        retry_max: float = 60.0,
    ) -> None:
        self.app = app
        self._client = client
        self._endpoints = sorted({e for e in endpoints if e.startswith("PJSIP/")})
        self._desk = desk
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._retries: dict[str, asyncio.Task[None]] = {}

    def on_event(self, ev: m.Event) -> None:
        if isinstance(ev, m.EndpointStateChange) and self._desk is not None:
            e = ev.endpoint
            self._desk.set_registered(f"{e.technology}/{e.resource}", e.state != "offline")

    async def on_connected(self) -> None:
        """Subscribe to every admin phone (again after each reconnect), then read their states."""
        self._cancel_retries()
        desk = self._desk
        if desk is None or not self._endpoints:
            return
        failed = await self._subscribe_all()
        known: dict[str, object] | None = None
        try:
            listed = await self._client.list_endpoints("PJSIP")
            known = {f"{e.technology}/{e.resource}": e.state for e in listed}
        except AriError as exc:
            log.warning("endpoint_states_unread", status=exc.status, error=str(exc))
        for endpoint in self._endpoints:
            if known is not None:
                desk.set_registered(endpoint, known.get(endpoint, "offline") != "offline")
            if endpoint in failed:
                task = asyncio.get_running_loop().create_task(self._retry(endpoint), name="presence-retry")
                self._retries[endpoint] = task

    def on_disconnected(self) -> None:
        # Subscriptions are made again at the next connect: these would race them.
        self._cancel_retries()

    async def close(self) -> None:
        tasks = list(self._retries.values())
        self._cancel_retries()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def retrying(self) -> list[str]:
        return sorted(e for e, task in self._retries.items() if not task.done())

    async def _subscribe_all(self) -> set[str]:
        """Subscribe every phone; returns those that could not be."""
        try:
            await self._client.subscribe([f"endpoint:{e}" for e in self._endpoints], app=self.app)
            return set()
        except AriError:
            pass  # Asterisk stops at the first unknown endpoint: find which, one by one
        failed = set()
        for endpoint in self._endpoints:
            try:
                await self._client.subscribe([f"endpoint:{endpoint}"], app=self.app)
            except AriError as exc:
                failed.add(endpoint)
                log.warning(
                    "endpoint_subscription_failed", endpoint=endpoint, status=exc.status,
                    error=exc.message, retry_in=self._retry_initial,
                )  # fmt: skip
        return failed

    async def _retry(self, endpoint: str) -> None:
        """Until ``endpoint`` is subscribed and its state read: a phone added to Asterisk later
        is then offered calls without a restart or a reconnect."""
        delay = self._retry_initial
        subscribed = False
        tech, _, resource = endpoint.partition("/")
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_max)
            try:
                if not subscribed:
                    await self._client.subscribe([f"endpoint:{endpoint}"], app=self.app)
                    subscribed = True
                found = await self._client.get_endpoint(tech, resource)
            except AriError as exc:
                log.debug("endpoint_subscription_retry_failed", endpoint=endpoint, status=exc.status)
                continue
            registered = found.state != "offline"
            if self._desk is not None:
                self._desk.set_registered(endpoint, registered)
            log.info("endpoint_subscribed", endpoint=endpoint, registered=registered)
            return

    def _cancel_retries(self) -> None:
        for task in self._retries.values():
            task.cancel()
        self._retries.clear()
