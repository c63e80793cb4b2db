"""A real JupyterLab on 127.0.0.1 driven by Debian's chromium through Playwright, for the widget's
browser tests and benchmarks; also Notebook 7 (``Lab(..., app="notebook")``), and any other server
of pages (Voila, marimo: :class:`Served`).

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (installed by
``scripts/install_browser.sh``). WebGL then runs on SwiftShader; ``--disable-gpu`` keeps page
compositing in software too, the steadier setup on a 2-core machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server serving ``root``; ``url(path)`` opens a file in it."""

    def __init__(
        self,
        root: Path,
        home: Path,
        *,
        launcher: list[str] | None = None,
        env: dict | None = None,
        app: str = "lab",
    ) -> None:
        """``launcher``: a command that starts JupyterLab itself (such as scripts/lab.sh) and
        takes jupyter's arguments; it must serve ``root``. ``env``: more environment. ``app``:
        ``"lab"`` (JupyterLab) or ``"notebook"`` (Notebook 7, the same server and the same
        ``window.jupyterapp``, one document per page)."""
        if app not in ("lab", "notebook"):
            raise ValueError(f"app must be 'lab' or 'notebook', got {app!r}")
        self.app = app
        self.root = root
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.runtime = home / "runtime"
        extra = env or {}
        env = dict(os.environ)
        env.update(extra)
        env.update(
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_RUNTIME_DIR=str(self.runtime),
            JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
            IPYTHONDIR=str(home / "ipython"),
        )
        if app == "lab":
            # no "get notified about Jupyter news?" toast over the page (Notebook 7 has neither
            # the toast nor this plugin, and its settings registry fails on settings of a plugin
            # it lacks)
            news = home / "settings" / "@jupyterlab" / "apputils-extension"
            news.mkdir(parents=True, exist_ok=True)
            (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
        # never save a notebook the tests run (they may run the repository's own examples)
        docs = home / "settings" / "@jupyterlab" / "docmanager-extension"
        docs.mkdir(parents=True, exist_ok=True)
        (docs / "plugin.jupyterlab-settings").write_text('{"autosave": false}')
        self.log = open(home / "lab.log", "wb")  # noqa: SIM115 - closed in stop()
        args = [
            "--no-browser", f"--port={self.port}", f"--IdentityProvider.token={self.token}",
            "--ServerApp.disable_check_xsrf=False",
        ]  # fmt: skip
        if app == "lab":
            args += [
                "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ]  # fmt: skip
        else:
            args += ["--JupyterNotebookApp.expose_app_in_browser=True"]
        if launcher is None:
            module = "jupyterlab" if app == "lab" else "notebook"
            command = [sys.executable, "-m", module, "--ip=127.0.0.1", "--allow-root",
                       f"--ServerApp.root_dir={root}", *args]  # fmt: skip
        else:
            command = [*launcher, *args]
        self.proc = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        deadline = time.monotonic() + 180
        while True:
            try:
                self.api("status")
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"Jupyter did not start: {(home / 'lab.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.3)

    def api(self, path: str):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/{path}",
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def url(self, path: str) -> str:
        if self.app == "notebook":
            return f"http://127.0.0.1:{self.port}/notebooks/{path}?token={self.token}"
        return f"http://127.0.0.1:{self.port}/lab/tree/{path}?token={self.token}&reset"

    def kernel(self, notebook: str):
        """A client of the kernel that runs ``notebook`` (the same namespace as its cells)."""
        from jupyter_client import BlockingKernelClient

        sessions = [s for s in self.api("sessions") if s["path"].endswith(notebook)]
        if not sessions:
            raise RuntimeError(f"no kernel runs {notebook}")
        kid = sessions[0]["kernel"]["id"]
        client = BlockingKernelClient(connection_file=str(self.runtime / f"kernel-{kid}.json"))
        client.load_connection_file()
        client.start_channels()
        client.wait_for_ready(timeout=30)
        return client

    def stop(self) -> None:
        _stop_group(self.proc)
        self.log.close()


def _stop_group(proc: subprocess.Popen) -> None:
    """End ``proc`` and its whole process group: a launcher script's children (the server, its
    kernels) too."""
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


class Served:
    """A server of pages started by ``command`` (Voila, marimo, ``embedexplore app``), in its own
    process group, its output in ``log``; ready once ``http://127.0.0.1:{port}{probe}`` answers
    (any HTTP status: a login page is an answer too)."""

    def __init__(
        self, command: list[str], port: int, log: Path, *, env: dict | None = None,
        probe: str = "/", timeout: float = 180,
    ) -> None:  # fmt: skip
        self.port = port
        self.log_path = log
        full_env = dict(os.environ)
        full_env.update(env or {})
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=full_env,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=5).close()
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"{command[0]} did not serve port {port}: {self.output()[-3000:]}"
                    ) from None
                time.sleep(0.3)

    def output(self) -> str:
        """What the server printed so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            _stop_group(self.proc)
        self._log.close()


def evaluate(client, expression: str, timeout: float = 60):
    """Run ``expression`` in the kernel and return its value, which must be JSON."""
    out = []

    def keep(msg):
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    code = f"import json as _j; print('\\x1e' + _j.dumps({expression}))"
    reply = client.execute_interactive(code, output_hook=keep, timeout=timeout, store_history=False)
    text = "".join(out)
    if reply["content"]["status"] != "ok" or "\x1e" not in text:
        raise RuntimeError(f"the kernel could not evaluate {expression!r}: {text[-3000:]}")
    return json.loads(text.split("\x1e", 1)[1])


def notebook(path: Path, cells: list[str]) -> Path:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"c{i}",
                "metadata": {},
                "outputs": [],
                "source": src,
            }
            for i, src in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1))
    return path


@contextmanager
def chromium(profile: Path, *, width: int = 1600, height: int = 1000):
    """A headless chromium context (Playwright) on a fresh profile folder."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise FileNotFoundError("no /usr/bin/chromium (bash scripts/install_browser.sh, as root)")
    shutil.rmtree(profile, ignore_errors=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height},
        )  # fmt: skip
        try:
            yield context
        finally:
            context.close()


