"""How close the handcrafted baselines (MFCC and chroma statistics) are to librosa's, on real music.

    .venv/bin/python benchmarks/handcrafted_agreement.py [--tracks FILE ...] [--device cpu]

Every 2.992 s segment (47,872 samples at 16 kHz, the segments the extraction gives the models) of
5 real tracks (Debian's game-music packages; or ``--tracks``) goes through
``MFCCStats`` and ``ChromaStats`` in one batch per track (float32, on ``--device``), and through
librosa one segment at a time (float64 input: ``feature.mfcc`` and ``feature.chroma_stft`` with
``tuning=0.0``, whose mean and population std over frames are taken in NumPy). Printed per feature
(MFCC means, MFCC stds, chroma means, chroma stds): the largest absolute difference, the largest
value (for scale), the largest relative difference ``|ours - librosa| / |librosa|`` over the
entries with ``|librosa| >= 1e-3`` times that feature's largest value (smaller entries, MFCCs
crossing zero for instance, only have an absolute error worth reading), and the median absolute
difference. The time our two modules took is printed too (not what is measured: librosa's runs
dominate the total).

Last, as information, how far librosa's default chroma (``tuning=None``: a tuning estimated per
segment) lies from ours (``tuning=0.0``), with the range of the tunings it estimated.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from _hardware import describe
from embedexplore.audio import PATCH_SAMPLES, SAMPLE_RATE, load
from embedexplore.models.handcrafted import ChromaStats, MFCCStats

# one track from each of five of Debian's game-music packages (scripts/install_test_music.sh)
TRACKS = [
    Path("/usr/share/games/wesnoth/1.16/data/core/music/battle.ogg"),
    Path("/usr/share/games/colobot/music/Prototype.ogg"),
    Path("/usr/share/games/fretsonfire/data/songs/muldjord/chaos_god/song.ogg"),
    Path("/usr/share/freedroidrpg/data/sound/music/TechBattle.ogg"),
    Path("/usr/share/games/asc/music/frontiers.mp3"),
]


def _librosa_stats(segment: np.ndarray, librosa) -> dict[str, np.ndarray]:
    y = segment.astype(np.float64)
    mfcc = librosa.feature.mfcc(y=y, sr=SAMPLE_RATE)
    chroma = librosa.feature.chroma_stft(y=y, sr=SAMPLE_RATE, tuning=0.0)
    with warnings.catch_warnings():
        # a segment with no clear peaks: librosa warns and estimates from what it has
        warnings.simplefilter("ignore")
        estimated = librosa.feature.chroma_stft(y=y, sr=SAMPLE_RATE)
        spectrum = np.abs(librosa.stft(y)) ** 2
        tuning = librosa.estimate_tuning(S=spectrum, sr=SAMPLE_RATE)
    return {
        "MFCC means": mfcc.mean(axis=1),
        "MFCC stds": mfcc.std(axis=1),
        "chroma means": chroma.mean(axis=1),
        "chroma stds": chroma.std(axis=1),
        "default chroma means": estimated.mean(axis=1),
        "default chroma stds": estimated.std(axis=1),
        "tuning": np.array([tuning]),
    }


def _report(name: str, ours: np.ndarray, theirs: np.ndarray) -> None:
    diff = np.abs(ours - theirs)
    scale = np.abs(theirs).max()
    big = np.abs(theirs) >= 1e-3 * scale
    rel = (diff[big] / np.abs(theirs[big])).max() if big.any() else float("nan")
    print(
        f"  {name:<14} max abs {diff.max():.2e}   (largest |value| {scale:8.3g})   "
        f"max rel {rel:.2e}   median abs {np.median(diff):.1e}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=Path, nargs="+", default=TRACKS)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    print(describe())
    t0 = time.perf_counter()
    import librosa  # numba compiles on first use: slow, and not what is measured

    print(f"torch {torch.__version__}, librosa {librosa.__version__}, device {args.device}")
    mfcc_model = MFCCStats(SAMPLE_RATE).to(args.device)
    chroma_model = ChromaStats(SAMPLE_RATE).to(args.device)

    ours: dict[str, list] = {"MFCC": [], "chroma": []}
    theirs: dict[str, list] = {}
    ours_seconds = 0.0
    for path in args.tracks:
        y = load(path, sample_rate=SAMPLE_RATE)
        n = len(y) // PATCH_SAMPLES
        segments = y[: n * PATCH_SAMPLES].reshape(n, PATCH_SAMPLES)
        print(f"{path}: {n} segments")
        x = torch.from_numpy(segments).to(args.device)
        start = time.perf_counter()
        with torch.inference_mode():
            ours["MFCC"].append(mfcc_model(x)["embeddings"].cpu().numpy())
            ours["chroma"].append(chroma_model(x)["embeddings"].cpu().numpy())
        ours_seconds += time.perf_counter() - start
        for segment in segments:
            for key, value in _librosa_stats(segment, librosa).items():
                theirs.setdefault(key, []).append(value)

    mfcc = np.concatenate(ours["MFCC"])
    chroma = np.concatenate(ours["chroma"])
    ref = {key: np.stack(values) for key, values in theirs.items()}
    print(f"\n{len(mfcc)} segments of {len(args.tracks)} tracks; ours in {ours_seconds:.2f} s")
    print("ours (float32) vs librosa (float64 input, one call per segment):")
    _report("MFCC means", mfcc[:, :20], ref["MFCC means"])
    _report("MFCC stds", mfcc[:, 20:], ref["MFCC stds"])
    _report("chroma means", chroma[:, :12], ref["chroma means"])
    _report("chroma stds", chroma[:, 12:], ref["chroma stds"])

    tuning = ref["tuning"][:, 0]
    print(
        "\nlibrosa's default chroma_stft (tuning estimated per segment: from "
        f"{tuning.min():+.2f} to {tuning.max():+.2f} of a semitone, median "
        f"{np.median(tuning):+.2f}) vs ours (tuning=0.0):"
    )
    _report("chroma means", chroma[:, :12], ref["default chroma means"])
    _report("chroma stds", chroma[:, 12:], ref["default chroma stds"])
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
