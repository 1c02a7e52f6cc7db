"""What a signed-in person may see and do inside an area, and the audit of what they opened.

The area's policy (``ari_app.api.auth``) has already said who is asking. Here: an admin or
assistant sees their branch's calls and the calls offered to them (a manager and the systems see
all), and acts only as themselves (presence, transfers, comments). A call out of sight is answered
as if it did not exist, so a refusal tells nothing about it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web

from ari_app.api.auth import principal_of
from ari_app.api.errors import Forbidden, NotFound
from ari_app.api.transport import client_address
from ari_app.auth.audit import AuditLog
from ari_app.store import CallStore
from ari_app.store.history import CallQuery

log = structlog.get_logger(__name__)

AUDIT_LOG = web.AppKey("audit_log", AuditLog)
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")


def visible_query(request: web.Request, query: CallQuery) -> CallQuery:
    """``query`` narrowed to the calls the person asking may see."""
    who = principal_of(request)
    if who is None or who.sees_every_call:
        return query
    return dataclasses.replace(query, visible_to=(who.branch, who.admin_login))


async def require_call(request: web.Request, store: CallStore, call_id: str) -> None:
    """404 ``call_not_found`` unless the call exists and the person asking may see it."""
    who = principal_of(request)
    if who is None or who.sees_every_call:
        return
    call = await store.get_call(call_id)
    if call is None:
        raise NotFound("call_not_found", "no call with that id")
    admins = {leg.admin for leg in call.legs if leg.admin} | ({call.admin} if call.admin else set())
    if not who.sees_call(call.branch, admins):
        raise NotFound("call_not_found", "no call with that id")


def require_branch(request: web.Request, branch: str | None, error_id: str, detail: str) -> None:
    """An admin or assistant reaches only their own branch's records (404 ``error_id`` otherwise)."""
    who = principal_of(request)
    if who is not None and not who.sees_every_call and branch != who.branch:
        raise NotFound(error_id, detail)


def own_branch(request: web.Request, asked: str | None) -> str | None:
    """The branch a list is read for: an admin's or assistant's own, whatever they ask."""
    who = principal_of(request)
    if who is None or who.sees_every_call:
        return asked
    if asked is not None and asked != who.branch:
        raise Forbidden("forbidden", "you see only your own branch")
    return who.branch


def acting_as(request: web.Request, login: str, field: str) -> None:
    """An admin or assistant acts only as themselves; managers and systems for anyone."""
    who = principal_of(request)
    if who is not None and who.is_user and who.role != "manager" and login != who.admin_login:
        raise Forbidden("forbidden", f"{field}: you may act only as yourself")


async def audit(
    request: web.Request, kind: str, *, subject: str | None = None, detail: Mapping[str, Any] | None = None
) -> None:
    """Record in the audit trail what the person (or system) asking did."""
    trail = request.config_dict.get(AUDIT_LOG)
    if trail is None:
        return
    clock = request.config_dict.get(CLOCK)
    now = clock() if clock is not None else datetime.now(UTC)
    who = principal_of(request)
    await trail.record(
        kind, who.actor if who else None, now, subject=subject, address=client_address(request), detail=detail
    )
