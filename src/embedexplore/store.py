"""The on-disk store of extracted embeddings: a directory that many runs (and, later, many
machines) add to, and that readers memory-map.

Layout::

    STORE/
      store.json                      format version and preprocessing (written once)
      manifest.json                   the committed state: which parts count, and the errors
      collection.json                 the live tracks (id, path, size, mtime, duration) in order
      parts/MODEL/PART_ID/index.json  tracks of the part: ids, file fingerprints, segment counts,
                                      paths and durations; a checksum of each array file
      parts/MODEL/PART_ID/LAYER.npy   one array per layer, [segments of those tracks, dim]
      tmp/                            parts being written
      .lock                           one writer at a time (an operating system lock on it)

A *part* holds one model's layers for a group of tracks. It is written into ``tmp/`` and published
by renaming its directory into ``parts/`` (atomic on POSIX), then committed by rewriting
``manifest.json`` (temporary file, fsync, ``os.replace``). Readers only look at committed parts, so
they never see a half-written one; a part published but not committed (the writer killed between
the two steps) is checked and adopted, or removed, by the next writer. A part's id is a hash of
what it holds (tracks and their file fingerprints, the model's version, dtype and layers), so
writing the same work twice gives the same part.

Every array file is written with ordinary writes (a full or read-only disk is an ``OSError``,
never a crash of the process) and its checksum (BLAKE2b over the whole ``.npy`` file) kept in
the part's ``index.json``. A part's structure (its index, the arrays' headers and sizes) is
checked whenever a writer opens the store; its content (the checksums) when it is adopted,
before it is compacted into another part, and by :func:`embedexplore.verify`. A damaged part is
removed, never committed again under its id.

A track's rows for a model are taken from the last committed part that holds the track with its
current fingerprint (size and mtime) and the model's current version: a changed file or a changed
model is recomputed, never mixed in. At the end of a run the live rows of each model are compacted
into one part in collection order, which readers memory-map without copying.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_write
from ._store_files import (
    BLOCK_BYTES,
    DTYPES,
    PART_ID,
    SAFE_NAME,
    check_collection,
    check_index,
    check_manifest,
    dumps,
    file_checksum,
    fsync,
    load_json,
    npy_problem,
    write_npy,
)

__all__ = ["PREPROCESSING", "STORE_FORMAT", "DamagedStoreError", "Part", "Store", "StoreError"]

logger = logging.getLogger(__name__)

STORE_FORMAT = 1
#: Parts memory-mapped at once by :meth:`Store.gather` (each map holds a file descriptor).
OPEN_PARTS = 16
#: Everything between the file and the network's input: a change here changes every array.
PREPROCESSING = (
    "pyav decode; channel mean; soxr HQ to 16 kHz; mel n_fft=512 hop=256 n_mels=96 slaney, "
    "centred zero-padded frames, float16 rounding, log10(10000x+1); patches of 187 frames, "
    "partial tail dropped, short tracks repeat-padded"
)


class StoreError(Exception):
    """A store that cannot be used as asked: the message says why and what to do."""


class DamagedStoreError(StoreError):
    """A file of the store is damaged or missing; the message says which, and what to do (most
    often ``embedexplore verify --store STORE --repair``)."""


@dataclass(frozen=True)
class Part:
    """One committed part: a model's layers for some tracks (see the module docstring)."""

    model: str
    id: str
    track_ids: tuple[str, ...]
    fingerprints: tuple[tuple[int, int], ...]
    n_segments: tuple[int, ...]
    version: str
    dtype: str
    layers: dict[str, int]
    #: layer -> checksum of its file; None for a part written before checksums were kept
    checksums: dict[str, str] | None = None
    #: the tracks' paths and durations when written (None in parts written before they were)
    paths: tuple[str, ...] | None = None
    durations: tuple[float, ...] | None = None
    #: the tag names of the model's taggrams, for a model not built in (None otherwise)
    labels: tuple[str, ...] | None = None

    @property
    def offsets(self) -> np.ndarray:
        """Row where each track starts, plus the total at the end."""
        return np.concatenate([[0], np.cumsum(np.asarray(self.n_segments, np.int64))])


