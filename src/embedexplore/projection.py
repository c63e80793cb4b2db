"""2-D (or 3-D) projections of the segment embeddings: PCA, STD-PCA, t-SNE, UMAP and tag axes.

>>> xy = embedexplore.project(emb, "umap", model="musicnn-msd")                # doctest: +SKIP
>>> xy = embedexplore.project(x, "tsne", seed=1)       # any array [n, d]       # doctest: +SKIP
>>> xy = embedexplore.project(emb, "tags", model="musicnn-msd",
...                           tags=("guitar", "electronic"))                   # doctest: +SKIP

Every method is deterministic for a fixed ``seed``. Results are cached on disk (in the user cache
directory, or ``cache=PATH``), keyed by a hash of the input data, the method and its parameters,
so that reopening a view is instant.

t-SNE and UMAP first reduce the data to 50 dimensions with PCA (``pca_dims``; ``None`` skips it).
This is the usual practice (Kobak & Berens 2019): both start from a nearest-neighbour graph,
which 50 principal components of these embeddings preserve while cutting its cost 4-30x (the
layers have 50-1506 dimensions), and the small components it drops are mostly noise. PCA runs in
torch, on the GPU when there is one.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import CancelledError
from pathlib import Path

import numpy as np

from ._atomic import atomic_write
from ._dirs import user_cache_dir

__all__ = ["METHODS", "pca", "project"]

METHODS = ("pca", "std-pca", "tsne", "umap", "tags")
_VERSION = 2  # bump when a method's output changes, so that old cache entries are not reused


def project(
    data,
    method: str = "pca",
    *,
    dims: int = 2,
    seed: int = 0,
    model: str | None = None,
    layer: str | None = None,
    rows=None,
    every: int = 1,
    level: str = "segment",
    tags=None,
    pca_dims: int | None = 50,
    cache: bool | str | os.PathLike = True,
    device="auto",
    progress=None,
    **params,
) -> np.ndarray:
    """Project ``data`` to ``dims`` dimensions with ``method``.

    Parameters
    ----------
    data : array_like or Embeddings
        The points, an array of shape ``(n, d)`` (any real dtype; converted to ``float32``), or
        extracted embeddings (then ``model`` and ``layer`` pick the space).
    method : str
        ``"pca"``; ``"std-pca"`` (each dimension z-scored over the points first, constant ones
        left out: every dimension then counts the same, whatever its scale); ``"tsne"``
        (openTSNE, FFT-accelerated); ``"umap"`` (umap-learn); ``"tags"`` (two taggram columns as
        the axes, e.g. ``tags=("guitar", "electronic")``).
    dims : int, default: 2
        Output dimensions (2 or 3 for the explorer); ignored by ``"tags"``, which gives 2.
    seed : int, default: 0
        Seed of the random parts (t-SNE, UMAP): the same seed gives the same result.
    model, layer : str, optional
        With :class:`~embedexplore.Embeddings`: the space (``layer`` defaults to
        ``"embeddings"``, or ``"taggrams"`` for ``method="tags"``).
    rows : slice or array_like of int, optional
        A subset of the points: of the segment rows (or of the tracks, with ``level="track"``)
        with :class:`~embedexplore.Embeddings`, of the rows of an array otherwise.
    every : int, default: 1
        Keep every ``every``-th point (the thesis' "reduction"), after ``rows``.
    level : {"segment", "track"}, default: "segment"
        With :class:`~embedexplore.Embeddings`: ``"segment"`` or ``"track"`` (each track's mean
        over its segments).
    tags : pair of str or int, optional
        For ``method="tags"``: the two tag names (with :class:`~embedexplore.Embeddings`) or
        column indices.
    pca_dims : int or None, default: 50
        t-SNE and UMAP: reduce to this many principal components first (None: no reduction).
    cache : bool or str or os.PathLike, default: True
        Keep results on disk (``True``: in the user cache directory; a path: in that folder)
        and reuse them; ``False``: no cache.
    device : str or torch.device, default: "auto"
        Where PCA runs: ``"auto"`` (CUDA when present), ``"cuda"``, ``"cpu"``.
    progress : callable, optional
        Called as ``progress(done)`` before a t-SNE or UMAP is computed (not for a result
        found in the cache) and then as it goes: ``done`` is the share of the work done, from 0
        to 1 (t-SNE: of its iterations, every 10 of them), or None where the method does not
        say (UMAP). Where it returns True the computation stops as soon as it can (t-SNE: at
        the next call; UMAP: only before it starts) and
        :class:`concurrent.futures.CancelledError` is raised; nothing is cached.
    **params
        Passed to the method: e.g. ``perplexity`` (t-SNE), ``n_neighbors`` and ``min_dist``
        (UMAP).

    Returns
    -------
    numpy.ndarray
        ``float32`` array of shape ``(n_points, dims)`` (``(n_points, 2)`` for ``"tags"``):
        ``n_points`` is the number of points left after ``rows`` and ``every``, in that order.

    Raises
    ------
    concurrent.futures.CancelledError
        ``progress`` returned True.
    ValueError
        An unknown ``method`` or ``level``, ``every`` below 1, no ``model`` with
        :class:`~embedexplore.Embeddings`, data that is not 2-D or holds NaN or infinite values
        (e.g. tracks without segments), fewer than 3 points (except for ``"tags"``), or
        ``tags`` that are not a pair of known tags.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    x, tag_columns = _points(data, method, model, layer, rows, every, level, tags)
    if method == "tags":
        return np.ascontiguousarray(x[:, list(tag_columns)], np.float32)
    if len(x) < 3:
        raise ValueError(f"{len(x)} points: a projection needs at least 3")
    key = None
    if cache:
        spec = {"v": _VERSION, "method": method, "dims": dims, "seed": seed,
                "pca_dims": pca_dims, "params": params}  # fmt: skip
        h = hashlib.sha1(json.dumps(spec, sort_keys=True, default=str).encode())
        h.update(str((x.shape, x.dtype.str)).encode())
        h.update(np.ascontiguousarray(x).data)
        folder = Path(cache) if not isinstance(cache, bool) else user_cache_dir() / "projections"
        key = folder / f"{method}-{h.hexdigest()[:24]}.npy"
        if key.exists():
            try:
                out = np.load(key)
                if out.shape == (len(x), dims):
                    return out
            except (OSError, ValueError):
                pass  # a damaged entry is computed again
    out = _compute(x, method, dims, seed, pca_dims, device, params, progress).astype(np.float32)
    if key is not None:
        with atomic_write(key) as f:
            np.save(f, out)
    return out


def _points(data, method, model, layer, rows, every, level, tags):
    """The points as a float32 array, and for ``tags`` the two column indices."""
    columns = None
    if hasattr(data, "array") and hasattr(data, "segments_of"):  # Embeddings
        if model is None:
            raise ValueError(f"which model? pass model= (one of {list(data.models)})")
        layer = layer or ("taggrams" if method == "tags" else "embeddings")
        if level == "track":
            x = data.per_track(model, layer).mean
        elif level == "segment":
            x = data.array(model, layer)
        else:
            raise ValueError(f"level must be 'segment' or 'track', got {level!r}")
        if method == "tags":
            labels = list(data.labels(model) or ())
            columns = [_tag_column(t, labels) for t in _pair(tags)]
    else:
        x = data
        if method == "tags":
            columns = [int(t) for t in _pair(tags)]
    if rows is not None:
        x = x[rows]
    x = np.asarray(x[::every], np.float32)
    if x.ndim != 2:
        raise ValueError(f"the data must be [n, d], got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("the data holds NaN or infinite values (tracks without segments?)")
    return x, columns


def _pair(tags):
    if tags is None or isinstance(tags, str) or len(tags) != 2:
        raise ValueError("method='tags' needs tags=(x_axis, y_axis), e.g. ('guitar', 'electronic')")
    return tags


def _tag_column(tag, labels) -> int:
    if isinstance(tag, int | np.integer):
        return int(tag)
    low = [label.lower() for label in labels]
    if tag.lower() not in low:
        raise ValueError(f"no tag {tag!r}; tags: {', '.join(labels)}")
    return low.index(tag.lower())


def _stop_if_asked(progress, done) -> None:
    if progress is not None and progress(done):
        raise CancelledError("the projection was stopped by its progress callback")


def _compute(x, method, dims, seed, pca_dims, device, params, progress=None) -> np.ndarray:
    if method == "pca":
        return pca(x, dims, device=device)
    if method == "std-pca":
        std = x.std(axis=0)
        keep = std > 1e-12 * max(1.0, float(np.abs(x).max()))
        if not keep.any():
            raise ValueError("every dimension is constant over these points")
        z = (x[:, keep] - x[:, keep].mean(axis=0)) / std[keep]
        return pca(z, dims, device=device)
    _stop_if_asked(progress, 0.0 if method == "tsne" else None)
    reduced = x
    if pca_dims is not None and x.shape[1] > pca_dims and len(x) > pca_dims:
        reduced = pca(x, pca_dims, device=device)
    if method == "tsne":
        from openTSNE import TSNE

        # 350 iterations after the exaggeration phase instead of openTSNE's 500, and FFT
        # intervals of 2 units instead of 1: on 5,712 real segments S_10 is unchanged (0.573
        # vs 0.574), and 70,000 points take 100 s instead of 205 s on 2 cores
        # (benchmarks/projection_quality.py)
        options = {
            "perplexity": 30.0, "initialization": "pca", "n_jobs": os.cpu_count() or 1,
            "n_iter": 350, "ints_in_interval": 2,
        }  # fmt: skip
        options.update(params)
        options["perplexity"] = min(options["perplexity"], (len(x) - 1) / 3)
        stopped = []
        if progress is not None:
            _stop_if_asked(progress, 0.0)  # the PCA above may have taken a while
            total = options.get("early_exaggeration_iter", 250) + options["n_iter"]
            done = iter(range(10, 10**9, 10))

            def callback(_iteration, _error, _embedding):
                # openTSNE calls this every 10 iterations of either phase (early exaggeration,
                # then the rest) and stops the whole fit where it returns True, returning the
                # embedding as it is: kept out of the cache below
                if progress(min(next(done) / total, 1.0)):
                    stopped.append(True)
                    return True
                return False

            options.update(callbacks=callback, callbacks_every_iters=10)
        tsne = TSNE(n_components=dims, random_state=seed, verbose=False, **options)
        out = np.asarray(tsne.fit(reduced))
        if stopped:
            raise CancelledError("the projection was stopped by its progress callback")
        return out
    if method == "umap":
        import warnings

        import umap

        # PCA initialisation instead of UMAP's spectral one: deterministic, and the spectral
        # eigensolver alone took minutes on 70,000 points (70,000 points: 45 s in all)
        options = {"n_neighbors": 15, "min_dist": 0.1, "init": "pca"}
        options.update(params)
        options["n_neighbors"] = min(options["n_neighbors"], len(x) - 1)
        with warnings.catch_warnings():
            # a fixed random_state makes UMAP single-threaded, and it says so: that is the price
            # of a reproducible layout
            warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
            _stop_if_asked(progress, None)  # umap-learn has no hook to stop it once started
            return umap.UMAP(n_components=dims, random_state=seed, **options).fit_transform(reduced)
    raise AssertionError(method)


def pca(x, dims: int = 2, *, device="auto") -> np.ndarray:
    """Principal components of ``x`` ``[n, d]``: the centred points on the ``dims`` leading axes.

    Computed from the ``d x d`` covariance in float64 with torch (on the GPU when there is one),
    which is exact and takes milliseconds for the embeddings' sizes. Each axis' sign is fixed so
    that its largest loading is positive (deterministic output, as scikit-learn's ``svd_flip``).

    Parameters
    ----------
    x : array_like
        Array of shape ``(n, d)``, any real dtype (copied to ``float64``).
    dims : int, default: 2
        Number of leading axes to keep (at most ``d``).
    device : str or torch.device, default: "auto"
        Where it runs: ``"auto"`` (CUDA when present), ``"cuda"``, ``"cpu"``.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of shape ``(n, min(dims, d))``: column ``j`` is the projection on the
        axis of the ``j``-th largest variance.
    """
    import torch

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else (
        torch.device(device))  # fmt: skip
    xt = torch.from_numpy(np.array(x, np.float64)).to(dev)  # a copy: x may be a read-only map
    n, d = xt.shape
    dims = min(dims, d)
    centred = xt - xt.mean(dim=0)
    cov = centred.T @ centred / max(n - 1, 1)
    _, vectors = torch.linalg.eigh(cov)  # ascending eigenvalues
    axes = vectors[:, -dims:].flip(1)  # [d, dims], largest variance first
    flip = torch.sign(axes.gather(0, axes.abs().argmax(0, keepdim=True)))
    axes = axes * torch.where(flip == 0, 1.0, flip)
    return (centred @ axes).cpu().numpy()
