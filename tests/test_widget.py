"""The Explorer's Python side on the demo collection: traits and their binary layout, the
selection both ways, views and filters, validation, and the audio requests (hostile ones too)."""

from __future__ import annotations

import io
import math
import threading
import time
import wave
from concurrent.futures import CancelledError

import numpy as np
import pytest
import traitlets

import embedexplore as ee
from embedexplore.audio import load
from embedexplore.widget import SEGMENT_NONE, decode_xy, encode_xy

SEG = 187 * 256 / 16000


def _assert_same_up_to_scale(xy: np.ndarray, direct: np.ndarray) -> None:
    """``xy`` (a pane's points, normalised and sent as 16-bit coordinates) is ``direct`` moved and
    scaled alike on both axes, to within the coordinates' half step."""
    a, b = xy - xy.mean(0), direct - direct.mean(0)
    scale = np.abs(a).max() / np.abs(b).max()
    np.testing.assert_allclose(a, b * scale, atol=4e-5)


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


def test_pane_coordinates_travel_as_16_bit_integers_within_half_a_step():
    rng = np.random.default_rng(3)
    xy = rng.uniform(-1, 1, (10_001, 2))
    xy[:3] = [[-1, 1], [0.95, -0.95], [0, 0]]
    data = encode_xy(xy)
    assert len(data) == 4 * len(xy)  # 4 bytes a point, where float32 took 8
    q = np.frombuffer(data, "<u2")
    np.testing.assert_array_equal(q[:3], [0, 63897, 32768])  # the x column first
    np.testing.assert_array_equal(q[len(xy) : len(xy) + 3], [65535, 1638, 32768])
    back = decode_xy(data)
    assert back.dtype == np.float32 and back.shape == xy.shape
    assert np.abs(back - xy).max() <= 1.6e-5  # half a step of 2 / 65535
    # outside [-1, 1] is clipped to it; no points, no bytes
    np.testing.assert_array_equal(decode_xy(encode_xy([[3.0, -7.0]])), [[1.0, -1.0]])
    assert encode_xy(np.zeros((0, 2))) == b"" and decode_xy(b"").shape == (0, 2)


def test_traits_hold_every_segment_in_binary_columns(explorer, explorer_parts):
    _, emb = explorer_parts
    n = len(emb.segments)
    assert explorer.n_points == n
    np.testing.assert_array_equal(_u32(explorer.point_track), emb.segments["track_id"].cat.codes)
    np.testing.assert_array_equal(_u32(explorer.point_segment), emb.segments["segment"])
    for side in ("left", "right"):
        xy = decode_xy(getattr(explorer, f"{side}_xy"))
        assert xy.shape == (n, 2)
        # 0.95 at the widest, within the 16-bit coordinates' half step
        assert abs(np.abs(xy).max() - 0.95) <= 1.6e-5
        tags = np.frombuffer(getattr(explorer, f"{side}_tags"), np.uint8).reshape(n, 3)
        assert tags.max() < len(getattr(explorer, f"{side}_tag_names")) == 50
    # the left pane is MusiCNN's PCA: the same as projecting directly, up to the normalisation
    direct = ee.project(emb, "pca", model="musicnn-msd")
    _assert_same_up_to_scale(decode_xy(explorer.left_xy), direct)
    assert explorer.left["model"] == "musicnn-msd" and explorer.right["model"] == "vgg-msd"
    assert explorer.embeddings is emb and explorer.scale_note == ""
    assert explorer.segment_seconds == explorer.hop_seconds == SEG
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
    # the page hears that the kernel has it (it draws all points again then)
    assert explorer.sent == [({"type": "selected", "points": 4}, [])]
    explorer.set_state({"selected": 12345})  # refused: no acknowledgement
    assert len(explorer.sent) == 1
    np.testing.assert_array_equal(explorer.selection, picked)
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


def test_the_older_pane_spec_is_still_understood(explorer):
    explorer.left = {"model": "vgg", "dataset": "msd", "projection": "pca"}
    assert explorer.left == {"model": "vgg-msd", "layer": "embeddings", "projection": "pca",
                             "x_tag": "", "y_tag": ""}  # fmt: skip
    explorer.left = {"dataset": "msd", "projection": "pca"}  # the default architecture
    assert explorer.left["model"] == "musicnn-msd"
    assert [m for m, _ in explorer.options["models"]] == ["musicnn-msd", "vgg-msd"]


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
        ("time_scale", "5", "time_scale must be"),
        ("left", {"model": "vgg-msd", "dataset": "mtt"}, "not a model of dataset"),
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


