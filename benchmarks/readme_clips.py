"""musicnn's README examples, with our models: are the top tags the same as it shows?

    .venv/bin/python benchmarks/readme_clips.py /path/to/a/checkout/of/jordipons/musicnn

The two clips (audio/joram-moments_of_clarity-08-solipsism-59-88.mp3 and
audio/TRWJAZW128F42760DD_test.mp3) live in musicnn's repository; their licences do not let us ship
them, so the path is an argument (a checkout, or a bare git mirror read with ``git show``). Prints
our top tags (taggram averaged over patches, as musicnn's ``top_tags``) for the four models next
to the original's (tests/data/reference/readme_top_tags.json, made by scripts/make_reference.py)
and to what musicnn's README states.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from embedexplore import audio
from embedexplore.models import load_model

CLIPS = ["joram-moments_of_clarity-08-solipsism-59-88.mp3", "TRWJAZW128F42760DD_test.mp3"]
ORIGINAL = Path(__file__).resolve().parent.parent / "tests/data/reference/readme_top_tags.json"


def _clip(repo: Path, name: str, tmp: Path) -> Path:
    if (repo / "audio" / name).exists():
        return repo / "audio" / name
    data = subprocess.run(
        ["git", "-C", str(repo), "show", f"HEAD:audio/{name}"], capture_output=True, check=True
    ).stdout
    (tmp / name).write_bytes(data)
    return tmp / name


def main() -> None:
    repo = Path(sys.argv[1])
    original = json.loads(ORIGINAL.read_text())
    readme = original["_readme"]  # what musicnn's README shows (MTT_musicnn, its default)
    models = {
        n: load_model(n, device="cpu") for n in ("musicnn-mtt", "musicnn-msd", "vgg-mtt", "vgg-msd")
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in CLIPS:
            x = audio.load(_clip(repo, name, Path(tmp)))
            print(f"\n{name} ({len(x) / 16000:.1f} s)")
            for model_name, m in models.items():
                taggram = m.embed(x)["taggrams"].mean(axis=0)
                ours = [m.labels[i] for i in np.argsort(-taggram)[:10]]
                theirs = original.get(name, {}).get(model_name)
                same = "same as the original" if theirs == ours else f"original: {theirs}"
                print(f"  {model_name:12s} {ours}  ({same})")
                if model_name == "musicnn-mtt":
                    k = len(readme[name])
                    verdict = "matches" if ours[:k] == readme[name] else "DIFFERS from"
                    print(f"  {'':12s} top {k} {verdict} musicnn's README: {readme[name]}")


if __name__ == "__main__":
    main()
