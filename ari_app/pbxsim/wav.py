"""A real WAV as Asterisk's ``wav`` format writes it: 8 kHz, 16-bit, mono PCM."""

from __future__ import annotations

import math
import struct

RATE = 8000


def tone_wav(seconds: float, freq: float = 425.0, amplitude: int = 2000) -> bytes:
    frames = max(0, round(seconds * RATE))
    # One period repeated: cheap to build for long recordings, still not silence.
    period = max(1, round(RATE / freq))
    cycle = b"".join(
        struct.pack("<h", int(amplitude * math.sin(2 * math.pi * i / period))) for i in range(period)
    )
    body = (cycle * (frames // period + 1))[: frames * 2]
    header = b"RIFF" + struct.pack("<I", 36 + len(body)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16)
    return header + fmt + b"data" + struct.pack("<I", len(body)) + body
