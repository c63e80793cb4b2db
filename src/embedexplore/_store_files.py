"""The files of a store: its JSON records checked before they are trusted, and its arrays
written and checked (``.npy`` files with ordinary writes, their headers, sizes and checksums).
See :mod:`embedexplore.store` for the layout."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from pathlib import Path

import numpy as np

DTYPES = ("float16", "float32")
#: The checksum of an array file: BLAKE2b (in the standard library; ~1 GB/s on one core).
CHECKSUM = "blake2b-128"
#: Rows written (or checked) at a time: bounded memory for parts of any size.
BLOCK_BYTES = 1 << 24
#: What a model's name or a part's id may look like on disk: a manifest naming anything else
#: (``../..``) is damaged, never followed out of the store.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
PART_ID = re.compile(r"[0-9a-f]{20}")


def dumps(obj) -> bytes:
    # ASCII with escapes: file names that are not valid UTF-8 (lone surrogates) round-trip
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def load_json(path: Path):
    """A JSON file of the store; ``ValueError`` saying why when it is not one."""
    data = path.read_bytes()
    if not data:
        raise ValueError("the file is empty")
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise ValueError("the file is not text") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON: {e.msg} at byte {e.pos}") from None


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return _is_int(x) or isinstance(x, float)  # NaN included: a duration the scan could not tell


def _check_layers(layers) -> None:
    if not isinstance(layers, dict) or not all(
        isinstance(k, str) and SAFE_NAME.fullmatch(k) and _is_int(v) and v > 0
        for k, v in layers.items()
    ):
        raise ValueError("its layers are not names with dimensions")


def check_manifest(m) -> None:
    if not isinstance(m, dict):
        raise ValueError("not a JSON object")
    models, errors = m.get("models", {}), m.get("errors", {})
    if not isinstance(models, dict) or not isinstance(errors, dict):
        raise ValueError("'models' and 'errors' must be objects")
    for name, e in models.items():
        if not SAFE_NAME.fullmatch(name):
            raise ValueError(f"model name {name[:40]!r} is not a plain name")
        if not isinstance(e, dict) or not isinstance(e.get("version"), str):
            raise ValueError(f"{name} has no version")
        if e.get("dtype") not in DTYPES:
            raise ValueError(f"{name} has no known dtype")
        _check_layers(e.get("layers"))
        clock = e.get("clock")
        if clock is not None and not (
            isinstance(clock, dict)
            and {"sample_rate", "segment", "hop"} <= set(clock)
            and set(clock) <= {"sample_rate", "segment", "hop", "tail"}
            and all(_is_int(v) and v >= 0 for v in clock.values())
        ):
            raise ValueError(f"{name}'s clock is not a sample rate, segment, hop and tail")
        labels = e.get("labels")
        if labels is not None and not (
            isinstance(labels, list) and all(isinstance(x, str) for x in labels)
        ):
            raise ValueError(f"{name}'s labels are not text")
        parts = e.get("parts")
        if not isinstance(parts, list) or not all(
            isinstance(p, str) and PART_ID.fullmatch(p) for p in parts
        ):
            raise ValueError(f"{name}'s parts are not part ids")
    for e in errors.values():
        if not (
            isinstance(e, dict)
            and isinstance(e.get("path"), str)
            and isinstance(e.get("reason"), str)
            and _is_int(e.get("size"))
            and _is_int(e.get("mtime_ns"))
        ):
            raise ValueError("an error record lacks its path, reason, size or mtime")


def check_collection(data) -> None:
    tracks = data.get("tracks") if isinstance(data, dict) else None
    if not isinstance(tracks, list):
        raise ValueError("no list of tracks")
    for t in tracks:
        if not (
            isinstance(t, dict)
            and isinstance(t.get("id"), str)
            and isinstance(t.get("path"), str)
            and _is_int(t.get("size"))
            and _is_int(t.get("mtime_ns"))
            and _is_number(t.get("duration"))
            and isinstance(t.get("missing", False), bool)
        ):
            raise ValueError("a track lacks its id, path, size, mtime or duration")


def check_index(index) -> None:
    if not isinstance(index, dict):
        raise ValueError("not a JSON object")
    ids, fps, ns = index.get("track_ids"), index.get("fingerprints"), index.get("n_segments")
    if not (isinstance(ids, list) and isinstance(fps, list) and isinstance(ns, list)):
        raise ValueError("no track ids, fingerprints or segment counts")
    if not len(ids) == len(fps) == len(ns):
        raise ValueError("its lists of tracks differ in length")
    if not all(isinstance(t, str) for t in ids):
        raise ValueError("a track id is not text")
    if not all(
        isinstance(f, list) and len(f) == 2 and _is_int(f[0]) and _is_int(f[1]) for f in fps
    ):
        raise ValueError("a fingerprint is not (size, mtime)")
    if not all(_is_int(n) and n >= 0 for n in ns):
        raise ValueError("a segment count is not a count")
    if not isinstance(index.get("version"), str) or index.get("dtype") not in DTYPES:
        raise ValueError("no version or dtype")
    _check_layers(index.get("layers"))
    checksums = index.get("checksums")
    if checksums is not None and not (
        isinstance(checksums, dict)
        and set(checksums) == set(index["layers"])
        and all(isinstance(c, str) for c in checksums.values())
    ):
        raise ValueError("its checksums do not name its layers")
    labels = index.get("labels")
    if labels is not None and not (
        isinstance(labels, list) and all(isinstance(x, str) for x in labels)
    ):
        raise ValueError("its labels are not text")
    paths, durations = index.get("paths"), index.get("durations")
    if paths is not None and not (
        isinstance(paths, list)
        and isinstance(durations, list)
        and len(paths) == len(durations) == len(ids)
        and all(isinstance(p, str) for p in paths)
        and all(_is_number(d) for d in durations)
    ):
        raise ValueError("its paths or durations do not match its tracks")


def npy_problem(path: Path, shape: tuple[int, int], dtype: str) -> str | None:
    """Why the ``.npy`` file at ``path`` is not an array of ``shape`` and ``dtype``, or None."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                return "is empty (0 bytes)"
            try:
                version = fmt.read_magic(f)
                if version == (1, 0):
                    got, fortran, got_dtype = fmt.read_array_header_1_0(f)
                elif version == (2, 0):
                    got, fortran, got_dtype = fmt.read_array_header_2_0(f)
                else:
                    return f"has an unknown format version {version}"
            except (ValueError, EOFError, SyntaxError, TypeError) as e:
                return f"has a damaged header ({e})"
            offset = f.tell()
    except FileNotFoundError:
        return "is missing"
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if tuple(got) != tuple(shape) or fortran or got_dtype != np.dtype(dtype):
        return f"holds {tuple(got)} {got_dtype}, not {tuple(shape)} {dtype}"
    expected = offset + int(np.prod(shape)) * np.dtype(dtype).itemsize
    if size < expected:
        return f"is cut short ({size:,} of {expected:,} bytes)"
    if size > expected:
        return f"has {size - expected:,} bytes too many"
    return None


