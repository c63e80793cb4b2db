"""Nearest neighbours and the thesis' NN-similarity between latent spaces.

>>> emb = embedexplore.open_store("~/music-embeddings")                   # doctest: +SKIP
>>> embedexplore.neighbors(emb, "musicnn-msd", seed=1234, k=10)           # doctest: +SKIP
>>> spaces = embedexplore.similarity.spaces(emb)      # every model x layer # doctest: +SKIP
>>> m = embedexplore.nn_similarity_matrix(spaces, n=10)                    # doctest: +SKIP
>>> embedexplore.similarity.plot_matrix(m)                                 # doctest: +SKIP

NN-similarity (Tovstogan 2022, chapter 4): for two spaces A and B holding the same items,
``S_n = mean over items q of |NN_n^A(q) & NN_n^B(q)| / n``, where ``NN_n^X(q)`` are the ``n``
nearest items to ``q`` in X, ``q`` itself excluded (by identity: an exact duplicate of ``q`` is a
neighbour like any other). Identical spaces, or one a rotation of the other, give 1; independent
random spaces give about ``n / (N - 1)``.

Neighbours are exact: all distances are computed, a block of queries at a time, with torch on
the GPU when there is one (a matrix product per block) and on the CPU otherwise. Ties are broken
by item index, so the result does not depend on the device or the block size. Segments of one
track are near each other in any space: ``exclude_same_track=True`` (with ``tracks``) leaves them
out of each item's neighbours, in both spaces.

S_n says whether two spaces agree, not whether either is right: :func:`precision_at_k`,
:func:`mean_average_precision` and :func:`precision_chance` (from :mod:`embedexplore._retrieval`)
measure how often an item's neighbours share its label (artist, album, genre).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ._retrieval import (
    METRICS,
    _space,
    groups,
    mean_average_precision,
    nearest,
    precision_at_k,
    precision_chance,
)

__all__ = [
    "knn",
    "mean_average_precision",
    "neighbors",
    "nn_similarity",
    "nn_similarity_matrix",
    "plot_matrix",
    "precision_at_k",
    "precision_chance",
    "similarity_table",
    "spaces",
]


def knn(
    x,
    k: int,
    *,
    metric: str = "cosine",
    queries=None,
    device="auto",
    block: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest items of ``x`` ``[N, d]`` to each query, the query itself excluded.

    Parameters
    ----------
    x : array_like
        The items, an array of shape ``(N, d)`` (any float dtype; distances are computed in
        ``float32``).
    k : int
        Neighbours per query (1 to ``N - 1``).
    metric : {"cosine", "euclidean"}, default: "cosine"
        ``"cosine"`` (distance 1 - cosine similarity) or ``"euclidean"``.
    queries : array_like of int, optional
        Indices into ``x`` of the ``n_queries`` queries, shape ``(n_queries,)`` (default: every
        item). Each query's own index is excluded from its neighbours; other items equal to it
        are not.
    device : str or torch.device, default: "auto"
        ``"auto"`` (CUDA when present), ``"cuda"`` or ``"cpu"``.
    block : int, optional
        Queries per matrix product (default: what keeps a block's distances under ~256 MB).

    Returns
    -------
    indices : numpy.ndarray
        ``int64`` array of shape ``(n_queries, k)``: the neighbours' indices into ``x``,
        nearest first; equal distances in index order.
    distances : numpy.ndarray
        ``float32`` array of shape ``(n_queries, k)``: their distances to the query, ascending.

    Raises
    ------
    ValueError
        An unknown ``metric``, ``x`` that is not 2-D, or ``k`` outside ``1 .. N - 1``.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    x = _space(x, finite=False)
    n = len(x)
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must be between 1 and N - 1 = {n - 1}, got {k}")
    kw = {"metric": metric, "queries": queries, "device": device, "block": block}
    idx, dist, _ = nearest(x, k, finite=False, **kw)
    return idx, dist


def _overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, how many entries the two rows of indices share (rows hold no repeats)."""
    both = np.sort(np.concatenate([a, b], axis=1), axis=1)
    return (both[:, 1:] == both[:, :-1]).sum(axis=1)


