"""The demo clinic's directories: a few families, staff and a supplier, generated from the seed,
so that the demo's calls come from known patients (some numbers on several cards), staff, a
contractor and new callers alike."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Any

from ari_app.people.schema import ContactIn, PatientIn

SURNAMES = ("Kovalenko", "García", "Melnyk", "Chen", "Shevchenko", "Müller", "Bondar", "Rossi")
GIVEN = ("Olha", "Taras", "Lucía", "Wei", "Iryna", "Jonas", "Maria", "Andriy", "Sofia", "Marco")


@dataclass(frozen=True)
class DemoPeople:
    patients: list[PatientIn]
    staff: list[ContactIn]
    contractors: list[ContactIn]


def demo_people(callers: list[str], rng: random.Random, fillers: int = 40) -> DemoPeople:
    """``callers``: the numbers that call again and again. The first two thirds are patients' (the
    first a mother's, on her own card and her two children's), then two staff members' and a
    supplier's; the rest call without a card. ``fillers`` more cards whose numbers never call."""
    known = max(1, len(callers) * 2 // 3)
    patients: list[PatientIn] = []
    for i, number in enumerate(callers[:known]):
        patients += _family(f"demo-{i}", number, rng) if i == 0 else [_card(f"demo-{i}", number, rng)]
    for i in range(fillers):
        patients.append(_card(f"demo-f{i}", f"20266{rng.randrange(10000, 99999)}", rng))
    rest = callers[known:]
    staff = [_contact(f"staff-{i}", f"Dr {rng.choice(SURNAMES)}", n) for i, n in enumerate(rest[:2])]
    contractors = [_contact("supplier-0", "Dental Supply Co.", n) for n in rest[2:3]]
    return DemoPeople(patients, staff, contractors)


def _card(ext: str, number: str, rng: random.Random, **more: Any) -> PatientIn:
    completed, no_show = rng.randrange(0, 12), rng.randrange(0, 3)
    fields: dict[str, Any] = {
        "external_id": ext,
        "full_name": f"{rng.choice(GIVEN)} {rng.choice(SURNAMES)}",
        "birth_date": date(rng.randrange(1950, 2005), rng.randrange(1, 13), rng.randrange(1, 29)),
        "phones": [{"number": number}],
        "balance": rng.choice(("0", "0", "-120.00", "350.00")),
        "treatment_sum": f"{rng.randrange(0, 5000)}.00",
        "visits": {"completed": completed, "no_show": no_show, "cancelled": rng.randrange(0, 2)},
    }
    return PatientIn.model_validate(fields | more)


def _family(ext: str, number: str, rng: random.Random) -> list[PatientIn]:
    """A mother and two children, the children's cards carrying her number as their parent's."""
    mother = _card(ext, number, rng, family_id=ext)
    surname = mother.full_name.rsplit(" ", 1)[-1]
    children = [
        _card(
            f"{ext}-child{k}",
            number,
            rng,
            full_name=f"{rng.choice(GIVEN)} {surname}",
            family_id=ext,
            birth_date=date(rng.randrange(2012, 2022), 6, 1),
            guardian_external_id=ext,
            guardian_name=mother.full_name,
            phones=[{"number": number, "role": "parent", "owner": mother.full_name}],
        )
        for k in (1, 2)
    ]
    return [mother, *children]


def _contact(ext: str, name: str, number: str) -> ContactIn:
    return ContactIn.model_validate({"external_id": ext, "name": name, "phones": [number]})