def part_id(model: str, version: str, dtype: str, layers: dict[str, int], tracks) -> str:
    """The id of a part holding ``tracks`` (``(track_id, size, mtime_ns)`` in row order)."""
    h = hashlib.sha1()
    h.update(json.dumps([STORE_FORMAT, PREPROCESSING, model, version, dtype, layers]).encode())
    for t in tracks:
        h.update(f"\n{t[0]}:{int(t[1])}:{int(t[2])}".encode())
    return h.hexdigest()[:20]


class Store:
    """A store directory (see the module docstring). Readers use :class:`Embeddings`; writers
    (extraction) hold :meth:`lock` while they add parts and :meth:`commit`."""

    def __init__(self, path: str | os.PathLike, *, create: bool = False) -> None:
        self.path = Path(path).expanduser()
        meta = self.path / "store.json"
        looks_like_a_store = (self.path / "parts").is_dir() or (
            self.path / "manifest.json"
        ).exists()
        if not meta.exists():
            if not create:
                if not self.path.exists():
                    raise FileNotFoundError(f"no store at {self.path}")
                if looks_like_a_store:
                    raise DamagedStoreError(
                        f"{self.path} is a store whose store.json is missing; "
                        f"{_repair_hint(self.path)}"
                    )
                raise StoreError(f"{self.path} is not an embedexplore store (no store.json)")
            if (
                self.path.exists()
                and not looks_like_a_store
                and any(
                    p.name != ".lock" and not p.name.startswith(".store.json.")  # a killed create
                    for p in self.path.iterdir()
                )
            ):
                raise StoreError(
                    f"{self.path} is a folder that holds other files and no embedexplore store; "
                    "choose an empty or new folder for the store"
                )
            if looks_like_a_store:
                logger.warning("%s: store.json was missing; written again", self.path)
            self._write_meta()
        try:
            info = load_json(meta)
            if not isinstance(info, dict) or not isinstance(info.get("format"), int):
                raise ValueError("not a store description")
        except ValueError as e:
            if not create:
                raise DamagedStoreError(
                    f"store.json of {self.path} is damaged ({e}); {_repair_hint(self.path)}"
                ) from None
            logger.warning("%s: store.json was damaged (%s); written again", self.path, e)
            self._write_meta()
            info = load_json(meta)
        if info.get("format") != STORE_FORMAT:
            raise StoreError(
                f"{self.path} was written by another version of embedexplore (store format "
                f"{info.get('format')}, this one reads {STORE_FORMAT}); extract into a new folder"
            )
        self.preprocessing = info.get("preprocessing")

    def _write_meta(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.path / "store.json") as f:
            f.write(dumps({"format": STORE_FORMAT, "preprocessing": PREPROCESSING}))

    # -- the committed state -------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """The committed state: ``{"models": {name: {version, dtype, layers, parts}}, "errors":
        {track_id: {path, size, mtime_ns, reason}}}``.

        Raises :class:`DamagedStoreError` when ``manifest.json`` cannot be read or does not
        describe a store (writers rebuild it from the parts: :func:`embedexplore.verify`).
        """
        p = self.path / "manifest.json"
        if not p.exists():
            return {"models": {}, "errors": {}}
        try:
            manifest = load_json(p)
            check_manifest(manifest)
        except ValueError as e:
            raise DamagedStoreError(
                f"manifest.json of {self.path} is damaged ({e}); {_repair_hint(self.path)}"
            ) from None
        manifest.setdefault("models", {})
        manifest.setdefault("errors", {})
        return manifest

    def commit(self, manifest: dict[str, Any]) -> None:
        """Make ``manifest`` the committed state, atomically."""
        with atomic_write(self.path / "manifest.json") as f:
            f.write(dumps(manifest))

    def collection(self) -> list[dict[str, Any]]:
        """The store's tracks, in order: ``id``, ``path``, ``size``, ``mtime_ns``, ``duration``,
        and ``missing: True`` for a track that the last extraction did not find (its rows are
        kept until pruned).

        Raises :class:`DamagedStoreError` when ``collection.json`` cannot be read, or is missing
        from a store whose manifest names parts (see :func:`tracks_from_parts`).
        """
        p = self.path / "collection.json"
        if not p.exists():
            try:
                has_rows = any(e["parts"] for e in self.manifest()["models"].values())
            except DamagedStoreError:
                has_rows = True
            if has_rows:
                raise DamagedStoreError(
                    f"collection.json of {self.path} is missing; {_repair_hint(self.path)}"
                )
            return []
        try:
            data = load_json(p)
            check_collection(data)
        except ValueError as e:
            raise DamagedStoreError(
                f"collection.json of {self.path} is damaged ({e}); {_repair_hint(self.path)}"
            ) from None
        return data["tracks"]

    def set_collection(self, tracks: list[dict[str, Any]]) -> None:
        with atomic_write(self.path / "collection.json") as f:
            f.write(dumps({"tracks": tracks}))

    # -- parts ---------------------------------------------------------------------------------

    def part_path(self, model: str, pid: str) -> Path:
        return self.path / "parts" / model / pid

    def read_part(self, model: str, pid: str) -> Part:
        """A part's index (its arrays are not checked: see :meth:`inspect_part`)."""
        try:
            index = load_json(self.part_path(model, pid) / "index.json")
            check_index(index)
        except (OSError, ValueError) as e:
            raise DamagedStoreError(
                f"part {model}/{pid} of {self.path} cannot be read ({e}); {_repair_hint(self.path)}"
            ) from None
        return _part(model, pid, index)

    def inspect_part(
        self, model: str, pid: str, *, content: bool = False
    ) -> tuple[Part | None, str | None]:
        """``(part, None)`` if the part is sound, ``(None, reason)`` if not.

        Always checked: its index, that its id matches what the index lists, each array's
        header, shape, dtype and size. With ``content``, each array's checksum too (reads the
        whole part); a part written before checksums were kept passes on its structure.
        """
        folder = self.part_path(model, pid)
        try:
            index = load_json(folder / "index.json")
            check_index(index)
        except FileNotFoundError:
            return None, "its index.json is missing"
        except OSError as e:
            return None, f"its index.json cannot be read ({e.strerror or e})"
        except ValueError as e:
            return None, f"its index.json is damaged ({e})"
        part = _part(model, pid, index)
        expected = part_id(
            model, part.version, part.dtype, part.layers,
            [(t, *f) for t, f in zip(part.track_ids, part.fingerprints, strict=True)],
        )  # fmt: skip
        if expected != pid:
            return None, "what its index.json lists does not match its id"
        rows = int(sum(part.n_segments))
        for layer, dim in part.layers.items():
            path = folder / f"{layer}.npy"
            problem = npy_problem(path, (rows, dim), part.dtype)
            if problem is None and content and part.checksums is not None:
                try:
                    if file_checksum(path) != part.checksums.get(layer):
                        problem = "changed since it was written (its checksum differs)"
                except OSError as e:
                    problem = f"cannot be read ({e.strerror or e})"
            if problem is not None:
                return None, f"{layer}.npy {problem}"
        return part, None

    def open_array(self, model: str, pid: str, layer: str) -> np.ndarray:
        """A part's layer, memory-mapped read-only."""
        path = self.part_path(model, pid) / f"{layer}.npy"
        try:
            return np.load(path, mmap_mode="r")
        except FileNotFoundError:
            raise StoreError(
                f"{model}'s rows in {self.path} were rewritten by a later extraction since they "
                "were read; open it again (embedexplore.open_store) to see the new ones"
            ) from None
        except (OSError, ValueError, EOFError) as e:
            raise DamagedStoreError(
                f"{model}'s {layer} in {self.path} cannot be read ({e}); {_repair_hint(self.path)}"
            ) from None

    def blocks(self, model: str, layer: str, spans) -> Iterator[np.ndarray]:
        """The rows of ``spans`` (``(part_id, first_row, n_rows)``, in order) of ``model``'s
        ``layer``, one after the other, as copies of at most ``BLOCK_BYTES`` (16 MiB) each.

        Runs of consecutive rows of a part are read at once. A memory map holds a file
        descriptor, and an archive's store holds tens of thousands of parts before compaction:
        only the :data:`OPEN_PARTS` parts used last stay open (a part's rows are mostly one run
        of consecutive tracks), so ``ulimit -n`` is never met.
        """
        sources: collections.OrderedDict = collections.OrderedDict()
        i = 0
        while i < len(spans):
            pid, first, n = spans[i]
            j = i + 1
            while j < len(spans) and spans[j][0] == pid and spans[j][1] == first + n:
                n += spans[j][2]  # the next track follows on in the same part
                j += 1
            if pid in sources:
                sources.move_to_end(pid)
            else:
                if len(sources) >= OPEN_PARTS:
                    sources.popitem(last=False)
                sources[pid] = self.open_array(model, pid, layer)
            source = sources[pid]
            step = max(1, BLOCK_BYTES // max(1, source.shape[1] * source.itemsize))
            for a in range(first, first + n, step):
                yield np.array(source[a : min(a + step, first + n)])
            i = j

    def gather(self, model: str, layer: str, spans, out: np.ndarray) -> None:
        """Copy ``spans`` (``(part_id, first_row, n_rows)``, in order) of ``model``'s
        ``layer`` into ``out``, one after the other (see :meth:`blocks`)."""
        at = 0
        for block in self.blocks(model, layer, spans):
            out[at : at + len(block)] = block
            at += len(block)

    def write_part(
        self,
        model: str,
        *,
        version: str,
        dtype: str,
        tracks: list[tuple[str, int, int]],
        n_segments: list[int],
        arrays: dict[str, np.ndarray] | None = None,
        fill=None,
        paths: list[str] | None = None,
        durations: list[float] | None = None,
        labels: list[str] | None = None,
    ) -> str:
        """Write and publish (not commit) a part; returns its id.

        ``tracks`` are ``(track_id, size, mtime_ns)`` in row order; ``paths`` and
        ``durations`` (optional) let the store's list of tracks be rebuilt from its parts. The
        layers come either as ``arrays`` (``{layer: [rows, dim]}``) or from ``fill(layer)``,
        which yields the rows in blocks (so that large parts are written in bounded memory),
        with ``fill.layers`` giving ``{layer: dim}``. The files are written with ordinary
        writes: a full disk raises ``OSError`` and leaves no trace.
        """
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        if not SAFE_NAME.fullmatch(model):
            raise ValueError(f"a model's name may hold letters, digits, '.', '_', '-': {model!r}")
        rows = int(sum(n_segments))
        if arrays is not None:
            layers = {k: int(v.shape[1]) for k, v in arrays.items()}
        else:
            layers = dict(fill.layers)
        bad = [k for k in layers if not SAFE_NAME.fullmatch(k)]
        if bad:
            raise ValueError(f"a layer's name may hold letters, digits, '.', '_', '-': {bad}")
        pid = part_id(model, version, dtype, layers, tracks)
        final = self.part_path(model, pid)
        if final.exists():
            _, problem = self.inspect_part(model, pid, content=True)
            if problem is None:
                return pid  # the same work, published before (its content is determined by its id)
            logger.warning("part %s/%s is damaged (%s): written again", model, pid, problem)
            if not self.remove_part(model, pid):
                # a damaged part is never committed again under its id
                raise StoreError(
                    f"part {model}/{pid} of {self.path} is damaged ({problem}) and still open "
                    "by a reader: close what has the store open (an Embeddings, a notebook "
                    "kernel), then run again"
                )
        tmp = self.path / "tmp" / f"{model}-{pid}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            checksums = {}
            for layer, dim in layers.items():
                if arrays is not None:
                    blocks: Iterable[np.ndarray] = [arrays[layer]]
                else:
                    blocks = fill(layer)
                checksums[layer] = write_npy(tmp / f"{layer}.npy", dtype, (rows, dim), blocks)
            index = {
                "track_ids": [t[0] for t in tracks],
                "fingerprints": [[int(t[1]), int(t[2])] for t in tracks],
                "n_segments": [int(n) for n in n_segments], "version": version,
                "dtype": dtype, "layers": layers, "checksums": checksums,
            }  # fmt: skip
            if paths is not None and durations is not None:
                index["paths"] = [str(p) for p in paths]
                index["durations"] = [float(d) for d in durations]
            if labels is not None:  # so that a manifest rebuilt from the parts keeps them
                index["labels"] = [str(x) for x in labels]
            with atomic_write(tmp / "index.json") as f:
                f.write(dumps(index))
            fsync(tmp)
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(tmp, final)
            except OSError:
                if not final.exists():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # published meanwhile by another writer
            fsync(final.parent)  # the rename itself, durable before any commit names the part
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return pid

    def remove_part(self, model: str, pid: str) -> bool:
        """Remove a part's folder; False where it is still open (Windows) and stays."""
        # renamed away first, so that a half-deleted part never looks like a part
        src = self.part_path(model, pid)
        if not src.exists():
            return True
        trash = self.path / "tmp" / f"deleted-{model}-{pid}-{uuid.uuid4().hex[:8]}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(src, trash)
        except PermissionError:
            if os.name != "nt":
                raise
            # Windows: a file that a reader memory-maps (an Embeddings still open, in this
            # process or another) can be neither renamed nor deleted. No manifest names the
            # part now: left where it is, a later writer treats it as the part of an
            # interrupted run (adopted if its rows still count, as the same rows; removed
            # otherwise, or by the next compaction) until it is closed
            logger.info("part %s/%s is still open: left for a later extraction", model, pid)
            return False
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def published_parts(self) -> list[tuple[str, str]]:
        """Every part folder under ``parts/``: ``(model, part_id)``, oldest first (by the time
        its index was written), so that where two parts hold a track, the newer comes last."""
        found = []
        root = self.path / "parts"
        if root.is_dir():
            for mdir in sorted(root.iterdir()):
                if mdir.is_dir() and SAFE_NAME.fullmatch(mdir.name):
                    for pdir in mdir.iterdir():
                        if pdir.is_dir() and PART_ID.fullmatch(pdir.name):
                            try:
                                when = (pdir / "index.json").stat().st_mtime_ns
                            except OSError:
                                when = 0
                            found.append((when, mdir.name, pdir.name))
        return [(m, p) for _, m, p in sorted(found)]

    def uncommitted_parts(self, manifest: dict[str, Any]) -> list[tuple[str, str]]:
        """Published parts that ``manifest`` does not list: ``(model, part_id)``, oldest first."""
        committed = {
            (m, p) for m, entry in manifest.get("models", {}).items() for p in entry["parts"]
        }
        return [mp for mp in self.published_parts() if mp not in committed]

    def clear_tmp(self) -> None:
        shutil.rmtree(self.path / "tmp", ignore_errors=True)

    # -- one writer at a time ------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self):
        """Hold the store's write lock (another process writing the same store is refused).

        An operating system lock on ``.lock`` (``flock`` on Linux and macOS, ``LockFileEx`` on
        Windows, through ``filelock``): it dies with the process that holds it, so a writer
        that was killed never leaves the store locked. Refused at once, never waited for: the
        other writer may run for hours. Two locks of one process refuse each other too.
        """
        from filelock import FileLock, Timeout

        # timeout 0: one try. A new FileLock each time: an instance is re-entrant, and a
        # second writer in this process must be refused like one in another process.
        try:
            # never a "soft" lock (a marker file) where the file system has no flock: it would
            # outlive a killed writer and lock the store for good; an OSError says why instead
            lock = FileLock(self.path / ".lock", timeout=0, fallback_to_soft=False)
        except TypeError:  # filelock before 4, which has no soft fallback to turn off
            lock = FileLock(self.path / ".lock", timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise StoreError(
                f"another process is extracting into {self.path}; wait for it to finish "
                "(or stop it), then run again"
            ) from None
        try:
            yield self
        finally:
            lock.release()


def _repair_hint(path: Path) -> str:
    return (
        f"run `embedexplore verify --store {path} --repair` (or embedexplore.verify(store, "
        "repair=True)) to rebuild it and recompute what was lost"
    )


def _part(model: str, pid: str, index: dict) -> Part:
    paths = index.get("paths")
    return Part(
        model=model, id=pid, track_ids=tuple(index["track_ids"]),
        fingerprints=tuple((int(s), int(m)) for s, m in index["fingerprints"]),
        n_segments=tuple(int(n) for n in index["n_segments"]), version=index["version"],
        dtype=index["dtype"], layers=dict(index["layers"]), checksums=index.get("checksums"),
        paths=tuple(paths) if paths is not None else None,
        durations=tuple(float(d) for d in index["durations"]) if paths is not None else None,
        labels=tuple(index["labels"]) if index.get("labels") is not None else None,
    )  # fmt: skip
