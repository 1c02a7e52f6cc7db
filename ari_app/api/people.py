"""The directories: ``/api/patients``, ``/api/staff``, ``/api/contractors`` and who a number
belongs to, ``/api/callers/{number}`` (bearer token).

- ``PUT /{external_id}``: the whole card (``PatientIn`` or ``ContactIn`` as JSON). The path
  names the card: the body may leave ``external_id`` out, and if it says one it must be the
  path's (else 400 ``external_id_mismatch``). Answers the card as stored.
- ``GET /{external_id}``: the card; 404 ``patient_not_found`` (``staff_not_found``,
  ``contractor_not_found``).
- ``POST /bulk``: ``{"patients": [...]}`` (``"staff"``, ``"contractors"``), at most 1000 cards
  and 4 MiB; each card is checked and written on its own: ``{"accepted": n, "rejected":
  [{"index", "external_id", "errors": [{"field", "reason"}]}]}``.
- ``GET /api/callers/{number}?branch=<id>``: the number as written, read in the branch's region.

Bad input is 400, as in the rest of the API: ``invalid_fields`` with ``errors`` naming each
field as a client writes it (``phones[0].number``); ``bad_json`` for a body that is not a JSON
object. A single card's body has the API's limit (64 KiB).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from ari_app.api import inputs
from ari_app.api.access import audit
from ari_app.api.auth import Policy, area, principal_of
from ari_app.api.errors import BadRequest, Forbidden, InvalidFields, NotFound, TooLarge
from ari_app.api.replies import json_reply
from ari_app.numbers import Regions
from ari_app.people.errors import RowError, field_errors
from ari_app.people.identity import CallerIdentity
from ari_app.people.schema import ContactIn, ContactKind, PatientIn
from ari_app.people.views import PatientView
from ari_app.store.directory import DirectoryStore

log = structlog.get_logger(__name__)

MAX_BULK = 1000
BULK_BODY = 4 * 1024 * 1024  # 1000 cards of about 4 KiB: what a scheduler's export sends at once


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class People:
    """What the directories' API needs: the store, each branch's phone region, the time."""

    directory: DirectoryStore
    regions: Regions
    clock: Callable[[], datetime] = _now
    # Told the external ids of the patients' cards just saved (the booking links they change).
    on_patients_saved: Callable[[list[str]], Awaitable[object]] | None = None


@dataclass(frozen=True)
class _Kind:
    """One directory as the API serves it."""

    key: str  # the bulk body's key: patients, staff, contractors
    singular: str  # patient, staff, contractor: its not-found id
    model: type[BaseModel]
    upsert: Callable[[Sequence[Any]], Awaitable[list[RowError | None]]]
    read: Callable[[str], Awaitable[Any | None]]


def _card_json(view: Any) -> dict[str, Any]:
    body = asdict(view)
    if isinstance(view, PatientView):
        body["visits"]["completed_share"] = view.completed_share
    return body


def identity_json(e164: str, who: CallerIdentity) -> dict[str, Any]:
    return {
        "number_e164": e164,
        "kind": who.kind,
        "display_name": who.display_name,
        "contact_name": who.contact_name,
        "organisation": who.organisation,
        "patient_id": who.patient_id,
        "in_statistics": who.in_statistics,
        "cards": [asdict(c) for c in who.cards],
    }


def _rejected(e: RowError) -> dict[str, Any]:
    errors = [{"field": f, "reason": reason} for f, reason in e.errors]
    return {"index": e.index, "external_id": e.external_id, "errors": errors}


def _check(kind: _Kind, raw: object, index: int) -> BaseModel | RowError:
    """One card of a request read, or why not (its index, its external id if it said one)."""
    if not isinstance(raw, dict):
        return RowError(index, None, (("", "each item must be a JSON object"),))
    try:
        return kind.model.model_validate(raw)
    except ValidationError as exc:
        said = raw.get("external_id")
        return RowError(index, said if isinstance(said, str) else None, field_errors(exc))


async def _bulk_items(request: web.Request, key: str) -> list[Any]:
    try:
        body = await inputs.json_object(request.clone(client_max_size=BULK_BODY))
    except web.HTTPRequestEntityTooLarge as exc:
        raise TooLarge("body_too_large", f"the body must be at most {BULK_BODY} bytes") from exc
    unknown = sorted(set(body) - {key})
    if unknown:
        raise InvalidFields([(name, "Extra inputs are not permitted") for name in unknown])
    items = body.get(key)
    if not isinstance(items, list):
        raise InvalidFields([(key, "must be a list of cards")])
    if len(items) > MAX_BULK:
        raise BadRequest("too_many_items", f"{key}: at most {MAX_BULK} in one request, {len(items)} sent")
    return items


def _systems_only(request: web.Request) -> None:
    """The cards are the scheduler's: people change them only through the console's narrow
    writes (``ari_app.api.patients``), never whole."""
    who = principal_of(request)
    if who is not None and who.is_user:
        raise Forbidden("forbidden", "your role may not do this")


def _directory_area(kind: _Kind, policy: Policy | None, *more: web.RouteDef) -> web.Application:
    async def put_card(request: web.Request) -> web.Response:
        _systems_only(request)
        external_id = inputs.path_id(request, "external_id")
        body = await inputs.json_object(request)
        if body.setdefault("external_id", external_id) != external_id:
            raise BadRequest("external_id_mismatch", "external_id: must be the path's, or left out")
        card = _check(kind, body, 0)
        if isinstance(card, RowError):
            raise InvalidFields(card.errors)
        refused = (await kind.upsert([card]))[0]
        if refused is not None:
            raise InvalidFields(refused.errors)
        return json_reply(_card_json(await kind.read(external_id)))

    async def get_card(request: web.Request) -> web.Response:
        external_id = inputs.path_id(request, "external_id")
        view = await kind.read(external_id)
        if view is None:
            raise NotFound(f"{kind.singular}_not_found", f"no {kind.singular} with that external id")
        if kind.singular == "patient":  # a patient's card is medical data: who opened it is kept
            await audit(request, "patient_opened", subject=external_id)
        return json_reply(_card_json(view))

    async def bulk(request: web.Request) -> web.Response:
        _systems_only(request)
        checked = [_check(kind, raw, i) for i, raw in enumerate(await _bulk_items(request, kind.key))]
        good = [(i, c) for i, c in enumerate(checked) if not isinstance(c, RowError)]
        rejected = [c for c in checked if isinstance(c, RowError)]
        written = await kind.upsert([c for _, c in good])
        for (i, _), refused in zip(good, written, strict=True):
            if refused is not None:
                rejected.append(RowError(i, refused.external_id, refused.errors))
        rejected.sort(key=lambda e: e.index)
        return json_reply(
            {"accepted": len(checked) - len(rejected), "rejected": [_rejected(e) for e in rejected]}
        )

    return area(
        policy,
        *more,
        web.post("/bulk", bulk),
        web.put("/{external_id}", put_card),
        web.get("/{external_id}", get_card),
    )


def _callers_area(people: People, policy: Policy | None) -> web.Application:
    async def identify(request: web.Request) -> web.Response:
        number = inputs.text("number", request.match_info["number"], inputs.MAX_ID)
        branch = request.query.get("branch") or None
        if branch is not None:
            branch = inputs.text("branch", branch, inputs.MAX_ID)
        e164 = people.regions.to_e164(number, branch)
        if e164 is None:
            region = people.regions.of(branch)
            raise BadRequest("bad_number", f"number: not a phone number that can be read in region {region}")
        return json_reply(identity_json(e164, await people.directory.identify(e164)))

    return area(policy, web.get("/{number}", identify))


def people_areas(
    people: People,
    policy: Policy | None,
    *more_patients: web.RouteDef,
    patients_policy: Policy | None = None,
) -> dict[str, web.Application]:
    """The directories' sub-apps by their prefix. ``more_patients``: the console's routes under
    ``/api/patients`` (search, numbers), behind ``patients_policy`` (default ``policy``): the
    one that lets admins write, where the whole cards stay the systems' to change."""
    d, regions = people.directory, people.regions

    def contacts(kind: ContactKind, key: str) -> _Kind:
        return _Kind(
            key,
            kind,
            ContactIn,
            lambda items: d.upsert_contacts(kind, items, regions, people.clock()),
            lambda ext: d.get_contact(kind, ext),
        )

    async def upsert_patients(items: Sequence[PatientIn]) -> list[RowError | None]:
        refused = await d.upsert_patients(items, regions, people.clock())
        saved = [card.external_id for card, no in zip(items, refused, strict=True) if no is None]
        if saved and people.on_patients_saved is not None:
            try:
                await people.on_patients_saved(saved)
            except Exception:  # the cards are stored: their links can be redone (ari-app relink)
                log.exception("relinking after saved cards failed", cards=len(saved))
        return refused

    patients = _Kind(
        "patients",
        "patient",
        PatientIn,
        upsert_patients,
        lambda ext: d.get_patient(ext, people.clock()),
    )
    return {
        "/api/patients": _directory_area(
            patients, patients_policy if patients_policy is not None else policy, *more_patients
        ),
        "/api/staff": _directory_area(contacts("staff", "staff"), policy),
        "/api/contractors": _directory_area(contacts("contractor", "contractors"), policy),
        "/api/callers": _callers_area(people, policy),
    }
