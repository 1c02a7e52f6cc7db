"""Call history and recordings: ``/api/calls`` (bearer token). Each call carries its comment
(``comment``) and ``report_topic``: the comment's topic unless unknown, else the phone menu's.

Recordings are served only to authenticated clients, from inside the archive, never from a
public path, and never cached.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from aiohttp import web

from ari_app.api import inputs
from ari_app.api.auth import Policy, area
from ari_app.api.errors import BadRequest, Gone, NotFound
from ari_app.api.replies import json_reply
from ari_app.store import CallRecord, CallStore
from ari_app.store.recordings import RecordingArchive

OUTCOMES = ("answered", "missed", "abandoned", "closed", "failed", "interrupted")


def calls_area(
    store: CallStore, recordings_root: Path, policy: Policy | None, *more: web.RouteDef
) -> web.Application:
    """``more``: other routes under ``/api/calls`` (the comment's): aiohttp resolves a prefix to
    one sub-app only, so they join this one, behind the same policy."""

    async def list_calls(request: web.Request) -> web.Response:
        q = request.query
        limit = inputs.limit(q, 50)
        outcome = q.get("outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise BadRequest("bad_outcome", f"outcome must be one of {', '.join(OUTCOMES)}")
        calls = await store.list_calls(limit=limit, before=inputs.before(q), outcome=outcome)
        return json_reply({"calls": [asdict(x) for x in calls]})

    async def _call(request: web.Request) -> CallRecord:
        call = await store.get_call(inputs.path_id(request, "call_id"))
        if call is None:
            raise NotFound("call_not_found", "no call with that id")
        return call

    async def get_call(request: web.Request) -> web.Response:
        return json_reply(asdict(await _call(request)))

    async def get_recording(request: web.Request) -> web.StreamResponse:
        call = await _call(request)
        saved = [r for r in call.recordings if r.status == "saved" and r.path]
        if not saved:
            raise NotFound("recording_not_found", "this call has no saved recording")
        path = RecordingArchive(recordings_root).open_path(saved[-1].path or "")
        if not path.is_file():
            raise Gone("recording_missing", "the recording file is no longer in the archive")
        return web.FileResponse(path, headers={"Content-Type": "audio/wav", "Cache-Control": "no-store"})

    return area(
        policy,
        *more,
        web.get("", list_calls),
        web.get("/{call_id}", get_call),
        web.get("/{call_id}/recording", get_recording),
    )
