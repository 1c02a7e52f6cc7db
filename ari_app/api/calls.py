"""Call history and recordings: ``/api/calls`` (bearer token).

``GET /api/calls`` filters (``ari_app.api.history_query``) and pages with an opaque cursor;
``/api/calls/export.csv`` streams the same selection as CSV. Each call carries its comment,
``report_topic`` (the comment's topic unless unknown, else the phone menu's), ``caller_type``
(the comment's, else what the directories imply), its opportunity class and its booking links.

Recordings are served only to authenticated clients who may see the call, from inside the
archive, never from a public path, and never cached; with HTTP Range (a player seeks), and
audited once per play: a request from the first byte, not each Range request after it.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiohttp import web

from ari_app.api import history_query, inputs
from ari_app.api.access import audit, require_call, visible_query
from ari_app.api.auth import Policy, area
from ari_app.api.errors import Gone, NotFound
from ari_app.api.export import stream_csv
from ari_app.api.history_query import FILTERS, OUTCOMES, PAGING
from ari_app.api.replies import json_reply
from ari_app.store import CallRecord, CallStore
from ari_app.store.history import HistoryStore
from ari_app.store.recordings import RecordingArchive

__all__ = ["OUTCOMES", "calls_area"]


AUDIO_TYPES = {".wav": "audio/wav", ".gsm": "audio/x-gsm", ".mp3": "audio/mpeg", ".ogg": "audio/ogg"}


def starts_a_play(request: web.Request) -> bool:
    """A request for the recording from its first byte: a player starting it (audited), not one
    of the Range requests it seeks or buffers with (each would fill the audit trail)."""
    try:
        start = request.http_range.start
    except ValueError:  # a Range header that cannot be read is answered whole: a play
        return True
    return start is None or start == 0


def calls_area(
    store: CallStore,
    recordings_root: Path,
    policy: Policy | None,
    *more: web.RouteDef,
    default_region: str = "US",
) -> web.Application:
    """``more``: other routes under ``/api/calls`` (the comment's): aiohttp resolves a prefix to
    one sub-app only, so they join this one, behind the same policy. ``default_region``: where
    the ``number`` filter is read."""
    history = HistoryStore(store.db)

    async def list_calls(request: web.Request) -> web.Response:
        q = request.query
        inputs.known_only(q, (*FILTERS, *PAGING))
        query = visible_query(request, history_query.call_query(q, default_region))
        page = await history.page(
            query, limit=inputs.limit(q, 50), cursor=history_query.cursor(q), before=inputs.before(q)
        )
        return json_reply({"calls": [asdict(c) for c in page.calls], "next_cursor": page.next_cursor})

    async def export_calls(request: web.Request) -> web.StreamResponse:
        inputs.known_only(request.query, FILTERS)
        query = visible_query(request, history_query.call_query(request.query, default_region))
        await audit(request, "export", detail={"filters": sorted(request.query)})
        return await stream_csv(request, history.export(query), "calls.csv")

    async def _call(request: web.Request) -> CallRecord:
        call_id = inputs.path_id(request, "call_id")
        await require_call(request, store, call_id)
        call = await store.get_call(call_id)
        if call is None:
            raise NotFound("call_not_found", "no call with that id")
        return call

    async def get_call(request: web.Request) -> web.Response:
        call_id = inputs.path_id(request, "call_id")
        await require_call(request, store, call_id)
        found = await history.detail(call_id)
        if found is None:
            raise NotFound("call_not_found", "no call with that id")
        body: dict[str, Any] = asdict(found.call)
        if body["comment"] is not None:
            body["comment"]["versions"] = found.comment_versions
        return json_reply(body)

    async def get_recording(request: web.Request) -> web.StreamResponse:
        call = await _call(request)
        saved = [r for r in call.recordings if r.status in ("saved", "repaired") and r.path]
        if not saved:
            raise NotFound("recording_not_found", "this call has no saved recording")
        path = RecordingArchive(recordings_root).open_path(saved[-1].path or "")
        if not path.is_file():
            raise Gone("recording_missing", "the recording file is no longer in the archive")
        if starts_a_play(request):
            await audit(request, "recording_opened", subject=call.id, detail={"recording": saved[-1].name})
        content_type = AUDIO_TYPES.get(path.suffix.lower(), "application/octet-stream")
        # FileResponse answers Range (206, 416) and If-Range itself: an <audio> element seeks.
        return web.FileResponse(
            path, headers={"Content-Type": content_type, "Cache-Control": "no-store, private"}
        )

    return area(
        policy,
        *more,
        web.get("", list_calls),
        web.get("/export.csv", export_calls),  # before /{call_id}, which would take it
        web.get("/{call_id}", get_call),
        web.get("/{call_id}/recording", get_recording),
    )
