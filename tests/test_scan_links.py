"""scan() follows symbolic links, walks each real folder once, and reports what it cannot reach."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import audiofiles as af
from embedexplore import scan
from realmusic import real_music
from unprivileged import scan_as_nobody


def _link(link: Path, target: str | Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link


def _real(paths) -> list[str]:
    return sorted(os.path.realpath(p) for p in paths)


def test_a_symlinked_folder_is_followed_and_ordinary_ids_do_not_change(tmp_path):
    root = tmp_path / "Music"
    af.write(root / "Album" / "01.flac", seconds=0.5)
    before = scan(root, cache=False, progress=False)
    nas = tmp_path / "nas" / "Music"
    af.write(nas / "Live" / "a.wav", seconds=0.5, rate=16_000)
    af.write(nas / "b.mp3", seconds=0.5)
    _link(root / "NAS", nas)

    c = scan(root, cache=False, progress=False)
    assert sorted(c.tracks["path"]) == [
        str(root / "Album" / "01.flac"), str(root / "NAS" / "Live" / "a.wav"),
        str(root / "NAS" / "b.mp3"),
    ]  # fmt: skip
    assert len(c.errors) == 0 and c.stats.found == 3
    # the id of a file reached without a link is what it was before the link came
    ordinary = c.tracks.index[c.tracks["path"] == str(root / "Album" / "01.flac")]
    assert list(ordinary) == list(before.tracks.index)
    # files reached through the link get ids from their path under the root, as any other
    assert c.tracks.index.is_unique and c.tracks.loc[ordinary, "title"].item() == "01"


@pytest.mark.realmusic
def test_a_music_folder_linked_from_where_it_is_installed(tmp_path):
    music = real_music("freedroidrpg-data")  # 16 Ogg Vorbis tracks under /usr/share
    _link(tmp_path / "Music" / "FreedroidRPG", music)
    linked = scan(tmp_path / "Music", cache=False, progress=False)
    direct = scan(music, cache=False, progress=False)
    assert len(linked.tracks) == len(direct.tracks) >= 10 and len(linked.errors) == 0
    assert [Path(p).name for p in linked.tracks["path"]] == [
        Path(p).name for p in direct.tracks["path"]
    ]
    assert linked.tracks["path"].str.startswith(str(tmp_path / "Music" / "FreedroidRPG")).all()
    assert linked.tracks["duration"].to_list() == direct.tracks["duration"].to_list()


def test_links_in_loops_or_to_one_folder_walk_each_real_folder_once(tmp_path):
    root = tmp_path / "lib"
    af.write(root / "A" / "a.flac", seconds=0.5)
    _link(root / "A" / "up", "..")  # to the root
    _link(root / "A" / "self", ".")  # to its own folder
    _link(root / "B", "A")  # a second path to A
    _link(root / "Z", tmp_path)  # to a folder above the root
    x, y = tmp_path / "x", tmp_path / "y"
    af.write(x / "x.flac", seconds=0.5)
    af.write(y / "y.flac", seconds=0.5)
    _link(root / "X", x)
    _link(root / "X2", x)  # two links to one folder outside the root
    _link(x / "to_y", y)  # a cycle of links: x -> y -> x
    _link(y / "to_x", x)
    _link(x / "back", root / "A")  # back into the root

    c = scan(root, cache=False, progress=False)
    assert sorted(c.tracks["path"]) == [
        str(root / "A" / "a.flac"), str(root / "X" / "to_y" / "y.flac"), str(root / "X" / "x.flac"),
    ]  # fmt: skip
    assert _real(c.tracks["path"]) == _real([root / "A" / "a.flac", x / "x.flac", y / "y.flac"])
    assert len(c.errors) == 0


def test_a_link_to_a_file_is_read_once(tmp_path):
    root = tmp_path / "lib"
    af.write(root / "song.flac", seconds=0.5)
    _link(root / "Favourites" / "best of.flac", "../song.flac")  # the same file again
    outside = af.write(tmp_path / "elsewhere" / "other.wav", seconds=0.5, rate=16_000)
    _link(root / "other.wav", outside)

    c = scan(root, cache=False, progress=False)
    # the file in the collection keeps its own path; the link to a file outside is read as that
    assert sorted(c.tracks["path"]) == [str(root / "other.wav"), str(root / "song.flac")]
    by_path = c.tracks.set_index("path")
    assert by_path.loc[str(root / "other.wav"), "size"] == outside.stat().st_size
    assert by_path.loc[str(root / "other.wav"), "duration"] > 0.4


def test_links_that_cannot_be_followed_are_errors(tmp_path):
    root = tmp_path / "lib"
    af.write(root / "ok.flac", seconds=0.5)
    _link(root / "NAS", tmp_path / "unmounted" / "Music")  # a folder gone
    _link(root / "gone.mp3", "nowhere.mp3")
    _link(root / "loop1", "loop2")  # a loop of links that never reaches anything
    _link(root / "loop2", "loop1")
    _link(root / "cover.jpg", "missing.jpg")  # was not audio: ignored, like the file itself
    _link(root / ".hidden", "missing")

    c = scan(root, cache=False, progress=False)
    assert list(c.tracks["path"]) == [str(root / "ok.flac")]
    reasons = dict(zip(c.errors["path"], c.errors["reason"], strict=True))
    assert sorted(reasons) == sorted(str(root / n) for n in ("NAS", "gone.mp3", "loop1", "loop2"))
    assert reasons[str(root / "NAS")].startswith("broken symbolic link")
    assert str(tmp_path / "unmounted" / "Music") in reasons[str(root / "NAS")]
    assert reasons[str(root / "loop1")].startswith("symbolic link loop")
    assert not c.errors["indexed"].any()


def test_unreadable_folders_and_links_into_them_are_errors(tmp_path):
    root = tmp_path / "lib"
    af.write(root / "ok.flac", seconds=0.5)
    af.write(root / "Private" / "p.flac", seconds=0.5)
    af.write(tmp_path / "locked" / "l.flac", seconds=0.5)
    af.write(tmp_path / "closed" / "inner" / "i.flac", seconds=0.5)
    _link(root / "Locked", tmp_path / "locked")  # a folder nobody can list
    _link(root / "Inner", tmp_path / "closed" / "inner")  # below a folder nobody can enter
    for folder in (root / "Private", tmp_path / "locked", tmp_path / "closed"):
        folder.chmod(0)
    try:
        paths, errors = scan_as_nobody(root)
    finally:
        for folder in (root / "Private", tmp_path / "locked", tmp_path / "closed"):
            folder.chmod(0o755)
    assert paths == [str(root / "ok.flac")]
    reasons = {e["path"]: e["reason"] for e in errors}
    assert reasons == {
        str(root / "Private"): "cannot list the folder: Permission denied",
        str(root / "Locked"): "cannot list the folder: Permission denied",
        str(root / "Inner"): (
            f"cannot follow the symbolic link to {tmp_path / 'closed' / 'inner'}: Permission denied"
        ),
    }
    assert all(e["indexed"] is False for e in errors)


def test_a_named_pipe_is_reported_not_opened(tmp_path):
    # reported for what it is and never opened: opening a pipe for reading waits for a writer
    root = tmp_path / "lib"
    af.write(root / "ok.flac", seconds=0.5)
    os.mkfifo(root / "stream.flac")
    c = scan(root, cache=False, progress=False)
    assert list(c.tracks["path"]) == [str(root / "ok.flac")]
    assert c.errors.to_dict("records") == [
        {
            "path": str(root / "stream.flac"),
            "reason": "not a regular file (a named pipe, device or socket): skipped",
            "indexed": False,
        }
    ]
