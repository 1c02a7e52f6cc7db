"""Who is calling, end to end as the app runs (SQLite and PostgreSQL): the directories loaded
through the API, calls arriving on the simulated PBX from a mother's number (on her card and her
child's), a colleague's and a new caller's; the stored calls carry the caller's kind and card,
the admins' phones were shown the name, and a comment is saved, edited and kept with its
history."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from ari_app.pbxsim.server import PbxSim
from ari_app.simctl import SimControl
from tests.integration.conftest import PASSWORD, USER, CallWatch, in_process_app, until

pytestmark = pytest.mark.integration

TOKEN = "directories-end-to-end-token"
TOPICS = '[[topics]]\nid = "implants"\nname = "Implants"\ndigit = "1"\n'
MOTHER, COLLEAGUE, NEWCOMER = "+12025550111", "+12025550122", "+12025550133"
CARDS = [
    {"external_id": "p-olha", "full_name": "Olha Kovalenko", "phones": [{"number": "(202) 555-0111"}]},
    {
        "external_id": "p-andrii",
        "full_name": "Andrii Kovalenko",
        "guardian_external_id": "p-olha",
        "phones": [{"number": "202 555 0111", "role": "parent", "owner": "Olha Kovalenko"}],
    },
]


async def test_callers_known_from_the_directories_and_their_calls_commented(
    clean_database_url: str, tmp_path: Path
) -> None:
    sim = PbxSim(username=USER, password=PASSWORD)
    await sim.start()
    app = in_process_app(sim.ari_url, clean_database_url, tmp_path / "data", tokens=(TOKEN,), extra=TOPICS)
    watch = CallWatch.on(app, sim)
    calls, shown, ended = watch.calls, watch.shown, watch.ended
    ctl = SimControl(sim.control_url)
    await app.start()
    api = f"http://127.0.0.1:{app.http_port}/api"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession(headers=auth) as http:
            async with http.post(f"{api}/patients/bulk", json={"patients": CARDS}) as r:
                assert (r.status, (await r.json())["accepted"]) == (200, 2)
            staff = {"name": "Dr Melnyk", "phones": ["+1 202 555 0122"]}
            async with http.put(f"{api}/staff/s-melnyk", json=staff) as r:
                assert r.status == 200, await r.text()
            assert await app.wait_ari(10)
            for phone in ("admin101", "admin102", "admin103"):
                await ctl.set_phone(phone, "answer", answer_after=0.3)
            for number in (MOTHER, COLLEAGUE, NEWCOMER):
                await ctl.place_call(number, "5551234", hangup_after=0.3)
                await until(lambda n=number: calls.get(n) in ended)  # type: ignore[misc]
            await until(lambda: app.facts.pending == 0)

            stored = {}
            for number, call_id in calls.items():
                async with http.get(f"{api}/calls/{call_id}") as r:
                    stored[number] = await r.json()
            assert {n: (c["caller_kind"], c["in_statistics"]) for n, c in stored.items()} == {
                MOTHER: ("patient", True), COLLEAGUE: ("staff", False), NEWCOMER: ("unknown", True),
            }  # fmt: skip
            assert stored[MOTHER]["patient_id"] is None  # two cards: the admin picks
            # The mother's number names her on the phone: both cards say it is hers.
            assert [shown[calls[n]] for n in (MOTHER, COLLEAGUE, NEWCOMER)] == [
                "Olha Kovalenko", "Dr Melnyk", NEWCOMER,
            ]  # fmt: skip

            call = calls[MOTHER]
            first = {
                "caller_type": "patient_to_book", "topic": "implants", "author": "anna",
                "patient_external_id": "p-andrii", "text": "Booking for her son", "expected_version": 0,
            }  # fmt: skip
            async with http.put(f"{api}/calls/{call}/comment", json=first) as r:
                assert (r.status, (await r.json())["version"]) == (200, 1), await r.text()
            stale = first | {"text": "an edit over an older version", "expected_version": 0}
            async with http.put(f"{api}/calls/{call}/comment", json=stale) as r:
                assert (r.status, (await r.json())["error"]) == (409, "version_conflict")
            second = first | {"text": "Son booked for Friday", "author": "ben", "expected_version": 1}
            async with http.put(f"{api}/calls/{call}/comment", json=second) as r:
                assert r.status == 200
            async with http.get(f"{api}/calls/{call}/comment") as r:
                comment = await r.json()
            assert (comment["version"], comment["text"], comment["author"]) == (
                2,
                "Son booked for Friday",
                "ben",
            )
            assert [v["text"] for v in comment["history"]] == ["Booking for her son", "Son booked for Friday"]
            async with http.get(f"{api}/calls/{call}") as r:
                assert (await r.json())["report_topic"] == "implants"
    finally:
        await app.stop(drain_timeout=2)
        await ctl.close()
        await sim.stop()