def test_a_track_grazed_by_the_selection_stays_out_of_the_playlist(explorer, explorer_parts,
                                                                   tmp_path):  # fmt: skip
    _, emb = explorer_parts
    whole, grazed = emb.tracks.index[[2, 7]]
    n = int(emb.tracks.loc[grazed, "n_segments"])
    assert n >= 5  # demo tracks are 30-60 s long: one row is less than a quarter
    first = emb.rows(grazed).start
    explorer.selection = np.append(np.arange(*emb.rows(whole).indices(len(emb))), first)
    tracks = explorer.selected_tracks
    assert tracks.loc[whole, "share"] == 1.0 and tracks["share"].dtype == np.float64
    assert tracks.loc[grazed, "share"] == pytest.approx(1 / n)
    assert list(explorer.playlist().index) == [whole]
    assert list(explorer.playlist(min_share=0).index) == [whole, grazed]
    # the grazed track alone: an empty playlist (and file), and a warning that says what to do
    explorer.selection = [first]
    with pytest.warns(UserWarning, match="pass a lower min_share"):
        out = explorer.playlist(path=tmp_path / "none.m3u8")
    assert out.empty and (tmp_path / "none.m3u8").read_text() == "#EXTM3U\n"
    with pytest.raises(ValueError, match="min_share"):
        explorer.playlist(min_share=-0.1)


# -- nothing the page sends is trusted (issue 16) ------------------------------------------------


def _page_updates(explorer) -> list[dict]:
    """The state updates the kernel sends to the page from now on: each one's JSON values by
    name, binary ones (sent as buffers) as None."""
    updates = []

    def send(msg, buffers=None):
        if msg.get("method") != "update":  # not ipywidgets' echo of what the page sent
            return
        binary = {path[0]: None for path in msg.get("buffer_paths", [])}
        updates.append({**msg.get("state", {}), **binary})

    explorer._send = send
    return updates


@pytest.mark.parametrize("seconds", [1e9, math.nan, math.inf, -1.0, 0.0])
def test_the_page_cannot_change_the_clip_length(explorer, seconds):
    updates = _page_updates(explorer)
    explorer.set_state({"segment_seconds": seconds})  # as a page's "update" message does
    track, segment = 2, 3
    explorer._on_message(explorer, {"type": "audio", "id": 1, "track": track,
                                    "segment": segment}, [])  # fmt: skip
    ((reply, buffers),) = explorer.sent
    assert reply["ok"], reply
    rate, x = _wav(buffers[0])
    assert len(x) == round(SEG * rate)
    assert (reply["start"], reply["end"]) == pytest.approx((segment * SEG, (segment + 1) * SEG))
    # the trait keeps the kernel's value, and the page is sent it back
    assert explorer.segment_seconds == SEG
    assert any(u.get("segment_seconds") == SEG for u in updates)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("n_points", 10**9),
        ("point_track", memoryview(b"\xff" * 8)),
        ("track_labels", ["/etc/passwd"]),
        ("options", {"models": {"evil": ["x"]}}),
        ("height", -5),
        ("scale_note", "both panes show 1 s windows"),
        ("hop_seconds", 0.01),
        ("track_durations", memoryview(b"\0" * 8)),
        ("_esm", "export default { render() { fetch('https://example.com'); } };"),
        ("left_computing", True),  # a pane that would wait for points that never come
        ("right_progress", 0.5),
        ("left_status", "t-SNE of 423 points: computing… 35%"),
    ],
)
def test_the_page_cannot_change_what_only_the_kernel_sets(explorer, name, value):
    before = explorer.get_state()
    updates = _page_updates(explorer)
    explorer.set_state({name: value})
    assert explorer.get_state() == before
    assert any(name in u for u in updates)  # the page is put right


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("left", {"layer": ["embeddings"]}),  # unhashable: a TypeError escaped
        ("left", {"model": 5}),
        ("left", {"x_tag": "x" * 100_000}),  # was kept (and echoed) with any projection but tags
        ("right", "vgg"),
        ("color_by", 5),
        ("view", None),
        ("time_scale", "7"),
        ("time_scale", 10),
        ("time_scale", None),
        ("time_scale", ["10"]),
        ("time_scale", "x" * 100_000),
        ("left", {"model": "vgg-msd", "dataset": "mtt"}),
        ("left", {"dataset": 5}),
        ("every", 2.5),
        ("every", -1),
        ("every", math.nan),
        ("every", "3"),
        ("music", {"artists": 5}),  # a TypeError escaped
        ("highlight", {"albums": {"Fuzz Cathedral": 1}}),  # was taken as its keys
        ("highlight", {"tracks": [None]}),
        ("selected", 2**40),  # bytes(2**40): a terabyte of zeros
        ("selected", "ff"),
        ("selected", [255, 255, 255]),
        ("selected", memoryview(b"\xff" * 3)),  # bits for other points (a stale view)
        ("selected", memoryview(b"\xff" * 10_000_000)),
    ],
)
def test_hostile_control_values_from_the_page_change_nothing(explorer, caplog, name, value):
    explorer.selection = [1, 5]
    before = explorer.get_state()
    updates = _page_updates(explorer)
    with caplog.at_level("WARNING", logger="embedexplore"):
        explorer.set_state({name: value})  # no exception: a page cannot raise in the kernel
    assert explorer.get_state() == before
    np.testing.assert_array_equal(explorer.selection, [1, 5])
    assert any(name in u for u in updates)  # the page is sent the kernel's value back
    assert caplog.records and all(len(r.getMessage()) < 2_000 for r in caplog.records)