def _neighbour_lists(x, k: int, metric: str, device, exclude: list) -> tuple:
    """Each item's ``k`` nearest neighbours (``-1`` past its candidates) and how many it has."""
    if not exclude:
        idx, _ = knn(x, k, metric=metric, device=device)
        return idx, np.full(len(idx), k)
    if k < 1:
        raise ValueError(f"n must be at least 1, got {k}")
    idx, _, found = nearest(x, k, metric=metric, device=device, exclude=exclude)
    return idx, found


def _s_n(ia: np.ndarray, ib: np.ndarray, found: np.ndarray, m: int) -> float:
    """S_m over the items with at least ``m`` neighbours in both lists."""
    ok = found >= m
    if not ok.any():
        raise ValueError(
            f"no item has n={m} neighbours left after the exclusions: choose a smaller n"
        )
    return float(_overlap(ia[ok, :m], ib[ok, :m]).mean() / m)


def nn_similarity(
    a,
    b,
    n=(5, 10, 100, 200),
    *,
    metric: str = "cosine",
    device="auto",
    tracks=None,
    artists=None,
    exclude_same_track: bool = False,
    exclude_same_artist: bool = False,
):
    """S_n between two spaces holding the same items in the same order (see module docstring).

    Parameters
    ----------
    a, b : array_like
        The two spaces: arrays of shapes ``(N, d_a)`` and ``(N, d_b)``, row ``i`` of each the
        same item.
    n : int or sequence of int, default: (5, 10, 100, 200)
        Neighbourhood sizes (each at most ``N - 1``).
    metric : str or tuple of (str, str), default: "cosine"
        One metric for both spaces (``"cosine"`` or ``"euclidean"``) or a pair
        ``(metric_a, metric_b)``: compare a 2-D projection, where only euclidean distance means
        anything, with ``("cosine", "euclidean")``.
    device : str or torch.device, default: "auto"
        Where the neighbours are computed: ``"auto"`` (CUDA when present), ``"cuda"``,
        ``"cpu"``.
    tracks, artists : array_like, optional
        Length ``N``: each item's track and artist, for the exclusions.
    exclude_same_track : bool, default: False
        Remove each item's own track from its neighbours, in both spaces, before taking the
        ``n`` nearest (segments of one track resemble each other in any space and inflate
        S_n); needs ``tracks``. Items left with fewer than ``n`` neighbours are not counted.
    exclude_same_artist : bool, default: False
        The same for each item's artist; needs ``artists``.

    Returns
    -------
    float or pandas.Series
        S_n in [0, 1]: a float for one ``n``, else a ``float64`` Series named ``"S_n"``, indexed
        by ``n``.

    Raises
    ------
    ValueError
        The spaces hold different numbers of items, (from :func:`knn`) an ``n`` is out of
        range or a metric unknown, an exclusion lacks its ids, or no item has ``n`` neighbours
        left after the exclusions.
    """
    a, b = np.asarray(a), np.asarray(b)
    if len(a) != len(b):
        raise ValueError(f"the spaces hold {len(a)} and {len(b)} items: they must be the same")
    excl = groups(len(a), tracks, artists, exclude_same_track, exclude_same_artist)
    ma, mb = (metric, metric) if isinstance(metric, str) else metric
    ns = (n,) if np.isscalar(n) else tuple(n)
    k = max(ns)
    ia, found = _neighbour_lists(a, k, ma, device, excl)
    ib, _ = _neighbour_lists(b, k, mb, device, excl)
    out = pd.Series({m: _s_n(ia, ib, found, m) for m in ns}, name="S_n")
    out.index.name = "n"
    return float(out.iloc[0]) if np.isscalar(n) else out


