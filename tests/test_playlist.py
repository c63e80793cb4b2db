"""Playlists on real extracted music: selection, radio, path; M3U8 and XSPF read back."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

import embedexplore
from audiofiles import excerpt
from embedexplore import playlist
from realmusic import real_music

pytestmark = pytest.mark.realmusic
MODEL = "musicnn-msd"


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
