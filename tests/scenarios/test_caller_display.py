"""What an admin's phone shows while it rings: the caller's name from the directories and the
caller's number, as the INVITE's From carries them (on a real Asterisk: the leg's connected line,
res_pjsip_session.c set_from_header), for a caller the patients' directory knows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.scenarios.conftest import Clinic

PATIENT_NUMBER = "+12025550147"
PATIENT = {
    "full_name": "Olha Kovalenko",
    "branch": "downtown",
    "phones": [{"number": PATIENT_NUMBER, "role": "self"}],
}
UNKNOWN_NUMBER = "+12025550148"


async def test_the_ringing_phones_show_a_known_callers_name_and_number(
    clinic_factory: Callable[..., Awaitable[Clinic]],
) -> None:
    clinic = await clinic_factory()
    status, body = await clinic.api("PUT", "/api/patients/scn-olha", PATIENT)
    assert status == 200, body
    status, body = await clinic.api("GET", f"/api/callers/{PATIENT_NUMBER}")
    assert status == 200 and body["kind"] == "patient", body
    # downtown-desk rings anna, ben and chen (admin101..103) at once; anna answers.
    await clinic.pbx.phone("admin101", "answer", answer_after=0.5)

    await clinic.pbx.call(PATIENT_NUMBER, "5551234", hangup_after=0.5)
    call = await clinic.call_of(PATIENT_NUMBER)
    assert call.outcome == "answered"
    for phone in ("admin101", "admin102", "admin103"):
        shown = await clinic.pbx.shown(phone)
        assert len(shown) == 1, (phone, shown)
        assert (shown[0].name, shown[0].number) == ("Olha Kovalenko", PATIENT_NUMBER), (phone, shown)
    assert await clinic.pbx.shown("admin104") == []  # uptown: not rung

    # A caller nobody knows: the phone shows the number, and no name of anybody's.
    await clinic.pbx.call(UNKNOWN_NUMBER, "5551234", hangup_after=0.5)
    await clinic.call_of(UNKNOWN_NUMBER)
    shown = (await clinic.pbx.shown("admin101"))[-1]
    assert shown.number == UNKNOWN_NUMBER
    assert shown.name in ("", UNKNOWN_NUMBER)  # the carrier's name for the caller, here its number
    await clinic.pbx.quiet()
