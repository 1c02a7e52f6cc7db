"""Wiring: the one place that builds everything and starts and stops it in order."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import logging
import ssl
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from ari_app.api.auth import bearer
from ari_app.api.errors import ApiRunner
from ari_app.api.http import HealthState, build_api, metrics_app
from ari_app.api.people import People
from ari_app.ari import models as m
from ari_app.ari.client import AriClient
from ari_app.ari.events import EventStream
from ari_app.auth.accounts import Accounts
from ari_app.bookings.store import BookingStore, windows_from
from ari_app.calls.arrival import arrival, build_dispatcher
from ari_app.calls.caller import CallerLookup
from ari_app.calls.desk import FrontDesk
from ari_app.calls.resync import Happening
from ari_app.calls.session import CallPolicy, CallSession
from ari_app.calls.switchboard import SWITCHBOARD_SIZES, Switchboard
from ari_app.config import Secrets, Settings
from ari_app.dialplan import FastAgiServer, StoreNameLookup
from ari_app.facts.fanout import FactFanout
from ari_app.facts.spool import FactSpool
from ari_app.facts.types import CallEnded, CallerIdentified, Fact
from ari_app.facts.writer import FactWriter
from ari_app.fallback.importer import FallbackImporter
from ari_app.i18n.pages import Pages
from ari_app.metrics import CallMetrics, Metrics
from ari_app.people.identity import CallerDirectory
from ari_app.presence import PhonePresence
from ari_app.private_files import private_dir
from ari_app.recording_collector import RecordingCollector
from ari_app.screenpop.board import Names
from ari_app.screenpop.hub import ScreenPop
from ari_app.screenpop.wallhub import WallboardHub
from ari_app.store import CallStore, Database, until_available
from ari_app.store.directory import DirectoryStore
from ari_app.store.outage import OutageLog
from ari_app.store.recordings import RecordingArchive
from ari_app.tls import server_context

log = structlog.get_logger(__name__)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


class CallCenterApp:
    def __init__(
        self,
        settings: Settings,
        secrets: Secrets,
        *,
        data_dir: Path,
        registry: CollectorRegistry | None = None,
        migrate: bool | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        directory: CallerDirectory | None = None,
    ) -> None:
        self.settings = settings
        self.secrets = secrets
        self.data_dir = data_dir
        self.metrics = Metrics.create(registry or CollectorRegistry())
        self._clock = clock
        url = secrets.database_url
        # The embedded default migrates itself; a shared PostgreSQL is migrated on purpose.
        self._migrate = url.startswith("sqlite") if migrate is None else migrate
        self.db = Database(url)
        self.store = CallStore(self.db)
        # Who is calling: the patients, staff and contractors directories; calls look callers up
        # in the database's own unless another directory is given.
        self.directories = DirectoryStore(self.db)
        # The console's people: users, sessions, service tokens, the audit trail.
        self.accounts = Accounts.create(self.db, settings.auth, clock)
        # The pages' templates and every configured locale's catalog: a catalog not compiled
        # stops the start here (CatalogMissing), before anything listens.
        self.pages = Pages(settings)
        self.directory: CallerDirectory = directory if directory is not None else self.directories
        self.caller_lookup = CallerLookup(
            self.directory, settings.regions, timeout=settings.calls.caller_lookup_timeout
        )
        self.client = AriClient(
            settings.ari.url,
            secrets.ari_username,
            secrets.ari_password,
            settings.ari.app,
            timeout=settings.ari.request_timeout,
        )
        self.spool = FactSpool(data_dir / "spool")
        self.facts = FactWriter(
            self.store,
            settings.regions,
            spool=self.spool,
            gather=0.05,
            callback_merge_minutes=settings.calls.callback_merge_minutes,
        )
        # Every fact: recorded (spool, then the database), then to the consumers of its type.
        self.fanout = FactFanout(self.facts)
        self.facts.on_written = self.fanout.committed
        self.call_metrics = CallMetrics(self.metrics, count_staff_calls=settings.calls.count_staff_calls)
        self.recordings = RecordingCollector(
            self.client,
            RecordingArchive(data_dir / "recordings"),
            self.fanout.publish_and_wait,
            max_bytes=settings.storage.max_recording_mb * 1024 * 1024,
        )
        # Presence and the queue; it tells waiting calls through the switchboard's inboxes.
        self.desk = FrontDesk(
            settings,
            build_dispatcher(settings),
            clock,
            lambda call_id, item: self.switchboard.deliver(call_id, item),
            on_change=self._desk_changed,
        )
        self.desk.subscribe(self.fanout)
        self.switchboard = Switchboard(
            self.client,
            self._new_session,
            self.fanout.publish,
            self.recordings.submit,
            clock=clock,
            on_command=self._on_command,
            is_our_call=self._is_our_call,
            desk=self.desk,
            caller_lookup=self.caller_lookup,
        )
        self.events = EventStream(
            settings.ari.url,
            secrets.ari_username,
            secrets.ari_password,
            settings.ari.app,
            on_event=self._on_event,
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
            on_bad_frame=self._on_bad_frame,
            backoff_max=2.0,  # back within seconds of Asterisk's restart: calls wait on us
        )
        self.call_metrics.subscribe(self.fanout)
        # The admins' consoles: each change of a call pushed as it happens (after the desk, so
        # a waiting call's place is the desk's new count).
        self.screenpop = ScreenPop(
            Names(settings.regions, {a.login: a.name for a in settings.admins}),
            clock,
            cards=self.directories.get_patient,
            places=self.desk.dispatcher.position,
        )
        self.screenpop.subscribe(self.fanout)
        self.switchboard.before_dial = self.screenpop.before_ring
        # The manager's wallboard: each branch's waiting callers, admins and figures of the day.
        self.wallboard = WallboardHub(settings, clock, presences=self.desk.presences, db=self.db)
        self.wallboard.subscribe(self.fanout)
        # Calls that became appointments: once a call's end (or who called) is in the database,
        # the booking events in its windows are linked again and the call is classified.
        self.bookings = BookingStore(self.db, windows_from(settings.bookings), clock)
        self._follow_ups: set[asyncio.Task[None]] = set()
        self.fanout.subscribe(CallEnded, self._call_changed, durable=True)
        self.fanout.subscribe(CallerIdentified, self._call_changed, durable=True)
        # Phones' registration: a second ARI app subscribed to the admins' endpoints.
        self.presence = PhonePresence(
            self.client,
            f"{settings.ari.app}-presence",
            [a.endpoint for a in settings.admins],
            self.desk,
        )
        self.presence_events = EventStream(
            settings.ari.url,
            secrets.ari_username,
            secrets.ari_password,
            self.presence.app,
            on_event=self.presence.on_event,
            on_connected=self.presence.on_connected,
            on_disconnected=self.presence.on_disconnected,
            on_bad_frame=self._on_bad_frame,
            backoff_max=5.0,
        )
        self.fastagi = FastAgiServer(
            settings,
            StoreNameLookup(self.db.session, settings.regions, self.directory),
            registry=self.metrics.registry,
            clock=clock,
        )
        self.fallback = FallbackImporter(
            settings,
            self.store,
            self._submit_imported,
            data_dir,
            clock=clock,
            on_records=lambda result, n: self.metrics.fallback_records.labels(result).inc(n),
        )
        self.fastagi_port: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: ApiRunner | None = None
        self._metrics_runner: ApiRunner | None = None
        self.metrics_port: int | None = None
        self._db_ok = True
        self._db_outage = OutageLog(self.db.display_url)
        self._started_at = clock()
        self.http_port: int | None = None
        self.http_scheme = "http"
        self._wire_metrics()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        private_dir(self.data_dir, tighten=True)
        self._started_at = self._clock()
        self._desk_changed(self.desk)  # the gauges' first values
        if self._migrate:
            await self.db.migrate()
        self.spool.open()
        calls = self.settings.calls
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.facts.run(), name="facts"),
            loop.create_task(self.spool.sync_forever(), name="spool-sync"),
            loop.create_task(self.recordings.run(), name="recordings"),
            loop.create_task(self._recover(), name="recover"),
            loop.create_task(self.fallback.run_forever(), name="fallback-import"),
            loop.create_task(self.events.run(), name="ari-events"),
            loop.create_task(self.presence_events.run(), name="ari-presence"),
            loop.create_task(self._watch_database(), name="database-probe"),
            loop.create_task(self._measure_lag(), name="loop-lag"),
            loop.create_task(self.wallboard.run(), name="wallboard"),
            loop.create_task(self.accounts.sockets.watch(), name="session-sockets"),
            loop.create_task(
                self.switchboard.sweep_forever(calls.sweep_interval, calls.sweep_idle), name="sweep"
            ),
        ]
        await self._serve_http()
        agi = self.settings.fastagi
        if agi.enabled:
            self.fastagi_port = await self.fastagi.start(agi.host, agi.port)
        log.info(
            "app_started",
            http_port=self.http_port,
            http_scheme=self.http_scheme,
            ari=self.settings.ari.url,
            app=self.settings.ari.app,
        )

    async def _serve_http(self) -> None:
        http = self.settings.http
        scrape = bearer(self.secrets.api_tokens) if http.metrics_auth == "bearer" else None
        apart = http.metrics_port is not None
        api = build_api(
            self.store,
            self._health,
            self.metrics.registry,
            self.secrets.api_tokens,
            self.data_dir / "recordings",
            desk=self.desk,
            clock=self._clock,
            metrics=False if apart else scrape,
            settings=self.settings,
            people=People(
                self.directories,
                self.settings.regions,
                on_patients_saved=self.bookings.relink_patients,
            ),
            bookings=self.bookings,
            bookings_secret=self.secrets.bookings_secret,
            accounts=self.accounts,
            screenpop=self.screenpop,
            pages=self.pages,
            wallboard=self.wallboard,
        )
        # The access log speaks at debug level only (``--log-level debug``), without query strings.
        access = logging.getLogger("ari_app.access")
        tls = None
        if http.tls_cert is not None and http.tls_key is not None:
            tls = server_context(Path(http.tls_cert), Path(http.tls_key))
        self._runner = ApiRunner(api, access_log=access)
        self.http_port = await _listen(self._runner, http.host, http.port, tls)
        self.http_scheme = "https" if tls is not None else "http"
        if http.metrics_port is not None:
            self._metrics_runner = ApiRunner(metrics_app(self.metrics.registry, scrape), access_log=access)
            self.metrics_port = await _listen(self._metrics_runner, http.metrics_host, http.metrics_port)

    async def stop(self, drain_timeout: float = 10.0) -> None:
        await self.fastagi.close()
        await self.presence_events.stop()
        await self.presence.close()
        await self.events.stop()
        await self.switchboard.close()
        await self.recordings.drain(drain_timeout)
        await self.facts.finish(drain_timeout)
        if self._follow_ups:  # relinks under way: they take a few queries each
            await asyncio.wait(set(self._follow_ups), timeout=drain_timeout)
        for task in (*self._tasks, *self._follow_ups):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._follow_ups, return_exceptions=True)
        await self.screenpop.close()
        self.wallboard.close()
        await self.accounts.sockets.close_all()
        for runner in (self._runner, self._metrics_runner):
            if runner is not None:
                await runner.cleanup()
        await self.client.close()
        await self.db.dispose()
        log.info("app_stopped")

    async def _recover(self) -> None:
        """Replay what an earlier process spooled, then hand its open calls to the switchboard,
        which takes them over at its first resync (see ari_app.calls.recovery)."""
        replayed = await self.facts.replay()
        open_calls = await until_available(
            functools.partial(self.store.open_calls, started_before=self._started_at), "recovery"
        )
        log.info("recovery_ready", replayed_facts=replayed, open_calls=len(open_calls))
        self.switchboard.set_recovery(open_calls)

    def _wire_metrics(self) -> None:
        """Sizes are read when Prometheus scrapes (nothing to poll); happenings are counted as
        they happen; presence and the queue follow the desk's changes (``_desk_changed``)."""
        gauges = self.metrics
        gauges.calls_tracked.set_function(lambda: self.switchboard.tracked)
        for kind in SWITCHBOARD_SIZES:
            gauges.tracked_objects.labels(kind).set_function(
                functools.partial(lambda k: self.switchboard.sizes()[k], kind)
            )
        gauges.tracked_objects.labels("call_facts").set_function(lambda: self.call_metrics.tracked)
        gauges.tracked_objects.labels("desk_legs").set_function(lambda: self.desk.legs_followed)
        gauges.tracked_objects.labels("screenpop_calls").set_function(lambda: len(self.screenpop.board.calls))
        gauges.tracked_objects.labels("screenpop_reads").set_function(lambda: self.screenpop.card_reads)
        gauges.tracked_objects.labels("ring_gates").set_function(lambda: len(self.screenpop.ring_gate))
        gauges.tracked_objects.labels("wallboard_calls").set_function(lambda: len(self.wallboard.board.where))
        gauges.tracked_objects.labels("spool_segments").set_function(
            lambda: len(self.spool.closed_segments) + 1
        )
        gauges.facts_spooled.set_function(lambda: self.facts.pending)
        gauges.facts_pending.set_function(lambda: self.facts.pending)
        gauges.store_waiting_seconds.set_function(self._store_waiting)
        self.switchboard.stats.on_count = self._switchboard_happened

    def _store_waiting(self) -> float:
        since = self.facts.waiting_since
        return 0.0 if since is None else time.monotonic() - since

    def _switchboard_happened(self, kind: Happening) -> None:
        if kind not in ("events", "calls_started"):  # counted already: ari_events, calls_started
            self.metrics.switchboard_events.labels(kind).inc()

    async def _watch_database(self) -> None:
        """The health check's view of the database (``/healthz``, the outage log)."""
        while True:
            problem = await self.db.probe()
            self._db_outage.observe(problem)
            self._db_ok = problem is None
            await asyncio.sleep(1.0)

    async def _measure_lag(self, interval: float = 0.02) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + interval
            await asyncio.sleep(interval)
            self.metrics.loop_lag.observe(max(0.0, loop.time() - due))

    # ------------------------------------------------------------------ ARI events
    def _on_event(self, ev: m.Event) -> None:
        self.metrics.ari_events.labels(type(ev).__name__).inc()
        self.switchboard.on_event(ev)

    async def _on_connected(self) -> None:
        self.metrics.ari_connected.set(1)
        await self.switchboard.resync()

    def _on_disconnected(self) -> None:
        self.metrics.ari_connected.set(0)
        self.metrics.ari_reconnects.inc()

    async def _is_our_call(self, call_id: str) -> bool:
        return await self.store.get_call(call_id) is not None

    def _on_bad_frame(self, kind: str, detail: str) -> None:
        self.metrics.ari_bad_frames.labels(kind).inc()

    def _on_command(self, command: str, seconds: float, ok: bool) -> None:
        self.metrics.ari_requests.labels(command, "true" if ok else "false").observe(seconds)

    # ------------------------------------------------------------------ calls
    def _new_session(self, call_id: str, start: m.StasisStart, now: datetime) -> CallSession:
        s = self.settings
        did = start.args[0] if start.args else start.channel.dialplan.exten
        arrived = arrival(s, did, now)
        branch = arrived.branch
        policy = CallPolicy(
            record=bool(branch and branch.record),
            missed_media=s.calls.missed_media,
            failed_media=s.calls.failed_media,
        )
        session = CallSession(
            call_id=call_id,
            start=start,
            did=did,
            branch=branch.id if branch else None,
            ad_channel=arrived.did.ad_channel if arrived.did else None,
            routing=dataclasses.replace(arrived.routing, preferred=self._last_admin(start)),
            policy=policy,
            new_id=lambda: str(uuid.uuid4()),
            now=now,
            caller_lookup=self.caller_lookup.timeout,  # its first wave waits for the caller's name
        )
        return session

    def _call_changed(self, fact: CallEnded | CallerIdentified) -> None:
        """A durable consumer: called in the writer's order, so the work goes to a task of its own
        (off the call's path; the fan-out must not wait on it)."""
        task = asyncio.get_running_loop().create_task(self._relink(fact.call_id), name="relink-call")
        self._follow_ups.add(task)
        task.add_done_callback(self._follow_ups.discard)

    async def _relink(self, call_id: str) -> None:
        try:
            await self.bookings.relink_call(call_id)
        except Exception:  # redone by the next change of the call, or by `ari-app relink`
            log.exception("relink_call_failed", call_id=call_id)

    async def _submit_imported(self, facts: list[Fact]) -> None:
        """The facts of calls the dialplan's fallback took; resolves once they are stored."""
        for fact in facts[:-1]:
            self.fanout.publish(fact)
        await self.fanout.publish_and_wait(facts[-1])  # one writer, in order: the rest are in too

    def _last_admin(self, start: m.StasisStart) -> str | None:
        return self.desk.last_admin(start.channel.caller.number)

    def _desk_changed(self, desk: FrontDesk) -> None:
        for state, count in desk.counts().items():
            self.metrics.admins.labels(state).set(count)
        self.metrics.queue_waiting.set(desk.waiting())
        self.wallboard.desk_changed()

    def _health(self) -> HealthState:
        return HealthState(
            ari_connected=self.events.connected,
            database_ok=self._db_ok,
            tracked_calls=self.switchboard.tracked,
            pending_facts=self.facts.pending,
            ari_problem=self.events.problem,
        )

    async def wait_ari(self, timeout: float) -> bool:
        return await self.events.wait_connected(timeout)


