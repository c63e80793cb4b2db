"""The Explorer in a real JupyterLab, in Debian's chromium: both panes draw, hover labels on both
panes (also while the kernel is busy), a lasso selects exactly the points inside it (checked in the
kernel against a point-in-polygon test done here), a click plays the segment; a registered model of
another clock in the menus, the windows both panes then show, the time-scale menu; each pane's
progress while its t-SNE computes in the background, then its points; and panes of 600,000
points: the subsample drawn while panning (with its note), the still picture drawn again over
several frames as it was, a lasso found exactly through the index built in a Web Worker.

One JupyterLab and one browser serve the whole module: one page for the demo collection, another
for the store of two clocks. The tests run in file order and each leaves its page as it found it
(nothing hovered, nothing selected).
"""

from __future__ import annotations

import inspect
import time
from contextlib import contextmanager

import numpy as np
import pytest
from matplotlib.path import Path as Polygon

import jupyterlab as jl

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not jl.CHROMIUM.exists(),
        reason="no /usr/bin/chromium: run bash scripts/install_browser.sh (as root)",
    ),
]

NOTEBOOK = "explore.ipynb"
CLOCKS_NOTEBOOK = "clocks.ipynb"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """JupyterLab serving a fresh folder, and a chromium context: ``(lab, context, folder)``."""
    root = tmp_path_factory.mktemp("lab")
    home = tmp_path_factory.mktemp("labhome")
    lab = jl.Lab(root, home)
    try:
        with jl.chromium(home / "profile") as context:
            yield lab, context, root
    finally:
        lab.stop()


@contextmanager
def _opened(browser, notebook: str, cells: list[str], page=None):
    """``notebook`` written, opened in ``page`` (default: a new one, closed after), run, both
    panes drawn (their projections done: they compute after the cell): ``(lab, page, kernel,
    errors)``."""
    lab, context, root = browser
    jl.notebook(root / notebook, cells)
    own = page is None
    page = context.new_page() if own else page
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(lab.url(notebook))
        jl.run_all(page)
        page.wait_for_selector(".ee-left[data-drawn='1']", timeout=240_000)
        page.wait_for_selector(".ee-right[data-drawn='1']", timeout=240_000)
        kernel = lab.kernel(notebook)
        try:
            yield lab, page, kernel, errors
        finally:
            kernel.stop_channels()
    finally:
        if own:
            page.close()


@pytest.fixture(scope="module")
def session(browser, demo_store):
    folder, store = demo_store
    _, context, _ = browser
    with _opened(browser, NOTEBOOK, [
        "import embedexplore as ee\n"
        f"collection = ee.scan({str(folder)!r}, progress=False)\n"
        f"embeddings = ee.open_store({str(store)!r})",
        "explorer = ee.Explorer(collection, embeddings)\nexplorer",
    ], page=context.pages[0] if context.pages else None) as opened:  # fmt: skip
        yield opened


@contextmanager
def _recording(browser, notebook: str, recorder: str):
    """``notebook`` opened in a new page (closed after) whose every document runs ``recorder``
    as it loads (JupyterLab's "reset" loads the page again), then run: ``(page, errors)``."""
    lab, context, _ = browser
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.add_init_script(f"window.addEventListener('DOMContentLoaded', {recorder});")
        page.goto(lab.url(notebook))
        jl.run_all(page)
        yield page, errors
    finally:
        page.close()


def _points(kernel, side: str):
    """The pane's points in normalised coordinates [n, 2] and the segment row of each."""
    decode = "__import__('embedexplore.widget').widget.decode_xy"
    xy = jl.evaluate(kernel, f"{decode}(explorer.{side}_xy).T.ravel().tolist()")
    rows = jl.evaluate(kernel, "explorer._point_rows.tolist()")
    xy = np.asarray(xy, np.float64).reshape(2, -1).T
    return xy, np.asarray(rows, np.int64)


def _pixels(page, side: str, xy: np.ndarray) -> np.ndarray:
    """Where regl-scatterplot draws normalised points in its initial view: the data's [-1, 1]
    spans the canvas height, centred, with the same scale on both axes."""
    box = page.locator(f".ee-{side} .ee-canvas-box").bounding_box()
    w, h = box["width"], box["height"]
    return np.stack([box["x"] + w / 2 + xy[:, 0] * h / 2, box["y"] + h / 2 - xy[:, 1] * h / 2], 1)