def test_good_control_values_from_the_page_still_apply(explorer):
    updates = _page_updates(explorer)
    explorer.set_state({"every": 2, "color_by": "album", "music": {"artists": "Fuzz Cathedral"}})
    assert (explorer.every, explorer.color_by) == (2, "album")
    assert explorer.music == {"artists": ["Fuzz Cathedral"]}
    assert not any("every" in u or "color_by" in u for u in updates)  # nothing to put right


def test_an_audio_error_reply_names_the_track_not_its_path(explorer, explorer_parts, tmp_path):
    _, emb = explorer_parts
    gone = tmp_path / "private folder" / "gone.mp3"
    explorer._emb = _Moved(emb, gone)
    explorer._on_message(explorer, {"type": "audio", "id": 3, "track": 0, "segment": 0}, [])
    ((reply, buffers),) = explorer.sent
    assert reply["ok"] is False and buffers == []
    error = reply["error"]
    assert str(tmp_path) not in error and "private folder" not in error
    assert "track 0" in error and explorer.track_labels[0] in error and "not found" in error


@pytest.mark.parametrize("kind", ["audio error quoting the path", "other error"])
def test_decoder_messages_reach_the_page_without_the_path(explorer, monkeypatch, caplog, kind):
    from embedexplore import clips
    from embedexplore.audio import AudioError

    track = 1
    path = str(explorer._emb.tracks["path"].iat[track])
    folder = path.rsplit("/", 1)[0]

    def clip(p, **_):
        if kind == "other error":
            raise RuntimeError(f"{p}: decoder crashed")
        raise AudioError(f"Error opening {p!r}: Format not recognised (in {folder})")

    monkeypatch.setattr(clips, "clip", clip)
    with caplog.at_level("WARNING", logger="embedexplore"):
        explorer._on_message(explorer, {"type": "audio", "id": 3, "track": track,
                                        "segment": 0}, [])  # fmt: skip
    ((reply, buffers),) = explorer.sent
    error = reply["error"]
    assert reply["ok"] is False and buffers == []
    assert folder not in error and f"track {track}" in error
    assert explorer.track_labels[track] in error
    if kind == "other error":
        assert "decoder crashed" not in error
    else:
        assert "Format not recognised" in error
    assert path in caplog.text  # the kernel log keeps the path, for whoever runs the kernel


# -- any registered model, models of other clocks, time scales (issue 17) -----------------------


@pytest.fixture
def tiny():
    """The tests' own model "tiny" (1 s segments) registered, as in the session that extracted
    the clocks store (see conftest)."""
    from tinymodel import TINY, tiny_model

    ee.register_model("tiny", tiny_model(), **TINY)
    yield
    ee.registry.unregister("tiny")


@pytest.fixture(scope="module")
def clocks(clocks_store):
    folder, store = clocks_store
    return ee.scan(folder, progress=False), ee.open_store(store)


