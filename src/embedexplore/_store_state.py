"""What a store holds and keeps: which rows count for each track, the list of tracks kept from
one extraction to the next (tracks not found are kept, not dropped), bringing the manifest in
line with the parts on disk, and compaction. Used by extraction, reading and verification; see
:mod:`embedexplore.store` for the layout.
"""

from __future__ import annotations

import collections
import logging
import os
from typing import Any

from .clock import ORIGINAL, Clock
from .store import Store, part_id

logger = logging.getLogger(__name__)

#: A track's rows for a model: ``(part_id, first_row, n_rows)``.
Rows = tuple[str, int, int]


def live_rows(
    store: Store, manifest: dict, model: str, live: list[dict], parts: dict | None = None
) -> dict[str, Rows]:
    """For each track of ``live`` that has ``model``'s rows: ``(part_id, first_row, n_rows)``.

    A part's row for a track counts only if the part was computed from the file as it is now
    (same size and mtime); the last committed part wins.

    Parameters
    ----------
    store : embedexplore.store.Store
        The store to read parts from.
    manifest : dict
        Its committed state (:meth:`Store.manifest <embedexplore.store.Store.manifest>`).
    model : str
        The model, e.g. ``"musicnn-msd"``.
    live : list of dict
        The tracks (:meth:`Store.collection <embedexplore.store.Store.collection>`): each with
        ``id``, ``size`` and ``mtime_ns``.
    parts : dict, optional
        A cache of parts read, keyed by ``(model, part_id)``; read parts are added to it.

    Returns
    -------
    dict of str to tuple of (str, int, int)
        Track id -> ``(part_id, first_row, n_rows)``: the track's rows are ``first_row`` to
        ``first_row + n_rows - 1`` of that part's arrays. Empty when ``model`` has no entry in
        ``manifest``.
    """
    entry = manifest.get("models", {}).get(model)
    if entry is None:
        return {}
    fingerprints = {t["id"]: (int(t["size"]), int(t["mtime_ns"])) for t in live}
    out: dict[str, Rows] = {}
    for pid in entry["parts"]:
        part = parts.get((model, pid)) if parts is not None else None
        if part is None:
            part = store.read_part(model, pid)
            if parts is not None:
                parts[(model, pid)] = part
        offsets = part.offsets
        for i, (tid, fp) in enumerate(zip(part.track_ids, part.fingerprints, strict=True)):
            if fingerprints.get(tid) == tuple(fp):
                out[tid] = (pid, int(offsets[i]), int(part.n_segments[i]))
    return out


def version_clock(version: str) -> Clock:
    """The clock a model's store version names: its last field for a model of the registry
    (``"1/float32/22050:22050:22050"``), the original models' clock for theirs."""
    tail = version.rsplit("/", 1)[-1]
    fields = tail.split(":")
    if len(fields) in (3, 4) and all(f.isdigit() for f in fields):
        try:
            return Clock(*(int(f) for f in fields))
        except ValueError:
            pass
    return ORIGINAL


def entry_clock(entry: dict) -> Clock:
    """The clock of a model's manifest entry: the one it records, or the one its version
    names (stores written before clocks were recorded hold the original models only)."""
    if "clock" in entry:
        return Clock.from_json(entry["clock"])
    return version_clock(entry["version"])


# -- the list of tracks --------------------------------------------------------------------------


def merge_tracks(
    previous: list[dict], scanned: list[dict], *, prune: bool
) -> tuple[list[dict], list[dict], dict[str, dict]]:
    """The store's new list of tracks after a scan.

    Scanned tracks come in scan order. A track of ``previous`` that the scan did not find is
    kept, marked ``missing``, right after the track it followed before (so that the order, and
    with it the compacted arrays, do not change when a drive is away), unless ``prune``. A
    previous track whose file the scan found under another id (a sub-folder scanned on its own,
    say) is the same file: it is *superseded*, not missing.

    Returns
    -------
    known : list of dict
        The new list: the scanned tracks and the kept ones.
    dropped_or_missing : list of dict
        With ``prune``, the previous tracks dropped; otherwise those kept as missing.
    superseded : dict of str to dict
        Scanned track id -> the previous track of the same path (another id).
    """
    scanned_ids = {t["id"] for t in scanned}
    scanned_paths = {t["path"]: t["id"] for t in scanned}
    after: dict[str | None, list[dict]] = collections.defaultdict(list)
    others: list[dict] = []
    superseded: dict[str, dict] = {}
    anchor = None
    for t in previous:
        if t["id"] in scanned_ids:
            anchor = t["id"]
            continue
        same_file = scanned_paths.get(t["path"])
        if same_file is not None:
            superseded[same_file] = t
            continue
        if prune:
            others.append(t)
            continue
        kept = {**t, "missing": True}
        after[anchor].append(kept)
        others.append(kept)
    known = list(after.get(None, []))
    for t in scanned:
        known.append({k: v for k, v in t.items() if k != "missing"})
        known.extend(after.get(t["id"], []))
    return known, others, superseded