def _within(px: np.ndarray, box, margin: float) -> np.ndarray:
    x, y = px[:, 0], px[:, 1]
    return (
        (x > box["x"] + margin)
        & (x < box["x"] + box["width"] - margin)
        & (y > box["y"] + margin)
        & (y < box["y"] + box["height"] - margin)
    )


def _isolated(px: np.ndarray, box, min_gap: float = 5.0) -> int:
    """The point farthest from its nearest neighbour (at least ``min_gap`` px), well inside."""
    d = np.linalg.norm(px[:, None] - px[None], axis=2)
    np.fill_diagonal(d, np.inf)
    inside = _within(px, box, 30) & (px[:, 1] < box["y"] + box["height"] - 60)
    gap = np.where(inside, d.min(1), 0)
    assert gap.max() >= min_gap, "no isolated point to hover"
    return int(gap.argmax())


def _target(page, kernel, side: str) -> tuple[int, np.ndarray]:
    """The most isolated point of a pane (see :func:`_isolated`) and its place on the page."""
    xy, _ = _points(kernel, side)
    box = page.locator(f".ee-{side} .ee-canvas-box").bounding_box()
    px = _pixels(page, side, xy)
    i = _isolated(px, box)
    return i, px[i]


def _hover(page, i: int, at: np.ndarray, timeout: float = 30_000) -> None:
    """Move the mouse onto point ``i`` and wait until the widget reports it hovered."""
    page.mouse.move(*at)
    page.wait_for_function(
        "(i) => document.querySelector('.ee-root').dataset.hovered === i", arg=str(i),
        timeout=timeout,
    )  # fmt: skip


def _label(page, side: str) -> dict:
    return page.evaluate(
        "(side) => { const l = document.querySelector(`.ee-${side} .ee-label`);"
        " return {shown: getComputedStyle(l).display !== 'none', text: l.textContent,"
        " point: l.dataset.point}; }",
        side,
    )


def _unhover(page) -> None:
    page.mouse.move(5, 5)
    page.wait_for_function("() => document.querySelector('.ee-root').dataset.hovered === '-1'")


def test_both_panes_draw_points(session):
    _, page, kernel, errors = session
    n = jl.evaluate(kernel, "explorer.n_points")
    assert n == jl.evaluate(kernel, "len(embeddings.segments)") > 100
    for side in ("left", "right"):
        # the 2-D canvas the WebGL renderer copies into
        coloured = _coloured(page, side)
        assert coloured > 5 * n, f"{side} pane: only {coloured} coloured pixels for {n} points"
    legend = page.locator(".ee-legend").inner_text()
    assert "Fuzz Cathedral" in legend  # an artist of the demo collection
    assert not errors, errors


def _coloured(page, side: str) -> int:
    """Pixels of the pane's 2-D canvas that are neither background nor grey."""
    return page.evaluate(
        "(side) => { const c = document.querySelector(`.ee-${side} canvas`);"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let k = 0; for (let i = 0; i < d.length; i += 4)"
        " if (Math.abs(d[i] - d[i + 2]) > 40 || Math.abs(d[i + 1] - d[i + 2]) > 40) k++;"
        " return k; }",
        side,
    )


def test_trajectories_and_averages_draw(session):
    _, page, kernel, errors = session
    n_tracks = jl.evaluate(kernel, "len(embeddings.tracks)")
    for view, n in (("trajectories", jl.evaluate(kernel, "explorer.n_points")),
                    ("averages", n_tracks)):  # fmt: skip
        before = page.evaluate("() => Number(document.querySelector('.ee-left').dataset.draws)")
        # the panes' t-SNE of the averages computes in the background: wait() for it
        jl.evaluate(kernel, f"explorer.__setattr__('view', {view!r}) or explorer.wait().n_points")
        _settled(page, before)
        page.wait_for_timeout(1500)  # the trajectories' splines are computed in a worker
        for side in ("left", "right"):
            assert _coloured(page, side) > 5 * n, (view, side)
        page.screenshot(path=str(jl.screenshot_dir() / f"{view}.png"))
    before = page.evaluate("() => Number(document.querySelector('.ee-left').dataset.draws)")
    jl.evaluate(kernel, "explorer.__setattr__('view', 'segments') or explorer.wait() and 0")
    _settled(page, before)
    page.wait_for_timeout(500)
    assert not errors, errors


