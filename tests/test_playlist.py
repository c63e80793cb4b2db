"""Playlists on real extracted music: selection, radio, path; M3U8 and XSPF read back, by a
real player (mpv) and an XML parser, also with hostile tags and file names."""

from __future__ import annotations

import logging
import math
import os
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urlparse

import numpy as np
import pandas as pd
import pytest

import embedexplore
from audiofiles import excerpt, write
from embedexplore import playlist
from players import mpv_play
from realmusic import real_music

MODEL = "musicnn-msd"
realmusic = pytest.mark.realmusic


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    root = tmp_path_factory.mktemp("pl")
    for i, src in enumerate(sorted(real_music("freedroidrpg-data").glob("*.ogg"))):
        excerpt(src, root / "music" / f"Fréedroid {i:02d}.ogg", 6.5 + i % 3 * 3)
    coll = embedexplore.scan(root / "music", cache=False, progress=False)
    # three artists of 5-6 tracks each (the files carry no artist tags)
    coll.tracks["artist"] = [f"Artist {i % 3}" for i in range(len(coll))]
    emb = embedexplore.extract(coll, store=root / "store", models=MODEL, device="cpu",
                               progress=False)  # fmt: skip
    return coll, emb


@realmusic
def test_from_selection_unique_tracks_in_each_order(extracted):
    coll, emb = extracted
    rows = [5, 0, 6, 1, 20, 2, 21]
    pl = playlist.from_selection(emb, rows, collection=coll)
    ids = emb.segments["track_id"].astype(str).to_numpy()
    first_seen = list(dict.fromkeys(ids[rows]))
    assert list(pl.index) == first_seen
    assert sum(len(s) for s in pl["segments"]) == len(rows)
    for tid, segs in pl["segments"].items():
        assert all(ids[r] == tid for r in segs)
    coll.tracks.loc[first_seen, "year"] = [2001, 1999, 2005, 1999][: len(first_seen)]
    by_time = playlist.from_selection(emb, rows, order="time", collection=coll)
    years = coll.tracks.loc[by_time.index, "year"].to_numpy()
    assert list(years) == sorted(years)
    by_axis = playlist.from_selection(emb, rows, order="axis", model=MODEL)
    assert sorted(by_axis.index) == sorted(first_seen)
    with pytest.raises(ValueError, match="needs the collection"):
        playlist.from_selection(emb, rows, order="time")


