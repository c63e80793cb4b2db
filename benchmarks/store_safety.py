"""What keeping the store safe costs: parts written with ordinary writes and a checksum, checked
in full, and compacted, against the plain file operations of the same bytes in the same run.

    .venv/bin/python benchmarks/store_safety.py [--mb 512] [--parts 64] [--folder DIR]

Prints, for a store of ``--mb`` MB of float16 rows (200 + 50 dims, as MusiCNN's layers) in
``--parts`` parts, written into ``--folder`` (default: a temporary folder, often tmpfs-backed
/tmp; pass a folder on the disk a store would live on):

1. ``Store.write_part`` (ordinary writes, BLAKE2b checksum, fsync) vs ``np.save`` + fsync of the
   same arrays (the reference) and vs the memory-mapped writing used before (``open_memmap``,
   ``flush`` and fsync);
2. ``Store.inspect_part(content=True)`` (every array read and hashed) vs reading the same files;
3. the compaction of the parts into one (``_store_state.compact``: the sources' checksums, then a
   checksummed rewrite) vs copying the same bytes (``shutil.copyfile`` of every array).

Each figure is the best of ``--repeat`` runs (the page cache is warm after the first).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from _hardware import describe


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=512.0, help="size of the store's arrays, MB")
    ap.add_argument("--parts", type=int, default=64, help="parts before compaction")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--folder", help="where to write (default: a temporary folder)")
    args = ap.parse_args()

    from embedexplore._store_state import compact, live_rows
    from embedexplore.store import Store

    print(describe())
    dims = {"embeddings": 200, "taggrams": 50}
    row_bytes = 2 * sum(dims.values())
    rows = int(args.mb * 1e6 / row_bytes)
    per_part = rows // args.parts
    rng = np.random.default_rng(0)
    arrays = {k: rng.standard_normal((per_part, d)).astype(np.float16) for k, d in dims.items()}
    mb = per_part * args.parts * row_bytes / 1e6
    base = Path(args.folder) if args.folder else Path(tempfile.gettempdir())
    print(f"{args.parts} parts of {per_part:,} rows ({mb:.0f} MB of float16 in all) in {base}")
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        tmp = Path(tmp)
        counter = [0]

        def parts(st: Store) -> tuple[list, list]:
            live, spans = [], []
            for p in range(args.parts):
                counter[0] += 1
                tid = f"t{counter[0]:08d}"
                pid = st.write_part("m", version="v", dtype="float16", tracks=[(tid, 1, p)],
                                    n_segments=[per_part], arrays=arrays,
                                    paths=[f"/music/{tid}.ogg"], durations=[1.0])  # fmt: skip
                live.append({"id": tid, "size": 1, "mtime_ns": p, "path": f"/music/{tid}.ogg",
                             "duration": 1.0})  # fmt: skip
                spans.append(pid)
            return live, spans

        def write_new():
            st = Store(tmp / f"s{counter[0]}", create=True)
            parts(st)

        def write_save():
            d = tmp / f"save{counter[0]}"
            d.mkdir()
            for p in range(args.parts):
                for k, a in arrays.items():
                    f = d / f"{p}-{k}.npy"
                    np.save(f, a)
                    _fsync(f)
            counter[0] += 1

        def write_memmap():
            d = tmp / f"mm{counter[0]}"
            d.mkdir()
            for p in range(args.parts):
                for k, a in arrays.items():
                    f = d / f"{p}-{k}.npy"
                    out = np.lib.format.open_memmap(f, mode="w+", dtype=a.dtype, shape=a.shape)
                    out[:] = a
                    out.flush()
                    del out
                    _fsync(f)
            counter[0] += 1

        t_new = _best(write_new, args.repeat)
        t_save = _best(write_save, args.repeat)
        t_mm = _best(write_memmap, args.repeat)
        print(f"1. write_part (ordinary writes + BLAKE2b + fsync): {t_new:.2f} s, "
              f"{mb / t_new:.0f} MB/s")  # fmt: skip
        print(f"   np.save + fsync (reference):                   {t_save:.2f} s, "
              f"{mb / t_save:.0f} MB/s; write_part / reference: {t_new / t_save:.2f}")  # fmt: skip
        print(f"   open_memmap + flush + fsync (before):          {t_mm:.2f} s, "
              f"{mb / t_mm:.0f} MB/s; write_part / before: {t_new / t_mm:.2f}")  # fmt: skip

        st = Store(tmp / "store", create=True)
        live, pids = parts(st)
        files = [st.part_path("m", p) / f"{k}.npy" for p in pids for k in dims]

        def inspect():
            for p in pids:
                part, problem = st.inspect_part("m", p, content=True)
                assert part is not None, problem

        def read():
            for f in files:
                with open(f, "rb") as fh:
                    while fh.read(1 << 22):
                        pass

        t_inspect = _best(inspect, args.repeat)
        t_read = _best(read, args.repeat)
        print(f"2. inspect_part(content=True) of every part: {t_inspect:.2f} s, "
              f"{mb / t_inspect:.0f} MB/s")  # fmt: skip
        print(f"   reading the same files (reference):        {t_read:.2f} s, "
              f"{mb / t_read:.0f} MB/s; checked / reference: {t_inspect / t_read:.2f}")  # fmt: skip

        def copy():
            d = tmp / f"copy{counter[0]}"
            d.mkdir()
            for i, f in enumerate(files):
                g = d / f"{i}.npy"
                shutil.copyfile(f, g)
                _fsync(g)
            counter[0] += 1

        t_copy = _best(copy, args.repeat)
        manifest = {"models": {"m": {"version": "v", "dtype": "float16", "layers": dims,
                                     "parts": pids}}, "errors": {}}  # fmt: skip
        have = {"m": live_rows(st, manifest, "m", live, {})}
        t = time.perf_counter()
        compact(st, manifest, ["m"], live, have, set())
        t_compact = time.perf_counter() - t
        (pid,) = manifest["models"]["m"]["parts"]
        assert st.inspect_part("m", pid, content=True)[0] is not None
        print(f"3. compact {args.parts} parts into one (checks, then rewrites): "
              f"{t_compact:.2f} s, {mb / t_compact:.0f} MB/s (one run)")  # fmt: skip
        print(f"   copyfile + fsync of the same files (reference): {t_copy:.2f} s; "
              f"compact / reference: {t_compact / t_copy:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
