"""The example notebooks as files: committed stripped, each with a tagged parameters cell that
reads the collection from the environment, its purpose up front and where to go next at the end.
(pytest --nbval-lax runs them: scripts/test.sh.)"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))
NAMES = [
    "01_explore_your_collection.ipynb",
    "02_playlists_from_code.ipynb",
    "03_comparing_latent_spaces.ipynb",
]


def _strip_module():
    spec = importlib.util.spec_from_file_location("strip", ROOT / "scripts" / "strip_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_three_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == NAMES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_stripped(path):
    strip = _strip_module()
    text = path.read_text(encoding="utf-8")
    assert strip.dumps(strip.stripped(json.loads(text))) == text, (
        f"{path.name} carries outputs: run .venv/bin/python scripts/strip_notebooks.py"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_structure(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    cells = nb.cells
    assert cells[0].cell_type == "markdown" and "learn" in cells[0].source.lower()
    assert "## Where next" in cells[-1].source
    code = [c for c in cells if c.cell_type == "code"]
    params = code[0]
    assert "parameters" in params.metadata.get("tags", [])
    assert 'os.environ.get("EMBEDEXPLORE_MUSIC", "")' in params.source
    # only the parameters cell says where the music is: one variable to change
    assert all("EMBEDEXPLORE_MUSIC" not in c.source for c in code[1:])
    checked = [c for c in code if "# NBVAL_CHECK_OUTPUT" in c.source]
    for c in checked:
        assert c.outputs, "a checked cell needs its reference output committed"
