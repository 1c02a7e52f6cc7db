"""The demo's summary counts exactly the calls its run placed, whatever else the database holds."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

from ari_app.config import load_settings
from ari_app.demo import EXAMPLE_CONFIG
from ari_app.demo.mix import UNKNOWN_DID, CallMix
from ari_app.demo.summary import PlacedCall, render, summarise
from ari_app.store import CallRecord

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
OPEN = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # a Monday: both example branches are open


def row(channel_id: str, outcome: str | None, task: str | None = None) -> CallRecord:
    return CallRecord(
        id=f"call-{channel_id}", channel_id=channel_id, caller_number="5550001", caller_e164=None,
        caller_name="", did="5551234", branch="downtown", ad_channel=None, started_at=T0,
        answered_at=None, ended_at=T0 if outcome else None, wait_seconds=None, talk_seconds=None,
        outcome=outcome, admin=None, hangup_side=None, end_cause=None, failure_reason=None,
        notice_played=False, topic=None, queued_at=None, transfers=0, callback_task_id=task, legs=[],
        recordings=[],
    )  # fmt: skip


def placed(n: int, channel: str | None) -> PlacedCall:
    return PlacedCall(n, "answer", f"call-{n}", channel)


def test_only_the_runs_own_calls_count_and_every_callback_task_is_counted() -> None:
    ours = [placed(n, f"ch{n}") for n in range(700)]
    rows = [row(f"ch{n}", "missed", task=f"task{n}") for n in range(700)]
    earlier = [row(f"old{n}", "answered") for n in range(50)]  # an earlier run in the same folder
    summary = summarise(ours, rows + earlier)
    assert summary.placed == summary.stored == 700 and summary.outcomes["answered"] == 0
    assert summary.callbacks == 700  # no cap: each distinct task of this run's calls
    assert summary.accounted


def test_declined_calls_are_accounted_and_missing_ones_are_named() -> None:
    calls = [placed(1, "ch1"), placed(2, None), placed(3, "ch3"), placed(4, "ch4")]
    summary = summarise(calls, [row("ch1", "answered"), row("ch3", None)])
    assert summary.declined == 1 and summary.stored == 1
    assert [p.number for p in summary.missing] == [3, 4] and not summary.accounted
    text = render(summary)
    assert "declined" in text and "not accounted for: call 3" in text and "call 4" in text
    fixed = summarise(calls, [row("ch1", "answered"), row("ch3", "missed"), row("ch4", "failed")])
    assert fixed.accounted and fixed.declined == 1
    assert not replace(fixed, leftovers={"pbx_channels": 1}).accounted


def test_the_mix_gives_each_call_a_script_for_every_phone_and_ends_every_call() -> None:
    settings = load_settings(EXAMPLE_CONFIG)
    phones = {a.endpoint.split("/")[1] for a in settings.admins}
    mix = CallMix(settings, random.Random(3), OPEN)
    plans = [mix.next_call() for _ in range(400)]
    assert {p.kind for p in plans} == {"answer", "race", "nobody", "abandon", "unknown_number"}
    for plan in plans:
        assert set(plan.phones) == phones
        answering = [s for s in plan.phones.values() if s["behaviour"] == "answer"]
        if plan.kind in ("answer", "race"):
            # Someone picks up, and the talk ends: the caller hangs up after it.
            assert answering and plan.hangup_after is not None
        else:
            assert not answering
        if plan.kind == "unknown_number":
            assert plan.did == UNKNOWN_DID
    assert any(p.press for p in plans)  # the website number's topic menu
    # The same seed draws the same calls.
    again = CallMix(settings, random.Random(3), OPEN)
    assert [again.next_call() for _ in range(400)] == plans
