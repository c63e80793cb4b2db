"""Extraction into a store, on short excerpts of real music (packets copied, not re-encoded)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import embedexplore
from audiofiles import excerpt
from embedexplore import audio, load_model
from embedexplore.cli import main
from embedexplore.extraction import DEFAULT_MODELS, extract
from embedexplore.store import Store, StoreError
from realmusic import real_music

pytestmark = pytest.mark.realmusic

TAGGRAM_ATOL = 1e-4  # the models issue's tolerances (tests/test_parity.py)
EMBEDDING_RTOL = 1e-4
ROOT = Path(__file__).resolve().parents[1]


def _relative(a, b):
    return np.linalg.norm(a - b, axis=1) / np.maximum(np.linalg.norm(b, axis=1), 1e-12)


@pytest.fixture(scope="module")
def real_folder(tmp_path_factory) -> Path:
    """19 real tracks (16 Vorbis, 3 MP3) cut to 2-13 s: 1 to 4 segments each."""
    folder = tmp_path_factory.mktemp("real")
    sources = [("freedroid", p) for p in sorted(real_music("freedroidrpg-data").glob("*.ogg"))]
    sources += [("asc", p) for p in sorted(real_music("asc-music").glob("*.mp3"))]
    for i, (sub, src) in enumerate(sources):
        excerpt(src, folder / sub / src.name, 2.5 + (i * 3.7) % 11)
    return folder


def _scan(folder):
    return embedexplore.scan(folder, cache=False, progress=False)


@pytest.fixture(scope="module")
def reference(real_folder, tmp_path_factory):
    """All four models, float32, one uninterrupted run."""
    store = tmp_path_factory.mktemp("reference") / "store"
    coll = _scan(real_folder)
    emb = extract(coll, store=store, dtype="float32", device="cpu", progress=False, shard_tracks=3)
    return coll, emb


def test_extraction_equals_embed_for_every_track(reference):
    coll, emb = reference
    assert len(emb.tracks) == len(coll) == 19 and emb.errors.empty
    assert emb.stats.extracted == 19 and emb.stats.failed == 0
    models = {m: load_model(m, device="cpu") for m in DEFAULT_MODELS}
    for tid, path in coll.tracks["path"].items():
        waveform = audio.load(path)
        rows = emb.rows(tid)
        seg = emb.track(tid)
        for name, model in models.items():
            ref = model.embed(waveform)
            taggrams = emb.array(name, "taggrams")[rows]
            embeddings = emb.array(name, "embeddings")[rows]
            assert taggrams.shape == ref["taggrams"].shape, (tid, name)
            assert np.abs(taggrams - ref["taggrams"]).max() <= TAGGRAM_ATOL, (tid, name)
            assert _relative(embeddings, ref["embeddings"]).max() <= EMBEDDING_RTOL, (tid, name)
        k = np.arange(len(seg))
        assert (seg["segment"].to_numpy() == k).all()
        np.testing.assert_array_equal(seg["start"].to_numpy(), k * 47872 / 16000)
        np.testing.assert_array_equal(seg["end"].to_numpy(), (k + 1) * 47872 / 16000)
    # segment counts follow the durations: floor(frames / 187), at least one
    n = emb.tracks["n_segments"].to_numpy()
    expected = np.maximum(1, (1 + np.floor(emb.tracks["duration"] * 16000 / 256)) // 187)
    np.testing.assert_array_equal(n, expected.astype(int))
    # compacted: one part per model, memory-mapped
    assert isinstance(emb.array("vgg-msd", "embeddings"), np.memmap)
    assert emb.array("vgg-msd", "embeddings").shape == (n.sum(), 256)
    assert emb.array("musicnn-mtt", "embeddings").shape == (n.sum(), 200)


def test_helpers_aggregate_select_and_join(reference):
    coll, emb = reference
    x = emb.array("musicnn-msd", "embeddings")
    agg = emb.per_track("musicnn-msd")
    assert list(agg.track_ids) == list(emb.tracks.index)
    for i, tid in enumerate(emb.tracks.index[:5]):
        block = np.asarray(x[emb.rows(tid)], np.float64)
        np.testing.assert_allclose(agg.mean[i], block.mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(agg.std[i], block.std(0), rtol=1e-4, atol=1e-5)
    joined = emb.join(coll, columns=["title", "artist", "duration"])
    assert len(joined) == len(emb.segments)
    assert (joined["title"].notna()).all()
    first = emb.tracks.index[0]
    assert (joined["title"].iloc[emb.rows(first)] == coll.tracks.loc[first, "title"]).all()
    reopened = embedexplore.open_store(emb.path)
    assert reopened.models == DEFAULT_MODELS
    np.testing.assert_array_equal(
        reopened.array("vgg-mtt", "taggrams"), emb.array("vgg-mtt", "taggrams")
    )
    with pytest.raises(KeyError, match="stored"):
        emb.array("vgg-msd", "pooled")
    with pytest.raises(StoreError, match="no rows of"):
        embedexplore.open_store(emb.path, models=["nope"])


def _kill_script(folder: Path, store: Path) -> str:
    return textwrap.dedent(
        f"""
        import embedexplore
        from embedexplore.extraction import extract
        if __name__ == "__main__":
            coll = embedexplore.scan({str(folder)!r}, cache=False, progress=False)
            extract(coll, store={str(store)!r}, dtype="float32", device="cpu", progress=False,
                    shard_tracks=3)
        """
    )


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _committed_parts(store: Path) -> int:
    try:
        m = json.loads((store / "manifest.json").read_text())
    except (OSError, ValueError):
        return 0
    return sum(len(e["parts"]) for e in m.get("models", {}).values())


def test_killed_run_resumes_to_identical_arrays(real_folder, reference, tmp_path):
    coll, ref = reference
    store = tmp_path / "store"
    script = tmp_path / "run.py"
    script.write_text(_kill_script(real_folder, store))
    proc = subprocess.Popen(
        [sys.executable, str(script)], env=os.environ | {"PYTHONPATH": str(ROOT / "src")}
    )
    try:
        deadline = time.time() + 300
        while _committed_parts(store) < 8 and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)  # two shards of all four models committed, the rest to do
        assert proc.poll() is None, "the run ended before it could be killed"
        workers = _children(proc.pid)
        assert workers, "no decoding process was running"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        # its decoding processes notice and exit: none is left behind
        deadline = time.time() + 20
        while any(Path(f"/proc/{w}").exists() for w in workers) and time.time() < deadline:
            time.sleep(0.2)
        assert not any(_alive(w) for w in workers), "decoding processes outlived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()
    # what a reader sees of the killed run: only committed tracks, none half-written
    partial = embedexplore.open_store(store)
    assert 0 < len(partial.tracks) < len(coll)
    for tid in partial.tracks.index:
        np.testing.assert_array_equal(
            partial.array("musicnn-msd", "taggrams")[partial.rows(tid)],
            ref.array("musicnn-msd", "taggrams")[ref.rows(tid)],
        )
    emb = extract(coll, store=store, dtype="float32", device="cpu", progress=False, shard_tracks=3)
    assert emb.stats.reused == len(partial.tracks)
    assert emb.stats.extracted == len(coll) - len(partial.tracks)
    assert emb.segments.equals(ref.segments)
    for m in DEFAULT_MODELS:
        for layer in ("taggrams", "embeddings"):
            np.testing.assert_array_equal(emb.array(m, layer), ref.array(m, layer))
    assert not (store / "tmp").exists() or not any((store / "tmp").iterdir())
    parts = [p for p in (store / "parts").glob("*/*")]
    assert len(parts) == len(DEFAULT_MODELS)  # compacted, the killed run's leftovers gone


def test_published_but_uncommitted_part_is_invisible_then_adopted(
    real_folder, reference, tmp_path, monkeypatch
):
    coll, ref = reference
    small = coll.filter(path="*/freedroid/*")
    store = tmp_path / "store"
    calls = {"n": 0}
    original = Store.commit

    def crash_on_third(self, manifest):
        calls["n"] += 1
        if calls["n"] == 3:  # 1: recovery; 2: first shard; 3: second shard -> "killed"
            raise KeyboardInterrupt
        original(self, manifest)

    monkeypatch.setattr(Store, "commit", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        extract(small, store=store, models="musicnn-msd", dtype="float32", device="cpu",
                progress=False, shard_tracks=3, workers=0)  # fmt: skip
    monkeypatch.setattr(Store, "commit", original)
    seen = embedexplore.open_store(store)
    assert len(seen.tracks) == 3  # the second shard's part is on disk but not committed
    on_disk = list((store / "parts" / "musicnn-msd").iterdir())
    assert len(on_disk) == 2
    emb = extract(small, store=store, models="musicnn-msd", dtype="float32", device="cpu",
                  progress=False, shard_tracks=3, workers=0)  # fmt: skip
    assert emb.stats.reused == 6  # the uncommitted part was checked and adopted
    for tid in emb.tracks.index:
        np.testing.assert_array_equal(
            emb.array("musicnn-msd", "embeddings")[emb.rows(tid)],
            ref.array("musicnn-msd", "embeddings")[ref.rows(tid)],
        )


def test_incremental_run_computes_only_what_changed(real_folder, tmp_path):
    folder = tmp_path / "music"
    files = sorted(real_folder.rglob("*.ogg"))[:6]
    for f in files[:5]:
        shutil.copy2(f, folder / f.name) if folder.exists() else (
            folder.mkdir(), shutil.copy2(f, folder / f.name))  # fmt: skip
    store = tmp_path / "store"
    opts = dict(store=store, models=["musicnn-msd", "vgg-mtt"], dtype="float32", device="cpu",
                progress=False)  # fmt: skip
    first = extract(_scan(folder), **opts)
    assert first.stats.extracted == 5
    before = {tid: first.array("vgg-mtt", "embeddings")[first.rows(tid)].copy()
              for tid in first.tracks.index}  # fmt: skip
    ids = {Path(p).name: tid for tid, p in first.tracks["path"].items()}

    again = extract(_scan(folder), **opts)
    assert again.stats.extracted == 0 and again.stats.reused == 5

    (folder / files[0].name).unlink()  # removed
    shutil.copy2(files[5], folder / files[5].name)  # added
    shutil.copy2(files[5], folder / files[1].name)  # changed: other music, same name
    coll = _scan(folder)
    with pytest.warns(UserWarning, match="1 of the 5 tracks in the store"):
        emb = extract(coll, **opts)
    assert emb.stats.extracted == 2 and emb.stats.reused == 3 and emb.stats.missing == 1
    assert ids[files[0].name] not in set(emb.segments["track_id"])
    assert len(emb.tracks) == 5
    kept = embedexplore.open_store(store)  # the removed file's rows kept until pruned
    assert kept.tracks.loc[ids[files[0].name], "missing"] and len(kept.tracks) == 6
    for name in (files[2].name, files[3].name, files[4].name):
        tid = ids[name]
        np.testing.assert_array_equal(
            emb.array("vgg-mtt", "embeddings")[emb.rows(tid)], before[tid]
        )
    changed = ids[files[1].name]
    ref = load_model("vgg-mtt", device="cpu").embed(audio.load(folder / files[1].name))
    got = emb.array("vgg-mtt", "embeddings")[emb.rows(changed)]
    assert got.shape == ref["embeddings"].shape
    assert _relative(got, ref["embeddings"]).max() <= EMBEDDING_RTOL
    assert len(list((store / "parts").glob("*/*"))) == 2  # compacted again, old parts deleted
    pruned = extract(coll, prune=True, **opts)
    assert pruned.stats.pruned == 1 and pruned.stats.extracted == 0
    assert len(embedexplore.open_store(store).tracks) == 5
    assert len(list((store / "parts").glob("*/*"))) == 2


def test_files_that_fail_go_to_errors_and_the_run_goes_on(real_folder, tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    files = sorted(real_folder.rglob("*.mp3"))
    for f in files:
        shutil.copy2(f, folder / f.name)
    coll = _scan(folder)
    (folder / files[0].name).unlink()  # vanished after the scan
    (folder / files[1].name).write_bytes(b"\x00garbage" * 999)  # damaged after the scan
    store = tmp_path / "store"
    emb = extract(coll, store=store, models="musicnn-mtt", device="cpu", progress=False)
    assert emb.stats.failed == 2 and emb.stats.extracted == 1
    assert len(emb.tracks) == 1
    reasons = dict(
        zip(emb.errors["path"].map(lambda p: Path(p).name), emb.errors["reason"], strict=True)
    )
    assert "not found" in reasons[files[0].name]
    assert "not a readable audio file" in reasons[files[1].name]
    # the same files again: not retried, errors kept
    again = extract(coll, store=store, models="musicnn-mtt", device="cpu", progress=False)
    assert again.stats.failed == 0 and again.stats.extracted == 0 and len(again.errors) == 2
    # asked to retry: tried again, failing again the same way
    retried = extract(coll, store=store, models="musicnn-mtt", device="cpu", progress=False,
                      retry_errors=True)  # fmt: skip
    assert retried.stats.failed == 2 and len(retried.errors) == 2
    # fixed and rescanned: retried and extracted
    for f in files[:2]:
        shutil.copy2(f, folder / f.name)
    fixed = extract(_scan(folder), store=store, models="musicnn-mtt", device="cpu",
                    progress=False)  # fmt: skip
    assert fixed.errors.empty and len(fixed.tracks) == 3


def test_changed_model_or_dtype_is_recomputed_and_float16_cost(real_folder, tmp_path, monkeypatch):
    coll = _scan(real_folder).filter(path="*/asc/*")
    store = tmp_path / "store"
    f32 = extract(coll, store=store, models="vgg-msd", dtype="float32", device="cpu",
                  progress=False)  # fmt: skip
    exact = {k: np.array(f32.array("vgg-msd", k)) for k in ("taggrams", "embeddings")}
    f16 = extract(coll, store=store, models="vgg-msd", device="cpu", progress=False)
    assert f16.stats.extracted == 3  # float16 asked for: recomputed, not mixed in
    for k, x in exact.items():
        y = f16.array("vgg-msd", k)
        assert y.dtype == np.float16
        # the cost of float16 storage: at most half a unit in the last place, 2**-11 relative
        err = np.abs(y.astype(np.float32) - x)
        assert (err <= np.abs(x) * 2.0**-11 + 2.0**-25).all(), k
    kept = np.array(f16.array("vgg-msd", "taggrams"))
    # new weights (a later release of the model): the old rows are dropped, not mixed in
    from embedexplore.registry import ModelSpec

    real = ModelSpec.store_version
    monkeypatch.setattr(ModelSpec, "store_version", lambda s, p: "retrained-" + real(s, p))
    redo = extract(coll, store=store, models="vgg-msd", device="cpu", progress=False)
    assert redo.stats.extracted == 3
    np.testing.assert_array_equal(redo.array("vgg-msd", "taggrams"), kept)
    with pytest.raises(StoreError, match="open it again"):
        f16.array("vgg-msd", "embeddings")  # read before the store changed under it
    assert len(list((store / "parts" / "vgg-msd").iterdir())) == 1


def test_one_writer_at_a_time(real_folder, tmp_path):
    coll = _scan(real_folder).filter(path="*/asc/*")
    st = Store(tmp_path / "store", create=True)
    with st.lock(), pytest.raises(StoreError, match="another process is extracting"):
        extract(coll, store=st.path, models="vgg-msd", device="cpu", progress=False)


def test_store_refuses_a_folder_of_other_files(tmp_path):
    (tmp_path / "music.mp3").write_bytes(b"x")
    with pytest.raises(StoreError, match="holds other files"):
        Store(tmp_path, create=True)


def test_a_folder_without_readable_audio_is_one_clear_error(real_folder, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    coll = _scan(empty)
    with pytest.raises(ValueError) as e:
        extract(coll, store=tmp_path / "s", models="vgg-msd", device="cpu", progress=False)
    assert str(e.value) == (
        f"No readable audio in {coll.roots[0]}: 0 tracks, 0 files with errors (see "
        "collection.errors)."
    )
    assert not (tmp_path / "s").exists()  # refused before the store is made
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "a.mp3").write_bytes(b"\x00garbage" * 999)
    (damaged / "b.flac").write_bytes(b"")
    (damaged / "c.ogg").write_text("not audio")
    coll = _scan(damaged)
    assert len(coll.errors) == 3
    with pytest.raises(ValueError) as e:
        extract(coll, store=tmp_path / "s", models="vgg-msd", device="cpu", progress=False)
    assert str(e.value) == (
        f"No readable audio in {coll.roots[0]}: 0 tracks, 3 files with errors (see "
        "collection.errors)."
    )
    # a folder given as such is scanned first, with the same result
    with pytest.raises(ValueError, match=r"^No readable audio in .*damaged: 0 tracks, 3 files"):
        extract(damaged, store=tmp_path / "s", models="vgg-msd", device="cpu", progress=False)
    # tracks found, but a filter left none
    nobody = _scan(real_folder).filter(artist="nobody at all")
    with pytest.raises(ValueError, match=r"^No track in this collection: the scan of .* found 19"):
        extract(nobody, store=tmp_path / "s", models="vgg-msd", device="cpu", progress=False)
    assert not (tmp_path / "s").exists()


def test_cuda_asked_without_a_gpu_is_an_error_and_auto_runs_on_cpu(real_folder, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    coll = _scan(real_folder).filter(path="*/asc/*")
    with pytest.raises(ValueError, match=r"^device='cuda' was asked for, but torch sees no CUDA"):
        extract(coll, store=tmp_path / "s", models="musicnn-msd", device="cuda", progress=False)
    assert not (tmp_path / "s").exists()  # refused before the store is made
    emb = extract(coll, store=tmp_path / "s", models="musicnn-msd", device="auto",
                  progress=False, workers=0)  # fmt: skip
    assert emb.stats.device == "cpu" and len(emb.tracks) == 3


def test_cli_extract(real_folder, tmp_path, capsys):
    folder = real_folder / "asc"
    rc = main(["extract", str(folder), "--store", str(tmp_path / "s"), "--models", "vgg-mtt",
               "--device", "cpu", "-q", "--no-cache"])  # fmt: skip
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "3 extracted" in out.out and "segments of 3 tracks" in out.out
    rc = main(["extract", str(folder), "--store", str(tmp_path / "s"), "--models", "nope", "-q"])
    assert rc == 1 and "unknown model" in capsys.readouterr().err


def test_script_without_main_guard_falls_back_to_threads(real_folder, tmp_path):
    script = tmp_path / "noguard.py"
    script.write_text(
        "import embedexplore\n"
        f"coll = embedexplore.scan({str(real_folder / 'asc')!r}, cache=False, progress=False)\n"
        f"emb = embedexplore.extract(coll, store={str(tmp_path / 's')!r}, models='vgg-msd', "
        "device='cpu', progress=False, workers=1)\n"
        "print('tracks', len(emb.tracks))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300,
        env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "tracks 3" in done.stdout
    assert "__main__" in done.stderr  # the warning says what to change


@pytest.mark.parametrize("consumer_pause", [0.0, 0.3])
def test_a_decoder_crash_fails_only_its_file(consumer_pause):
    import crashy
    from embedexplore._prefetch import Decoder

    paths = ["slow0", "a1", "crash2", "a33", "a444", "crash5", "a666666", "a7"]
    with Decoder(2, fn=crashy.decode) as decoder:
        results = []
        for r in decoder.map(paths):
            results.append(r)
            time.sleep(consumer_pause)  # a slow consumer: the pool breaks between results
    assert len(results) == len(paths)
    for path, (status, value) in zip(paths, results, strict=True):
        if path.startswith("crash"):
            assert status == "error" and "crashed" in value, path
        else:
            assert status == "ok" and value[0] == len(path), path  # in order, the right file


def _two_of_three(real_folder: Path, tmp_path: Path) -> tuple[Path, list[Path]]:
    """A folder with two of the three MP3 excerpts (the third is added later by the test)."""
    folder = tmp_path / "music"
    folder.mkdir()
    files = sorted((real_folder / "asc").glob("*.mp3"))
    for f in files[:2]:
        shutil.copy2(f, folder / f.name)
    return folder, files


def test_fewer_layers_asked_than_stored_keeps_them_all(real_folder, tmp_path):
    folder, files = _two_of_three(real_folder, tmp_path)
    store = tmp_path / "store"
    opts = dict(store=store, models="musicnn-msd", device="cpu", progress=False)
    extract(_scan(folder), layers="all", **opts)
    shutil.copy2(files[2], folder / files[2].name)
    emb = extract(_scan(folder), **opts)  # default layers: a subset of what the store keeps
    assert emb.stats.extracted == 1 and len(emb.tracks) == 3
    assert set(emb.layers("musicnn-msd")) == {"pooled", "embeddings", "penultimate", "taggrams"}
    assert emb.array("musicnn-msd", "pooled").shape == (emb.tracks["n_segments"].sum(), 1506)


def test_adding_a_model_runs_only_that_model_on_old_tracks(real_folder, tmp_path, monkeypatch):
    from embedexplore.models import Tagger

    folder, files = _two_of_three(real_folder, tmp_path)
    store = tmp_path / "store"
    extract(_scan(folder), store=store, models="vgg-msd", device="cpu", progress=False)
    shutil.copy2(files[2], folder / files[2].name)
    seen: dict[str, int] = {}
    forward = Tagger.forward

    def counting(self, patches):
        seen[self.name] = seen.get(self.name, 0) + len(patches)
        return forward(self, patches)

    monkeypatch.setattr(Tagger, "forward", counting)
    emb = extract(_scan(folder), store=store, models=["vgg-msd", "vgg-mtt"], device="cpu",
                  progress=False)  # fmt: skip
    new = emb.tracks.loc[emb.tracks["path"].str.endswith(files[2].name), "n_segments"].sum()
    assert seen["vgg-msd"] == new  # the new track only
    assert seen["vgg-mtt"] == emb.tracks["n_segments"].sum()  # every track
    assert emb.stats.extracted == 3 and emb.stats.reused == 0


def test_a_crash_while_the_model_changes_leaves_a_usable_store(real_folder, tmp_path, monkeypatch):
    coll = _scan(real_folder).filter(path="*/asc/*")
    store = tmp_path / "store"
    first = extract(coll, store=store, models="vgg-msd", dtype="float32", device="cpu",
                    progress=False)  # fmt: skip
    kept = np.array(first.array("vgg-msd", "taggrams"))
    calls = {"n": 0}
    original = Store.commit

    def crash_on_second(self, manifest):
        calls["n"] += 1
        if calls["n"] == 2:  # 1: recovery, with the float32 parts dropped; 2: first shard
            raise KeyboardInterrupt
        original(self, manifest)

    monkeypatch.setattr(Store, "commit", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        extract(coll, store=store, models="vgg-msd", device="cpu", progress=False, workers=0)
    monkeypatch.setattr(Store, "commit", original)
    embedexplore.open_store(store)  # readable, if empty
    again = extract(coll, store=store, models="vgg-msd", dtype="float32", device="cpu",
                    progress=False)  # fmt: skip
    assert again.stats.extracted == 3
    np.testing.assert_allclose(again.array("vgg-msd", "taggrams"), kept, atol=1e-6)
