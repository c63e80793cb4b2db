"""Each pane's projection in the background: the Explorer shows at once, and each pane fills in
when its projection is done. A part of :class:`embedexplore.Explorer`.

Tag axes, and PCA and STD-PCA of up to :data:`AT_ONCE` points, take milliseconds and are
computed where the pane changes (in the constructor, or in the handler of a menu), so code that
reads a pane right after still finds its points. t-SNE and UMAP (seconds to minutes), and PCA of
more points (about 3 s for a million), run on a worker thread of the Explorer: meanwhile
the pane says ``computing…`` with its progress, and the kernel stays free to run cells and to
answer the page (audio, selections). :meth:`Projections.wait` blocks until they are done.

Generations. Every change of a pane (its model, layer or projection, or the rows shown: time
scale, view, every, music) starts a new generation of that pane. Results and progress reports of
an older generation are dropped, so a late t-SNE never draws over what a newer choice drew, and
the t-SNE they belong to stops at its next progress report (every 10 iterations). A UMAP (or a
PCA) cannot be stopped once it runs (umap-learn has no hook): it runs to its end, and what follows
waits. Only a pane's newest job waits to run: a menu clicked through five projections computes
one. The panes' jobs run one after the other, on one thread: two at once would share the same
cores, and the first pane would fill in no sooner than both.

Where no widget shows the panes (a script: see :func:`in_notebook`), the worker draws a progress
bar on stderr for each job. At the interpreter's exit the worker is stopped and waited for
(:func:`_stop_all`).

Threads. The worker sets the pane's traits itself (ipykernel sends a widget's messages from any
thread), but never while the kernel's own thread changes the Explorer's traits: both hold
:attr:`Projections.lock` for that. Without it, a result arriving while ``set_state`` applies the
page's changes would be caught in traitlets' held notifications (and rolled back with them where
the page's value is refused), and the two threads' ``hold_sync`` batches would mix.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
import weakref
from concurrent.futures import CancelledError

import numpy as np

from .widget import encode_xy

# the records of the Explorer come from its logger, wherever they are written
logger = logging.getLogger("embedexplore.explorer")

SIDES = ("left", "right")
#: Projections computed in the background; the others are computed at once...
BACKGROUND = ("tsne", "umap")
#: ... up to this many points (PCA of 100,000 points of 200 dimensions: about 0.3 s on 2 cores).
AT_ONCE = 100_000


def in_background(method: str, n: int) -> bool:
    """Whether a pane computes the projection ``method`` of ``n`` points in the background."""
    return n > 0 and (method in BACKGROUND or (method != "tags" and n > AT_ONCE))


#: At the interpreter's exit, how long to wait for a projection to stop.
EXIT_WAIT_SECONDS = 60

# the Projections whose worker runs: stopped at exit (see _stop_all)
_running: weakref.WeakSet = weakref.WeakSet()
# one projection computes at a time in this process, whichever Explorer asks: two t-SNEs or
# UMAPs at once only share the same cores (and numba's fallback threading layer, where no
# OpenMP or TBB is at hand, aborts on parallel calls from two threads)
_COMPUTING = threading.Lock()


def in_notebook() -> bool:
    """True in a Jupyter kernel (JupyterLab, Notebook, Voila, VS Code) or a marimo notebook:
    where the widget shows each pane's progress, and no progress bar is drawn for it."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if getattr(shell, "kernel", None) is not None:
        return True
    marimo = sys.modules.get("marimo")
    try:
        return bool(marimo is not None and marimo.running_in_notebook())
    except Exception:  # noqa: BLE001 - an old marimo without it: not worth failing for
        return False


class _Job:
    """A pane's projection waiting for the worker: ``compute(report)`` returns the points
    ``[n, 2]``; ``report(done)`` returns True when the job is stale and should stop."""

    def __init__(self, generation: int, name: str, n: int, compute, note: str = ""):
        self.generation = generation
        self.name = name  # "t-SNE"
        self.n = n
        self.compute = compute
        self.note = note  # e.g. that UMAP compiles on its first run, " (...)" after its name
        self.reports = name == "t-SNE"  # how far it is (the others do not say)


