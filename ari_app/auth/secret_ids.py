"""Random secrets and how they are kept: 256 random bits, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets as _random


def new_secret(prefix: str = "") -> str:
    return prefix + _random.token_urlsafe(32)


def digest(secret: str) -> str:
    """What the database keeps of a session id, a password link's code or a service token. A plain
    hash is enough: each is 256 random bits, not a password a dictionary could find."""
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()
