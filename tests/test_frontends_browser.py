"""The Explorer in the other front-ends, in Debian's chromium: Notebook 7, Voila (the page of
``embedexplore app``) and marimo (``mo.ui.anywidget``).

Each test starts its own server and drives it as a person would: points drawn in both panes
(polled, whether the projections come with the widget or later from a background thread), a
hovered point labelled in the other pane, a click that plays the segment; in the app, a lasso
saved as a playlist with the page's button. Notebook 7 and marimo explore the demo collection
already extracted for the session (``demo_store``), every 3rd segment under t-SNE; the app
extracts four of its tracks into a fresh store itself, as it would for a user.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import jupyterlab as jl
from embedexplore.widget import decode_xy


def in_browser(test):
    """The marks of a browser test."""
    for mark in (
        pytest.mark.browser,
        pytest.mark.slow,
        pytest.mark.skipif(
            not jl.CHROMIUM.exists(),
            reason="no /usr/bin/chromium: run bash scripts/install_browser.sh (as root)",
        ),
    ):
        test = mark(test)
    return test


BIN = Path(sys.executable).parent
# every 3rd segment of the demo (141 of 423): quick t-SNEs, still well spread points
EVERY = 3


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """One chromium for the module; each test opens its own page."""
    with jl.chromium(tmp_path_factory.mktemp("frontends") / "profile") as ctx:
        yield ctx


# Notebook 7.6.5 (with JupyterLab 4.6.6) throws this by itself while its settings load, on any
# notebook, with or without the widget: its keyboard-shortcuts plugin reads the schema of a plugin
# that its settings registry does not hold. Only this error of its own bundle is let through.
NOTEBOOK7_OWN_ERROR = ("Cannot read properties of undefined (reading 'schema')",
                       "/static/notebook/notebook_core.")  # fmt: skip


def _page(context):
    page = context.new_page()
    errors: list[str] = []

    def error(e) -> None:
        stack = e.stack or ""
        message, bundle = NOTEBOOK7_OWN_ERROR
        if not (str(e) == message and stack.split("\n")[1:2] and bundle in stack.split("\n")[1]):
            errors.append(f"{e}\n{stack[:1500]}")

    page.on("pageerror", error)
    return page, errors


def _explorer_code(folder: Path, store: Path) -> str:
    return (
        "import embedexplore as ee\n"
        f"collection = ee.scan({str(folder)!r}, progress=False)\n"
        f"embeddings = ee.open_store({str(store)!r})\n"
        f"explorer = ee.Explorer(collection, embeddings, every={EVERY})\n"
    )


# -- Notebook 7 -------------------------------------------------------------------------------


@in_browser
def test_notebook7_draws_links_hover_and_plays(demo_store, context, tmp_path):
    pytest.importorskip("notebook", minversion="7", reason="pip install 'embedexplore[test]'")
    folder, store = demo_store
    root = tmp_path / "root"
    root.mkdir()
    jl.notebook(root / "explore.ipynb", [_explorer_code(folder, store) + "explorer"])
    lab = jl.Lab(root, tmp_path / "home", app="notebook")
    page, errors = _page(context)
    try:
        page.goto(lab.url("explore.ipynb"))
        page.wait_for_selector("#main-panel, .jp-NotebookPanel", timeout=60_000)
        # Notebook 7 is a JupyterLab application with one document: the same commands
        jl.run_all(page)
        kernel = lab.kernel("explore.ipynb")
        try:
            n = jl.evaluate(kernel, "explorer.n_points")
            assert n == len(range(0, jl.evaluate(kernel, "len(embeddings.segments)"), EVERY))
            jl.wait_drawn(page, n)
            i, other = jl.hover_linked(page, "left")
            expected = jl.evaluate(
                kernel, f"explorer.track_labels[int(explorer._point_tracks[{i}])]"
            )
            assert other["shown"] and expected in other["text"], (other, expected)
            assert jl.label(page, "left")["point"] == str(i)
            # the point under the mouse is the point the kernel has there (its pixel place)
            xy = decode_xy(bytes(jl.evaluate(kernel, "list(explorer.left_xy)"))).T.ravel()
            box = page.locator(".ee-left .ee-canvas-box").bounding_box()
            at = (box["x"] + box["width"] / 2 + float(xy[i]) * box["height"] / 2,
                  box["y"] + box["height"] / 2 - float(xy[n + i]) * box["height"] / 2)  # fmt: skip
            played = jl.click_plays(page, at)
            assert played["state"] == "playing" and abs(played["duration"] - 2.992) < 0.01
            page.locator(".ee-bar button", has_text="■").click()
        finally:
            kernel.stop_channels()
        page.screenshot(path=str(jl.screenshot_dir() / "notebook7.png"))
        assert not errors, errors
    finally:
        page.close()
        lab.stop()


# -- marimo -----------------------------------------------------------------------------------

MARIMO_APP = """import marimo

