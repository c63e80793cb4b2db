"""scan(): one row per file, stable ids, an errors table, a cache that reads only what changed."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import mutagen
import pandas as pd
import pytest

import audiofiles as af
import embedexplore
from embedexplore import collection as collection_module
from embedexplore import scan
from embedexplore.scan_cache import ScanCache
from unprivileged import scan_as_nobody


def _tag(path, **fields):
    f = mutagen.File(path)
    for k, v in fields.items():
        f[k] = v
    f.save()


@pytest.fixture
def library(tmp_path) -> Path:
    """A small library: tagged and untagged files in several formats and folders."""
    root = tmp_path / "Music"
    a = af.write(root / "Björk" / "Debut" / "01 Human Behaviour.flac", seconds=3.0)
    _tag(
        a,
        title="Human Behaviour",
        artist="Björk",
        album="Debut",
        genre=["Pop", "Electronic"],
        date="1993",
        tracknumber="1",
    )
    b = af.write(root / "Björk" / "Debut" / "02 Crying.ogg", seconds=2.0)
    _tag(
        b, title="Crying", artist="Björk", album="Debut", genre="Pop", date="1993", tracknumber="2"
    )
    af.write(root / "Unsorted" / "untitled demo.mp3", seconds=1.5)
    af.write(root / "Unsorted" / "voice memo.m4a", seconds=1.0)
    af.write(root / "loose.wav", seconds=1.0, rate=16_000)
    return root


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_one_row_per_file_with_tags_and_fallbacks(library):
    c = scan(library, progress=False)
    t = c.tracks
    assert len(t) == 5 and len(c.errors) == 0
    assert t.index.name == "track_id" and t.index.is_unique
    for column in (
        "path",
        "title",
        "artist",
        "album",
        "album_artist",
        "genre",
        "year",
        "track_number",
        "duration",
        "sample_rate",
        "channels",
        "codec",
        "size",
        "mtime",
    ):
        assert column in t.columns
    human = t.loc[t["title"] == "Human Behaviour"].iloc[0]
    assert human["artist"] == "Björk" and human["album"] == "Debut"
    assert human["genre"] == ["Pop", "Electronic"]
    assert human["year"] == 1993 and human["track_number"] == 1
    assert human["duration"] == pytest.approx(3.0, abs=0.01)
    assert human["codec"] == "flac" and human["sample_rate"] == 44_100 and human["channels"] == 2
    assert human["size"] == Path(human["path"]).stat().st_size
    assert human["mtime"].tzinfo is not None
    # untagged files: title from the file name, the rest missing -- never a neighbour's values
    memo = t.loc[t["title"] == "voice memo"].iloc[0]
    assert pd.isna(memo["artist"]) and pd.isna(memo["album"]) and memo["genre"] == []
    assert pd.isna(memo["year"]) and pd.isna(memo["track_number"])
    assert set(t["codec"]) == {"flac", "opus", "mp3", "aac", "pcm_s16le"}
    assert str(t["year"].dtype) == "Int64"


def test_track_ids_are_stable_across_runs_and_machines(library, tmp_path):
    first = scan(library, cache=False, progress=False).tracks
    moved = tmp_path / "elsewhere" / "Music copy"
    shutil.copytree(library, moved)
    second = scan(moved, cache=False, progress=False).tracks
    assert sorted(first.index) == sorted(second.index)
    # the id depends on the relative path only, in a documented way (not on Python's hash)
    human = first.loc[first["title"] == "Human Behaviour"].index[0]
    import hashlib

    assert human == hashlib.sha1("Björk/Debut/01 Human Behaviour.flac".encode()).hexdigest()[:16]
    # and in a fresh interpreter, with hash randomisation, the same
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import embedexplore,sys; print(sorted(embedexplore.scan(sys.argv[1], cache=False, "
            "progress=False).tracks.index))",
            str(library),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    )
    assert out.stdout.strip() == str(sorted(first.index))


def test_same_relative_path_under_two_roots_gets_two_ids(tmp_path):
    af.write(tmp_path / "A" / "song.flac", seconds=1.0)
    af.write(tmp_path / "B" / "song.flac", seconds=1.0)
    c = scan([tmp_path / "A", tmp_path / "B"], cache=False, progress=False)
    assert len(c.tracks) == 2 and c.tracks.index.is_unique


def test_bad_files_are_reported_and_never_hide_the_others(library):
    bad = library / "bad"
    bad.mkdir()
    (bad / "empty.mp3").write_bytes(b"")
    (bad / "notes.flac").write_text("not audio at all\n" * 100)
    good = af.write(bad / "cut.mp3", seconds=20.0)
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])
    broken_tags = af.write(bad / "broken tags.mp3", seconds=1.0)
    body = b"\x00" * 20
    broken_tags.write_bytes(
        b"ID3\x05\x00\x00" + bytes([0, 0, 0, len(body)]) + body + broken_tags.read_bytes()
    )
    m4a = af.write(bad / "cut.m4a", seconds=5.0)
    m4a.write_bytes(m4a.read_bytes()[:3000])
    with zipfile.ZipFile(bad / "soundtrack.zip", "w") as z:
        z.writestr("x.ogg", b"zipped")

    c = scan(library, progress=False)
    reasons = {Path(p).name: (r, i) for p, r, i in c.errors.itertuples(index=False)}
    assert reasons["empty.mp3"] == ("empty file (0 bytes)", False)
    assert reasons["notes.flac"][0] in ("no decodable audio at the start of the file",) or (
        "not a readable audio file" in reasons["notes.flac"][0]
    )
    assert reasons["cut.mp3"][0].startswith("truncated") and reasons["cut.mp3"][1]
    assert "unreadable tags" in reasons["broken tags.mp3"][0] and reasons["broken tags.mp3"][1]
    assert "not a readable audio file" in reasons["cut.m4a"][0]
    assert "archive" in reasons["soundtrack.zip"][0]
    names = {Path(p).name for p in c.tracks["path"]}
    # the five good files, the truncated one (usable up to its end) and the one with broken tags
    assert len(c.tracks) == 7 and {"cut.mp3", "broken tags.mp3"} <= names
    assert c.tracks.loc[c.tracks["path"].str.endswith("broken tags.mp3"), "title"].item() == (
        "broken tags"
    )
    assert list(c.errors.columns) == ["path", "reason", "indexed"]


def test_unreadable_permissions_are_reported(tmp_path):
    root = tmp_path / "perm"
    af.write(root / "ok.flac", seconds=1.0)
    locked = af.write(root / "locked.flac", seconds=1.0)
    locked.chmod(0)
    paths, errors = scan_as_nobody(root)
    assert len(paths) == 1 and len(errors) == 1
    assert errors[0]["path"].endswith("locked.flac")
    assert "permission denied" in errors[0]["reason"]
    assert errors[0]["indexed"] is False


def test_rescan_reads_only_what_changed(library, monkeypatch):
    first = scan(library, progress=False)
    assert first.stats.read == 5 and first.stats.cached == 0

    calls = []
    real = collection_module.read_file
    monkeypatch.setattr(collection_module, "read_file", lambda p: calls.append(p) or real(p))
    second = scan(library, progress=False)
    assert calls == [] and second.stats.read == 0 and second.stats.cached == 5
    pd.testing.assert_frame_equal(first.tracks, second.tracks)

    # change one file (new tags, so new size), add one, remove one
    changed = next(library.rglob("02 Crying.ogg"))
    _tag(changed, title="Crying (remaster)")
    af.write(library / "new.flac", seconds=1.0)
    (library / "loose.wav").unlink()
    third = scan(library, progress=False)
    assert sorted(Path(p).name for p in calls) == ["02 Crying.ogg", "new.flac"]
    assert third.stats.removed == 1 and third.stats.read == 2 and third.stats.cached == 3
    assert "Crying (remaster)" in set(third.tracks["title"])
    assert not third.tracks["path"].str.endswith("loose.wav").any()


def test_touching_a_file_is_a_change(library, monkeypatch):
    scan(library, progress=False)
    target = library / "loose.wav"
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert scan(library, progress=False).stats.read == 1


def test_the_music_folder_is_never_written(library):
    before = _snapshot(library)
    scan(library, progress=False)
    scan(library, progress=False)
    assert _snapshot(library) == before


def test_cache_lives_where_asked_and_a_damaged_cache_is_rebuilt(library, tmp_path, caplog):
    cache_dir = tmp_path / "my-cache"
    scan(library, cache=cache_dir, progress=False)
    files = list(cache_dir.glob("*.json.gz"))
    assert len(files) == 1
    files[0].write_bytes(files[0].read_bytes()[:40])  # as if killed mid-write by a non-atomic tool
    (cache_dir / ".stray.json.gz.123.tmp").write_bytes(b"half")
    c = scan(library, cache=cache_dir, progress=False)
    assert len(c.tracks) == 5 and c.stats.read == 5
    assert "unreadable scan cache" in caplog.text
    assert scan(library, cache=cache_dir, progress=False).stats.read == 0


def test_cache_is_written_atomically(library, tmp_path, monkeypatch):
    cache_dir = tmp_path / "c"
    scan(library, cache=cache_dir, progress=False)
    cache_file = next(cache_dir.glob("*.json.gz"))
    good = cache_file.read_bytes()

    def boom(*a, **k):
        raise KeyboardInterrupt  # the user interrupts just as the new cache is being written

    monkeypatch.setattr(gzip, "compress", boom)
    af.write(library / "another.flac", seconds=1.0)
    with pytest.raises(KeyboardInterrupt):
        scan(library, cache=cache_dir, progress=False)
    assert cache_file.read_bytes() == good
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    assert scan(library, cache=cache_dir, progress=False).stats.read == 1


def test_cache_false_reads_everything(library):
    scan(library, progress=False)
    assert scan(library, cache=False, progress=False).stats.read == 5


def test_parallel_and_serial_scans_agree(tmp_path):
    root = tmp_path / "many"
    for i in range(20):
        p = af.write(root / f"{i:02d}.flac", seconds=0.5 + 0.1 * i, rate=16_000)
        _tag(p, title=f"Track {i}", artist=f"Artist {i % 3}")
    serial = scan(root, cache=False, workers=1, progress=False).tracks
    parallel = scan(root, cache=False, workers=4, progress=False).tracks
    pd.testing.assert_frame_equal(serial, parallel)


def test_filters(library):
    c = scan(library, progress=False)
    assert len(c.filter(artist="björk")) == 2
    assert len(c.filter(genre="electronic")) == 1
    assert len(c.filter(genre=["Pop", "Jazz"])) == 2
    assert len(c.filter(album="Debut", genre="Pop")) == 2
    assert len(c.filter(path="*/Unsorted/*")) == 2
    assert len(c.filter(path="*.wav")) == 1
    assert len(c.filter(artist="Nobody")) == 0
    assert c.artists()["Björk"] == 2 and c.genres()["Pop"] == 2


def test_summary_and_repr(library):
    c = scan(library, progress=False)
    text = c.summary()
    assert text.startswith("5 tracks") and "flac 1" in text and "errors: none" in text
    assert "5 tracks" in repr(c) and len(c) == 5


def test_progress_bar_and_quiet(library, capsys):
    scan(library, cache=False, progress=False)
    assert capsys.readouterr().err == ""
    scan(library, cache=False, progress=True)
    assert "scanning" in capsys.readouterr().err


def test_non_utf8_file_name(tmp_path):
    root = tmp_path / "lib"
    root.mkdir()
    raw = os.fsencode(root) + b"/caf\xe9 mix.flac"  # Latin-1 name on a UTF-8 system
    af.write(os.fsdecode(raw), seconds=1.0)
    c = scan(root, progress=False)
    assert len(c.tracks) == 1 and c.tracks["title"].iloc[0] == "caf\ufffd mix"
    assert os.path.exists(c.tracks["path"].iloc[0])
    assert scan(root, progress=False).stats.read == 0  # the name round-trips through the cache


def test_hidden_files_and_other_extensions_are_ignored(tmp_path):
    root = tmp_path / "lib"
    af.write(root / "song.flac", seconds=1.0)
    af.write(root / ".hidden" / "x.flac", seconds=1.0)
    af.write(root / "._song.flac", seconds=1.0)  # macOS resource fork companion
    (root / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    (root / "SHOUT.FLAC").write_bytes((root / "song.flac").read_bytes())
    c = scan(root, cache=False, progress=False)
    assert sorted(Path(p).name for p in c.tracks["path"]) == ["SHOUT.FLAC", "song.flac"]
    only = scan(root, cache=False, progress=False, extensions=["FLAC"])
    assert len(only.tracks) == 2


def test_single_files_and_several_roots(library, tmp_path):
    one = scan(library / "loose.wav", progress=False)
    assert len(one.tracks) == 1
    other = tmp_path / "other"
    af.write(other / "x.opus", seconds=1.0)
    both = scan([library, other], progress=False)
    assert len(both.tracks) == 6 and len(both.roots) == 2


def test_missing_folder_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        scan(tmp_path / "nope")
    with pytest.raises(ValueError):
        scan(tmp_path, workers=0)
    with pytest.raises(ValueError):
        scan([])


def test_empty_folder_gives_empty_frames_with_columns(tmp_path):
    c = scan(tmp_path, progress=False)
    assert len(c.tracks) == 0 and "duration" in c.tracks.columns and len(c.errors) == 0
    assert c.summary().splitlines()[:3] == [
        "0 tracks, 0:00:00 of audio, 0 B",
        f"no audio file in {c.roots[0]} (nor in its sub-folders)",
        "errors: none",
    ]
    assert repr(c).startswith("<Collection: 0 tracks, 0.0 h, 0 errors")
    assert len(c.find("anything")) == 0 and c.artists().empty and c.genres().empty
    # only damaged files: the summary says where to look
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.mp3").write_bytes(b"\x00garbage" * 99)
    (bad / "b.flac").write_bytes(b"")
    c = scan(bad, cache=False, progress=False)
    lines = c.summary().splitlines()
    assert lines[1] == f"no readable audio in {c.roots[0]}: see the errors below"
    assert lines[2] == "errors: 2 files (2 not indexed)"


def test_find_by_title_artist_or_album_ignoring_case(library):
    _tag(next(library.rglob("*Human Behaviour.flac")), title="Große Straße")
    # decomposed accents, as files copied from a Mac may have them
    _tag(next(library.rglob("*Crying.ogg")), album=unicodedata.normalize("NFD", "Débüt"))
    c = scan(library, progress=False)
    t = c.tracks
    human, crying = (t.index[t["path"].str.endswith(n)].item() for n in ("Behaviour.flac", ".ogg"))
    memo = t.index[t["path"].str.endswith("memo.m4a")].item()
    assert list(c.find("björk").index) == list(c.find("BJÖRK").index) == [human, crying]
    assert list(c.find("STRASSE").index) == [human]  # case-folded: ß is ss
    assert list(c.find("débüt").index) == [crying]  # composed or not
    assert list(c.find("ebu").index) == [human]  # the other album is "Débüt"
    assert list(c.find("Memo").index) == [memo]  # untagged: the title is the file name
    assert t.loc[memo, ["artist", "album"]].isna().all()
    found = c.find("cry")
    pd.testing.assert_frame_equal(found, t.loc[[crying]])
    assert c.find("no such words").empty and list(c.find("zz").columns) == list(t.columns)
    assert len(c.find("")) == len(t)


def test_cache_key_is_per_root(library, tmp_path):
    cache = ScanCache(library, tmp_path)
    assert cache.file.parent == tmp_path and cache.load() == {}
    assert embedexplore.scan(library, cache=tmp_path, progress=False).stats.read == 5
    assert len(cache.load()) == 5


def test_scanning_one_file_or_some_extensions_keeps_the_folders_cache(library, monkeypatch):
    scan(library, progress=False)
    assert scan(library / "loose.wav", progress=False).stats.removed == 0
    assert scan(library, extensions=[".flac"], progress=False).stats.read == 0
    again = scan(library, progress=False)
    assert again.stats.read == 0 and again.stats.cached == 5


def test_nested_roots_index_each_file_once(library):
    c = scan([library, library / "Björk"], progress=False)
    assert len(c.tracks) == 5 and c.tracks["path"].is_unique


def test_three_roots_with_the_same_relative_path_get_distinct_ids(tmp_path):
    for parent in ("x", "y", "z"):
        af.write(tmp_path / parent / "Music" / "a.wav", seconds=0.5, rate=16_000)
    roots = [tmp_path / p / "Music" for p in ("x", "y", "z")]
    c = scan(roots, cache=False, progress=False)
    assert len(c.tracks) == 3 and c.tracks.index.is_unique


def test_access_errors_are_retried_on_the_next_scan(library, monkeypatch):
    real = collection_module.audio.probe
    target = str(library / "loose.wav")

    def denied(path):
        if str(path) == target:
            raise collection_module.audio.AudioError("permission denied: the file cannot be read")
        return real(path)

    monkeypatch.setattr(collection_module.audio, "probe", denied)
    first = scan(library, progress=False)
    assert len(first.tracks) == 4 and "permission denied" in first.errors["reason"].iloc[0]
    monkeypatch.setattr(collection_module.audio, "probe", real)  # the user fixes the permissions
    second = scan(library, progress=False)  # nothing else changed: only that file is read again
    assert second.stats.read == 1 and len(second.tracks) == 5 and len(second.errors) == 0


def test_an_unwritable_cache_costs_a_warning_not_the_scan(library, tmp_path, caplog):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    c = scan(library, cache=blocked, progress=False)
    assert len(c.tracks) == 5
    assert "cannot write the scan cache" in caplog.text


def test_missing_text_tags_are_missing_values_not_text():
    from embedexplore.collection import TEXT, _tracks_frame

    df = _tracks_frame(
        [
            {
                "track_id": "a",
                "path": "/x.flac",
                "title": "x",
                "artist": None,
                "album": None,
                "album_artist": None,
                "genre": [],
                "year": None,
                "track_number": None,
                "duration": 1.0,
                "sample_rate": 16000,
                "channels": 1,
                "codec": "flac",
                "container": "flac",
                "bit_rate": None,
                "size": 1,
                "mtime": 0,
            }
        ]
    )
    assert df["artist"].dtype == TEXT and df["artist"].isna().all()
    assert (df["artist"] == "None").sum() == 0