class Projections:
    """The state of both panes' projections, and the worker that computes them.

    Parameters
    ----------
    show : callable
        ``show(side, **traits)``: sets the pane's traits (``{side}_xy``, ``{side}_status``,
        ``{side}_computing``, ``{side}_progress``; each given one only). Called with
        :attr:`lock` held, by whichever thread.
    bars : bool, optional
        Draw a progress bar (on stderr) for each background projection, where no widget shows
        the panes' progress. By default: outside a notebook (see :func:`in_notebook`).
    """

    def __init__(self, show, *, bars: bool | None = None) -> None:
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self._show = show
        self._bars = (not in_notebook()) if bars is None else bars
        self.generation = dict.fromkeys(SIDES, 0)
        self.computing = dict.fromkeys(SIDES, False)
        self.progress = dict.fromkeys(SIDES, -1.0)
        self._pending: dict[str, _Job] = {}
        self._current: tuple[str, _Job] | None = None  # what the worker computes
        self._worker: threading.Thread | None = None

    # -- the kernel's thread ----------------------------------------------------------------------

    def start(self, side: str) -> int:
        """A new generation of ``side``: whatever was computing for it is stale from now on."""
        with self.lock:
            self.generation[side] += 1
            self._pending.pop(side, None)
            self._changed.notify_all()
            return self.generation[side]

    def finish(self, side: str, generation: int, xy: np.ndarray | None, error: str = "") -> bool:
        """Show the pane's points ``[n, 2]`` (normalised to [-0.95, 0.95]) or ``error``; False
        (and nothing shown) if ``generation`` is not the pane's newest."""
        data = b"" if xy is None else encode_xy(xy)
        with self.lock:
            if generation != self.generation[side]:
                return False
            self._set(side, computing=False, progress=-1.0, xy=data, status=error)
            return True

    def submit(self, side: str, job: _Job) -> None:
        """Compute ``job`` on the worker; the pane says it is computing (or waiting) until then."""
        with self.lock:
            if job.generation != self.generation[side]:
                return
            ahead = [(s, j) for s, j in self._pending.items() if s != side]
            if self._current is not None:
                ahead.insert(0, self._current)
            self._pending[side] = job
            if self._worker is None:
                # a daemon thread (a script may end while it computes), stopped at exit; started
                # before the pane says it computes, so that a pane never waits for no one
                self._worker = _thread(self._run, "embedexplore-projections")
                _running.add(self)
                self._worker.start()
            # waiting, a job has done nothing yet: 0 (-1 would say it computes without saying)
            self._set(side, xy=b"", computing=True, progress=0.0 if job.reports or ahead else -1.0,
                      status=_status(job, None, after=ahead[0] if ahead else None,
                                     side=side))  # fmt: skip

    def cancel(self, *, wait: float | None = None) -> None:
        """Make every job stale (a running t-SNE stops at its next report); then wait up to
        ``wait`` seconds for the worker to end."""
        with self.lock:
            for side in SIDES:
                self.start(side)
                if self.computing[side]:
                    self._set(side, computing=False, progress=-1.0, status="")
        worker = self._worker
        if wait is not None and worker is not None:
            worker.join(wait)

    @property
    def ready(self) -> bool:
        """True when no pane is computing."""
        with self.lock:
            return not any(self.computing.values())

    def wait(self, timeout: float | None = None, *, bar: bool = True) -> None:
        """Block until no pane is computing, with a progress bar where the panes' projections
        take a while (``bar``; not where the worker draws its own).

        Raises
        ------
        TimeoutError
            A pane still computes after ``timeout`` seconds.
        """
        from ._progress import progress_bar

        deadline = None if timeout is None else time.monotonic() + timeout
        shown = None
        try:
            with self.lock:
                while any(self.computing.values()):
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        busy = [s for s in SIDES if self.computing[s]]
                        raise TimeoutError(
                            f"the {' and '.join(busy)} pane{'s' if len(busy) > 1 else ''} still "
                            f"compute{'' if len(busy) > 1 else 's'} after {timeout} s: call "
                            "wait() again, or wait(timeout=None) to wait until done"
                        )
                    if shown is None and bar and not self._bars:
                        shown = progress_bar(total=100, desc="projections", unit="%")
                    if shown is not None:
                        share = [max(p, 0.0) for s, p in self.progress.items() if self.computing[s]]
                        todo = (len(share) - sum(share)) / 2  # of both panes
                        shown.n = min(100, round(100 * (1 - todo)))
                        shown.refresh()
                    self._changed.wait(0.25 if left is None else min(0.25, left))
            if shown is not None:
                shown.n = 100
        finally:
            if shown is not None:
                shown.close()

    # -- the worker's thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self.lock:
                self._current = None
                if not self._pending:
                    self._worker = None
                    _running.discard(self)
                    return
                side = next(iter(self._pending))
                job = self._pending.pop(side)
                self._current = (side, job)
            try:
                with self.lock:
                    if job.generation != self.generation[side]:
                        continue
                    self._set(side, progress=0.0 if job.reports else -1.0,
                              status=_status(job, None))  # fmt: skip
                self._compute(side, job)
            except Exception:  # e.g. an observer of the traits that raised: the worker goes on
                logger.exception("%s pane: could not show its %s", side, job.name)

    def _compute(self, side: str, job: _Job) -> None:
        bar = None
        if self._bars:
            from tqdm.auto import tqdm

            fmt = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]" if job.reports else (
                "{desc}: {elapsed}")  # fmt: skip
            bar = tqdm(total=100, desc=f"{job.name} of the {side} pane", bar_format=fmt,
                       file=sys.stderr, dynamic_ncols=True)  # fmt: skip

        def report(done: float | None) -> bool:
            with self.lock:
                if job.generation != self.generation[side]:
                    return True  # a newer choice: stop
                if done is not None:
                    self._set(side, progress=float(done), status=_status(job, done))
            if bar is not None and done is not None:
                bar.n = round(100 * done)
                bar.refresh()
            return False

        if not _COMPUTING.acquire(blocking=False):
            with self.lock:
                if job.generation == self.generation[side]:
                    self._set(side, status=f"{job.name} of {job.n:,} points: waiting for another "
                              "Explorer's projection…")  # fmt: skip
            while not _COMPUTING.acquire(timeout=0.25):
                with self.lock:
                    if job.generation != self.generation[side]:
                        if bar is not None:
                            bar.close()
                        return  # a newer choice came while this one waited
            with self.lock:
                if job.generation == self.generation[side]:
                    self._set(side, status=_status(job, None))
        xy, error = None, ""
        try:
            xy = job.compute(report)
        except CancelledError:
            logger.debug("%s pane: the %s of generation %d stopped", side, job.name,
                         job.generation)  # fmt: skip
            return
        except (ValueError, RuntimeError, MemoryError) as e:
            error = f"cannot project: {e}"
            logger.warning("%s pane: %s", side, error)
        except Exception as e:  # a bug: said in the pane, not lost in the thread
            error = f"cannot project: {type(e).__name__}: {e}"
            logger.exception("%s pane: the %s failed", side, job.name)
        finally:
            _COMPUTING.release()
            if bar is not None:
                if xy is not None:
                    bar.n = 100
                bar.close()
        if self.finish(side, job.generation, xy, error):
            logger.debug("%s pane: %s of %d points done", side, job.name, job.n)

    # -- both -------------------------------------------------------------------------------------

    def _set(self, side: str, **traits) -> None:
        # the one place a pane's projection traits change (the lock is held)
        if "computing" in traits:
            self.computing[side] = traits["computing"]
        if "progress" in traits:
            self.progress[side] = traits["progress"]
        self._show(side, **traits)
        self._changed.notify_all()