def _settled(page, draws_before: int) -> None:
    """Wait until the left pane drew again and both panes show points, none computing."""
    page.wait_for_function(
        "(b) => { const ps = [...document.querySelectorAll('.ee-pane')];"
        " return Number(ps[0].dataset.draws) > b"
        " && ps.every(p => p.dataset.drawn === '1' && !p.dataset.computing); }",
        arg=draws_before,
        timeout=120_000,
    )


def _marks(page, side: str) -> str:
    """What the pane's overlay marks: "hover", "linked", "playing", space-separated."""
    return page.evaluate(
        "(side) => document.querySelector(`.ee-${side} .ee-overlay`).dataset.marks || ''", side
    )


def test_hover_shows_the_label_on_both_panes(session):
    _, page, kernel, _ = session
    i, at = _target(page, kernel, "left")
    draws = {side: _draws(page, side) for side in ("left", "right")}
    _hover(page, i, at)
    # the hovered point is marked in its pane, the same point marked in the other, on the panes'
    # overlays: no point was drawn again for it
    assert (_marks(page, "left"), _marks(page, "right")) == ("hover", "linked")
    page.wait_for_timeout(300)
    assert {side: _draws(page, side) for side in ("left", "right")} == draws
    expected = jl.evaluate(kernel, f"explorer.track_labels[int(explorer._point_tracks[{i}])]")
    for side in ("left", "right"):
        label = _label(page, side)
        assert label["shown"] and label["point"] == str(i), (side, label)
        assert expected in label["text"], (side, label, expected)
    # time in the track and three tags of each pane's own model
    seg = jl.evaluate(kernel, f"int(embeddings.segments['segment'].iat[{i}])")
    start = seg * 2.992
    assert f"{int(start // 60)}:{int(start % 60):02d}" in _label(page, "left")["text"]
    tags = jl.evaluate(
        kernel, f"[explorer.left_tag_names[k] for k in explorer.left_tags[3*{i}:3*{i}+3]]"
    )
    assert ", ".join(tags) in _label(page, "left")["text"]
    # the picture in the README (docs/explorer.png) is this one
    page.locator(".ee-root").screenshot(path=str(jl.screenshot_dir() / "explorer.png"))
    _unhover(page)
    assert not _label(page, "right")["shown"]
    assert (_marks(page, "left"), _marks(page, "right")) == ("", "")


def test_linking_works_while_the_kernel_is_busy(session):
    _, page, kernel, _ = session
    i, at = _target(page, kernel, "right")
    kernel.execute("import time; time.sleep(6)")
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
        " === 'busy'"
    )
    _hover(page, i, at, timeout=3000)
    label = _label(page, "left")
    busy = page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
    )
    assert label["shown"] and label["point"] == str(i)
    assert busy == "busy", "the kernel finished before the hover was checked"
    _unhover(page)
    kernel.get_shell_msg(timeout=30)  # the sleep's reply


def _polygon(px: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, 7)[:-1] + 0.3
    return centre + radius * np.stack([np.cos(angles), np.sin(angles) * 0.8], 1)


