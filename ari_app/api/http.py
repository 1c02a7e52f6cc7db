"""The HTTP API: one sub-app per area, each behind its own policy (``ari_app.api.auth``).

- ``/healthz``: open (a load balancer's probe);
- ``/assets/{area}/{name}``: open, the pages' scripts, styles and pictures (``ari_app.i18n.assets``);
- ``/metrics``: bearer token, or none where ``[http] metrics_auth = "none"``; it can also be
  served on an address of its own (``metrics_port``), for a Prometheus on a private network;
- ``/api/calls`` (history and its CSV export, recordings, call comments, calls logged by hand),
  ``/api/reports`` (conversion, missed calls, classification), ``/api/callbacks`` (work list),
  ``/api/admins`` and ``/api/queue`` (presence, transfers, the queue): bearer token;
- ``/api/bookings`` (the scheduler's feed): bearer token or a signature (``ari_app.api.bookings``);
- ``/api/patients``, ``/api/staff``, ``/api/contractors`` (the directories) and ``/api/callers``
  (who a number belongs to): bearer token (``ari_app.api.people``).

With ``accounts`` (the console's people), every area but the bookings feed and ``/metrics`` also
takes a signed-in session, by role (``ari_app.api.auth.Gate``): calls, callbacks, presence and the
queue for every role (an admin or assistant sees their branch's calls and those offered to
them); the directories read-only; reports and ``/api/audit`` for managers. ``/login``,
``/logout``, ``/set-password`` and ``/auth/session`` are ``ari_app.api.login``'s; ``/console``
(the front desk's page, signed-in people only) and ``/console/ws`` (its socket) ``ari_app.screenpop``'s.

Errors, whatever the area, are JSON ``{"error": "<stable id>", "detail": "..."}``: the one error
middleware is the root app's, outside every area's policy (``ari_app.api.errors``). Inside it and
before any policy, the transport middleware reads the scheme and client address (trusted proxies),
refuses credentials in the URL and plain HTTP where HTTPS is required; every response gets the
security headers (``ari_app.api.hardening``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ari_app.api.access import AUDIT_LOG, CLOCK
from ari_app.api.audit import audit_area
from ari_app.api.auth import Gate, Policy, area
from ari_app.api.bookings import bookings_area, classification_routes, feed_policy, opportunity_routes
from ari_app.api.callbacks import callbacks_area
from ari_app.api.calls import OUTCOMES, calls_area
from ari_app.api.comments import CommentRules, comment_routes
from ari_app.api.desk import desk_areas
from ari_app.api.errors import error_middleware
from ari_app.api.hardening import harden, transport_middleware
from ari_app.api.login import login_routes
from ari_app.api.patients import patient_routes
from ari_app.api.people import People, people_areas
from ari_app.api.reports import reports_area
from ari_app.api.scheduler import scheduler_routes
from ari_app.api.transport import ALLOWED_ORIGINS, TransportPolicy
from ari_app.auth.accounts import Accounts
from ari_app.bookings.store import BookingStore
from ari_app.calls.desk import FrontDesk
from ari_app.config import Settings
from ari_app.i18n.assets import asset_routes
from ari_app.i18n.pages import PAGES, Pages
from ari_app.screenpop.hub import ScreenPop
from ari_app.screenpop.page import console_page_routes
from ari_app.screenpop.routes import console_routes
from ari_app.screenpop.wallhub import WallboardHub
from ari_app.screenpop.wallroutes import wallboard_area, wallboard_page_routes, wallboard_socket_routes
from ari_app.store import CallStore
from ari_app.store.comments import CommentStore
from ari_app.store.reports import ReportStore

__all__ = ["OUTCOMES", "HealthState", "build_api", "metrics_app"]


@dataclass(frozen=True)
class HealthState:
    ari_connected: bool
    database_ok: bool
    tracked_calls: int
    pending_facts: int
    ari_problem: tuple[str, str] | None = None  # (state, detail) while ARI refuses or is away


def metrics_area(registry: CollectorRegistry, policy: Policy | None) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return area(policy, web.get("", metrics))


def root_app(transport: TransportPolicy, client_max_size: int) -> web.Application:
    """The app every area hangs from: errors as JSON, the transport's checks, security headers."""
    app = web.Application(
        middlewares=[error_middleware, transport_middleware(transport)], client_max_size=client_max_size
    )
    app[ALLOWED_ORIGINS] = transport.allowed_origins
    harden(app)
    return app


def metrics_app(registry: CollectorRegistry, policy: Policy | None) -> web.Application:
    """``/metrics`` alone, for an address of its own (a private network: plain HTTP, no proxy)."""
    app = root_app(TransportPolicy(), client_max_size=1024)
    app.add_subapp("/metrics", metrics_area(registry, policy))
    return app


