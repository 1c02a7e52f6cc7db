"""Routing scenarios, end to end: what the app sent to ARI and what it stored, per behaviour.

The same tests run against the simulator (CI) and against a real Asterisk with SIPp phones
(``ARI_URL``; see conftest). Every caller number is unique to its test, so calls are found in
the database by number.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from tests.integration.conftest import eventually
from tests.scenarios.conftest import Clinic

pytestmark = pytest.mark.integration


def creates(reqs: list[dict[str, Any]]) -> list[str]:
    """The endpoints the app created admin legs for, in order."""
    return [
        r["query"]["endpoint"].removeprefix("PJSIP/")
        for r in reqs
        if r["method"] == "POST" and r["path"].endswith("/channels/create")
    ]


def sent(reqs: list[dict[str, Any]], method: str, suffix: str, **query: str) -> list[dict[str, Any]]:
    return [
        r
        for r in reqs
        if r["method"] == method
        and r["path"].endswith(suffix)
        and all(r.get("query", {}).get(k) == v for k, v in query.items())
    ]


def by_admin(call: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for leg in call.legs:
        out.setdefault(leg.admin, []).append(leg.result)
    return out


async def answer_only(clinic: Clinic, winner: str, **kw: Any) -> None:
    for name in ("admin101", "admin102", "admin103", "admin104"):
        if name == winner:
            await clinic.pbx.phone(name, "answer", **kw)
        else:
            await clinic.pbx.phone(name, "no_answer")


# ---------------------------------------------------------------------------- strategies
async def test_ring_all_rings_every_free_admin_at_once(clinic_factory: Any) -> None:
    clinic = await clinic_factory("ring_all")
    await answer_only(clinic, "admin103", answer_after=1.0)
    await clinic.pbx.call("+12025550101", "5551234", hangup_after=1.0)
    call = await clinic.call_of("+12025550101")
    reqs = await clinic.pbx.ari_requests()
    assert sorted(creates(reqs)) == ["admin101", "admin102", "admin103"]
    assert call.outcome == "answered" and call.admin == "chen"
    assert by_admin(call) == {"anna": ["lost"], "ben": ["lost"], "chen": ["answered"]}
    # The branch records: its notice was played before the offer, and the call was recorded.
    assert call.notice_played and [r.status for r in call.recordings] == ["saved"]


async def test_linear_rings_in_order_one_after_the_other(clinic_factory: Any) -> None:
    clinic = await clinic_factory("linear")
    await answer_only(clinic, "admin102", answer_after=1.0)
    await clinic.pbx.call("+12025550102", "5551234", hangup_after=1.0)
    call = await clinic.call_of("+12025550102")
    assert creates(await clinic.pbx.ari_requests()) == ["admin101", "admin102"]
    assert by_admin(call) == {"anna": ["no_answer"], "ben": ["answered"]}
    legs = {leg.admin: leg for leg in call.legs}
    # ben was dialled only when anna's ring timeout (5 s) ran out
    assert (legs["ben"].created_at - legs["anna"].created_at).total_seconds() >= 4.5


async def test_round_robin_starts_after_the_last_admin_offered(clinic_factory: Any) -> None:
    clinic = await clinic_factory("round_robin")
    for name in ("admin101", "admin102", "admin103"):
        await clinic.pbx.phone(name, "answer", answer_after=0.5)
    firsts = []
    for n in range(3):
        caller = f"+1202555011{n}"
        await clinic.pbx.call(caller, "5551234", hangup_after=0.5)
        call = await clinic.call_of(caller)
        firsts.append(call.admin)
    assert firsts == ["anna", "ben", "chen"]


async def test_least_recent_offers_the_longest_idle_admin(clinic_factory: Any) -> None:
    clinic = await clinic_factory("least_recent")
    await answer_only(clinic, "admin101", answer_after=0.5)
    await clinic.pbx.call("+12025550120", "5551234", hangup_after=0.5)
    assert (await clinic.call_of("+12025550120")).admin == "anna"
    # anna just talked: ben (never called today, first in order) is the longest idle now.
    for name in ("admin101", "admin102", "admin103"):
        await clinic.pbx.phone(name, "answer", answer_after=0.5)
    await clinic.pbx.call("+12025550121", "5551234", hangup_after=0.5)
    call = await clinic.call_of("+12025550121")
    assert call.admin == "ben" and [leg.admin for leg in call.legs] == ["ben"]


async def test_fewest_calls_offers_who_took_fewest_today(clinic_factory: Any) -> None:
    clinic = await clinic_factory("fewest_calls")
    for n, phone in enumerate(("admin101", "admin102")):
        await answer_only(clinic, phone, answer_after=0.5)
        await clinic.pbx.call(f"+1202555013{n}", "5551234", hangup_after=0.5)
        await clinic.call_of(f"+1202555013{n}")
    for name in ("admin101", "admin102", "admin103"):
        await clinic.pbx.phone(name, "answer", answer_after=0.5)
    await clinic.pbx.call("+12025550139", "5551234", hangup_after=0.5)
    assert (await clinic.call_of("+12025550139")).admin == "chen"


async def test_random_rings_one_admin_per_wave(clinic_factory: Any) -> None:
    clinic = await clinic_factory("random")
    await answer_only(clinic, "admin102", answer_after=0.5)
    await clinic.pbx.call("+12025550140", "5551234", hangup_after=0.5)
    call = await clinic.call_of("+12025550140")
    assert call.admin == "ben"
    legs = sorted(call.legs, key=lambda leg: leg.created_at)
    # one at a time: each leg ended before the next was created
    for a, b in itertools.pairwise(legs):
        assert a.ended_at is not None and a.ended_at <= b.created_at
    assert legs[-1].admin == "ben" and len({leg.admin for leg in legs}) == len(legs)


# ---------------------------------------------------------------------------- queue
async def test_queue_holds_callers_with_moh_and_positions_then_longest_waiting_first(
    clinic_factory: Any,
) -> None:
    clinic = await clinic_factory("ring_all", max_wait=120)
    for name in ("admin102", "admin103"):
        await clinic.pbx.register(name, False)
    await clinic.pbx.phone("admin101", "answer", answer_after=0.5, hangup_after=14.0)
    await clinic.pbx.call("+12025550150", "5551234")  # anna talks with this caller for 14 s
    await eventually(lambda: clinic.presence("anna"), lambda p: p["state"] == "on_call", 15, "anna on call")
    await clinic.pbx.call("+12025550151", "5551234", hangup_after=0.5)
    await asyncio.sleep(1.0)
    await clinic.pbx.call("+12025550152", "5551234", hangup_after=0.5)
    _status, queue = await eventually(
        lambda: clinic.api("GET", "/api/queue"), lambda r: len(r[1]["calls"]) == 2, 15, "two waiting"
    )
    assert [c["position"] for c in queue["calls"]] == [1, 2]
    first = await clinic.call_of("+12025550151", timeout=60)
    second = await clinic.call_of("+12025550152", timeout=60)
    assert first.admin == second.admin == "anna"
    assert first.answered_at < second.answered_at  # the longest-waiting caller went first
    assert first.queued_at is not None and second.queued_at is not None
    reqs = await clinic.pbx.ari_requests()
    holding = sent(reqs, "POST", "/bridges", type="holding")
    assert len(holding) == 2
    for h in holding:
        assert sent(reqs, "POST", f"/bridges/{h['query']['bridgeId']}/moh")
    plays = [r["query"]["media"] for r in sent(reqs, "POST", "/play")]
    assert any(p.startswith("sound:queue-youarenext") for p in plays)
    assert any(p.startswith("sound:queue-thereare,number:2") for p in plays)


# ---------------------------------------------------------------------------- overflow, hours
async def test_overflow_to_a_second_branch(clinic_factory: Any) -> None:
    clinic = await clinic_factory("ring_all", overflow_after=6)
    await answer_only(clinic, "admin104", answer_after=0.5)
    await clinic.pbx.call("+12025550160", "5551234", hangup_after=0.5)
    call = await clinic.call_of("+12025550160", timeout=40)
    assert call.outcome == "answered" and call.admin == "dana" and call.branch == "downtown"
    order = creates(await clinic.pbx.ari_requests())
    assert set(order[:3]) == {"admin101", "admin102", "admin103"} and "admin104" in order[3:]


async def test_closed_hours_message_and_callback_task(clinic_factory: Any) -> None:
    clinic = await clinic_factory()
    await clinic.pbx.call("+12025550170", "5553000")
    call = await clinic.call_of("+12025550170")
    assert (call.outcome, call.failure_reason, call.legs) == ("closed", "closed_hours", [])
    plays = [r["query"]["media"] for r in sent(await clinic.pbx.ari_requests(), "POST", "/play")]
    assert plays == ["sound:clinic/closed,sound:clinic/callback"]  # no opening hours: no "we open"
    _status, tasks = await clinic.api("GET", "/api/callbacks")
    (task,) = [t for t in tasks["callbacks"] if t["number"] == "+12025550170"]
    assert (task["branch"], task["reason"], task["status"]) == ("closed", "closed_hours", "new")


async def test_holiday_closes_the_branch_and_says_when_it_opens(clinic_factory: Any) -> None:
    clinic = await clinic_factory()
    await clinic.pbx.call("+12025550171", "5554000")
    call = await clinic.call_of("+12025550171")
    assert (call.outcome, call.failure_reason) == ("closed", "holiday")
    (play,) = [r["query"]["media"] for r in sent(await clinic.pbx.ari_requests(), "POST", "/play")]
    assert play.startswith("sound:clinic/closed,sound:clinic/we-open,sound:digits/day-")
    assert play.endswith("sound:digits/a-m,sound:clinic/callback")  # midnight: 12 a.m.
    _status, tasks = await clinic.api("GET", "/api/callbacks")
    (task,) = [t for t in tasks["callbacks"] if t["number"] == "+12025550171"]
    assert task["reason"] == "holiday" and task["due_at"].endswith("T00:00:00+00:00")


# ---------------------------------------------------------------------------- topic menu
async def test_topic_menu_offers_the_topics_admin_first(clinic_factory: Any) -> None:
    clinic = await clinic_factory("ring_all")
    await answer_only(clinic, "admin102", answer_after=0.5)
    await clinic.pbx.call("+12025550180", "5551240", digits="2", digits_after=1.0, hangup_after=0.5)
    call = await clinic.call_of("+12025550180")
    assert call.topic == "results" and call.admin == "ben"
    assert creates(await clinic.pbx.ari_requests()) == ["admin102"]  # ben alone, first
    reqs = await clinic.pbx.ari_requests()
    menu = sent(reqs, "POST", "/play", media="sound:clinic/topic-menu")
    assert menu and sent(reqs, "DELETE", f"/playbacks/{menu[0]['query']['playbackId']}")


# ---------------------------------------------------------------------------- transfer
async def test_transfer_through_the_api_keeps_one_row_and_each_admins_talk(clinic_factory: Any) -> None:
    clinic = await clinic_factory("linear")
    await answer_only(clinic, "admin101", answer_after=0.5)
    await clinic.pbx.call("+12025550190", "5551234", hangup_after=None)
    await eventually(lambda: clinic.presence("anna"), lambda p: p["state"] == "on_call", 15, "anna on call")
    await clinic.pbx.phone("admin102", "answer", answer_after=0.5, hangup_after=2.0)
    await asyncio.sleep(2.0)
    status, body = await clinic.api("POST", "/api/admins/anna/transfer", {"to_admin": "ben"})
    assert status == 202, body
    call = await clinic.call_of("+12025550190", timeout=30)
    assert call.outcome == "answered" and call.admin == "anna" and call.transfers == 1
    legs = {leg.admin: leg for leg in call.legs if leg.answered_at}
    assert legs["anna"].result == "transferred" and legs["ben"].result == "answered"
    anna_talk = (legs["anna"].ended_at - legs["anna"].answered_at).total_seconds()
    ben_talk = (legs["ben"].ended_at - legs["ben"].answered_at).total_seconds()
    assert 1.5 <= anna_talk <= 4 and 1.5 <= ben_talk <= 4
    assert [r.status for r in call.recordings] == ["saved"]  # one recording of the whole call
    # anna is free again; a transfer by someone on no call is refused
    status, body = await clinic.api("POST", "/api/admins/anna/transfer", {"to_admin": "ben"})
    assert status == 409


async def test_transfer_from_the_admins_phone(clinic_factory: Any) -> None:
    clinic = await clinic_factory("linear")
    await answer_only(clinic, "admin101", answer_after=0.5)
    await clinic.pbx.call("+12025550191", "5551234", hangup_after=None)
    await eventually(lambda: clinic.presence("anna"), lambda p: p["state"] == "on_call", 15, "anna on call")
    await clinic.pbx.phone("admin103", "answer", answer_after=0.5, hangup_after=2.0)
    await asyncio.sleep(1.5)
    await clinic.pbx.refer("admin101", "103")  # anna's phone: blind transfer to extension 103
    call = await clinic.call_of("+12025550191", timeout=30)
    assert call.outcome == "answered" and call.transfers == 1
    legs = {leg.admin: leg for leg in call.legs if leg.answered_at}
    assert legs["anna"].result == "transferred" and legs["chen"].result == "answered"
    reqs = await clinic.pbx.ari_requests()
    # anna's leg asked Asterisk to hand REFERs to the app, and her phone was told it went through
    anna_leg = legs["anna"].id
    create = [r for r in sent(reqs, "POST", "/channels/create") if r["query"].get("channelId") == anna_leg]
    assert create and "PJSIP_TRANSFER_HANDLING()" in str(create[0].get("body") or create[0]["query"])
    assert sent(reqs, "POST", f"/channels/{anna_leg}/transfer_progress", states="channel_answered")
    assert [r.status for r in call.recordings] == ["saved"]


# ---------------------------------------------------------------------------- presence
async def test_wrap_up_keeps_an_admin_out_of_offers_for_its_seconds(clinic_factory: Any) -> None:
    clinic = await clinic_factory("linear", wrap_up=8)
    await answer_only(clinic, "admin101", answer_after=0.5)
    await clinic.pbx.call("+12025550200", "5551234", hangup_after=0.5)
    await clinic.call_of("+12025550200")
    assert (await clinic.presence("anna"))["state"] == "wrap_up"
    await clinic.pbx.phone("admin102", "answer", answer_after=0.5)
    await clinic.pbx.call("+12025550201", "5551234", hangup_after=0.5)
    call = await clinic.call_of("+12025550201")
    assert [leg.admin for leg in call.legs] == ["ben"]  # anna (first in order) was wrapping up
    await eventually(lambda: clinic.presence("anna"), lambda p: p["state"] == "available", 15, "wrap-up over")


async def test_paused_admin_is_not_offered_calls(clinic_factory: Any) -> None:
    clinic = await clinic_factory("ring_all")
    status, body = await clinic.api(
        "PUT", "/api/admins/anna/presence", {"state": "paused", "reason": "lunch"}
    )
    assert status == 200 and body["state"] == "paused" and body["pause_reason"] == "lunch"
    await answer_only(clinic, "admin102", answer_after=1.0)
    await clinic.pbx.call("+12025550210", "5551234", hangup_after=0.5)
    call = await clinic.call_of("+12025550210")
    assert "anna" not in {leg.admin for leg in call.legs}
    assert sorted(creates(await clinic.pbx.ari_requests())) == ["admin102", "admin103"]
    status, body = await clinic.api("PUT", "/api/admins/anna/presence", {"state": "sleeping"})
    assert status == 400


async def test_offline_phone_is_not_offered_calls(clinic_factory: Any) -> None:
    clinic = await clinic_factory("ring_all")
    await answer_only(clinic, "admin103", answer_after=1.0)
    await clinic.pbx.register("admin101", False)
    await eventually(lambda: clinic.presence("anna"), lambda p: p["state"] == "offline", 10, "anna offline")
    await clinic.pbx.call("+12025550220", "5551234", hangup_after=0.5)
    call = await clinic.call_of("+12025550220")
    assert sorted(creates(await clinic.pbx.ari_requests())) == ["admin102", "admin103"]
    assert call.admin == "chen"
    await clinic.pbx.register("admin101", True)
    await eventually(lambda: clinic.presence("anna"), lambda p: p["state"] == "available", 10, "anna back")