def _edge_distance(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    a, b = poly, np.roll(poly, -1, axis=0)
    ab = b - a
    t = np.clip(((points[:, None] - a) * ab).sum(2) / (ab * ab).sum(1), 0, 1)
    closest = a + t[..., None] * ab
    return np.linalg.norm(points[:, None] - closest, axis=2).min(1)


def test_lasso_selects_the_points_inside_on_both_panes(session):
    _, page, kernel, errors = session
    xy, rows = _points(kernel, "left")
    box = page.locator(".ee-left .ee-canvas-box").bounding_box()
    px = _pixels(page, "left", xy)
    # a hexagon around some cluster whose edges pass no closer than 6 px to any point, so that
    # the few pixels a browser's mouse sampling may shave off cannot change what is inside
    rng = np.random.default_rng(7)
    poly = None
    for j in rng.permutation(len(px)):
        for radius in (45, 60, 75, 90):
            cand = _polygon(px, px[j], radius)
            inside_box = _within(cand, box, 5)
            inside = Polygon(cand).contains_points(px)
            if (
                inside_box.all()
                and 5 <= inside.sum() < len(px)
                and _edge_distance(px, cand).min() > 6
            ):
                poly = cand
                break
        if poly is not None:
            break
    assert poly is not None, "no clean polygon found"
    expected = np.sort(rows[Polygon(poly).contains_points(px)])

    page.locator(".ee-bar button", has_text="lasso").click()
    jl.drag_polygon(page, poly, steps=7)
    page.wait_for_function("() => document.querySelector('.ee-right').dataset.selected > 0")
    deadline = time.monotonic() + 20
    while True:
        got = np.asarray(jl.evaluate(kernel, "explorer.selection.tolist()"), np.int64)
        if len(got) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    np.testing.assert_array_equal(got, expected)
    right = page.evaluate("() => Number(document.querySelector('.ee-right').dataset.selected)")
    assert right == len(expected)
    tracks = jl.evaluate(kernel, "explorer.selected_tracks['n_selected'].sum().item()")
    assert tracks == len(expected)
    page.screenshot(path=str(jl.screenshot_dir() / "lasso.png"))
    # a selection made in code is shown in both panes
    jl.evaluate(kernel, f"explorer.__setattr__('selection', {expected[:3].tolist()}) or 0")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.ee-pane')].every(p => p.dataset.selected === '3')"
    )
    # clearing from code clears the browser's selection
    jl.evaluate(kernel, "explorer.__setattr__('selection', []) or 0")
    page.wait_for_function("() => document.querySelector('.ee-right').dataset.selected === '0'")
    page.locator(".ee-bar button", has_text="pan").click()
    assert not errors, errors


def test_click_plays_the_segment(session):
    _, page, kernel, errors = session
    i, at = _target(page, kernel, "left")
    _hover(page, i, at)
    page.mouse.click(*at)
    page.wait_for_function(
        "() => { const a = document.querySelector('.ee-audio');"
        " return !a.paused && a.currentTime > 0.2; }",
        timeout=30_000,
    )
    state = page.evaluate(
        "() => { const a = document.querySelector('.ee-audio');"
        " return {duration: a.duration, state: document.querySelector('.ee-root').dataset.audio}; }"
    )
    assert state["state"] == "playing"
    assert abs(state["duration"] - 2.992) < 0.01  # exactly one segment
    page.locator(".ee-bar button", has_text="■").click()
    jl.evaluate(kernel, "explorer.__setattr__('selection', []) or 0")
    _unhover(page)
    assert not errors, errors


# -- a registered model of another clock, and the time scales (issue 17) ------------------------


@pytest.fixture(scope="module")
def clocks_session(browser, clocks_store):
    """The store of vgg-msd (2.992 s) and the tests' "tiny" (1 s, registered in the notebook as a
    user would), both panes VGG to begin with."""
    from tinymodel import TINY, tiny_model

    folder, store = clocks_store
    with _opened(browser, CLOCKS_NOTEBOOK, [
        "import embedexplore as ee\n" + inspect.getsource(tiny_model)
        + f"ee.register_model('tiny', tiny_model(), **{TINY!r})",
        f"collection = ee.scan({str(folder)!r}, progress=False)\n"
        f"embeddings = ee.open_store({str(store)!r})\n"
        "vgg = {'model': 'vgg-msd', 'projection': 'pca'}\n"
        "explorer = ee.Explorer(collection, embeddings, left=vgg, right=vgg, color_by='none')\n"
        "explorer",
    ]) as opened:  # fmt: skip
        yield opened


def _draws(page, side: str) -> int:
    return page.evaluate(f"() => Number(document.querySelector('.ee-{side}').dataset.draws)")


