"""Checking, repairing and pruning a store.

>>> report = embedexplore.verify("~/music-embeddings")                    # doctest: +SKIP
>>> print(report)                                                          # doctest: +SKIP
>>> embedexplore.verify("~/music-embeddings", repair=True)                 # doctest: +SKIP
>>> embedexplore.prune("~/music-embeddings")   # rows of tracks kept as missing  # doctest: +SKIP

:func:`verify` reads every array of the store against the checksum written with it, and checks
the store's records (``store.json``, ``manifest.json``, ``collection.json``). With ``repair``, the
records are rebuilt from the parts, damaged parts are removed and their rows computed again from
the music files, as an extraction would compute them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ._store_state import (
    compact,
    live_rows,
    manifest_from_parts,
    remove_parts,
    tracks_from_parts,
)
from ._text import printable
from .store import DamagedStoreError, Store, StoreError

__all__ = ["StoreReport", "prune", "verify"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreReport:
    """What :func:`verify` found (and, with ``repair``, did).

    Each parameter is kept as the (read-only) attribute of the same name; ``str(report)`` is a
    summary for people.

    Parameters
    ----------
    path : pathlib.Path
        The store.
    problems : tuple of str
        Each damaged record or part, in words (empty when the store is sound).
    damaged_parts : tuple of tuple of (str, str, str)
        ``(model, part_id, reason)`` of each damaged part.
    parts : int
        Committed parts checked.
    unverified : int
        Parts written before checksums were kept: checked for their structure only.
    tracks : int
        Tracks in the store (those kept as missing included).
    lost : dict of str to int
        Per model, the tracks whose rows were in damaged parts.
    repaired : bool
        ``repair`` was asked and done.
    not_recomputed : tuple of str
        Paths of tracks whose rows were lost and whose files are not there to compute them
        again (after a repair).
    """

    path: Path
    problems: tuple[str, ...]
    damaged_parts: tuple[tuple[str, str, str], ...]
    parts: int
    unverified: int
    tracks: int
    lost: dict = field(default_factory=dict)
    repaired: bool = False
    not_recomputed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the store was found sound."""
        return not self.problems

    def __str__(self) -> str:
        head = f"store {printable(str(self.path))}: {self.tracks} tracks, {self.parts} parts"
        if self.ok:
            text = f"{head}; every array matches its checksum"
            if self.unverified:
                text += (
                    f" ({self.unverified} parts were written before checksums were kept: "
                    "checked for their structure only)"
                )
            return text
        lines = [f"{head}; {len(self.problems)} problems:"]
        lines += [f"  {printable(p)}" for p in self.problems]
        for model, n in sorted(self.lost.items()):
            if n:
                lines.append(f"  {model}: the rows of {n} tracks are lost")
        if self.repaired:
            lines.append("repaired: records rebuilt, damaged parts removed and computed again")
            if self.not_recomputed:
                lines.append(
                    f"  {len(self.not_recomputed)} tracks could not be computed again (their "
                    f"files are not there), e.g. {printable(self.not_recomputed[0])}"
                )
        else:
            lines.append(
                f"to repair: embedexplore verify --store {printable(str(self.path))} --repair"
            )
        return "\n".join(lines)


def verify(
    store: str | os.PathLike,
    *,
    repair: bool = False,
    device: str = "auto",
    progress: bool = True,
) -> StoreReport:
    """Check every record and array of a store; with ``repair``, make it whole again.

    Parameters
    ----------
    store : str or os.PathLike
        The store's folder.
    repair : bool, default: False
        Rebuild a damaged or lost ``store.json``, ``manifest.json`` or ``collection.json`` from
        the parts, remove the damaged parts, and compute their tracks' rows again from the
        music files (with the models, precision, dtype and layers the store holds).
    device : str, default: "auto"
        Where the models run for a repair (see :func:`embedexplore.extract`).
    progress : bool, default: True
        Show the repair's extraction progress.

    Returns
    -------
    StoreReport
        What was found; after a repair, ``repaired`` is True and ``problems`` lists what was
        found before it.

    Raises
    ------
    FileNotFoundError
        There is no folder at ``store``.
    embedexplore.store.StoreError
        The folder is not a store, or another process is writing it (``repair``).
    """
    path = Path(store).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"no store at {path}")
    problems: list[str] = []
    try:
        st = Store(path)
    except DamagedStoreError as e:
        if not (path / "parts").is_dir():
            raise
        problems.append(str(e))
        if not repair:
            # only looked at, never written: a Store without the check of its store.json
            st = Store.__new__(Store)
            st.path, st.preprocessing = path, None
        else:
            st = Store(path, create=True)  # store.json written again
    with st.lock() if repair else contextlib.nullcontext():
        found = _inspect(st, problems)
        if repair and not found.report.ok:
            _mend(st, found)
    if not repair or found.report.ok:
        return found.report
    not_recomputed = _recompute(st, found, device=device, progress=progress)
    return StoreReport(
        path=path, problems=found.report.problems, damaged_parts=found.report.damaged_parts,
        parts=found.report.parts, unverified=found.report.unverified,
        tracks=found.report.tracks, lost=found.report.lost, repaired=True,
        not_recomputed=tuple(not_recomputed),
    )  # fmt: skip


@dataclass
class _Found:
    report: StoreReport
    manifest: dict
    tracks: list
    manifest_damaged: bool
    tracks_damaged: bool


