"""Retrieval quality of a space: precision at k, mean average precision and their chance level.

Where NN-similarity (:mod:`embedexplore.similarity`) says whether two spaces agree, these say
whether one space is right: how often an item's nearest neighbours share its label (artist,
album, soundtrack, genre, a tag). Any ``(N, d)`` array will do, a 2-D map included.

>>> from embedexplore.similarity import precision_at_k, precision_chance    # doctest: +SKIP
>>> precision_at_k(x, artists, k=10, tracks=track_ids, exclude_same_track=True)  # doctest: +SKIP
>>> precision_chance(artists, k=10, tracks=track_ids, exclude_same_track=True)   # doctest: +SKIP

Segments of one track sound alike and share every label of the track: counted as neighbours,
they inflate the measure without saying anything about the space. ``exclude_same_track=True``
removes them from every query's candidates (``exclude_same_artist=True`` the artist's, for
labels other than the artist).

Neighbours are exact, computed as in :func:`embedexplore.similarity.knn` (this module holds the
search both use): all distances, a block of queries at a time, with torch on the GPU when there
is one; equal distances are ranked by item index. An item whose label is missing (None, NaN, an
empty list) is not queried but stays a candidate for the others (it matches none); a label that
is a list (a track's genres) matches an equal list.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

__all__ = ["mean_average_precision", "precision_at_k", "precision_chance"]

METRICS = ("cosine", "euclidean")
#: distances per block of queries: keeps each [block, N] matrix near 256 MB (float32)
_BLOCK_VALUES = 64 << 20
#: extra candidates taken beyond k, so that ties at the k-th place are ranked by index
_EXTRA = 16


def _device(device) -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _space(x, finite: bool = True) -> np.ndarray:
    """``x`` as a float32 ``[N, d]`` array (a copy: ``x`` may be a read-only map)."""
    out = np.array(x, np.float32)
    if out.ndim != 2:
        raise ValueError(f"the space must be an array [N, d], got shape {out.shape}")
    if finite and not np.isfinite(out).all():
        raise ValueError(
            "the space holds NaN or infinite values: drop those items first (and their labels)"
        )
    return out


def _hashable(v):
    """A label as something to compare: a list or array becomes a tuple; missing -> None."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return tuple(v) or None
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return v


def codes(values, n: int, what: str) -> np.ndarray:
    """``int64`` codes of ``n`` values: equal values share a code >= 0; a missing one is -1.

    Parameters
    ----------
    values : array_like
        Length ``n``: strings, numbers or other objects; lists compare as tuples.
    n : int
        The number of items.
    what : str
        Named in the error.

    Returns
    -------
    numpy.ndarray
        ``int64`` array of shape ``(n,)``.
    """
    if isinstance(values, pd.Series | pd.Index):
        arr = values.to_numpy(dtype=object)
    elif isinstance(values, np.ndarray):
        arr = values
    else:  # a list, of lists perhaps (genres): one object per item
        arr = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            arr[i] = v
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"{what} must hold one value per item ({n}), got shape {arr.shape}")
    if arr.dtype.kind == "O":
        out = np.empty(n, dtype=object)
        for i, v in enumerate(arr):  # one by one: a tuple stays one value
            out[i] = _hashable(v)
        arr = out
    found, _ = pd.factorize(arr, use_na_sentinel=True)
    return found.astype(np.int64)


def groups(
    n: int,
    tracks=None,
    artists=None,
    exclude_same_track: bool = False,
    exclude_same_artist: bool = False,
) -> list[np.ndarray]:
    """The groups whose members are not each other's candidates: codes, a missing id its own.

    Parameters
    ----------
    n : int
        The number of items.
    tracks, artists : array_like, optional
        Length ``n``: each item's track and artist.
    exclude_same_track, exclude_same_artist : bool, default: False
        Which exclusions apply.

    Returns
    -------
    list of numpy.ndarray
        One ``int64`` array of shape ``(n,)`` per exclusion asked for: items with equal codes
        exclude each other; an item whose id is missing shares its code with none.

    Raises
    ------
    ValueError
        An exclusion asked for without its ids, or ids of the wrong length.
    """
    out = []
    for flag, ids, what in (
        (exclude_same_track, tracks, "tracks"),
        (exclude_same_artist, artists, "artists"),
    ):
        if not flag:
            continue
        if ids is None:
            word, column = ("track", "track_id") if what == "tracks" else ("artist", "artist")
            raise ValueError(
                f"exclude_same_{word}=True needs {what}=: the {word} of each item (e.g. the "
                f"{column} column of the segments)"
            )
        c = codes(ids, n, what)
        missing = c < 0
        c[missing] = c.max(initial=-1) + 1 + np.arange(missing.sum())  # unknown: alone
        out.append(c)
    return out


