"""Print how close our models are to the originals on the committed reference clips.

    .venv/bin/python benchmarks/parity_report.py [--device cuda] [--precision float32|tf32|bf16]

For each model: the largest |taggram difference| and the largest per-patch relative difference
of the embeddings (||ours - original|| / ||original||), fed (a) the original's own log-mel input
and (b) our whole pipeline from the waveform; plus the mel frontend against librosa and the
effect of the original's float16 rounding. Figures, not assertions: tests/test_parity.py asserts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from embedexplore import audio, registry
from embedexplore.models import load_model
from embedexplore.models.frontend import MelFrontend

REFERENCE = Path(__file__).resolve().parent.parent / "tests" / "data" / "reference"
NAMES = list(registry.default_models())  # the four taggers


def _rel(a, b):
    return float((np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)).max())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="float32", choices=["float32", "tf32", "bf16"])
    args = parser.parse_args()
    clips = {p.stem: dict(np.load(p)) for p in sorted(REFERENCE.glob("*.npz"))}
    waves = {c: audio.load(REFERENCE / f"{c}.flac") for c in clips}
    print(
        f"device: {args.device}, precision {args.precision}; torch {torch.__version__}; "
        f"clips: {', '.join(clips)}; patches: {sum(len(d['logmel']) for d in clips.values())}"
    )
    frontend = MelFrontend().to(args.device)
    worst = 0.0
    for c, d in clips.items():
        ours = frontend.power(torch.from_numpy(waves[c]).to(args.device)).cpu().numpy()[0]
        worst = max(worst, float(np.abs(ours - d["mel"]).max() / d["mel"].max()))
    print(f"mel power vs librosa: max |difference| / peak = {worst:.2e}")
    for name in NAMES:
        m = load_model(name, device=args.device, precision=args.precision)
        net_t = net_e = e2e_t = e2e_e = noround_t = 0.0
        for c, d in clips.items():
            out = m.forward(torch.from_numpy(d["logmel"]))
            ref_t, ref_e = d[f"{name}.taggrams"], d[f"{name}.embeddings"]
            net_t = max(net_t, float(np.abs(out["taggrams"].cpu().numpy() - ref_t).max()))
            net_e = max(net_e, _rel(out["embeddings"].cpu().numpy(), ref_e))
            full = m.embed(waves[c])
            e2e_t = max(e2e_t, float(np.abs(full["taggrams"] - ref_t).max()))
            e2e_e = max(e2e_e, _rel(full["embeddings"], ref_e))
            m.frontend.float16_rounding = False
            noround_t = max(noround_t, float(np.abs(m.embed(waves[c])["taggrams"] - ref_t).max()))
            m.frontend.float16_rounding = True
        print(
            f"{name:12s} original input: taggrams {net_t:.1e}, embeddings rel {net_e:.1e} | "
            f"from waveform: taggrams {e2e_t:.1e}, embeddings rel {e2e_e:.1e} | "
            f"without float16 rounding: taggrams {noround_t:.1e}"
        )


if __name__ == "__main__":
    main()
