"""Players for notebooks: the exact audio of segments (decoded back and compared), tables of
players, the taggram table, and progress bars that leave their last line in a saved notebook."""

from __future__ import annotations

import base64
import io
import re

import av
import numpy as np
import pytest

import embedexplore as ee
from embedexplore import audio, listen


def _decode(data: bytes) -> tuple[np.ndarray, int]:
    with av.open(io.BytesIO(data)) as c:
        s = c.streams.audio[0]
        assert s.codec_context.name in ("mp3", "mp3float") and s.channels == 1
        frames = [f.to_ndarray()[0] for f in c.decode(s)]
        return np.concatenate(frames), s.rate


def test_segment_is_the_segment_the_models_saw(demo_store):
    emb = ee.open_store(demo_store[1])
    row = int(emb.tracks["first_row"].iloc[3]) + 2  # the third segment of a track
    seg = emb.segments.iloc[row]
    clip = listen.segment(emb, row)
    assert clip.seconds == pytest.approx(2.992, abs=1 / listen.RATE)
    assert len(clip.data) < 25_000  # small enough to live in a notebook
    x, rate = _decode(clip.data)
    assert rate == listen.RATE
    # MP3 adds the encoder's delay and padding (< 2 frames of 1152 samples) around the clip
    assert 0 <= len(x) - round(2.992 * rate) < 2 * 1152 + 1152
    path = str(emb.tracks.at[seg["track_id"], "path"])
    ref = audio.load(path, sample_rate=rate, start=float(seg["start"]), duration=2.992)
    # align by cross-correlation (the encoder delay), then the lossy copy must follow the original
    lag = int(np.argmax(np.correlate(x[:4096], ref[:2048], mode="valid")))
    y = x[lag : lag + len(ref)]
    mid = slice(rate // 10, len(ref) - rate // 10)  # away from the fades
    corr = np.corrcoef(y[mid], ref[mid])[0, 1]
    assert corr > 0.95, corr
    assert clip.label.endswith(" 0:05.984-0:08.976")  # the file's name, then the span
    html = clip._repr_html_()
    assert html.count("<audio") == 1 and "data:audio/mpeg;base64," in html


def test_segment_rejects_rows_out_of_range(demo_store):
    emb = ee.open_store(demo_store[1])
    with pytest.raises(IndexError, match="outside the 423 segments"):
        listen.segment(emb, len(emb.segments))


def test_clip_checks_its_duration_and_labels_the_span(demo_store):
    folder, _ = demo_store
    path = sorted(folder.rglob("*.flac"))[0]
    with pytest.raises(ValueError, match="duration"):
        listen.clip(path, 0.0, 31.0)
    c = listen.clip(path, 1.5, 4.0)
    assert c.label == f"{path.name} 0:01.500-0:05.500"
    assert c.seconds == pytest.approx(4.0, abs=1 / listen.RATE)


def test_players_for_segments_and_for_tracks(demo_store):
    folder, store = demo_store
    emb = ee.open_store(store)
    collection = ee.scan(folder, progress=False)
    rows = emb.segments.iloc[[0, 50, 100]].copy()
    rows["artist"] = ["a <b>", np.nan, "d"]
    html = listen.players(rows, emb).data
    assert html.count("<audio") == 3 and "a &lt;b&gt;" in html and "<b>" not in html
    visible = re.sub(r'base64,[^"]+', "", html)
    assert "<td></td>" in visible and "nan" not in visible  # a missing artist shows as nothing
    # a segment's player holds the same bytes as listen.segment gives
    first = re.search(r'base64,([^"]+)"', html).group(1)
    assert base64.b64decode(first) == listen.segment(emb, 0).data
    tracks = ee.playlist.radio(emb, "musicnn-msd", emb.tracks.index[0], n=4, collection=collection)
    html = listen.players(tracks, max_rows=3).data
    assert html.count("<audio") == 3 and "1 more rows not shown" in html
    with pytest.raises(ValueError, match="segment rows"):
        listen.players(rows.drop(columns=["artist"]).reset_index(drop=True))


def test_taggram_table(demo_store):
    emb = ee.open_store(demo_store[1])
    tid = emb.tracks.index[2]
    t = emb.taggram("musicnn-msd", tid)
    assert t.shape == (emb.tracks.at[tid, "n_segments"], 50)
    assert list(t.index) == list(range(*emb.rows(tid).indices(len(emb.segments))))
    assert t.columns[0] == "rock" and t.dtypes.eq(np.float32).all()
    np.testing.assert_array_equal(t.to_numpy(), emb.array("musicnn-msd", "taggrams")[emb.rows(tid)])
    assert emb.taggram("vgg-msd").shape == (len(emb.segments), 50)
    with pytest.raises(KeyError, match="no track"):
        emb.taggram("vgg-msd", "nope")
    with pytest.raises(KeyError, match="no taggrams"):
        emb.taggram("vgg-mtt")


def test_default_store_is_per_folder_and_outside_it(tmp_path):
    a, b = tmp_path / "x" / "Music", tmp_path / "y" / "Music"
    sa, sb = ee.default_store(a), ee.default_store(b)
    assert sa != sb and sa.name.startswith("Music-") and sa == ee.default_store(str(a))
    assert a not in sa.parents and sa.parent.name == "stores"


def test_notebook_progress_bar_leaves_its_last_line(monkeypatch):
    """In a notebook the bar's output is replaced by its final text when it closes (a saved
    notebook would otherwise keep the widget's first state, "0%")."""
    pytest.importorskip("ipywidgets")
    from tqdm import notebook

    from embedexplore import _progress

    shown, updated = [], []

    class Handle:
        def update(self, obj, raw=False):
            updated.append((obj, raw))

    monkeypatch.setattr(
        "IPython.display.display", lambda obj, display_id=False: shown.append(obj) or Handle()
    )
    monkeypatch.setattr("tqdm.auto.tqdm", type("T", (notebook.tqdm,), {}))
    bar = _progress.progress_bar(total=3, desc="scanning", unit="file")
    assert isinstance(bar, _progress._NotebookBar) and len(shown) == 1
    bar.update(3)
    bar.close()
    bar.close()  # a second close changes nothing
    assert len(updated) == 1
    text = updated[0][0]["text/plain"]
    assert updated[0][1] and text.startswith("scanning: 100% 3/3")
    # outside a notebook: plain tqdm, nothing displayed
    monkeypatch.undo()
    plain = _progress.progress_bar(total=1, desc="x", unit="y", disable=True)
    assert not isinstance(plain, _progress._NotebookBar)
