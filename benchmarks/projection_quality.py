"""How much of the embedding space each projection keeps, and how fast it runs.

    .venv/bin/python benchmarks/projection_quality.py [--store DIR] [--model musicnn-msd]
                                                      [--speed 70000]

Quality: on the segments of a real collection (default: every track of five Debian game-music
packages, extracted with ``--model`` into ``--store`` if the store is not there yet, ~5 h of
audio), for PCA, STD-PCA, t-SNE and UMAP to 2-D: S_10, the NN-similarity between the original
space and the projection (embedexplore.similarity), and scikit-learn's trustworthiness (10
neighbours), beside the thesis' finding (Tovstogan 2022, ch. 4: t-SNE preserved the most, S_10
about 0.42 on MSD MusiCNN embeddings; UMAP second; PCA last).

Speed (``--speed N``): N points of the layer's dimension, in seconds per method. This machine
has too little real music for 70,000 distinct segments, so the points are the real segments
followed by jittered copies of them (each copy moved by Gaussian noise of 0.25 of each
dimension's standard deviation): the same scale and correlations as real embeddings, without
exact duplicates. Prints the hardware.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _hardware import describe

FOLDERS = [
    "/usr/share/games/wesnoth/1.16/data/core/music",
    "/usr/share/games/colobot/music",
    "/usr/share/games/fretsonfire/data/songs/muldjord",
    "/usr/share/freedroidrpg/data/sound/music",
    "/usr/share/games/asc/music",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="/tmp/embedexplore-bench-store")
    ap.add_argument("--model", default="musicnn-msd")
    ap.add_argument("--layer", default="embeddings")
    ap.add_argument("--speed", type=int, default=0, help="points for the speed test (0: none)")
    ap.add_argument("--methods", nargs="+", default=["pca", "std-pca", "tsne", "umap"])
    args = ap.parse_args()

    import torch
    from sklearn.manifold import trustworthiness

    import embedexplore
    from embedexplore.similarity import nn_similarity

    print(describe())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    store = Path(args.store)
    if not (store / "manifest.json").exists():
        coll = embedexplore.scan([f for f in FOLDERS if Path(f).exists()], progress=False)
        print(f"extracting {coll} with {args.model} into {store} ...", flush=True)
        embedexplore.extract(coll, store=store, models=args.model, dtype="float32", progress=False)
    emb = embedexplore.open_store(store, models=[args.model])
    x = np.asarray(emb.array(args.model, args.layer), np.float32)
    print(
        f"space: {args.model}/{args.layer}, {len(x)} segments of {len(emb.tracks)} tracks, "
        f"{x.shape[1]} dimensions"
    )
    print("thesis (Tovstogan 2022, ch. 4): t-SNE keeps the most (S_10 ~0.42, MSD MusiCNN), "
          "UMAP second, PCA last")  # fmt: skip
    for method in args.methods:
        t = time.perf_counter()
        xy = embedexplore.project(x, method, seed=0, cache=False)
        seconds = time.perf_counter() - t
        # in 2-D only euclidean distance means anything; the original space both ways
        s10_cos = nn_similarity(x, xy, n=10, metric=("cosine", "euclidean"), device="cpu")
        s10_euc = nn_similarity(x, xy, n=10, metric="euclidean", device="cpu")
        tw = trustworthiness(x, xy, n_neighbors=10)
        print(
            f"  {method:8s} S_10 {s10_euc:.3f} (euclidean in the original space; {s10_cos:.3f} "
            f"cosine)  trustworthiness {tw:.3f}  {seconds:6.1f} s",
            flush=True,
        )
    if args.speed:
        rng = np.random.default_rng(0)
        reps = -(-args.speed // len(x))
        std = x.std(axis=0)
        big = np.concatenate(
            [x]
            + [
                x + rng.normal(size=x.shape).astype(np.float32) * 0.25 * std
                for _ in range(reps - 1)
            ]
        )[: args.speed]
        print(f"speed: {big.shape[0]} points x {big.shape[1]} dimensions "
              f"({len(x)} real segments + jittered copies)")  # fmt: skip
        for method in args.methods:
            t = time.perf_counter()
            embedexplore.project(big, method, seed=0, cache=False, device="cpu")
            print(f"  {method:8s} {time.perf_counter() - t:7.1f} s", flush=True)


if __name__ == "__main__":
    main()
