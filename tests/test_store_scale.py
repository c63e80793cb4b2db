"""A store of many parts (an archive's, before compaction) is read and compacted within a small
limit on open files: each memory-mapped part holds a file descriptor, and a 500,000-track plan
makes tens of thousands of parts (benchmarks/cluster_plan.py once failed there with EMFILE)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from embedexplore._store_state import compact, live_rows
    from embedexplore.store import Store

    root, n_parts = sys.argv[1], int(sys.argv[2])
    st = Store(root, create=True)
    live, parts, spans = [], [], []
    for p in range(n_parts):  # two tracks a part, of 2 and 3 segments
        tracks = [(f"t{p:05d}a", 100 + p, 7), (f"t{p:05d}b", 200 + p, 7)]
        rows = np.arange(5 * p, 5 * p + 5, dtype=np.float16)[:, None].repeat(3, 1)
        pid = st.write_part("m", version="v", dtype="float16", tracks=tracks,
                            n_segments=[2, 3], arrays={"taggrams": rows})
        parts.append(pid)
        spans += [(pid, 0, 2), (pid, 2, 3)]
        live += [{"id": t, "size": s, "mtime_ns": m, "path": f"/music/{t}.ogg", "duration": 9.0}
                 for t, s, m in tracks]
    # the limit comes after writing: what is tested is reading and compacting
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    want = np.arange(5 * n_parts, dtype=np.float16)[:, None].repeat(3, 1)
    out = np.zeros_like(want)
    st.gather("m", "taggrams", spans, out)
    np.testing.assert_array_equal(out, want)
    manifest = {"models": {"m": {"version": "v", "dtype": "float16",
                                 "layers": {"taggrams": 3}, "parts": parts}}, "errors": {}}
    have = {"m": live_rows(st, manifest, "m", live, {})}
    compact(st, manifest, ["m"], live, have, set())
    (pid,) = manifest["models"]["m"]["parts"]
    np.testing.assert_array_equal(st.open_array("m", pid, "taggrams"), want)
    print("compacted", len(parts), "parts")
    """
)


def test_many_parts_are_read_and_compacted_within_a_small_file_limit(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "store"), "300"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "compacted 300 parts" in proc.stdout
