"""A real JupyterLab on 127.0.0.1 driven by Debian's chromium through Playwright, for the widget's
browser tests and benchmarks.

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
        self, root: Path, home: Path, *, launcher: list[str] | None = None, env: dict | None = None
    ) -> None:
        """``launcher``: a command that starts JupyterLab itself (such as scripts/lab.sh) and
        takes jupyter's arguments; it must serve ``root``. ``env``: more environment."""
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
        # no "get notified about Jupyter news?" toast over the page
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
            "--LabApp.expose_app_in_browser=True", "--ServerApp.disable_check_xsrf=False",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]  # fmt: skip
        if launcher is None:
            command = [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", "--allow-root",
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
                        f"JupyterLab did not start: {(home / 'lab.log').read_text()[-2000:]}"
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
        import signal

        # the whole process group: a launcher script's children (the server, its kernels) too
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.log.close()


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