async def _listen(runner: web.AppRunner, host: str, port: int, tls: ssl.SSLContext | None = None) -> int:
    """Serve ``runner`` on host:port (0: any free port), over TLS with ``tls``; the port it is on."""
    await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=tls).start()
    return int(runner.addresses[0][1]) if runner.addresses else port


# Seconds between collections of the young and middle generations (see ``collect_garbage``).
GC_INTERVAL = 60.0


async def collect_garbage(interval: float = GC_INTERVAL, collect: Callable[[int], int] = gc.collect) -> None:
    """Collect the young and middle generations every ``interval`` seconds.

    ``run`` raises the collector's thresholds so that collections do not stall calls; with them
    the middle generation was collected about once in 10,000 calls, and the cycles each call
    leaves (an exception and its frames) piled up until then. Once a minute costs a few
    milliseconds (start-up's objects are frozen); after a hundred of these Python collects the
    oldest generation too, once it has grown by a quarter since its last collection."""
    while True:
        await asyncio.sleep(interval)
        collect(1)


async def serve_forever(app: CallCenterApp, stop: asyncio.Event) -> None:
    try:
        await app.start()
        # What start-up built lives as long as the process: keep it out of the cyclic
        # collector's scans (a full scan of it stalled the event loop for tens of ms).
        gc.freeze()
    except BaseException:
        with contextlib.suppress(Exception):
            await app.stop(drain_timeout=0)
        raise
    collector = asyncio.get_running_loop().create_task(collect_garbage(), name="gc")
    try:
        await stop.wait()
    finally:
        collector.cancel()
        with contextlib.suppress(Exception):
            await app.stop()
