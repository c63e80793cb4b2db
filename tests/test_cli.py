"""The embedexplore command, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mutagen
import pytest
import torch

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


# -- exit codes: a script must be able to tell -----------------------------------------------------


def _corrupt(path, rng):
    """A file named as audio that holds random bytes (a broken download, a disk error)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(rng.bytes(6000))
    return path


def test_scan_of_a_folder_of_unreadable_files_fails_and_says_why(tmp_path, rng):
    for name in ("a.mp3", "b.mp3"):
        _corrupt(tmp_path / "lib" / name, rng)
    out = run(
        "scan", str(tmp_path / "lib"), "--no-cache", "-q", "--errors", str(tmp_path / "e.csv")
    )
    assert out.returncode == 1
    assert "a.mp3: not a readable audio file" in out.stdout  # the reasons, on stdout
    assert (
        f"embedexplore: error: no readable audio in {tmp_path / 'lib'}: 2 audio files found, "
        f"none could be read (2 errors, listed above, all in {tmp_path / 'e.csv'})"
    ) in out.stderr
    assert "Traceback" not in out.stderr
    listed = (tmp_path / "e.csv").read_text().splitlines()
    assert listed[0] == "path,reason,indexed" and len(listed) == 3


def test_scan_of_a_folder_without_audio_fails(tmp_path):
    (tmp_path / "lib" / "notes").mkdir(parents=True)
    (tmp_path / "lib" / "notes" / "readme.txt").write_text("no music here")
    out = run("scan", str(tmp_path / "lib"), "--no-cache", "-q")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"embedexplore: error: no audio file in {tmp_path / 'lib'} (nor in its sub-folders)"
    ]


def test_extract_of_a_folder_of_unreadable_files_fails_before_making_a_store(tmp_path, rng):
    _corrupt(tmp_path / "lib" / "a.mp3", rng)
    store = tmp_path / "store"
    out = run("extract", str(tmp_path / "lib"), "--store", str(store), "--device", "cpu", "-q")
    assert out.returncode == 1
    assert "a.mp3: not a readable audio file" in out.stdout
    assert (
        f"embedexplore: error: no readable audio in {tmp_path / 'lib'}: 1 audio file found, none "
        "could be read (1 error, listed above); nothing extracted"
    ) in out.stderr
    assert not store.exists()


def test_extract_with_auto_falls_back_to_the_cpu_and_fails_once_nothing_is_readable(tmp_path, rng):
    song = af.write(tmp_path / "lib" / "a.wav", seconds=3.0, rate=16_000)
    store = tmp_path / "store"
    args = ("extract", str(tmp_path / "lib"), "--store", str(store), "--models", "vgg-msd", "-q")
    done = run(*args, "--device", "auto")
    assert done.returncode == 0, done.stderr
    assert "1 extracted" in done.stdout
    if not torch.cuda.is_available():
        assert done.stdout.rstrip().endswith("on cpu")
        assert "no GPU is visible to torch: extracting on the CPU" in done.stderr
    _corrupt(song, rng)  # the folder's only file, unreadable now
    again = run(*args)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines()[-1] == (
        f"embedexplore: error: no readable audio in {tmp_path / 'lib'}: 1 audio file found, none "
        f"could be read (1 error, listed above); the store's tracks are kept in {store}"
    )
    assert "1 tracks not found kept" in again.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")
def test_cuda_asked_for_without_a_gpu_is_an_error(tmp_path):
    af.write(tmp_path / "lib" / "a.wav", seconds=1.0)
    store = tmp_path / "store"
    out = run("extract", str(tmp_path / "lib"), "--store", str(store), "--device", "cuda", "-q")
    assert out.returncode == 1
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("embedexplore: error: --device cuda was asked for, but torch.cuda")
    assert "is not available here" in line and "use --device auto" in line
    assert "--device cpu" in line
    assert out.stdout == "" and not store.exists()  # refused before the scan
    repair = run("verify", "--store", str(store), "--repair", "--device", "cuda:1")
    assert repair.returncode == 1
    assert "error: --device cuda:1 was asked for, but torch.cuda is not" in repair.stderr


def test_names_the_output_encoding_cannot_hold_are_escaped(tmp_path, rng):
    """Windows pipes the output in its ANSI code page (cp1252...): a Japanese file name must
    not stop the command. ascii here is the narrowest such encoding."""
    _corrupt(tmp_path / "lib" / "壊れた.mp3", rng)
    af.write(tmp_path / "lib" / "Sigur Rós.wav", seconds=1.0)
    out = run("scan", str(tmp_path / "lib"), "--no-cache", "-q",
              env={**os.environ, "PYTHONIOENCODING": "ascii"})  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "\\u58ca\\u308c\\u305f.mp3: not a readable audio file" in out.stdout
    assert out.stdout.startswith("1 tracks, 0:00:01 of audio")


def test_notebooks_are_copied_out_and_edits_kept(tmp_path):
    out = run("notebooks", str(tmp_path / "nb"))
    assert out.returncode == 0, out.stderr
    written = sorted(p.name for p in (tmp_path / "nb").iterdir())
    assert written == [
        "01_explore_your_collection.ipynb",
        "02_playlists_from_code.ipynb",
        "03_comparing_latent_spaces.ipynb",
        "solutions_03.py",
    ]
    for name in written[:3]:
        assert json.loads((tmp_path / "nb" / name).read_text())["cells"]
    assert "jupyter lab " in out.stdout
    mine = tmp_path / "nb" / "02_playlists_from_code.ipynb"
    mine.write_text("my edits")
    again = run("notebooks", str(tmp_path / "nb"))
    assert again.returncode == 0, again.stderr
    assert mine.read_text() == "my edits" and "kept " in again.stdout
