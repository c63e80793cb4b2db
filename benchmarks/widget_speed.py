"""How fast the Explorer draws, pans and links, in a real JupyterLab in headless chromium.

    .venv/bin/python benchmarks/widget_speed.py                 # 70k, 1M and 4M points per pane
    .venv/bin/python benchmarks/widget_speed.py --sizes 70000
    .venv/bin/python benchmarks/widget_speed.py --startup       # Explorer(...) on the demo

For each size, a notebook cell displays an Explorer whose two panes hold that many points
(synthetic clusters: the frontend's cost depends on the number of points, not on where they came
from), and the script reports:

- display -> both panes drawn: the points made and the widget built in one cell, then the time
  from running the cell that displays it to both panes having drawn all their points (the
  transfer of the binary columns, the browser's decoding and first frames), and the browser's
  share of it (the widget's render() to its first frame); then when hover and lasso can find
  points (the spatial index, built off the main thread since issue 19);
- panning: a drag on the left pane sent as raw input through a CDP session (Playwright's
  mouse.move waits for each event, about 15 Hz), 90 moves 16 ms apart; the pane's redraws per
  second and the mean time between them;
- zooming: 40 wheel steps 30 ms apart on the left pane (in, then out), redraws per second;
- one wheel step alone: the time until the pane shows all its points again;
- linked hover: from a mouse move onto a point of the left pane to the label shown on the right,
  on still panes, and again at once after a zoom and a reset (while large panes draw their
  pictures again in chunks);
- payload: the bytes of the widget's state sent on display (its binary buffers and its JSON);
- heap: the page's JavaScript heap once both panes are drawn (Runtime.getHeapUsage; the whole
  JupyterLab page, so compare it only between runs of this script);
- lasso: a quadrant of the left pane lassoed (toolbar "lasso", then a drag), from the mouse's
  release to the selection arriving in the kernel (an observer of ``selected`` stamps the time),
  and how many points it held.

Where the widget draws a subsample while a pane moves (its level of detail, for large collections
on slow WebGL), the pan and zoom figures say how many redraws drew only the subsample, and the
note the pane showed; the timings run until the pane has drawn all its points again (since issue
19 over several frames where one frame of all points would take longer than 100 ms: "last
frame" is then the last of those). The hover is measured on still panes.

With ``--startup`` (no browser): how long ``Explorer(collection, embeddings)`` takes on the demo
collection with nothing cached, until both panes have their t-SNE (``explorer.wait()``), and,
for reference, the two t-SNEs computed one after the other as the constructor did before it
returned at once (issue 18). Each of 3 rounds uses a fresh projection cache.

Software rendering here: WebGL on SwiftShader with --disable-gpu (see tests/jupyterlab.py). For
comparison, DESIGN.md reports jupyter-scatter in the same setup: 70,000 points first drawn in
~0.9 s and panned at ~10 fps; 1 M points ~3.1 s and ~1.7 fps; a linked hover ~1 s (through the
kernel).
"""

from __future__ import annotations

import argparse
import functools
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the JupyterLab + chromium helper the browser tests use

import jupyterlab as jl  # noqa: E402

SYNTHETIC = """
def synthetic(n, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, 2)) * 3
    label = np.repeat(rng.integers(0, 40, n // 60 + 1), 60)[:n]  # a track stays in its cluster
    xy = centres[label] + rng.normal(size=(n, 2)) * rng.uniform(0.1, 0.6, 40)[label, None]
    xy = (xy - xy.mean(0)) / np.abs(xy - xy.mean(0)).max() * 0.95
    return encode_xy(xy), label
"""

