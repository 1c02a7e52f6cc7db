"""An admin a call can be offered to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    admin: str  # login
    endpoint: str  # e.g. PJSIP/admin101
