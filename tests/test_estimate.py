"""estimate_extraction(): what a store lacks, per model, and how long extracting it would take,
on a tiny collection written here and extracted for real."""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest
import torch

import embedexplore as ee
from audiofiles import write
from embedexplore import estimate
from embedexplore.store import StoreError
from tinymodel import TINY, tiny_model

MODELS = ["tiny", "vgg-msd"]
SECONDS = [7.0, 11.0, 13.0]  # 31 s of audio: "1 min of audio"


@pytest.fixture
def tiny():
    ee.register_model("tiny", tiny_model(), **TINY)
    yield
    ee.registry.unregister("tiny")


@pytest.fixture
def music(tmp_path, rng):
    folder = tmp_path / "music"
    for i, seconds in enumerate(SECONDS):
        x = 0.3 * rng.standard_normal(int(seconds * 22050)).astype(np.float32)
        write(folder / f"track{i}.wav", x[None], rate=22050)
    return folder


def _scan(folder):
    return ee.scan(folder, cache=False, progress=False)


def _extract(coll, store, models):
    return ee.extract(coll, store=store, models=models, device="cpu", progress=False)


def _files(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_an_empty_store_lacks_every_track_of_every_model(music, tmp_path, tiny):
    coll = _scan(music)
    store = tmp_path / "store"
    est = ee.estimate_extraction(coll, store=store, models=MODELS, device="cpu")
    assert not store.exists()  # read only
    assert list(est.missing.index) == MODELS and est.missing.index.name == "model"
    assert list(est.missing["tracks"]) == [3, 3] and est.missing["tracks"].dtype == np.int64
    hours = coll.tracks["duration"].sum() / 3600
    np.testing.assert_allclose(est.missing["hours"], [hours, hours])
    np.testing.assert_allclose(est.missing["seconds"], hours * 3600 / est.missing["realtime"])
    assert (est.missing["seconds"] > 0).all() and est.seconds > est.missing["seconds"].sum()
    assert est.device == "cpu" and est.tracks == 3 and est.hours == pytest.approx(hours)
    assert re.fullmatch(
        r"The store lacks tiny and vgg-msd for 3 tracks \(1 min of audio\): about \d+ s on "
        r"this CPU\.",
        str(est),
    ), str(est)
    # an empty folder as the store is a new store too
    (tmp_path / "new").mkdir()
    again = ee.estimate_extraction(music, store=tmp_path / "new", models=MODELS, device="cpu")
    assert list(again.missing["tracks"]) == [3, 3]


def test_what_was_extracted_is_not_missing(music, tmp_path, tiny, monkeypatch):
    coll = _scan(music)
    store = tmp_path / "store"
    _extract(coll, store, ["tiny"])
    before = _files(store)
    est = ee.estimate_extraction(coll, store=store, models=MODELS, device="cpu")
    assert _files(store) == before  # nothing written, not even a lock
    assert est.missing.loc["tiny", "tracks"] == 0 and est.missing.loc["tiny", "seconds"] == 0
    assert np.isnan(est.missing.loc["tiny", "realtime"])  # lacks nothing: not timed
    assert est.missing.loc["vgg-msd", "tracks"] == 3
    assert est.missing.loc["vgg-msd", "hours"] == pytest.approx(sum(SECONDS) / 3600, rel=1e-3)
    assert re.fullmatch(
        r"The store lacks vgg-msd for 3 tracks \(1 min of audio\): about \d+ s on this CPU\.",
        str(est),
    ), str(est)

    # a changed file and a new one: both models lack those, vgg-msd the others too
    write(music / "track0.wav", seconds=3.0, rate=22050)
    write(music / "track9.wav", seconds=4.0, rate=22050)
    est = ee.estimate_extraction(_scan(music), store=store, models=MODELS, device="cpu")
    assert list(est.missing["tracks"]) == [2, 4] and est.tracks == 4
    assert est.missing.loc["tiny", "hours"] == pytest.approx(7 / 3600, rel=1e-3)
    assert str(est).startswith("The store lacks tiny for 2 and vgg-msd for 4 tracks (1 min of ")

    # everything extracted: nothing to do, and no model is built to be timed
    _extract(_scan(music), store, MODELS)
    monkeypatch.setattr(estimate, "build", lambda *a, **k: pytest.fail("a model was timed"))
    done = ee.estimate_extraction(_scan(music), store=store, models=MODELS, device="cpu")
    assert done.seconds == 0 and list(done.missing["tracks"]) == [0, 0]
    assert str(done) == "The store holds every model asked for: nothing to extract."


def test_the_seconds_follow_the_measured_speeds(music, tmp_path, tiny, monkeypatch):
    """Known speeds in, known seconds out: each model's hours at its speed; on the CPU, the
    taggers' log-mel (once per track) and decoding added."""
    version = ee.registry.get("vgg-msd").store_version("float32")
    speeds = {
        ("tiny", "cpu", ee.registry.get("tiny").store_version("float32")): 0.001,
        ("vgg-msd", "cpu", version): 0.02,
        ("log-mel", "cpu"): 0.005,
    }
    monkeypatch.setattr(estimate, "_SPEEDS", speeds)
    monkeypatch.setattr(estimate, "build", lambda *a, **k: pytest.fail("not cached"))
    coll = _scan(music)
    audio = float(coll.tracks["duration"].sum())
    est = ee.estimate_extraction(coll, store=tmp_path / "s", models=MODELS, device="cpu")
    np.testing.assert_allclose(est.missing["seconds"], [audio * 0.001, audio * 0.02])
    np.testing.assert_allclose(est.missing["realtime"], [1000, 50])
    decoding = audio / estimate.DECODE_REALTIME + audio * 0.005
    assert est.decoding_seconds == pytest.approx(decoding)
    assert est.seconds == pytest.approx(audio * 0.021 + decoding)


def test_speeds_are_measured_once_per_model_and_device(music, tmp_path, tiny, monkeypatch):
    built = []
    real = estimate.build
    monkeypatch.setattr(estimate, "build", lambda s, *a: built.append(s.name) or real(s, *a))
    monkeypatch.setattr(estimate, "_SPEEDS", {})
    coll = _scan(music)
    first = ee.estimate_extraction(coll, store=tmp_path / "s", models=MODELS, device="cpu")
    assert sorted(built) == MODELS  # the log-mel frontend timed with vgg-msd as built
    second = ee.estimate_extraction(coll, store=tmp_path / "s", models=MODELS, device="cpu")
    assert sorted(built) == MODELS and second.seconds == first.seconds


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0.2, "about 1 s"),
        (40, "about 40 s"),
        (240, "about 4 min"),
        (3599, "about 1 h"),
        (3 * 3600 + 50 * 60 + 70, "about 3 h 50 min"),
        (27.4 * 3600, "about 27 h"),
    ],
)
def test_durations_read_as_a_person_says_them(seconds, words):
    assert estimate._human(seconds) == words


