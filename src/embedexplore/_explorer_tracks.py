"""The Explorer's tracks: their labels and tags, which match a filter, and their segment rows."""

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


def tracks_matching(meta: pd.DataFrame, spec: dict) -> np.ndarray:
    """Which tracks of ``meta`` match any artist, album, genre or track entry of ``spec``.

    ``tracks`` entries match a track id or a title; all comparisons ignore case. ``tags`` are
    left to the caller (they need a model's taggrams).
    """
    hit = np.zeros(len(meta), bool)
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


def track_rows(first: np.ndarray, counts: np.ndarray, tracks: np.ndarray) -> np.ndarray:
    """The segment rows of ``tracks`` (in their order), as one int64 array."""
    n = counts[tracks]
    if not n.sum():
        return np.zeros(0, np.int64)
    starts = np.repeat(first[tracks], n)
    offsets = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return (starts + offsets).astype(np.int64)
