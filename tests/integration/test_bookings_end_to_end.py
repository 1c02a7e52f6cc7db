"""Calls that became appointments, end to end as the app runs (SQLite and PostgreSQL): calls on
the simulated PBX from a mother's number, a new caller and a colleague; the scheduler's booking
events through the feed; a late comment naming another patient. Through the API: which call each
event is linked to and by which rule, each call's class, the conversion report, a correction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ari_app.pbxsim.server import PbxSim
from ari_app.simctl import SimControl
from tests.integration.conftest import PASSWORD, USER, CallWatch, eventually, in_process_app, until

pytestmark = pytest.mark.integration

TOKEN = "bookings-end-to-end-token"
TOPICS = '[[topics]]\nid = "implants"\nname = "Implants"\ndigit = "1"\n'
MOTHER, NEWCOMER, COLLEAGUE = "+12025550111", "+12025550144", "+12025550122"
CARDS = [
    {"external_id": "p-olha", "full_name": "Olha Kovalenko", "phones": [{"number": MOTHER}],
     "visits": {"completed": 3}},
    {"external_id": "p-andrii", "full_name": "Andrii Kovalenko", "guardian_external_id": "p-olha",
     "phones": [{"number": MOTHER, "role": "parent", "owner": "Olha Kovalenko"}]},
    {"external_id": "p-zoe", "full_name": "Zoe Brown", "phones": [{"number": "+12025550199"}]},
]  # fmt: skip


def _event(n: int, kind: str, patient: str, at: datetime, admin: str | None = None) -> dict[str, Any]:
    return {
        "event_id": f"ev-{n}", "kind": kind, "booking_id": f"bk-{n}", "patient_external_id": patient,
        "happened_at": at.isoformat(), "appointment_at": (at + timedelta(days=3)).isoformat(),
        "doctor": "Dr Melnyk", "branch": "downtown", "admin": admin,
    }  # fmt: skip


async def _calls_made(app: Any, sim: PbxSim, ctl: SimControl) -> dict[str, str]:
    watch = CallWatch.on(app, sim)
    assert await app.wait_ari(10)
    for phone in ("admin101", "admin102", "admin103"):
        await ctl.set_phone(phone, "answer", answer_after=0.3)
    for number in (MOTHER, NEWCOMER, COLLEAGUE):
        await ctl.place_call(number, "5551234", hangup_after=0.5)
        await until(lambda n=number: watch.calls.get(n) in watch.ended)  # type: ignore[misc]
    await until(lambda: app.facts.pending == 0)
    return watch.calls


async def test_calls_become_appointments(clean_database_url: str, tmp_path: Path) -> None:
    sim = PbxSim(username=USER, password=PASSWORD)
    await sim.start()
    app = in_process_app(sim.ari_url, clean_database_url, tmp_path / "data", tokens=(TOKEN,), extra=TOPICS)
    ctl = SimControl(sim.control_url)
    await app.start()
    api = f"http://127.0.0.1:{app.http_port}/api"
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:

            async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
                async with http.request(method, f"{api}{path}", json=body) as r:
                    return r.status, await r.json()

            assert (await call("POST", "/patients/bulk", {"patients": CARDS}))[1]["accepted"] == 3
            assert (await call("PUT", "/staff/s-1", {"name": "Dr Melnyk", "phones": [COLLEAGUE]}))[0] == 200
            calls = await _calls_made(app, sim, ctl)
            mother, newcomer, colleague = calls[MOTHER], calls[NEWCOMER], calls[COLLEAGUE]
            now = datetime.now(UTC)

            # The son booked right after his mother's call: linked to it, by the family rule.
            status, son = await call("POST", "/bookings/events", _event(1, "created", "p-andrii", now))
            assert (status, son["linked_call_id"]) == (201, mother)
            status, again = await call("POST", "/bookings/events", _event(1, "created", "p-andrii", now))
            assert (status, again["result"]) == (200, "duplicate")
            # A cancellation 20 minutes before any call: outside the 15-minute window.
            early = _event(2, "cancelled", "p-olha", now - timedelta(minutes=20))
            assert (await call("POST", "/bookings/events", early))[1]["linked_call_id"] is None
            # Zoe's booking: no call came from her numbers, until the newcomer's comment names her.
            status, zoe = await call("POST", "/bookings/events", _event(3, "created", "p-zoe", now))
            assert (status, zoe["linked_call_id"]) == (201, None)
            comment = {"caller_type": "patient_to_book", "topic": "implants", "author": "anna",
                       "patient_external_id": "p-zoe", "text": "calling for her friend"}  # fmt: skip
            assert (await call("PUT", f"/calls/{newcomer}/comment", comment))[0] == 200
            # A booking for a patient the directory does not know yet links once the card arrives.
            status, late = await call("POST", "/bookings/events", _event(4, "created", "p-late", now))
            assert (status, late["patient_known"], late["linked_call_id"]) == (201, False, None)
            card = {"full_name": "Late Card", "phones": [{"number": NEWCOMER}]}
            assert (await call("PUT", "/patients/p-late", card))[0] == 200

            async def detail(call_id: str) -> dict[str, Any]:
                return (await call("GET", f"/calls/{call_id}"))[1]  # type: ignore[no-any-return]

            rows = {k: await detail(v) for k, v in {"mother": mother, "newcomer": newcomer}.items()}
            assert [(x["event_id"], x["rule"]) for x in rows["mother"]["links"]] == [("ev-1", "family")]
            newcomers = sorted((x["event_id"], x["rule"]) for x in rows["newcomer"]["links"])
            assert newcomers == [("ev-3", "comment"), ("ev-4", "patient")]

            async def classes() -> dict[str, Any]:
                ids = {"mother": mother, "newcomer": newcomer, "colleague": colleague}
                return {k: (await detail(v))["opportunity"] for k, v in ids.items()}

            # A new patient's booking (the son has no visits) makes the mother's call new; the
            # colleague's call is not an opportunity. (Classes follow each call's end off its path.)
            expected = {"mother": "new", "newcomer": "new", "colleague": "none"}
            await eventually(classes, lambda got: got == expected, 10, "the calls' classes")

            status, report = await call("GET", "/reports/conversion?by=branch")
            assert status == 200
            assert report["total"] == {"calls": 2, "converted": 2, "rate": 1.0}

            status, _ = await call(
                "PUT", f"/calls/{newcomer}/opportunity", {"opportunity": "none", "by": "ben"}
            )
            assert status == 200
            status, kept = await call("GET", "/reports/classification")
            assert (status, kept["corrected"]) == (200, 1) and kept["kept_share"] < 1
            assert (await call("GET", "/reports/conversion?by=branch"))[1]["total"]["calls"] == 1
    finally:
        await app.stop(drain_timeout=2)
        await ctl.close()
        await sim.stop()
