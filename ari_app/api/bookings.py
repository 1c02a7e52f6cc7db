"""The scheduler's bookings feed, the admins' class corrections and the classification report.

- ``POST /api/bookings/events``: one event (``BookingEventIn``) or ``{"events": [...]}`` (up to
  1,000). Bearer token, or signed: ``X-Signature: t=<unix>,v1=<hex HMAC-SHA256>`` of
  ``"<t>.<body>"`` with the feed's secret, within 5 minutes. 201 when something was recorded,
  200 when every event was a duplicate; each event's answer says whether its patient's card is
  known (an unknown one is kept and links once its card is saved) and the call
  it was linked to. An event id reused with other content: 409 ``event_conflict``, nothing kept.
- ``PUT /api/calls/{call_id}/opportunity`` (calls area): an admin corrects the proposed class.
- ``GET /api/reports/classification?from=&until=&branch=``: how many proposals were kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict
from typing import Any

import structlog
from aiohttp import web

from ari_app.api import inputs
from ari_app.api.access import acting_as, require_call
from ari_app.api.auth import Handler, Policy, area, bearer
from ari_app.api.comments import parse
from ari_app.api.errors import BadRequest, Conflict, Invalid, NotFound, Unauthenticated
from ari_app.api.history_query import ident, period
from ari_app.api.replies import json_reply
from ari_app.bookings import signature
from ari_app.bookings.schema import MAX_EVENTS, BookingBatchIn, BookingEventIn, OpportunityIn
from ari_app.bookings.store import BookingStore, EventConflict
from ari_app.store import CallStore

log = structlog.get_logger(__name__)
FEED_BODY = 4 * 1024 * 1024  # 1,000 events of up to ~1 KiB each, with room to spare


def feed_policy(
    tokens: Sequence[str],
    secret: str | None,
    clock: Callable[[], float] = time.time,
    *,
    systems: Policy | None = None,
) -> Policy:
    """A bearer token (``systems``' policy: by default one of ``tokens``), or a valid
    ``X-Signature`` (which wins when both are sent). Never a console session."""
    systems = systems or bearer(tokens)

    @web.middleware
    async def policy(request: web.Request, handler: Handler) -> web.StreamResponse:
        request = request.clone(client_max_size=FEED_BODY)
        header = request.headers.get("X-Signature")
        if header is None:
            return await systems(request, handler)
        if secret is None:
            raise Unauthenticated(
                "bad_signature", "signed requests are not configured here: send a bearer token"
            )
        body = await request.read()  # kept by the request: the handler reads it again
        try:
            signature.verify(secret, header, body, clock())
        except signature.SignatureRefused as exc:
            log.info("bookings_signature_refused", reason=exc.error_id)
            raise Unauthenticated(exc.error_id, exc.detail) from None
        return await handler(request)

    return policy


def _events(body: dict[str, Any]) -> tuple[list[BookingEventIn], bool]:
    """The events sent, and whether they came as a batch."""
    if "events" not in body:
        return [parse(BookingEventIn, body)], False
    sent = body["events"]
    if isinstance(sent, list) and len(sent) > MAX_EVENTS:
        raise BadRequest("too_many_items", f"at most {MAX_EVENTS} events a request")
    return list(parse(BookingBatchIn, body).events), True


def bookings_area(store: BookingStore, policy: Policy) -> web.Application:
    async def post_events(request: web.Request) -> web.Response:
        events, batch = _events(await inputs.json_object(request))
        try:
            results = await store.record(events)
        except EventConflict as exc:
            raise Conflict("event_conflict", str(exc)) from exc
        answers = [asdict(r) for r in results]
        recorded = sum(1 for r in results if r.result == "recorded")
        status = 201 if recorded else 200
        if not batch:
            return json_reply(answers[0], status=status)
        return json_reply(
            {"recorded": recorded, "duplicates": len(results) - recorded, "results": answers}, status=status
        )

    return area(policy, web.post("/events", post_events))


def opportunity_routes(store: BookingStore, admins: Collection[str] | None) -> tuple[web.RouteDef, ...]:
    """For the calls area (its ``/api/calls`` prefix and policy). ``admins``: the logins a
    correction may be made by (None: any). A signed-in admin corrects only the calls they see,
    and only as themselves."""
    calls = CallStore(store.db)

    async def put_opportunity(request: web.Request) -> web.Response:
        call_id = inputs.path_id(request, "call_id")
        await require_call(request, calls, call_id)
        chosen = parse(OpportunityIn, await inputs.json_object(request))
        acting_as(request, chosen.by, "by")
        if admins is not None and chosen.by not in admins:
            raise Invalid("by", "no admin with this login")
        view = await store.choose_opportunity(call_id, chosen.opportunity, chosen.by)
        if view is None:
            raise NotFound("call_not_found", "no call with that id")
        return json_reply(asdict(view))

    return (web.put("/{call_id}/opportunity", put_opportunity),)


def classification_routes(store: BookingStore) -> tuple[web.RouteDef, ...]:
    """``/classification`` for the reports area (one prefix, one sub-app)."""

    async def classification(request: web.Request) -> web.Response:
        q = request.query
        inputs.known_only(q, ("from", "until", "branch"))  # as the other reports read them
        since, until = period(q)
        return json_reply(asdict(await store.classification_report(since, until, ident(q, "branch"))))

    return (web.get("/classification", classification),)
