"""The example notebooks as files: committed stripped, each with a tagged parameters cell whose
first line is a plain `MUSIC = ""` to edit (the environment overrides it in the next cell, for the
tests), its purpose up front, references and where to go next at the end, and no solution code
in any cell. (pytest --nbval-lax runs them: scripts/test.sh.)"""

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
    # the line a music lover edits: a plain assignment, not an environment lookup
    lines = [ln for ln in params.source.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[0].startswith('MUSIC = ""  # ') and "~/Music" in lines[0], lines[0]
    assert "os.environ" not in params.source
    # the tests' override comes right after, and nowhere else
    assert 'os.environ.get("EMBEDEXPLORE_MUSIC", MUSIC)' in code[1].source
    assert all("EMBEDEXPLORE_MUSIC" not in c.source for c in code[2:])
    assert "## References" in "\n".join(c.source for c in cells if c.cell_type == "markdown")
    checked = [c for c in code if "# NBVAL_CHECK_OUTPUT" in c.source]
    for c in checked:
        assert c.outputs, "a checked cell needs its reference output committed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_solution_in_cells(path):
    """Solutions live in a module next to the notebook (hidden on GitHub, in VS Code and in
    JupyterLab alike): a cell may import one, never define one."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert "def solution_" not in cell.source, cell.source[:80]
            assert "# Solution" not in cell.source, cell.source[:80]


def test_solutions_module_answers_every_exercise():
    """Each exercise's check cell imports its solution from examples/solutions_NN.py, which exists
    and defines it."""
    import ast
    import re

    import nbformat

    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        imported = set()
        for cell in nb.cells:
            for module, names in re.findall(r"from (solutions_\d+) import ([\w, ]+)", cell.source):
                imported |= {(module, n.strip()) for n in names.split(",")}
        for module, name in imported:
            tree = ast.parse((ROOT / "examples" / f"{module}.py").read_text(encoding="utf-8"))
            defined = {f.name for f in tree.body if isinstance(f, ast.FunctionDef)}
            assert name in defined, f"{module}.py does not define {name}"
    exercises = [
        c
        for c in nbformat.read(ROOT / "examples" / NAMES[2], as_version=4).cells
        if c.cell_type == "markdown" and "### Exercise" in c.source
    ]
    from_03 = {name for module, name in imported if module == "solutions_03"}
    assert exercises and len(from_03) >= len(exercises), (len(exercises), sorted(from_03))
