"""Paths on every operating system: where the caches go, and Windows' path rules (drives, "\\",
case) checked on this Linux machine through ``ntpath``, the module that is ``os.path`` on
Windows, against ``pathlib.PureWindowsPath`` where Python has its own answer."""

from __future__ import annotations

import ntpath
import os
import posixpath
import subprocess
import sys
from pathlib import Path, PureWindowsPath

import platformdirs
import pytest

import audiofiles as af
import embedexplore as ee
from embedexplore._dirs import is_under, user_cache_dir
from embedexplore._track_rows import _relative_key, _track_id
from embedexplore.playlist import _file_uri, _m3u_location, _relative_uri

# -- the cache folder ------------------------------------------------------------------------------


def test_the_cache_is_embedexplore_cache_first_then_the_os_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDEXPLORE_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("EMBEDEXPLORE_CACHE")
    assert user_cache_dir() == Path(platformdirs.user_cache_dir("embedexplore", appauthor=False))
    if sys.platform == "linux":  # the XDG rules, as before platformdirs
        assert user_cache_dir() == tmp_path / "xdg" / "embedexplore"
        monkeypatch.delenv("XDG_CACHE_HOME")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        assert user_cache_dir() == tmp_path / "home" / ".cache" / "embedexplore"
    assert ee.default_store(tmp_path).parent == user_cache_dir() / "stores"
    assert not (tmp_path / "home").exists()  # named, not created


def test_a_scan_keeps_its_cache_in_the_os_cache_folder(tmp_path):
    af.write(tmp_path / "lib" / "a.flac", seconds=0.5)
    env = {k: v for k, v in os.environ.items() if k != "EMBEDEXPLORE_CACHE"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    env["HOME"] = str(tmp_path / "home")
    code = "import embedexplore as ee; ee.scan(__import__('sys').argv[1], progress=False)"
    subprocess.run([sys.executable, "-c", code, tmp_path / "lib"], env=env, check=True)
    if sys.platform == "linux":
        assert len(list((tmp_path / "xdg" / "embedexplore" / "scans").glob("*.json.gz"))) == 1
    env["EMBEDEXPLORE_CACHE"] = str(tmp_path / "mine")
    subprocess.run([sys.executable, "-c", code, tmp_path / "lib"], env=env, check=True)
    assert len(list((tmp_path / "mine" / "scans").glob("*.json.gz"))) == 1
    assert [p.name for p in (tmp_path / "lib").iterdir()] == ["a.flac"]  # nothing written there


# -- a path inside a folder ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "folder", "inside"),
    [
        (r"C:\Music\a.mp3", r"C:\Music", True),
        (r"c:\music\A.MP3", r"C:\Music", True),  # Windows compares names without case
        ("C:/Music/a.mp3", r"C:\Music", True),  # either slash
        (r"C:\Music", r"c:\MUSIC", True),
        (r"C:\Musical\a.mp3", r"C:\Music", False),
        (r"C:\Music\a.mp3", "C:\\", True),  # a drive's root
        (r"D:\Music\a.mp3", r"C:\Music", False),
        (r"\\server\share\Music\a.mp3", r"\\SERVER\share", True),  # a network share
        (r"\\server\other\a.mp3", r"\\server\share", False),
    ],
)
def test_a_path_inside_a_folder_by_windows_rules(path, folder, inside):
    assert is_under(path, folder, paths=ntpath) is inside


@pytest.mark.parametrize(
    ("path", "folder", "inside"),
    [
        ("/music/a.mp3", "/music", True),
        ("/music", "/music", True),
        ("/music/a.mp3", "/", True),
        ("/musical/a.mp3", "/music", False),
        ("/Music/a.mp3", "/music", False),  # Linux (and os.path on macOS) compare exactly
        ("/music\\a.mp3", "/music", False),  # "\" is a character of a name here
    ],
)
def test_a_path_inside_a_folder_by_posix_rules(path, folder, inside):
    assert is_under(path, folder, paths=posixpath) is inside