def _redrawn(page, kernel, before: dict, n: int) -> None:
    """Wait until the panes of ``before`` (their draw counts) drew again and show ``n`` points;
    check both are drawn (coloured pixels, as test_both_panes_draw_points counts)."""
    for side in before:
        page.wait_for_function(
            f"(b) => Number(document.querySelector('.ee-{side}').dataset.draws) > b",
            arg=before[side],
        )
    page.wait_for_timeout(500)
    assert jl.evaluate(kernel, "explorer.n_points") == n
    for side in ("left", "right"):
        coloured = _coloured(page, side)
        assert coloured > 5 * n, f"{side} pane: only {coloured} coloured pixels for {n} points"


def _hover_soon(page, i: int, at: np.ndarray, timeout: float = 30.0) -> None:
    """As :func:`_hover`, the mouse nudged by a pixel every second: just after new points are
    drawn, a pane may not find the point under the mouse yet, and one move is not tried again."""
    from playwright.sync_api import TimeoutError as NotYet

    deadline = time.monotonic() + timeout
    for k in range(10**6):
        page.mouse.move(at[0] + k % 2, at[1])
        try:
            page.wait_for_function(
                "(i) => document.querySelector('.ee-root').dataset.hovered === i", arg=str(i),
                timeout=1000,
            )  # fmt: skip
            return
        except NotYet:
            if time.monotonic() > deadline:
                raise


def test_a_registered_model_of_another_clock_in_the_menu(clocks_session):
    _, page, kernel, errors = clocks_session
    note = page.locator(".ee-scale-note")
    assert not note.is_visible()  # both panes VGG: its own segments
    menu = page.locator(".ee-right .ee-pane-header select").first
    options = menu.locator("option").all_inner_texts()
    assert options == ["vgg-msd (vgg, MSD, 2.992 s segments)", "tiny (custom, 1 s segments)"]
    # the left pane's points stay: VGG's mean in each 2.992 s window is its segment there
    before = {"right": _draws(page, "right")}
    menu.select_option("tiny")
    note.wait_for(state="visible")
    assert note.inner_text() == (
        "vgg-msd: 2.992 s segments, tiny: 1 s segments — both panes show 2.992 s windows"
    )
    assert jl.evaluate(kernel, "explorer.right['model']") == "tiny"
    assert jl.evaluate(kernel, "explorer.scale_note") == note.inner_text()
    _redrawn(page, kernel, before, jl.evaluate(kernel, "len(embeddings.windows(2.992))"))
    assert "tiny · embeddings · PCA" in page.locator(".ee-right .ee-title").inner_text()
    page.locator(".ee-root").screenshot(path=str(jl.screenshot_dir() / "clocks.png"))
    assert not errors, errors


def test_the_time_scale_menu_changes_the_points(clocks_session):
    _, page, kernel, errors = clocks_session
    menu = page.locator(".ee-bar select[title^='what a row is']")
    for scale, seconds in (("10", 10), ("track", "'track'")):
        before = {side: _draws(page, side) for side in ("left", "right")}
        menu.select_option(scale)
        n = jl.evaluate(kernel, f"len(embeddings.windows({seconds}))")
        _redrawn(page, kernel, before, n)
        assert jl.evaluate(kernel, "explorer.time_scale") == scale
        assert not page.locator(".ee-scale-note").is_visible()  # windows chosen: no note
        # the label tells the window's time in the track, or "whole track"
        i, at = _target(page, kernel, "left")
        _hover_soon(page, i, at)
        start, end = jl.evaluate(
            kernel, f"explorer.embeddings.segments[['start', 'end']].iloc[{i}].tolist()"
        )
        when = (
            "whole track"
            if scale == "track"
            else f"{int(start // 60)}:{int(start % 60):02d}–{int(end // 60)}:{int(end % 60):02d}"
        )
        assert when in _label(page, "right")["text"]
        _unhover(page)
    page.locator(".ee-root").screenshot(path=str(jl.screenshot_dir() / "clocks-track.png"))
    before = {side: _draws(page, side) for side in ("left", "right")}
    menu.select_option("native")
    _redrawn(page, kernel, before, jl.evaluate(kernel, "len(embeddings.windows(2.992))"))
    assert page.locator(".ee-scale-note").is_visible()
    assert not errors, errors


# -- the projections in the background (issue 18) -----------------------------------------------

