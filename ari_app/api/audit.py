"""``GET /api/audit?limit=&cursor=``: the audit trail, newest first, for managers only.

Pages like the call history: ``{"events": [...], "next_cursor"}``; pass ``next_cursor`` back as
``cursor`` for the next page (null on the last). Events written meanwhile never shift a page."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from ari_app.api import inputs
from ari_app.api.auth import Policy, area
from ari_app.api.errors import BadRequest
from ari_app.api.replies import json_reply
from ari_app.auth.audit import AuditLog, decode_cursor


def audit_area(trail: AuditLog, policy: Policy) -> web.Application:
    async def list_events(request: web.Request) -> web.Response:
        q = request.query
        inputs.known_only(q, ("limit", "cursor"))
        cursor = q.get("cursor") or None
        if cursor is not None:
            try:
                decode_cursor(cursor)
            except ValueError:
                raise BadRequest("bad_cursor", "cursor: not one this list gave") from None
        page = await trail.page(inputs.limit(q, 50), cursor)
        return json_reply({"events": [asdict(e) for e in page.events], "next_cursor": page.next_cursor})

    return area(policy, web.get("", list_events))