def _clock_explorer(clocks, **kwargs):
    collection, emb = clocks
    pca = {"model": "vgg-msd", "projection": "pca"}
    x = ee.Explorer(collection, emb, **{"left": pca, "right": pca, **kwargs})
    sent = []
    x.send = lambda content, buffers=None: sent.append((content, list(buffers or [])))
    x.sent = sent
    return x


def _select(explorer, points):
    mask = np.zeros(explorer.n_points, bool)
    mask[points] = True
    explorer.set_state({"selected": memoryview(np.packbits(mask, bitorder="little").tobytes())})


def test_the_menus_list_every_model_of_the_store_by_name(clocks, tiny):
    x = _clock_explorer(clocks)
    assert x.options["models"] == [["vgg-msd", "vgg-msd (vgg, MSD, 2.992 s segments)"],
                                   ["tiny", "tiny (custom, 1 s segments)"]]  # fmt: skip
    assert x.options["time_scales"][0] == ["native", "native segments"]
    assert [v for v, _ in x.options["time_scales"]] == list(ee.explorer.TIME_SCALES)
    assert x.options["layers"]["tiny"] == ["embeddings"] and "tiny" not in x.options["tags"]
    # by default: VGG on the left, the other architecture on the right
    pca = {"projection": "pca"}
    assert ee.Explorer(None, clocks[1], left=pca, right=pca).right["model"] == "tiny"


def test_a_model_the_registry_does_not_know_still_shows(clocks):
    x = _clock_explorer(clocks, right={"model": "tiny", "projection": "pca"})
    assert x.options["models"][1] == ["tiny", "tiny (1 s segments)"]
    assert x.right["model"] == "tiny" and x.n_points > 0


def test_a_model_of_another_clock_shows_both_panes_in_windows(clocks, tiny):
    _, emb = clocks
    x = _clock_explorer(clocks)
    # both panes VGG: its own segments (the store's other clock left out)
    assert x.n_points == len(emb.segments_of("vgg-msd")) and x.scale_note == ""
    assert x.embeddings.models == ("vgg-msd",) and x.segment_seconds == SEG
    _select(x, [0, 5])
    seen = []
    x.observe(lambda change: seen.append(change.new), "selection")
    # the page chooses tiny (1 s) for the right pane: both show 2.992 s windows, and say so
    x.set_state({"right": {"model": "tiny", "layer": "embeddings", "projection": "pca"}})
    windows = emb.windows(SEG)
    assert x.right["model"] == "tiny" and x.n_points == len(windows.segments)
    assert x.scale_note == (
        "vgg-msd: 2.992 s segments, tiny: 1 s segments — both panes show 2.992 s windows"
    )
    assert x.embeddings.seconds == SEG and x.segment_seconds == x.hop_seconds == SEG
    assert len(seen) == 1 and len(x.selection) == 0 and x.selected == b""  # another set of rows
    np.testing.assert_array_equal(_u32(x.point_segment), windows.segments["segment"])
    # the tiny pane is the PCA of tiny's window means: as projecting them directly
    _assert_same_up_to_scale(decode_xy(x.right_xy), ee.project(windows, "pca", model="tiny"))
    # both panes tiny: its own 1 s segments again, no note
    x.left = {"model": "tiny", "projection": "pca"}
    assert x.n_points == len(emb.segments_of("tiny")) and x.scale_note == ""
    assert x.segment_seconds == 1.0 and x.embeddings.models == ("tiny",)