# the points and the widget (displayed by a second cell, "w"); the payload's size written last
CELL = (
    """
import numpy as np
from embedexplore.widget import ExplorerWidget
try:
    from embedexplore.widget import encode_xy
except ImportError:  # before issue 19 the coordinates travelled as float32
    def encode_xy(xy):
        return xy.T.astype("<f4").tobytes()
"""
    + SYNTHETIC.replace("{", "{{").replace("}", "}}")
    + """
N = {n}
left, label = synthetic(N, 1)
right, _ = synthetic(N, 2)
track = (np.arange(N) // 60).astype("<u4")
segment = (np.arange(N) % 60).astype("<u4")
w = ExplorerWidget(
    n_points=N, point_track=track.tobytes(), point_segment=segment.tobytes(),
    track_labels=[f"Artist {{i % 500}} - Track {{i}}" for i in range(int(track[-1]) + 1)],
    left_xy=left, right_xy=right,
    color_codes=(label % 20).astype("<u2").tobytes(),
    legend=[{{"label": f"cluster {{i}}", "color": c}} for i, c in enumerate(
        ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
         "#9c755f", "#a0cbe8", "#ffbe7d", "#ff9d9a", "#8cd17d", "#f1ce63", "#d4a6c8", "#fabfd2",
         "#d7b5a6", "#86bcb6", "#b6992d", "#8a8a8a"])],
    left={{"model": "musicnn-msd", "layer": "embeddings", "projection": "tsne"}},
    right={{"model": "vgg-msd", "layer": "embeddings", "projection": "tsne"}},
    height=440,
    view="{view}",
)
import json, os, time as _time
from ipywidgets.widgets.widget import _remove_buffers
def _selected(change):
    bits = np.frombuffer(change["new"], np.uint8)
    at = _time.time()
    open({selected!r} + ".tmp", "w").write(f"{{at}} {{int(np.unpackbits(bits).sum())}}")
    os.replace({selected!r} + ".tmp", {selected!r})  # whole, for the script polling it
w.observe(_selected, names="selected")
_state, _paths, _buffers = _remove_buffers(w.get_state())
open({payload!r}, "w").write(f"{{sum(len(b) for b in _buffers)}} {{len(json.dumps(_state))}}")
"""
)


@functools.lru_cache(maxsize=1)
def _left_x(n: int) -> np.ndarray:
    """The x of the left pane's points, as the benchmark's cell makes them."""
    scope = {"np": np, "encode_xy": lambda xy: xy}
    exec(SYNTHETIC, scope)
    xy, _ = scope["synthetic"](n, 1)
    return xy[:, 0]


def counters(page) -> tuple[int, int]:
    """The left pane's redraws so far, and how many of them drew only the subsample."""
    return tuple(
        page.evaluate(
            "() => { const d = document.querySelector('.ee-left').dataset;"
            " return [Number(d.draws || 0), Number(d.lodDraws || 0)]; }"
        )
    )


