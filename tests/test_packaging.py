"""The package as users get it: the wheel's contents and metadata, the sdist built into a wheel
without Node and installed in a fresh venv, the dependencies against the imports, and the
project's own lint rules."""

from __future__ import annotations

import ast
import email
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ("src/embedexplore/static/widget.js", "src/embedexplore/static/widget.css")
NOTEBOOKS = sorted(p.name for p in (ROOT / "examples").glob("*.ipynb"))


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
    assert "embedexplore/app_page/explore.ipynb" in names  # the page of `embedexplore app`
    # the widget's frontend, bundled at build time (never committed): a wheel without it shows a
    # blank widget, so it is checked here
    for name in ("widget.js", "widget.css"):
        assert f"embedexplore/static/{name}" in names
    js = zipfile.ZipFile(wheel).read("embedexplore/static/widget.js").decode()
    assert len(js) > 50_000 and "export" in js  # regl-scatterplot is inside, as an ES module
    # nothing is loaded from a CDN (a widget that does is blank offline and in VS Code)
    assert not re.search(r"""(import|from)\s*\(?\s*["']https?://""", js)
    assert not any(n.startswith("tests/") for n in names)
    # the notebooks, for `embedexplore notebooks DIR` (03 imports its solutions from beside it)
    for name in [*NOTEBOOKS, "solutions_03.py"]:
        assert f"embedexplore/notebooks/{name}" in names
    _check_metadata(wheel)


def _check_metadata(wheel: Path) -> None:
    """The licences (the code's and the shipped weights' ISC notice), the project's links, and a
    runtime without a notebook server."""
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        (meta,) = (n for n in names if n.endswith(".dist-info/METADATA"))
        info = email.message_from_bytes(z.read(meta))
        licences = {
            n.split(".dist-info/licenses/", 1)[1] for n in names if ".dist-info/licenses/" in n
        }
        assert licences == {"LICENSE", "src/embedexplore/models/weights/NOTICE"}
        notice = z.read(
            next(n for n in names if n.endswith("licenses/src/embedexplore/models/weights/NOTICE"))
        )
    assert b"ISC" in notice
    assert info["License-Expression"] == "BSD-3-Clause AND ISC"
    urls = dict(u.split(", ", 1) for u in info.get_all("Project-URL"))
    assert set(urls) == {"Homepage", "Documentation", "Source", "Issues", "Changelog"}
    assert all(u.startswith("https://") for u in urls.values())
    requires = info.get_all("Requires-Dist")
    runtime = [r for r in requires if "extra ==" not in r]
    assert not any(r.startswith("jupyterlab") for r in runtime)
    assert any(r.startswith("jupyterlab") and "extra == 'lab'" in r for r in requires)
    assert any(c.startswith("Operating System :: ") for c in info.get_all("Classifier"))


def test_readme_images_show_on_a_package_index():
    """The README is the package's page on PyPI, where a relative image path is broken: every
    image is an absolute URL into this repository, at a file that exists."""
    base = "https://raw.githubusercontent.com/embedexplore/embedexplore/main/"
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", (ROOT / "README.md").read_text("utf-8"))
    assert images
    for url in images:
        assert url.startswith(base), url
        assert (ROOT / url.removeprefix(base)).is_file(), url


def _dist_name(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9._-]+", requirement).group()
    return re.sub(r"[-_.]+", "-", name).lower()


def test_runtime_dependencies_are_what_the_package_imports():
    """Every distribution the package imports is a dependency (or, where the import is optional,
    an extra's), and every runtime dependency is imported: JupyterLab and scikit-learn are not."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    runtime = {_dist_name(r) for r in project["dependencies"]}
    extras = {k: {_dist_name(r) for r in v} for k, v in project["optional-dependencies"].items()}
    modules = set()
    for path in (ROOT / "src" / "embedexplore").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                modules.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    modules -= set(sys.stdlib_module_names) | {"embedexplore"}
    dists = packages_distributions()
    unknown = {m for m in modules if m not in dists}
    assert not unknown, f"imported but not installed here: {unknown}"
    imported = {_dist_name(d) for m in modules for d in dists[m]}
    # an optional import (Dask, Voila...) must come with one of the extras a user can ask for
    optional = set().union(*(v for k, v in extras.items() if k != "test"))
    optional.add("distributed")  # what dask[distributed] installs
    assert imported - runtime <= optional, imported - runtime - optional
    # ipywidgets: imported by tqdm.notebook (the notebook progress bars) even where no module
    # here imports it by name
    assert runtime - imported <= {"ipywidgets"}, runtime - imported
    assert {"jupyterlab"} == extras["lab"] and "embedexplore" in extras["test"]


def _link_distributions(name: str, folder: Path) -> set[str]:
    """Links in ``folder`` to the installed files of distribution ``name`` and of every
    distribution it requires, recursively; returns their names."""
    from importlib.metadata import distribution

    from packaging.requirements import Requirement

    folder.mkdir()
    todo, linked = [name], set()
    while todo:
        dist = distribution(todo.pop())
        key = _dist_name(dist.metadata["Name"])
        if key in linked:
            continue
        linked.add(key)
        here = Path(dist.locate_file(""))
        for top in {f.parts[0] for f in dist.files} - {"..", "__pycache__"}:
            if not (folder / top).exists():
                (folder / top).symlink_to(here / top)
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return linked


def _without_node(path: str) -> str:
    """PATH without the folders that hold npm or node (on Debian that is /usr/bin itself)."""
    keep = [d for d in path.split(os.pathsep) if d and not any(
        shutil.which(cmd, path=d) for cmd in ("npm", "node")
    )]  # fmt: skip
    out = os.pathsep.join(keep)
    assert shutil.which("npm", path=out) is None and shutil.which("node", path=out) is None
    return out


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)
    assert out.returncode == 0, f"{cmd}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


# Run by the fresh venv on the wheel it installed, outside the source tree: the demo collection
# through the installed command, two of its tracks extracted, and an Explorer on them.
_EXPLORE = """
import json, shutil, subprocess, sys
from pathlib import Path

