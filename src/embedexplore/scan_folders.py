"""Finding the audio files under the scanned folders: symbolic links followed, each folder once.

Each root is first walked without following symbolic links: an ordinary file keeps the path (and
so the track id) it had before links were followed. Then the links met on the way are followed,
in the order found: a link to a folder walks that folder (its own links join the queue), a link to
a file is that file.

Loops and duplicates: each real folder (device and inode) is walked once, under the first path
that reached it, so a link to the root or to a folder above the link, a cycle of links, or two
links to one folder cost nothing and index nothing twice. A file reached through a link that is
already indexed under another path (the link's target in the collection, or the same folder
through two links) is indexed once, under the path without the link or else the path found
first; files reached without links are all indexed, as before (hard links too).

What cannot be followed is an error row (``indexed`` False) with a reason, never silence: a
dangling link, a link loop, a link into a folder that cannot be read, a folder that cannot be
listed, a file that cannot be accessed, something that is not a regular file (a named pipe would
block the reader). A dangling link whose name says it was not audio (``cover.jpg``) is ignored,
like the file it once pointed to.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._dirs import is_under

__all__ = ["ARCHIVE_EXTENSIONS", "find_audio_files"]

logger = logging.getLogger(__name__)

#: Archives often found in music folders: reported so that the user knows audio may hide there.
ARCHIVE_EXTENSIONS = frozenset({".zip", ".pk3", ".rar", ".7z"})

# what reads as a file type (".jpg", ".txt", ".cue"): a dangling link so named was not audio;
# "Vol. 2" or "feat.Someone" are not file types
_FILE_TYPE = re.compile(r"\.(?=[a-z0-9]*[a-z])[a-z0-9]{1,5}")


def find_audio_files(
    roots: Sequence[Path], extensions: frozenset[str]
) -> list[tuple[list[tuple[str, int, int]], list[dict[str, Any]]]]:
    """The audio files under each root, and what could not be walked.

    Parameters
    ----------
    roots : sequence of pathlib.Path
        Resolved folders (or single files). A folder already walked under an earlier root (a
        nested root) is not walked again.
    extensions : frozenset of str
        Lower-case extensions with their dot, e.g. ``{".flac", ".mp3"}``.

    Returns
    -------
    list of (files, errors)
        Per root, in order: ``files`` a sorted list of ``(path, size, mtime_ns)`` (size and
        mtime of the file a link leads to), ``errors`` a list of ``{"path", "reason",
        "indexed": False}`` rows.
    """
    walker = _Walker(extensions)
    found = [walker.root(root) for root in roots]
    walker.follow_links()
    for files, _ in found:
        files.sort()
    return found


class _Walker:
    """The state of one scan's walk: which real folders and files were reached, links to follow."""

    def __init__(self, extensions: frozenset[str]) -> None:
        self.extensions = extensions
        self.folders: dict[tuple[int, int] | None, str] = {}  # (st_dev, st_ino) -> walked as
        self.files: dict[tuple[int, int] | None, str] = {}  # (st_dev, st_ino) -> indexed as
        self.links: deque[tuple[str, tuple[list, list]]] = deque()  # (link, its root's lists)

    def root(self, root: Path) -> tuple[list, list]:
        out: tuple[list, list] = ([], [])
        if root.is_file():
            self.file(os.fspath(root), out, through_link=False)
        else:
            self.folder(os.fspath(root), out, through_link=False)
        return out

    def folder(self, top: str, out: tuple[list, list], *, through_link: bool) -> None:
        stack = [top]
        while stack:
            folder = stack.pop()
            try:
                key = _identity(os.stat(folder))
                if key in self.folders:
                    logger.info(
                        "%s is the folder %s again: its files are indexed once, there",
                        folder,
                        self.folders[key],
                    )
                    continue
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as e:
                _error(out, folder, f"cannot list the folder: {_why(e)}")
                continue
            if key is not None:
                self.folders[key] = folder
            subfolders = []
            for entry in entries:
                if _hidden(entry):
                    continue
                try:
                    link = entry.is_symlink()
                    sub = not link and entry.is_dir(follow_symlinks=False)
                except OSError:  # gone meanwhile, or unknown type: file() says why if it matters
                    link = sub = False
                if link:
                    self.links.append((entry.path, out))
                elif sub:
                    subfolders.append(entry.path)
                else:
                    self.file(entry.path, out, through_link=through_link)
            stack.extend(reversed(subfolders))  # depth-first, in name order

    def file(self, path: str, out: tuple[list, list], *, through_link: bool) -> None:
        name = os.path.basename(path)
        ext = os.path.splitext(name)[1].lower()
        if name.startswith("."):
            return
        if ext in ARCHIVE_EXTENSIONS and ext not in self.extensions:
            _error(out, path, f"archive ({ext}): extract its audio to a folder to scan it")
            return
        if ext not in self.extensions:
            return
        try:
            st = os.stat(path)
        except OSError as e:
            _error(out, path, f"cannot access the file: {_why(e)}")
            return
        if not stat.S_ISREG(st.st_mode):
            _error(out, path, "not a regular file (a named pipe, device or socket): skipped")
            return
        key = _identity(st)
        if through_link and key in self.files:
            logger.info("%s is %s again: indexed once, as the latter", path, self.files[key])
            return
        if key is not None:
            self.files.setdefault(key, path)
        out[0].append((path, st.st_size, st.st_mtime_ns))

    def follow_links(self) -> None:
        while self.links:
            link, out = self.links.popleft()
            try:
                st = os.stat(link)
            except OSError as e:
                if self._maybe_audio(link):
                    _error(out, link, _broken_link(link, e))
                continue
            if not stat.S_ISDIR(st.st_mode):
                self.file(link, out, through_link=True)
                continue
            here = os.path.realpath(os.path.dirname(link))
            there = os.path.realpath(link)
            if is_under(here, there):
                # a link to its own folder or one above: following it would walk the link again
                logger.info("%s leads to a folder above it (%s): not followed", link, there)
                continue
            self.folder(link, out, through_link=True)

    def _maybe_audio(self, link: str) -> bool:
        """Whether a link that cannot be followed may have led to audio (or a folder of it)."""
        try:
            target = os.readlink(link)
        except OSError:
            target = ""
        # the last name, trailing separators ignored (on Windows both / and \ separate names)
        for name in (os.path.basename(link), Path(target).name):
            ext = os.path.splitext(name)[1].lower()
            if ext in self.extensions or ext in ARCHIVE_EXTENSIONS:
                return True
            if _FILE_TYPE.fullmatch(ext):
                return False
        return True  # no file type in either name: most likely a folder


