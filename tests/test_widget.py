"""The Explorer's Python side on the demo collection: traits and their binary layout, the
selection both ways, views and filters, validation, and the audio requests (hostile ones too)."""

from __future__ import annotations

import io
import math
import wave

import numpy as np
import pytest
import traitlets

import embedexplore as ee
from embedexplore.audio import load
from embedexplore.widget import SEGMENT_NONE

SEG = 187 * 256 / 16000


@pytest.fixture(scope="module")
def explorer_parts(demo_store):
    folder, store = demo_store
    return ee.scan(folder, progress=False), ee.open_store(store)


@pytest.fixture
def explorer(explorer_parts):
    collection, embeddings = explorer_parts
    x = ee.Explorer(collection, embeddings, left={"projection": "pca"},
                    right={"projection": "pca"})  # fmt: skip
    sent = []
    x.send = lambda content, buffers=None: sent.append((content, list(buffers or [])))
    x.sent = sent
    return x


def _u32(b):
    return np.frombuffer(b, "<u4")


def test_traits_hold_every_segment_in_binary_columns(explorer, explorer_parts):
    _, emb = explorer_parts
    n = len(emb.segments)
    assert explorer.n_points == n
    np.testing.assert_array_equal(_u32(explorer.point_track), emb.segments["track_id"].cat.codes)
    np.testing.assert_array_equal(_u32(explorer.point_segment), emb.segments["segment"])
    for side in ("left", "right"):
        xy = np.frombuffer(getattr(explorer, f"{side}_xy"), "<f4").reshape(2, n)
        assert np.abs(xy).max() <= 0.95 + 1e-6 and np.isclose(np.abs(xy).max(), 0.95)
        tags = np.frombuffer(getattr(explorer, f"{side}_tags"), np.uint8).reshape(n, 3)
        assert tags.max() < len(getattr(explorer, f"{side}_tag_names")) == 50
    # the left pane is MusiCNN's PCA: the same as projecting directly, up to the normalisation
    direct = ee.project(emb, "pca", model="musicnn-msd")
    xy = np.frombuffer(explorer.left_xy, "<f4").reshape(2, n).T
    ratio = (xy - xy.mean(0)) / (direct - direct.mean(0))
    assert np.allclose(ratio, ratio[0, 0], rtol=1e-3)
    assert explorer.left["model"] == "musicnn" and explorer.right["model"] == "vgg"
    assert explorer.track_labels[0].startswith("Fuzz Cathedral - ")
    codes = np.frombuffer(explorer.color_codes, "<u2")
    assert codes.max() < len(explorer.legend) and {e["label"] for e in explorer.legend} >= {
        "Fuzz Cathedral",
        "(unknown)",  # the one demo file without tags
    }


def test_selection_from_the_browser_and_from_code(explorer, explorer_parts):
    _, emb = explorer_parts
    n = explorer.n_points
    seen = []
    explorer.observe(lambda change: seen.append(change.new), "selection")
    picked = np.array([3, 4, 40, n - 1])
    mask = np.zeros(n, bool)
    mask[picked] = True
    # as the browser sends it: a memoryview of the bits
    explorer.set_state({"selected": memoryview(np.packbits(mask, bitorder="little").tobytes())})
    np.testing.assert_array_equal(explorer.selection, picked)
    assert len(seen) == 1
    tracks = explorer.selected_tracks
    assert tracks["n_selected"].sum() == 4 and "artist" in tracks
    segments = explorer.selected_segments
    assert list(segments.index) == list(picked) and len(segments["top_tags"].iat[0]) == 3
    # from code: the bits follow
    explorer.selection = [10, 2, 2]
    bits = np.unpackbits(np.frombuffer(explorer.selected, np.uint8), bitorder="little")[:n]
    np.testing.assert_array_equal(np.flatnonzero(bits), [2, 10])
    # bits of the wrong length (a stale view) are ignored, the selection kept
    explorer.set_state({"selected": memoryview(b"\xff" * 3)})
    np.testing.assert_array_equal(explorer.selection, [2, 10])
    explorer.selection = []
    assert explorer.selected == b""
    with pytest.raises(traitlets.TraitError, match="rows"):
        explorer.selection = [len(emb.segments)]


