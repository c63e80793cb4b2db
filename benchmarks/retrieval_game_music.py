"""Quality beside agreement, on real music: precision@k of the soundtrack (and of the composer)
for the four taggers, the handcrafted baseline and the random-weights control.

    .venv/bin/python benchmarks/retrieval_game_music.py [--per-soundtrack 12] [--k 10]
        [--store DIR] [--device cpu]

The collection is Debian's freely licensed game music (``ee.datasets.game_music()``: wesnoth,
colobot, fretsonfire, freedroidrpg, asc), at most ``--per-soundtrack`` tracks of each, taken
round-robin over the composers of the soundtrack (the artist tag) so that no composer fills a
soundtrack's share. Every 2.992 s segment is an item; its label is its track's soundtrack (or its
composer). Printed, for each model's ``embeddings`` layer (cosine distance):

- P@k and mean average precision with every other segment a candidate ("all"), and with the
  segments of the query's own track left out ("other tracks"): a segment's neighbours from its
  own track share its soundtrack trivially, so "all" flatters every model;
- the chance level of each (``ee.similarity.precision_chance``: the expected P@k of a random
  ranking under the same exclusions);
- the share of each segment's k nearest neighbours that come from its own track.

The store is resumable: interrupt and run again, only what is missing is extracted. The
closing note of issue 20 quotes its output.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

import embedexplore as ee
from _hardware import describe
from embedexplore import similarity as sim

TAGGERS = ["musicnn-msd", "musicnn-mtt", "vgg-msd", "vgg-mtt"]


def round_robin(tracks: pd.DataFrame, per_soundtrack: int | None) -> pd.DataFrame:
    """At most ``per_soundtrack`` tracks of each soundtrack, one composer after another (sorted
    by name; each composer's tracks by path), so a soundtrack's share spans its composers."""
    chosen = []
    for _, group in tracks.sort_values("path").groupby("soundtrack", sort=True):
        queues = [list(g.index) for _, g in group.groupby("composer", sort=True)]
        picked: list = []
        while any(queues) and (per_soundtrack is None or len(picked) < per_soundtrack):
            for q in queues:
                if q and (per_soundtrack is None or len(picked) < per_soundtrack):
                    picked.append(q.pop(0))
        chosen.extend(picked)
    return tracks.loc[chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-soundtrack", type=int, default=12, help="0: all tracks")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--store", default=None, help="default: a store in embedexplore's cache")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(describe())

    files = ee.datasets.game_music()
    collection = ee.scan(list(files["path"]), progress=False)
    by_path = files.set_index(files["path"].map(lambda p: str(Path(p).resolve())))
    tracks = collection.tracks.copy()
    resolved = tracks["path"].map(lambda p: str(Path(p).resolve()))
    tracks["soundtrack"] = by_path.loc[resolved, "soundtrack"].to_numpy()
    tracks["composer"] = tracks["artist"].fillna("(unknown)").astype(str)
    chosen = round_robin(tracks, args.per_soundtrack or None)
    # a subset of the one scan (not a scan of the subset: a track's id depends on the files
    # scanned with it where two share a relative path, and the store is keyed by it)
    subset = ee.Collection(
        collection.tracks.loc[chosen.index].copy(),
        collection.errors,
        collection.roots,
        collection.stats,
    )
    hours = subset.tracks["duration"].sum() / 3600
    print(f"{len(subset.tracks)} tracks, {hours:.2f} h of audio; tracks per soundtrack:")
    print(chosen.groupby("soundtrack").size().to_string())

    control = ee.models.random_weights("musicnn-msd", seed=0)
    models = [*TAGGERS, "mfcc-stats", control]
    # default: the store embedexplore's cache keeps for /usr/share/games (most of the packages)
    store = Path(args.store).expanduser() if args.store else ee.default_store("/usr/share/games")
    print(ee.estimate_extraction(subset, store=store, models=models, device=args.device))
    t0 = time.perf_counter()
    emb = ee.extract(subset, store=store, models=models, device=args.device)
    print(f"extraction (or reading the store): {time.perf_counter() - t0:.0f} s")

    track_of = emb.segments["track_id"].astype(str).to_numpy()
    meta = chosen.set_index(chosen.index.astype(str))
    labels = {
        "soundtrack": meta.loc[track_of, "soundtrack"].to_numpy(),
        "composer": meta.loc[track_of, "composer"].to_numpy(),
    }
    spaces = sim.spaces(emb, models, ["embeddings"])
    k = args.k
    for name, label in labels.items():
        rows = {}
        for kind, exclude in (("all", False), ("other tracks", True)):
            chance = sim.precision_chance(label, k, tracks=track_of, exclude_same_track=exclude)
            rows[("chance", kind)] = {f"P@{k}": chance, "MAP": np.nan}
            for model in models:
                x = spaces[f"{model}/embeddings"]
                kw = dict(tracks=track_of, exclude_same_track=exclude)
                rows[(model, kind)] = {
                    f"P@{k}": sim.precision_at_k(x, label, k, **kw),
                    "MAP": sim.mean_average_precision(x, label, **kw),
                }
        table = pd.DataFrame(rows).T.unstack(1)
        print(f"\nlabel: {name} ({len(set(label))} values, {len(label)} segments)")
        print(table.round(3).to_string())

    print(f"\nshare of each segment's {k} nearest neighbours from its own track:")
    for model in models:
        nn, _ = sim.knn(spaces[f"{model}/embeddings"], k)
        print(f"  {model:24s} {np.mean(track_of[nn] == track_of[:, None]):.3f}")


if __name__ == "__main__":
    main()
