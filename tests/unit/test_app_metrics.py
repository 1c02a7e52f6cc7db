"""The app's own gauges and counters as wired: sizes are read when Prometheus scrapes, the
switchboard's happenings are counted as they happen; nothing waits for a polling loop (none runs
here: the app is built, not started)."""

from __future__ import annotations

import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from ari_app.app import CallCenterApp
from ari_app.config import Secrets, load_settings
from tests.api_client import EXAMPLE


def _app(tmp_path: Path) -> tuple[CallCenterApp, CollectorRegistry]:
    registry = CollectorRegistry()
    secrets = Secrets("ari", "secret", f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}", ())
    app = CallCenterApp(
        load_settings(EXAMPLE), secrets, data_dir=tmp_path / "data", registry=registry, migrate=False
    )
    return app, registry


def test_a_switchboard_happening_is_counted_when_it_happens(tmp_path: Path) -> None:
    app, registry = _app(tmp_path)
    app.switchboard.stats.count("calls_swept")
    app.switchboard.stats.count("calls_swept")
    app.switchboard.stats.count("events")  # counted by clinic_ari_events, not twice
    assert registry.get_sample_value("clinic_switchboard_total", {"kind": "calls_swept"}) == 2
    assert registry.get_sample_value("clinic_switchboard_total", {"kind": "events"}) is None
    assert app.switchboard.stats.calls_swept == 2


def test_sizes_are_read_at_the_scrape(tmp_path: Path) -> None:
    app, registry = _app(tmp_path)
    assert registry.get_sample_value("clinic_calls_tracked") == 0
    assert registry.get_sample_value("clinic_store_waiting_seconds") == 0
    app.facts.waiting_since = time.monotonic() - 3.0  # the writer began waiting for the database
    assert registry.get_sample_value("clinic_store_waiting_seconds") >= 3.0
    kinds = ("calls", "index", "timers", "background", "destroyed_memory", "call_facts", "desk_legs")
    for kind in kinds:
        assert registry.get_sample_value("clinic_tracked_objects", {"kind": kind}) == 0, kind
    assert registry.get_sample_value("clinic_tracked_objects", {"kind": "spool_segments"}) == 1