@pytest.mark.parametrize(("scale", "seconds"), [("10", 10.0), ("30", 30.0), ("track", 0.0)])
def test_time_scales_show_windows_and_select_them(clocks, tiny, scale, seconds, tmp_path):
    _, emb = clocks
    x = _clock_explorer(clocks, right={"model": "tiny", "projection": "pca"})
    x.set_state({"time_scale": scale})  # as the page's menu sends it
    view = emb.windows("track" if scale == "track" else seconds)
    assert x.time_scale == scale and x.n_points == len(view.segments) == len(x.embeddings)
    assert x.segment_seconds == x.hop_seconds == seconds and x.scale_note == ""
    np.testing.assert_array_equal(_u32(x.point_track), view.segments["track_id"].cat.codes)
    assert len(np.frombuffer(x.track_durations, "<f4")) == len(emb.tracks)
    _select(x, [1, 2, x.n_points - 1])
    picked = x.selected_segments
    assert list(picked.index) == [1, 2, x.n_points - 1]
    assert {"track_id", "start", "end", "title"} <= set(picked.columns)
    np.testing.assert_allclose(picked["end"], view.segments["end"].iloc[[1, 2, -1]])
    tracks = x.selected_tracks
    assert tracks["n_selected"].sum() == 3
    assert (tracks["n_segments"] == view.tracks["n_segments"].reindex(tracks.index)).all()
    assert (tracks["share"] == tracks["n_selected"] / tracks["n_segments"]).all()
    enough = list(tracks.index[tracks["share"] >= 0.25])
    assert list(x.playlist(path=tmp_path / "w.m3u8").index) == enough
    assert list(x.playlist(min_share=0).index) == list(tracks.index)
    # a hover plays the row's span, at most 30 s
    track, k = int(_u32(x.point_track)[-1]), int(_u32(x.point_segment)[-1])
    x._on_message(x, {"type": "audio", "id": 2, "track": track, "segment": k}, [])
    reply, buffers = x.sent[-1]
    start, end = view.segments[["start", "end"]].iloc[-1]
    assert reply["ok"] and reply["start"] == pytest.approx(start)
    assert reply["end"] == pytest.approx(min(end, start + 30.0))
    rate, samples = _wav(buffers[0])
    assert len(samples) / rate == pytest.approx(min(end - start, 30.0), abs=0.01)
    # the averages view of the same rows, then back to the models' own segments
    x.view = "averages"
    assert x.n_points == int((view.tracks["n_segments"] > 0).sum())
    x.view = "segments"
    x.time_scale = "native"
    assert x.n_points == len(emb.windows(SEG)) and x.scale_note and len(x.selection) == 0


# -- the projections in the background (issue 18) -----------------------------------------------


class _Gate:
    """``ee.project`` with the calls of some methods held at a gate until the test opens it;
    how each of those calls ended (``(method, "done" | "stopped" | "failed")``) is kept in
    ``ended``. The other methods pass straight through."""

    def __init__(self, methods, fail=None):
        from embedexplore import projection

        self.real = projection.project
        self.methods = methods
        self.fail = fail  # an exception to raise instead of projecting, at the gate
        self.open = threading.Event()
        self.entered = threading.Event()
        self.ended = []

    def __call__(self, *args, **kwargs):
        method = kwargs.get("method")
        if method not in self.methods:
            return self.real(*args, **kwargs)
        self.entered.set()
        assert self.open.wait(120), "the test never opened the gate"
        if self.fail is not None:
            self.ended.append((method, "failed"))
            raise self.fail
        try:
            out = self.real(*args, **kwargs)
        except CancelledError:
            self.ended.append((method, "stopped"))
            raise
        self.ended.append((method, "done"))
        return out


@pytest.fixture
def gate(monkeypatch):
    from embedexplore import projection

    def install(*methods, fail=None):
        g = _Gate(methods, fail)
        monkeypatch.setattr(projection, "project", g)
        return g

    yield install


def _xy(explorer, side):
    return decode_xy(getattr(explorer, f"{side}_xy"))


def test_the_explorer_returns_before_its_t_sne_and_the_pane_fills_in_later(explorer_parts, gate):
    collection, emb = explorer_parts
    n = len(emb.segments)
    g = gate("tsne")
    x = ee.Explorer(collection, emb, right={"projection": "pca"})  # left: t-SNE, by default
    statuses = []
    x.observe(lambda change: statuses.append((change.new, x.left_progress)), "left_status")
    assert g.entered.wait(60)  # the worker reached the t-SNE, which waits at the gate
    # the constructor returned meanwhile: the points, the PCA pane, the left pane computing
    assert x.n_points == n and not x.ready
    assert x.left_computing and x.left_xy == b"" and x.left_progress == 0.0
    assert x.left_status == f"t-SNE of {n:,} points: computing…"
    assert not x.right_computing and x.right_status == "" and _xy(x, "right").shape == (n, 2)
    # selections, from code and from the page, work while a pane computes
    x.selection = [5, 7]
    bits = np.unpackbits(np.frombuffer(x.selected, np.uint8), bitorder="little")
    assert np.flatnonzero(bits).tolist() == [5, 7]
    _select(x, [1, 2, 3])
    assert x.selection.tolist() == [1, 2, 3] and len(x.selected_tracks) >= 1
    with pytest.raises(TimeoutError, match="the left pane still computes after 0"):
        x.wait(timeout=0.1)
    g.open.set()
    assert x.wait(timeout=300) is x and x.ready
    assert g.ended == [("tsne", "done")]
    assert not x.left_computing and x.left_status == "" and x.left_progress == -1.0
    xy = _xy(x, "left")
    assert xy.shape == (n, 2) and abs(np.abs(xy).max() - 0.95) <= 1.6e-5
    # the same points as projecting directly (normalised: see test_traits_hold_...)
    _assert_same_up_to_scale(xy, ee.project(emb, "tsne", model="musicnn-msd"))
    # the pane said how far it was, in steps, before its points came
    shares = [p for text, p in statuses if text.endswith("%")]
    assert len(shares) > 10 and shares == sorted(shares) and shares[-1] == 1.0
    assert [text for text, _ in statuses if text.endswith("%")][-1].endswith("computing… 100%")
    assert statuses[-1] == ("", -1.0) and x.selection.tolist() == [1, 2, 3]


