"""The signed feed: ``X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.

The time inside the signed text stops a captured request from being replayed later (beyond
``TOLERANCE``); the digest is compared in constant time. Pure: the clock is an argument."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

TOLERANCE = 300  # seconds either way: the scheduler's clock and ours may drift a little
_MAX_HEADER = 512


class SignatureRefused(Exception):
    """``error_id``: bad_signature (malformed, wrong) or stale_signature (outside the tolerance)."""

    def __init__(self, error_id: str, detail: str) -> None:
        super().__init__(detail)
        self.error_id = error_id
        self.detail = detail


@dataclass(frozen=True)
class SignatureHeader:
    timestamp: int
    digests: tuple[str, ...]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for ``body`` sent at ``timestamp`` (for senders and tests)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def parse(header: str) -> SignatureHeader:
    malformed = SignatureRefused("bad_signature", "X-Signature must be t=<unix seconds>,v1=<hex digest>")
    if len(header) > _MAX_HEADER:
        raise malformed
    stamps: list[str] = []
    digests: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise malformed
        if key == "t":
            stamps.append(value)
        elif key == "v1":
            digests.append(value.lower())
    ok_stamp = len(stamps) == 1 and stamps[0].isascii() and stamps[0].isdigit() and len(stamps[0]) <= 12
    hexdigits = set("0123456789abcdef")
    if not ok_stamp or not digests or any(len(d) != 64 or not set(d) <= hexdigits for d in digests):
        raise malformed
    return SignatureHeader(int(stamps[0]), tuple(digests))


def verify(secret: str, header: str, body: bytes, now: float) -> None:
    """Returns when ``header`` signs ``body`` with ``secret`` within the tolerance of ``now``."""
    signed = parse(header)
    if abs(now - signed.timestamp) > TOLERANCE:
        raise SignatureRefused("stale_signature", f"the signature's time is over {TOLERANCE} s from ours")
    expected = _digest(secret, signed.timestamp, body).encode()
    # Every digest is compared (no early exit): the time taken says nothing about which matched.
    matched = [hmac.compare_digest(expected, d.encode()) for d in signed.digests]
    if not any(matched):
        raise SignatureRefused("bad_signature", "the signature does not match the body")
