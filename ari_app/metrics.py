"""Prometheus metrics on an injected registry. No phone number or name ever becomes a label."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ari_app.facts.fanout import FactFanout
from ari_app.facts.types import CallAnswered, CallbackNeeded, CallEnded, CallStarted

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
        )


class CallMetrics:
    """The call counters and histograms, fed by the facts they count (a fan-out consumer)."""

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics
        self._open: dict[str, tuple[str, datetime, datetime | None]] = {}  # call: branch, start, answer

    def subscribe(self, fanout: FactFanout) -> None:
        fanout.subscribe(CallStarted, self.started)
        fanout.subscribe(CallAnswered, self.answered)
        fanout.subscribe(CallEnded, self.ended)
        fanout.subscribe(CallbackNeeded, self.callback)

    @property
    def tracked(self) -> int:
        return len(self._open)

    def started(self, fact: CallStarted) -> None:
        if fact.handled_by == "app":  # a fallback call never entered the app
            self._m.calls_started.inc()
        self._open[fact.call_id] = (fact.branch or "unknown", fact.at, None)

    def answered(self, fact: CallAnswered) -> None:
        if fact.call_id in self._open:
            branch, started, _ = self._open[fact.call_id]
            self._open[fact.call_id] = (branch, started, fact.at)

    def ended(self, fact: CallEnded) -> None:
        branch, started, answered = self._open.pop(fact.call_id, ("unknown", fact.at, None))
        self._m.calls_ended.labels(fact.outcome, branch).inc()
        waited = ((answered or fact.at) - started).total_seconds()
        self._m.wait_seconds.labels(fact.outcome).observe(max(0.0, waited))
        if answered:
            self._m.talk_seconds.observe(max(0.0, (fact.at - answered).total_seconds()))

    def callback(self, fact: CallbackNeeded) -> None:
        self._m.callbacks.labels(fact.reason).inc()