def test_views_reduction_filters_and_highlight(explorer, explorer_parts):
    collection, emb = explorer_parts
    explorer.every = 3
    assert explorer.n_points == math.ceil(len(emb.segments) / 3)
    explorer.every = 1
    explorer.selection = [0]
    explorer.view = "averages"
    assert explorer.n_points == len(emb.tracks)
    assert set(_u32(explorer.point_segment)) == {SEGMENT_NONE}
    assert len(np.frombuffer(explorer.point_weight, "<f4")) == len(emb.tracks)
    # the selected segment's track is selected among the averages, and selecting a track's
    # point selects all its segments
    bits = np.unpackbits(np.frombuffer(explorer.selected, np.uint8), bitorder="little")
    assert np.flatnonzero(bits[: len(emb.tracks)]).tolist() == [0]
    mask = np.zeros(len(emb.tracks), bool)
    mask[1] = True
    explorer.set_state({"selected": memoryview(np.packbits(mask, bitorder="little").tobytes())})
    assert len(explorer.selection) == emb.tracks["n_segments"].iat[1]
    explorer.view = "segments"

    artist = "Slow Strings Ensemble"
    explorer.music = {"artists": [artist.upper()]}  # case does not matter
    shown = np.unique(_u32(explorer.point_track))
    assert set(collection.tracks.loc[emb.tracks.index[shown], "artist"]) == {artist}
    explorer.music = {}
    explorer.highlight = {"albums": collection.tracks["album"].dropna().iloc[0]}
    hl = np.frombuffer(explorer.highlighted, np.uint8).astype(bool)
    album_tracks = collection.tracks["album"].reindex(emb.tracks.index).to_numpy()
    expected = (
        album_tracks[_u32(explorer.point_track)] == collection.tracks["album"].dropna().iloc[0]
    )
    np.testing.assert_array_equal(hl, expected)
    explorer.color_by = "genre"  # the untagged demo file has no genre: "(unknown)", not "nan"
    labels = {e["label"] for e in explorer.legend}
    assert "(unknown)" in labels and "nan" not in labels and "Metal" in labels
    colors = {e["label"]: e["color"] for e in explorer.legend}
    assert colors["(unknown)"] == "#c9c9c9" and len(set(colors.values())) == len(colors)
    explorer.color_by = "tag:electronic"
    assert explorer.color_kind == "continuous" and len(explorer.legend) == 32
    explorer.right = {"projection": "tags", "x_tag": "electronic", "y_tag": "rock"}
    assert explorer.right_title.endswith("tags: electronic × rock")


@pytest.mark.parametrize(
    ("trait", "value", "message"),
    [
        ("left", {"model": "wav2vec"}, "no model"),
        ("left", {"layer": "penultimate"}, "no layer"),
        ("left", {"projection": "mds"}, "projection must be"),
        ("left", {"projection": "tags", "x_tag": "kazoo"}, "no tag"),
        ("left", {"colour": "red"}, "unknown keys"),
        ("color_by", "tag:kazoo", "color_by"),
        ("view", "3d", "view must be"),
        ("every", 0, "every must be"),
        ("music", {"moods": ["calm"]}, "keys among"),
    ],
)
def test_bad_control_values_say_what_is_allowed(explorer, trait, value, message):
    before = getattr(explorer, trait)
    with pytest.raises(traitlets.TraitError, match=message):
        setattr(explorer, trait, value)
    assert getattr(explorer, trait) == before


def _wav(data: bytes):
    with wave.open(io.BytesIO(data)) as w:
        frames = w.readframes(w.getnframes())
        return w.getframerate(), np.frombuffer(frames, "<i2").astype(np.float32) / 32767


