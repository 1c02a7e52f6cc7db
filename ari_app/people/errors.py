"""A directory write's refusal of one item, as the store reports it to the bulk API and the CSV
import: which item of the batch, whose external id, and each field's reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RowError:
    """Item ``index`` of a batch was not stored; ``problems`` are (field, reason) pairs, the field
    a dotted path into the item ("phones.1.number") so callers can point at their own input."""

    index: int
    external_id: str
    problems: tuple[tuple[str, str], ...]