def _broken_link(link: str, e: OSError) -> str:
    try:
        target = os.readlink(link)
    except OSError:
        target = "?"
    if e.errno in (errno.ENOENT, errno.ENOTDIR):
        return f"broken symbolic link: its target {target} does not exist"
    if e.errno == errno.ELOOP:
        return f"symbolic link loop: {target} leads back to itself"
    return f"cannot follow the symbolic link to {target}: {_why(e)}"


def _hidden(entry: os.DirEntry) -> bool:
    """Whether the walk skips ``entry``: a name starting with a dot (Unix's hidden files,
    macOS's ``._`` companions) and, on Windows, what is marked hidden or system: the recycle
    bin and "System Volume Information" at a drive's root, ``desktop.ini``."""
    if entry.name.startswith("."):
        return True
    if os.name != "nt":
        return False
    try:  # on Windows the listing gave the attributes: no call to the disk
        attributes = entry.stat(follow_symlinks=False).st_file_attributes
    except OSError:
        return False
    return bool(attributes & (stat.FILE_ATTRIBUTE_HIDDEN | stat.FILE_ATTRIBUTE_SYSTEM))


def _identity(st: os.stat_result) -> tuple[int, int] | None:
    # some file systems seen from Windows give no inode numbers (0): nothing to compare there
    return (st.st_dev, st.st_ino) if st.st_ino else None


def _why(e: OSError) -> str:
    return e.strerror or str(e)


def _error(out: tuple[list, list], path: str, reason: str) -> None:
    out[1].append({"path": path, "reason": reason, "indexed": False})
