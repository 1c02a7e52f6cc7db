"""The console's links into the scheduler for a call: ``GET /api/calls/{call_id}/scheduler``.

``?patient=<external_id>`` names the card the call is about (default: the one its comment
chose). The answer: ``{"call_id", "patient_id", "book", "appointments": [{"booking_id", "at",
"doctor", "topic", "branch", "cancel", "move"}]}``: each link filled from ``[scheduler]``'s
templates (``ari_app.bookings.scheduler``), null where the configuration has none; the
appointments are the patient's future ones, as the bookings feed last said. Authorised like the
call (404 for a call out of sight); audited as the card's opening (``patient_opened``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from ari_app.api import inputs
from ari_app.api.access import audit, require_call
from ari_app.api.errors import Invalid, NotFound
from ari_app.api.replies import json_reply
from ari_app.bookings.scheduler import fill
from ari_app.config import SchedulerSettings
from ari_app.store import CallStore
from ari_app.store.comments import CommentStore
from ari_app.store.directory import DirectoryStore


def scheduler_links(
    links: SchedulerSettings, call_id: str, patient_id: str, bookings: list[str]
) -> dict[str, Any]:
    """The book link and, by booking id, the cancel and move links (None: not configured)."""
    ids = {"call_id": call_id, "patient_id": patient_id}

    def one(template: str | None, **more: str) -> str | None:
        return fill(template, {**ids, **more}) if template is not None else None

    return {
        "book": one(links.book_url),
        "bookings": {
            b: {"cancel": one(links.cancel_url, booking_id=b), "move": one(links.move_url, booking_id=b)}
            for b in bookings
        },
    }


def scheduler_routes(
    calls: CallStore, directory: DirectoryStore, links: SchedulerSettings, clock: Callable[[], datetime]
) -> tuple[web.RouteDef, ...]:
    """The route, for the calls area (its prefix and policy)."""
    comments = CommentStore(calls.db)

    async def for_call(request: web.Request) -> web.Response:
        call_id = inputs.path_id(request, "call_id")
        inputs.known_only(request.query, ("patient",))
        await require_call(request, calls, call_id)
        if await calls.get_call(call_id) is None:
            raise NotFound("call_not_found", "no call with that id")
        patient = request.query.get("patient")
        if patient is not None:
            patient = inputs.text("patient", patient, inputs.MAX_ID)
        else:
            comment = await comments.get_comment(call_id)
            patient = comment.patient_external_id if comment is not None else None
        if patient is None:
            raise Invalid("patient", "name the card the call is about (the call's comment names none)")
        card = await directory.get_patient(patient, clock())
        if card is None:
            raise NotFound("patient_not_found", "no patient with that external id")
        await audit(request, "patient_opened", subject=patient, detail={"call_id": call_id})
        ahead = list(card.future_appointments)
        made = scheduler_links(links, call_id, patient, [a.booking_id for a in ahead])
        appointments = [
            {
                "booking_id": a.booking_id,
                "at": a.at,
                "doctor": a.doctor,
                "topic": a.topic,
                "branch": a.branch,
                **made["bookings"][a.booking_id],
            }
            for a in ahead
        ]
        return json_reply(
            {"call_id": call_id, "patient_id": patient, "book": made["book"], "appointments": appointments}
        )

    return (web.get("/{call_id}/scheduler", for_call),)
