"""``/api/reports`` (bearer token): conversion of opportunity calls into bookings, and missed
calls still waiting for their callback. Staff, contractors' and "other" calls are left out."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from ari_app.api import inputs
from ari_app.api.auth import Policy, area
from ari_app.api.errors import BadRequest
from ari_app.api.history_query import ident, period
from ari_app.api.replies import json_reply
from ari_app.store.reports import GROUPINGS, ReportStore


def reports_area(reports: ReportStore, policy: Policy | None, *more: web.RouteDef) -> web.Application:
    """``more``: other report routes (aiohttp gives a prefix to one sub-app only)."""

    async def conversion(request: web.Request) -> web.Response:
        q = request.query
        inputs.known_only(q, ("from", "until", "by", "branch"))
        by = inputs.choice(q, "by", GROUPINGS)
        if by is None:
            raise BadRequest("bad_by", f"by is required: one of {', '.join(GROUPINGS)}")
        since, until = period(q)
        rows = await reports.conversion(by=by, since=since, until=until, branch=ident(q, "branch"))
        total_calls = sum(r.calls for r in rows)
        total_won = sum(r.converted for r in rows)
        return json_reply(
            {
                "by": by,
                "rows": [
                    {"key": r.key, "calls": r.calls, "converted": r.converted, "rate": r.rate} for r in rows
                ],
                "total": {
                    "calls": total_calls,
                    "converted": total_won,
                    "rate": total_won / total_calls if total_calls else None,
                },
            }
        )

    async def missed(request: web.Request) -> web.Response:
        q = request.query
        inputs.known_only(q, ("from", "until", "branch", "limit"))
        since, until = period(q)
        found = await reports.missed(
            since=since, until=until, branch=ident(q, "branch"), limit=inputs.limit(q, 100)
        )
        return json_reply(
            {
                "by_branch": [{"branch": b, "calls": n} for b, n in found.by_branch],
                "total": sum(n for _, n in found.by_branch),
                "calls": [asdict(c) for c in found.calls],
            }
        )

    return area(policy, *more, web.get("/conversion", conversion), web.get("/missed", missed))
