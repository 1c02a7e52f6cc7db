"""Folders and files only this user may read: caller numbers, names and recordings live in them.

Modes are set explicitly (mkdir/open, then chmod) rather than trusted to the umask: a service
started with the common umask 022 would otherwise leave its data readable by every local user.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path, *, tighten: bool) -> None:
    """Create ``path`` (and any missing parents) with mode 0700.

    With ``tighten``, an existing folder of ours that others may enter is narrowed to the
    owner, with a warning; a shared folder (sticky bit, such as /tmp) is only warned about.
    """
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            folder.mkdir(mode=DIR_MODE)
            os.chmod(folder, DIR_MODE)
    if tighten and path not in missing:
        _tighten(path, DIR_MODE)


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists; an existing one is narrowed."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        _tighten(path, FILE_MODE)
        return
    try:
        # The umask may have taken bits from the mode asked for; set it exactly.
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def tighten_if_present(path: Path) -> None:
    """Narrow a file left by an earlier run (a -wal beside the database, say) to 0600."""
    if path.exists():
        _tighten(path, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    st = path.stat()
    current = stat.S_IMODE(st.st_mode)
    if not current & 0o077:
        return
    shared = stat.S_ISDIR(st.st_mode) and bool(st.st_mode & stat.S_ISVTX)
    if shared or st.st_uid != os.getuid():
        log.warning("path_not_private", path=str(path), mode=oct(current), reason="not ours to change")
        return
    try:
        os.chmod(path, mode)
    except OSError as exc:
        log.warning("path_not_private", path=str(path), mode=oct(current), reason=exc.strerror)
        return
    log.warning("path_tightened", path=str(path), was=oct(current), now=oct(mode))
