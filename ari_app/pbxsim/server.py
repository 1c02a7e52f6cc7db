"""The simulator's two servers: ARI (REST + events websocket, Basic auth) and the control API."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from ari_app.pbxsim.ari_channels import ChannelRoutes
from ari_app.pbxsim.ari_resources import ResourceRoutes
from ari_app.pbxsim.control_routes import ControlRoutes
from ari_app.pbxsim.fallback import Fallback, load_config
from ari_app.pbxsim.replies import NO_FLUSH
from ari_app.pbxsim.state import SimError
from ari_app.pbxsim.websockets import EventHub

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_LOG_LIMIT = 200_000


@dataclass
class Faults:
    down_until: float = 0.0  # monotonic: "Asterisk not booted" until then
    answer_delay: float = 0.0  # wall seconds every ARI request waits before it is handled
    reject: list[dict[str, Any]] = field(default_factory=list)
    # {path_regex, method, away_for}: the first ARI request that matches cuts the app's websocket
    # before it is handled (the events it causes are lost), and keeps it away that long.
    cut_on: dict[str, Any] | None = None


class PbxSim:
    """The simulated Asterisk: ``await start()``, then ``ari_url`` and ``control_url``."""

    def __init__(
        self,
        *,
        username: str,
        password: str,
        host: str = "127.0.0.1",
        ari_port: int = 0,
        control_port: int = 0,
        seed: int = 1,
        time_scale: float = 1.0,
        recordings_dir: str | Path | None = None,
        app_name_any: bool = False,
        ws_write_timeout: float = 0.1,
        asterisk_config: str | Path | None = None,
        cdr_dir: str | Path | None = None,
    ) -> None:
        if cdr_dir is not None and asterisk_config is None:
            raise ValueError("cdr_dir needs asterisk_config: the records' format is cdr_custom.conf's")
        # Loaded first: a dialplan the simulator cannot run stops it before anything is made.
        dialplan, cdr = (
            load_config(Path(asterisk_config), None if cdr_dir is None else Path(cdr_dir))
            if asterisk_config is not None
            else (None, None)
        )
        self._own_dir = recordings_dir is None
        rec_dir = (
            Path(tempfile.mkdtemp(prefix="pbxsim-recordings-"))
            if recordings_dir is None
            else Path(recordings_dir)
        )
        self.pbx = Fallback(
            seed=seed, time_scale=time_scale, recordings_dir=rec_dir, dialplan=dialplan, cdr=cdr
        )
        self.pbx.app_name_any = app_name_any
        self.hub = EventHub(self.pbx, ws_write_timeout)
        self.faults = Faults()
        self.requests: list[dict[str, Any]] = []
        self._credentials = (username, password)
        self._host = host
        self._ports = (ari_port, control_port)
        self._runners: list[web.AppRunner] = []
        self.ari_url = ""
        self.control_url = ""

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        ari = web.Application(middlewares=[self._ari_middleware], client_max_size=1 << 20)
        ari.router.add_get("/ari/events", self.hub.handle)
        ari.router.add_routes(ChannelRoutes(self.pbx).routes())
        ari.router.add_routes(ResourceRoutes(self.pbx).routes())
        control = web.Application(middlewares=[_control_errors], client_max_size=64 << 20)
        control.router.add_routes(ControlRoutes(self).routes())
        ports = []
        for app, port in ((ari, self._ports[0]), (control, self._ports[1])):
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, self._host, port).start()
            self._runners.append(runner)
            ports.append(runner.addresses[0][1])
        self.ari_url = f"http://{self._host}:{ports[0]}/ari"
        self.control_url = f"http://{self._host}:{ports[1]}"

    async def stop(self) -> None:
        self.pbx.save_live_recordings()
        self.pbx.wipe()
        await self.hub.drop()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()
        if self._own_dir:
            shutil.rmtree(self.pbx.files.root, ignore_errors=True)

    # ------------------------------------------------------------------ faults
    async def restart(self, down_for: float) -> None:
        """Asterisk restarts: websockets close, every channel and bridge vanishes, ids go on."""
        await self.hub.drop()
        self.pbx.save_live_recordings()
        self.pbx.wipe()
        self.faults.down_until = time.monotonic() + down_for

    # ------------------------------------------------------------------ ARI plumbing
    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(header[6:], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
        elif "api_key" in request.query:
            user, _, pw = request.query["api_key"].partition(":")
        else:
            return False
        return hmac.compare_digest(user.encode(), self._credentials[0].encode()) and hmac.compare_digest(
            pw.encode(), self._credentials[1].encode()
        )

    @web.middleware
    async def _ari_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        is_events = request.path == "/ari/events"
        query = {k: v for k, v in request.query.items() if k != "api_key"}  # never log credentials
        entry: dict[str, Any] = {"method": request.method, "path": request.path, "query": query,
                                 "body": None, "t": time.monotonic()}  # fmt: skip
        if request.can_read_body:
            entry["body"] = _maybe_json(await request.read())
        response = await self._answer(request, handler, is_events)
        if not is_events:
            if not request.get(NO_FLUSH):
                await self.hub.flush()
            entry["status"], entry["t_done"] = response.status, time.monotonic()
            self.requests.append(entry)
            if len(self.requests) > REQUEST_LOG_LIMIT:
                del self.requests[: REQUEST_LOG_LIMIT // 4]
        return response

    async def _answer(self, request: web.Request, handler: Handler, is_events: bool) -> web.StreamResponse:
        if not self._authorised(request):
            return web.json_response(
                {"message": "Authentication required"}, status=401,
                headers={"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'},
            )  # fmt: skip
        if time.monotonic() < self.faults.down_until:
            return web.json_response({"message": "Asterisk not booted"}, status=503)
        if self.faults.answer_delay and not is_events:
            await asyncio.sleep(self.faults.answer_delay)
        cut = self.faults.cut_on
        if (
            cut is not None
            and not is_events
            and request.method == (cut["method"] or request.method)
            and re.search(cut["path_regex"], request.path)
        ):
            self.faults.cut_on = None
            self.hub.refuse_until = time.monotonic() + cut["away_for"]
            await self.hub.drop()
        for rule in self.faults.reject:
            if rule["count"] > 0 and re.search(rule["path_regex"], request.path):
                rule["count"] -= 1
                return web.json_response({"message": rule["message"]}, status=rule["status"])
        try:
            return await handler(request)
        except SimError as exc:
            return web.json_response({"message": exc.message}, status=exc.status)
        except web.HTTPException as exc:
            if exc.status == 405:
                return web.json_response({"message": "Invalid method"}, status=405)
            if exc.status == 404:
                return web.json_response({"message": "Resource not found"}, status=404)
            raise


def _maybe_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


@web.middleware
async def _control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SimError as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    except (ValueError, KeyError, TypeError) as exc:
        return web.json_response({"error": f"bad request: {exc}"}, status=400)