def test_a_folder_without_audio_and_bad_arguments(tmp_path, music, tiny):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"^No readable audio in .*empty: 0 tracks, 0 files"):
        ee.estimate_extraction(empty, store=tmp_path / "s", models=MODELS)
    coll = _scan(music)
    with pytest.raises(ValueError, match="unknown model"):
        ee.estimate_extraction(coll, store=tmp_path / "s", models=["nope"])
    with pytest.raises(ValueError, match="twice"):
        ee.estimate_extraction(coll, store=tmp_path / "s", models=["tiny", "tiny"])
    with pytest.raises(ValueError, match="unknown device"):
        ee.estimate_extraction(coll, store=tmp_path / "s", models="tiny", device="gpu9")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("not a store")
    with pytest.raises(StoreError, match="not an embedexplore store"):
        ee.estimate_extraction(coll, store=other, models="tiny", device="cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")
def test_cuda_asked_without_a_gpu_is_an_error_as_for_extract(music, tmp_path, tiny):
    with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
        ee.estimate_extraction(music, store=tmp_path / "s", models="tiny", device="cuda:0")
    est = ee.estimate_extraction(music, store=tmp_path / "s", models="tiny", device="auto")
    assert est.device == "cpu" and str(est).endswith("on this CPU.")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_on_a_gpu_the_taggers_are_timed_there(music, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = ee.estimate_extraction(music, store=tmp_path / "s", models="vgg-msd")
    assert est.device.startswith("cuda") and "on this GPU (" in str(est)
    # the GPU's decoding processes, one per core but one, keep up with it: the slower of the two
    decoders = max(1, (os.cpu_count() or 2) - 1)
    decoding = est.hours * 3600 / estimate.DECODE_REALTIME / decoders
    assert est.seconds == pytest.approx(
        max(est.missing["seconds"].sum() + est.decoding_seconds - decoding, decoding)
    )
