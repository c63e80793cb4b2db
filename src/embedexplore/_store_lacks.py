"""What a store lacks for a collection: the rows it holds of each model for the tracks as they
are now, the files that failed before and are not tried again, and so the tracks an extraction
must run each model on. :func:`embedexplore.extract` decides with these what to compute and what
to skip; :func:`embedexplore.estimate_extraction` asks the same questions without writing (see
:func:`lacking`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ._shards import _stat
from ._store_state import (
    Rows,
    live_rows,
    manifest_from_parts,
    merge_tracks,
    tracks_from_parts,
)
from .store import DamagedStoreError, Store, StoreError


def errors_kept(manifest: dict, present: list[dict], retry: bool) -> dict[str, dict]:
    """The manifest's errors that stand: the files of ``present`` that failed before and are
    unchanged since (size and modification time), none where ``retry``. A file that failed is
    tried again once it changed (or came back)."""
    if retry:
        return {}
    ids = {t["id"] for t in present}
    return {
        tid: e
        for tid, e in manifest.get("errors", {}).items()
        if tid in ids and _stat(e["path"]) == (int(e["size"]), int(e["mtime_ns"]))
    }


def rows_held(
    store: Store, manifest: dict, models, known: list[dict], superseded: dict[str, dict]
) -> dict[str, dict[str, Rows]]:
    """For each of ``models``: the rows the store holds, by track id, for the tracks ``known``
    (as :func:`~embedexplore._store_state.merge_tracks` lists them), a file found under a new id
    (``superseded``: new id -> its old entry) taking the rows of its old id if unchanged."""
    cache: dict = {}
    lookup = known + list(superseded.values())
    have = {m: live_rows(store, manifest, m, lookup, cache) for m in models}
    fingerprints = {t["id"]: (t["size"], t["mtime_ns"]) for t in known}
    for new, old in superseded.items():  # the same file under a new id: the same rows
        if (old["size"], old["mtime_ns"]) == fingerprints[new]:
            for m in models:
                if old["id"] in have[m] and new not in have[m]:
                    have[m][new] = have[m][old["id"]]
    return have


def to_do(present: list[dict], errors: dict, have: dict, models) -> list[dict]:
    """The tracks of ``present`` that some of ``models`` lacks (``have``: :func:`rows_held`),
    in order, but for the files that failed before (``errors``: :func:`errors_kept`)."""
    return [
        t for t in present
        if t["id"] not in errors and any(t["id"] not in have[m] for m in models)
    ]  # fmt: skip


def fits(entry: dict | None, version: str, dtype: str, layers: dict, declared: dict) -> bool:
    """Whether a model's manifest entry holds rows an extraction keeps: the same version
    (weights, preprocessing, precision), dtype, at least the ``layers`` asked for, and each
    stored layer of the size the model declares now (``declared``). Extraction computes the
    model again otherwise (see :func:`embedexplore._store_state.recover`)."""
    return (
        entry is not None
        and entry["version"] == version
        and entry["dtype"] == dtype
        and set(layers) <= set(entry["layers"])
        and all(declared.get(k) == v for k, v in entry["layers"].items())
    )


def holds_tracks(path: str | os.PathLike) -> bool:
    """Whether a store is at ``path`` and lists tracks (found or kept missing); read only."""
    try:
        return bool(Store(path).collection())
    except (OSError, ValueError, StoreError):  # none, not a store, damaged, another version
        return False


def lacking(
    path: str | os.PathLike, scanned: list[dict], asked: dict[str, tuple], retry: bool = False
) -> dict[str, list[dict]]:
    """For each model of ``asked``: the tracks of ``scanned`` an extraction into the store at
    ``path`` would run it on. Reads the store, writes nothing (no lock: a store being written
    meanwhile is read as last committed).

    ``asked`` maps each model to ``(version, dtype, layers, declared)`` as extraction would
    write it (see :func:`fits`); ``scanned`` lists the tracks as
    :func:`embedexplore._extract_args._live_tracks` does. A model whose stored rows do not fit
    lacks every track; the files that failed before and are unchanged are not counted (unless
    ``retry``), as extraction does not try them again.

    Raises
    ------
    embedexplore.store.StoreError
        ``path`` is a folder of other files, or a store of another version (extraction would
        refuse it too).
    """
    root = Path(path).expanduser()
    if not root.exists() or (root.is_dir() and not any(root.iterdir())):
        return {m: list(scanned) for m in asked}  # a new store: everything
    st = Store(root)
    try:
        manifest = st.manifest()
    except DamagedStoreError:  # as extraction does: rebuilt from the parts
        manifest = manifest_from_parts(st)
    try:
        previous = st.collection()
    except DamagedStoreError:
        previous = tracks_from_parts(st, manifest)
    known, _, superseded = merge_tracks(previous, scanned, prune=False)
    present = [t for t in known if not t.get("missing")]
    entries = {
        m: e for m, e in manifest.get("models", {}).items() if m not in asked or fits(e, *asked[m])
    }
    manifest = {**manifest, "models": entries}
    errors = errors_kept(manifest, present, retry)
    have = rows_held(st, manifest, list(asked), known, superseded)
    return {m: to_do(present, errors, have, [m]) for m in asked}
