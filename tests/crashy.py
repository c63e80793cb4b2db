"""A stand-in decoder for tests of the extraction's decoding pool: it kills its own worker
process on files named ``crash*`` (as FFmpeg crashing on a hostile file would) and is slow on
``slow*``; other names decode to a second of silence."""

from __future__ import annotations

import os
import time

import numpy as np


def decode(path: str):
    name = os.path.basename(path)
    if name.startswith("crash"):
        os._exit(1)
    if name.startswith("slow"):
        time.sleep(1.0)
    return "ok", np.full(16000, len(name), np.float32)