def test_audio_request_answers_the_exact_segment(explorer, explorer_parts):
    _, emb = explorer_parts
    track, segment = 2, 3
    explorer._on_message(explorer, {"type": "audio", "id": 7, "track": track,
                                    "segment": segment}, [])  # fmt: skip
    ((reply, buffers),) = explorer.sent
    assert reply["ok"] and reply["id"] == 7 and reply["mime"] == "audio/wav"
    assert reply["start"] == pytest.approx(segment * SEG)
    rate, x = _wav(buffers[0])
    assert len(x) == round(SEG * rate)
    # the same samples as decoding the track (away from the 10 ms fades)
    ref = load(emb.tracks["path"].iat[track], sample_rate=rate)
    start = round(segment * SEG * rate)
    mid = slice(400, len(x) - 400)
    np.testing.assert_allclose(x[mid], ref[start : start + len(x)][mid], atol=2e-4)
    # "play on": 30 s from the segment's start
    explorer._on_message(explorer, {"type": "audio", "id": "on", "track": track,
                                    "segment": segment, "chunk": 0}, [])  # fmt: skip
    reply, buffers = explorer.sent[-1]
    rate, x = _wav(buffers[0])
    rest = emb.tracks["duration"].iat[track] - segment * SEG
    assert len(x) / rate == pytest.approx(min(30.0, rest), abs=0.05)


@pytest.mark.parametrize(
    "content",
    [
        {"type": "audio", "id": 1, "path": "/etc/passwd"},
        {"type": "audio", "id": 1, "track": "/etc/passwd", "segment": 0},
        {"type": "audio", "id": 1, "track": -1, "segment": 0},
        {"type": "audio", "id": 1, "track": 10**30, "segment": 0},
        {"type": "audio", "id": 1, "track": True, "segment": 0},
        {"type": "audio", "id": 1, "track": 0.0, "segment": 0},
        {"type": "audio", "id": 1, "track": 0, "segment": 10_000},
        {"type": "audio", "id": 1, "track": 0, "segment": [0]},
        {"type": "audio", "id": 1, "track": 0, "segment": 0, "chunk": 99},
        {"type": "shell", "id": 1, "cmd": "rm -rf /"},
        {"id": {"nested": "x" * 10_000}},
        ["not", "an", "object"],
        "text",
        None,
    ],
)
def test_hostile_requests_get_an_error_and_no_data(explorer, content):
    explorer._on_message(explorer, content, [])
    ((reply, buffers),) = explorer.sent
    assert reply["ok"] is False and reply["type"] == "error" and reply["error"]
    assert buffers == []
    assert reply["id"] in (None, 1)


def test_audio_of_a_vanished_file_is_an_error_reply(explorer_parts, tmp_path):
    collection, emb = explorer_parts
    x = ee.Explorer(collection, emb, left={"projection": "pca"}, right={"projection": "pca"})
    sent = []
    x.send = lambda content, buffers=None: sent.append((content, list(buffers or [])))
    x._emb = _Moved(emb, tmp_path / "gone.mp3")
    x._on_message(x, {"type": "audio", "id": 3, "track": 0, "segment": 0}, [])
    ((reply, buffers),) = sent
    assert reply["ok"] is False and "cannot play" in reply["error"] and buffers == []


class _Moved:
    """Embeddings whose first track's file has gone."""

    def __init__(self, emb, path):
        self._emb = emb
        self.tracks = emb.tracks.copy()
        self.tracks["path"] = self.tracks["path"].astype(object)
        self.tracks.iloc[0, self.tracks.columns.get_loc("path")] = str(path)

    def __getattr__(self, name):
        return getattr(self._emb, name)


def test_playlist_of_the_selection(explorer, explorer_parts, tmp_path):
    _, emb = explorer_parts
    rows = np.concatenate(
        [np.arange(*emb.rows(t).indices(len(emb))) for t in emb.tracks.index[[4, 1]]]
    )
    explorer.selection = rows
    out = explorer.playlist(path=tmp_path / "picked.m3u8")
    assert list(out.index) == sorted(
        emb.tracks.index[[4, 1]], key=lambda t: emb.tracks.index.get_loc(t)
    )
    text = (tmp_path / "picked.m3u8").read_text()
    for p in out["path"]:
        assert p in text
    with pytest.raises(ValueError, match="m3u8"):
        explorer.playlist(path=tmp_path / "picked.txt")
