"""Recording files: WAV checks, and the archive they are kept in (private to the app's user)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import struct
import tempfile
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
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
    """Validate a RIFF/WAVE file's structure and describe its audio. Pure: no I/O.

    A recording cut short (a download that stopped early, a disk that filled up) is refused,
    rather than archived as audio that ends in the middle.
    """
    if len(data) < 44:
        raise InvalidRecording(f"too short for a WAV header ({len(data)} bytes)")
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise InvalidRecording("not RIFF/WAVE")
    data_size = _data_chunk_size(data)
    riff_size = struct.unpack_from("<I", data, 4)[0]
    if riff_size + 8 > len(data):
        raise InvalidRecording(f"truncated file: RIFF header says {riff_size + 8} bytes, got {len(data)}")
    try:
        with wave.open(BytesIO(data)) as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.getnframes()
    except (wave.Error, EOFError) as exc:
        raise InvalidRecording(f"bad WAV header: {exc}") from None
    if rate <= 0 or channels <= 0 or width <= 0:
        raise InvalidRecording("bad WAV header: zero sample rate, channels or sample width")
    if data_size < frames * channels * width:
        raise InvalidRecording("truncated data chunk")
    return WavInfo(channels, rate, width, frames, frames / rate)


def repair_unclosed_wav(data: bytes) -> bytes | None:
    """A WAV whose writer never closed it, repaired; None when ``data`` is not one.

    Asterisk writes a WAV's RIFF and data sizes when it closes the file. When Asterisk stops
    without closing it (a crash, a kill), both sizes stay 0 although the audio is all there.
    The sizes are rebuilt from the file's length (whole sample frames only). Anything else that
    is wrong with a file is not guessed at.
    """
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    if struct.unpack_from("<I", data, 4)[0] != 0:
        return None
    block_align = 0
    for pos, chunk, size in _chunks(data):
        if chunk == b"fmt " and size >= 16 and pos + 8 + 16 <= len(data):
            block_align = struct.unpack_from("<H", data, pos + 8 + 12)[0]
        if chunk == b"data":
            if size != 0 or block_align <= 0:
                return None
            body = len(data) - (pos + 8)
            body -= body % block_align
            end = pos + 8 + body
            out = bytearray(data[:end])
            struct.pack_into("<I", out, 4, end - 8)
            struct.pack_into("<I", out, pos + 4, body)
            return bytes(out)
    return None


def _chunks(data: bytes) -> Iterator[tuple[int, bytes, int]]:
    """A RIFF file's chunks after the WAVE tag: (offset, id, declared size)."""
    pos = 12
    while pos + 8 <= len(data):
        size = int(struct.unpack_from("<I", data, pos + 4)[0])
        yield pos, data[pos : pos + 4], size
        pos += 8 + size + (size & 1)  # chunks are padded to an even length


def _data_chunk_size(data: bytes) -> int:
    for pos, chunk, size in _chunks(data):
        if chunk == b"data":
            if pos + 8 + size > len(data):
                raise InvalidRecording("truncated data chunk")
            return size
    raise InvalidRecording("no data chunk")


class RecordingArchive:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)

    def save(self, call_id: str, name: str, fmt: str, data: bytes, started_at: datetime) -> SavedRecording:
        """Write atomically: readers see the whole file or none (a crash leaves only a stray tmp)."""
        for part in (name, fmt):
            if not part or part.startswith(".") or any(bad in part for bad in ("/", "\\", "..", "\0")):
                raise ValueError(f"unsafe recording name or format for call {call_id}: {part!r}")
        rel = Path(started_at.astimezone(UTC).strftime("%Y/%m/%d")) / f"{name}.{fmt}"
        target = self.root / rel
        self._private_dirs(rel.parent)
        # mkstemp: a unique name (two saves of one name never share a tmp) created 0o600.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(target.parent)
        return SavedRecording(rel.as_posix(), len(data), hashlib.sha256(data).hexdigest())

    def _private_dirs(self, rel_dir: Path) -> None:
        # mkdir(parents=True) would give the year and month folders the umask's mode, not 0o700.
        current = self.root
        for part in rel_dir.parts:
            current = current / part
            current.mkdir(exist_ok=True, mode=0o700)

    async def save_async(
        self, call_id: str, name: str, fmt: str, data: bytes, started_at: datetime
    ) -> SavedRecording:
        """``save`` off the event loop: the fsyncs can take a while on a busy disk."""
        return await asyncio.to_thread(self.save, call_id, name, fmt, data, started_at)

    def open_path(self, path_rel: str) -> Path:
        """The absolute path of an archived file; anything resolving outside the archive is refused."""
        path = (self.root / path_rel).resolve()
        if path == self.root or not path.is_relative_to(self.root):
            raise ValueError("recording path outside the archive")
        return path


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