def tracks_from_parts(store: Store, manifest: dict) -> list[dict]:
    """The store's list of tracks rebuilt from the parts the manifest names (for a lost or
    damaged ``collection.json``): each track with the path, duration and fingerprint it was
    extracted from, in the order of the parts (a compacted store's is the collection's order).

    A track whose file is not there now is marked ``missing``. A part written before parts kept
    their tracks' paths gives its tracks an empty path and the duration of their segments,
    marked ``missing``: their rows are kept, and the next extraction of their folder finds them
    again by their ids.
    """
    seen: dict[str, dict] = {}
    for m, entry in manifest.get("models", {}).items():
        for pid in entry["parts"]:
            part, problem = store.inspect_part(m, pid)
            if part is None:
                logger.warning("part %s/%s skipped: %s", m, pid, problem)
                continue
            paths = part.paths or ("",) * len(part.track_ids)
            hop = version_clock(part.version).hop_seconds
            durations = part.durations or tuple(n * hop for n in part.n_segments)
            for tid, fp, path, duration in zip(
                part.track_ids, part.fingerprints, paths, durations, strict=True
            ):
                seen[tid] = {"id": tid, "path": path, "size": fp[0], "mtime_ns": fp[1],
                             "duration": float(duration)}  # fmt: skip
    out = list(seen.values())
    for t in out:
        if not t["path"] or not os.path.exists(t["path"]):
            t["missing"] = True
    return out


# -- the manifest --------------------------------------------------------------------------------


def manifest_from_parts(store: Store) -> dict[str, Any]:
    """A manifest rebuilt from the sound parts on disk (for a lost or damaged
    ``manifest.json``): for each model, the parts of the version, dtype and layers of its newest
    part, oldest first (where two parts hold a track, the newer wins, as it did when committed).
    The errors of earlier runs are lost (those files are tried again)."""
    groups: dict[str, dict[tuple, list[str]]] = {}
    newest: dict[str, tuple] = {}
    labels: dict[str, list] = {}
    for m, pid in store.published_parts():  # oldest first
        part, problem = store.inspect_part(m, pid, content=True)
        if part is None:
            logger.warning("part %s/%s left out: %s", m, pid, problem)
            continue
        key = (part.version, part.dtype, tuple(part.layers.items()))
        groups.setdefault(m, {}).setdefault(key, []).append(pid)
        newest[m] = key
        if part.labels is not None:
            labels[m] = list(part.labels)
        else:
            labels.pop(m, None)
    models = {}
    for m, key in newest.items():
        version, dtype, layers = key
        models[m] = {"version": version, "dtype": dtype, "layers": dict(layers),
                     "parts": groups[m][key],
                     "clock": version_clock(version).to_json()}  # fmt: skip
        if m in labels:
            models[m]["labels"] = labels[m]
    return {"models": models, "errors": {}}


def drop_damaged(
    store: Store, manifest: dict, models, *, content: bool, checked: set | None = None
) -> dict[tuple[str, str], str]:
    """Check the committed parts of ``models`` (their structure; with ``content``, their
    checksums too, except the parts in ``checked``); drop the damaged ones from ``manifest`` and
    remove them from disk (so that their id is free to be written again). Returns
    ``{(model, part_id): reason}`` of those dropped; parts found sound are added to ``checked``.
    The caller commits ``manifest``."""
    dropped: dict[tuple[str, str], str] = {}
    for m in models:
        entry = manifest["models"].get(m)
        if entry is None:
            continue
        good = []
        for pid in entry["parts"]:
            if checked is not None and (m, pid) in checked:
                good.append(pid)
                continue
            part, problem = store.inspect_part(m, pid, content=content)
            if part is None:
                dropped[(m, pid)] = problem
                logger.warning("%s: damaged part %s dropped (%s)", m, pid, problem)
            else:
                good.append(pid)
                if content and checked is not None:
                    checked.add((m, pid))
        entry["parts"] = good
    return dropped