def test_pca_of_many_points_computes_in_the_background_too(explorer_parts, gate, monkeypatch):
    from embedexplore import _explorer_jobs

    collection, emb = explorer_parts
    n = len(emb.segments)
    monkeypatch.setattr(_explorer_jobs, "AT_ONCE", n - 1)  # as if the demo had a million points
    g = gate("pca")
    x = ee.Explorer(collection, emb, left={"projection": "pca"}, right={"projection": "tags"})
    assert g.entered.wait(60)
    # no share reported (the page counts the seconds); the tag axes were drawn at once
    assert x.left_computing and x.left_progress == -1.0 and x.left_xy == b""
    assert x.left_status == f"PCA of {n:,} points: computing…"
    assert not x.right_computing and _xy(x, "right").shape == (n, 2)
    g.open.set()
    x.wait(timeout=60)
    assert g.ended == [("pca", "done")] and x.left_status == ""
    direct = ee.project(emb, "pca", model="musicnn-msd")
    _assert_same_up_to_scale(_xy(x, "left"), direct)


def test_a_newer_choice_supersedes_the_projection_still_running(explorer_parts, gate):
    collection, emb = explorer_parts
    g = gate("tsne")
    x = ee.Explorer(collection, emb, right={"projection": "pca"})
    assert g.entered.wait(60) and x.left_computing
    # the page asks for PCA on the left while the t-SNE waits: drawn at once
    x.set_state({"left": {**x.left, "projection": "pca"}})
    pca = _xy(x, "left").copy()
    assert not x.left_computing and x.left_status == "" and pca.shape == (x.n_points, 2)
    assert x.left_title.endswith("PCA")
    g.open.set()  # the t-SNE goes on, late
    assert x.wait(timeout=300) is x
    deadline = time.monotonic() + 60
    while not g.ended and time.monotonic() < deadline:
        time.sleep(0.05)
    # stopped at its first progress report, and its points never drawn over the PCA's
    assert g.ended == [("tsne", "stopped")]
    np.testing.assert_array_equal(_xy(x, "left"), pca)
    assert not x.left_computing and x.left_status == ""


def test_a_menu_clicked_through_computes_only_the_last_choice(explorer_parts, gate):
    collection, emb = explorer_parts
    g = gate("tsne", "umap")
    x = ee.Explorer(collection, emb, left={"projection": "pca"}, right={"projection": "pca"})
    x.right = {"projection": "tsne"}
    assert g.entered.wait(60)
    for projection in ("umap", "tsne", "umap", "std-pca", "tsne"):  # while the first waits
        x.right = {"projection": projection}
        assert x.right_computing == (projection != "std-pca")
    assert x.right_status.endswith("waiting for the t-SNE it replaces to stop…")
    g.open.set()
    x.wait(timeout=300)
    assert g.ended == [("tsne", "stopped"), ("tsne", "done")]  # the first, stopped; the last
    assert x.right_title.endswith("t-SNE") and x.right_status == ""
    assert _xy(x, "right").shape == (x.n_points, 2)


def test_a_projection_that_fails_says_why_in_its_pane(explorer_parts, gate, caplog):
    collection, emb = explorer_parts
    g = gate("tsne", fail=ZeroDivisionError("a bug in the projection"))
    with caplog.at_level("WARNING", logger="embedexplore"):
        x = ee.Explorer(collection, emb, right={"projection": "pca"})
        g.open.set()
        x.wait(timeout=60)
    assert x.left_status == "cannot project: ZeroDivisionError: a bug in the projection"
    assert not x.left_computing and x.left_xy == b"" and x.ready
    assert "a bug in the projection" in caplog.text and "Traceback" in caplog.text
    # the next choice works again
    x.left = {"projection": "pca"}
    assert x.left_status == "" and _xy(x, "left").shape == (x.n_points, 2)


