"""The Explorer's tracks: their labels and tags, which match a filter, their rows, and the
selection as tables of rows and of tracks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._text import TEXT, text_array


def tag_columns(labels, tags) -> list[int]:
    """Columns of ``tags`` among a model's tag ``labels`` (case-insensitive; unknown ones left
    out). A dict, not ``list.index``: a page may send many tags."""
    column = {label.casefold(): i for i, label in enumerate(labels)}
    return [column[x.casefold()] for x in tags if x.casefold() in column]


def track_meta(embeddings, collection) -> pd.DataFrame:
    """artist, title, album, genre (first), genres (all), path and a label per track."""
    tracks = embeddings.tracks
    ids = tracks.index
    meta = pd.DataFrame(index=ids)
    src = collection.tracks.reindex(ids) if collection is not None else None
    # built as TEXT, never inferred: a file name that is not valid UTF-8 (see _text)
    names = pd.Series(
        text_array(p.rsplit("/", 1)[-1].rsplit(".", 1)[0] for p in tracks["path"]), index=ids
    )
    for col in ("artist", "title", "album"):
        values = src[col] if src is not None else pd.Series(pd.NA, index=ids)
        meta[col] = values.astype("object").where(values.notna(), None)
    meta["title"] = meta["title"].where(meta["title"].notna(), names)
    genres = src["genre"] if src is not None else pd.Series([[]] * len(ids), index=ids)
    meta["genres"] = [list(g) if isinstance(g, list | tuple | np.ndarray) else [] for g in genres]
    meta["genre"] = [g[0] if g else None for g in meta["genres"]]
    meta["path"] = tracks["path"].astype(TEXT)
    meta["label"] = [f"{a} - {ti}" if a else str(ti)
                     for a, ti in zip(meta["artist"], meta["title"], strict=True)]  # fmt: skip
    return meta


def tracks_matching(meta: pd.DataFrame, spec: dict, embeddings=None, model=None) -> np.ndarray:
    """Which tracks of ``meta`` match any artist, album, genre, track or tag entry of ``spec``.

    ``tracks`` entries match a track id or a title; all comparisons ignore case. ``tags`` match
    the three strongest of a track's mean taggram of ``model`` (without ``embeddings``, they
    are left to the caller).
    """
    hit = np.zeros(len(meta), bool)
    tags = spec.get("tags", [])
    labels = embeddings.labels(model) if tags and embeddings is not None else None
    if labels and "taggrams" in embeddings.layers(model):
        mean = np.nan_to_num(embeddings.per_track(model, "taggrams").mean, nan=-1.0)
        top = np.argpartition(-mean, 3, axis=1)[:, :3]
        hit |= np.isin(top, tag_columns(labels, tags)).any(axis=1)
    for key, column in (("artists", "artist"), ("albums", "album"), ("genres", "genres")):
        wanted = {s.casefold() for s in spec.get(key, [])}
        if wanted:
            hit |= meta[column].map(lambda v, w=wanted: _matches(v, w)).to_numpy(bool)
    wanted = {s.casefold() for s in spec.get("tracks", [])}
    if wanted:
        ids = meta.index.to_series().str.casefold().isin(wanted).to_numpy(bool)
        titles = meta["title"].map(lambda v: _matches(v, wanted)).to_numpy(bool)
        hit |= ids | titles
    return hit


def _matches(value, wanted: set[str]) -> bool:
    if isinstance(value, list):
        return any(v.casefold() in wanted for v in value)
    return isinstance(value, str) and value.casefold() in wanted


def rows_of_tracks(table: pd.DataFrame, tracks: np.ndarray) -> np.ndarray:
    """The rows of ``tracks`` (indices into ``table``, an ``Embeddings.tracks``, with its
    ``first_row`` and ``n_segments``), in their order, as one int64 array."""
    n = table["n_segments"].to_numpy()[tracks]
    if not n.sum():
        return np.zeros(0, np.int64)
    starts = np.repeat(table["first_row"].to_numpy()[tracks], n)
    offsets = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return (starts + offsets).astype(np.int64)


def rows_table(embeddings, meta: pd.DataFrame, rows, model: str) -> pd.DataFrame:
    """``rows`` of ``embeddings.segments`` with their track's tags and ``model``'s top tags."""
    seg = embeddings.segments.iloc[rows].copy()
    tracks = meta.reindex(pd.Index(seg["track_id"].astype(TEXT)))
    for col in ("artist", "title", "album", "genre"):
        seg[col] = tracks[col].to_numpy()
    labels = embeddings.labels(model)
    if labels and "taggrams" in embeddings.layers(model) and len(rows):
        x = np.asarray(embeddings.array(model, "taggrams")[rows], np.float32)
        top = np.argsort(-x, axis=1)[:, :3]
        labels = np.asarray(labels, dtype=object)
        seg["top_tags"] = [list(labels[r]) for r in top]
    return seg


def tracks_table(embeddings, meta: pd.DataFrame, rows) -> pd.DataFrame:
    """The tracks of ``rows`` (in order of first row) with ``n_selected`` of ``n_segments``."""
    seg = embeddings.segments.iloc[rows]
    counts = seg["track_id"].astype(TEXT).value_counts(sort=False)
    ids = pd.Index(pd.unique(seg["track_id"].astype(TEXT)), name="track_id")
    out = meta.reindex(ids)[["artist", "title", "album", "genre", "path"]].copy()
    out["n_selected"] = counts.reindex(ids).to_numpy(np.int64)
    out["n_segments"] = embeddings.tracks["n_segments"].reindex(ids).to_numpy(np.int64)
    return out