# -- track ids -------------------------------------------------------------------------------------


def test_track_ids_are_the_same_on_windows(tmp_path):
    """A track's id comes from its path below the scanned folder: a collection scanned on
    Windows gets the ids it gets on Linux (ids are how a store knows its tracks)."""
    here = _relative_key(tmp_path, os.fspath(tmp_path / "Artist" / "Album" / "01 Song.flac"))
    there = _relative_key(r"D:\Music", r"D:\Music\Artist\Album\01 Song.flac", paths=ntpath)
    assert here == there == "Artist/Album/01 Song.flac"
    assert _track_id(here) == _track_id(there)


# -- playlists -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        r"C:\Music\Artist\01 Song.mp3",
        r"C:\Music\Sigur Rós\Ágætis byrjun #1.flac",  # spaces, accents, "#"
        "D:/Mixed/slashes\\here.ogg",
        r"\\nas\music\a b.mp3",  # a network share
    ],
)
def test_file_uris_on_windows_are_pythons(path):
    assert _file_uri(path, paths=ntpath) == PureWindowsPath(path).as_uri()


@pytest.mark.parametrize(
    "name",
    ["01 Song.mp3", "Sigur Rós #1.flac", "caf\udce9 %20.ogg"],  # the last: not UTF-8
)
def test_file_uris_on_posix_are_pythons(tmp_path, name):
    assert _file_uri(os.fspath(tmp_path / name)) == (tmp_path / name).as_uri()


def test_m3u_lines_on_windows():
    """What a playlist on Windows names: the platform's "\\", a track on another drive by its
    absolute path (no relative path leads there), a name that a player would misread as a
    comment behind ".\\"."""
    target = PureWindowsPath(r"C:\Users\me\Playlists\mix.m3u8")

    def line(path, relative=True):
        return _m3u_location(path, target, relative, paths=ntpath)

    assert line(r"C:\Users\me\Music\A\01 x.mp3") == r"..\Music\A\01 x.mp3"
    assert line(r"c:/users/me/playlists/b.mp3") == "b.mp3"  # another spelling, the same folder
    assert line(r"C:\Users\me\Playlists\#1.mp3") == r".\#1.mp3"
    assert line(r"D:\Music\b.mp3") == r"D:\Music\b.mp3"
    assert line(r"D:\Music\b.mp3", relative=False) == r"D:\Music\b.mp3"
    assert line("C:\\Users\\me\\Music\\bad\nname.mp3") is None  # written as a file:// URI


def test_relative_xspf_locations_on_windows_are_uri_references():
    target = PureWindowsPath(r"C:\Users\me\Playlists\mix.xspf")
    assert (
        _relative_uri(r"C:\Users\me\Music\Sigur Rós\1 #2.mp3", target, paths=ntpath)
        == "../Music/Sigur%20R%C3%B3s/1%20%232.mp3"
    )
    assert _relative_uri(r"D:\Music\b c.mp3", target, paths=ntpath) == "file:///D:/Music/b%20c.mp3"


def test_macos_keeps_the_cache_folder_of_earlier_versions(tmp_path, monkeypatch):
    """Before platformdirs, macOS stores went to ~/.cache/embedexplore: where that folder exists,
    it stays the cache (its stores are hours of extraction); where not, ~/Library/Caches."""
    monkeypatch.delenv("EMBEDEXPLORE_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda name, appauthor=None: str(
        tmp_path / "Library" / "Caches" / name))  # fmt: skip
    assert user_cache_dir() == tmp_path / "Library" / "Caches" / "embedexplore"
    (tmp_path / ".cache" / "embedexplore" / "stores").mkdir(parents=True)
    assert user_cache_dir() == tmp_path / ".cache" / "embedexplore"
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache_dir() == tmp_path / "Library" / "Caches" / "embedexplore"  # macOS only