# Every text the panes' status shows and every time a pane starts or stops showing points, in
# order, recorded by the page itself: a status shown for a moment is recorded too (the text node
# that a change replaces keeps its text).
_RECORDER = """() => {
  window.eeRecord = [];
  new MutationObserver((records) => {
    for (const r of records) {
      const el = r.target;
      const pane = el.closest && el.closest('.ee-pane');
      if (!pane) continue;
      const side = pane.dataset.side;
      if (r.type === 'attributes' && el === pane) {
        window.eeRecord.push({side, drawn: pane.dataset.drawn === '1'});
      } else if (r.type === 'childList' && el.classList.contains('ee-status-text')) {
        const text = [...r.addedNodes].map((n) => n.textContent).join('');
        window.eeRecord.push({side, status: text});
      }
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
                             attributeFilter: ['data-drawn']});
}"""


def test_each_pane_shows_its_progress_first_and_its_points_later(browser, demo_store):
    """The default Explorer (t-SNE in both panes) on the demo, with nothing cached: the cell
    returns while the panes compute, each pane says how far its t-SNE is, then draws."""
    lab, _, root = browser
    folder, store = demo_store
    jl.notebook(root / "progress.ipynb", [
        "import os, tempfile\n"
        "os.environ['EMBEDEXPLORE_CACHE'] = tempfile.mkdtemp()  # no projection cached\n"
        "import embedexplore as ee\n"
        f"collection = ee.scan({str(folder)!r}, progress=False)\n"
        f"embeddings = ee.open_store({str(store)!r})",
        "explorer = ee.Explorer(collection, embeddings)\nexplorer",
        "computing_at_the_next_cell = [explorer.left_computing, explorer.right_computing]",
    ])  # fmt: skip
    with _recording(browser, "progress.ipynb", _RECORDER) as (page, errors):
        if page.locator(".ee-pane[data-computing='1']").count():  # (the right one, most likely)
            page.locator(".ee-root").screenshot(path=str(jl.screenshot_dir() / "computing.png"))
        for side in ("left", "right"):
            page.wait_for_selector(f".ee-{side}[data-drawn='1']", timeout=240_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.ee-pane')].every(p => !p.dataset.computing)"
        )
        kernel = lab.kernel("progress.ipynb")
        try:
            # the cell after the Explorer's ran while the panes computed: the kernel was free
            assert jl.evaluate(kernel, "computing_at_the_next_cell") != [False, False]
            assert jl.evaluate(kernel, "[explorer.ready, explorer.left_status]") == [True, ""]
            n = jl.evaluate(kernel, "explorer.n_points")
        finally:
            kernel.stop_channels()
        record = page.evaluate("() => window.eeRecord")
        for side in ("left", "right"):
            events = [e for e in record if e["side"] == side]
            first_drawn = next(i for i, e in enumerate(events) if e.get("drawn"))
            before = [e["status"] for e in events[:first_drawn] if "status" in e]
            percents = [t for t in before if t.startswith(f"t-SNE of {n:,} points: computing… ")]
            # progress in steps, growing, before any point was drawn
            assert len(percents) >= 5, (side, before)
            shares = [int(t.rsplit(" ", 1)[1].rstrip("%")) for t in percents]
            assert shares == sorted(shares) and shares[-1] == 100, (side, shares)
            # then the status goes, and the points stay
            after = [e for e in events[first_drawn:] if e.get("status") or "drawn" in e]
            assert after == [{"side": side, "drawn": True}], (side, after)
            assert not page.locator(f".ee-{side} .ee-status-text").is_visible()
            assert _coloured(page, side) > 5 * n, side
        page.locator(".ee-root").screenshot(path=str(jl.screenshot_dir() / "done.png"))
        assert not errors, errors


# -- collection scale: the level of detail, a still picture in chunks, the worker's index (issue
# 19) ------------------------------------------------------------------------------------------

LARGE = 600_000

