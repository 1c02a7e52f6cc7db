"""Callback tasks, the work list of calls nobody took: ``/api/callbacks`` (bearer token)."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from ari_app.api import inputs
from ari_app.api.access import own_branch, require_branch
from ari_app.api.auth import Policy, area
from ari_app.api.errors import BadRequest, NotFound
from ari_app.api.replies import json_reply
from ari_app.store import CALLBACK_STATUSES, CallStore

NO_TASK = ("callback_not_found", "no callback task with that id")


def callbacks_area(store: CallStore, policy: Policy | None) -> web.Application:
    async def list_callbacks(request: web.Request) -> web.Response:
        q = request.query
        limit = inputs.limit(q, 100)
        status = q.get("status") or None
        if status is not None and status != "open" and status not in CALLBACK_STATUSES:
            raise BadRequest("bad_status", f"status must be open or one of {', '.join(CALLBACK_STATUSES)}")
        branch = inputs.text("branch", q["branch"], inputs.MAX_ID) if q.get("branch") else None
        branch = own_branch(request, branch)
        tasks = await store.list_callbacks(status=status, branch=branch, limit=limit)
        return json_reply({"callbacks": [asdict(t) for t in tasks]})

    async def get_callback(request: web.Request) -> web.Response:
        task = await store.get_callback(inputs.path_id(request, "task_id"))
        if task is None:
            raise NotFound("callback_not_found", "no callback task with that id")
        require_branch(request, task.branch, *NO_TASK)
        return json_reply(asdict(task))

    async def set_callback_status(request: web.Request) -> web.Response:
        task_id = inputs.path_id(request, "task_id")
        status = (await inputs.json_object(request)).get("status")
        if not isinstance(status, str) or status not in CALLBACK_STATUSES:
            raise BadRequest("bad_status", f"status must be one of {', '.join(CALLBACK_STATUSES)}")
        found = await store.get_callback(task_id)
        if found is not None:
            require_branch(request, found.branch, *NO_TASK)
        try:
            task = await store.set_callback_status(task_id, status)
        except ValueError as exc:
            raise BadRequest("bad_transition", str(exc)) from exc
        if task is None:
            raise NotFound("callback_not_found", "no callback task with that id")
        return json_reply(asdict(task))

    return area(
        policy,
        web.get("", list_callbacks),
        web.get("/{task_id}", get_callback),
        web.post("/{task_id}/status", set_callback_status),
    )
