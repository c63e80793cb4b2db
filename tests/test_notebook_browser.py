"""The README's first command, as a user meets it: scripts/lab.sh (what scripts/explore.sh runs
after the setup) serves examples/01_explore_your_collection.ipynb on 127.0.0.1; in chromium,
"Run All Cells" runs the notebook top to bottom and its Explorer draws both panes.

The notebook reads its music from the environment (its parameters cell): here the demo collection
already extracted for the test session, so the run does not extract it a second time. JupyterLab
runs with autosave off, and the test checks that the notebook file is left as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import jupyterlab as jl

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "01_explore_your_collection.ipynb"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not jl.CHROMIUM.exists(),
        reason="no /usr/bin/chromium: run bash scripts/install_browser.sh (as root)",
    ),
]


def test_first_command_serves_the_explore_notebook_and_its_explorer_draws(demo_store, tmp_path):
    folder, store = demo_store
    path = ROOT / "examples" / NOTEBOOK
    before = path.read_bytes()
    env = {
        "EMBEDEXPLORE_MUSIC": str(folder),
        "EMBEDEXPLORE_STORE": str(store),
        "EMBEDEXPLORE_OUT": str(tmp_path / "playlists"),
    }
    launcher = ["bash", str(ROOT / "scripts" / "lab.sh")]
    lab = jl.Lab(ROOT / "examples", tmp_path / "home", launcher=launcher, env=env)
    try:
        # what the script told the user, and that the server listens on the loopback only
        log = (tmp_path / "home" / "lab.log").read_text(errors="replace")
        assert "demo collection:" in log and "Opening JupyterLab on 127.0.0.1" in log
        assert lab.api("contents/" + NOTEBOOK)["name"] == NOTEBOOK
        with jl.chromium(tmp_path / "home" / "profile") as context:
            page = context.pages[0] if context.pages else context.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(lab.url(NOTEBOOK))
            jl.run_all(page, timeout_ms=480_000)
            # every cell's outputs, from the notebook's model (JupyterLab renders only the cells
            # in view, so the page's text would miss most of them)
            outputs = page.evaluate(
                "() => window.jupyterapp.shell.currentWidget.content.widgets"
                ".filter(c => c.model.type === 'code').map(c => c.model.toJSON().outputs)"
            )
            errors_out = [o for cell in outputs for o in cell if o["output_type"] == "error"]
            assert not errors_out, [(o["ename"], o["evalue"]) for o in errors_out]
            text = json.dumps(outputs)
            assert "423 segments of 30 tracks" in text and "#EXTM3U" in text
            page.wait_for_selector(".ee-left[data-drawn='1']", timeout=60_000)
            page.wait_for_selector(".ee-right[data-drawn='1']", timeout=60_000)
            # the cell after the Explorer selected a circle of points from code: both panes show it
            selected = page.evaluate(
                "() => [...document.querySelectorAll('.ee-pane')].map(p => p.dataset.selected)"
            )
            assert len(selected) == 2 and selected[0] == selected[1] and int(selected[0]) > 0
            page.locator(".ee-root").scroll_into_view_if_needed()
            page.screenshot(path=str(jl.screenshot_dir() / "notebook-01.png"))
            assert not errors, errors
    finally:
        lab.stop()
    assert path.read_bytes() == before, f"running {NOTEBOOK} changed the committed file"
    assert (tmp_path / "playlists" / "my_selection.m3u8").exists()
