"""The caller's lookup beside the call: read in the branch's region, bounded, never failing the
call; the spool keeps CallerIdentified; the call figures leave staff and contractors out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog.testing
from prometheus_client import CollectorRegistry

from ari_app.calls.caller import CallerLookup, NobodyKnown
from ari_app.facts.spool import FactSpool, Spooled
from ari_app.facts.types import CallAnswered, CallEnded, CallerIdentified, CallStarted
from ari_app.metrics import CallMetrics, Metrics
from ari_app.numbers import Regions
from ari_app.people.identity import UNKNOWN, CallerIdentity

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
STAFF = CallerIdentity("staff", contact_name="Dr Who")
REGIONS = Regions("US", {"kyiv": "UA"})


class Directory:
    def __init__(self, answer: CallerIdentity | Exception, delay: float = 0.0) -> None:
        self.answer, self.delay = answer, delay
        self.asked: list[str] = []

    async def identify(self, number_e164: str) -> CallerIdentity:
        self.asked.append(number_e164)
        await asyncio.sleep(self.delay)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    ("number", "branch", "directory", "asked", "identity", "warning"),
    [
        ("067 123 45 67", "kyiv", Directory(STAFF), ["+380671234567"], STAFF, None),
        ("2025550142", "downtown", Directory(STAFF), ["+12025550142"], STAFF, None),
        ("anonymous", "downtown", Directory(STAFF), [], UNKNOWN, None),
        ("2025550142", None, Directory(STAFF, delay=5), ["+12025550142"], UNKNOWN, "caller_lookup_slow"),
        ("2025550142", None, Directory(RuntimeError("+12025550142")), ["+12025550142"], UNKNOWN,
         "caller_lookup_failed"),
    ],
)  # fmt: skip
async def test_the_lookup_is_bounded_and_a_failing_directory_means_unknown(
    number: str, branch: str | None, directory: Directory, asked: list[str], identity: CallerIdentity,
    warning: str | None,
) -> None:  # fmt: skip
    lookup = CallerLookup(directory, REGIONS, timeout=0.05)
    with structlog.testing.capture_logs() as logs:
        assert await asyncio.wait_for(lookup.identify(number, branch), 1.0) == identity
    assert directory.asked == asked
    assert [e["event"] for e in logs] == ([warning] if warning else [])
    assert "555" not in repr(logs)  # never the number, not even from the error's text


async def test_without_a_directory_nobody_is_known() -> None:
    assert await CallerLookup(NobodyKnown(), REGIONS).identify("2025550142", None) == UNKNOWN


def test_the_spool_keeps_caller_identified(tmp_path: Path) -> None:
    spool = FactSpool(tmp_path / "spool")
    spool.open()
    facts = [
        CallerIdentified("k1", "patient", 7, 1, True, T0),
        CallerIdentified("k2", "staff", None, 0, False, T0),
    ]
    for fact in facts:
        spool.append(fact)
    spool.flush()
    spool.close()
    read = [
        item.fact for item in FactSpool(tmp_path / "spool").read(spool.segment) if isinstance(item, Spooled)
    ]
    assert read == facts


@pytest.mark.parametrize(
    ("kind", "in_statistics", "count_staff", "counted", "apart"),
    [
        ("patient", True, False, 1, {}),
        ("unknown", True, False, 1, {}),
        ("staff", False, False, 0, {"staff": 1}),
        ("contractor", False, False, 0, {"contractor": 1}),
        ("staff", False, True, 1, {}),
        (None, True, False, 1, {}),  # never identified: counted as before
    ],
)
def test_staff_and_contractors_calls_are_counted_apart(
    kind: str | None, in_statistics: bool, count_staff: bool, counted: int, apart: dict[str, int]
) -> None:
    registry = CollectorRegistry()
    metrics = CallMetrics(Metrics.create(registry), count_staff_calls=count_staff)
    metrics.started(CallStarted("k1", "ch", "2025550142", "", "5551234", "downtown", None, T0))
    if kind is not None:
        metrics.identified(CallerIdentified("k1", kind, None, 0, in_statistics, T0))
    metrics.answered(CallAnswered("k1", "anna", T0 + timedelta(seconds=5)))
    metrics.ended(CallEnded("k1", "answered", T0 + timedelta(seconds=65)))
    value = registry.get_sample_value
    ended = value("clinic_calls_ended_total", {"outcome": "answered", "branch": "downtown"}) or 0
    talk = value("clinic_call_talk_seconds_count") or 0
    assert (ended, talk) == (counted, counted)
    for k in ("staff", "contractor"):
        assert (value("clinic_calls_not_patients_total", {"kind": k}) or 0) == apart.get(k, 0)
    assert metrics.tracked == 0
