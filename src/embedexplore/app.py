"""The app: a page that explores a music folder with no code in sight, served by Voila.

    pip install 'embedexplore[app]'     # Voila, which serves the page
    embedexplore app ~/Music            # opens http://127.0.0.1:8866/?token=... in the browser

The page scans the folder, extracts what its store lacks (the progress of both shows on the
page), then shows the Explorer with its menus, and a bar that saves the selection (a lasso in
either pane) as a playlist.

How the pieces meet: :func:`serve` runs Voila on the notebook shipped beside this module
(``app_page/explore.ipynb``), whose one cell calls :func:`page`. The folder, the store, the
models and where playlists go reach that notebook's kernel through environment variables that
:func:`serve` sets (``EMBEDEXPLORE_APP_FOLDER`` and the others below), never through the page's
address: whoever opens the page cannot point it at another folder. The server listens on
127.0.0.1 only, behind a token, and serves no file of its own folder.

The extraction runs as ``embedexplore extract`` in a child process of the page's kernel: its
progress bar (the command's own text) is shown on the page line by line, the kernel stays free to
answer the page, and closing the page or stopping the server stops it (it continues where it
stopped the next time). The Explorer's panes then show their own progress while their
projections compute.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import html
import logging
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

__all__ = ["FOLDER_VAR", "MODELS_VAR", "NOTEBOOK", "PLAYLISTS_VAR", "STORE_VAR", "page", "serve"]

logger = logging.getLogger(__name__)

#: The notebook Voila serves: one cell, ``page()``.
NOTEBOOK = Path(__file__).parent / "app_page" / "explore.ipynb"
#: The music folder the page explores.
FOLDER_VAR = "EMBEDEXPLORE_APP_FOLDER"
#: The store (default: :func:`embedexplore.default_store` of the folder).
STORE_VAR = "EMBEDEXPLORE_APP_STORE"
#: The models to extract, separated by spaces (default: those of the store, or for a new store
#: the default of ``embedexplore extract``).
MODELS_VAR = "EMBEDEXPLORE_APP_MODELS"
#: Where playlists are saved (default: the folder the command was started in).
PLAYLISTS_VAR = "EMBEDEXPLORE_APP_PLAYLISTS"

#: The port tried first when none is given (Voila's own default), then the next few.
DEFAULT_PORT = 8866
_INSTALL = "pip install 'embedexplore[app]'"
_PLAYLIST_SUFFIXES = (".m3u8", ".m3u", ".xspf")
_ERROR_STYLE = "color:#b00020"


# -- the page (in the kernel Voila starts) ------------------------------------------------------


def page(folder=None, *, store=None, models=None, playlists=None):
    """The app's page: the work runs in the background, the page fills in as it goes.

    Scans ``folder``, runs ``embedexplore extract`` for what the store lacks (showing its
    progress), then shows the Explorer and the playlist bar. Returns at once; display the
    result (it is the notebook cell's output).

    Parameters
    ----------
    folder : str or os.PathLike, optional
        The music folder (default: ``$EMBEDEXPLORE_APP_FOLDER``).
    store : str or os.PathLike, optional
        The store (default: ``$EMBEDEXPLORE_APP_STORE``, else
        :func:`embedexplore.default_store` of the folder).
    models : sequence of str, optional
        Models to extract (default: ``$EMBEDEXPLORE_APP_MODELS``, else the store's models, else
        the default of ``embedexplore extract``).
    playlists : str or os.PathLike, optional
        The folder playlists are saved to (default: ``$EMBEDEXPLORE_APP_PLAYLISTS``, else the
        home folder: a kernel Voila starts runs in the notebook's folder, inside the installed
        package).

    Returns
    -------
    ipywidgets.VBox
        The page.

    Raises
    ------
    ValueError
        No folder given, nor in ``$EMBEDEXPLORE_APP_FOLDER``.
    """
    import ipywidgets as w

    from ._dirs import default_store

    folder = folder or os.environ.get(FOLDER_VAR)
    if not folder:
        raise ValueError(
            f"no music folder: start the app with `embedexplore app FOLDER`, or set {FOLDER_VAR}"
        )
    folder = Path(folder).expanduser().absolute()
    store = Path(store or os.environ.get(STORE_VAR) or default_store(folder)).expanduser()
    models = list(models or os.environ.get(MODELS_VAR, "").split())
    playlists = Path(playlists or os.environ.get(PLAYLISTS_VAR) or Path.home()).expanduser()

    title = w.HTML(f"<h2 style='margin:0.2em 0'>{html.escape(folder.name or str(folder))}</h2>")
    status = w.HTML(_text(f"scanning {folder} …"), layout=w.Layout(min_height="1.6em"))
    status.add_class("ee-app-status")
    bar = w.IntProgress(value=0, min=0, max=100, layout=w.Layout(width="60%"))
    box = w.VBox([title, status, bar])
    box.add_class("ee-app")
    work = _Work(box, status, bar, folder=folder, store=store, models=models,
                 playlists=playlists)  # fmt: skip
    # a plain thread: ipykernel sends the widgets' messages from any thread, and the cell must
    # end for Voila to hand the page to the browser
    threading.Thread(target=work.run, name="embedexplore-app", daemon=True).start()
    return box


class _Work:
    """What the page does in the background, step by step, each said in ``status``."""

    def __init__(self, box, status, bar, *, folder, store, models, playlists) -> None:
        self.box, self.status, self.bar = box, status, bar
        self.folder, self.store, self.models, self.playlists = folder, store, models, playlists

    def say(self, text: str, *, error: bool = False) -> None:
        self.status.value = _text(text, error=error)

    def run(self) -> None:
        try:
            self._run()
        except Exception as e:  # a thread's error is said on the page, not lost
            logger.exception("the app failed")
            self.say(f"{type(e).__name__}: {e}", error=True)
            self.bar.layout.display = "none"

    def _run(self) -> None:
        from .collection import scan
        from .embeddings import open_store
        from .explorer import Explorer

        if not self._extract():
            return
        self.say(f"reading the store {self.store} …")
        self.bar.layout.display = "none"
        collection = scan(self.folder, progress=False)  # the extraction left it in the cache
        embeddings = open_store(self.store, collection=collection)
        if not len(embeddings.segments):
            self.say(f"nothing to explore: no track of {self.folder} could be extracted",
                     error=True)  # fmt: skip
            return
        self.say(
            f"{len(embeddings.segments):,} segments of {len(embeddings.tracks):,} tracks: "
            "computing the maps …"
        )
        explorer = Explorer(collection, embeddings)
        saver = _SaveBar(explorer, self.playlists)
        self.say(
            f"{len(embeddings.segments):,} segments of {len(embeddings.tracks):,} tracks in "
            f"{self.folder}. Click a point to hear it; lasso a region, then save it as a playlist."
        )
        self.box.children = (*self.box.children[:2], explorer, saver.widget)

    def _extract(self) -> bool:
        """``embedexplore extract`` for what the store lacks, its progress on the page; False
        (and the reason said) if it failed."""
        models = self.models or _models_of(self.store)
        command = [sys.executable, "-m", "embedexplore", "extract", str(self.folder),
                   "--store", str(self.store)]  # fmt: skip
        if models:
            command += ["--models", *models]
        self.say(f"scanning {self.folder} and extracting what the store lacks …")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env)  # fmt: skip
        _children.add(proc)
        lines: list[str] = []
        try:
            for line in _lines(proc.stdout):
                lines.append(line)
                percent = re.search(r"(\d+)%\|", line)
                if percent:
                    self.bar.value = int(percent.group(1))
                self.say(line)
            code = proc.wait()
        finally:
            _children.discard(proc)
        if code != 0:
            said = [x for x in lines if "%|" not in x][-6:]
            self.say("\n".join(said) or f"embedexplore extract exited with status {code}",
                     error=True)  # fmt: skip
            self.bar.layout.display = "none"
            return False
        return True


def _models_of(store: Path) -> list[str]:
    """The models the store holds; none where it is new (extract's default then)."""
    from .embeddings import open_store
    from .store import StoreError

    try:
        return list(open_store(store).models)
    except (OSError, ValueError, StoreError):
        return []


def _lines(stream):
    """The lines of a child's output, a progress bar's ``\\r`` updates each a line of its own."""
    pending = b""
    while chunk := stream.read1(4096):
        pending += chunk
        *done, pending = re.split(rb"[\r\n]", pending)
        for raw in done:
            text = raw.decode("utf-8", "replace").strip()
            if text:
                yield text
    if pending.strip():
        yield pending.decode("utf-8", "replace").strip()


def _text(text: str, *, error: bool = False, **data) -> str:
    """``text`` as a block of the page; ``data``: attributes for the tests (``data-path``...)."""
    style = _ERROR_STYLE if error else "color:#333"
    attrs = "".join(
        f" data-{k.replace('_', '-')}='{html.escape(str(v), quote=True)}'" for k, v in data.items()
    )
    return f"<pre{attrs} style='{style};margin:0;white-space:pre-wrap'>{html.escape(text)}</pre>"


# the extractions running, stopped when the kernel ends (Voila shuts it down with the page)
_children: set[subprocess.Popen] = set()


@atexit.register
def _stop_children() -> None:
    for proc in list(_children):
        with contextlib.suppress(OSError):
            proc.terminate()


class _SaveBar:
    """A file name, a "save playlist" button, and what happened.

    A name is a file name in the playlists folder, never a path: whoever holds the page's token
    can write nowhere else (``embedexplore app --playlists DIR`` picks the folder). The proposed
    name is the first free ``embedexplore-<date>[-k].m3u8``; a name that
    exists is overwritten only after a second click on the button, which then says
    "overwrite"; editing the name asks again.
    """

    def __init__(self, explorer, folder: Path) -> None:
        import ipywidgets as w

        self.explorer = explorer
        self.folder = folder
        self.name = w.Text(value=self._free_name(), description="playlist",
                           layout=w.Layout(width="28em"))  # fmt: skip
        self.button = w.Button(description="save playlist", icon="save",
                               tooltip="save the selected tracks as a playlist")  # fmt: skip
        self.summary = w.HTML()
        self.result = w.HTML()
        self.summary.add_class("ee-app-summary")
        self.result.add_class("ee-app-saved")
        self.button.add_class("ee-app-save")
        self.name.add_class("ee-app-name")
        self._confirm: Path | None = None
        self.button.on_click(self._save)
        self.name.observe(self._renamed, "value")
        explorer.observe(self._selected, "selection")
        self._selected(None)
        where = w.HTML(_text(f"saved in {folder}"))
        self.widget = w.VBox([w.HBox([self.name, self.button]), where, self.summary, self.result])

    def _free_name(self) -> str:
        stem = f"embedexplore-{datetime.date.today().isoformat()}"
        for k in range(1, 10_000):
            name = f"{stem}{'' if k == 1 else f'-{k}'}.m3u8"
            if not (self.folder / name).exists():
                return name
        return f"{stem}-{secrets.token_hex(3)}.m3u8"

    def _target(self) -> Path:
        name = self.name.value.strip()
        if not name:
            raise ValueError("give the playlist a file name")
        path = Path(name)
        if path.name != name or name in (".", ".."):
            raise ValueError(
                f"a file name in {self.folder}, not a path: start the app with --playlists DIR "
                "to save elsewhere"
            )
        if not path.suffix:
            path = path.with_suffix(".m3u8")
        if path.suffix.lower() not in _PLAYLIST_SUFFIXES:
            raise ValueError(f"a playlist is .m3u8, .m3u or .xspf, not {path.suffix}")
        return self.folder / path

    def _selected(self, _change) -> None:
        from .playlist import MIN_SHARE

        rows = self.explorer.selection
        if not len(rows):
            self.summary.value = _text("nothing selected yet: lasso a region in either pane")
            return
        tracks = self.explorer.selected_tracks
        enter = int((tracks["share"] >= MIN_SHARE).sum())
        self.summary.value = _text(
            f"{len(rows):,} segments of {len(tracks):,} tracks selected; {enter:,} tracks have "
            f"at least {MIN_SHARE:.0%} of their segments selected and go into the playlist",
            segments=len(rows),
            tracks=enter,
        )

    def _renamed(self, _change) -> None:
        self._confirm = None
        self.button.description = "save playlist"

    def _save(self, _button) -> None:
        try:
            target = self._target()
        except ValueError as e:
            self.result.value = _text(str(e), error=True)
            return
        if not len(self.explorer.selection):
            self.result.value = _text("select segments first: lasso a region in either pane",
                                      error=True)  # fmt: skip
            return
        from .playlist import MIN_SHARE

        if not (self.explorer.selected_tracks["share"] >= MIN_SHARE).any():
            # an empty playlist would be no use, and could replace a good one
            self.result.value = _text(
                f"no track has {MIN_SHARE:.0%} of its segments selected: select more of a track",
                error=True,
            )
            return
        if target.exists() and self._confirm != target:
            self._confirm = target
            self.button.description = "overwrite"
            self.result.value = _text(f"{target} exists: click 'overwrite' to replace it, or "
                                      "change the name", error=True)  # fmt: skip
            return
        try:
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always")
                tracks = self.explorer.playlist(path=target)
        except OSError as e:
            self.result.value = _text(f"could not write {target}: {e.strerror or e}", error=True)
            return
        note = "".join(f"\n{x.message}" for x in said)
        self.result.value = _text(f"saved {len(tracks)} tracks to {target}{note}", path=target)
        self._confirm = None
        with self.name.hold_trait_notifications():
            self.name.value = self._free_name()  # the next save never replaces this one
        self.button.description = "save playlist"


# -- the server (the ``embedexplore app`` command) ----------------------------------------------


def serve(folder, *, store=None, models=None, playlists=None, port: int | None = None,
          open_browser: bool = True, verbose: bool = False) -> int:  # fmt: skip
    """Serve the app's page for ``folder`` with Voila on 127.0.0.1 until Ctrl-C.

    Parameters
    ----------
    folder : str or os.PathLike
        The music folder.
    store : str or os.PathLike, optional
        The store (default: :func:`embedexplore.default_store` of the folder).
    models : sequence of str, optional
        Models to extract (see :func:`page`).
    playlists : str or os.PathLike, optional
        Where playlists are saved (default: the current folder).
    port : int, optional
        The port (default: the first free of 8866-8875, else any free one).
    open_browser : bool, default: True
        Open the page in the default browser once the server listens.
    verbose : bool, default: False
        Voila's log too (else its errors only).

    Returns
    -------
    int
        0 once stopped.

    Raises
    ------
    ImportError
        Voila is not installed (the message says how to install it).
    ValueError
        ``folder`` is not a folder, or ``port`` is taken.
    """
    try:
        from voila.app import Voila
    except ImportError as e:
        raise ImportError(f"embedexplore app needs Voila ({e}): {_INSTALL}") from None
    from traitlets.config import Config

    from ._dirs import default_store

    folder = Path(folder).expanduser().absolute()
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    port = _port(port)
    token = secrets.token_urlsafe(24)
    url = f"http://127.0.0.1:{port}/?token={token}"
    store = Path(store).expanduser().absolute() if store else default_store(folder)
    os.environ[FOLDER_VAR] = str(folder)
    os.environ[STORE_VAR] = str(store)
    os.environ[PLAYLISTS_VAR] = str(Path(playlists or Path.cwd()).expanduser().absolute())
    if models:
        os.environ[MODELS_VAR] = " ".join(models)
    else:
        os.environ.pop(MODELS_VAR, None)
    kernels = _this_python_kernel()

    config = Config()
    config.Voila.ip = "127.0.0.1"
    config.Voila.port = port
    config.Voila.port_retries = 0
    config.Voila.open_browser = False  # Voila would open its address without the token
    config.Voila.token = token
    # Voila's warnings (an untrusted notebook: ours has no output to trust) would only puzzle
    config.Voila.log_level = logging.INFO if verbose else logging.ERROR
    # the page needs no file of its folder: serve none
    config.VoilaConfiguration.file_allowlist = []
    config.VoilaConfiguration.show_tracebacks = False
    print(
        f"embedexplore app: {folder}\n  store: {store}\n  playlists: {os.environ[PLAYLISTS_VAR]}"
        f"\n  open {url}\n  (Ctrl-C stops it)",
        flush=True,
    )
    if open_browser:
        threading.Thread(target=_open_when_up, args=(url, port), daemon=True).start()
    try:
        Voila.launch_instance(argv=[str(NOTEBOOK)], config=config)
    finally:
        Voila.clear_instance()
        kernels.cleanup()
    return 0


def _port(port: int | None) -> int:
    if port is not None:
        if not _free(port):
            raise ValueError(f"port {port} is in use: choose another with --port")
        return port
    for p in range(DEFAULT_PORT, DEFAULT_PORT + 10):
        if _free(p):
            return p
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _open_when_up(url: str, port: int) -> None:
    import webbrowser

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                webbrowser.open(url)
                return
        time.sleep(0.2)


def _this_python_kernel():
    """A kernel spec ``python3`` that runs this Python, first on ``JUPYTER_PATH``: a user's own
    ``python3`` kernel (another environment, without embedexplore) must not run the page."""
    import json
    import tempfile

    folder = tempfile.TemporaryDirectory(prefix="embedexplore-app-")
    spec = Path(folder.name) / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "Python 3 (embedexplore)", "language": "python"}
    ))  # fmt: skip
    paths = [folder.name, *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(paths)
    return folder
