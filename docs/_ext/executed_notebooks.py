"""The example notebooks as pages of the site, with the outputs of a run where there is one.

The notebooks are committed without outputs (``examples/``) and run under nbval after the tests,
which writes each with its outputs to ``build/executed/`` (``examples/conftest.py``). A page
``docs/examples/NAME.nblink`` holds ``{"notebook": "examples/NAME.ipynb"}``; :func:`read` (myst-nb's
reader for ``.nblink``, see ``nb_custom_formats`` in ``conf.py``) returns the executed notebook
when the folder of executed notebooks has it, else the committed one, and says which on the page.

The folder is ``$EMBEDEXPLORE_EXECUTED_NOTEBOOKS`` when set (empty: the committed notebooks
only), else ``build/executed``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
#: A widget's output: the browser draws it from the widget's state, which a run under nbval does
#: not save (nor can a static page run the kernel it talks to).
WIDGET = "application/vnd.jupyter.widget-view+json"


def executed_folder() -> Path | None:
    """The folder of executed notebooks the pages show, or None for the committed ones."""
    folder = os.environ.get("EMBEDEXPLORE_EXECUTED_NOTEBOOKS")
    if folder is None:
        return ROOT / "build" / "executed"
    return Path(folder) if folder else None


def read(text: str) -> nbformat.NotebookNode:
    """The notebook a ``.nblink`` page names, with outputs where a run left them.

    Parameters
    ----------
    text : str
        The page's JSON: ``{"notebook": PATH}``, PATH relative to the repository.

    Returns
    -------
    nbformat.NotebookNode
        The notebook, with a note after its introduction saying where its outputs come from.
    """
    committed = ROOT / json.loads(text)["notebook"]
    if not committed.is_file():
        raise FileNotFoundError(f"{committed}: no such notebook (named by a .nblink page)")
    folder = executed_folder()
    executed = folder / committed.name if folder is not None else None
    if executed is not None and executed.is_file():
        notebook = nbformat.read(executed, as_version=4)
        note = (
            "The outputs on this page come from a run of the notebook on the offline demo "
            "collection by the test suite (`pytest --nbval-lax`). Maps and players are static "
            "here; the Explorer, a widget, needs a running notebook."
        )
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = [_static(output) for output in cell.outputs]
    else:
        notebook = nbformat.read(committed, as_version=4)
        note = (
            "This page shows the notebook without outputs: the site was built before the "
            "notebooks ran. Run them (`bash scripts/test.sh` runs them, then builds the site) "
            "or open the notebook in Jupyter to see its figures."
        )
    # after the first cell (the title and what the notebook teaches), so that the title stays
    # the page's title
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(f":::{{note}}\n{note}\n:::"))
    return notebook


def _static(output):
    """A widget's output as a static page can show it: a line saying what it is."""
    data = output.get("data", {})
    if WIDGET not in data:
        return output
    shown = data.get("text/plain", "")
    if "Explorer" in shown:
        text = "[The Explorer: two linked maps to hover, hear and lasso, in a running notebook]"
    else:
        text = "[an interactive widget, shown in a running notebook]"
    output.data = nbformat.from_dict({"text/plain": text})
    return output