import embedexplore as ee
import torch


def main():
    home = Path(sys.argv[1])
    command = shutil.which("embedexplore", path=Path(sys.executable).parent)  # the entry point
    demo = [command, "demo", "--path", str(home / "music"), "--quiet"]
    subprocess.run(demo, check=True, stdout=subprocess.DEVNULL)
    collection = ee.scan(home / "music", progress=False)
    two = collection.filter(artist="Hammer & Felt", path="*/0[12] *")  # two piano tracks
    emb = ee.extract(two, store=home / "store", models=["musicnn-msd", "vgg-msd"], workers=0,
                     progress=False)  # fmt: skip
    explorer = ee.Explorer(collection, emb, left={"projection": "pca"}, right={"projection": "pca"})
    static = Path(ee.__file__).parent / "static"
    print(json.dumps({
        "embedexplore": ee.__file__,
        "torch": torch.__file__,
        "tracks": len(collection.tracks),
        "extracted": len(two.tracks),
        "segments": len(emb.segments),
        "points": explorer.n_points,
        "left": explorer.left["model"],
        "bundle": sorted(p.name for p in static.iterdir()),
        "notebooks": sorted(p.name for p in (Path(ee.__file__).parent / "notebooks").iterdir()),
    }))


if __name__ == "__main__":
    main()
"""


@pytest.mark.slow
def test_sdist_builds_without_node_and_runs_in_a_fresh_venv(tmp_path):
    """sdist -> wheel with npm out of reach -> a fresh venv -> an Explorer on the demo."""
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--sdist", "--outdir", str(dist), str(ROOT)], cwd=tmp_path)
    (sdist,) = dist.glob("embedexplore-*.tar.gz")
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        members = {n.split("/", 1)[-1] for n in tar.getnames()}
        tar.extractall(tmp_path / "unpacked", filter="data")
    assert {*BUNDLE, "PKG-INFO", "js/src/widget.js"} <= members
    assert not any(n.startswith(("js/node_modules/", ".venv/")) for n in members)

    # the wheel from the unpacked sdist, where neither npm nor node can be found
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    unpacked = tmp_path / "unpacked" / top
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(unpacked)],
         cwd=tmp_path, env={**env, "PATH": _without_node(env["PATH"])})  # fmt: skip
    (wheel,) = dist.glob("embedexplore-*.whl")
    _check_metadata(wheel)

    # A fresh venv that reuses this environment's torch rather than installing it again (about
    # 750 MB unpacked, and the CPU wheel comes from an index of its own): a folder of links to the
    # files of torch and of what torch requires (sympy, networkx...), nothing else of this
    # environment, on the venv's path through a .pth file. pip sees those as installed and
    # installs everything else from the index into the venv, as it does for a user.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([python, "-c", purelib]).stdout.strip())
    links = tmp_path / "torch-only"
    linked = _link_distributions("torch", links)
    assert "torch" in linked and "embedexplore" not in linked
    (site / "torch_from_the_test_environment.pth").write_text(f"{links}\n")
    # --no-compile: bytecode is written on first import anyway; compiling every dependency up
    # front is a good part of the install time
    _run([python, "-m", "pip", "install", "--no-compile", "-q", str(wheel)], cwd=tmp_path, env=env)

    (tmp_path / "explore.py").write_text(_EXPLORE)
    out = _run([python, "explore.py", str(tmp_path / "home")], cwd=tmp_path, env=env)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(got["embedexplore"]).is_relative_to(venv)  # the installed wheel, not the tree
    assert Path(got["torch"]).is_relative_to(links)
    assert got["tracks"] == 30 and got["extracted"] == 2
    assert got["points"] == got["segments"] > 6 and got["left"] == "musicnn-msd"
    assert got["bundle"] == ["widget.css", "widget.js"]
    assert got["notebooks"] == sorted([*NOTEBOOKS, "solutions_03.py"])
    shutil.rmtree(venv)  # over 700 MB, and pytest keeps the temporary folders of three runs


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
