"""How long phones ring and when overflow groups join, as Asterisk is told and as it happens; and a
branch that records without playing its notice. On the simulator and on a real Asterisk."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scenarios.conftest import Clinic
from tests.scenarios.test_routing_scenarios import answer_only, sent

pytestmark = pytest.mark.integration


async def test_overflow_groups_ring_when_their_time_comes_even_mid_wave(clinic_factory: Any) -> None:
    # Downtown's phones ring for 8 s; the uptown desk joins after 3 s, while they still ring.
    clinic: Clinic = await clinic_factory("ring_all", overflow_after=3, ring_timeout=8)
    await answer_only(clinic, "admin104", answer_after=1.0)
    await clinic.pbx.call("+12025550501", "5551234", hangup_after=1.0)
    call = await clinic.call_of("+12025550501", timeout=30)
    assert call.outcome == "answered" and call.admin == "dana"
    downtown = [leg for leg in call.legs if leg.admin != "dana"]
    (dana,) = [leg for leg in call.legs if leg.admin == "dana"]
    assert {leg.admin for leg in downtown} == {"anna", "ben", "chen"}
    first = min(leg.dialed_at for leg in downtown if leg.dialed_at)
    assert dana.dialed_at is not None
    joined = (dana.dialed_at - first).total_seconds()
    assert 2.5 < joined < 4.5, f"uptown joined {joined:.2f} s after downtown's phones began ringing"
    # Downtown's phones were still ringing when dana's began, and stopped when she answered.
    assert all(leg.ended_at and leg.ended_at > dana.dialed_at for leg in downtown)
    assert {leg.result for leg in downtown} == {"lost"}


async def test_a_groups_ring_timeout_is_what_asterisk_is_told(clinic_factory: Any) -> None:
    # calls.ring_timeout is 5; the downtown desk's own is 12: its phones ring 12 s.
    clinic: Clinic = await clinic_factory("ring_all", ring_timeout=12, overflow_after=60, max_wait=60)
    await answer_only(clinic, "admin104")  # downtown's three ring out
    await clinic.pbx.call("+12025550502", "5551234", abandon_after=14.5)
    call = await clinic.call_of("+12025550502", timeout=30)
    dials = sent(await clinic.pbx.ari_requests(), "POST", "/dial")
    assert dials and {r["query"]["timeout"] for r in dials} == {"12"}
    first_wave = [leg for leg in call.legs if leg.dialed_at and leg.result == "no_answer"]
    assert len(first_wave) == 3
    for leg in first_wave:
        assert leg.ended_at and leg.dialed_at
        rang = (leg.ended_at - leg.dialed_at).total_seconds()
        assert 11.0 < rang < 13.0, f"{leg.admin} rang {rang:.2f} s"
        assert leg.cause == 19  # Asterisk's dial timeout: no answer


async def test_a_branch_can_record_without_playing_the_notice(clinic_factory: Any) -> None:
    clinic: Clinic = await clinic_factory()
    await answer_only(clinic, "admin104", answer_after=1.0)
    await clinic.pbx.call("+12025550503", "5555000", hangup_after=1.5)
    call = await clinic.call_of("+12025550503", timeout=30)
    assert call.outcome == "answered" and call.admin == "dana" and not call.notice_played
    assert [r.status for r in call.recordings] == ["saved"]
    reqs = await clinic.pbx.ari_requests()
    assert not sent(reqs, "POST", "/play")  # no notice played
    # The caller heard ringing until dana answered: not answered by the app before her leg rang.
    answers = [i for i, r in enumerate(reqs) if r["method"] == "POST" and r["path"].endswith("/answer")]
    dials = [i for i, r in enumerate(reqs) if r["method"] == "POST" and r["path"].endswith("/dial")]
    assert answers and dials and min(answers) > min(dials)
