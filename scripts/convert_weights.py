"""Convert the trained weights of musicnn 0.1.0 (TensorFlow checkpoints) to safetensors.

    .venv/bin/python scripts/convert_weights.py            # downloads the wheel from PyPI
    .venv/bin/python scripts/convert_weights.py --wheel musicnn-0.1.0-py3-none-any.whl

Run once by the developers; the output ships inside the package
(``src/embedexplore/models/weights/``), so users never download anything. The wheel's own
dependencies (TensorFlow 1.x, numpy < 1.17) cannot be installed beside ours, and need not be: the
checkpoints are read with :mod:`embedexplore.models.checkpoint`. Every variable is mapped by
name; a variable left over or missing stops the conversion.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from embedexplore import registry
from embedexplore.models.checkpoint import read_checkpoint
from embedexplore.models.musicnn_net import MusiCNN, musicnn_weights_from_tensorflow
from embedexplore.models.vgg_net import VGG, vgg_weights_from_tensorflow

OUT = registry.WEIGHTS
#: How each architecture's TensorFlow variables map onto the PyTorch network. Which models there
#: are, their checkpoints and weight files: the registry.
ARCHITECTURES = {
    "musicnn": (MusiCNN, musicnn_weights_from_tensorflow),
    "vgg": (VGG, vgg_weights_from_tensorflow),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="musicnn-0.1.0 wheel (default: download it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wheel = args.wheel
        if wheel is None:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "-q",
                    "-d",
                    str(tmp),
                    "musicnn==0.1.0",
                ],
                check=True,
            )
            wheel = next(tmp.glob("musicnn-0.1.0*"))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        with zipfile.ZipFile(wheel) as z:
            z.extractall(tmp / "wheel")
        OUT.mkdir(parents=True, exist_ok=True)
        taggers = [registry.get(n) for n in registry.names() if registry.get(n).checkpoint]
        for spec in taggers:
            name, folder, out = spec.name, spec.checkpoint, OUT / spec.weights
            architecture, mapping = ARCHITECTURES[spec.architecture]
            # musicnn names its files ".index" and ".data-..." inside the folder: prefix "folder/"
            variables = read_checkpoint(f"{tmp / 'wheel' / 'musicnn' / folder}/")
            state = mapping(variables)
            model = architecture()
            model.load_state_dict(state, strict=True)  # raises on any missing or extra key
            n = sum(t.numel() for t in state.values() if t.dtype == torch.float32)
            save_file(
                {k: t.contiguous() for k, t in state.items()},
                out,
                metadata={
                    "source": f"musicnn==0.1.0 (PyPI wheel {wheel.name}, sha256 {digest}), "
                    f"checkpoint musicnn/{folder}",
                    "licence": "ISC, Copyright (c) Music Technology Group, Universitat Pompeu "
                    "Fabra 2019 (see NOTICE)",
                    "converted_by": "embedexplore scripts/convert_weights.py",
                },
            )
            out.chmod(0o644)  # written private; shipped readable
            print(f"{name}: {len(state)} tensors, {n:,} values from musicnn/{folder}")


if __name__ == "__main__":
    main()
