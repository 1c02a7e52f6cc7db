"""WAV checks and the recordings archive: private, atomic, confined to its folder."""

from __future__ import annotations

import os
import stat
import struct
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from ari_app.store.recordings import InvalidRecording, RecordingArchive, inspect_wav, repair_unclosed_wav

T0 = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)


def _wav(seconds: float, rate: int = 8000, *, tag: int = 1, channels: int = 1, extra: bytes = b"") -> bytes:
    """What Asterisk's "wav" format writes: 8 kHz, 16-bit, mono PCM (``extra`` chunks before data)."""
    body = b"\x01\x00" * channels * int(seconds * rate)
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, tag, channels, rate, rate * 2 * channels, 2 * channels, 16)
    rest = b"WAVE" + fmt + extra + b"data" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", len(rest)) + rest


def test_valid_wav() -> None:
    info = inspect_wav(_wav(2.5))
    assert (info.channels, info.sample_rate, info.sample_width, info.frames) == (1, 8000, 2, 20000)
    assert info.duration_seconds == 2.5
    # Chunks other than fmt/data (here a LIST with an odd, padded length) are skipped over.
    listed = inspect_wav(_wav(1.0, extra=b"LIST" + struct.pack("<I", 5) + b"INFOx\x00"))
    assert listed.duration_seconds == 1.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"OggS" + bytes(60), "not RIFF/WAVE"),
        (b"RIFF" + bytes(4) + b"AVI " + bytes(40), "not RIFF/WAVE"),
        (b"RIFF", "too short"),
        (_wav(2.0)[:-100], "truncated data chunk"),
        (_wav(0.1).replace(b"data", b"junk"), "no data chunk"),
        (_wav(0.1, tag=3), "bad WAV header"),  # IEEE float, not PCM
        (_wav(0.1, channels=0), "bad WAV header"),
        (_wav(0.1, rate=0), "bad WAV header"),
    ],
)
def test_invalid_wav_says_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(InvalidRecording, match=message):
        inspect_wav(data)


def test_riff_size_beyond_the_file_is_truncation() -> None:
    data = bytearray(_wav(0.5))
    data[4:8] = struct.pack("<I", len(data) + 1000)
    with pytest.raises(InvalidRecording, match="truncated file"):
        inspect_wav(bytes(data))


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_archive_is_private_and_laid_out_by_day(tmp_path: Path) -> None:
    archive = RecordingArchive(tmp_path / "rec")
    # 00:30 at UTC+3 is still the previous day in UTC: the layout follows UTC.
    started = datetime(2026, 11, 23, 0, 30, tzinfo=timezone(timedelta(hours=3)))
    saved = archive.save("c1", "call-c1", "wav", _wav(1.0), started)
    path = archive.open_path(saved.path_rel)
    assert saved.path_rel == "2026/11/22/call-c1.wav" and path.read_bytes() == _wav(1.0)
    assert saved.size == len(_wav(1.0)) and len(saved.sha256) == 64
    assert _mode(path) == 0o600
    for folder in ("rec", "rec/2026", "rec/2026/11", "rec/2026/11/22"):
        assert _mode(tmp_path / folder) == 0o700, folder


@pytest.mark.parametrize("name", ["../evil", "a/b", "a\\b", ".hidden", "", "nul\0"])
def test_archive_rejects_unsafe_names(tmp_path: Path, name: str) -> None:
    archive = RecordingArchive(tmp_path / "rec")
    with pytest.raises(ValueError, match="unsafe"):
        archive.save("c1", name, "wav", b"x", T0)
    with pytest.raises(ValueError, match="unsafe"):
        archive.save("c1", "ok", name or "/", b"x", T0)
    assert not (tmp_path / "evil.wav").exists()


@pytest.mark.parametrize("rel", ["../../etc/passwd", "/etc/passwd", "", "2026/../..", "link/x.wav"])
def test_open_path_stays_inside(tmp_path: Path, rel: str) -> None:
    archive = RecordingArchive(tmp_path / "rec")
    (tmp_path / "rec" / "link").symlink_to(tmp_path)  # a link out of the archive is refused too
    with pytest.raises(ValueError, match="outside"):
        archive.open_path(rel)


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = RecordingArchive(tmp_path / "rec")
    first = archive.save("c1", "call-c1", "wav", _wav(1.0), T0)
    target = archive.open_path(first.path_rel)
    second = archive.save("c1", "call-c1", "wav", _wav(2.0), T0)  # a re-save replaces whole
    assert target.read_bytes() == _wav(2.0) and second.sha256 != first.sha256

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        archive.save("c1", "call-c1", "wav", _wav(3.0), T0)
    assert target.read_bytes() == _wav(2.0)  # the failed write left the old file untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["call-c1.wav"]  # and no tmp behind


async def test_save_async(tmp_path: Path) -> None:
    archive = RecordingArchive(tmp_path / "rec")
    saved = await archive.save_async("c1", "call-c1", "wav", _wav(0.5), T0)
    assert archive.open_path(saved.path_rel).read_bytes() == _wav(0.5)


def test_a_wav_asterisk_never_closed_is_repaired() -> None:
    """A crash leaves Asterisk's WAV with RIFF and data sizes 0; the audio is all there."""
    good = _wav(3.0)
    unclosed = good[:4] + b"\0\0\0\0" + good[8:40] + b"\0\0\0\0" + good[44:] + b"\x01"  # half a frame
    with pytest.raises(InvalidRecording):
        inspect_wav(unclosed)
    fixed = repair_unclosed_wav(unclosed)
    assert fixed == good  # the odd trailing byte is not a whole frame
    assert inspect_wav(fixed).duration_seconds == pytest.approx(3.0)
    # Anything else is not guessed at: a closed file, a truncated one, not a WAV at all.
    assert repair_unclosed_wav(good) is None
    assert repair_unclosed_wav(good[:-100]) is None
    assert repair_unclosed_wav(b"ID3" + bytes(100)) is None