def nn_similarity_matrix(
    spaces: dict,
    n: int = 10,
    *,
    metric: str = "cosine",
    device="auto",
    tracks=None,
    artists=None,
    exclude_same_track: bool = False,
    exclude_same_artist: bool = False,
) -> pd.DataFrame:
    """S_n between every pair of ``spaces``: a symmetric DataFrame with 1 on the diagonal.

    Each space's neighbours are computed once.

    Parameters
    ----------
    spaces : dict of str to array_like
        Name -> array of shape ``(N, d_i)``, the same ``N`` items in the same order in each
        (e.g. what :func:`spaces` returns).
    n : int, default: 10
        Neighbourhood size (at most ``N - 1``).
    metric : {"cosine", "euclidean"}, default: "cosine"
        The metric, the same for every space.
    device : str or torch.device, default: "auto"
        Where the neighbours are computed: ``"auto"`` (CUDA when present), ``"cuda"``,
        ``"cpu"``.
    tracks, artists : array_like, optional
        Length ``N``: each item's track and artist, for the exclusions.
    exclude_same_track : bool, default: False
        Remove each item's own track from its neighbours, in both spaces, before taking the
        ``n`` nearest (segments of one track resemble each other in any space and inflate
        S_n); needs ``tracks``. Items left with fewer than ``n`` neighbours are not counted.
    exclude_same_artist : bool, default: False
        The same for each item's artist; needs ``artists``.

    Returns
    -------
    pandas.DataFrame
        ``float64`` matrix of shape ``(n_spaces, n_spaces)``, index and columns the names of
        ``spaces``; ``attrs["n"]`` holds ``n``.

    Raises
    ------
    ValueError
        The spaces hold different numbers of items, (from :func:`knn`) ``n`` is out of range
        or ``metric`` unknown, an exclusion lacks its ids, or no item has ``n`` neighbours left
        after the exclusions.
    """
    names = list(spaces)
    lengths = {len(np.asarray(v)) for v in spaces.values()}
    if len(lengths) != 1:
        raise ValueError("every space must hold the same items")
    excl = groups(lengths.pop(), tracks, artists, exclude_same_track, exclude_same_artist)
    nn, found = {}, None
    for name in names:
        nn[name], found = _neighbour_lists(spaces[name], n, metric, device, excl)
    m = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for x, y in itertools.combinations(names, 2):
        m.loc[x, y] = m.loc[y, x] = _s_n(nn[x], nn[y], found, n)
    m.attrs["n"] = n
    return m


def spaces(embeddings, models=None, layers=("taggrams", "embeddings"), *, level="segment", every=1):
    """The latent spaces of an :class:`~embedexplore.Embeddings`, named ``"model/layer"``.

    Parameters
    ----------
    embeddings : Embeddings
        The extracted embeddings.
    models : sequence of str, optional
        The models (default: all of ``embeddings.models``).
    layers : sequence of str, default: ("taggrams", "embeddings")
        The layers; a layer a model does not store is left out.
    level : {"segment", "track"}, default: "segment"
        One item per segment, or per track (each track's mean over its segments; tracks without
        segments are left out).
    every : int, default: 1
        With ``level="segment"``: keep every ``every``-th segment.

    Returns
    -------
    dict of str to numpy.ndarray
        ``"model/layer"`` -> ``float32`` array of shape ``(n_items, dim)``, the same items in
        the same order in every array.

    Raises
    ------
    ValueError
        An unknown ``level``, or ``level="segment"`` for models of different clocks (compare
        those on common windows: ``embeddings.windows(seconds)``).
    KeyError
        A model of ``models`` is not in ``embeddings``.
    """
    out = {}
    models = list(models or embeddings.models)
    if level == "segment":
        _same_clock(embeddings, models)
    for m in models:
        for layer in layers:
            if layer not in embeddings.layers(m):
                continue
            if level == "track":
                x = embeddings.per_track(m, layer).mean
                x = x[~np.isnan(x).any(axis=1)]
            elif level == "segment":
                x = np.asarray(embeddings.array(m, layer)[::every], np.float32)
            else:
                raise ValueError(f"level must be 'segment' or 'track', got {level!r}")
            out[f"{m}/{layer}"] = x
    return out


