"""The CSV import through the real directories' store, on SQLite and PostgreSQL: a clinic's
export with broken rows lands its good rows whole and none of a bad one, a second import of the
same file changes nothing, and the imported numbers identify their callers."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from sqlalchemy import func, select

from ari_app.numbers import Regions
from ari_app.people.importer import run_import
from ari_app.store.directory import DirectoryStore
from ari_app.store.people import Contact, Patient, PatientPhone

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
REGIONS = Regions("US", {"kyiv": "UA"})

PATIENTS = (
    "\ufeffid;ФИО;филиал;телефон;телефон 2;дата рождения;баланс\n"
    "p1;Коваленко Ольга;kyiv;067 123 45 67;+380 (50) 111-22-33;31.05.1984;-1 234,50\n"
    'p2;"Коваленко\nТарас";kyiv;067-123-45-67;;01.01.2015;0\n'  # a child on the mother's number
    "p3;王小明;;(555) 123-4567;;;\n"
    "p4;;kyiv;067 000 00 01;;;\n"  # no name: refused
    "p5;Broken Number;kyiv;067 123;;;\n"  # a number too short to be one: refused, nothing of p5 kept
    "p6;Bad Date;kyiv;067 555 44 33;;31.02.1990;\n"  # no such day: refused
)
STAFF = "id,name,phone\ns1,Dr Melnyk,+380 67 555 44 33\n"


async def _count(d: DirectoryStore, table: type) -> int:
    async with d.db.session() as s:
        return await s.scalar(select(func.count()).select_from(table)) or 0


async def test_good_rows_land_whole_and_a_second_import_adds_nothing(directory: DirectoryStore) -> None:
    err = io.StringIO()
    report = await run_import("patients", PATIENTS.encode(), directory, REGIONS, now=NOW, quiet=True, err=err)
    assert (report.imported, report.rejected, report.total) == (3, 3, 6), err.getvalue()
    problems = err.getvalue()
    assert "line 6" in problems and "line 7" in problems and "line 8" in problems
    assert "Коваленко" not in problems  # no patient data in the report, only where and why
    assert await _count(directory, Patient) == 3
    assert await _count(directory, PatientPhone) == 4
    for refused in ("p4", "p5", "p6"):
        assert await directory.get_patient(refused) is None
    child = await directory.get_patient("p2")
    assert child is not None and child.full_name == "Коваленко\nТарас"
    assert (await directory.get_patient("p3")).full_name == "王小明"  # type: ignore[union-attr]

    again = await run_import("patients", PATIENTS.encode(), directory, REGIONS, now=NOW, quiet=True, err=err)
    assert (again.imported, again.rejected) == (3, 3)
    assert (await _count(directory, Patient), await _count(directory, PatientPhone)) == (3, 4)

    mother = await directory.identify("+380671234567")
    assert mother.kind == "patient" and {c.external_id for c in mother.cards} == {"p1", "p2"}


async def test_imported_staff_are_staff_when_they_call(directory: DirectoryStore) -> None:
    err = io.StringIO()
    report = await run_import("staff", STAFF.encode(), directory, REGIONS, now=NOW, quiet=True, err=err)
    assert (report.imported, report.rejected) == (1, 0), err.getvalue()
    assert await _count(directory, Contact) == 1
    caller = await directory.identify("+380675554433")
    assert (caller.kind, caller.contact_name, caller.in_statistics) == ("staff", "Dr Melnyk", False)