# 600,000 points per pane in 40 clusters (a track of 60 segments stays in its cluster), made in the
# kernel: large enough that software WebGL takes the level of detail and draws a still picture
# over several frames, small enough for CI. The left pane is the right one mirrored.
_LARGE_CELL = f"""
import numpy as np
from embedexplore.widget import ExplorerWidget, encode_xy, decode_xy
N = {LARGE}
rng = np.random.default_rng(3)
centres = rng.uniform(-0.7, 0.7, size=(40, 2))
label = np.repeat(rng.integers(0, 40, N // 60 + 1), 60)[:N]
xy = np.clip(centres[label] + rng.normal(size=(N, 2)) * 0.06, -0.98, 0.98)
track = (np.arange(N) // 60).astype("<u4")
w = ExplorerWidget(
    n_points=N, point_track=track.tobytes(),
    point_segment=(np.arange(N) % 60).astype("<u4").tobytes(),
    track_labels=[f"Artist {{i % 50}} - Track {{i}}" for i in range(int(track[-1]) + 1)],
    left_xy=encode_xy(xy * [-1, 1]), right_xy=encode_xy(xy),
    color_codes=(label % 10).astype("<u2").tobytes(),
    legend=[{{"label": f"cluster {{i}}", "color": c}} for i, c in enumerate(
        ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
         "#9c755f", "#8cd17d"])],
    left={{"model": "musicnn-msd", "layer": "embeddings", "projection": "pca"}},
    right={{"model": "vgg-msd", "layer": "embeddings", "projection": "pca"}},
    height=440,
)
"""

# Each change of the left pane's level of detail, still picture and note, recorded by the page as
# it happens, with the coloured pixels of its canvas at that moment (the frame just drawn).
_LOD_RECORDER = """() => {
  window.eeLod = [];
  const coloured = (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let k = 0;
    for (let i = 0; i < d.length; i += 4)
      if (Math.abs(d[i] - d[i + 2]) > 40 || Math.abs(d[i + 1] - d[i + 2]) > 40) k++;
    return k;
  };
  const watch = () => {
    const pane = document.querySelector('.ee-left');
    if (!pane) return setTimeout(watch, 100);
    const canvas = pane.querySelector('.ee-canvas');
    const note = pane.querySelector('.ee-pane-note');
    new MutationObserver(() => {
      const d = pane.dataset;
      window.eeLod.push({moving: d.moving === '1', partial: d.partial === '1',
        lodDraws: Number(d.lodDraws || 0), draws: Number(d.draws || 0), note: note.textContent,
        coloured: coloured(canvas)});
    }).observe(pane, {attributes: true, subtree: true, childList: true,
                      attributeFilter: ['data-moving', 'data-partial', 'data-lod-draws']});
  };
  watch();
}"""


def test_a_large_pane_moves_on_a_subsample_and_comes_back_whole(browser):
    """600,000 points a pane: panning draws 100,000 of them (the pane says so) and all of them
    once still, over several frames, as the picture was; a lasso then finds exactly the points
    inside it through the index built in a Web Worker, and the kernel has them."""
    lab, _, root = browser
    jl.notebook(root / "large.ipynb", [_LARGE_CELL, "w"])
    with _recording(browser, "large.ipynb", _LOD_RECORDER) as (page, errors):
        for side in ("left", "right"):
            page.wait_for_selector(f".ee-{side}[data-indexed='1']", timeout=240_000)
        kernel = lab.kernel("large.ipynb")
        try:
            _large_pane_checks(page, kernel)
        finally:
            kernel.stop_channels()
        assert not errors, errors


def _shot(page, name: str) -> None:
    page.locator(".ee-left .ee-canvas-box").screenshot(path=str(jl.screenshot_dir() / name))