def _same_clock(embeddings, models) -> None:
    """A ``ValueError`` unless ``models`` have the same rows in ``embeddings``."""
    tables = [embeddings.segments_of(m) for m in models]
    first = tables[0] if tables else None
    if any(
        t is not first
        and not (
            len(t) == len(first)
            and np.array_equal(t["track_id"].cat.codes, first["track_id"].cat.codes)
            and np.array_equal(t["segment"], first["segment"])
        )
        for t in tables
    ):
        clocks = ", ".join(f"{m}: {embeddings.clock(m).describe()}" for m in models)
        raise ValueError(
            f"these models cut tracks into different segments ({clocks}), so their segments "
            "cannot be compared one by one: compare them on common windows, e.g. "
            "spaces(embeddings.windows(30), ...), or per track (level='track')"
        )


def similarity_table(matrix: pd.DataFrame) -> pd.DataFrame:
    """Average S_n over the pairs of spaces that differ in one respect only.

    As the thesis' Table 4.2: ``dataset`` (MSD vs MTT, same architecture and layer),
    ``architecture`` (MusiCNN vs VGG, same dataset and layer) and ``layer`` (same model).

    Parameters
    ----------
    matrix : pandas.DataFrame
        What :func:`nn_similarity_matrix` returns; space names are ``model/layer`` (the
        registry gives each model's architecture and dataset; a model it does not know is read
        as ``architecture-dataset``). A random-weights control
        (:func:`embedexplore.models.random_weights`) was trained on nothing: it makes no pair.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``along`` (``"architecture"``, ``"dataset"`` or ``"layer"``, those with at
        least one pair): ``average S_n`` and ``pairs`` (how many pairs were averaged);
        ``attrs["n"]`` copied from ``matrix``.
    """

    from .models.random_init import FACTORY as RANDOM_WEIGHTS
    from .registry import find

    def parts(name):
        model, layer = name.split("/", 1)
        spec = find(model)
        if spec is not None:  # the registry's architecture and training data
            arch, data = spec.architecture, spec.dataset.lower()
            # a model of its own kind (the default "custom" and "-") is its own architecture
            # and dataset: it makes no pair with another such model; nor does an untrained one
            untrained = spec.factory == RANDOM_WEIGHTS
            arch = model if arch == "custom" or untrained else arch
            data = model if data in ("-", "") or untrained else data
        else:
            arch, _, data = model.rpartition("-")
        return {"architecture": arch, "dataset": data, "layer": layer}

    rows = []
    for a, b in itertools.combinations(matrix.index, 2):
        pa, pb = parts(a), parts(b)
        differ = [k for k in pa if pa[k] != pb[k]]
        if len(differ) == 1:
            rows.append({"along": differ[0], "pair": f"{a} ~ {b}", "S_n": matrix.loc[a, b]})
    df = pd.DataFrame(rows, columns=["along", "pair", "S_n"])
    out = (
        df.groupby("along")["S_n"]
        .agg(["mean", "count"])
        .rename(columns={"mean": "average S_n", "count": "pairs"})
    )
    out.attrs["n"] = matrix.attrs.get("n")
    return out


