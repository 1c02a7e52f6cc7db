"""The ARI REST client: the operations call control uses, typed, with a timeout on every call.

Credentials travel only in the ``Authorization`` header; no URL, error, repr or log carries them.
Errors and the ``on_request`` hook name an operation by its route template
(``POST /channels/{id}/dial``), never by ids. One pooled session keeps connections alive: call
control sends many small requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp

from ari_app.ari import models as m
from ari_app.ari.errors import (
    AriBadRequest,
    AriBadResponse,
    AriConflict,
    AriError,
    AriNotFound,
    AriPreconditionFailed,
    AriUnavailable,
    AriUnprocessable,
)
from ari_app.ari.rest import RestTransport, basic_auth, checked_base_url
from ari_app.ari.rest import quote_part as _q

__all__ = [
    "AriBadRequest",
    "AriBadResponse",
    "AriClient",
    "AriConflict",
    "AriError",
    "AriNotFound",
    "AriPreconditionFailed",
    "AriUnavailable",
    "AriUnprocessable",
    "basic_auth",
]


class AriClient:
    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        app: str,
        *,
        timeout: float = 5.0,
        session: aiohttp.ClientSession | None = None,
        on_request: Callable[[str, str, int, float], None] | None = None,
    ) -> None:
        """``base_url`` like ``http://127.0.0.1:8088/ari``. ``on_request(method, route_template,
        status, seconds)`` runs after every request (status 0 when no response came), for metrics.
        A given ``session`` is used as is and left open by ``close()``."""
        self.base_url = checked_base_url(base_url)
        self.app = app
        self._rest = RestTransport(
            self.base_url,
            basic_auth(username, password),
            timeout=timeout,
            session=session,
            on_request=on_request,
        )

    def __repr__(self) -> str:
        return f"AriClient(base_url={self.base_url!r}, app={self.app!r})"

    async def close(self) -> None:
        """Close the own session; later calls raise AriUnavailable."""
        await self._rest.close()

    async def _void(self, method: str, route: str, path: str, **params: str) -> None:
        await self._rest.call(method, route, path, params=params)

    # ------------------------------------------------------------------ asterisk, applications
    async def asterisk_info(self) -> dict[str, Any]:
        return await self._rest.typed(dict[str, Any], "GET", "/asterisk/info", "/asterisk/info")

    async def ping(self) -> None:
        await self._void("GET", "/asterisk/ping", "/asterisk/ping")

    async def get_application(self) -> m.Application:
        path = f"/applications/{_q(self.app)}"
        return await self._rest.typed(m.Application, "GET", "/applications/{app}", path)

    async def list_endpoints(self, tech: str | None = None) -> list[m.Endpoint]:
        if tech is None:
            return await self._rest.typed(list[m.Endpoint], "GET", "/endpoints", "/endpoints")
        path = f"/endpoints/{_q(tech)}"
        return await self._rest.typed(list[m.Endpoint], "GET", "/endpoints/{tech}", path)

    async def get_endpoint(self, tech: str, resource: str) -> m.Endpoint:
        path = f"/endpoints/{_q(tech)}/{_q(resource)}"
        return await self._rest.typed(m.Endpoint, "GET", "/endpoints/{tech}/{resource}", path)

    async def subscribe(self, sources: Sequence[str], *, app: str | None = None) -> m.Application:
        """Subscribe the app (this client's by default) to event sources such as
        ``endpoint:PJSIP/admin101`` or ``endpoint:PJSIP``; returns the app as it is after.

        AriBadRequest: no source, or a scheme Asterisk does not know; AriNotFound: the app is not
        registered (no websocket and nothing subscribed); AriUnprocessable: the source does not
        exist. Asterisk keeps the sources before the one that failed. Each call adds one
        subscription per source: as many ``unsubscribe`` calls undo it. The subscriptions
        outlive the events websocket (only ``endpoint:``, all endpoints, ends with it).
        """
        return await self._subscription("POST", sources, app)

    async def unsubscribe(self, sources: Sequence[str], *, app: str | None = None) -> m.Application:
        """Undo one ``subscribe`` of each source; AriUnprocessable when one is not subscribed."""
        return await self._subscription("DELETE", sources, app)

    async def _subscription(self, method: str, sources: Sequence[str], app: str | None) -> m.Application:
        if isinstance(sources, str):
            raise TypeError("sources must be a sequence of event source URIs, not one string")
        if not sources:
            raise ValueError("at least one event source is needed")
        # Asterisk reads only the last eventSource parameter and splits it on commas (dropping
        # quotes and backslashes): one parameter carries them all, so none may hold those.
        if any(ch in source for source in sources for ch in ',"\\'):
            raise ValueError("an event source must not contain a comma, a quote or a backslash")
        path = f"/applications/{_q(app or self.app)}/subscription"
        params = {"eventSource": ",".join(sources)}
        return await self._rest.typed(
            m.Application, method, "/applications/{app}/subscription", path, params=params
        )

    # ------------------------------------------------------------------ channels
    async def list_channels(self) -> list[m.Channel]:
        return await self._rest.typed(list[m.Channel], "GET", "/channels", "/channels")

    async def get_channel(self, channel_id: str) -> m.Channel:
        return await self._rest.typed(m.Channel, "GET", "/channels/{id}", f"/channels/{_q(channel_id)}")

    async def _channel_op(self, method: str, op: str, channel_id: str, **params: str) -> None:
        await self._void(method, f"/channels/{{id}}/{op}", f"/channels/{_q(channel_id)}/{op}", **params)

    async def ring(self, channel_id: str) -> None:
        await self._channel_op("POST", "ring", channel_id)

    async def ring_stop(self, channel_id: str) -> None:
        await self._channel_op("DELETE", "ring", channel_id)

    async def answer(self, channel_id: str) -> None:
        await self._channel_op("POST", "answer", channel_id)

    async def hangup(self, channel_id: str, reason: str | None = None) -> None:
        params = {"reason": reason} if reason else {}
        await self._void("DELETE", "/channels/{id}", f"/channels/{_q(channel_id)}", **params)

    async def create_channel(
        self,
        endpoint: str,
        *,
        app_args: Sequence[str] = (),
        originator: str | None = None,
        channel_id: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> m.Channel:
        # Asterisk splits appArgs on commas: an argument holding one would arrive as two.
        if any("," in arg for arg in app_args):
            raise ValueError("an app argument must not contain ','")
        params = {"endpoint": endpoint, "app": self.app}
        if app_args:
            params["appArgs"] = ",".join(app_args)
        if originator:
            params["originator"] = originator
        if channel_id:
            params["channelId"] = channel_id
        body = {"variables": dict(variables)} if variables else None
        return await self._rest.typed(
            m.Channel, "POST", "/channels/create", "/channels/create", params=params, body=body
        )

    async def dial(self, channel_id: str, *, caller: str | None = None, timeout: int | None = None) -> None:
        params = {}
        if caller:
            params["caller"] = caller
        if timeout is not None:
            params["timeout"] = str(timeout)
        await self._channel_op("POST", "dial", channel_id, **params)

    async def play(
        self,
        channel_id: str,
        media: str | Sequence[str],
        *,
        playback_id: str | None = None,
        lang: str | None = None,
    ) -> m.Playback:
        params = {"media": media if isinstance(media, str) else ",".join(media)}
        if lang:
            params["lang"] = lang
        if playback_id:
            params["playbackId"] = playback_id
        return await self._rest.typed(
            m.Playback, "POST", "/channels/{id}/play", f"/channels/{_q(channel_id)}/play", params=params
        )

    async def stop_playback(self, playback_id: str) -> None:
        await self._void("DELETE", "/playbacks/{id}", f"/playbacks/{_q(playback_id)}")

    async def start_moh(self, channel_id: str, moh_class: str = "default") -> None:
        await self._channel_op("POST", "moh", channel_id, mohClass=moh_class)

    async def stop_moh(self, channel_id: str) -> None:
        await self._channel_op("DELETE", "moh", channel_id)

    async def get_variable(self, channel_id: str, variable: str) -> str:
        """AriNotFound: no such channel (or, on Asterisk, no such variable)."""
        found = await self._rest.typed(
            m.Variable, "GET", "/channels/{id}/variable", f"/channels/{_q(channel_id)}/variable",
            params={"variable": variable},
        )  # fmt: skip
        return found.value

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        await self._channel_op("POST", "variable", channel_id, variable=variable, value=value)

    async def transfer_progress(self, channel_id: str, states: str) -> None:
        """Report how a transfer the app took over (``ChannelTransfer``, ``PJSIP_TRANSFER_HANDLING()``
        = ``ari-only``) is going: ``channel_progress``, ``channel_answered``, ``channel_unavailable``
        or ``channel_declined``. Asterisk tells the transferer's phone (a NOTIFY) and publishes
        another ChannelTransfer; a final state ends the REFER subscription.

        AriBadRequest: ``states`` empty or not one of those; AriNotFound: no such channel;
        AriConflict: the channel is not in Stasis. On a channel with no REFER pending Asterisk
        answers 204 and nothing happens.
        """
        await self._channel_op("POST", "transfer_progress", channel_id, states=states)

    # ------------------------------------------------------------------ bridges
    async def list_bridges(self) -> list[m.Bridge]:
        return await self._rest.typed(list[m.Bridge], "GET", "/bridges", "/bridges")

    async def get_bridge(self, bridge_id: str) -> m.Bridge:
        return await self._rest.typed(m.Bridge, "GET", "/bridges/{id}", f"/bridges/{_q(bridge_id)}")

    async def create_bridge(
        self, bridge_type: str = "mixing", *, name: str | None = None, bridge_id: str | None = None
    ) -> m.Bridge:
        params = {"type": bridge_type}
        if name:
            params["name"] = name
        if bridge_id:
            params["bridgeId"] = bridge_id
        return await self._rest.typed(m.Bridge, "POST", "/bridges", "/bridges", params=params)

    async def _bridge_op(self, method: str, op: str, bridge_id: str, **params: str) -> None:
        await self._void(method, f"/bridges/{{id}}/{op}", f"/bridges/{_q(bridge_id)}/{op}", **params)

    async def add_channels(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        if not channel_ids:
            raise ValueError("add_channels needs at least one channel")
        await self._bridge_op("POST", "addChannel", bridge_id, channel=",".join(channel_ids))

    async def remove_channel(self, bridge_id: str, channel_id: str) -> None:
        await self._bridge_op("POST", "removeChannel", bridge_id, channel=channel_id)

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self._void("DELETE", "/bridges/{id}", f"/bridges/{_q(bridge_id)}")

    async def start_bridge_moh(self, bridge_id: str, moh_class: str = "default") -> None:
        await self._bridge_op("POST", "moh", bridge_id, mohClass=moh_class)

    async def stop_bridge_moh(self, bridge_id: str) -> None:
        await self._bridge_op("DELETE", "moh", bridge_id)

    async def record_bridge(
        self,
        bridge_id: str,
        name: str,
        *,
        fmt: str = "wav",
        if_exists: str = "fail",
        max_duration: int = 0,
        beep: bool = False,
    ) -> m.LiveRecording:
        params = {"name": name, "format": fmt, "ifExists": if_exists}
        # Asterisk's defaults (no limit, no beep) are left implicit, as in the recorded traffic.
        if max_duration:
            params["maxDurationSeconds"] = str(max_duration)
        if beep:
            params["beep"] = "true"
        route = "/bridges/{id}/record"
        path = f"/bridges/{_q(bridge_id)}/record"
        return await self._rest.typed(m.LiveRecording, "POST", route, path, params=params)

    # ------------------------------------------------------------------ recordings
    async def stop_live_recording(self, name: str) -> None:
        await self._void("POST", "/recordings/live/{name}/stop", f"/recordings/live/{_q(name)}/stop")

    async def get_live_recording(self, name: str) -> m.LiveRecording:
        route = "/recordings/live/{name}"
        return await self._rest.typed(m.LiveRecording, "GET", route, f"/recordings/live/{_q(name)}")

    async def get_stored_recording(self, name: str) -> m.StoredRecording:
        route = "/recordings/stored/{name}"
        return await self._rest.typed(m.StoredRecording, "GET", route, f"/recordings/stored/{_q(name)}")

    async def download_stored_recording(self, name: str, *, max_bytes: int) -> bytes:
        """The recording file; AriBadResponse when it is larger than ``max_bytes`` (not read past it)."""
        route = "/recordings/stored/{name}/file"
        path = f"/recordings/stored/{_q(name)}/file"
        _, data = await self._rest.call("GET", route, path, max_bytes=max_bytes)
        return data

    async def delete_stored_recording(self, name: str) -> None:
        await self._void("DELETE", "/recordings/stored/{name}", f"/recordings/stored/{_q(name)}")