def _block(n: int, rows: int, per_value: int = 1) -> int:
    return max(1, min(rows, _BLOCK_VALUES // max(n * per_value, 1)))


def _sizes(n: int, *keys: np.ndarray) -> np.ndarray:
    """Per item, how many items (itself included) share every one of ``keys`` with it."""
    if not keys:
        return np.full(n, n, np.int64)
    _, inverse, counts = np.unique(
        np.stack(keys, axis=1), axis=0, return_inverse=True, return_counts=True
    )
    return counts[inverse.ravel()].astype(np.int64)


def candidates(n: int, exclude: list[np.ndarray], labels: np.ndarray | None = None) -> np.ndarray:
    """Per item, how many items are its candidates (the query and its groups removed).

    With ``labels``: how many of them share its label.
    """
    base = [] if labels is None else [labels]
    out = _sizes(n, *base)
    # inclusion-exclusion over the groups removed: each subset of them, with its sign
    for subset in range(1, 1 << len(exclude)):
        chosen = [g for b, g in enumerate(exclude) if subset >> b & 1]
        out -= (-1) ** (len(chosen) + 1) * _sizes(n, *base, *chosen)
    if not exclude:  # else the query is in its own groups, removed above
        out -= 1
    return out


class _Distances:
    """All distances from a block of queries to every item, excluded items at +inf."""

    def __init__(self, x: np.ndarray, metric: str, device, exclude=()) -> None:
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        self.metric = metric
        self.device = _device(device)
        xt = torch.from_numpy(x).to(self.device)
        if metric == "cosine":
            xt = xt / xt.norm(dim=1, keepdim=True).clamp_min(1e-12)
        else:
            self.sq = (xt * xt).sum(1)
        self.x = xt
        self.n = xt.shape[0]
        self.groups = [torch.from_numpy(g).to(self.device) for g in exclude]

    def __call__(self, rows: np.ndarray) -> torch.Tensor:
        """Distances ``[b, N]`` (squared for euclidean) from the items ``rows``."""
        r = torch.as_tensor(rows, device=self.device)
        d = self.x[r] @ self.x.T  # similarities, made distances in place
        if self.metric == "cosine":
            d.neg_().add_(1.0)
        else:
            d.mul_(-2.0).add_(self.sq[r, None]).add_(self.sq[None, :]).clamp_min_(0.0)
        d[torch.arange(len(r), device=self.device), r] = float("inf")  # the query itself
        for g in self.groups:
            d.masked_fill_(g[r, None] == g[None, :], float("inf"))
        return d


def nearest(
    x,
    k: int,
    *,
    metric: str = "cosine",
    queries=None,
    device="auto",
    block: int | None = None,
    exclude: list[np.ndarray] = (),
    finite: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` nearest candidates of each query: the search behind ``knn`` and the measures.

    Parameters
    ----------
    x : array_like
        The items, ``(N, d)``.
    k : int
        Neighbours per query (at least 1).
    metric : {"cosine", "euclidean"}, default: "cosine"
        The distance.
    queries : array_like of int, optional
        Indices of the queries (default: every item).
    device : str or torch.device, default: "auto"
        Where the distances are computed.
    block : int, optional
        Queries per matrix product (default: ~256 MB of distances).
    exclude : list of numpy.ndarray, optional
        Group codes (:func:`groups`): a query's candidates are the items of none of its groups.
        The query itself is never a candidate.
    finite : bool, default: True
        Refuse a space holding NaN or infinite values.

    Returns
    -------
    indices : numpy.ndarray
        ``int64`` ``(n_queries, k)``, nearest first, equal distances in index order; -1 past
        a query's candidates.
    distances : numpy.ndarray
        ``float32`` ``(n_queries, k)``, ascending (+inf past a query's candidates).
    found : numpy.ndarray
        ``int64`` ``(n_queries,)``: neighbours found per query, ``min(k, candidates)``.
    """
    x = _space(x, finite)
    dist = _Distances(x, metric, device, exclude)
    n = dist.n
    q = np.arange(n) if queries is None else np.asarray(queries, np.int64)
    found = np.minimum(candidates(n, list(exclude))[q], k)
    block = block or _block(n, len(q))
    out_i = np.full((len(q), k), -1, np.int64)
    out_d = np.full((len(q), k), np.inf, np.float32)
    width = min(n, k + _EXTRA)
    m = min(k, width)
    for a in range(0, len(q), block):
        rows = q[a : a + block]
        d = dist(rows)
        vals, idx = torch.topk(d, width, dim=1, largest=False, sorted=True)
        vals, idx = vals.cpu().numpy(), idx.cpu().numpy()
        order = np.lexsort((idx, vals), axis=1)  # by distance, then by index
        idx, vals = np.take_along_axis(idx, order, 1), np.take_along_axis(vals, order, 1)
        # a tie at the k-th place that runs to the end of the window: rank that row in full
        tied = np.isfinite(vals[:, m - 1]) & (vals[:, m - 1] == vals[:, -1]) & (width < n)
        for r in np.flatnonzero(tied):
            v, i = torch.sort(d[r], stable=True)
            vals[r, :m], idx[r, :m] = v[:m].cpu().numpy(), i[:m].cpu().numpy()
        keep = np.arange(m)[None, :] < found[a : a + len(rows), None]
        out_i[a : a + len(rows), :m] = np.where(keep, idx[:, :m], -1)
        out_d[a : a + len(rows), :m] = np.where(keep, vals[:, :m], np.inf)
    if metric == "euclidean":
        out_d = np.sqrt(out_d)
    return out_i, out_d, found


def _ranked(d: np.ndarray) -> np.ndarray:
    """Per row of distances ``[b, N]``, the item indices by distance, equal ones by index.

    Sorts one ``int64`` key per item (the distance's bits above, the index below): 10x faster
    than a stable sort of the distances on the CPU.
    """
    key = (d + np.float32(0.0)).view(np.int32).astype(np.int64)  # -0.0 becomes 0.0
    key ^= (key >> 31) & 0x7FFFFFFF  # negative floats in order too
    key <<= 32
    key |= np.arange(d.shape[1], dtype=np.int64)
    key.sort(axis=1)
    key &= 0xFFFFFFFF
    return key


def _setup(space, labels, tracks, artists, exclude_same_track, exclude_same_artist):
    x = _space(space)
    n = len(x)
    lab = codes(labels, n, "labels")
    return x, lab, groups(n, tracks, artists, exclude_same_track, exclude_same_artist)


def _none_left(k: int | None) -> ValueError:
    need = "a neighbour" if k is None else f"k={k} neighbours"
    return ValueError(
        f"no item with a label has {need} left after the exclusions: give more items, a "
        "smaller k, or fewer exclusions"
    )


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a whole number >= 1, got {k!r}")
    return int(k)


def precision_at_k(
    space,
    labels,
    k: int = 10,
    *,
    tracks=None,
    artists=None,
    exclude_same_track: bool = False,
    exclude_same_artist: bool = False,
    metric: str = "cosine",
) -> float:
    """How often an item's ``k`` nearest neighbours share its label, on average.

    Parameters
    ----------
    space : array_like
        The items, ``(N, d)``: segments or tracks of a model's layer, or a 2-D map.
    labels : array_like
        Length ``N``: each item's label (artist, album, genre, a tag: strings, numbers or
        objects; a list compares as a whole). Items with a missing label (None, NaN) are not
        queried; they stay candidates, matching no one.
    k : int, default: 10
        Neighbours per query.
    tracks, artists : array_like, optional
        Length ``N``: each item's track and artist, for the exclusions.
    exclude_same_track : bool, default: False
        Remove the query's own track from its candidates (needs ``tracks``).
    exclude_same_artist : bool, default: False
        Remove the query's artist from its candidates (needs ``artists``).
    metric : {"cosine", "euclidean"}, default: "cosine"
        The distance (``"euclidean"`` for a 2-D map).

    Returns
    -------
    float
        In [0, 1]: the mean, over the items with a label and at least ``k`` candidates left, of
        the fraction of their ``k`` nearest candidates that share their label. Compare with
        :func:`precision_chance`.

    Raises
    ------
    ValueError
        ``space`` not ``(N, d)`` or not finite, arrays of other lengths, an exclusion without
        its ids, an unknown metric, or no item left to query.
    """
    k = _check_k(k)
    x, lab, excl = _setup(space, labels, tracks, artists, exclude_same_track, exclude_same_artist)
    queries = np.flatnonzero(lab >= 0)
    queries = queries[candidates(len(x), excl)[queries] >= k]
    if not len(queries):
        raise _none_left(k)
    idx, _, _ = nearest(x, k, metric=metric, queries=queries, exclude=excl)
    return float((lab[idx] == lab[queries, None]).mean())


def mean_average_precision(
    space,
    labels,
    *,
    tracks=None,
    artists=None,
    exclude_same_track: bool = False,
    exclude_same_artist: bool = False,
    metric: str = "cosine",
) -> float:
    """The mean over queries of the average precision of the ranking of all their candidates.

    A query's average precision is the mean, over its candidates that share its label, of the
    precision at their rank (1 when they all come first); 0 when no candidate shares its label.

    Parameters
    ----------
    space : array_like
        The items, ``(N, d)``.
    labels : array_like
        Length ``N``: each item's label; items with a missing one are not queried.
    tracks, artists : array_like, optional
        Length ``N``: each item's track and artist, for the exclusions.
    exclude_same_track, exclude_same_artist : bool, default: False
        Remove the query's track (artist) from its candidates.
    metric : {"cosine", "euclidean"}, default: "cosine"
        The distance.

    Returns
    -------
    float
        In [0, 1], over the items with a label and at least one candidate left.

    Raises
    ------
    ValueError
        As :func:`precision_at_k`.
    """
    x, lab, excl = _setup(space, labels, tracks, artists, exclude_same_track, exclude_same_artist)
    n = len(x)
    count = candidates(n, excl)
    queries = np.flatnonzero((lab >= 0) & (count > 0))
    if not len(queries):
        raise _none_left(None)
    dist = _Distances(x, metric, "auto", excl)
    rank = np.arange(1, n + 1)
    lab = lab.astype(np.int32) if n < 2**31 else lab  # half the bytes to gather
    total = 0.0
    for a in range(0, len(queries), block := _block(n, len(queries), per_value=3)):
        rows = queries[a : a + block]
        order = _ranked(dist(rows).cpu().numpy())  # excluded items (+inf) last
        relevant = (lab[order] == lab[rows, None]) & (rank[None, :] <= count[rows, None])
        # per row, the j-th relevant item at rank r adds j / r
        row, col = np.nonzero(relevant)
        j = np.arange(len(row)) - np.searchsorted(row, row) + 1
        precision = np.bincount(row, weights=j / (col + 1), minlength=len(rows))
        total += float((precision / np.maximum(np.bincount(row, minlength=len(rows)), 1)).sum())
    return total / len(queries)


def precision_chance(
    labels,
    k: int = 10,
    *,
    tracks=None,
    artists=None,
    exclude_same_track: bool = False,
    exclude_same_artist: bool = False,
) -> float:
    """The precision at ``k`` of a random ranking, with the same queries and exclusions.

    Parameters
    ----------
    labels : array_like
        Length ``N``: each item's label; items with a missing one are not queried.
    k : int, default: 10
        Neighbours per query: items with fewer candidates are not queried.
    tracks, artists : array_like, optional
        Length ``N``: each item's track and artist, for the exclusions.
    exclude_same_track, exclude_same_artist : bool, default: False
        Remove the query's track (artist) from its candidates.

    Returns
    -------
    float
        The mean, over the items with a label and at least ``k`` candidates left, of the share
        of their candidates that share their label (the expected precision at any ``k`` of a
        ranking drawn at random).

    Raises
    ------
    ValueError
        As :func:`precision_at_k`.
    """
    k = _check_k(k)
    n = len(labels)
    lab = codes(labels, n, "labels")
    excl = groups(n, tracks, artists, exclude_same_track, exclude_same_artist)
    count = candidates(n, excl)
    ok = (lab >= 0) & (count >= k)
    if not ok.any():
        raise _none_left(k)
    return float((candidates(n, excl, lab)[ok] / count[ok]).mean())
