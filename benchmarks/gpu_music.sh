#!/usr/bin/env bash
# Copy the first 45 s of 6 real tracks (Debian's freedroidrpg-data and asc-music: 5 Vorbis, 1 MP3;
# packets copied, not re-encoded; about 3.4 MB, 4.5 min) into ./.gpu-music (git-ignored), for the
# extraction benchmarks of benchmarks/gpu_check.sh. The device's working tree is limited to
# 64 MiB, wheels included (av's alone is 35 MB): hence so little, linked many times over there.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .gpu-music
mkdir -p .gpu-music
src=()
for f in hellforce.ogg Hyperbattle.ogg Suspicion.ogg temple.ogg Ambience.ogg; do
  src+=(/usr/share/freedroidrpg/data/sound/music/$f)
done
src+=(/usr/share/games/asc/music/machine_wars.mp3)
.venv/bin/python - "${src[@]}" <<'PY'
import sys
from pathlib import Path

sys.path.insert(0, "tests")
from audiofiles import excerpt

for f in sys.argv[1:]:
    excerpt(f, Path(".gpu-music") / Path(f).name, 45.0)
PY
du -sh .gpu-music
