"""The CSV import's columns and cells: which header names mean which field (in English, Russian,
Ukrainian and Spanish, as clinics' schedulers export them), and how a cell reads as a date, an
amount, a count or a yes/no. Pure: text in, values or a ``ValueError`` with the reason out.

Dates are read day first: "31.05.2014" and "31/05/2014" are the 31st of May, as every locale the
clinics export from writes them; "05/31/2014" is refused rather than guessed. ISO "2014-05-31"
is always accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

Kind = Literal["patients", "staff", "contractors"]
Part = Literal["number", "role", "owner"]

# Canonical column → the header names that mean it, "|" between them (compared after ``normalise``).
ALIASES: dict[str, str] = {
    "external_id": "external id|id|patient id|employee id|contractor id|card|card number|код|код пациента|id пациента|номер карты|код сотрудника|код пацієнта|id пацієнта|номер картки|код співробітника|id paciente|código|codigo|código paciente|número de historia",
    "name": "name|full name|patient name|patient|employee|фио|ф.и.о.|имя|пациент|сотрудник|піб|п.і.б.|ім'я|пацієнт|співробітник|nombre|nombre completo|paciente|empleado",
    "birth_date": "birth date|date of birth|dob|birthday|дата рождения|дата народження|fecha de nacimiento|fecha nacimiento",
    "branch": "branch|clinic|филиал|клиника|філія|клініка|sucursal|clínica",
    "guardian_external_id": "guardian id|parent id|id опекуна|id опікуна|id tutor",
    "guardian_name": "guardian|guardian name|parent|опекун|опікун|tutor",
    "family_id": "family|family id|семья|сім'я|родина|familia",
    "balance": "balance|баланс|saldo",
    "treatment_sum": "treatment sum|сумма лечения|сума лікування|suma tratamiento",
    "family_sum": "family sum|сумма семьи|сума родини|suma familia",
    "insurance_sum": "insurance sum|сумма страховой|сума страхова|suma seguro",
    "comment": "comment|card comment|note|notes|комментарий|примечание|коментар|примітка|comentario|nota|notas",
    "organisation": "organisation|organization|company|организация|компания|організація|компанія|empresa|organización",
    "policy_number": "policy|policy number|полис|номер полиса|поліс|номер поліса|póliza",
    "policy_from": "policy from|policy start|полис с|поліс з|póliza desde",
    "policy_to": "policy to|policy end|полис до|поліс до|póliza hasta",
    "policy_active": "policy active|полис активен|поліс активний|póliza activa",
    "visits_completed": "visits completed|visits|визиты|візити|visitas",
    "visits_no_show": "visits no show|no show|no shows|неявки|ausencias",
    "visits_cancelled": "visits cancelled|cancelled|отмены|скасування|canceladas",
    "last_visit": "last visit|последний визит|останній візит|última visita",
    "phones": "phones|телефоны|телефони|teléfonos|telefonos",
}
_PHONE = "phone|tel|telephone|mobile|phone number|mobile phone|телефон|тел|мобильный|номер телефона|мобильный телефон|мобільний|номер телефону|мобільний телефон|teléfono|telefono|móvil|celular|número de teléfono"
_PARTS: dict[str, Part] = {
    "role": "role",
    "роль": "role",
    "rol": "role",
    "owner": "owner",
    "владелец": "owner",
    "власник": "owner",
    "titular": "owner",
}
MAX_PHONE_SLOTS = 20

# Where each canonical column lands in the input model, per directory.
PATIENT_FIELDS: dict[str, tuple[str, ...]] = {
    "external_id": ("external_id",),
    "name": ("full_name",),
    "birth_date": ("birth_date",),
    "branch": ("branch",),
    "guardian_external_id": ("guardian_external_id",),
    "guardian_name": ("guardian_name",),
    "family_id": ("family_id",),
    "balance": ("balance",),
    "treatment_sum": ("treatment_sum",),
    "family_sum": ("family_sum",),
    "insurance_sum": ("insurance_sum",),
    "comment": ("card_comment",),
    "policy_number": ("policy", "number"),
    "policy_from": ("policy", "valid_from"),
    "policy_to": ("policy", "valid_to"),
    "policy_active": ("policy", "active"),
    "visits_completed": ("visits", "completed"),
    "visits_no_show": ("visits", "no_show"),
    "visits_cancelled": ("visits", "cancelled"),
    "last_visit": ("visits", "last"),
}
CONTACT_FIELDS: dict[str, tuple[str, ...]] = {
    "external_id": ("external_id",),
    "name": ("name",),
    "organisation": ("organisation",),
    "comment": ("note",),
}
DATES = frozenset({"birth_date", "policy_from", "policy_to", "last_visit"})
MONEY = frozenset({"balance", "treatment_sum", "family_sum", "insurance_sum"})
COUNTS = frozenset({"visits_completed", "visits_no_show", "visits_cancelled"})
BOOLEANS = frozenset({"policy_active"})


@dataclass(frozen=True)
class Column:
    """What a header cell means: a canonical field, or phone slot ``slot``'s number/role/owner."""

    key: str  # canonical name; "phone" for a phone slot's parts
    slot: int = 0
    part: Part = "number"


def normalise(header: str) -> str:
    """Case, spacing and punctuation do not matter: "Patient_ID", "patient id" and
    " PATIENT-ID " are one name; "ё" reads as "е" as Russian writers mix them."""
    text = header.strip().casefold().replace("ё", "е")
    return " ".join(re.sub(r"[_\-./:#№()]+", " ", text).split())


