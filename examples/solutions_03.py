"""Solutions to the exercises of 03_comparing_latent_spaces.ipynb.

Try each exercise first: the notebook's check cells import a solution from here only while your
own function still returns None, so that Run All works before you have solved anything.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import embedexplore as ee


def solution_nn_similarity(a, b, n):
    """The solution to exercise 1: S_n of two spaces holding the same items, in numpy only.

    Cosine distance; an item is not its own neighbour; equal distances are broken by index, as
    the library does, so that the result matches ``ee.nn_similarity`` exactly.
    """

    def neighbours(x):
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        sim = x @ x.T
        np.fill_diagonal(sim, -np.inf)  # an item is not its own neighbour
        return np.argsort(-sim, axis=1, kind="stable")[:, :n]

    na, nb = neighbours(np.asarray(a, float)), neighbours(np.asarray(b, float))
    shared = [len(np.intersect1d(x, y)) for x, y in zip(na, nb, strict=True)]
    return float(np.mean(shared) / n)


def solution_compare_metrics(spaces, n):
    """The solution to exercise 2: how much S_n moves from cosine to euclidean, per layer.

    For each layer, the mean absolute difference between the cosine and the euclidean S_n
    matrices over the pairs of different spaces of that layer (e.g. musicnn-msd/taggrams ~
    vgg-mtt/taggrams), as a Series indexed by layer: the larger, the more sensitive.
    """
    cos = ee.nn_similarity_matrix(spaces, n=n, metric="cosine")
    euc = ee.nn_similarity_matrix(spaces, n=n, metric="euclidean")
    diff = (cos - euc).abs()
    layer = pd.Series([name.split("/", 1)[1] for name in diff.index], index=diff.index)
    out = {}
    for name in layer.unique():
        members = layer.index[layer == name]
        block = diff.loc[members, members].to_numpy()
        pairs = ~np.eye(len(members), dtype=bool)
        out[name] = float(block[pairs].mean()) if pairs.any() else np.nan
    return pd.Series(out, name="mean |S_n cosine - S_n euclidean|").rename_axis("layer")


def solution_track_level_table(emb, models, n):
    """The solution to exercise 3: the "average S_n" table of ``models`` on track means instead
    of segments.

    Uses the ``n`` it is given: the caller chooses one small against the number of tracks.
    """
    tracks = ee.similarity.spaces(emb, models, level="track")
    return ee.similarity.similarity_table(ee.nn_similarity_matrix(tracks, n=n))


def solution_agreement_by_scale(emb, a, b, scales, n):
    """The solution to exercise 4: S_n between the embeddings of models a and b per window length.

    Returns a DataFrame indexed by scale with ``S_n``, the neighbourhood ``n`` used there (``n``,
    or a tenth of the windows where that is smaller, so that chance stays near 0.1 or below) and
    the number of ``windows``.
    """
    rows = {}
    for w in scales:
        view = emb.windows(w)
        s = ee.similarity.spaces(view, [a, b], ["embeddings"])
        count = len(view.segments)
        k = max(1, min(n, count // 10))
        rows[w] = {
            "S_n": ee.nn_similarity(s[f"{a}/embeddings"], s[f"{b}/embeddings"], k),
            "n": k,
            "windows": count,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "scale"
    return out.astype({"n": int, "windows": int})
