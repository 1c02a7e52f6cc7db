"""HTTP API: health (open), metrics, call history with recordings and callback tasks (bearer token).

Errors are JSON ``{"error": "<stable id>", "detail": "..."}``. Recordings are served only to
authenticated clients, from inside the archive, never from a public path.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ari_app.store import CALLBACK_STATUSES, CallStore
from ari_app.store.recordings import RecordingArchive

OUTCOMES = ("answered", "missed", "abandoned", "closed", "failed", "interrupted")


@dataclass(frozen=True)
class HealthState:
    ari_connected: bool
    database_ok: bool
    tracked_calls: int
    pending_facts: int
    ari_problem: tuple[str, str] | None = None  # (state, detail) while ARI refuses or is away


def error(status: int, error_id: str, detail: str) -> web.Response:
    return web.json_response({"error": error_id, "detail": detail}, status=status)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _limit(query: Mapping[str, str], default: int) -> int | None:
    """The ``limit`` query parameter, 1 to 500; None when it is not such an integer."""
    try:
        limit = int(query.get("limit", str(default)))
    except ValueError:
        return None
    return limit if 1 <= limit <= 500 else None


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
            return error(401, "unauthenticated", "send Authorization: Bearer <token>")
        if not any(hmac.compare_digest(given.encode(), t) for t in token_bytes):
            return error(403, "forbidden", "token not accepted")
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
        limit = _limit(q, 50)
        if limit is None:
            return error(400, "bad_limit", "limit must be an integer from 1 to 500")
        outcome = q.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            return error(400, "bad_outcome", f"outcome must be one of {', '.join(OUTCOMES)}")
        before = None
        if "before" in q:
            try:
                before = datetime.fromisoformat(q["before"])
            except ValueError:
                return error(400, "bad_before", "before must be an ISO 8601 time")
        calls = await store.list_calls(limit=limit, before=before, outcome=outcome)
        return web.Response(
            text=_dump({"calls": [asdict(x) for x in calls]}), content_type="application/json"
        )

    async def get_call(request: web.Request) -> web.Response:
        call = await store.get_call(request.match_info["call_id"])
        if call is None:
            return error(404, "call_not_found", "no call with that id")
        return web.Response(text=_dump(asdict(call)), content_type="application/json")

    async def get_recording(request: web.Request) -> web.StreamResponse:
        call = await store.get_call(request.match_info["call_id"])
        if call is None:
            return error(404, "call_not_found", "no call with that id")
        saved = [r for r in call.recordings if r.status == "saved" and r.path]
        if not saved:
            return error(404, "recording_not_found", "this call has no saved recording")
        path = RecordingArchive(archive_root).open_path(saved[-1].path or "")
        if not path.is_file():
            return error(410, "recording_missing", "the recording file is no longer in the archive")
        return web.FileResponse(path, headers={"Content-Type": "audio/wav", "Cache-Control": "no-store"})

    async def list_callbacks(request: web.Request) -> web.Response:
        q = request.query
        limit = _limit(q, 100)
        if limit is None:
            return error(400, "bad_limit", "limit must be an integer from 1 to 500")
        status = q.get("status") or None
        if status is not None and status != "open" and status not in CALLBACK_STATUSES:
            return error(400, "bad_status", f"status must be open or one of {', '.join(CALLBACK_STATUSES)}")
        tasks = await store.list_callbacks(status=status, branch=q.get("branch") or None, limit=limit)
        return web.Response(
            text=_dump({"callbacks": [asdict(t) for t in tasks]}), content_type="application/json"
        )

    async def get_callback(request: web.Request) -> web.Response:
        task = await store.get_callback(request.match_info["task_id"])
        if task is None:
            return error(404, "callback_not_found", "no callback task with that id")
        return web.Response(text=_dump(asdict(task)), content_type="application/json")

    async def set_callback_status(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return error(400, "bad_body", 'send JSON: {"status": "<status>"}')
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, str) or status not in CALLBACK_STATUSES:
            return error(400, "bad_status", f"status must be one of {', '.join(CALLBACK_STATUSES)}")
        try:
            task = await store.set_callback_status(request.match_info["task_id"], status)
        except ValueError as exc:
            return error(400, "bad_transition", str(exc))
        if task is None:
            return error(404, "callback_not_found", "no callback task with that id")
        return web.Response(text=_dump(asdict(task)), content_type="application/json")

    app = web.Application(middlewares=[auth], client_max_size=64 * 1024)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/calls", list_calls)
    app.router.add_get("/api/calls/{call_id}", get_call)
    app.router.add_get("/api/calls/{call_id}/recording", get_recording)
    app.router.add_get("/api/callbacks", list_callbacks)
    app.router.add_get("/api/callbacks/{task_id}", get_callback)
    app.router.add_post("/api/callbacks/{task_id}/status", set_callback_status)
    return app
