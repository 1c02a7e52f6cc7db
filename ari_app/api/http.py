"""HTTP API: health (open), metrics, call history with recordings and callback tasks (bearer token).

Errors are JSON ``{"error": "<stable id>", "detail": "..."}`` (``ari_app.api.errors``). Recordings
are served only to authenticated clients, from inside the archive, never from a public path.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ari_app.api import inputs
from ari_app.api.errors import BadRequest, Forbidden, Gone, NotFound, Unauthenticated, error_middleware
from ari_app.store import CALLBACK_STATUSES, CallRecord, CallStore
from ari_app.store.recordings import RecordingArchive

OUTCOMES = ("answered", "missed", "abandoned", "closed", "failed", "interrupted")


@dataclass(frozen=True)
class HealthState:
    ari_connected: bool
    database_ok: bool
    tracked_calls: int
    pending_facts: int
    ari_problem: tuple[str, str] | None = None  # (state, detail) while ARI refuses or is away


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _dump(value: Any) -> str:
    import json

    return json.dumps(value, default=_json_default)


def build_api(
    store: CallStore,
    health: Callable[[], HealthState],
    registry: CollectorRegistry,
    tokens: Sequence[str],
    recordings_root: Path,
) -> web.Application:
    archive_root = recordings_root
    token_bytes = [t.encode() for t in tokens]

    @web.middleware
    async def auth(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path == "/healthz":
            return await handler(request)
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise Unauthenticated("unauthenticated", "send Authorization: Bearer <token>")
        # The bytes as sent: a header that is not UTF-8 reaches us with surrogates standing for them.
        sent = given.encode("utf-8", "surrogateescape")
        if not any(hmac.compare_digest(sent, t) for t in token_bytes):
            raise Forbidden("forbidden", "token not accepted")
        return await handler(request)

    async def healthz(_: web.Request) -> web.Response:
        state = health()
        ok = state.ari_connected and state.database_ok
        problem = None if state.ari_connected else state.ari_problem
        body = {
            "status": "ok" if ok else "degraded",
            "ari": "connected" if state.ari_connected else (problem[0] if problem else "disconnected"),
            "ari_error": problem[1] if problem else None,
            "database": "ok" if state.database_ok else "unavailable",
            "tracked_calls": state.tracked_calls,
            "pending_facts": state.pending_facts,
        }
        return web.json_response(body, status=200 if ok else 503)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def list_calls(request: web.Request) -> web.Response:
        q = request.query
        limit = inputs.limit(q, 50)
        outcome = q.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise BadRequest("bad_outcome", f"outcome must be one of {', '.join(OUTCOMES)}")
        calls = await store.list_calls(limit=limit, before=inputs.before(q), outcome=outcome)
        return web.Response(
            text=_dump({"calls": [asdict(x) for x in calls]}), content_type="application/json"
        )

    async def _call(request: web.Request) -> CallRecord:
        call = await store.get_call(inputs.path_id(request, "call_id"))
        if call is None:
            raise NotFound("call_not_found", "no call with that id")
        return call

    async def get_call(request: web.Request) -> web.Response:
        call = await _call(request)
        return web.Response(text=_dump(asdict(call)), content_type="application/json")

    async def get_recording(request: web.Request) -> web.StreamResponse:
        call = await _call(request)
        saved = [r for r in call.recordings if r.status == "saved" and r.path]
        if not saved:
            raise NotFound("recording_not_found", "this call has no saved recording")
        path = RecordingArchive(archive_root).open_path(saved[-1].path or "")
        if not path.is_file():
            raise Gone("recording_missing", "the recording file is no longer in the archive")
        return web.FileResponse(path, headers={"Content-Type": "audio/wav", "Cache-Control": "no-store"})

    async def list_callbacks(request: web.Request) -> web.Response:
        q = request.query
        limit = inputs.limit(q, 100)
        status = q.get("status") or None
        if status is not None and status != "open" and status not in CALLBACK_STATUSES:
            raise BadRequest("bad_status", f"status must be open or one of {', '.join(CALLBACK_STATUSES)}")
        branch = inputs.text("branch", q["branch"], inputs.MAX_ID) if q.get("branch") else None
        tasks = await store.list_callbacks(status=status, branch=branch, limit=limit)
        return web.Response(
            text=_dump({"callbacks": [asdict(t) for t in tasks]}), content_type="application/json"
        )

    async def get_callback(request: web.Request) -> web.Response:
        task = await store.get_callback(inputs.path_id(request, "task_id"))
        if task is None:
            raise NotFound("callback_not_found", "no callback task with that id")
        return web.Response(text=_dump(asdict(task)), content_type="application/json")

    async def set_callback_status(request: web.Request) -> web.Response:
        task_id = inputs.path_id(request, "task_id")
        status = (await inputs.json_object(request)).get("status")
        if not isinstance(status, str) or status not in CALLBACK_STATUSES:
            raise BadRequest("bad_status", f"status must be one of {', '.join(CALLBACK_STATUSES)}")
        try:
            task = await store.set_callback_status(task_id, status)
        except ValueError as exc:
            raise BadRequest("bad_transition", str(exc)) from exc
        if task is None:
            raise NotFound("callback_not_found", "no callback task with that id")
        return web.Response(text=_dump(asdict(task)), content_type="application/json")

    # The error middleware is outermost: the auth middleware's refusals are answered by it too.
    app = web.Application(middlewares=[error_middleware, auth], client_max_size=64 * 1024)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/calls", list_calls)
    app.router.add_get("/api/calls/{call_id}", get_call)
    app.router.add_get("/api/calls/{call_id}/recording", get_recording)
    app.router.add_get("/api/callbacks", list_callbacks)
    app.router.add_get("/api/callbacks/{task_id}", get_callback)
    app.router.add_post("/api/callbacks/{task_id}/status", set_callback_status)
    return app
