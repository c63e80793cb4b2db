"""Tracks of a store that a new scan did not find: kept (and said so) or pruned (knowingly).

A drive that is not mounted, a folder whose permissions changed, or a sub-folder extracted on its
own all look, to a scan, like tracks that were deleted. The store keeps their rows until the user
asks to prune them, and says so before anything is done; pruning is refused when the scan itself
shows that it could not see part of the collection.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

from ._dirs import is_under
from ._text import printable
from .store import StoreError

#: Paths named in a message at most.
_SHOWN = 3


@dataclass(frozen=True)
class ScanFacts:
    """What a scan could not see: its roots and the folders it could not read."""

    roots: tuple[str, ...]
    unreadable: tuple[str, ...]

    @classmethod
    def of(cls, collection) -> ScanFacts:
        errors = collection.errors
        folders = (
            tuple(str(p) for p in errors["path"] if os.path.isdir(str(p))) if len(errors) else ()
        )
        return cls(tuple(os.fspath(r) for r in collection.roots), folders)


def scan_errors_line(collection) -> str:
    """One line on the files and folders the scan could not read (shown before extracting)."""
    errors = collection.errors
    first = printable(str(errors["path"].iloc[0]))
    reason = printable(str(errors["reason"].iloc[0]))
    return (
        f"the scan could not read {len(errors)} files or folders (collection.errors lists them), "
        f"e.g. {first}: {reason}"
    )


def check(store, previous: list[dict], scanned: list[dict], others: list[dict], facts: ScanFacts,
          *, prune: bool) -> None:  # fmt: skip
    """Say what happens to the tracks of ``previous`` that the scan did not find (``others``),
    before anything is done; refuse to prune them when the scan could not see all of them.

    Raises
    ------
    embedexplore.store.StoreError
        ``prune`` asked, while the scan could not read a folder, found nothing under a root
        where the store has tracks, or found nothing at all.
    """
    if not others:
        return
    empty_roots = [
        r
        for r in facts.roots
        if not any(is_under(t["path"], r) for t in scanned)
        and any(is_under(t["path"], r) for t in previous)
    ]
    blind = [*(f"the folder {printable(r)} holds no audio file now" for r in empty_roots),
             *(f"the scan could not read {printable(f)}" for f in facts.unreadable)]  # fmt: skip
    if prune:
        if blind or not scanned:
            raise StoreError(
                f"not pruning {len(others)} tracks from the store {store}: "
                + ("; ".join(blind[:_SHOWN]) or "the scan found no track at all")
                + ". Is a drive not mounted, or a folder not readable? Fix that and run again; "
                "to remove named tracks anyway: embedexplore.prune(store, tracks=[...])"
            )
        return
    was_missing = {t["id"] for t in previous if t.get("missing")}
    newly = [t for t in others if t["id"] not in was_missing]
    if not newly:
        return
    examples = ", ".join(printable(t["path"]) for t in newly[:_SHOWN])
    more = f" and {len(newly) - _SHOWN} more" if len(newly) > _SHOWN else ""
    present_before = sum(not t.get("missing") for t in previous)
    sharp = bool(blind) or len(newly) * 5 >= present_before
    text = (
        f"{len(newly)} of the {present_before} tracks in the store {store} are not in this "
        f"collection ({examples}{more})"
    )
    if blind:
        text += ": " + "; ".join(blind[:_SHOWN])
    text += ". Their embeddings are kept"
    if sharp:
        text += ": if a drive is not mounted or a folder cannot be read, fix that and run again"
    text += "; to remove them for good, extract with prune=True (--prune)."
    warnings.warn(text, UserWarning, stacklevel=5)