def recover(
    store: Store, manifest: dict, models, versions: dict, dtype: str, kept_layers: dict,
    checked: set, meta: dict | None = None, declared: dict | None = None,
) -> dict:  # fmt: skip
    """Bring the manifest in line with what this run asks for; adopt or drop stray parts.

    Committed parts whose structure is damaged are dropped (their tracks are computed again)
    and removed, so that their ids are free. Parts published but never committed (a writer
    killed in between) are adopted if their checksums hold and they fit, else removed; those
    adopted are added to ``checked``. ``kept_layers`` is updated in place: a model the store
    already keeps with more layers than asked goes on being written with all of them.
    ``meta`` gives what each model's entry records beside (its ``clock``, its ``labels``);
    ``declared`` the layers each model gives now, with their sizes: a stored layer it no longer
    gives, or gives with another size (a model registered again under the same version),
    makes it computed again.
    """
    manifest.setdefault("models", {})
    manifest.setdefault("errors", {})
    committed = {(m, p) for m, e in manifest["models"].items() for p in e["parts"]}
    dropped = drop_damaged(store, manifest, list(manifest["models"]), content=False)
    stale = []
    for m in models:
        entry = manifest["models"].get(m)
        fits = (
            entry is not None
            and entry["version"] == versions[m]
            and entry["dtype"] == dtype
            and set(kept_layers[m]) <= set(entry["layers"])
            and all(
                (declared or {}).get(m, entry["layers"]).get(k) == v
                for k, v in entry["layers"].items()
            )
        )
        if entry is not None and not fits:
            logger.warning(
                "%s: the store holds it with other weights, preprocessing, precision, dtype or "
                "fewer layers; its rows are computed again",
                m,
            )
            stale += [(m, p) for p in entry["parts"]]
        if fits:
            kept_layers[m] = dict(entry["layers"])
            entry.update((meta or {}).get(m, {}))  # a store written before clocks were kept
        else:
            manifest["models"][m] = {
                "version": versions[m], "dtype": dtype, "layers": kept_layers[m], "parts": [],
                **(meta or {}).get(m, {}),
            }  # fmt: skip
    for m, pid in store.uncommitted_parts(manifest):
        if (m, pid) in committed:
            continue  # dropped just above: removed only once the manifest says so
        entry = manifest["models"].get(m)
        part = None
        if entry is not None:
            part, problem = store.inspect_part(m, pid, content=True)
            if part is None:
                logger.warning("%s: a part left by an interrupted run is damaged (%s)", m, problem)
        if (
            part is not None
            and part.version == entry["version"]
            and part.dtype == entry["dtype"]
            and part.layers == entry["layers"]
        ):
            entry["parts"].append(pid)
            checked.add((m, pid))
        else:
            store.remove_part(m, pid)
    store.commit(manifest)
    store.clear_tmp()
    remove_parts(store, dropped)
    remove_parts(store, [(m, p) for m, p in stale if p not in manifest["models"][m]["parts"]])
    return manifest


def remove_parts(store: Store, parts) -> None:
    """Remove parts that no committed manifest names any more."""
    for m, pid in parts:
        store.remove_part(m, pid)


# -- compaction ----------------------------------------------------------------------------------


def compact_id(entry: dict, model: str, order: list[dict]) -> str:
    """The id of the part holding ``order``'s rows, which compaction writes."""
    return part_id(
        model, entry["version"], entry["dtype"], entry["layers"],
        [(t["id"], t["size"], t["mtime_ns"]) for t in order],
    )  # fmt: skip


def is_compact(manifest: dict, model: str, known: list[dict], have: dict) -> bool:
    """Whether ``model``'s rows are one part holding exactly ``known``'s tracks that have rows,
    in order (nothing to compact)."""
    entry = manifest["models"].get(model)
    if entry is None or not entry["parts"]:
        return True
    order = [t for t in known if t["id"] in have]
    return len(entry["parts"]) == 1 and compact_id(entry, model, order) == entry["parts"][0]


def compact(
    store: Store,
    manifest: dict,
    models,
    known: list[dict],
    have: dict[str, dict[str, Rows]],
    checked: set,
) -> dict[tuple[str, str], str]:
    """Rewrite each model's rows of ``known`` (``have``) as one part in ``known``'s order, if
    they are not already; commit; remove the parts no longer named.

    Source parts not in ``checked`` (published by cluster workers, say) have their checksums
    verified first: a damaged one is dropped, and its tracks lose their rows (computed again
    by the next extraction). Returns the parts dropped so, with the reason.
    """
    dropped = drop_damaged(store, manifest, models, content=True, checked=checked)
    if dropped:
        lost = {(m, p) for m, p in dropped}
        for m in models:
            have[m] = {t: r for t, r in have[m].items() if (m, r[0]) not in lost}
    old: list[tuple[str, str]] = list(dropped)
    for m in models:
        entry = manifest["models"][m]
        rows = have[m]
        order = [t for t in known if t["id"] in rows]
        if not entry["parts"] or is_compact(manifest, m, known, rows):
            continue
        spans = [rows[t["id"]] for t in order]

        class _Fill:
            layers = entry["layers"]

            def __call__(self, layer, _m=m, _spans=spans):
                return store.blocks(_m, layer, _spans)

        pid = store.write_part(
            m, version=entry["version"], dtype=entry["dtype"],
            tracks=[(t["id"], t["size"], t["mtime_ns"]) for t in order],
            n_segments=[s[2] for s in spans], fill=_Fill(),
            paths=[t["path"] for t in order], durations=[t["duration"] for t in order],
            labels=entry.get("labels"),
        )  # fmt: skip
        checked.add((m, pid))
        old += [(m, p) for p in entry["parts"] if p != pid]
        entry["parts"] = [pid]
        off = 0
        for t, s in zip(order, spans, strict=True):
            rows[t["id"]] = (pid, off, s[2])
            off += s[2]
    store.commit(manifest)
    remove_parts(store, old)
    return dropped