def test_closing_the_explorer_stops_its_projections(explorer_parts, gate):
    collection, emb = explorer_parts
    g = gate("tsne")
    x = ee.Explorer(collection, emb)
    assert g.entered.wait(60)
    x.close()
    assert x.ready and not x.left_computing and not x.right_computing
    g.open.set()
    x._projections.cancel(wait=60)  # the worker ends: the left t-SNE stopped, the right never ran
    assert g.ended == [("tsne", "stopped")] and x.left_xy == x.right_xy == b""


def test_a_t_sne_stops_when_its_progress_callback_says_so(explorer_parts, tmp_path):
    _, emb = explorer_parts
    calls = []

    def progress(done):
        calls.append(done)
        return len(calls) == 6  # openTSNE's fourth report

    with pytest.raises(CancelledError):
        ee.project(emb, "tsne", model="vgg-msd", progress=progress, cache=tmp_path)
    # two checks before openTSNE starts (before and after the PCA to 50 dimensions), then
    # every 10 of its 600 iterations: stopped after 40, not run to its end, and not cached
    assert calls == [0.0, 0.0, 10 / 600, 20 / 600, 30 / 600, 40 / 600]
    assert list(tmp_path.iterdir()) == []


_SCRIPT = """
import sys
import numpy as np
import embedexplore as ee

x = ee.Explorer(None, ee.open_store(sys.argv[1]), right={"projection": "pca"})
print("computing after the constructor:", x.left_computing, flush=True)
x.wait()
print("points:", len(x.left_xy) // 4, x.n_points)
"""


def test_in_a_script_each_background_projection_draws_a_progress_bar(demo_store, tmp_path):
    import os
    import subprocess
    import sys

    _, store = demo_store
    env = {**os.environ, "EMBEDEXPLORE_CACHE": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(store)], capture_output=True,
                         text=True, env=env, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    n = len(ee.open_store(store).segments)
    assert out.stdout.splitlines() == ["computing after the constructor: True", f"points: {n} {n}"]
    bars = out.stderr.replace("\r", "\n")
    assert "t-SNE of the left pane:   0%" in bars and "t-SNE of the left pane: 100%" in bars
    assert "right pane" not in bars  # PCA: computed at once, no bar


def test_a_pane_whose_drawing_fails_says_so_and_never_waits_for_no_one(explorer_parts, gate):
    # a bug between a new generation and its job (here: the projection's arguments) ends the
    # pane with the error; the t-SNE it superseded stops late, never drawn, and wait() returns
    collection, emb = explorer_parts
    g = gate("tsne")
    x = ee.Explorer(collection, emb, right={"projection": "pca"})
    assert g.entered.wait(60) and x.left_computing

    def broken(*_args, **_kwargs):
        raise KeyError("a bug")

    x._projection_args = broken
    with pytest.raises(KeyError, match="a bug"):
        x.left = {**x.left, "projection": "umap"}
    assert not x.left_computing and x.left_status.startswith("cannot project")
    g.open.set()
    assert x.wait(timeout=60) is x and x.left_xy == b""
    deadline = time.monotonic() + 60
    while not g.ended and time.monotonic() < deadline:
        time.sleep(0.05)
    assert g.ended == [("tsne", "stopped")] and x.left_xy == b""


def test_explorers_compute_their_projections_one_at_a_time(explorer_parts):
    # two Explorers (Run All twice) share the cores: one projection computes at a time in a
    # process, and a pane says it waits for another Explorer's
    from embedexplore import _explorer_jobs

    collection, emb = explorer_parts
    with _explorer_jobs._COMPUTING:  # as if another Explorer computed
        x = ee.Explorer(collection, emb, right={"projection": "pca"})
        deadline = time.monotonic() + 60
        while "another Explorer" not in x.left_status and time.monotonic() < deadline:
            time.sleep(0.05)
        assert x.left_status.endswith("waiting for another Explorer's projection…")
        time.sleep(0.5)
        assert x.left_computing and x.left_xy == b""
    assert x.wait(timeout=300) is x
    assert _xy(x, "left").shape == (x.n_points, 2) and x.left_status == ""
