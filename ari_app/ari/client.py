"""The ARI REST client: the operations call control uses, typed, with a timeout on every call.

Credentials travel only in the ``Authorization`` header; no URL, error or log carries them.
Errors name the operation by its route template (``POST /channels/{id}/dial``), not by ids.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import msgspec

from ari_app.ari import models as m

T = TypeVar("T")


class AriError(Exception):
    def __init__(self, method: str, route: str, status: int | None, message: str) -> None:
        self.method = method
        self.route = route
        self.status = status
        self.message = message
        where = f"{method} {route}"
        super().__init__(f"{where}: {status} {message}" if status else f"{where}: {message}")


class AriBadRequest(AriError):
    """400: a parameter is missing or wrong."""


class AriNotFound(AriError):
    """404: e.g. a channel that just hung up; a normal race in call control."""


class AriConflict(AriError):
    """409: e.g. "Channel not in Stasis application"."""


class AriPreconditionFailed(AriError):
    """412: the channel is in the wrong state for the operation."""


class AriUnprocessable(AriError):
    """422: e.g. a recording name that already exists."""


class AriUnavailable(AriError):
    """Asterisk could not be reached, timed out, or answered 5xx (503 while it boots)."""


_BY_STATUS: dict[int, type[AriError]] = {
    400: AriBadRequest,
    404: AriNotFound,
    409: AriConflict,
    412: AriPreconditionFailed,
    422: AriUnprocessable,
}


def basic_auth(username: str, password: str) -> str:
    """The Authorization header value; the only place the password is ever put."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _q(part: str) -> str:
    return quote(part, safe="")


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
        self.base_url = base_url.rstrip("/")
        self.app = app
        self._auth = basic_auth(username, password)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._own_session = session is None
        self._on_request = on_request

    def __repr__(self) -> str:
        return f"AriClient(base_url={self.base_url!r}, app={self.app!r})"

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(connector=connector)
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()

    async def _request(
        self,
        method: str,
        route: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        raw: bool = False,
        max_bytes: int | None = None,
    ) -> Any:
        loop = asyncio.get_running_loop()
        started = loop.time()
        headers = {"Authorization": self._auth}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        status = 0
        try:
            async with self._http().request(
                method, self.base_url + path, params=params, data=data, headers=headers, timeout=self._timeout
            ) as resp:
                status = resp.status
                if raw and status < 300:
                    if max_bytes is not None and (resp.content_length or 0) > max_bytes:
                        raise AriError(method, route, status, f"body over {max_bytes} bytes")
                    body = bytearray()
                    async for chunk in resp.content.iter_chunked(1 << 16):
                        body += chunk
                        if max_bytes is not None and len(body) > max_bytes:
                            raise AriError(method, route, status, f"body over {max_bytes} bytes")
                    return bytes(body)
                payload = await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else f"unreachable ({type(exc).__name__})"
            raise AriUnavailable(method, route, None, reason) from None
        finally:
            if self._on_request:
                self._on_request(method, route, status, loop.time() - started)
        if status >= 400:
            raise self._error(method, route, status, payload)
        return payload

    @staticmethod
    def _error(method: str, route: str, status: int, payload: bytes) -> AriError:
        message = ""
        try:
            decoded = json.loads(payload) if payload else {}
            if isinstance(decoded, dict):
                message = str(decoded.get("message", ""))
        except ValueError:
            message = payload[:200].decode(errors="replace")
        cls = _BY_STATUS.get(status, AriUnavailable if status >= 500 else AriError)
        return cls(method, route, status, message or "error")

    async def _typed(self, model: type[T], method: str, route: str, path: str, **kw: Any) -> T:
        payload = await self._request(method, route, path, **kw)
        try:
            return msgspec.json.decode(payload, type=model)
        except msgspec.DecodeError as exc:
            raise AriError(method, route, None, f"unexpected {model} body: {exc}") from None

    # ------------------------------------------------------------------ asterisk, applications
    async def asterisk_info(self) -> dict[str, Any]:
        return await self._typed(dict[str, Any], "GET", "/asterisk/info", "/asterisk/info")

    async def ping(self) -> None:
        await self._request("GET", "/asterisk/ping", "/asterisk/ping")

    async def get_application(self) -> m.Application:
        return await self._typed(m.Application, "GET", "/applications/{app}", f"/applications/{_q(self.app)}")

    # ------------------------------------------------------------------ channels
    async def list_channels(self) -> list[m.Channel]:
        return await self._typed(list[m.Channel], "GET", "/channels", "/channels")

    async def get_channel(self, channel_id: str) -> m.Channel:
        return await self._typed(m.Channel, "GET", "/channels/{id}", f"/channels/{_q(channel_id)}")

    async def _channel_op(self, method: str, op: str, channel_id: str, **params: str) -> None:
        await self._request(
            method, f"/channels/{{id}}/{op}", f"/channels/{_q(channel_id)}/{op}", params=params
        )

    async def ring(self, channel_id: str) -> None:
        await self._channel_op("POST", "ring", channel_id)

    async def ring_stop(self, channel_id: str) -> None:
        await self._channel_op("DELETE", "ring", channel_id)

    async def answer(self, channel_id: str) -> None:
        await self._channel_op("POST", "answer", channel_id)

    async def hangup(self, channel_id: str, reason: str | None = None) -> None:
        params = {"reason": reason} if reason else None
        await self._request("DELETE", "/channels/{id}", f"/channels/{_q(channel_id)}", params=params)

    async def create_channel(
        self,
        endpoint: str,
        *,
        app_args: Sequence[str] = (),
        originator: str | None = None,
        channel_id: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> m.Channel:
        params = {"endpoint": endpoint, "app": self.app}
        if app_args:
            params["appArgs"] = ",".join(app_args)
        if originator:
            params["originator"] = originator
        if channel_id:
            params["channelId"] = channel_id
        body = {"variables": dict(variables)} if variables else None
        return await self._typed(
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
        return await self._typed(
            m.Playback, "POST", "/channels/{id}/play", f"/channels/{_q(channel_id)}/play", params=params
        )

    async def stop_playback(self, playback_id: str) -> None:
        await self._request("DELETE", "/playbacks/{id}", f"/playbacks/{_q(playback_id)}")

    async def start_moh(self, channel_id: str, moh_class: str = "default") -> None:
        await self._channel_op("POST", "moh", channel_id, mohClass=moh_class)

    async def stop_moh(self, channel_id: str) -> None:
        await self._channel_op("DELETE", "moh", channel_id)

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        await self._channel_op("POST", "variable", channel_id, variable=variable, value=value)

    # ------------------------------------------------------------------ bridges
    async def list_bridges(self) -> list[m.Bridge]:
        return await self._typed(list[m.Bridge], "GET", "/bridges", "/bridges")

    async def get_bridge(self, bridge_id: str) -> m.Bridge:
        return await self._typed(m.Bridge, "GET", "/bridges/{id}", f"/bridges/{_q(bridge_id)}")

    async def create_bridge(
        self, bridge_type: str = "mixing", *, name: str | None = None, bridge_id: str | None = None
    ) -> m.Bridge:
        params = {"type": bridge_type}
        if name:
            params["name"] = name
        if bridge_id:
            params["bridgeId"] = bridge_id
        return await self._typed(m.Bridge, "POST", "/bridges", "/bridges", params=params)

    async def _bridge_op(self, method: str, op: str, bridge_id: str, **params: str) -> None:
        await self._request(method, f"/bridges/{{id}}/{op}", f"/bridges/{_q(bridge_id)}/{op}", params=params)

    async def add_channels(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        await self._bridge_op("POST", "addChannel", bridge_id, channel=",".join(channel_ids))

    async def remove_channel(self, bridge_id: str, channel_id: str) -> None:
        await self._bridge_op("POST", "removeChannel", bridge_id, channel=channel_id)

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self._request("DELETE", "/bridges/{id}", f"/bridges/{_q(bridge_id)}")

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
        params = {
            "name": name,
            "format": fmt,
            "ifExists": if_exists,
            "maxDurationSeconds": str(max_duration),
            "beep": "true" if beep else "false",
        }
        return await self._typed(
            m.LiveRecording,
            "POST",
            "/bridges/{id}/record",
            f"/bridges/{_q(bridge_id)}/record",
            params=params,
        )

    # ------------------------------------------------------------------ recordings
    async def stop_live_recording(self, name: str) -> None:
        await self._request("POST", "/recordings/live/{name}/stop", f"/recordings/live/{_q(name)}/stop")

    async def get_stored_recording(self, name: str) -> m.StoredRecording:
        return await self._typed(
            m.StoredRecording, "GET", "/recordings/stored/{name}", f"/recordings/stored/{_q(name)}"
        )

    async def download_stored_recording(self, name: str, *, max_bytes: int) -> bytes:
        data: bytes = await self._request(
            "GET",
            "/recordings/stored/{name}/file",
            f"/recordings/stored/{_q(name)}/file",
            raw=True,
            max_bytes=max_bytes,
        )
        return data

    async def delete_stored_recording(self, name: str) -> None:
        await self._request("DELETE", "/recordings/stored/{name}", f"/recordings/stored/{_q(name)}")
