"""Recording files: WAV checks, and the archive they are kept in (private to the app's user)."""

from __future__ import annotations

import hashlib
import os
import struct
import wave
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path


class InvalidRecording(ValueError):
    """The bytes are not a usable WAV; the message says what is wrong."""


@dataclass(frozen=True)
class WavInfo:
    channels: int
    sample_rate: int
    sample_width: int
    frames: int
    duration_seconds: float


@dataclass(frozen=True)
class SavedRecording:
    path_rel: str
    size: int
    sha256: str


def inspect_wav(data: bytes) -> WavInfo:
    if len(data) < 44:
        raise InvalidRecording(f"too short for a WAV header ({len(data)} bytes)")
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise InvalidRecording("not RIFF/WAVE")
    riff_size = struct.unpack_from("<I", data, 4)[0]
    if riff_size + 8 > len(data):
        raise InvalidRecording(f"truncated: header says {riff_size + 8} bytes, got {len(data)}")
    data_size = _data_chunk_size(data)
    try:
        with wave.open(BytesIO(data)) as w:
            channels, width, rate, frames = (
                w.getnchannels(),
                w.getsampwidth(),
                w.getframerate(),
                w.getnframes(),
            )
    except (wave.Error, EOFError) as exc:
        raise InvalidRecording(f"unreadable WAV: {exc}") from None
    if rate <= 0 or channels <= 0 or width <= 0:
        raise InvalidRecording("format chunk has zero rate, channels or sample width")
    if data_size < frames * channels * width:
        raise InvalidRecording("truncated data chunk")
    return WavInfo(channels, rate, width, frames, frames / rate)


def _data_chunk_size(data: bytes) -> int:
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk == b"data":
            if pos + 8 + size > len(data):
                raise InvalidRecording("truncated data chunk")
            return int(size)
        pos += 8 + size + (size & 1)
    raise InvalidRecording("no data chunk")


class RecordingArchive:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)

    def save(self, call_id: str, name: str, fmt: str, data: bytes, started_at: datetime) -> SavedRecording:
        for part in (name, fmt):
            if not part or "/" in part or "\\" in part or ".." in part or part.startswith("."):
                raise ValueError(f"unsafe recording name or format: {part!r}")
        rel = Path(started_at.strftime("%Y/%m/%d")) / f"{name}.{fmt}"
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.with_name(f".{target.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        return SavedRecording(rel.as_posix(), len(data), hashlib.sha256(data).hexdigest())

    def open_path(self, path_rel: str) -> Path:
        path = (self.root / path_rel).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError("recording path outside the archive")
        return path