def _still(page) -> None:
    """Wait until the left pane shows all its points, still, and for the next frame."""
    page.wait_for_function(
        "() => { const d = document.querySelector('.ee-left').dataset;"
        " return !d.moving && !d.partial; }",
        timeout=60_000,
    )
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def _large_pane_checks(page, kernel) -> None:
    box = page.locator(".ee-left .ee-canvas-box").bounding_box()
    centre = np.array([box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    _still(page)
    whole = _coloured(page, "left")
    assert whole > 20_000, whole
    _shot(page, "large-before.png")
    page.evaluate("() => { window.eeLod = []; }")
    # a drag to the right and part of the way back: the picture moved 40 px, all of it in view
    # (not back to where it began: the library takes a press and release at one place for a
    # click, which selects the point there)
    page.mouse.move(*centre)
    page.mouse.down()
    for dx in [*np.linspace(0, 90, 16)[1:], *np.linspace(90, 40, 11)[1:]]:
        page.mouse.move(centre[0] + dx, centre[1])
        page.wait_for_timeout(30)
    page.mouse.up()
    _still(page)
    _shot(page, "large-after.png")
    record = page.evaluate("() => window.eeLod")
    moving = [r for r in record if r["moving"]]
    assert moving, record
    assert moving[0]["note"] == f"drawing 100,000 of {LARGE:,} points while moving"
    # the subsample was drawn: a thinner picture than all points
    thin = [r["coloured"] for r in moving if r["lodDraws"] > 0]
    assert thin and max(thin) < 0.9 * whole, (thin, whole)
    # once still, all points again, over several frames (each a chunk over the last)
    first_still = next(
        i for i, r in enumerate(record) if i and record[i - 1]["moving"] and not r["moving"]
    )
    chunks = [r for r in record[first_still:] if r["partial"]]
    assert chunks, record[first_still:]
    assert [r["coloured"] for r in chunks] == sorted(r["coloured"] for r in chunks)  # filling in
    assert page.locator(".ee-left .ee-pane-note").is_hidden()
    again = _coloured(page, "left")
    assert abs(again - whole) <= 0.01 * whole, (again, whole)
    # a lasso around the left half of the pane (in from its edges), found among all points, in
    # the first view again
    page.locator(".ee-bar button", has_text="reset").click()
    page.wait_for_timeout(300)
    _still(page)
    page.locator(".ee-bar button", has_text="lasso").click()
    page.evaluate("() => { window.eeLod = []; }")
    xy = np.asarray(jl.evaluate(kernel, "decode_xy(w.left_xy).T.ravel().tolist()")).reshape(2, -1).T
    box = page.locator(".ee-left .ee-canvas-box").bounding_box()  # (the clicks may scroll)
    px = _pixels(page, "left", xy)
    x_cut = box["x"] + box["width"] / 2 - 40
    top, bottom = box["y"] + 10, box["y"] + box["height"] - 10
    rect = [(box["x"] + 10, top), (x_cut, top), (x_cut, bottom), (box["x"] + 10, bottom)]
    jl.drag_polygon(page, rect, pause_ms=15)
    page.wait_for_function("() => document.querySelector('.ee-right').dataset.selected > 0")
    _still(page)
    page.screenshot(path=str(jl.screenshot_dir() / "large-lasso.png"))
    got = None
    for _ in range(100):
        bits = "np.unpackbits(np.frombuffer(w.selected, np.uint8), bitorder='little')[:N]"
        got = np.asarray(jl.evaluate(kernel, f"np.flatnonzero({bits}).tolist()"))
        if len(got):
            break
        time.sleep(0.2)
    # mouse sampling may shave a pixel or two off the rectangle: points that close to its edges
    # may go either way, all others must be as the rectangle says
    x0, y0 = rect[0]
    inside = (px[:, 0] > x0) & (px[:, 0] < x_cut) & (px[:, 1] > y0) & (px[:, 1] < rect[2][1])
    near = (
        (np.abs(px[:, 0] - x0) < 3) | (np.abs(px[:, 0] - x_cut) < 3)
        | (np.abs(px[:, 1] - y0) < 3) | (np.abs(px[:, 1] - rect[2][1]) < 3)
    )  # fmt: skip
    chosen = np.zeros(len(px), bool)
    chosen[got] = True
    assert (chosen[~near] == inside[~near]).all(), int((chosen[~near] != inside[~near]).sum())
    assert chosen.sum() > 0.2 * LARGE
    notes = [r["note"] for r in page.evaluate("() => window.eeLod")]
    assert any(n.endswith("while you lasso (the lasso takes them all)") for n in notes), notes
    right = page.evaluate("() => Number(document.querySelector('.ee-right').dataset.selected)")
    assert right == chosen.sum()
    page.keyboard.press("Escape")
    page.locator(".ee-bar button", has_text="pan").click()
