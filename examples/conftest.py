"""pytest --nbval-lax runs these notebooks (scripts/test.sh). Their kernels inherit this
process's environment: give them a private cache (demo collection, stores, projections) and a
private output folder for the playlists, so that a test run neither reads nor writes the user's
files, and the three notebooks share one extraction of the demo collection.

Each notebook that runs is also written out with the outputs of its cells, figures included, to
``build/executed/`` (git-ignored), as JupyterLab would save it after Run All: the docs site
(``test_docs_site.py``, which pytest runs after the notebooks) renders those rather than running
the notebooks a second time."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_made: list[str] = []

#: Notebook file name -> its run in this session (:class:`_Run`).
RUNS = pytest.StashKey[dict]()


def pytest_configure(config):
    config.stash[RUNS] = {}
    if not config.getoption("nbval_lax", default=False) and not config.getoption(
        "nbval", default=False
    ):
        return
    base = tempfile.mkdtemp(prefix="embedexplore-notebooks-")
    _made.append(base)
    os.environ["EMBEDEXPLORE_CACHE"] = os.path.join(base, "cache")
    os.environ["EMBEDEXPLORE_OUT"] = os.path.join(base, "playlists")


def pytest_unconfigure(config):
    for base in _made:
        shutil.rmtree(base, ignore_errors=True)


def executed_folder(config) -> Path:
    """Where the notebooks run in this session are written with their outputs."""
    return config.rootpath / "build" / "executed"


class _Run:
    """The outputs of one notebook's cells, rebuilt from the kernel's messages.

    nbval keeps the display data, streams and errors of each cell but drops
    ``update_display_data`` and ``clear_output``: the progress bars of the package replace their
    live widget by their final line through the first, so its outputs would show every bar at
    0%. Here every message of the cell's request is replayed as a notebook front-end does.
    """

    def __init__(self, name: str, cells: int) -> None:
        self.name = name
        self.cells = cells  # code cells in the notebook
        self.outputs: dict[int, list] = {}  # code cell number -> its outputs
        self.failed: list[int] = []  # numbers of the code cells that failed
        self.path: Path | None = None  # the executed notebook, once written
        self._displays: dict[str, list] = {}  # display id -> the outputs showing it
        self._clear_next = False

    @property
    def complete(self) -> bool:
        """Whether every code cell ran and none failed."""
        return len(self.outputs) == self.cells and not self.failed

    def message(self, number: int, msg: dict) -> None:
        from nbformat.v4 import output_from_msg

        kind, content = msg["msg_type"], msg["content"]
        outputs = self.outputs.setdefault(number, [])
        if kind == "clear_output":
            if content.get("wait"):
                self._clear_next = True  # cleared when the next output arrives
            else:
                outputs.clear()
            return
        if kind == "update_display_data":
            for output in self._displays.get(content.get("transient", {}).get("display_id"), []):
                output.data = content["data"]
                output.metadata = content.get("metadata", {})
            return
        if kind not in ("stream", "display_data", "execute_result", "error"):
            return
        if self._clear_next:
            outputs.clear()
            self._clear_next = False
        output = output_from_msg(msg)
        display_id = content.get("transient", {}).get("display_id")
        if display_id is not None:
            self._displays.setdefault(display_id, []).append(output)
        if kind == "stream" and outputs and outputs[-1].get("name") == output.name:
            outputs[-1].text += output.text  # as front-ends show consecutive prints
        else:
            outputs.append(output)

    def write(self, notebook, folder: Path) -> None:
        """Write ``notebook`` (as read by nbval) with the outputs of this run."""
        import copy

        import nbformat

        notebook = copy.deepcopy(notebook)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        count = 0
        for number, cell in enumerate(code):
            if number not in self.outputs:
                continue  # not run: the run stopped before it, or it was skipped
            count += 1
            cell.execution_count = count
            cell.outputs = copy.deepcopy(self.outputs[number])
            for output in cell.outputs:
                if output.output_type == "execute_result":
                    output.execution_count = count
        nbformat.validate(notebook)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.name
        tmp = path.with_name(path.name + ".tmp")
        nbformat.write(notebook, tmp)
        tmp.replace(path)
        self.path = path


def _is_cell(item) -> bool:
    # nbval's items; imported here because the plugin is only needed with --nbval(-lax)
    from nbval.plugin import IPyNbCell

    return isinstance(item, IPyNbCell)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    if not _is_cell(item):
        return (yield)
    notebook = item.parent
    name = Path(notebook.path).name
    code_cells = sum(cell.cell_type == "code" for cell in notebook.nb.cells)
    run = item.config.stash[RUNS].setdefault(name, _Run(name, code_cells))
    kernel = notebook.kernel
    request: list[str] = []
    execute, get_message = kernel.execute_cell_input, kernel.get_message

    # listen to the kernel as nbval talks to it: the id of this cell's request, then every
    # message nbval reads, of which those answering the request are this cell's outputs
    def execute_cell_input(*args, **kwargs):
        request.append(execute(*args, **kwargs))
        return request[-1]

    def read_message(stream, timeout=None):
        msg = get_message(stream, timeout=timeout)
        if stream == "iopub" and request and msg["parent_header"].get("msg_id") == request[-1]:
            run.message(item.cell_num, msg)
        return msg

    kernel.execute_cell_input, kernel.get_message = execute_cell_input, read_message
    try:
        return (yield)
    finally:
        del kernel.execute_cell_input, kernel.get_message  # the methods again
        if request:
            run.outputs.setdefault(item.cell_num, [])  # ran, even without output


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "call" and report.failed and _is_cell(item):
        run = item.config.stash[RUNS].get(Path(item.parent.path).name)
        if run is not None:
            run.failed.append(item.cell_num)
    return report


def pytest_runtest_teardown(item, nextitem):
    # after a notebook's last cell, whether or not every cell passed: a page that stops where
    # the run failed tells more than none
    if not _is_cell(item) or (nextitem is not None and nextitem.parent is item.parent):
        return
    run = item.config.stash[RUNS].get(Path(item.parent.path).name)
    if run is None:
        return
    try:
        run.write(item.parent.nb, executed_folder(item.config))
    except Exception as e:  # noqa: BLE001 - the notebook's own cells passed: not theirs to fail
        # the docs test then finds no executed copy of this notebook and says so
        import warnings

        warnings.warn(pytest.PytestWarning(f"{run.name}: its executed copy not written: {e}"),
                      stacklevel=1)  # fmt: skip


@pytest.fixture(scope="session")
def executed_notebooks(pytestconfig) -> dict[str, _Run]:
    """The notebooks run in this session and written with their outputs, by file name (none
    where only the docs test runs)."""
    return {name: run for name, run in pytestconfig.stash[RUNS].items() if run.path is not None}
