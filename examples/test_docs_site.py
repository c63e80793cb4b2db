"""The documentation site (``docs/``), built as a reader would build it: Sphinx, warnings as errors.

This file lives beside the notebooks because it must run after them: pytest collects
``examples/`` in name order, and ``test_...`` sorts after ``01_...ipynb`` to ``03_...ipynb``.
Each notebook run in this session is written with its outputs by ``examples/conftest.py``; the
site is built from those (copied to a private folder, so that no older run slips in), and the
checks below assert that the notebook pages show that run's figures. Run alone, without the
notebooks (``pytest examples/test_docs_site.py``), it builds the site with the committed
notebooks, which have no outputs, checks everything else, and skips the figure checks, saying
why: running the notebooks again here would double their 10 minutes in CI.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.name for p in (ROOT / "examples").glob("*.ipynb"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory, executed_notebooks):
    """The site built into a temporary folder: its HTML folder, and the build's outcome."""
    base = tmp_path_factory.mktemp("docs")
    executed = base / "executed"
    executed.mkdir()
    for run in executed_notebooks.values():
        shutil.copy(run.path, executed / run.path.name)
    html = base / "html"
    warnings = base / "warnings.txt"
    command = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
        "-d", str(base / "doctrees"), "-w", str(warnings), str(ROOT / "docs"), str(html),
    ]  # fmt: skip
    env = {**os.environ, "EMBEDEXPLORE_EXECUTED_NOTEBOOKS": str(executed)}
    start = time.perf_counter()
    build = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    print(f"docs site built in {seconds:.1f} s, {len(executed_notebooks)} executed notebooks")
    return html, build, warnings.read_text(encoding="utf-8") if warnings.exists() else ""


def test_builds_without_warnings(site):
    html, build, warnings = site
    assert build.returncode == 0 and not warnings.strip(), (
        f"sphinx-build -W failed ({build.returncode}):\n{warnings or build.stderr[-3000:]}"
    )
    for page in ("index", "architecture", "benchmarks", "changelog", "api/index"):
        assert (html / f"{page}.html").is_file(), page


def _ids(html: Path) -> set[str]:
    """The ids of every object the API pages document (``embedexplore.x.f``), and of every
    module (``module-embedexplore.x``)."""
    found: set[str] = set()
    for page in (html / "api").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        found.update(re.findall(r'<dt class="sig sig-object py" id="([^"]+)"', text))
        found.update(re.findall(r'id="(module-[\w.]+)"', text))
    return found


def _resolve(name: str):
    """The Python object a documented id names."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = inspect.getattr_static(obj, part) if inspect.isclass(obj) else getattr(obj, part)
        return obj
    raise ImportError(name)


def test_the_api_reference_documents_the_public_api(site):
    from test_docs import API  # the walk that checks the docstrings: the public API

    html, build, _ = site
    assert (html / "api" / "index.html").is_file(), build.stderr[-3000:]
    ids = _ids(html)
    for name in (
        "embedexplore.extraction.extract",
        "embedexplore.explorer.Explorer",
        "embedexplore.similarity.precision_at_k",
        "embedexplore.collection.scan",
        "embedexplore.embeddings.Embeddings.windows",
        "module-embedexplore.audio",
    ):
        assert name in ids, f"the API reference does not document {name}"
    # each object once at least, under whichever name its page gives it (embedexplore.models
    # documents MusiCNN, defined in embedexplore.models.musicnn_net)
    objects = {}
    for name in ids:
        if not name.startswith("module-"):
            objects.setdefault(id(_resolve(name)), name)
    missing = []
    for qualname, obj in API.items():
        if inspect.ismodule(obj):
            documented = f"module-{qualname}" in ids
        elif qualname == f"{obj.__module__}.{obj.__qualname__}":
            documented = id(obj) in objects
        else:  # a method or property of the class obj
            member = inspect.getattr_static(obj, qualname.rsplit(".", 1)[1])
            documented = id(member) in objects
        if not documented:
            missing.append(qualname)
    assert not missing, (
        "public objects missing from the API reference (add their module to a page of "
        f"docs/api/): {missing}"
    )
    # the front page of the reference links each name of embedexplore to its entry
    index = (html / "api" / "index.html").read_text(encoding="utf-8")
    for target in ("extraction.html#embedexplore.extraction.extract",
                   "explorer.html#embedexplore.explorer.Explorer"):  # fmt: skip
        assert f'href="{target}"' in index, target


def test_front_benchmark_and_changelog_pages(site):
    html, _, _ = site
    front = (html / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<img[^>]+src="_images/explorer\.png"', front)
    assert (html / "_images" / "explorer.png").stat().st_size > 10_000
    benchmarks = (html / "benchmarks.html").read_text(encoding="utf-8")
    for log in sorted((ROOT / "benchmarks" / "results").glob("*.log")):
        assert re.search(rf"<h\d>{re.escape(log.name)}", benchmarks), f"{log.name} not on the page"
    changelog = (html / "changelog.html").read_text(encoding="utf-8")
    first = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ")
    assert f"<h1>{first}" in changelog


def _png_outputs(path: Path) -> int:
    notebook = nbformat.read(path, as_version=4)
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_pages_show_their_figures(site, executed_notebooks, name):
    html, _, _ = site
    page = html / "examples" / name.replace(".ipynb", ".html")
    text = page.read_text(encoding="utf-8")
    run = executed_notebooks.get(name)
    if run is None:
        assert "without outputs" in text
        pytest.skip(
            f"{name} did not run in this session, so its page has no outputs: run the notebooks "
            "with this test (bash scripts/test.sh does) to check its figures"
        )
    assert run.complete, (
        f"{name} failed in this session (code cells {run.failed}; {len(run.outputs)} of "
        f"{run.cells} ran): its page stops there"
    )
    figures = _png_outputs(run.path)
    assert figures > 0, f"{name} drew no figure in this run"
    images = re.findall(r'<img[^>]+src="\.\./(_images/[0-9a-f]+\.png)"', text)
    assert len(images) == figures, f"{name}: {figures} figures in the run, {len(images)} shown"
    for image in images:
        assert (html / image).stat().st_size > 1_000, image
    assert "without outputs" not in text and "come from a run" in text
