"""What the console does with patients' cards beyond reading one: find a card, and put the number
a call came from on the card the call was about. Both join ``/api/patients``.

- ``GET /api/patients?q=<text>&limit=<n>``: cards by external id, by a number on them (in any
  form, read in the asker's branch's region, else ``branch=``'s, else the clinic's) or by their
  name's word prefixes (any case and script, any order: "pet iv" finds "Ivan Petrenko"); at most
  ``limit`` (default 20, at most 50): ``{"patients": [summary, ...]}``, each with what found it
  (``matched``). Every search is audited (``patients_searched``: how many cards, not the text).
- ``POST /api/patients/{external_id}/numbers`` ``{"call_id", "number"?, "role"?, "owner"?}``:
  ``number`` (default: the call's caller number) on the card, in E.164, as an admin's
  (``source`` "console": the next import of the card keeps it). 201 when added, 200 when the card
  had it already (left as it was). Admins and assistants (of the call, which they must see) and
  tokens with ``directories:write``; audited (``patient_number_added``: who, the card, the call;
  never the number). A number added relinks the patient's booking events to calls.
"""

from __future__ import annotations

from dataclasses import asdict

import structlog
from aiohttp import web

from ari_app.api import inputs
from ari_app.api.access import audit, require_call
from ari_app.api.auth import principal_of
from ari_app.api.comments import parse
from ari_app.api.errors import BadRequest, Invalid, NotFound
from ari_app.api.people import People
from ari_app.api.replies import json_reply
from ari_app.people.schema import CardNumberIn
from ari_app.people.search import BadSearch, parse_search
from ari_app.store import CallStore
from ari_app.store.directory import NoSuchCard, UnreadableNumber

log = structlog.get_logger(__name__)

SEARCH_LIMIT, SEARCH_MAX = 20, 50


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return SEARCH_LIMIT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 2 and 1 <= int(raw) <= SEARCH_MAX):
        raise BadRequest("bad_limit", f"limit must be an integer from 1 to {SEARCH_MAX}")
    return int(raw)


def patient_routes(people: People) -> tuple[web.RouteDef, ...]:
    """The routes, for the patients' area (its ``/api/patients`` prefix and its policy)."""
    calls = CallStore(people.directory.db)

    async def search(request: web.Request) -> web.Response:
        inputs.known_only(request.query, ("q", "limit", "branch"))
        who = principal_of(request)
        branch = who.branch if who is not None and who.branch else request.query.get("branch")
        if branch is not None:
            branch = inputs.text("branch", branch, inputs.MAX_ID)
        try:
            query = parse_search(request.query.get("q", ""), people.regions, branch)
        except BadSearch as exc:
            raise BadRequest("bad_search", str(exc)) from None
        found = await people.directory.search(query, _limit(request), people.clock().date())
        await audit(request, "patients_searched", detail={"results": len(found)})
        return json_reply({"patients": [asdict(p) for p in found]})

    async def add_number(request: web.Request) -> web.Response:
        external_id = inputs.path_id(request, "external_id")
        given = parse(CardNumberIn, await inputs.json_object(request))
        await require_call(request, calls, given.call_id)
        call = await calls.get_call(given.call_id)
        if call is None:
            raise NotFound("call_not_found", "no call with that id")
        number = given.number if given.number is not None else call.caller_number
        try:
            phone, added = await people.directory.learn_number(
                external_id, number, given.role, given.owner, people.regions
            )
        except NoSuchCard:
            raise NotFound("patient_not_found", "no patient with that external id") from None
        except UnreadableNumber as exc:
            field = "number" if given.number is not None else "call_id"
            why = str(exc) if given.number is not None else "the call's number is withheld or unreadable"
            raise Invalid(field, why) from None
        detail = {"call_id": call.id, "added": added, "role": phone.role}
        await audit(request, "patient_number_added", subject=external_id, detail=detail)
        log.info("patient_number_added", patient=external_id, call_id=call.id, added=added)
        if added and people.on_patients_saved is not None:
            try:
                await people.on_patients_saved([external_id])
            except Exception:  # the number is stored: its links can be redone (ari-app relink)
                log.exception("relinking after an added number failed", patient=external_id)
        body = {"external_id": external_id, "added": added, "phone": asdict(phone)}
        return json_reply(body, status=201 if added else 200)

    return (
        web.get("", search),
        web.post("/{external_id}/numbers", add_number),
    )