def write_npy(path: Path, dtype: str, shape: tuple[int, int], blocks) -> str:
    """Write an ``.npy`` file of ``shape`` from row ``blocks`` with ordinary writes; returns
    its checksum. Raises ``ValueError`` if the blocks do not make ``shape``."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header,
        {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
         "shape": tuple(int(n) for n in shape)},
    )  # fmt: skip
    h = hashlib.blake2b(digest_size=16)
    rows = 0
    with open(path, "xb") as f:
        f.write(header.getvalue())
        h.update(header.getvalue())
        for block in blocks:
            a = np.ascontiguousarray(block, dtype=dtype)
            if a.ndim != 2 or a.shape[1] != shape[1] or rows + len(a) > shape[0]:
                raise ValueError(f"{path.name}: rows of shape {a.shape} do not make {shape}")
            rows += len(a)
            data = memoryview(a.reshape(-1).view(np.uint8))
            f.write(data)
            h.update(data)
        if rows != shape[0]:
            raise ValueError(f"{path.name}: {rows} rows, expected {shape[0]}")
        f.flush()
        os.fsync(f.fileno())
    return f"{CHECKSUM}:{h.hexdigest()}"


def file_checksum(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    buf = bytearray(min(BLOCK_BYTES, 1 << 22))
    view = memoryview(buf)
    with open(path, "rb") as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return f"{CHECKSUM}:{h.hexdigest()}"


def fsync(path: Path) -> None:
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
