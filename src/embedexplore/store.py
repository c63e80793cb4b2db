"""The on-disk store of extracted embeddings: a directory that many runs (and, later, many
machines) add to, and that readers memory-map.

Layout::

    STORE/
      store.json                      format version and preprocessing (written once)
      manifest.json                   the committed state: which parts count, and the errors
      collection.json                 the live tracks (id, path, size, mtime, duration) in order
      parts/MODEL/PART_ID/index.json  tracks of the part: ids, file fingerprints, segment counts
      parts/MODEL/PART_ID/LAYER.npy   one array per layer, [segments of those tracks, dim]
      tmp/                            parts being written
      .lock                           one writer at a time

A *part* holds one model's layers for a group of tracks. It is written into ``tmp/`` and published
by renaming its directory into ``parts/`` (atomic on POSIX), then committed by rewriting
``manifest.json`` (temporary file, fsync, ``os.replace``). Readers only look at committed parts, so
they never see a half-written one; a part published but not committed (the writer killed between
the two steps) is checked and adopted, or removed, by the next writer. A part's id is a hash of
what it holds (tracks and their file fingerprints, the model's version, dtype and layers), so
writing the same work twice gives the same part.

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
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_write

__all__ = ["PREPROCESSING", "STORE_FORMAT", "Part", "Store", "StoreError"]

STORE_FORMAT = 1
#: Parts memory-mapped at once by :meth:`Store.gather` (each map holds a file descriptor).
OPEN_PARTS = 16
#: Everything between the file and the network's input: a change here changes every array.
PREPROCESSING = (
    "pyav decode; channel mean; soxr HQ to 16 kHz; mel n_fft=512 hop=256 n_mels=96 slaney, "
    "centred zero-padded frames, float16 rounding, log10(10000x+1); patches of 187 frames, "
    "partial tail dropped, short tracks repeat-padded"
)
DTYPES = ("float16", "float32")


class StoreError(Exception):
    """A store that cannot be used as asked: the message says why and what to do."""


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
        if not meta.exists():
            if not create:
                if not self.path.exists():
                    raise FileNotFoundError(f"no store at {self.path}")
                raise StoreError(f"{self.path} is not an embedexplore store (no store.json)")
            if self.path.exists() and any(
                p.name != ".lock" and not p.name.startswith(".store.json.")  # a killed create
                for p in self.path.iterdir()
            ):
                raise StoreError(
                    f"{self.path} is a folder that holds other files and no embedexplore store; "
                    "choose an empty or new folder for the store"
                )
            self.path.mkdir(parents=True, exist_ok=True)
            with atomic_write(meta) as f:
                f.write(_dumps({"format": STORE_FORMAT, "preprocessing": PREPROCESSING}))
        info = json.loads(meta.read_text())
        if info.get("format") != STORE_FORMAT:
            raise StoreError(
                f"{self.path} was written by another version of embedexplore (store format "
                f"{info.get('format')}, this one reads {STORE_FORMAT}); extract into a new folder"
            )
        self.preprocessing = info.get("preprocessing")
        self._lock_file = None

    # -- the committed state -------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """The committed state: ``{"models": {name: {version, dtype, layers, parts}}, "errors":
        {track_id: {path, size, mtime_ns, reason}}}``."""
        p = self.path / "manifest.json"
        if not p.exists():
            return {"models": {}, "errors": {}}
        return json.loads(p.read_text())

    def commit(self, manifest: dict[str, Any]) -> None:
        """Make ``manifest`` the committed state, atomically."""
        with atomic_write(self.path / "manifest.json") as f:
            f.write(_dumps(manifest))

    def collection(self) -> list[dict[str, Any]]:
        """The live tracks, in order: ``id``, ``path``, ``size``, ``mtime_ns``, ``duration``."""
        p = self.path / "collection.json"
        return json.loads(p.read_text())["tracks"] if p.exists() else []

    def set_collection(self, tracks: list[dict[str, Any]]) -> None:
        with atomic_write(self.path / "collection.json") as f:
            f.write(_dumps({"tracks": tracks}))

    # -- parts ---------------------------------------------------------------------------------

    def part_path(self, model: str, pid: str) -> Path:
        return self.path / "parts" / model / pid

    def read_part(self, model: str, pid: str) -> Part:
        try:
            index = json.loads((self.part_path(model, pid) / "index.json").read_text())
        except (OSError, ValueError) as e:
            raise StoreError(f"part {model}/{pid} of {self.path} cannot be read: {e}") from None
        return Part(
            model=model, id=pid, track_ids=tuple(index["track_ids"]),
            fingerprints=tuple((int(s), int(m)) for s, m in index["fingerprints"]),
            n_segments=tuple(int(n) for n in index["n_segments"]), version=index["version"],
            dtype=index["dtype"], layers=dict(index["layers"]),
        )  # fmt: skip

    def open_array(self, model: str, pid: str, layer: str) -> np.ndarray:
        """A part's layer, memory-mapped read-only."""
        try:
            return np.load(self.part_path(model, pid) / f"{layer}.npy", mmap_mode="r")
        except FileNotFoundError:
            raise StoreError(
                f"{model}'s rows in {self.path} were rewritten by a later extraction since they "
                "were read; open it again (embedexplore.open_store) to see the new ones"
            ) from None

    def gather(self, model: str, layer: str, spans, out: np.ndarray) -> None:
        """Copy ``spans`` (``(part_id, first_row, n_rows)``, in order) of ``model``'s
        ``layer`` into ``out``, one after the other, copying runs of consecutive rows at once.

        A memory map holds a file descriptor, and an archive's store holds tens of thousands of
        parts before compaction: only the :data:`OPEN_PARTS` parts used last stay open (a
        part's rows are mostly one run of consecutive tracks), so ``ulimit -n`` is never met.
        """
        sources: collections.OrderedDict = collections.OrderedDict()
        at = i = 0
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
            out[at : at + n] = sources[pid][first : first + n]
            at += n
            i = j

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
    ) -> str:
        """Write and publish (not commit) a part; returns its id.

        ``tracks`` are ``(track_id, size, mtime_ns)`` in row order. The layers come either as
        ``arrays`` (``{layer: [rows, dim]}``) or from ``fill(layer, out)``, which writes the
        rows into the memory-mapped ``out`` (so that large parts are written in bounded memory).
        """
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        rows = int(sum(n_segments))
        if arrays is not None:
            layers = {k: int(v.shape[1]) for k, v in arrays.items()}
        else:
            layers = dict(fill.layers)
        pid = part_id(model, version, dtype, layers, tracks)
        final = self.part_path(model, pid)
        if final.exists():
            return pid  # the same work, published before (its content is determined by its id)
        tmp = self.path / "tmp" / f"{model}-{pid}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            for layer, dim in layers.items():
                out = np.lib.format.open_memmap(
                    tmp / f"{layer}.npy", mode="w+", dtype=dtype, shape=(rows, dim)
                )
                if arrays is not None:
                    if len(arrays[layer]) != rows:
                        raise ValueError(f"{layer}: {len(arrays[layer])} rows, expected {rows}")
                    out[:] = arrays[layer]
                else:
                    fill(layer, out)
                out.flush()
                del out
                _fsync(tmp / f"{layer}.npy")
            index = {
                "track_ids": [t[0] for t in tracks],
                "fingerprints": [[int(t[1]), int(t[2])] for t in tracks],
                "n_segments": [int(n) for n in n_segments], "version": version,
                "dtype": dtype, "layers": layers,
            }  # fmt: skip
            with atomic_write(tmp / "index.json") as f:
                f.write(_dumps(index))
            _fsync(tmp)
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(tmp, final)
            except OSError:
                if not final.exists():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # published meanwhile by another writer
            _fsync(final.parent)  # the rename itself, durable before any commit names the part
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return pid

    def remove_part(self, model: str, pid: str) -> None:
        # renamed away first, so that a half-deleted part never looks like a part
        src = self.part_path(model, pid)
        if not src.exists():
            return
        trash = self.path / "tmp" / f"deleted-{model}-{pid}-{uuid.uuid4().hex[:8]}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        os.rename(src, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def uncommitted_parts(self, manifest: dict[str, Any]) -> list[tuple[str, str]]:
        """Published parts that ``manifest`` does not list: ``(model, part_id)``."""
        committed = {
            (m, p) for m, entry in manifest.get("models", {}).items() for p in entry["parts"]
        }
        found = []
        root = self.path / "parts"
        if root.exists():
            for mdir in sorted(root.iterdir()):
                if mdir.is_dir():
                    for pdir in sorted(mdir.iterdir()):
                        if pdir.is_dir() and (mdir.name, pdir.name) not in committed:
                            found.append((mdir.name, pdir.name))
        return found

    def valid_part(self, model: str, pid: str) -> Part | None:
        """The part if its index and arrays are whole and consistent, else None."""
        try:
            part = self.read_part(model, pid)
            rows = int(sum(part.n_segments))
            for layer, dim in part.layers.items():
                a = self.open_array(model, pid, layer)
                if a.shape != (rows, dim) or str(a.dtype) != part.dtype:
                    return None
            expected = part_id(
                model, part.version, part.dtype, part.layers,
                [(t, *f) for t, f in zip(part.track_ids, part.fingerprints, strict=True)],
            )  # fmt: skip
            return part if expected == pid else None
        except (StoreError, OSError, ValueError, KeyError, TypeError):
            return None

    def clear_tmp(self) -> None:
        shutil.rmtree(self.path / "tmp", ignore_errors=True)

    # -- one writer at a time ------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self):
        """Hold the store's write lock (another process writing the same store is refused)."""
        import fcntl

        f = open(self.path / ".lock", "a+")  # noqa: SIM115 (held for the block's duration)
        try:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(
                    f"another process is extracting into {self.path}; wait for it to finish "
                    "(or stop it), then run again"
                ) from None
            yield self
        finally:
            f.close()


def _dumps(obj) -> bytes:
    # ASCII with escapes: file names that are not valid UTF-8 (lone surrogates) round-trip
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _fsync(path: Path) -> None:
    """fsync a file or a directory (where the OS allows directories to be synced)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