@atexit.register
def _stop_all() -> None:
    # A daemon thread still inside openTSNE, torch or numba when the interpreter finalises
    # aborts the process (seen: a script that ends while a t-SNE computes exits with SIGABRT).
    # Stopped here instead: a t-SNE within 10 iterations, a UMAP or a neighbour search only
    # at its end (at most EXIT_WAIT_SECONDS).
    deadline = time.monotonic() + EXIT_WAIT_SECONDS
    for projections in list(_running):
        projections.cancel(wait=max(0.0, deadline - time.monotonic()))


def _thread(target, name: str) -> threading.Thread:
    """A daemon thread for ``target``; in a marimo notebook, marimo's own (``mo.Thread``), which
    carries the cell's context: marimo before 0.23.14 drops what a widget sends from a plain
    thread (the panes would never get their points)."""
    marimo = sys.modules.get("marimo")
    try:
        if marimo is not None and marimo.running_in_notebook():
            return marimo.Thread(target=target, name=name, daemon=True)
    except Exception:  # noqa: BLE001 - a marimo without these: a plain thread, as elsewhere
        pass
    return threading.Thread(target=target, name=name, daemon=True)


def job(generation: int, name: str, n: int, compute, note: str = "") -> _Job:
    """A background projection of ``n`` points by the method called ``name`` (see
    :class:`Projections`)."""
    return _Job(generation, name, n, compute, note)


def _status(job: _Job, done: float | None, *, after=None, side: str = "") -> str:
    """What a pane says while its projection waits (``after``: the side and job ahead of it) or
    computes (``done``: the share, or None)."""
    what = f"{job.name} of {job.n:,} points{job.note}"
    if after is not None:
        other, ahead = after
        if other != side:
            return f"{what}: waiting for the {other} pane's {ahead.name}…"
        if ahead.name == "UMAP":  # the pane's own, superseded
            return f"{what}: waiting for the UMAP it replaces to end (UMAP cannot be stopped)…"
        return f"{what}: waiting for the {ahead.name} it replaces to stop…"
    percent = "" if done is None else f" {int(100 * done)}%"
    return f"{what}: computing…{percent}"
