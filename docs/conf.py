"""Sphinx configuration of embedexplore's documentation site.

Build it (after the notebooks ran, for their figures; tests in examples/test_docs_site.py do
exactly this, with warnings as errors)::

    .venv/bin/python -m sphinx -W --keep-going -b html docs build/docs/html

Why these tools:

- Sphinx with numpydoc: the docstrings are numpydoc's (tests/test_docs.py checks them with its
  validator), so numpydoc renders exactly what that test checks, and autodoc reads the API from
  the code itself: the reference cannot drift from it.
- myst-nb for the Markdown pages and the notebooks: it renders a notebook's saved outputs
  (figures, tables, players) with no execution (``nb_execution_mode = "off"``), and it is pure
  Python. nbsphinx, the alternative, converts Markdown cells with pandoc, a system binary that
  pip cannot install.
- furo: a plain, readable theme from PyPI with no JavaScript framework to build.

Nothing is fetched while building: no intersphinx (CI machines reach no documentation hosts).
The pages load MathJax (Sphinx's default) in the reader's browser for the notebooks' maths;
offline, the formulas show as their TeX source.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# the local extensions in _ext (notebook pages with their outputs, the benchmark logs), loaded
# the way Sphinx documents for extensions kept beside conf.py
sys.path.insert(0, str(DOCS / "_ext"))

import embedexplore  # noqa: E402  (after the path above, as Sphinx configurations do)

project = "embedexplore"
author = "the embedexplore developers"
copyright = "the embedexplore developers"
# the one version number, defined in src/embedexplore/__init__.py
release = version = embedexplore.__version__

extensions = [
    "myst_nb",  # Markdown (MyST) pages and notebooks; it loads myst_parser itself
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",  # the summary tables of the API's front page
    "numpydoc",
    "sphinx.ext.viewcode",  # each documented object links to its source
    "benchmark_logs",  # docs/_ext: the logs of benchmarks/results on the benchmarks page
]
exclude_patterns = ["_build", "_ext"]

# MyST: $...$ maths in the notebooks (S_n), ::: fences for notes, headings as link targets
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# myst-nb: the notebooks are never executed here (see docs/_ext/executed_notebooks.py)
nb_execution_mode = "off"
nb_custom_formats = {".nblink": ("executed_notebooks.read", {}, False)}
nb_merge_streams = True

# autodoc + numpydoc: members in the order of each module's __all__ (the order of the flow),
# class docstrings (numpydoc's Parameters of __init__ are there)
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    "exclude-members": "extra_repr",  # torch's nn.Module hook, not ours to document
}
autoclass_content = "class"
autodoc_typehints = "none"  # the numpydoc sections give each type in words
autosummary_generate = False  # tables only: every object is documented on its module's page
# numpydoc's own member tables need a generated page per member: autodoc lists members instead
numpydoc_show_class_members = False
numpydoc_validation_checks: set[str] = set()  # tests/test_docs.py validates, with its reasons

html_theme = "furo"
html_title = f"embedexplore {release}"
html_static_path: list[str] = []


def _class_signature(app, what, name, obj, options, signature, return_annotation):
    """The parameters of a traitlets class's ``__init__`` (the Explorer and its widget).

    traitlets' ``HasTraits`` defines ``__new__(*args, **kwargs)``, which autodoc prefers to
    ``__init__``; Python's own ``inspect.signature`` gives the parameters a caller passes.
    """
    if what != "class" or signature != "(*args, **kwargs)":
        return None
    found = inspect.signature(obj)
    found = found.replace(
        parameters=[p.replace(annotation=p.empty) for p in found.parameters.values()],
        return_annotation=found.empty,
    )
    return str(found), None


def setup(app):
    app.connect("autodoc-process-signature", _class_signature)
