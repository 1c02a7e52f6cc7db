"""The call comment and calls logged by hand, in the calls area (``/api/calls``, bearer token).

- ``PUT /api/calls/{call_id}/comment``: write the comment (``CommentIn``); 200 with it and its
  version. ``expected_version``, when sent, must be the version the admin edited (0: none yet),
  else 409 ``version_conflict``: two admins editing one call do not overwrite each other unseen.
- ``GET /api/calls/{call_id}/comment``: the comment and every version, oldest first; 404 when
  the call has none.
- ``POST /api/calls/manual``: a call that reached a mobile phone outside the PBX
  (``ManualCallIn``); 201 with the new call's id. It is an answered call like the others.

The comment's author is a body field (an admin's login) while systems call the API with bearer
tokens; once admins sign in to the console, their session supplies it. Input that is JSON but
cannot be accepted is 400 ``invalid_fields`` naming the field in ``errors``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from ari_app.api import inputs
from ari_app.api.access import acting_as, audit, require_call
from ari_app.api.errors import Conflict, Invalid, NotFound
from ari_app.api.replies import json_reply
from ari_app.config import Settings
from ari_app.numbers import Regions
from ari_app.people.identity import CallerDirectory
from ari_app.people.schema import UNKNOWN_TOPIC, CommentIn, ManualCallIn
from ari_app.store import CallStore
from ari_app.store.comments import CallNotFound, CommentStore, Refused, VersionConflict

log = structlog.get_logger(__name__)
M = TypeVar("M", bound=BaseModel)
CallChanged = Callable[[str], Awaitable[object]]
# A call logged by hand happened already; a little ahead is a phone's clock, more is a typo.
CLOCK_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class CommentRules:
    """What the configuration allows in a comment and a call logged by hand."""

    topics: frozenset[str]
    admins: frozenset[str]
    branches: frozenset[str]
    regions: Regions

    @classmethod
    def of(cls, settings: Settings) -> CommentRules:
        return cls(
            topics=frozenset(t.id for t in settings.topics),
            admins=frozenset(a.login for a in settings.admins),
            branches=frozenset(b.id for b in settings.branches),
            regions=settings.regions,
        )

    def check_comment(self, comment: CommentIn, prefix: str = "") -> None:
        if comment.topic != UNKNOWN_TOPIC and comment.topic not in self.topics:
            raise Invalid(f"{prefix}topic", f"not a configured topic: one of {self._topics()}")
        if comment.author not in self.admins:
            raise Invalid(f"{prefix}author", "no admin with this login")

    def check_manual(self, call: ManualCallIn, now: datetime) -> None:
        if call.admin not in self.admins:
            raise Invalid("admin", "no admin with this login")
        if call.branch is not None and call.branch not in self.branches:
            raise Invalid("branch", "no branch with this id")
        if call.started_at > now + CLOCK_SLACK:
            raise Invalid("started_at", "is in the future")
        if call.comment is not None:
            self.check_comment(call.comment, "comment.")

    def _topics(self) -> str:
        return ", ".join(sorted(self.topics | {UNKNOWN_TOPIC}))


def parse(model: type[M], data: dict[str, Any]) -> M:
    """``data`` as ``model``; the first refusal as 400 naming its field ("comment.topic")."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise Invalid(where, first["msg"]) from None


def comment_routes(
    store: CommentStore,
    rules: CommentRules,
    clock: Callable[[], datetime],
    directory: CallerDirectory | None = None,
    on_saved: CallChanged | None = None,
    on_number_added: Callable[[list[str]], Awaitable[object]] | None = None,
) -> tuple[web.RouteDef, ...]:
    """The routes, for the calls area (they share its ``/api/calls`` prefix and its policy).
    ``directory``: who a call logged by hand came from, as for the PBX's calls. ``on_saved``:
    told the call's id once its comment (or the call logged by hand) is stored, for what follows
    from it (the call's booking links and class); its failure is logged, the save stands.
    ``on_number_added``: told the card's external id when the comment put the caller's number on
    it (the patient's booking links), as ``POST /api/patients/{id}/numbers`` does; that is
    audited too (``patient_number_added``).
    A signed-in admin comments only the calls they see, and only as themselves."""
    calls = CallStore(store.db)

    async def saved(call_id: str) -> None:
        if on_saved is None:
            return
        try:
            await on_saved(call_id)
        except Exception:  # the comment is stored: what follows from it can be redone (relink)
            log.exception("comment_follow_up_failed", call_id=call_id)

    async def number_added(request: web.Request, call_id: str, patient: str, role: str | None) -> None:
        detail = {"call_id": call_id, "added": True, "role": role}
        await audit(request, "patient_number_added", subject=patient, detail=detail)
        if on_number_added is None:
            return
        try:
            await on_number_added([patient])
        except Exception:  # the number is stored: its links can be redone (ari-app relink)
            log.exception("relinking after an added number failed", patient=patient)

    async def put_comment(request: web.Request) -> web.Response:
        call_id = inputs.path_id(request, "call_id")
        await require_call(request, calls, call_id)
        comment = parse(CommentIn, await inputs.json_object(request))
        acting_as(request, comment.author, "author")
        rules.check_comment(comment)
        try:
            view = await store.write_comment(call_id, comment, comment.author, clock(), rules.regions)
        except CallNotFound as exc:
            raise NotFound("call_not_found", "no call with that id") from exc
        except Refused as exc:
            raise Invalid(exc.field, exc.reason) from exc
        except VersionConflict as exc:
            raise Conflict("version_conflict", str(exc)) from exc
        await saved(call_id)
        if view.number_added and comment.patient_external_id is not None:
            await number_added(request, call_id, comment.patient_external_id, comment.add_number_to_patient)
        return json_reply(asdict(view))

    async def get_comment(request: web.Request) -> web.Response:
        call_id = inputs.path_id(request, "call_id")
        await require_call(request, calls, call_id)
        view = await store.get_comment(call_id)
        if view is None:
            raise NotFound("comment_not_found", "this call has no comment (or there is no such call)")
        return json_reply(asdict(view))

    async def log_manual(request: web.Request) -> web.Response:
        call = parse(ManualCallIn, await inputs.json_object(request))
        acting_as(request, call.admin, "admin")
        now = clock()
        rules.check_manual(call, now)
        e164 = rules.regions.to_e164(call.number, call.branch)
        identity = await directory.identify(e164) if directory is not None and e164 else None
        try:
            call_id = await store.log_manual_call(call, now, rules.regions, identity)
        except Refused as exc:
            # The number is the call's own field; the others are its comment's.
            raise Invalid(exc.field if exc.field == "number" else f"comment.{exc.field}", exc.reason) from exc
        except VersionConflict as exc:  # a new call has no comment: only 0 (or none) is expected
            raise Conflict("version_conflict", str(exc)) from exc
        await saved(call_id)
        return json_reply({"call_id": call_id}, status=201)

    return (
        web.post("/manual", log_manual),
        web.put("/{call_id}/comment", put_comment),
        web.get("/{call_id}/comment", get_comment),
    )
