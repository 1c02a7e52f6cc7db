"""Prometheus metrics on an injected registry. No phone number or name ever becomes a label."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ari_app.facts.fanout import FactFanout
from ari_app.facts.types import CallAnswered, CallbackNeeded, CallEnded, CallerIdentified, CallStarted
from ari_app.service_level import wait_seconds

_FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    ari_connected: Gauge
    ari_reconnects: Counter
    ari_events: Counter
    ari_bad_frames: Counter
    ari_requests: Histogram
    calls_started: Counter
    calls_ended: Counter
    calls_tracked: Gauge
    wait_seconds: Histogram
    talk_seconds: Histogram
    facts_pending: Gauge
    fact_write_failures: Counter
    recordings: Counter
    loop_lag: Histogram
    tracked_objects: Gauge
    switchboard_events: Counter
    facts_spooled: Gauge
    store_waiting_seconds: Gauge
    admins: Gauge
    queue_waiting: Gauge
    callbacks: Counter
    fallback_records: Counter
    calls_not_patients: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> Metrics:
        ns = "clinic"
        return cls(
            registry=registry,
            ari_connected=Gauge(
                f"{ns}_ari_connected", "1 while the ARI events websocket is up", registry=registry
            ),
            ari_reconnects=Counter(f"{ns}_ari_reconnects", "ARI websocket reconnections", registry=registry),
            ari_events=Counter(f"{ns}_ari_events", "ARI events received", ["type"], registry=registry),
            ari_bad_frames=Counter(
                f"{ns}_ari_bad_frames", "ARI frames skipped, by reason", ["kind"], registry=registry
            ),
            ari_requests=Histogram(
                f"{ns}_ari_request_seconds",
                "ARI REST commands, by command and result",
                ["command", "ok"],
                buckets=_FAST_BUCKETS,
                registry=registry,
            ),
            calls_started=Counter(
                f"{ns}_calls_started", "Inbound calls that entered the app", registry=registry
            ),
            calls_ended=Counter(
                f"{ns}_calls_ended",
                "Inbound calls ended, by outcome and branch",
                ["outcome", "branch"],
                registry=registry,
            ),
            calls_tracked=Gauge(f"{ns}_calls_tracked", "Calls held in memory right now", registry=registry),
            wait_seconds=Histogram(
                f"{ns}_call_wait_seconds",
                "Caller's wait before an answer (or the end)",
                ["outcome"],
                buckets=(1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300),
                registry=registry,
            ),
            talk_seconds=Histogram(
                f"{ns}_call_talk_seconds",
                "Talk time of answered calls",
                buckets=(10, 30, 60, 120, 180, 300, 600, 1200, 1800, 3600),
                registry=registry,
            ),
            facts_pending=Gauge(f"{ns}_facts_pending", "Call facts waiting to be written", registry=registry),
            fact_write_failures=Counter(
                f"{ns}_fact_write_failures", "Failed attempts to write a call fact", registry=registry
            ),
            recordings=Counter(
                f"{ns}_recordings", "Recordings collected, by result", ["result"], registry=registry
            ),
            loop_lag=Histogram(
                f"{ns}_event_loop_lag_seconds",
                "How late a 20 ms timer fires: time the event loop was busy elsewhere",
                buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
                registry=registry,
            ),
            tracked_objects=Gauge(
                f"{ns}_tracked_objects",
                "What the app holds in memory, by kind (calls, index entries, timers, ...)",
                ["kind"],
                registry=registry,
            ),
            switchboard_events=Counter(
                f"{ns}_switchboard",
                "Switchboard happenings: unrouted events, stray legs hung up, calls resumed after a"
                " restart, calls swept, Asterisk restarts seen",
                ["kind"],
                registry=registry,
            ),
            facts_spooled=Gauge(
                f"{ns}_facts_spooled", "Facts accepted but not yet in the database", registry=registry
            ),
            store_waiting_seconds=Gauge(
                f"{ns}_store_waiting_seconds",
                "How long the fact writer has been waiting for the database (0: it is not)",
                registry=registry,
            ),
            admins=Gauge(
                f"{ns}_admins",
                "Admins by presence: available, ringing, on_call, wrap_up, paused, offline",
                ["state"],
                registry=registry,
            ),
            queue_waiting=Gauge(
                f"{ns}_queue_waiting", "Callers waiting on hold for a free admin", registry=registry
            ),
            callbacks=Counter(
                f"{ns}_callbacks_needed",
                "Calls that ended without an admin and need a callback, by reason",
                ["reason"],
                registry=registry,
            ),
            fallback_records=Counter(
                f"{ns}_fallback_imports",
                "What the import of the dialplan fallback's records found: calls imported, lines"
                " rejected (kept in rejected.csv), records of others",
                ["result"],
                registry=registry,
            ),
            calls_not_patients=Counter(
                f"{ns}_calls_not_patients",
                "Calls from staff and contractors, ended: kept out of the outcome, wait and talk"
                " figures (calls.count_staff_calls)",
                ["kind"],
                registry=registry,
            ),
        )


@dataclass
class _OpenCall:
    branch: str
    started: datetime
    answered: datetime | None = None
    not_patient: str | None = field(default=None)  # staff | contractor: kept out of the figures


class CallMetrics:
    """The call counters and histograms, fed by the facts they count (a fan-out consumer).

    Staff and contractors' calls (``CallerIdentified.in_statistics`` False) are counted apart,
    in ``calls_not_patients``, unless ``count_staff_calls``: a colleague's call is not a patient
    the clinic answered or missed.
    """

    def __init__(self, metrics: Metrics, *, count_staff_calls: bool = False) -> None:
        self._m = metrics
        self._count_staff = count_staff_calls
        self._open: dict[str, _OpenCall] = {}

    def subscribe(self, fanout: FactFanout) -> None:
        fanout.subscribe(CallStarted, self.started)
        fanout.subscribe(CallerIdentified, self.identified)
        fanout.subscribe(CallAnswered, self.answered)
        fanout.subscribe(CallEnded, self.ended)
        fanout.subscribe(CallbackNeeded, self.callback)

    @property
    def tracked(self) -> int:
        return len(self._open)

    def started(self, fact: CallStarted) -> None:
        if fact.handled_by == "app":  # a fallback call never entered the app
            self._m.calls_started.inc()
        self._open[fact.call_id] = _OpenCall(fact.branch or "unknown", fact.at)

    def identified(self, fact: CallerIdentified) -> None:
        call = self._open.get(fact.call_id)
        if call is not None and not fact.in_statistics and not self._count_staff:
            call.not_patient = fact.kind

    def answered(self, fact: CallAnswered) -> None:
        if (call := self._open.get(fact.call_id)) is not None:
            call.answered = fact.at

    def ended(self, fact: CallEnded) -> None:
        call = self._open.pop(fact.call_id, None) or _OpenCall("unknown", fact.at)
        if call.not_patient is not None:
            self._m.calls_not_patients.labels(call.not_patient).inc()
            return
        self._m.calls_ended.labels(fact.outcome, call.branch).inc()
        waited = wait_seconds(call.started, call.answered or fact.at)
        self._m.wait_seconds.labels(fact.outcome).observe(waited)
        if call.answered:
            self._m.talk_seconds.observe(max(0.0, (fact.at - call.answered).total_seconds()))

    def callback(self, fact: CallbackNeeded) -> None:
        self._m.callbacks.labels(fact.reason).inc()
