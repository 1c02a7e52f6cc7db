"""A soak of many calls with callers hanging up at random moments in every phase, and phones
that answer, are busy, ring out and hang up, each as it draws per call. Run by hand:

    SOAK_CALLS=3000 SOAK_RATE=4 ARI_URL=... pytest -q tests/scenarios/test_soak.py

(on the simulator without ``ARI_URL``; CI runs the random mix of tests/integration instead). Every
row must end within 1 s of the caller's hang-up, no phone may ring for a caller who already left,
one row per call, nothing left on the PBX, and the app may log no warning the soak does not
explain (they are printed, counted by kind).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.scenarios.conftest import Clinic
from tests.scenarios.drivers import PlacedCall

CALLS = int(os.environ.get("SOAK_CALLS", "0"))
RATE = float(os.environ.get("SOAK_RATE", "4"))
SEED = int(os.environ.get("SOAK_SEED", "1"))

pytestmark = [pytest.mark.integration, pytest.mark.skipif(not CALLS, reason="set SOAK_CALLS to run the soak")]

# The scenario configuration's lines: the recording notice, the notice and topic menu, no
# notice, recording without a notice, closed.
LINES = ("5551234", "5551240", "5552000", "5555000", "5553000")


def _caller_plan(rng: random.Random) -> dict[str, Any]:
    plan: dict[str, Any] = {"hangup_after": round(rng.uniform(0.5, 6.0), 2)}
    roll = rng.random()
    if roll < 0.35:
        plan["abandon_after"] = round(rng.uniform(0.1, 12.0), 2)  # any phase: notice, menu, ringing, hold
    elif roll < 0.45:
        plan["abandon_on_answer"] = rng.choice((0.0, 0.002, 0.01))
    return plan


async def test_soak(clinic_factory: Any) -> None:
    clinic: Clinic = await clinic_factory("ring_all", overflow_after=4, max_wait=10, announce="position")
    for phone in ("admin101", "admin102", "admin103", "admin104"):
        await clinic.pbx.phone(phone, "random")
    rng = random.Random(SEED)
    placed: list[PlacedCall] = []
    began = time.monotonic()
    for n in range(CALLS):
        did = rng.choice(LINES)
        extra = _caller_plan(rng)
        if did == "5551240" and rng.random() < 0.7:
            extra |= {"digits": rng.choice("12"), "digits_after": round(rng.uniform(0.3, 2.0), 2)}
        placed.append(await clinic.pbx.call(f"+1303{n:07d}", did, **extra))
        await asyncio.sleep(max(0.0, began + (n + 1) / RATE - time.monotonic()))
    await clinic.pbx.quiet(timeout=180)
    problems = await _check(clinic, placed)
    warnings = Counter(_warnings(clinic.app.log()))
    print(f"soak: {len(placed)} calls; app warnings by kind: {dict(warnings)}")
    assert not problems, "\n".join(problems[:40])
    assert not set(warnings) - EXPLAINED, warnings


# Warnings a soak may cause on purpose, and why.
EXPLAINED: set[str] = set()


def _warnings(log: str) -> list[str]:
    found = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("warning", "error", "critical"):
            found.append(str(entry.get("event")))
    return found


async def _check(clinic: Clinic, placed: list[PlacedCall]) -> list[str]:
    problems: list[str] = []
    rows = {}
    for call in await clinic.store.list_calls(limit=len(placed) + 50):
        if call.caller_number in rows:
            problems.append(f"{call.caller_number}: two rows")
        rows[call.caller_number] = call
    for call in placed:
        rec = rows.get(call.caller)
        if rec is None:
            problems.append(f"{call.caller}: no row")
            continue
        full = await clinic.store.get_call(rec.id)
        assert full is not None
        problems += _check_call(call, full, await clinic.pbx.caller_left_at(call))
    return problems


def _check_call(call: PlacedCall, rec: Any, left: float | None) -> list[str]:
    out = []
    if rec.outcome is None or rec.ended_at is None:
        return [f"{call.caller}: never ended: {rec}"]
    out += [f"{call.caller}: leg of {leg.admin} never ended" for leg in rec.legs if leg.result is None]
    if left is not None and rec.hangup_side == "caller":
        left_at = datetime.fromtimestamp(left, UTC)
        late = (rec.ended_at - left_at).total_seconds()
        if late > 1.0:
            out.append(f"{call.caller}: row ended {late:.2f} s after the caller hung up ({rec.outcome})")
        rung = [leg.admin for leg in rec.legs if leg.dialed_at and leg.dialed_at > left_at]
        if rung:
            out.append(f"{call.caller}: {rung} rung after the caller hung up")
    return out
