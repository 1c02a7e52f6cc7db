"""Races a real PBX shows: the caller's CANCEL crossing the admin phone's 200, run many times.

``RACE_REPEAT=100`` runs each race a hundred times (on a real Asterisk: see README.md here); by
default three, each with another delay between the phone's answer and the caller's hang-up.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.scenarios.conftest import Clinic

REPEAT = int(os.environ.get("RACE_REPEAT", "3"))
DELAYS = (0.0, 0.001, 0.003, 0.01, 0.03)  # seconds from the phone's answer to the caller's hang-up
# Every other run the channels join the bridge 20 ms apart after addChannel's reply (on the
# simulator; a real Asterisk does so by itself under load): the caller may hang up in between.
JOIN_DELAY = 0.02


@pytest.mark.parametrize("n", range(REPEAT))
async def test_a_caller_who_hangs_up_as_the_admin_answers_is_answered_only_if_put_through(
    clinic_factory: Any, n: int
) -> None:
    clinic: Clinic = await clinic_factory()
    # Uptown: no recording notice, so the caller is not answered before an admin is (a CANCEL).
    await clinic.pbx.phone("admin104", "answer", answer_after=0.5)
    await clinic.pbx.slow_bridge_joins(JOIN_DELAY if n % 2 else 0.0)
    caller = f"555030{n:03d}"
    placed = await clinic.pbx.call(caller, "5552000", abandon_on_answer=DELAYS[n % len(DELAYS)])
    rec = await clinic.call_of(caller, timeout=20, answered_recording=False)  # uptown does not record
    talked = await clinic.pbx.talked(placed)
    # Answered means the caller talked with dana; else it is abandoned and called back.
    assert (rec.outcome == "answered") == talked, (rec, talked)
    if not talked:
        assert rec.outcome == "abandoned" and rec.callback_task_id and rec.answered_at is None, rec
        assert [leg.result for leg in rec.legs] == ["cancelled"], rec.legs
    else:
        assert rec.admin == "dana" and [leg.result for leg in rec.legs] == ["answered"], rec.legs
    assert rec.hangup_side == "caller" and rec.failure_reason is None, rec
    await clinic.pbx.quiet()


@pytest.mark.parametrize("n", range(REPEAT))
async def test_killed_after_the_admin_answered_before_the_bridge_puts_the_caller_through(
    clinic_factory: Any, n: int
) -> None:
    clinic: Clinic = await clinic_factory()
    await clinic.pbx.phone("admin104", "answer", answer_after=0.5)
    caller = f"555031{n:03d}"
    # The app dies the moment dana picks up: it never learns of the answer, nor writes it down.
    await clinic.pbx.withhold_answers(True)
    placed = await clinic.pbx.call(caller, "5552000", hangup_after=2.0)
    await clinic.pbx.phone_answered(placed)
    await clinic.kill_and_restart()
    await clinic.pbx.withhold_answers(False)
    rec = await clinic.call_of(caller, timeout=30, answered_recording=False)  # uptown does not record
    # The new process finds dana's leg up on the PBX and puts the caller through to her: she is
    # not hung up on and rung again (one leg), and the caller talks with her.
    assert rec.outcome == "answered" and rec.admin == "dana", rec
    assert [(leg.admin, leg.result) for leg in rec.legs] == [("dana", "answered")], rec.legs
    assert rec.legs[0].answered_at is not None
    assert await clinic.pbx.talked(placed)
    await clinic.pbx.quiet()
