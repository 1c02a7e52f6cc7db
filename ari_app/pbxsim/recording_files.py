"""Stored recordings: real files in the recordings directory, keyed by name as Asterisk keys them."""

from __future__ import annotations

from pathlib import Path

from ari_app.pbxsim.state import SimError
from ari_app.pbxsim.wav import tone_wav, wav_seconds

FORMATS = ("wav",)


class RecordingFiles:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, name: str, fmt: str = "wav") -> Path:
        # Names may hold subdirectories, as in Asterisk; nothing may climb out of the directory.
        parts = Path(name).parts
        if not name or name.startswith("/") or ".." in parts:
            raise SimError(400, "Recording name invalid")
        return self.root / f"{name}.{fmt}"

    def exists(self, name: str) -> bool:
        try:
            return any(self.path(name, fmt).is_file() for fmt in FORMATS)
        except SimError:
            return False

    def write(self, name: str, seconds: float, *, append: bool = False, unclosed: bool = False) -> float:
        """Write ``seconds`` of audio (after what is there with ``append``); return the length.

        ``unclosed``: as Asterisk leaves a file it was writing when it stopped without closing
        it: the audio is there, the RIFF and data sizes in the header are still 0.
        """
        path = self.path(name)
        if append and path.is_file():
            seconds += wav_seconds(path.read_bytes())
        path.parent.mkdir(parents=True, exist_ok=True)
        data = tone_wav(seconds)
        if unclosed:
            data = data[:4] + b"\0\0\0\0" + data[8:40] + b"\0\0\0\0" + data[44:]
        path.write_bytes(data)
        return seconds

    def read(self, name: str) -> bytes:
        if not self.exists(name):
            raise SimError(404, "Recording not found")
        return self.path(name).read_bytes()

    def seconds(self, name: str) -> float | None:
        try:
            return wav_seconds(self.read(name))
        except SimError:
            return None

    def delete(self, name: str) -> None:
        if not self.exists(name):
            raise SimError(404, "Recording not found")
        self.path(name).unlink()

    def names(self) -> list[tuple[str, str]]:
        found = []
        for fmt in FORMATS:
            for path in self.root.rglob(f"*.{fmt}"):
                found.append((path.relative_to(self.root).as_posix().removesuffix(f".{fmt}"), fmt))
        return sorted(found)
