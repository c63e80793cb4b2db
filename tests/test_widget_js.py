"""The Explorer's frontend without a browser: the unit tests of its pure modules (``js/test/``,
run with node's own test runner), and whether the bundle in ``src/embedexplore/static/`` was
built from the sources as they are (a stale bundle would make the browser tests test old code)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "js"
STATIC = ROOT / "src" / "embedexplore" / "static"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def test_js_unit_tests_pass():
    out = subprocess.run(
        [NODE, "--test", "test/"], cwd=JS, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "# fail 0" in out.stdout and "# pass 0" not in out.stdout


@pytest.mark.skipif(
    not (JS / "node_modules" / "esbuild").exists(), reason="no js/node_modules (npm --prefix js ci)"
)
@pytest.mark.skipif(not (STATIC / "widget.js").exists(), reason="the bundle is not built")
def test_the_bundle_is_built_from_the_sources(tmp_path):
    out = subprocess.run(
        [NODE, "build.mjs", f"--outdir={tmp_path}"],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for name in ("widget.js", "widget.css"):
        assert (tmp_path / name).read_bytes() == (STATIC / name).read_bytes(), (
            f"src/embedexplore/static/{name} is not built from js/src as it is: run "
            "`npm --prefix js run build`"
        )
