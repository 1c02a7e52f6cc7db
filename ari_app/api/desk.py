"""HTTP API of the front desk: admins' presence, transfers, and the queue (bearer token, as the rest).

- ``PUT /api/admins/{login}/presence`` with ``{"state": "paused", "reason": "lunch"}`` or
  ``{"state": "available"}``; with ``[calls] pause_reasons`` configured, a pause's reason is one
  of them (400 ``bad_reason`` otherwise).
- ``GET /api/admins/me``: the signed-in admin or assistant (login, name, branch, presence) and
  the pause reasons to offer; 404 ``admin_not_found`` for a manager or a token.
- ``POST /api/admins/{login}/transfer`` with ``{"to_admin": "ben"}`` or ``{"to_group":
  "call-center"}`` hands the caller that admin is talking with on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from ari_app.api import inputs
from ari_app.api.access import acting_as
from ari_app.api.auth import Policy, area, principal_of
from ari_app.api.errors import ApiError, BadRequest, Conflict, NotFound
from ari_app.calls.desk import (
    FrontDesk,
    NotOnCall,
    PresenceError,
    UnknownAdmin,
    UnknownTarget,
)
from ari_app.config import PAUSE_REASON_MAX


def _refusal(exc: PresenceError, refused_id: str) -> ApiError:
    """The desk's refusal as the API's error. The admin in the path unknown: 404; a transfer's
    target (a body field) unknown: 400."""
    if isinstance(exc, UnknownAdmin):
        return NotFound("admin_not_found", str(exc))
    if isinstance(exc, UnknownTarget):
        return BadRequest("unknown_target", str(exc))
    if isinstance(exc, NotOnCall):
        return Conflict("not_on_call", str(exc))
    return BadRequest(refused_id, str(exc))


def desk_areas(
    desk: FrontDesk, clock: Callable[[], datetime], policy: Policy | None
) -> dict[str, web.Application]:
    """Presence, transfers (``/api/admins``) and the queue (``/api/queue``)."""

    async def admins(_: web.Request) -> web.Response:
        return web.json_response({"admins": desk.presences(), "counts": desk.counts()})

    async def presence(request: web.Request) -> web.Response:
        login = inputs.path_id(request, "login")
        acting_as(request, login, "login")
        data = await inputs.json_object(request)
        unknown = sorted(set(data) - {"state", "reason"})
        if unknown:
            raise BadRequest("bad_field", f"unknown field(s): {', '.join(unknown)}")
        state, reason = data.get("state"), data.get("reason")
        if not isinstance(state, str) or (reason is not None and not isinstance(reason, str)):
            raise BadRequest("bad_state", "state must be 'available' or 'paused'; reason a string")
        if reason is not None:
            inputs.text("reason", reason, PAUSE_REASON_MAX)
        reasons = desk.settings.calls.pause_reasons
        if state == "paused" and reasons and reason not in reasons:
            raise BadRequest("bad_reason", f"reason: one of {', '.join(reasons)}")
        try:
            return web.json_response(desk.set_presence(login, state, reason))
        except PresenceError as exc:
            raise _refusal(exc, "bad_state") from exc

    async def me(request: web.Request) -> web.Response:
        """The signed-in admin or assistant: who they are, their presence, the pause reasons."""
        who = principal_of(request)
        admin = desk.settings.admin(who.admin_login) if who is not None and who.admin_login else None
        if who is None or admin is None:
            raise NotFound("admin_not_found", "you are not signed in as an admin or assistant")
        try:
            presence = desk.presence_of(admin.login)
        except KeyError:  # configured but not at the desk (no endpoint known to it)
            presence = None
        return web.json_response(
            {
                "user": who.name,
                "role": who.role,
                "login": admin.login,
                "name": admin.name,
                "branch": admin.branch,
                "presence": presence,
                "pause_reasons": list(desk.settings.calls.pause_reasons),
            }
        )

    async def transfer(request: web.Request) -> web.Response:
        login = inputs.path_id(request, "login")
        acting_as(request, login, "login")
        data = await inputs.json_object(request)
        targets = [(k.removeprefix("to_"), v) for k, v in data.items() if k in ("to_admin", "to_group")]
        if len(targets) != 1 or len(data) != 1 or not isinstance(targets[0][1], str):
            raise BadRequest("bad_target", 'send exactly one of {"to_admin": login} or {"to_group": id}')
        kind, target = targets[0]
        inputs.text(f"to_{kind}", target, inputs.MAX_ID)
        try:
            call_id = desk.transfer(login, (kind, target))
        except PresenceError as exc:
            raise _refusal(exc, "bad_target") from exc
        return web.json_response({"call_id": call_id, "to": f"{kind}:{target}"}, status=202)

    async def queue(_: web.Request) -> web.Response:
        now: datetime = clock()
        d = desk.dispatcher
        waiting: list[dict[str, Any]] = [
            {
                "call_id": s.call_id,
                "groups": list(s.groups),
                "position": d.position(s.call_id),
                "waiting_seconds": round((now - s.since).total_seconds(), 1),
                "ringing": sorted(s.ringing),
            }
            for s in d.seekers.values()
        ]
        waiting.sort(key=lambda w: (int(w["position"]), -float(w["waiting_seconds"])))
        return web.json_response({"calls": waiting})

    return {
        "/api/admins": area(
            policy,
            web.get("", admins),
            web.get("/me", me),
            web.put("/{login}/presence", presence),
            web.post("/{login}/transfer", transfer),
        ),
        "/api/queue": area(policy, web.get("", queue)),
    }
