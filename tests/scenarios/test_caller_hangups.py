"""Callers who hang up, in every phase, and the races around an admin's answer: the call ends at
once, as abandoned with a callback task when nobody talked with the caller, and no admin is rung
after the caller left. The same scenarios run on the simulator and on a real Asterisk."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from tests.scenarios.conftest import Clinic

Factory = Any


def _ended_within(rec: Any, seconds: float, limit: float) -> None:
    took = (rec.ended_at - rec.started_at).total_seconds()
    assert took < seconds + limit, f"ended {took:.2f} s after it began; the caller left at {seconds} s"


def _rung_after(rec: Any, left: datetime) -> list[Any]:
    return [leg for leg in rec.legs if leg.dialed_at is not None and leg.dialed_at > left]


async def test_caller_who_hangs_up_during_the_topic_menu_ends_the_call_at_once(
    clinic_factory: Factory,
) -> None:
    clinic: Clinic = await clinic_factory()
    await clinic.pbx.phone("admin101", "answer", answer_after=1.0)
    # The menu line: the recording notice, then the topic menu's prompt; the caller leaves in it.
    await clinic.pbx.call("5550101", "5551240", abandon_after=2.5)
    rec = await clinic.call_of("5550101", timeout=20)
    assert rec.outcome == "abandoned" and rec.hangup_side == "caller" and rec.callback_task_id
    _ended_within(rec, 2.5, 1.0)
    assert rec.legs == [] and rec.answered_at is None
    await clinic.pbx.quiet()


async def test_caller_who_hangs_up_on_hold_ends_the_call_at_once(clinic_factory: Factory) -> None:
    clinic: Clinic = await clinic_factory(max_wait=60)
    for login in ("anna", "ben", "chen"):
        status, _ = await clinic.api(
            "PUT", f"/api/admins/{login}/presence", {"state": "paused", "reason": "x"}
        )
        assert status == 200
    await clinic.pbx.call("5550102", "5551234", abandon_after=4.0)
    rec = await clinic.call_of("5550102", timeout=20)
    assert rec.outcome == "abandoned" and rec.queued_at is not None and rec.callback_task_id
    _ended_within(rec, 4.0, 1.0)
    await clinic.pbx.quiet()


async def test_caller_who_hangs_up_while_phones_ring_is_not_rung_for_after(clinic_factory: Factory) -> None:
    clinic: Clinic = await clinic_factory()
    await asyncio.gather(*(clinic.pbx.phone(p, "no_answer") for p in ("admin101", "admin102", "admin103")))
    await clinic.pbx.call("5550103", "5551234", abandon_after=2.0)
    rec = await clinic.call_of("5550103", timeout=20)
    assert rec.outcome == "abandoned" and rec.callback_task_id
    _ended_within(rec, 2.0, 1.0)
    assert all(leg.result == "cancelled" for leg in rec.legs), rec.legs
    assert _rung_after(rec, rec.ended_at) == []
    await clinic.pbx.quiet()


@pytest.mark.parametrize("who", ["caller", "admin"])
async def test_a_call_put_through_while_the_app_was_cut_off_is_answered(
    clinic_factory: Factory, who: str
) -> None:
    """The app's websocket is cut as it asks for the caller to be put through (its addChannel):
    the joins, the talk and one side's hang-up go by unseen. Back 3 s later, it finds the one
    still in the bridge naming the other in BRIDGEPEER: answered, not abandoned or missed."""
    clinic: Clinic = await clinic_factory()
    await clinic.pbx.phone("admin104", "answer", answer_after=0.5)  # uptown: dana, no notice
    await clinic.pbx.cut_websocket_on("POST", r"^/ari/bridges/[^/]+/addChannel$", away_for=3.0)
    caller = "5550120" if who == "caller" else "5550121"
    placed = await clinic.pbx.call(caller, "5552000", hangup_after=1.0 if who == "caller" else None)
    if who == "admin":
        await clinic.pbx.phone_answered(placed)
        await asyncio.sleep(1.0)
        await clinic.pbx.admin_hangup("admin104")
    rec = await clinic.call_of(caller, timeout=30, answered_recording=False)  # uptown does not record
    assert await clinic.pbx.talked(placed)
    assert (rec.outcome, rec.admin, rec.hangup_side) == ("answered", "dana", who), rec
    assert rec.callback_task_id is None and [leg.result for leg in rec.legs] == ["answered"], rec.legs
    await clinic.pbx.quiet()