def _lookup() -> dict[str, str]:
    return {normalise(alias): key for key, aliases in ALIASES.items() for alias in (key, *aliases.split("|"))}


_PHONES = frozenset(normalise(name) for name in _PHONE.split("|"))
_PHONE_HEADER = re.compile(r"^(?P<base>\D+?) ?(?P<slot>\d+)?(?: (?P<part>\S+))?$")


def fields_of(kind: Kind) -> dict[str, tuple[str, ...]]:
    return PATIENT_FIELDS if kind == "patients" else CONTACT_FIELDS


def resolve(header: str, kind: Kind, lookup: dict[str, str] | None = None) -> Column | None:
    """The column ``header`` names in a ``kind`` file, or None when it names none we know."""
    name = normalise(header)
    key = (lookup if lookup is not None else _lookup()).get(name)
    if key is not None:
        return Column(key) if key in fields_of(kind) or key == "phones" else None
    match = _PHONE_HEADER.match(name)
    if not match or match["base"] not in _PHONES:
        return None
    word = match["part"]
    if word is not None and word not in _PARTS:
        return None
    slot = int(match["slot"] or 1)
    part: Part = _PARTS[word] if word is not None else "number"
    if not 1 <= slot <= MAX_PHONE_SLOTS or (part != "number" and kind != "patients"):
        return None  # staff and contractor numbers carry no role or owner
    return Column("phone", slot, part)


def header_lookup() -> dict[str, str]:
    """The alias table, built once per file rather than per header cell."""
    return _lookup()


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAY_FIRST = re.compile(r"^(\d{1,2})([./])(\d{1,2})\2(\d{4})$")


def parse_date(text: str) -> date:
    try:
        if _ISO.match(text):
            return date.fromisoformat(text)
        match = _DAY_FIRST.match(text)
        if match:
            return date(int(match[4]), int(match[3]), int(match[1]))
    except ValueError:
        raise ValueError("no such date") from None
    raise ValueError("not a date: write 2014-05-31 or 31.05.2014 (day first)")


_GROUPING = str.maketrans("", "", " \u00a0\u202f'’")
_AMOUNT = re.compile(r"^[+-]?\d+(\.\d{1,2})?$")
# Whole units: plain digits, or groups of three split by one kind of separator ("1,234,567").
_WHOLE = re.compile(r"^[+-]?(\d+|\d{1,3}(,\d{3})+|\d{1,3}(\.\d{3})+)$")


def parse_money(text: str) -> Decimal:
    """ "1234.50", "1 234,50", "1,234.50", "-300": the last "," or "." is the decimal point when
    one or two digits follow it (money has cents), any other is a thousands separator."""
    value = text.translate(_GROUPING).replace("−", "-")
    last = max(value.rfind(","), value.rfind("."))
    decimal_point = last >= 0 and 1 <= len(value) - last - 1 <= 2
    whole, cents = (value[:last], value[last + 1 :]) if decimal_point else (value, "")
    if not _WHOLE.match(whole):
        raise ValueError("not an amount: write 1234.50, 1 234,50 or -300")
    value = whole.replace(",", "").replace(".", "") + (f".{cents}" if cents else "")
    if not _AMOUNT.match(value):
        raise ValueError("not an amount: write 1234.50, 1 234,50 or -300")
    return Decimal(value)


def parse_count(text: str) -> int:
    value = text.translate(_GROUPING)
    if not re.fullmatch(r"[+-]?\d+", value):
        raise ValueError("not a whole number")
    return int(value)


_TRUE = frozenset({"yes", "y", "true", "1", "да", "так", "sí", "si"})
_FALSE = frozenset({"no", "n", "false", "0", "нет", "ні", "нi"})


def parse_bool(text: str) -> bool:
    value = text.strip().casefold()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("not a yes/no: write yes, no, true, false, 1, 0, да, нет, так, ні or sí")


_ROLES = {
    "parent": "mother|father|mom|dad|мать|отец|мама|папа|мати|батько|madre|padre",
    "self": "own|patient|сам|свой|пациент|власний|пацієнт|propio|paciente",
    "spouse": "husband|wife|муж|жена|супруг|супруга|чоловік|дружина|esposo|esposa",
    "child": "son|daughter|сын|дочь|ребенок|син|донька|дитина|hijo|hija",
    "guardian": "опекун|опікун|tutor",
    "relative": "родственник|родич|familiar",
    "other": "другое|інше|otro",
}
_ROLE_OF = {alias: role for role, aliases in _ROLES.items() for alias in (role, *aliases.split("|"))}


def parse_role(text: str) -> str:
    """A phone's role in English as the schema has it; an unknown word is left for the schema to
    refuse with the list of roles."""
    value = text.strip().casefold()
    return _ROLE_OF.get(value, value)


def parse_phone(text: str) -> str:
    """Kept as written: the store reads it in the branch's region. A cell without a digit is no
    number at all ("нет", "n/a") and refused here, where the column is known."""
    if not any(ch.isdigit() for ch in text):
        raise ValueError("no digits: not a phone number")
    return text


def split_phones(text: str) -> list[str]:
    """A cell of several numbers: "+380671234567 | 067 765 43 21" or with commas."""
    return [part.strip() for part in re.split(r"[|,]", text) if part.strip()]


def parse_cell(key: str, text: str) -> object:
    """The value of a canonical column's cell; text columns are the text itself."""
    if key in DATES:
        return parse_date(text)
    if key in MONEY:
        return parse_money(text)
    if key in COUNTS:
        return parse_count(text)
    if key in BOOLEANS:
        return parse_bool(text)
    return text
