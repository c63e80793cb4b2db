"""Playing a playlist with a real player, mpv (Debian's package; see scripts/install_players.sh),
without audio or video output, and recording what it read and every file it tried to open."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

# A Lua script that mpv runs beside the playlist: one JSON line per event, with the playlist as
# mpv parsed it (entries' file names and #EXTINF titles) at each file's start. JSON escapes the
# line breaks and control characters that the file names and titles here are full of.
PROBE = """\
local utils = require "mp.utils"
local out = io.open(os.getenv("EMBEDEXPLORE_PROBE"), "a")
local function log(t) out:write(utils.format_json(t) .. "\\n"); out:flush() end
mp.register_event("start-file", function()
  log({event = "start", path = mp.get_property("path"),
       playlist = mp.get_property_native("playlist")})
end)
mp.register_event("file-loaded", function()
  log({event = "loaded", path = mp.get_property("path")})
end)
mp.register_event("end-file", function(e)
  log({event = "end", reason = e.reason, error = e.error})
end)
"""


def mpv_play(playlist: str | os.PathLike, workdir: str | os.PathLike) -> list[dict]:
    """Play the first 0.1 s of each entry of ``playlist`` in mpv, as fast as it can, and return
    its events in order: ``{"event": "start", "path", "playlist"}`` when it opens an entry,
    ``{"event": "loaded", "path"}`` once the file is demuxed and ``{"event": "end", "reason",
    "error"}`` (reason ``"eof"`` after a good file). Paths are str (surrogate-escaped as
    :func:`os.fsdecode` makes them). Skips the test where mpv is missing."""
    mpv = shutil.which("mpv")
    if mpv is None:
        pytest.skip("mpv is not installed (bash scripts/install_players.sh, as root)")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    script, log = workdir / "probe.lua", workdir / "events.jsonl"
    script.write_text(PROBE, encoding="utf-8")
    # a private HOME: mpv touches nothing of the user's (--no-config: it reads no settings)
    env = {**os.environ, "EMBEDEXPLORE_PROBE": str(log), "HOME": str(workdir),
           "XDG_CONFIG_HOME": str(workdir / "config")}  # fmt: skip
    cmd = [
        mpv, "--no-config", "--msg-level=all=error", "--input-terminal=no", "--ao=null",
        "--ao-null-untimed", "--vo=null", "--ytdl=no", "--end=0.1", f"--script={script}",
        f"--playlist={os.fspath(playlist)}",
    ]  # fmt: skip
    done = subprocess.run(
        cmd, env=env, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, timeout=120
    )
    if not log.exists():  # e.g. "error reading line": a NUL byte in the playlist
        said = (done.stdout + done.stderr).decode(errors="replace").strip()
        raise AssertionError(f"mpv played nothing (exit {done.returncode}): {said}")
    # mpv writes file names as their bytes: decode them the way Python names files
    text = log.read_bytes().decode("utf-8", "surrogateescape")
    # split on LF only: JSON leaves U+2028 and NEL unescaped, which str.splitlines splits on
    return [json.loads(line) for line in text.split("\n") if line]
