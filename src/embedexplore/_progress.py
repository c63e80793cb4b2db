"""Progress bars: tqdm's, with one change in notebooks.

tqdm's notebook bar is an ipywidget. A saved notebook keeps the widget's *first* text form
("0%| | 0/30"), not its last, so every executed notebook would carry frozen, empty bars. Here the
notebook bar is shown under a display id and, once closed, its output is replaced by its final
line ("extracting on cpu: 100% 30/30 [01:49<00:00]"): the live bar while the work runs, an honest
line in the saved file. tqdm has no option for this, hence the subclass.
"""

from __future__ import annotations


def progress_bar(*, total: int, desc: str, unit: str, disable: bool = False, leave: bool = True):
    """A tqdm progress bar (see the module docstring for notebooks).

    Parameters
    ----------
    total : int
        Number of steps.
    desc : str
        Text before the bar.
    unit : str
        Name of one step.
    disable : bool
        No bar at all.
    leave : bool
        In a terminal, keep the bar's last line when done (else it is erased).

    Returns
    -------
    tqdm.tqdm
        Use ``update()`` and ``close()`` (or ``with``).
    """
    from tqdm.auto import tqdm

    kwargs = {"total": total, "desc": desc, "unit": unit, "dynamic_ncols": True}
    if disable:
        return tqdm(disable=True, **kwargs)
    try:
        from tqdm.notebook import tqdm as notebook_tqdm
    except ImportError:  # pragma: no cover - ipywidgets is a dependency
        notebook_tqdm = None
    if notebook_tqdm is None or not issubclass(tqdm, notebook_tqdm):  # not in a notebook
        return tqdm(leave=leave, **kwargs)
    return _NotebookBar(leave=True, **kwargs)


try:
    from tqdm.notebook import tqdm as _notebook_tqdm
except ImportError:  # pragma: no cover
    _notebook_tqdm = object


class _NotebookBar(_notebook_tqdm):
    def __init__(self, **kwargs):
        super().__init__(display=False, **kwargs)
        from IPython.display import display

        self._handle = display(self.container, display_id=True)
        self.displayed = True

    def close(self):
        if self.disable:
            return
        super().close()
        text = self.format_meter(**{**self.format_dict, "ncols": 0})
        if self._handle is not None:
            self._handle.update({"text/plain": text}, raw=True)
            self._handle = None