def plot_matrix(matrix: pd.DataFrame, ax=None, *, title: str | None = None):
    """A heatmap of an S_n matrix with its values written in.

    Like the thesis' Figures 4.2 and 4.3, with a colour bar over [0, 1].

    Parameters
    ----------
    matrix : pandas.DataFrame
        What :func:`nn_similarity_matrix` returns.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure sized to the matrix).
    title : str, optional
        The title (default: ``"NN-similarity S_n"`` with ``n`` from ``matrix.attrs``).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        size = 1.0 + 0.7 * len(matrix)
        _, ax = plt.subplots(figsize=(size + 1.5, size))
    im = ax.imshow(matrix.to_numpy(), vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(len(matrix)), matrix.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(matrix)), matrix.index)
    for i in range(len(matrix)):
        for j in range(len(matrix)):
            v = matrix.iat[i, j]
            ax.text(j, i, f"{v:.2f}", ha="center", va="center",
                    color="black" if v > 0.6 else "white", fontsize=8)  # fmt: skip
    n = matrix.attrs.get("n")
    ax.set_title(title or (f"NN-similarity S_{n}" if n else "NN-similarity"))
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def neighbors(
    embeddings,
    model: str,
    seed,
    *,
    layer: str = "embeddings",
    k: int = 10,
    level: str = "segment",
    metric: str = "cosine",
    exclude_same_track: bool = True,
    exclude_same_artist: bool = False,
    collection=None,
    device="auto",
) -> pd.DataFrame:
    """The ``k`` segments (or tracks) nearest to a seed.

    Parameters
    ----------
    embeddings : Embeddings
        The extracted embeddings.
    model : str
        The model whose space is searched, e.g. ``"musicnn-msd"``.
    seed : int or str
        A segment row (``level="segment"``) or a track id (``level="track"``, compared
        through the tracks' mean embeddings).
    layer : str, default: "embeddings"
        The layer of ``model``.
    k : int, default: 10
        Neighbours to return (fewer when fewer items are left).
    level : {"segment", "track"}, default: "segment"
        Search segments or tracks.
    metric : {"cosine", "euclidean"}, default: "cosine"
        The distance.
    exclude_same_track : bool, default: True
        Drop the seed track's other segments (``level="segment"`` only).
    exclude_same_artist : bool, default: False
        Drop the seed artist's tracks (needs ``collection`` for the artists).
    collection : Collection, optional
        Adds ``artist``, ``title`` and ``album`` columns.
    device : str or torch.device, default: "auto"
        Where the distances are computed: ``"auto"`` (CUDA when present), ``"cuda"``,
        ``"cpu"``.

    Returns
    -------
    pandas.DataFrame
        At most ``k`` rows, nearest first: ``distance`` (``float32``), then the segment's row of
        ``embeddings.segments_of(model)`` (``level="segment"``) or the track's row of
        ``embeddings.tracks`` (``level="track"``), and metadata when ``collection`` is given.

    Raises
    ------
    ValueError
        An unknown ``level``, or ``exclude_same_artist`` without ``collection``.
    KeyError
        ``seed`` is not a track with segments (``level="track"``).
    IndexError
        ``seed`` is not a segment row (``level="segment"``).
    """
    if exclude_same_artist and collection is None:
        raise ValueError("exclude_same_artist needs the collection (for the artists)")
    tracks = embeddings.tracks
    if level == "track":
        agg = embeddings.per_track(model, layer)
        ok = ~np.isnan(agg.mean).any(axis=1)
        ids = agg.track_ids[ok]
        x = agg.mean[ok]
        where = np.flatnonzero(ids == seed)
        if not len(where):
            raise KeyError(f"no track {seed!r} with segments in these embeddings")
        q = int(where[0])
        item_track = np.asarray(ids)
    elif level == "segment":
        x = embeddings.array(model, layer)
        q = int(seed)
        if not 0 <= q < len(x):
            raise IndexError(f"segment row {q} out of range (0..{len(x) - 1})")
        item_track = embeddings.segments_of(model)["track_id"].astype(str).to_numpy()
    else:
        raise ValueError(f"level must be 'segment' or 'track', got {level!r}")
    drop = np.zeros(len(x), bool)
    if exclude_same_track and level == "segment":
        drop |= item_track == item_track[q]
    if exclude_same_artist:
        artists = collection.tracks["artist"].reindex(item_track).to_numpy()
        a = artists[q]
        if isinstance(a, str):
            drop |= artists == a
    drop[q] = False  # knn excludes the seed itself by identity
    want = min(len(x) - 1, k + int(drop.sum()))
    idx, dist = knn(x, want, metric=metric, queries=[q], device=device)
    keep = ~drop[idx[0]]
    idx, dist = idx[0][keep][:k], dist[0][keep][:k]
    if level == "segment":
        out = embeddings.segments_of(model).iloc[idx].copy()
    else:
        out = tracks.loc[item_track[idx]].copy()
    out.insert(0, "distance", dist)
    if collection is not None:
        tid = out["track_id"].astype(str) if level == "segment" else out.index.astype(str)
        for col in ("artist", "title", "album"):
            out[col] = collection.tracks[col].reindex(tid).to_numpy()
    return out
