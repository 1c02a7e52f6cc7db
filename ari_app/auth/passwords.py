"""Passwords: argon2id hashes, and which passwords are refused before they are hashed.

The hash's cost is explicit (``HashCost``): production uses ``PRODUCTION`` (19 MiB, two passes:
OWASP's minimum for argon2id); a test may pass a cheaper cost, never by default. Verifying a
hash takes tens of milliseconds of CPU, so it runs in a thread, off the event loop that carries
calls.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_MEMORY_KIB = 19 * 1024


@dataclass(frozen=True)
class HashCost:
    memory_kib: int = MIN_MEMORY_KIB
    passes: int = 2
    lanes: int = 1


PRODUCTION = HashCost()


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of the most used passwords, lower-cased (read once, when first needed)."""
    text = resources.files("ari_app.auth").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def password_problem(password: str, login: str, min_length: int) -> str | None:
    """Why ``password`` is refused, or None. Length is counted in characters; the common list
    and the login are compared case-insensitively (``Password1234`` is as weak as ``password1234``)."""
    if len(password) < min_length:
        return f"at least {min_length} characters"
    if len(password) > 1024:
        return "at most 1024 characters"
    folded = password.strip().lower()
    if folded in common_passwords():
        return "too common: it is on the list of the most used passwords"
    if login and login.lower() in folded:
        return "must not contain the login"
    if len(set(folded)) < 4:
        return "too few different characters"
    return None


class Passwords:
    """Hashes and verifies passwords with argon2id at ``cost``."""

    def __init__(self, cost: HashCost = PRODUCTION) -> None:
        self.cost = cost
        self._hasher = PasswordHasher(
            time_cost=cost.passes, memory_cost=cost.memory_kib, parallelism=cost.lanes, type=Type.ID
        )
        # Verified when the login is unknown, so that a wrong login takes as long as a wrong password.
        self._decoy = self._hasher.hash("decoy password that matches nothing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._decoy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify_off_loop(self, stored: str | None, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(None, self.verify, stored, password)

    async def hash_off_loop(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(None, self.hash, password)


def memory_kib_of(stored: str) -> int:
    """The memory cost (KiB) a stored hash was made with, read from its own parameters."""
    from argon2 import extract_parameters

    return int(extract_parameters(stored).memory_cost)