def test_a_track_enters_with_its_share_of_selected_segments(demo_store):
    folder, store = demo_store
    coll = embedexplore.scan(folder, progress=False)
    emb = embedexplore.open_store(store)
    a, b = emb.tracks.index[[0, 9]]
    n_a = int(emb.tracks.loc[a, "n_segments"])
    assert n_a >= 8  # demo tracks are 30-60 s long
    rows_a, rows_b = (np.arange(*emb.rows(t).indices(len(emb))) for t in (a, b))
    need = math.ceil(n_a * playlist.MIN_SHARE)  # the fewest rows of a that make a quarter
    # a quarter of a, and one row of b (selected three times: counted once)
    rows = [*rows_a[:need], rows_b[0], rows_b[0], rows_b[0]]
    pl = playlist.from_selection(emb, rows, collection=coll)
    assert list(pl.index) == [a] and pl.loc[a, "segments"] == list(rows_a[:need])
    by_axis = playlist.from_selection(emb, rows, order="axis", model="musicnn-msd")
    assert list(by_axis.index) == [a]
    assert list(playlist.from_selection(emb, rows, min_share=0).index) == [a, b]
    whole = [*rows_a, rows_b[0]]
    assert list(playlist.from_selection(emb, whole, min_share=1).index) == [a]
    # one row of a short of a quarter: no track left, an empty playlist and a warning
    with pytest.warns(UserWarning, match=r"none of the 2 selected tracks has 25% .*lower min_sh"):
        empty = playlist.from_selection(emb, rows[1:], collection=coll)
    assert empty.empty and list(empty.columns) == list(pl.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing selected: empty, and nothing to warn about
        assert playlist.from_selection(emb, []).empty
    with pytest.raises(ValueError, match="min_share"):
        playlist.from_selection(emb, rows, min_share=1.5)


@realmusic
@pytest.mark.parametrize("cap", [1, 2])
def test_radio_never_repeats_and_respects_the_artist_cap(extracted, cap):
    coll, emb = extracted
    seed = emb.tracks.index[4]
    pl = playlist.radio(emb, MODEL, seed, n=10, per_artist=cap, collection=coll)
    assert pl.index[0] == seed
    assert pl.index.is_unique
    artists = coll.tracks.loc[pl.index, "artist"]
    assert artists.value_counts().max() <= cap
    assert len(pl) == min(10, 3 * cap)  # three artists
    # without a cap: the nearest tracks by mean embedding, in order
    free = playlist.radio(emb, MODEL, seed, n=5, per_artist=None)
    agg = emb.per_track(MODEL)
    unit = agg.mean / np.linalg.norm(agg.mean, axis=1, keepdims=True)
    sims = unit @ unit[list(agg.track_ids).index(seed)]
    expected = [
        agg.track_ids[i] for i in np.argsort(-sims, kind="stable") if agg.track_ids[i] != seed
    ]
    assert list(free.index[1:]) == expected[:4]
    from_segment = playlist.radio(emb, MODEL, 0, n=4)
    assert from_segment.index[0] == emb.segments["track_id"].iloc[0]


@realmusic
def test_path_goes_from_a_to_b_without_repeats(extracted):
    _, emb = extracted
    a, b = emb.tracks.index[0], emb.tracks.index[-1]
    pl = playlist.path(emb, MODEL, a, b, steps=6)
    assert len(pl) == 6 and pl.index[0] == a and pl.index[-1] == b and pl.index.is_unique
    agg = emb.per_track(MODEL)
    unit = agg.mean / np.linalg.norm(agg.mean, axis=1, keepdims=True)
    pos = {t: i for i, t in enumerate(agg.track_ids)}
    to_b = [float(unit[pos[t]] @ unit[pos[b]]) for t in pl.index]
    assert to_b[-1] == pytest.approx(1.0) and to_b[0] < to_b[-1]


@realmusic
@pytest.mark.parametrize("relative", [False, True])
def test_m3u8_and_xspf_read_back(extracted, tmp_path, relative):
    coll, emb = extracted
    pl = playlist.radio(emb, MODEL, emb.tracks.index[0], n=5, per_artist=None, collection=coll)
    out = tmp_path / "lists" / "radio.m3u8"
    playlist.to_m3u8(pl, out, relative=relative)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    entries = list(zip(lines[1::2], lines[2::2], strict=True))
    assert len(entries) == len(pl)
    for (info, loc), row in zip(entries, pl.itertuples(), strict=True):
        assert info == f"#EXTINF:{round(row.duration)},{row.artist} - {row.title}"
        assert Path(loc).is_absolute() != relative
        assert (out.parent / loc).resolve() == Path(row.path).resolve()
    xspf = tmp_path / "lists" / "radio.xspf"
    playlist.to_xspf(pl, xspf, relative=relative, title="Radio & friends")
    ns = {"x": "http://xspf.org/ns/0/"}
    root = ET.parse(xspf).getroot()
    assert root.find("x:title", ns).text == "Radio & friends"
    tracks = root.findall("x:trackList/x:track", ns)
    assert len(tracks) == len(pl)
    for t, row in zip(tracks, pl.itertuples(), strict=True):
        uri = t.find("x:location", ns).text
        if relative:
            target = (xspf.parent / unquote(uri)).resolve()
        else:
            assert uri.startswith("file:///")
            target = Path(unquote(urlparse(uri).path))
        assert target == Path(row.path).resolve() and target.exists()
        assert "é" in unquote(uri)  # the accented file name survives percent-encoding
        assert t.find("x:creator", ns).text == row.artist
        assert int(t.find("x:duration", ns).text) == round(row.duration * 1000)


@realmusic
def test_a_playlist_of_hostile_tags_from_the_collection(extracted, tmp_path, monkeypatch):
    coll, emb = extracted
    # tags as the collection holds them (its text dtype keeps any str, lone surrogates too)
    tracks = coll.tracks.copy()
    hostile = ["caf\udce9", "Line1\nhttp://evil.example/x.mp3", "#EXTINF:1,x\n/etc/passwd\x1b"]
    tracks.loc[tracks.index[:3], "title"] = hostile
    monkeypatch.setattr(coll, "tracks", tracks)
    ids = emb.segments["track_id"].astype(str).to_numpy()
    rows = [int(np.flatnonzero(ids == t)[0]) for t in tracks.index[:3]]
    pl = playlist.from_selection(emb, rows, collection=coll)
    assert list(pl["title"]) == hostile
    out = playlist.to_m3u8(pl, tmp_path / "hostile.m3u8")
    labels = ["caf\ufffd", "Line1 http://evil.example/x.mp3", "#EXTINF:1,x /etc/passwd\ufffd"]
    artists = list(pl["artist"])
    lines = out.read_text(encoding="utf-8").splitlines()
    expected = zip(pl["duration"], artists, labels, strict=True)
    assert lines[1::2] == [f"#EXTINF:{round(d)},{a} - {t}" for d, a, t in expected]
    root = ET.parse(playlist.to_xspf(pl, tmp_path / "hostile.xspf")).getroot()
    titles = [t.text for t in root.iter("{http://xspf.org/ns/0/}title")]
    assert titles == ["caf\ufffd", hostile[1], "#EXTINF:1,x\n/etc/passwd\ufffd"]
    events = mpv_play(out, tmp_path / "mpv")  # last: skips where mpv is missing
    opened = [os.path.realpath(e["path"]) for e in events if e["event"] == "start"]
    assert opened == [os.path.realpath(p) for p in pl["path"]]


@realmusic
def test_neighbors_of_a_segment_and_of_a_track(extracted):
    from embedexplore.similarity import knn, spaces

    coll, emb = extracted
    ids = emb.segments["track_id"].astype(str).to_numpy()
    seed = 7
    near = embedexplore.neighbors(emb, MODEL, seed, k=5, collection=coll)
    assert len(near) == 5 and (near["distance"].diff().dropna() >= 0).all()
    assert (near["track_id"].astype(str) != ids[seed]).all()  # the seed's own track left out
    with_own = embedexplore.neighbors(emb, MODEL, seed, k=5, exclude_same_track=False)
    x = np.asarray(emb.array(MODEL), np.float32)
    expected, _ = knn(x, 5, queries=[seed])
    assert list(with_own.index) == list(expected[0])
    other_artists = embedexplore.neighbors(emb, MODEL, seed, k=5, exclude_same_artist=True,
                                           collection=coll)  # fmt: skip
    seed_artist = coll.tracks.loc[ids[seed], "artist"]
    assert (other_artists["artist"] != seed_artist).all()
    tracks = embedexplore.neighbors(emb, MODEL, emb.tracks.index[2], k=3, level="track",
                                    metric="euclidean")  # fmt: skip
    assert len(tracks) == 3 and emb.tracks.index[2] not in tracks.index
    sp = spaces(emb, level="track")
    assert set(sp) == {f"{MODEL}/taggrams", f"{MODEL}/embeddings"}
    assert sp[f"{MODEL}/embeddings"].shape == (len(emb.tracks), 200)


# Hostile tags and file names (issue 16): each row a real audio file, its name and the tags a
# playlist row holds (NaN: no tag), then the "artist - title" label M3U8 must show for it.
# Titles that would inject entries if written as they are, control characters (NUL, ESC, DEL,
# CSI), the line separators that some readers honour, lone surrogates; names with line breaks,
# bytes that are not UTF-8, a leading "#", a trailing space, a folder that looks like a scheme.
NA = float("nan")
HOSTILE = [
    ("plain Fréedroid.flac", "Plain", "Artist", "Album", "Artist - Plain"),
    ("url.flac", "Line1\nhttp://evil.example/x.mp3", "A", NA, "A - Line1 http://evil.example/x.mp3"),
    ("entry.flac", "#EXTINF:1,fake\n/etc/passwd", NA, NA, "#EXTINF:1,fake /etc/passwd"),
    ("controls.flac", "\x01\x0b\x1b[31mred", "Ctrl\x00NUL", "\x7fdel\x9bcsi",
     "Ctrl\ufffdNUL - \ufffd \ufffd[31mred"),
    ("breaks.flac", "a\rb\r\nc", "x\u2028y\u2029z\x85w\x0cv", NA, "x y z w v - a b  c"),
    ("lone.flac", "lone\udce9", "\ufffe\uffff", NA, "\ufffe\uffff - lone\ufffd"),
    ("two\nlines.flac", NA, NA, NA, "two lines"),
    ("carriage\rreturn.flac", NA, NA, NA, "carriage return"),
    ("sep\u2028arator.flac", NA, NA, NA, "sep arator"),
    ("#1 hit.flac", "Hit", NA, NA, "Hit"),
    ("tail.flac ", "Tail", NA, NA, "Tail"),
    (os.fsdecode(b"caf\xe9.flac"), NA, NA, NA, "caf\ufffd"),
    ("http:/colon.flac", NA, NA, NA, "colon"),
]  # fmt: skip
# names no M3U line can hold: written as file:// URIs
AS_URI = {"two\nlines.flac", "carriage\rreturn.flac", "sep\u2028arator.flac", "tail.flac ",
          os.fsdecode(b"caf\xe9.flac")}  # fmt: skip
# what XSPF's titles, creators and albums read back as where not exactly the tag (characters
# XML 1.0 forbids become U+FFFD; DEL, C1 controls, LS, PS and NEL are allowed)
XSPF_READS = {
    "\x01\x0b\x1b[31mred": "\ufffd\ufffd\ufffd[31mred",
    "Ctrl\x00NUL": "Ctrl\ufffdNUL",
    "x\u2028y\u2029z\x85w\x0cv": "x\u2028y\u2029z\x85w\ufffdv",
    "lone\udce9": "lone\ufffd",
    "\ufffe\uffff": "\ufffd\ufffd",
}


@pytest.fixture
def hostile(tmp_path):
    """Real FLAC files under ``tmp_path/"music"`` and a playlist of them with hostile tags."""
    folder = tmp_path / "music"
    rows = []
    for i, (name, title, artist, album, _) in enumerate(HOSTILE):
        seconds = 0.5 + 0.25 * i
        path = write(folder / name, seconds=seconds, kind="flac", rate=8000)
        rows.append((f"t{i:02d}", str(path), seconds, artist, title, album))
    # object columns: they hold any str, as the collection's text columns do (pandas' default
    # string dtype may be pyarrow's, which refuses the lone surrogates of a non-UTF-8 name)
    columns = ["track_id", "path", "duration", "artist", "title", "album"]
    pl = pd.DataFrame(rows, columns=columns, dtype=object).astype({"duration": float})
    return folder, pl.set_index("track_id")


@pytest.mark.parametrize("relative", [False, True])
def test_m3u8_has_one_entry_per_track_whatever_the_tags_and_names(hostile, relative, caplog):
    folder, pl = hostile
    out = folder / "hostile.m3u8"  # beside the music: relative paths are bare names
    with caplog.at_level(logging.WARNING, logger="embedexplore.playlist"):
        playlist.to_m3u8(pl, out, relative=relative)
    text = out.read_bytes().decode("utf-8")  # strictly UTF-8, even for a non-UTF-8 name
    # str.splitlines breaks at every line separator any reader honours (CR, VT, FF, NEL, ...)
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and len(lines) == 1 + 2 * len(pl)
    uris = set()
    for info, loc, row, case in zip(
        lines[1::2], lines[2::2], pl.itertuples(), HOSTILE, strict=True
    ):
        assert info == f"#EXTINF:{round(row.duration)},{case[-1]}"
        assert not loc.startswith("#") and loc == loc.strip()
        if loc.startswith("file://"):
            uris.add(case[0])
            named = os.fsdecode(unquote_to_bytes(urlparse(loc).path))
        else:
            named = os.path.join(folder, loc)
        assert os.path.normpath(named) == row.path
    assert uris == AS_URI
    relative_lines = set(lines[2::2]) if relative else set()
    assert {"./#1 hit.flac", "./http:/colon.flac"} <= relative_lines or not relative
    assert "/etc/passwd" not in lines and "http://evil.example/x.mp3" not in lines
    # the user is told which tracks need a player that reads URIs, each named
    (record,) = [r for r in caplog.records if "file:// URIs" in r.getMessage()]
    for name in AS_URI:
        assert repr(str(folder / name)) in record.getMessage()


def _where(p: str) -> str:
    """A file's real path; a URL as it is."""
    return p if "://" in p else os.path.realpath(p)


@pytest.mark.parametrize("relative", [False, True])
def test_mpv_plays_exactly_the_listed_tracks(hostile, tmp_path, relative):
    folder, pl = hostile
    out = folder / "hostile.m3u8"
    playlist.to_m3u8(pl, out, relative=relative)
    events = mpv_play(out, tmp_path / "mpv")
    expected = [_where(p) for p in pl["path"]]
    starts = [e for e in events if e["event"] == "start"]
    opened = [_where(e["path"]) for e in starts]
    assert not [p for p in opened if "passwd" in p or "evil" in p]  # nothing injected...
    assert opened == expected  # ...nothing split, nothing lost: each track once, in order
    # every file was found and played to the end of its 0.1 s, none failed to open
    assert [e["reason"] for e in events if e["event"] == "end"] == ["eof"] * len(pl)
    assert sum(e["event"] == "loaded" for e in events) == len(pl)
    # the playlist as mpv parsed it: the entries and their #EXTINF titles, the labels
    entries = starts[0]["playlist"]
    assert [_where(e["filename"]) for e in entries] == expected
    assert [e.get("title") for e in entries] == [case[-1] for case in HOSTILE]


@pytest.mark.parametrize("relative", [False, True])
def test_xspf_is_well_formed_and_every_field_comes_back(hostile, relative):
    folder, pl = hostile
    out = folder / "lists" / "hostile.xspf"
    name = "Mix \x01\x1b & <friends>\udce9\r\n"
    playlist.to_xspf(pl, out, relative=relative, title=name)
    out.read_bytes().decode("utf-8")  # strictly UTF-8
    ns = {"x": "http://xspf.org/ns/0/"}
    root = ET.parse(out).getroot()  # expat: raises on any character XML 1.0 forbids
    assert root.find("x:title", ns).text == "Mix \ufffd\ufffd & <friends>\ufffd\r\n"
    tracks = root.findall("x:trackList/x:track", ns)
    assert len(tracks) == len(pl)
    for t, row in zip(tracks, pl.itertuples(), strict=True):
        uri = t.find("x:location", ns).text
        if relative:
            named = os.path.join(out.parent, os.fsdecode(unquote_to_bytes(uri)))
        else:
            assert uri.startswith("file:///")
            named = os.fsdecode(unquote_to_bytes(urlparse(uri).path))
        assert os.path.normpath(named) == row.path and os.path.exists(named)
        for tag, value in (("title", row.title), ("creator", row.artist), ("album", row.album)):
            field = t.find(f"x:{tag}", ns)
            if isinstance(value, str):
                assert field.text == XSPF_READS.get(value, value), tag
            else:
                assert field is None
        assert int(t.find("x:duration", ns).text) == round(row.duration * 1000)


def test_a_track_of_unknown_duration_is_written(hostile):
    folder, pl = hostile
    pl = pl.iloc[:2].copy()
    pl.iloc[0, pl.columns.get_loc("duration")] = NA
    m3u = playlist.to_m3u8(pl, folder / "unknown.m3u8")
    lines = m3u.read_text(encoding="utf-8").splitlines()
    assert lines[1] == "#EXTINF:-1,Artist - Plain"  # -1: M3U's "unknown"
    assert lines[3].startswith(f"#EXTINF:{round(pl['duration'].iloc[1])},")
    root = ET.parse(playlist.to_xspf(pl, folder / "unknown.xspf")).getroot()
    ns = {"x": "http://xspf.org/ns/0/"}
    durations = [t.find("x:duration", ns) for t in root.findall("x:trackList/x:track", ns)]
    assert durations[0] is None and int(durations[1].text) == round(pl["duration"].iloc[1] * 1000)


def test_any_lone_surrogate_is_replaced(hostile):
    folder, pl = hostile
    pl = pl.iloc[:1].copy()
    pl.iloc[0, [pl.columns.get_loc(c) for c in ("title", "artist", "album")]] = [
        "\ud800high",
        "low\udfff",
        "\udbff\udc00",  # each a lone surrogate: no pair in a str
    ]
    m3u = playlist.to_m3u8(pl, folder / "lone.m3u8")
    assert m3u.read_text(encoding="utf-8").splitlines()[1].endswith(",low\ufffd - \ufffdhigh")
    root = ET.parse(playlist.to_xspf(pl, folder / "lone.xspf", title="\udfffx")).getroot()
    ns = {"x": "http://xspf.org/ns/0/"}
    (track,) = root.findall("x:trackList/x:track", ns)
    assert root.find("x:title", ns).text == "\ufffdx"
    fields = {tag: track.find(f"x:{tag}", ns).text for tag in ("title", "creator", "album")}
    assert fields == {"title": "\ufffdhigh", "creator": "low\ufffd", "album": "\ufffd\ufffd"}
