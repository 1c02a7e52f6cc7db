"""The caller known before the phones ring, as the app wires it: a directory given to the app,
calls on the simulated PBX, the admins' legs created with the caller's name, the stored calls
carrying the caller's kind and card, and a colleague's call kept out of the call figures (SQLite
and PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from ari_app.pbxsim.server import PbxSim
from ari_app.people.identity import UNKNOWN, CallerIdentity, CardMatch
from ari_app.simctl import SimControl
from tests.integration.conftest import PASSWORD, USER, CallWatch, in_process_app, until

pytestmark = pytest.mark.integration

PEOPLE = {
    "+12025550101": CallerIdentity("patient", (CardMatch(41, "ext-41", "Ann Smith", "self"),)),
    "+12025550102": CallerIdentity("staff", contact_name="Dr Who"),
}


class Directory:
    async def identify(self, number_e164: str) -> CallerIdentity:
        await asyncio.sleep(0.01)  # a round trip to the database
        return PEOPLE.get(number_e164, UNKNOWN)


async def test_calls_carry_who_called_and_a_colleagues_call_is_counted_apart(
    clean_database_url: str, tmp_path: Path
) -> None:
    sim = PbxSim(username=USER, password=PASSWORD)
    await sim.start()
    registry = CollectorRegistry()
    app = in_process_app(
        sim.ari_url, clean_database_url, tmp_path / "data", directory=Directory(), registry=registry
    )
    watch = CallWatch.on(app, sim)
    calls, shown, ended = watch.calls, watch.shown, watch.ended
    ctl = SimControl(sim.control_url)
    await app.start()
    try:
        assert await app.wait_ari(10)
        for phone in ("admin101", "admin102", "admin103"):
            await ctl.set_phone(phone, "answer", answer_after=0.3)
        for number in ("+12025550101", "+12025550102", "+12025550109"):
            await ctl.place_call(number, "5551234", hangup_after=0.3)
            await until(lambda n=number: calls.get(n) in ended)  # type: ignore[misc]
        await until(lambda: app.facts.pending == 0)
        rows = {n: await app.store.get_call(call_id) for n, call_id in calls.items()}
        got = {n: (r.caller_kind, r.patient_id, r.in_statistics) for n, r in rows.items() if r is not None}
        assert got == {
            "+12025550101": ("patient", 41, True),
            "+12025550102": ("staff", None, False),
            "+12025550109": ("unknown", None, True),
        }
        assert {n: shown.get(call_id) for n, call_id in calls.items()} == {
            "+12025550101": "Ann Smith", "+12025550102": "Dr Who", "+12025550109": "+12025550109",
        }  # fmt: skip
        value = registry.get_sample_value
        assert value("clinic_calls_ended_total", {"outcome": "answered", "branch": "downtown"}) == 2
        assert value("clinic_calls_not_patients_total", {"kind": "staff"}) == 1
        assert app.switchboard.sizes()["background"] == 0  # no lookup left behind
    finally:
        await app.stop(drain_timeout=2)
        await ctl.close()
        await sim.stop()
