"""Our extraction against the original musicnn 0.1.0 (TensorFlow) on the CPU, in one run.

    bash benchmarks/original_venv.sh            # once: the original in .venv-original
    .venv/bin/python benchmarks/extract_vs_original.py [--original-python PATH] [FILES...]

Both run the four models (MSD_musicnn, MTT_musicnn, MSD_vgg, MTT_vgg) over the same files with
decoding included: the original through its own ``extractor`` (benchmarks/original_musicnn.py,
one call per model and file, as its users ran it), ours through ``embedexplore.extract`` into a
fresh store (decode once, all four models, float32, the default float16 store). The order is
ours, the original, ours again, so that a drift of the shared machine shows; the ratio uses the
mean of our two runs. Default files: the first four tracks of Debian's wesnoth-1.16-music.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _hardware import describe

ROOT = Path(__file__).resolve().parents[1]


def ours(files: list[str]) -> tuple[float, float]:
    """(audio seconds, wall seconds) of one extraction of ``files``, scan excluded."""
    import embedexplore

    with tempfile.TemporaryDirectory() as tmp:
        music = Path(tmp) / "music"
        music.mkdir()
        for i, f in enumerate(files):
            os.symlink(os.path.abspath(f), music / f"{i:03d}{Path(f).suffix}")
        coll = embedexplore.scan(music, cache=False, progress=False)
        t = time.perf_counter()
        emb = embedexplore.extract(coll, store=Path(tmp) / "store", device="cpu", progress=False)
        wall = time.perf_counter() - t
        return emb.stats.audio_seconds, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--original-python", default=str(ROOT / ".venv-original" / "bin" / "python"))
    args = ap.parse_args()
    files = (
        args.files or sorted(glob.glob("/usr/share/games/wesnoth/1.16/data/core/music/*.ogg"))[:4]
    )
    if not Path(args.original_python).exists():
        sys.exit(f"no original musicnn at {args.original_python}: run benchmarks/original_venv.sh")
    import torch

    print(describe())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; files: {len(files)}")
    a1, w1 = ours(files)
    print(
        f"ours (1st run): {a1:.0f} s of audio in {w1:.1f} s = {a1 / w1:.1f}x realtime", flush=True
    )
    env = os.environ | {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    t = time.perf_counter()
    done = subprocess.run(
        [args.original_python, str(ROOT / "benchmarks" / "original_musicnn.py"), *files],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    wall_original = time.perf_counter() - t
    print(done.stdout.strip())
    m = re.search(r"all four: (\d+) s of audio in ([\d.]+) s", done.stdout)
    if done.returncode or not m:
        sys.exit(f"the original failed:\n{done.stderr[-3000:]}")
    audio_o, model_o = float(m.group(1)), float(m.group(2))
    print(f"original: process wall time {wall_original:.1f} s (TensorFlow start included)")
    a2, w2 = ours(files)
    print(f"ours (2nd run): {a2:.0f} s of audio in {w2:.1f} s = {a2 / w2:.1f}x realtime")
    rt_ours = (a1 + a2) / (w1 + w2)
    rt_orig = audio_o / model_o
    print(
        f"ratio: ours {rt_ours:.1f}x realtime / original {rt_orig:.1f}x realtime = "
        f"{rt_ours / rt_orig:.2f}x faster (decode included in both; the original's TensorFlow "
        "start-up excluded)"
    )


if __name__ == "__main__":
    main()