def settled(page) -> None:
    """Wait until the left pane draws all its points again (at once where the widget has no
    level of detail; over several frames where one frame of all points would be slow), then for
    the frame that draws them."""
    page.wait_for_function(
        "() => { const p = document.querySelector('.ee-left');"
        " return !p.dataset.moving && !p.dataset.partial; }",
        timeout=60_000,
        polling="raf",
    )
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def measure(page, cdp, n: int, view: str = "segments", tmp: Path = Path(".")) -> dict:
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_timeout(500)
    payload, selected = tmp / f"payload-{n}.txt", tmp / f"selected-{n}.txt"
    cell = CELL.format(n=n, view=view, payload=str(payload), selected=str(selected))

    def run(source):
        page.evaluate(
            "(src) => { const nb = window.jupyterapp.shell.currentWidget.content;"
            " nb.activeCellIndex = 0; nb.activeCell.model.sharedModel.setSource(src); }",
            source,
        )
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")

    # the points and the widget first (the payload's size is written last), then its display
    run(cell)
    deadline = time.monotonic() + 600
    while not payload.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    page.wait_for_timeout(500)
    start = time.time()
    run("w")
    page.wait_for_function(
        "() => document.querySelectorAll('.ee-pane[data-drawn=\"1\"]').length === 2",
        timeout=600_000,
        polling=50,
    )
    at = page.evaluate(
        "() => [...document.querySelectorAll('.ee-pane')].map(p => [Number(p.dataset.firstDrawAt),"
        " Number(p.dataset.firstDrawMs)])"
    )
    first_draw = max(a for a, _ in at) / 1000 - start
    browser = max(ms for _, ms in at) / 1000
    try:  # since issue 19: when each pane's spatial index arrived
        page.wait_for_function(
            "() => document.querySelectorAll('.ee-pane[data-indexed-at]').length === 2",
            timeout=120_000,
        )
        indexed = max(page.evaluate(
            "() => [...document.querySelectorAll('.ee-pane')].map(p => Number(p.dataset.indexedAt))"
        )) / 1000 - start  # fmt: skip
    except Exception:  # noqa: BLE001 - an older bundle does not say
        indexed = float("nan")
    page.wait_for_timeout(1500)  # let the spatial index and the second pane settle
    cdp.send("HeapProfiler.collectGarbage")
    heap = cdp.send("Runtime.getHeapUsage")["usedSize"]
    buffers, json_bytes = map(int, payload.read_text().split())

    # the cell's source pushes the widget down: bring the pane on screen and check that the
    # drag really starts on its canvas (not on whatever else lies at those coordinates)
    page.locator(".ee-left .ee-canvas-box").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    box = page.locator(".ee-left .ee-canvas-box").bounding_box()
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y).className", [x0, y0])
    if hit != "ee-canvas":
        raise RuntimeError(f"the left pane's centre ({x0:.0f}, {y0:.0f}) is covered by {hit!r}")
    draws0, lod0 = counters(page)
    page.evaluate(
        "() => { window.__frames = []; const f = (t) => { window.__frames.push(t);"
        " if (window.__frames.length < 100000 && !window.__stop) requestAnimationFrame(f); };"
        " window.__stop = false; requestAnimationFrame(f);"
        # what the pane's note says while it moves (the widget's level of detail, if any)
        " window.__lodNote = ''; const note = document.querySelector('.ee-left .ee-pane-note');"
        " new MutationObserver(() => { if (note.textContent.includes('while moving'))"
        " window.__lodNote = note.textContent; })"
        " .observe(note, {childList: true, subtree: true}); }"
    )

    def mouse(kind, x, y, buttons):
        cdp.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                              "buttons": buttons, "clickCount": 1})  # fmt: skip

    mouse("mousePressed", x0, y0, 1)
    t = time.perf_counter()
    moves = 90
    for i in range(moves):
        dx = 120 * np.sin(i / moves * 2 * np.pi)
        mouse("mouseMoved", x0 + dx, y0 + dx / 2, 1)
        time.sleep(0.016)
    moving = time.perf_counter() - t
    page.wait_for_timeout(300)
    settled(page)
    elapsed = time.perf_counter() - t
    mouse("mouseReleased", x0, y0, 0)
    draws, lod = (a - b for a, b in zip(counters(page), (draws0, lod0), strict=True))
    frames = page.evaluate("() => { window.__stop = true; return window.__frames; }")
    gaps = np.diff(frames)

    # zooming: wheel steps on the pane's centre, in then out
    page.wait_for_timeout(500)
    zdraws0, zlod0 = counters(page)
    t = time.perf_counter()
    steps = 40
    for i in range(steps):
        dy = -60 if i < steps // 2 else 60
        cdp.send("Input.dispatchMouseEvent",
                 {"type": "mouseWheel", "x": x0, "y": y0, "deltaX": 0, "deltaY": dy})  # fmt: skip
        time.sleep(0.03)
    zmoving = time.perf_counter() - t
    page.wait_for_timeout(300)
    settled(page)
    zelapsed = time.perf_counter() - t
    zdraws, zlod = (a - b for a, b in zip(counters(page), (zdraws0, zlod0), strict=True))
    # one wheel step alone: what a level of detail costs when there is no movement to speed up
    notch = []
    for k in range(3):
        page.wait_for_timeout(400)
        t = time.perf_counter()
        dy = -60 if k % 2 == 0 else 60
        cdp.send("Input.dispatchMouseEvent",
                 {"type": "mouseWheel", "x": x0, "y": y0, "deltaX": 0, "deltaY": dy})  # fmt: skip
        page.wait_for_timeout(30)
        settled(page)
        notch.append(time.perf_counter() - t)
    frame_ms = page.evaluate("() => document.querySelector('.ee-left').dataset.frameMs || ''")

    def hovers():
        """Five moves onto spots near the centre of the left pane: the times until the right
        pane shows the label, and how many of the moves came while a pane's picture was still
        being drawn in chunks."""
        times, partial = [], 0
        for k in range(5):
            mouse("mouseMoved", 5, 5, 0)
            page.wait_for_timeout(300)
            px, py = x0 - 60 + 30 * k, y0 - 40 + 20 * k
            partial += page.evaluate("() => !!document.querySelector('.ee-pane[data-partial]')")
            t = time.perf_counter()
            mouse("mouseMoved", px, py, 0)
            try:
                page.wait_for_function(
                    "() => { const l = document.querySelector('.ee-right .ee-label');"
                    " return l && getComputedStyle(l).display !== 'none'; }",
                    timeout=5000,
                    polling="raf",
                )
                times.append(time.perf_counter() - t)
            except Exception:  # noqa: BLE001 - no point under the cursor there: try another spot
                continue
        return times, partial

    # linked hover on still panes, in the view reset (where all points take more than a frame,
    # the picture is drawn over several: wait for it)
    page.locator(".ee-bar button", has_text="reset").click()
    page.wait_for_timeout(800)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.ee-pane')].every(p => !p.dataset.partial)",
        timeout=60_000,
    )
    hover, _ = hovers()
    # ... and at once after a zoom and a reset, while both panes draw their pictures again
    for dy in (-120, 120):
        cdp.send("Input.dispatchMouseEvent",
                 {"type": "mouseWheel", "x": x0, "y": y0, "deltaX": 0, "deltaY": dy})  # fmt: skip
        page.wait_for_timeout(400)
    page.locator(".ee-bar button", has_text="reset").click()
    page.wait_for_timeout(200)
    hover_filling, filling = hovers()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.ee-pane')].every(p => !p.dataset.partial)",
        timeout=60_000,
    )
    lod_note = page.evaluate("() => window.__lodNote || ''")

    # a lasso around the left quarter of the left pane's points (a rectangle, full height, to the
    # x that a quarter of them lie left of), sent as raw input, until it is in the kernel
    mouse("mouseMoved", 5, 5, 0)
    page.locator(".ee-bar button", has_text="lasso").click()
    page.wait_for_timeout(300)
    quarter = float(np.quantile(_left_x(n), 0.25))
    xq = box["x"] + box["width"] / 2 + quarter * box["height"] / 2  # [-1, 1] spans the height
    top, bottom = box["y"] + 6, box["y"] + box["height"] - 6
    corners = [(box["x"] + 6, top), (xq, top), (xq, bottom), (box["x"] + 6, bottom)]
    mouse("mouseMoved", *corners[0], 0)
    mouse("mousePressed", *corners[0], 1)
    for a, b in zip(corners, corners[1:] + corners[:1], strict=True):
        for s in np.linspace(0, 1, 11)[1:]:
            mouse("mouseMoved", a[0] + s * (b[0] - a[0]), a[1] + s * (b[1] - a[1]), 1)
            time.sleep(0.012)
    released = time.time()
    mouse("mouseReleased", *corners[0], 0)
    deadline = time.monotonic() + 120
    while not selected.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    at, lassoed = selected.read_text().split() if selected.exists() else ("nan", "0")
    lasso_s = float(at) - released
    page.keyboard.press("Escape")
    page.locator(".ee-bar button", has_text="pan").click()
    return {
        "payload_buffers": buffers,
        "payload_json": json_bytes,
        "heap_mb": heap / 1e6,
        "lasso_s": lasso_s,
        "indexed_s": indexed,
        "lassoed": int(lassoed),
        "raf_gap_ms_max": float(np.max(gaps)) if len(gaps) else float("nan"),
        "n": n,
        "lod_note": lod_note,
        "notch_ms": 1000 * statistics.median(notch),
        "full_frame_ms": frame_ms,
        "pan_draws": draws,
        "pan_lod_draws": lod,
        "pan_lod_per_s": lod / moving,
        "zoom_redraws_per_s": zdraws / zelapsed,
        "zoom_draws": zdraws,
        "zoom_lod_draws": zlod,
        "zoom_lod_per_s": zlod / zmoving,
        "first_draw_s": first_draw,
        "browser_s": browser,
        "pan_redraws_per_s": draws / elapsed,
        "pan_frame_ms_mean": 1000 * elapsed / max(draws, 1),
        "raf_gap_ms_median": float(np.median(gaps)) if len(gaps) else float("nan"),
        "raf_gap_ms_p95": float(np.percentile(gaps, 95)) if len(gaps) else float("nan"),
        "hover_link_ms": 1000 * statistics.median(hover or [float("nan")]),
        "hover_filling_ms": 1000 * statistics.median(hover_filling or [float("nan")]),
        "hover_filling_partial": filling,
        "hover_filling_max_ms": 1000 * max(hover_filling or [float("nan")]),
    }


