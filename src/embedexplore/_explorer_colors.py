"""The Explorer's point colours and legends: categories (artist, album, genre) or a tag's ramp.

Both return what the widget's ``color_codes`` (uint16 per point, an index into ``legend``) and
``legend`` traits hold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# 19 distinguishable colours (Tableau 10, then 9 of its lighter tones) for the most frequent
# categories, and grey for the rest
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#a0cbe8", "#ffbe7d", "#ff9d9a", "#8cd17d", "#f1ce63",
           "#d4a6c8", "#fabfd2", "#d7b5a6", "#86bcb6", "#b6992d"]  # fmt: skip
OTHER = "#8a8a8a"
UNKNOWN = "#c9c9c9"
RAMP_STEPS = 32
ALL = "#4e79a7"  # the one colour of color_by="none"


def categories(labels: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """Codes into a legend: the 19 most frequent labels get a colour each, the rest share grey."""
    text = np.array(
        ["(unknown)" if not isinstance(v, str) and pd.isna(v) else str(v) for v in labels], object
    )
    if not len(text):
        return np.zeros(0, np.int64), []
    values, inverse, counts = np.unique(text, return_inverse=True, return_counts=True)
    order = np.lexsort((values, -counts))  # most frequent first, then by name
    rank = np.empty(len(values), np.int64)
    rank[order] = np.arange(len(values))
    k = len(PALETTE)
    codes = np.minimum(rank[inverse], k)
    # tracks without the tag are light grey, whatever their number, and take no palette colour
    # (in a collection without genre tags they are most points: they must not look like a genre)
    colors = iter(PALETTE)
    legend = [{"label": str(values[i]), "count": int(counts[i]),
               "color": UNKNOWN if values[i] == "(unknown)" else next(colors)}
              for i in order[:k]]  # fmt: skip
    if len(values) > k:
        rest = int(counts[order[k:]].sum())
        legend.append({"label": f"{len(values) - k} others", "color": OTHER, "count": rest})
    return codes, legend


def ramp_codes(values: np.ndarray, label: str) -> tuple[np.ndarray, list[dict]]:
    """Codes of ``values`` on a viridis ramp of :data:`RAMP_STEPS` colours from their min to max."""
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    scaled = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    codes = np.minimum((scaled * RAMP_STEPS).astype(np.int64), RAMP_STEPS - 1)
    legend = [{"label": label, "color": c, "low": lo, "high": hi} for c in _ramp()]
    return codes, legend


def _ramp() -> list[str]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    out = []
    for i in range(RAMP_STEPS):
        r, g, b, _ = cmap(i / (RAMP_STEPS - 1))
        out.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return out