def run_all(page, timeout_ms: int = 240_000) -> None:
    """Run every cell of the open notebook and wait until the kernel is idle again."""
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
        timeout=120_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        "() => { const nb = window.jupyterapp.shell.currentWidget.content;"
        " return nb.widgets.every(c => c.model.type !== 'code' || (c.model.executionCount"
        " && !c.node.querySelector('.jp-InputArea-prompt').textContent.includes('*'))); }",
        timeout=timeout_ms,
    )


def screenshot_dir() -> Path:
    """Where the browser tests leave their screenshots (``EMBEDEXPLORE_SCREENSHOTS``)."""
    import tempfile

    folder = Path(
        os.environ.get("EMBEDEXPLORE_SCREENSHOTS")
        or Path(tempfile.gettempdir()) / "embedexplore-screenshots"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- the Explorer on any page: Lab, Notebook 7, Voila, marimo (whose widgets live in a shadow root,
# which Playwright's locators pierce and document.querySelector does not) -----------------------


def until(check, timeout: float = 60, what: str = "the page"):
    """Poll ``check()`` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not so after {timeout} s (last: {got!r})")
        time.sleep(0.2)


def coloured(page, side: str) -> int:
    """Pixels of the pane's 2-D canvas (what the WebGL renderer copies into) that are neither
    background nor grey: its drawn points."""
    return page.locator(f".ee-{side} canvas").first.evaluate(
        "(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let k = 0; for (let i = 0; i < d.length; i += 4)"
        " if (Math.abs(d[i] - d[i + 2]) > 40 || Math.abs(d[i + 1] - d[i + 2]) > 40) k++;"
        " return k; }"
    )


def wait_drawn(page, n: int, timeout: float = 180) -> None:
    """Wait until both panes have drawn ``n`` points: the pane says it drew, and its canvas
    holds at least 5 coloured pixels a point (whether the projection came with the widget or
    later, from a background thread)."""
    from playwright.sync_api import TimeoutError as NotYet

    for side in ("left", "right"):
        pane = page.locator(f".ee-{side}[data-drawn='1']")
        try:
            pane.wait_for(state="attached", timeout=timeout * 1000)
        except NotYet:
            status = page.locator(f".ee-{side} .ee-canvas-box").inner_text(timeout=5000)
            raise TimeoutError(
                f"the {side} pane drew no point in {timeout} s; it says: {status!r}"
            ) from None
        until(lambda side=side: coloured(page, side) > 5 * n, 30, f"{side} pane of {n} points")


def blob_centres(page, side: str, min_gap: float = 12.0) -> list[tuple[float, float]]:
    """Where on the page the pane's points are, found in its pixels (no kernel needed): the
    centres of the coloured blobs at least ``min_gap`` px from any other, farthest first."""
    import numpy as np
    from scipy import ndimage

    canvas = page.locator(f".ee-{side} canvas").first
    w, h, data = canvas.evaluate(
        "(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " const m = new Array(c.width * c.height); for (let i = 0; i < m.length; i++)"
        " m[i] = (Math.abs(d[4*i] - d[4*i + 2]) > 40 || Math.abs(d[4*i + 1] - d[4*i + 2]) > 40)"
        " ? 1 : 0; return [c.width, c.height, m]; }"
    )
    mask = np.asarray(data, bool).reshape(h, w)
    labels, k = ndimage.label(mask)
    if not k:
        return []
    centres = np.asarray(ndimage.center_of_mass(mask, labels, range(1, k + 1)))  # (y, x)
    box = canvas.bounding_box()
    page_xy = np.stack([box["x"] + centres[:, 1] * box["width"] / w,
                        box["y"] + centres[:, 0] * box["height"] / h], 1)  # fmt: skip
    d = np.linalg.norm(page_xy[:, None] - page_xy[None], axis=2)
    np.fill_diagonal(d, np.inf)
    gap = d.min(1) if k > 1 else np.full(1, np.inf)
    margin = 30
    inside = (
        (page_xy[:, 0] > box["x"] + margin) & (page_xy[:, 0] < box["x"] + box["width"] - margin)
        & (page_xy[:, 1] > box["y"] + margin)
        & (page_xy[:, 1] < box["y"] + box["height"] - 60)
    )  # fmt: skip
    order = [i for i in np.argsort(-gap) if inside[i] and gap[i] >= min_gap]
    return [tuple(page_xy[i]) for i in order]


def drag_polygon(page, corners, steps: int = 8, pause_ms: float = 20) -> None:
    """Press at the first of ``corners`` (page pixels), move along each edge in ``steps`` moves
    back to the first, and release: a lasso drawn as a hand would, slowly enough for the widget
    to take every move."""
    import numpy as np

    corners = [tuple(c) for c in corners]
    page.mouse.move(*corners[0])
    page.mouse.down()
    for a, b in zip(corners, corners[1:] + corners[:1], strict=True):
        for s in np.linspace(0, 1, steps + 1)[1:]:
            page.mouse.move(a[0] + s * (b[0] - a[0]), a[1] + s * (b[1] - a[1]))
            page.wait_for_timeout(pause_ms)
    page.mouse.up()


def hovered(page) -> int:
    """The point the widget reports hovered (-1: none)."""
    return int(page.locator(".ee-root").evaluate("(r) => r.dataset.hovered ?? '-1'"))


def label(page, side: str) -> dict:
    """The pane's hover label: shown, its text, the point it labels."""
    return page.locator(f".ee-{side} .ee-label").evaluate(
        "(l) => ({shown: getComputedStyle(l).display !== 'none', text: l.textContent,"
        " point: l.dataset.point})"
    )


def hover_linked(page, side: str = "left") -> tuple[int, dict]:
    """Hover an isolated point of ``side`` (found in its pixels); wait until the widget reports
    it hovered, and return it with the other pane's label."""
    other = "right" if side == "left" else "left"
    spots = blob_centres(page, side)
    assert spots, f"no isolated point to hover in the {side} pane"
    for x, y in spots[:5]:
        for dx in (0, 1, -1):
            page.mouse.move(x + dx, y)
            try:
                i = until(lambda: hovered(page) + 1, 3, "a hovered point") - 1
            except TimeoutError:
                continue
            return i, until(lambda i=i: (lb := label(page, other))["point"] == str(i) and lb,
                            10, f"the {other} pane's label")  # fmt: skip
    raise AssertionError(f"no point of the {side} pane reported hovered")


def click_plays(page, at: tuple[float, float]) -> dict:
    """Click at ``at`` (a point) and wait until the widget's player plays: its duration and
    the widget's audio state."""
    page.mouse.click(*at)
    audio = page.locator(".ee-audio")
    until(lambda: audio.evaluate("(a) => !a.paused && a.currentTime > 0.2"), 30, "the player")
    return {
        "duration": audio.evaluate("(a) => a.duration"),
        "state": page.locator(".ee-root").evaluate("(r) => r.dataset.audio"),
    }
