"""Real WAV files as Asterisk's ``wav`` format writes them: 8 kHz, 16-bit, mono PCM."""

from __future__ import annotations

import math
import struct

RATE = 8000
_FREQ = 200  # a low hum: one period is exactly 40 samples at 8 kHz


def tone_wav(seconds: float, amplitude: int = 3000) -> bytes:
    """``seconds`` of a low tone: cheap to build for long recordings, and not silence."""
    frames = max(0, round(seconds * RATE))
    period = RATE // _FREQ
    cycle = b"".join(
        struct.pack("<h", int(amplitude * math.sin(2 * math.pi * i / period))) for i in range(period)
    )
    body = (cycle * (frames // period + 1))[: frames * 2]
    header = b"RIFF" + struct.pack("<I", 36 + len(body)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16)
    return header + fmt + b"data" + struct.pack("<I", len(body)) + body


def wav_seconds(data: bytes) -> float:
    """The length of a WAV written by :func:`tone_wav` (0 for anything unreadable)."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[36:40] != b"data":
        return 0.0
    (size,) = struct.unpack("<I", data[40:44])
    return size / (RATE * 2)
