"""The embedexplore command, run as a user would run it."""

from __future__ import annotations

import subprocess
import sys

import mutagen

import audiofiles as af


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "embedexplore", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_scan_prints_a_summary(tmp_path):
    p = af.write(tmp_path / "lib" / "a.flac", seconds=61.0, rate=16_000)
    f = mutagen.File(p)
    f["artist"] = "Someone"
    f.save()
    af.write(tmp_path / "lib" / "b.mp3", seconds=2.0)
    (tmp_path / "lib" / "broken.ogg").write_bytes(b"")
    out = run("scan", str(tmp_path / "lib"), "--no-cache", "-q")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("2 tracks, 0:01:03 of audio")
    assert "formats: " in out.stdout and "flac 1" in out.stdout and "mp3 1" in out.stdout
    assert "errors: 1 files (1 not indexed)" in out.stdout
    assert "broken.ogg: empty file (0 bytes)" in out.stdout
    assert out.stderr == ""


def test_scan_writes_csv(tmp_path):
    af.write(tmp_path / "lib" / "a.wav", seconds=1.0)
    out = run("scan", str(tmp_path / "lib"), "-q", "--csv", str(tmp_path / "t.csv"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "t.csv").read_text().splitlines()[0].startswith("track_id,path,title")


def test_missing_folder_is_a_clear_error(tmp_path):
    out = run("scan", str(tmp_path / "nowhere"))
    assert out.returncode == 1
    assert "no such file or folder" in out.stderr and "Traceback" not in out.stderr


def test_no_command_shows_usage():
    out = run()
    assert out.returncode == 2 and "usage: embedexplore" in out.stderr