def _inspect(st: Store, problems: list[str]) -> _Found:
    manifest_damaged = tracks_damaged = False
    try:
        manifest = st.manifest()
    except DamagedStoreError as e:
        problems.append(str(e).split("; run `")[0])
        manifest = manifest_from_parts(st)
        manifest_damaged = True
    try:
        tracks = st.collection()
    except DamagedStoreError as e:
        problems.append(str(e).split("; run `")[0])
        tracks = tracks_from_parts(st, manifest)
        tracks_damaged = True
    damaged: list[tuple[str, str, str]] = []
    n_parts = unverified = 0
    for m, entry in manifest["models"].items():
        for pid in entry["parts"]:
            n_parts += 1
            part, problem = st.inspect_part(m, pid, content=True)
            if part is None:
                damaged.append((m, pid, problem))
                problems.append(f"part {m}/{pid}: {problem}")
            elif part.checksums is None:
                unverified += 1
    lost = {}
    for m in {m for m, _, _ in damaged}:
        bad = {pid for mm, pid, _ in damaged if mm == m}
        entry = manifest["models"][m]
        sound = {**manifest, "models": {m: {**entry, "parts": [p for p in entry["parts"]
                                                                if p not in bad]}}}  # fmt: skip
        try:
            before = set(live_rows(st, manifest, m, tracks))
        except DamagedStoreError:  # a part whose index is lost: count its tracks as lost
            before = {t["id"] for t in tracks}
        lost[m] = len(before - set(live_rows(st, sound, m, tracks)))
    report = StoreReport(
        path=st.path, problems=tuple(problems), damaged_parts=tuple(damaged), parts=n_parts,
        unverified=unverified, tracks=len(tracks), lost=lost,
    )  # fmt: skip
    return _Found(report, manifest, tracks, manifest_damaged, tracks_damaged)


def _mend(st: Store, found: _Found) -> None:
    """Rebuild the records and remove the damaged parts (under the store's lock)."""
    manifest = found.manifest
    bad = [(m, pid) for m, pid, _ in found.report.damaged_parts]
    for m, pid in bad:
        manifest["models"][m]["parts"].remove(pid)
    st.commit(manifest)
    if found.tracks_damaged:
        st.set_collection(found.tracks)
    remove_parts(st, bad)
    logger.info("%s: records rebuilt, %d damaged parts removed", st.path, len(bad))


def _recompute(st: Store, found: _Found, *, device: str, progress: bool) -> list[str]:
    """Compute again, by extraction, the rows the store lacks; the paths that could not be."""
    from . import registry
    from ._missing import ScanFacts
    from .extraction import _extract, _Job

    scanned, gone = [], []
    for t in found.tracks:
        try:
            s = os.stat(t["path"]) if t["path"] else None
        except OSError:
            s = None
        if s is None:
            gone.append(t)
            continue
        scanned.append({"id": t["id"], "path": t["path"], "size": s.st_size,
                        "mtime_ns": s.st_mtime_ns, "duration": t["duration"]})  # fmt: skip
    groups: dict[tuple, list[str]] = {}
    for m, entry in found.manifest["models"].items():
        spec = registry.find(m)
        if spec is None or spec.needs:
            logger.warning(
                "%s: not a model registered in this session; its rows are not recomputed", m
            )
            continue
        precision = entry["version"].split("/")[1] if "/" in entry["version"] else "auto"
        made = spec.store_version(precision if spec.kind == "tagger" else "float32")
        if made != entry["version"]:  # recomputing would drop its good rows too
            logger.warning(
                "%s: registered in this session with another version than the store's; its "
                "rows are not recomputed (extract it to replace them all)",
                m,
            )
            continue
        groups.setdefault((precision, entry["dtype"]), []).append(m)
    for (precision, dtype), models in groups.items():
        layers = sorted({k for m in models for k in found.manifest["models"][m]["layers"]})
        job = _Job(
            models=tuple(models), layers=layers, device=device, precision=precision,
            dtype=dtype, batch_size=None, workers=None, progress=progress, retry_errors=False,
            prune=False, shard_tracks=None, shard_seconds=None, max_in_flight=None,
            shard_timeout=None, t_start=time.perf_counter(),
        )  # fmt: skip
        _extract(scanned, ScanFacts((), ()), st.path, job)
    lost_ids = set()
    for m, pid, _ in found.report.damaged_parts:
        with contextlib.suppress(StoreError):
            lost_ids |= set(st.read_part(m, pid).track_ids)
    return [t["path"] for t in gone if t["id"] in lost_ids or found.tracks_damaged]


def prune(store: str | os.PathLike, *, tracks=None) -> int:
    """Remove the rows of tracks from a store: by default those kept as missing (tracks that the
    last extraction did not find).

    Parameters
    ----------
    store : str or os.PathLike
        The store's folder.
    tracks : iterable of str, optional
        The track ids to remove (default: every track marked missing, ``tracks["missing"]`` of
        :func:`embedexplore.open_store`).

    Returns
    -------
    int
        The number of tracks removed.

    Raises
    ------
    FileNotFoundError
        There is no folder at ``store``.
    embedexplore.store.StoreError
        The folder is not a store, it is damaged (run :func:`verify` with ``repair`` first), or
        another process is writing it.
    """
    st = Store(store)
    with st.lock():
        manifest = st.manifest()
        known = st.collection()
        if tracks is None:
            drop = {t["id"] for t in known if t.get("missing")}
        else:
            drop = set(tracks) & {t["id"] for t in known}
        if not drop:
            return 0
        kept = [t for t in known if t["id"] not in drop]
        have = {m: live_rows(st, manifest, m, kept, {}) for m in manifest["models"]}
        st.set_collection(kept + [t for t in known if t["id"] in drop])  # until compacted
        manifest["errors"] = {k: v for k, v in manifest["errors"].items() if k not in drop}
        compact(st, manifest, list(manifest["models"]), kept, have, set())
        st.set_collection(kept)
    return len(drop)