app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo

    {code}
    widget = mo.ui.anywidget(explorer)
    widget
    return


if __name__ == "__main__":
    app.run()
"""


@in_browser
def test_marimo_draws_and_links_hover(demo_store, context, tmp_path):
    pytest.importorskip("marimo", minversion="0.23.14", reason="pip install 'embedexplore[test]'")
    folder, store = demo_store
    code = _explorer_code(folder, store).replace("\n", "\n    ").strip()
    app = tmp_path / "explore_app.py"
    app.write_text(MARIMO_APP.format(code=code))
    port = jl.free_port()
    command = [str(BIN / "marimo"), "run", str(app), "--headless", "--host", "127.0.0.1",
               "--port", str(port), "--no-token", "--no-sandbox"]  # fmt: skip
    server = jl.Served(command, port, tmp_path / "marimo.log")
    page, errors = _page(context)
    try:
        page.goto(f"http://127.0.0.1:{port}/")
        # the number of points, from the demo's segments as the Explorer shows them
        n = len(range(0, 423, EVERY))
        try:
            jl.wait_drawn(page, n)
        except TimeoutError:
            raise AssertionError(f"marimo: panes not drawn; {server.output()[-3000:]}") from None
        i, other = jl.hover_linked(page, "right")
        assert other["shown"] and " - " in other["text"], other
        assert jl.label(page, "right")["point"] == str(i)
        played = jl.click_plays(page, jl.blob_centres(page, "left")[0])
        assert played["state"] == "playing" and abs(played["duration"] - 2.992) < 0.01
        page.screenshot(path=str(jl.screenshot_dir() / "marimo.png"))
        assert not errors, errors
    finally:
        page.close()
        server.stop()


# -- Voila: the page of `embedexplore app` ------------------------------------------------------

APP_TRACKS = ["Kick Theory", "Hammer & Felt"]  # two artists, two tracks each


@in_browser
def test_app_command_explores_a_folder_and_saves_a_playlist(demo_store, context, tmp_path):
    pytest.importorskip("voila", reason="pip install 'embedexplore[app]'")
    demo, _ = demo_store
    folder = tmp_path / "music"
    folder.mkdir()
    for artist in APP_TRACKS:
        for track in sorted((demo / artist).rglob("*.*"))[:2]:
            shutil.copy(track, folder / track.name)
    playlists = tmp_path / "playlists"
    playlists.mkdir()
    port = jl.free_port()
    command = [str(BIN / "embedexplore"), "app", str(folder), "--store", str(tmp_path / "store"),
               "--models", "musicnn-msd", "vgg-msd", "--playlists", str(playlists),
               "--port", str(port), "--no-browser"]  # fmt: skip
    server = jl.Served(command, port, tmp_path / "app.log")
    page, errors = _page(context)
    try:
        url = re.search(r"open (http://127\.0\.0\.1:\d+/\?token=\S+)", server.output()).group(1)
        # the token guards the page: without it, no page
        assert page.goto(url.split("?")[0]).url.split("?")[0].endswith("/login")
        page.goto(url)
        status = page.locator(".ee-app-status")
        # the extraction's progress on the page (its bar's lines, as the command prints them),
        # then the Explorer
        seen: list[str] = []

        def explorer_shown():
            text = status.inner_text()
            if not seen or seen[-1] != text:
                seen.append(text)
            return "segments of 4 tracks in" in text

        jl.until(explorer_shown, 180, "the app's status")
        bars = [t for t in seen if re.search(r"extracting on \w+: +\d+%\|", t)]
        assert bars, seen
        n = int(re.search(r"([\d,]+) segments", status.inner_text()).group(1).replace(",", ""))
        jl.wait_drawn(page, n)
        # no code on the page, the Explorer's controls are there
        assert page.locator(".jp-InputArea, .jp-CodeMirrorEditor, .cm-editor").count() == 0
        assert "page()" not in page.content()
        for control in ("lasso", "pan", "box"):
            assert page.locator(".ee-bar button", has_text=control).count() == 1
        assert page.locator(".ee-left .ee-pane-header select").count() >= 3
        _, other = jl.hover_linked(page, "left")
        assert other["shown"] and " - " in other["text"], other

        # a lasso around the leftmost group of points of the left pane
        rect = _leftmost_group(page)
        page.locator(".ee-bar button", has_text="lasso").click()
        corners = [(rect[0], rect[1]), (rect[2], rect[1]), (rect[2], rect[3]), (rect[0], rect[3])]
        jl.drag_polygon(page, corners, steps=7)
        right = page.locator(".ee-right")
        selected = int(jl.until(lambda: int(right.get_attribute("data-selected") or 0), 20))
        summary = page.locator(".ee-app-summary pre")
        jl.until(lambda: summary.get_attribute("data-segments") == str(selected), 20, "summary")
        tracks = int(summary.get_attribute("data-tracks"))
        assert 1 <= tracks < 4, summary.inner_text()  # one group: not the whole collection

        name = page.locator(".ee-app-name input").input_value()
        assert re.fullmatch(r"embedexplore-\d{4}-\d{2}-\d{2}\.m3u8", name), name
        page.locator(".ee-app-save").click()
        saved = page.locator(".ee-app-saved pre[data-path]")
        saved.wait_for(timeout=20_000)
        path = Path(saved.get_attribute("data-path"))
        assert path == playlists / name and str(path) in saved.inner_text()
        entries = [x for x in path.read_text().splitlines() if x and not x.startswith("#")]
        assert len(entries) == tracks
        assert all(Path(e).parent == folder and Path(e).exists() for e in entries), entries
        # the next name is another file: a second save never replaces the first
        assert page.locator(".ee-app-name input").input_value() != name
        # a name that exists is replaced only after asking
        page.locator(".ee-app-name input").fill(name)
        page.locator(".ee-app-save").click()
        jl.until(lambda: "exists" in page.locator(".ee-app-saved").inner_text(), 20, "asked")
        assert page.locator(".ee-app-save").inner_text().strip() == "overwrite"
        assert path.read_text().count("\n") > 1  # still the playlist: nothing written yet
        path.write_text("#EXTM3U\n")
        page.locator(".ee-app-save").click()  # the second click replaces it
        jl.until(lambda: path.read_text() != "#EXTM3U\n", 20, "the playlist replaced")
        replaced = [x for x in path.read_text().splitlines() if x and not x.startswith("#")]
        assert replaced == entries
        page.screenshot(path=str(jl.screenshot_dir() / "app.png"))
        assert not errors, errors
    finally:
        page.close()
        server.stop()
    assert "Traceback" not in server.output(), server.output()[-3000:]


def _leftmost_group(page) -> tuple[float, float, float, float]:
    """A rectangle (page pixels) around the leftmost group of the left pane's points: its
    blobs up to the first horizontal gap of 40 px, with a margin of 12 px."""
    spots = np.asarray(jl.blob_centres(page, "left", min_gap=0), np.float64)
    assert len(spots), "no point drawn in the left pane"
    spots = spots[np.argsort(spots[:, 0])]
    gaps = np.flatnonzero(np.diff(spots[:, 0]) > 40)
    group = spots[: gaps[0] + 1] if len(gaps) else spots
    (x0, y0), (x1, y1) = group.min(0) - 12, group.max(0) + 12
    return x0, y0, x1, y1


def test_app_command_without_voila_says_how_to_install_it(tmp_path):
    import subprocess

    # Voila hidden from the command as if not installed (None in sys.modules fails its import)
    code = (
        "import sys; sys.modules['voila'] = sys.modules['voila.app'] = None\n"
        "from embedexplore.cli import main; sys.exit(main(['app', sys.argv[1], '--no-browser']))"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1
    assert "pip install 'embedexplore[app]'" in done.stderr, done.stderr


def test_the_app_page_says_why_when_the_folder_holds_no_music(tmp_path):
    # the page's work without a front-end (ipywidgets without a kernel): the extraction runs
    # and fails, and the status says why, in red, instead of a traceback lost in a thread
    from embedexplore.app import page

    empty = tmp_path / "empty"
    empty.mkdir()
    box = page(empty, store=tmp_path / "store", models=["musicnn-msd"], playlists=tmp_path)
    status = box.children[1]
    jl.until(lambda: "b00020" in status.value, 120, "the page's error")
    assert "no audio file" in status.value or "nothing to explore" in status.value, status.value
    assert len(box.children) == 3  # no Explorer
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


def test_the_save_bar_writes_only_in_its_folder_and_never_an_empty_playlist(demo_store, tmp_path):
    # the page's "save playlist" bar without a front-end: whoever holds the page's token can
    # click it and type any name, so a name is a file name in the playlists folder, and a
    # selection that makes no playlist writes nothing (it could replace a good one)
    import embedexplore as ee
    from embedexplore.app import _SaveBar
    from embedexplore.playlist import MIN_SHARE

    folder, store = demo_store
    x = ee.Explorer(ee.scan(folder, progress=False), ee.open_store(store),
                    left={"projection": "pca"}, right={"projection": "pca"})  # fmt: skip
    out = tmp_path / "playlists"
    out.mkdir()
    bar = _SaveBar(x, out)
    segments = x.embeddings.segments
    first = segments["track_id"] == segments["track_id"].iloc[0]
    x.selection = np.flatnonzero(first.to_numpy())[:1]  # one segment of a longer track
    assert (x.selected_tracks["share"] < MIN_SHARE).all()
    bar.name.value = "mine.m3u8"
    bar._save(None)
    assert "no track has 25%" in bar.result.value and not any(out.iterdir())
    x.selection = np.flatnonzero(first.to_numpy())  # the whole track
    for name in ("../escape.m3u8", str(tmp_path / "elsewhere.m3u8"), "sub/dir.m3u8", ".."):
        bar.name.value = name
        bar._save(None)
        assert "not a path" in bar.result.value or "file name" in bar.result.value, name
    assert not (tmp_path / "escape.m3u8").exists() and not (tmp_path / "elsewhere.m3u8").exists()
    assert not any(out.iterdir())
    bar.name.value = "mine"
    bar._save(None)
    written = out / "mine.m3u8"
    assert written.is_file() and "saved 1 tracks" in bar.result.value
    entries = [ln for ln in written.read_text().splitlines() if ln and not ln.startswith("#")]
    track = x.embeddings.tracks.loc[segments["track_id"].iloc[0], "path"]
    assert len(entries) == 1 and Path(entries[0]).name == Path(track).name, entries
