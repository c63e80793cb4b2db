"""The package as users get it: the wheel's contents, and the project's own lint rules."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_the_package(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("embedexplore-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in (
        "__init__",
        "audio",
        "collection",
        "tags",
        "datasets",
        "synth",
        "cli",
        "scan_cache",
    ):
        assert f"embedexplore/{module}.py" in names
    assert "embedexplore/py.typed" in names
    for module in (
        "__init__",
        "checkpoint",
        "frontend",
        "labels",
        "musicnn_net",
        "vgg_net",
        "vggish_net",
    ):
        assert f"embedexplore/models/{module}.py" in names
    for model in ("musicnn-msd", "musicnn-mtt", "vgg-msd", "vgg-mtt"):
        assert f"embedexplore/models/weights/{model}.safetensors" in names
    assert "embedexplore/models/weights/NOTICE" in names
    # the widget's frontend, bundled at build time (never committed): a wheel without it shows a
    # blank widget, so it is checked here
    for name in ("widget.js", "widget.css"):
        assert f"embedexplore/static/{name}" in names
    js = zipfile.ZipFile(wheel).read("embedexplore/static/widget.js").decode()
    assert len(js) > 50_000 and "export" in js  # regl-scatterplot is inside, as an ES module
    # nothing is loaded from a CDN (a widget that does is blank offline and in VS Code)
    assert not re.search(r"""(import|from)\s*\(?\s*["']https?://""", js)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith("tests/") for n in names)


@pytest.mark.skipif(
    shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
    reason="ruff is not installed (pip install -e .[test])",
)
def test_ruff_lint_and_format():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    for args in (["check"], ["format", "--check"]):
        out = subprocess.run(
            [ruff, *args, "src", "tests", "benchmarks", "scripts"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stdout + out.stderr
