"""Writing a file so that readers see the old or the new version, never a half-written one."""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    A process killed at any moment leaves either the previous ``path`` or the new one, plus at
    worst a stray ``.tmp`` file that later writes ignore. The file gets the permissions of the
    one it replaces, or, for a new file, those the user's umask gives (0644 by default), as any
    program's new file would: other users and media servers can read a playlist or a store.
    Errors of the disk (full, read-only, quota) are raised as they are, the old file unchanged.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # not tempfile.mkstemp: it creates the file with mode 0600 whatever the umask
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    # O_BINARY: on Windows os.open gives a text-mode descriptor, which writes "\n" as "\r\n"
    # (tempfile adds it for the same reason); 0 elsewhere
    fd = os.open(tmp, flags | getattr(os, "O_BINARY", 0), 0o666)
    try:
        # an existing file's mode kept; Windows before Python 3.13 has no fchmod (its files
        # have ACLs, inherited from the folder, rather than modes)
        if hasattr(os, "fchmod"):
            with contextlib.suppress(OSError):
                os.fchmod(fd, stat.S_IMODE(os.stat(path).st_mode))
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