def build_api(
    store: CallStore,
    health: Callable[[], HealthState],
    registry: CollectorRegistry,
    tokens: Sequence[str],
    recordings_root: Path,
    *,
    desk: FrontDesk | None = None,
    clock: Callable[[], datetime] | None = None,
    metrics: Policy | bool | None = True,
    settings: Settings | None = None,
    people: People | None = None,
    bookings: BookingStore | None = None,
    bookings_secret: str | None = None,
    transport: TransportPolicy | None = None,
    accounts: Accounts | None = None,
    screenpop: ScreenPop | None = None,
    pages: Pages | None = None,
    wallboard: WallboardHub | None = None,
) -> web.Application:
    """``metrics``: True, served here behind the bearer token; a policy (None: open); False,
    served elsewhere (``metrics_app``). ``settings``: the topics, admins and regions call
    comments are checked against (without them, no comment routes). ``transport``: TLS, HTTPS
    required, trusted proxies, allowed origins (default: the settings' ``[http]``, else none).
    ``accounts``: the console's users, sessions, service tokens and audit trail (without them,
    bearer tokens only). ``screenpop``: the console's push hub, served at ``/console/ws`` to
    signed-in people (needs ``accounts``). ``pages``: the pages' templates and translations
    (default: built from ``settings``, which fails for a locale whose catalog is not compiled);
    any area's handler finds it at ``request.config_dict[PAGES]``. ``wallboard``: the manager's
    wallboard, its socket ``/wallboard/ws`` and page ``/wallboard`` for signed-in people (needs
    ``accounts``), ``/api/wallboard`` as the desk."""
    now = clock or (lambda: datetime.now().astimezone())
    gate = Gate(tokens, now, accounts.sessions if accounts else None, accounts.services if accounts else None)
    every_role = ("admin", "assistant", "manager")
    managers = ("manager",)

    async def healthz(_: web.Request) -> web.Response:
        state = health()
        ok = state.ari_connected and state.database_ok
        problem = None if state.ari_connected else state.ari_problem
        body = {
            "status": "ok" if ok else "degraded",
            "ari": "connected" if state.ari_connected else (problem[0] if problem else "disconnected"),
            "ari_error": problem[1] if problem else None,
            "database": "ok" if state.database_ok else "unavailable",
            "tracked_calls": state.tracked_calls,
            "pending_facts": state.pending_facts,
        }
        return web.json_response(body, status=200 if ok else 503)

    if transport is None:
        transport = TransportPolicy.of(settings.http) if settings is not None else TransportPolicy()
    app = root_app(transport, client_max_size=64 * 1024)
    app.router.add_get("/healthz", healthz)
    app[CLOCK] = now
    app[PAGES] = pages = pages if pages is not None else Pages(settings)
    app.add_routes(asset_routes())
    if accounts is not None:
        app[AUDIT_LOG] = accounts.audit
        app.add_routes(login_routes(accounts, gate, now, pages))
        app.add_subapp(
            "/api/audit", audit_area(accounts.audit, gate.policy("audit", managers, systems=False))
        )
        if screenpop is not None:
            app.add_routes(console_routes(screenpop, gate, accounts.sockets))
            app.add_routes(console_page_routes(gate, settings))
    if metrics is not False:
        scrape = gate.policy("metrics", ()) if metrics is True else metrics
        app.add_subapp("/metrics", metrics_area(registry, scrape))
    more: list[web.RouteDef] = []
    if settings is not None:
        more += comment_routes(
            CommentStore(store.db),
            CommentRules.of(settings),
            now,
            people.directory if people else None,
            on_saved=bookings.relink_call if bookings is not None else None,
            on_number_added=people.on_patients_saved if people else None,
        )
    if settings is not None and people is not None:
        more += scheduler_routes(store, people.directory, settings.scheduler, now)
    if bookings is not None:
        admins = None if settings is None else {a.login for a in settings.admins}
        more += opportunity_routes(bookings, admins)
        systems = gate.policy("bookings", ())  # systems only: the scheduler's feed
        feed = feed_policy(tokens, bookings_secret, systems=systems)
        app.add_subapp("/api/bookings", bookings_area(bookings, feed))
    region = settings.calls.default_region if settings is not None else "US"
    app.add_subapp(
        "/api/calls",
        calls_area(store, recordings_root, gate.policy("calls", every_role), *more, default_region=region),
    )
    zones = {b.id: b.timezone for b in settings.branches} if settings is not None else {}
    classification = classification_routes(bookings) if bookings is not None else ()
    app.add_subapp(
        "/api/reports",
        reports_area(ReportStore(store.db, zones), gate.policy("reports", managers), *classification),
    )
    app.add_subapp("/api/callbacks", callbacks_area(store, gate.policy("callbacks", every_role)))
    if wallboard is not None:
        app.add_subapp("/api/wallboard", wallboard_area(wallboard, gate.policy("desk", every_role)))
        if accounts is not None:
            app.add_routes(wallboard_socket_routes(wallboard, gate, accounts.sockets))
            app.add_routes(wallboard_page_routes(wallboard, gate))
    if desk is not None:
        for prefix, sub in desk_areas(desk, now, gate.policy("desk", every_role)).items():
            app.add_subapp(prefix, sub)
    if people is not None:
        # People read the directories; admins and assistants also search and add a number.
        console = gate.policy("directories", every_role, write_roles=("admin", "assistant"))
        for prefix, sub in people_areas(
            people,
            gate.policy("directories", every_role, write_roles=()),
            *patient_routes(people),
            patients_policy=console,
        ).items():
            app.add_subapp(prefix, sub)
    return app