def startup(demo: Path, rounds: int = 3) -> None:
    """Print the Explorer's constructor time on the demo collection (see the module docstring)."""
    import os

    import embedexplore as ee
    from _hardware import describe
    from embedexplore import datasets

    print(describe())
    if not (demo / "store").exists():
        folder = datasets.demo(demo / "music", progress=False)
        ee.extract(ee.scan(folder, progress=False), store=demo / "store",
                   models=["musicnn-msd", "vgg-msd"], progress=False)  # fmt: skip
    collection = ee.scan(demo / "music", progress=False)
    emb = ee.open_store(demo / "store")
    ee.project(emb, "tsne", model="musicnn-msd", cache=False)  # imports and compiles once
    for k in range(rounds):
        with tempfile.TemporaryDirectory() as cache:
            os.environ["EMBEDEXPLORE_CACHE"] = cache
            t0 = time.perf_counter()
            explorer = ee.Explorer(collection, emb)
            made = time.perf_counter() - t0
            explorer.wait()
            ready = time.perf_counter() - t0
        t0 = time.perf_counter()
        for model in (explorer.left["model"], explorer.right["model"]):
            ee.project(emb, "tsne", model=model, cache=False)
        before = time.perf_counter() - t0
        print(f"round {k + 1}: {explorer.n_points} points, t-SNE in both panes: "
              f"Explorer(collection, embeddings) returned in {made:.3f} s; both panes' points "
              f"after {ready:.1f} s; the same two t-SNEs one after the other (what the "
              f"constructor waited for before) {before:.1f} s", flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[70_000, 1_000_000, 4_000_000])
    ap.add_argument(
        "--startup",
        action="store_true",
        help="time Explorer(...) on the demo collection instead (no browser)",
    )
    ap.add_argument(
        "--demo",
        type=Path,
        default=Path(tempfile.gettempdir()) / "ee-demo",
        help="--startup: where the demo collection and its store are (made once)",
    )
    ap.add_argument(
        "--view",
        default="segments",
        choices=["segments", "trajectories"],
        help="trajectories: a line through each synthetic track's 60 points",
    )
    args = ap.parse_args()
    if args.startup:
        startup(args.demo)
        return
    import os

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"chromium {jl.CHROMIUM}, headless, --disable-gpu (WebGL on SwiftShader)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        root, home = Path(tmp) / "root", Path(tmp) / "home"
        root.mkdir()
        home.mkdir()
        jl.notebook(root / "bench.ipynb", ["1"])
        lab = jl.Lab(root, home)
        try:
            with jl.chromium(home / "profile") as context:
                page = context.pages[0] if context.pages else context.new_page()
                page.goto(lab.url("bench.ipynb"))
                jl.run_all(page)
                version = page.evaluate("() => navigator.userAgent")
                print(f"browser: {version}")
                cdp = context.new_cdp_session(page)
                for n in args.sizes:
                    r = measure(page, cdp, n, args.view, Path(tmp))
                    print(
                        f"{r['n']:>9,} points per pane (2 panes, {args.view}): "
                        f"display -> first draw "
                        f"{r['first_draw_s']:.2f} s (browser render -> first frame "
                        f"{r['browser_s']:.2f} s; hover and lasso find points after "
                        f"{r['indexed_s']:.2f} s); panning {r['pan_redraws_per_s']:.1f} "
                        f"redraws/s ({r['pan_frame_ms_mean']:.0f} ms each; rAF gap median "
                        f"{r['raf_gap_ms_median']:.0f} ms, p95 {r['raf_gap_ms_p95']:.0f} ms); "
                        f"linked hover {r['hover_link_ms']:.0f} ms",
                        flush=True,
                    )
                    print(
                        f"{'':>9}   panning: {r['pan_draws']} redraws, {r['pan_lod_draws']} of "
                        f"them from a subsample ({r['pan_lod_per_s']:.1f}/s while the moves "
                        f"were sent); "
                        f"zooming {r['zoom_redraws_per_s']:.1f} redraws/s, {r['zoom_draws']} "
                        f"redraws, {r['zoom_lod_draws']} from a subsample "
                        f"({r['zoom_lod_per_s']:.1f}/s while moving); "
                        f"one wheel step -> all points drawn again {r['notch_ms']:.0f} ms "
                        f"(median of 3); last frame {r['full_frame_ms'] or '?'} ms; "
                        f"note while moving: {r['lod_note'] or '-'}",
                        flush=True,
                    )
                    print(
                        f"{'':>9}   longest frame gap while panning {r['raf_gap_ms_max']:.0f} ms; "
                        f"payload on display {r['payload_buffers'] / 1e6:.2f} MB of buffers + "
                        f"{r['payload_json'] / 1e6:.2f} MB of JSON "
                        f"({r['payload_buffers'] / r['n']:.1f} buffer bytes per point); "
                        f"JS heap after the first draw {r['heap_mb']:.0f} MB; lasso of "
                        f"{r['lassoed']:,} points -> in the kernel {r['lasso_s']:.2f} s",
                        flush=True,
                    )
                    print(
                        f"{'':>9}   linked hover just after a zoom and a reset "
                        f"{r['hover_filling_ms']:.0f} ms, the slowest of 5 "
                        f"{r['hover_filling_max_ms']:.0f} ms ({r['hover_filling_partial']} of the "
                        "moves while a pane's picture was still drawn in chunks)",
                        flush=True,
                    )
        finally:
            lab.stop()


if __name__ == "__main__":
    main()
