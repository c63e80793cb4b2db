"""File names that are not valid UTF-8 are data: scan, cache, summary and CSV keep their bytes,
with pandas' string dtype backed by pyarrow (installed here) and without it (a subprocess that
cannot import pyarrow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import audiofiles as af
import embedexplore
from embedexplore import scan

SRC = str(Path(embedexplore.__file__).resolve().parents[1])

# run before anything imports pandas: pandas then finds no pyarrow and keeps text in Python objects
NO_PYARROW = "import sys; sys.modules['pyarrow'] = None\n"

# scan argv[1] with the cache in argv[2]; print what the parent checks (JSON, ASCII: surrogates
# travel as \udcxx escapes)
SCAN_SCRIPT = """
import json, sys
import pandas as pd
import embedexplore
c = embedexplore.scan(sys.argv[1], cache=sys.argv[2], progress=False)
print(json.dumps({
    "storage": pd.Series(["x"]).dtype.storage,
    "paths": list(c.tracks["path"]),
    "dtypes": sorted({str(c.tracks[k].dtype.storage) for k in ("path", "title", "codec")}
                     | {c.tracks.index.dtype.storage}),
    "read": c.stats.read,
    "summary": c.summary(),
}))
"""


def _library(tmp_path: Path) -> tuple[Path, set[bytes]]:
    """Audio files whose names (file and folder) are Latin-1 bytes on a UTF-8 system."""
    root = tmp_path / "lib"
    base = os.fsencode(root)
    names = {base + b"/caf\xe9 mix.flac", base + b"/Bj\xf6rk/Hyperballad.mp3", base + b"/ok.wav"}
    for name in names:
        af.write(os.fsdecode(name), seconds=0.5, rate=16_000 if name.endswith(b".wav") else None)
    return root, names


def _python(script: str, *args: str | os.PathLike, pyarrow: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC, "PYTHONIOENCODING": "utf-8"}  # strict, as a terminal
    code = script if pyarrow else NO_PYARROW + script
    return subprocess.run(
        [sys.executable, "-c", code, *map(os.fspath, args)],
        capture_output=True, env=env, check=False,
    )  # fmt: skip


def _scan_elsewhere(root: Path, cache: Path, *, pyarrow: bool) -> dict:
    done = _python(SCAN_SCRIPT, root, cache, pyarrow=pyarrow)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return json.loads(done.stdout)


def test_non_utf8_names_round_trip_with_pyarrow(tmp_path):
    pytest.importorskip("pyarrow")
    assert pd.Series(["x"]).dtype.storage == "pyarrow"  # what pandas infers here
    root, names = _library(tmp_path)
    (root / "d\udce9fect.mp3").write_bytes(b"not audio at all" * 64)

    c = scan(root, progress=False)
    assert {os.fsencode(p) for p in c.tracks["path"]} == names
    assert c.tracks.loc[c.tracks["path"].str.endswith("mix.flac"), "title"].item() == (
        "caf\ufffd mix"  # shown with U+FFFD; the path keeps the byte
    )
    # pandas' string dtype in Python objects: pyarrow's would refuse the names
    for text in (*(c.tracks[k] for k in ("path", "title", "artist", "codec")), c.tracks.index):
        assert text.dtype == "str" and text.dtype.storage == "python"
    assert c.errors["path"].dtype.storage == "python"
    assert [os.fsencode(p) for p in c.errors["path"]] == [os.fsencode(root) + b"/d\xe9fect.mp3"]
    text = c.summary()
    text.encode("utf-8")  # printable on a UTF-8 terminal: the byte is shown as an escape
    assert "d\\xe9fect.mp3" in text and "3 tracks" in text
    repr(c).encode("utf-8")
    again = scan(root, progress=False)  # from the cache: the names round-trip through it
    assert again.stats.read == 0 and again.tracks["path"].equals(c.tracks["path"])
    assert again.errors["path"].equals(c.errors["path"])


@pytest.mark.parametrize("pyarrow", [True, False], ids=["pyarrow", "no-pyarrow"])
def test_the_command_line_prints_and_writes_non_utf8_names(tmp_path, pyarrow):
    root, names = _library(tmp_path)
    bad = os.fsencode(root) + b"/d\xe9fect.mp3"
    Path(os.fsdecode(bad)).write_bytes(b"not audio at all" * 64)
    out = tmp_path / "tracks.csv"
    done = _python(
        "import sys\nfrom embedexplore.cli import main\nsys.exit(main(sys.argv[1:]))",
        "scan", root, "--csv", out, "--no-cache", "-q",
        pyarrow=pyarrow,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"3 tracks" in done.stdout and b"d\\xe9fect.mp3" in done.stdout
    csv = out.read_bytes()  # the file's own bytes, as another program needs them to open it
    assert all(name in csv for name in names)
    back = pd.read_csv(out, encoding_errors="surrogateescape", dtype={"path": object})
    assert {os.fsencode(p) for p in back["path"]} == names


@pytest.mark.slow  # three interpreters started
def test_without_pyarrow_and_the_cache_across_both(tmp_path):
    root, names = _library(tmp_path)
    # scanned where pyarrow is missing, the cache then read where it is installed
    there = _scan_elsewhere(root, tmp_path / "cache1", pyarrow=False)
    assert there["storage"] == "python"  # pyarrow really was out of reach
    assert {os.fsencode(p) for p in there["paths"]} == names
    assert there["dtypes"] == ["python"] and there["read"] == 3
    here = scan(root, cache=tmp_path / "cache1", progress=False)
    assert here.stats.read == 0 and here.stats.cached == 3
    assert {os.fsencode(p) for p in here.tracks["path"]} == names
    # and the other way round
    assert scan(root, cache=tmp_path / "cache2", progress=False).stats.read == 3
    again = _scan_elsewhere(root, tmp_path / "cache2", pyarrow=False)
    assert again["read"] == 0 and {os.fsencode(p) for p in again["paths"]} == names
    with_pyarrow = _scan_elsewhere(root, tmp_path / "cache2", pyarrow=True)
    assert with_pyarrow["dtypes"] == ["python"] and with_pyarrow["read"] == 0
