"""A refused item of a batch (a patient of a bulk request, a row of a CSV file): which one, and
each field's reason, so the API and the importer report it the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True)
class RowError:
    index: int  # the item's place in its batch, from 0
    external_id: str | None  # None when the item did not say one that could be read
    errors: tuple[tuple[str, str], ...]  # (field, reason): "phones[0].number", "not a phone number"


def field_path(loc: Sequence[int | str]) -> str:
    """pydantic's ``loc`` as a client writes it: ("phones", 0, "number") -> "phones[0].number"."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def field_errors(exc: ValidationError) -> tuple[tuple[str, str], ...]:
    """Each of pydantic's errors as (field, reason); a whole-item error names the field ""."""
    return tuple((field_path(e["loc"]), e["msg"]) for e in exc.errors(include_url=False))
