"""Any model, any time scale: the registry, users' own models through the whole pipeline, each
model's clock in the store, windows, and stores written before clocks were recorded."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import embedexplore as ee
from embedexplore import registry
from embedexplore.clock import ORIGINAL, Clock
from embedexplore.models.runner import ModelError
from embedexplore.widget import decode_xy

DATA = Path(__file__).parent / "data"
SECONDS = (3.5, 10.2, 0.4, 31.0)  # a short track, one under a segment, one over 30 s


class Energy(torch.nn.Module):
    """A tiny model: the energy of each eighth of a 1 s segment at 22,050 Hz, and a fixed linear
    map of it (4-d)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(8, 4)

    def forward(self, x):
        e = x[:, : 8 * (x.shape[1] // 8)].reshape(len(x), 8, -1).pow(2).mean(-1)
        return {"embeddings": self.lin(e), "energy": e.sum(1, keepdim=True)}


def rms(x):
    """A numpy model: the RMS and the peak of each half second at 8 kHz."""
    return {"embeddings": np.stack([np.sqrt((x**2).mean(1)), np.abs(x).max(1)], axis=1)}


def write_music(folder: Path) -> Path:
    """Real audio files written here: tones and noise at 44.1 kHz, of the lengths above."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    for i, seconds in enumerate(SECONDS):
        t = np.arange(int(seconds * 44100)) / 44100
        x = 0.3 * np.sin(2 * np.pi * (220 * (i + 1)) * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.3 * t))
        x += 0.05 * rng.standard_normal(t.size)
        sf.write(folder / f"{i} track.wav", x.astype(np.float32), 44100, subtype="PCM_16")
    return folder


@pytest.fixture
def registered():
    """The two models registered for one test, and removed after it."""
    registry.register_model(
        "energy", Energy(), sample_rate=22050, segment_seconds=1.0,
        layers={"embeddings": 4, "energy": 1}, version="1",
    )  # fmt: skip
    registry.register_model(
        "rms", rms, sample_rate=8000, segment_seconds=0.5, layers={"embeddings": 2}, version="1"
    )
    yield
    for name in ("energy", "rms"):
        if registry.find(name) is not None:
            registry.unregister(name)


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    return write_music(tmp_path_factory.mktemp("music"))


def _extract(music, store, models, **kw):
    kw.setdefault("dtype", "float32")
    return ee.extract(music, store=store, models=models, device="cpu", progress=False, **kw)


def _tree(folder: Path) -> dict[str, str]:
    """Every file of a folder and a checksum of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


# -- the registry ----------------------------------------------------------------------------------


def test_listing_models_labels_and_layers_imports_no_torch():
    code = textwrap.dedent(
        """
        import sys
        import embedexplore
        from embedexplore import registry
        table = embedexplore.models.available()
        assert "musicnn-msd" in table.index and "mfcc-stats" in table.index, table
        assert registry.labels("musicnn-mtt")[:2] == ("guitar", "classical")
        assert registry.get("vgg-msd").layers["embeddings"] == 256
        assert registry.get("vggish").clock.hop_seconds == 0.96
        loaded = [m for m in ("torch", "nnAudio") if m in sys.modules]
        assert not loaded, loaded
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def _module(x):
    return {"embeddings": x[:, :2]}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": "musicnn-msd"}, ValueError, "'musicnn-msd' is already registered \\(built into"),
        ({"name": "bad name!"}, ValueError, "a model's name may hold"),
        ({"sample_rate": 0}, ValueError, "model 'mine': sample_rate must be a positive whole"),
        ({"sample_rate": 22050.5}, ValueError, "sample_rate must be a positive whole"),
        ({"segment_seconds": 0}, ValueError, "segment_seconds must be a positive number"),
        ({"segment_seconds": 1e-5}, ValueError, "0.2205 samples at 22050 Hz"),
        ({"hop_seconds": float("nan")}, ValueError, "hop_seconds must be a positive number"),
        ({"layers": {}}, ValueError, "layers must map each layer's name"),
        ({"layers": {"embeddings": 0}}, ValueError, "layer 'embeddings' must have a positive"),
        ({"layers": {"../x": 2}}, ValueError, "layer name '../x' is not a plain name"),
        ({"labels": ["a", "b"]}, ValueError, "2 labels name the columns of a 'taggrams' layer"),
        ({"version": ""}, ValueError, "version must be a non-empty string"),
        ({"model": "not a model"}, TypeError, "model must be a torch.nn.Module or a callable"),
    ],
)
def test_bad_registrations_say_what_is_wrong(kwargs, error, match):
    args = {
        "name": "mine", "model": _module, "sample_rate": 22050, "segment_seconds": 1.0,
        "layers": {"embeddings": 2}, "version": "1",
    } | kwargs  # fmt: skip
    before = registry.names()
    with pytest.raises(error, match=match):
        registry.register_model(args.pop("name"), args.pop("model"), **args)
    assert registry.names() == before


def test_a_name_taken_by_the_user_needs_replace(registered):
    with pytest.raises(ValueError, match="pass replace=True"):
        registry.register_model(
            "rms", rms, sample_rate=8000, segment_seconds=0.5, layers={"embeddings": 2}, version="2"
        )
    spec = registry.register_model(
        "rms", rms, sample_rate=8000, segment_seconds=0.5, layers={"embeddings": 2}, version="2",
        replace=True,
    )  # fmt: skip
    assert registry.get("rms") is spec and spec.version == "2"
    with pytest.raises(ValueError, match="built into embedexplore and cannot be removed"):
        registry.unregister("vgg-msd")


def test_clocks_are_exact():
    c = Clock.from_seconds(22050, 1.0)
    start, end = c.times(100_000)
    assert (start == np.arange(100_000)).all() and (end == np.arange(1, 100_001)).all()
    s, e = ORIGINAL.times(3)
    assert list(s) == [0.0, 2.992, 5.984] and list(e) == [2.992, 5.984, 8.976]
    assert ORIGINAL.segment == 187 * 256 and ORIGINAL.sample_rate == 16000
    assert Clock.from_seconds(16000, 0.975, 0.96) == Clock(16000, 15600, 15360)
    assert [c.count(n) for n in (0, 1, 22049, 22050, 44099, 44100)] == [0, 1, 1, 1, 1, 2]


def test_entry_point_plugins_appear_in_the_registry_and_the_command_line(tmp_path):
    """A pip-installed package exposes models through the entry-point group
    ``embedexplore.models``: they appear with no code. (Here the package is a folder on
    sys.path with its dist-info, as pip leaves it.)"""
    site = tmp_path / "site"
    (site / "myplugin-0.1.dist-info").mkdir(parents=True)
    (site / "myplugin-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: myplugin\nVersion: 0.1\n"
    )
    (site / "myplugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[embedexplore.models]\nzero = myplugin:register\nbroken = myplugin:missing\n"
    )
    (site / "myplugin.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            import embedexplore

            def zero(x):
                return {"embeddings": np.zeros((len(x), 3), np.float32)}

            def register():
                embedexplore.register_model("plugin-zero", zero, sample_rate=16000,
                                            segment_seconds=2.0, layers={"embeddings": 3},
                                            version="0.1", source="myplugin")
            """
        )
    )
    code = textwrap.dedent(
        f"""
        import sys, warnings
        sys.path.insert(0, {str(site)!r})
        from embedexplore import registry
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            names = registry.names()
        assert "plugin-zero" in names, names
        assert any("'broken'" in str(x.message) for x in w), [str(x.message) for x in w]
        assert registry.get("plugin-zero").clock.segment == 32000
        from embedexplore import cli
        cli.main(["extract", "--help"])
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "plugin-zero" in out.stdout  # the choices in the command line's help


# -- users' models through the pipeline ----------------------------------------------------------


@pytest.mark.slow
def test_registered_models_go_through_the_pipeline_at_their_own_clocks(registered, music, tmp_path):
    store = tmp_path / "store"
    emb = _extract(music, store, ["energy", "rms", "vgg-msd"], layers="all")
    assert emb.stats.extracted == len(SECONDS)
    # each model's own segments: 1 s at 22,050 Hz start at exactly k seconds
    seg = emb.segments_of("energy")
    assert (seg["start"].to_numpy() == seg["segment"].to_numpy()).all()
    assert (seg["end"].to_numpy() == seg["segment"].to_numpy() + 1).all()
    half = emb.segments_of("rms")
    assert (half["start"].to_numpy() == half["segment"].to_numpy() * 0.5).all()
    assert emb.clock("energy") == Clock(22050, 22050, 22050)
    with pytest.raises(ValueError, match=r"different clocks .* windows"):
        emb.segments  # noqa: B018
    for tid, path in zip(emb.tracks.index, emb.tracks["path"], strict=True):
        for name, model in (("energy", Energy()), ("rms", rms)):
            spec = registry.get(name)
            x = ee.audio.load(path, sample_rate=spec.clock.sample_rate)
            if len(x) < spec.clock.segment:  # repeated to fill one segment
                x = np.tile(x, -(-spec.clock.segment // len(x)))[: spec.clock.segment]
            n = spec.clock.count(len(x))
            hop, size = spec.clock.hop, spec.clock.segment
            segs = np.stack([x[k * hop : k * hop + size] for k in range(n)])
            with torch.inference_mode():
                out = model(torch.from_numpy(segs) if name == "energy" else segs)
            rows = emb.rows(tid, name)
            assert rows.stop - rows.start == n
            for layer in spec.layers:
                want = np.asarray(out[layer], np.float32)
                np.testing.assert_allclose(emb.array(name, layer)[rows], want, rtol=2e-6)
    # the store records each model's clock and version, and reads back in a new session
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["models"]["energy"]["clock"] == {
        "sample_rate": 22050, "segment": 22050, "hop": 22050
    }  # fmt: skip
    assert manifest["models"]["rms"]["version"] == "1/float32/8000:4000:4000"
    again = ee.open_store(store)
    assert again.clock("rms") == Clock(8000, 4000, 4000)
    np.testing.assert_array_equal(again.array("energy", "energy"), emb.array("energy", "energy"))

    # windows: each model's mean of the segments whose centre falls in the window
    for w in (10, 30, "track"):
        view = emb.windows(w)
        table = view.segments
        for name in ("energy", "rms", "vgg-msd"):
            own, x = emb.segments_of(name), emb.array(name, "embeddings").astype(np.float64)
            centre = (own["start"] + own["end"]).to_numpy() / 2
            win = np.zeros(len(own), int) if w == "track" else np.floor(centre / w).astype(int)
            tracks = own["track_id"].astype(str).to_numpy()
            want = [
                x[(tracks == str(t)) & (win == k)].mean(axis=0)
                for t, k in zip(table["track_id"], table["segment"], strict=True)
            ]
            np.testing.assert_allclose(view.array(name), np.array(want), rtol=1e-6, atol=1e-7)
        if w != "track":
            assert (table["start"].to_numpy() == table["segment"].to_numpy() * w).all()
    track = emb.windows("track")
    assert len(track.segments) == len(SECONDS)
    assert np.allclose(track.segments["end"], emb.tracks["duration"])
    # a 31 s track: windows 0-29 s and 30-31 s of the 1 s model, but the 2.992 s model's last
    # segment centre is at 28.4 s: its windows of 30 s are those both models have
    assert list(emb.windows(30).tracks["n_segments"]) == [1, 1, 1, 1]
    assert list(emb.windows(10).tracks["n_segments"]) == [1, 1, 1, 3]

    # the rest of the pipeline takes the model, at its clock or on windows
    xy = ee.project(emb, "pca", model="energy")
    assert xy.shape == (len(emb.segments_of("energy")), 2)
    xy = ee.project(emb.windows(10), "pca", model="rms")
    assert xy.shape == (len(emb.windows(10).segments), 2)
    near = ee.neighbors(emb, "energy", seed=3, k=4, device="cpu")
    assert len(near) == 4 and set(near.columns) >= {"distance", "start", "end"}
    from embedexplore.similarity import nn_similarity_matrix, spaces

    with pytest.raises(ValueError, match=r"different segments .* windows"):
        spaces(emb, ["energy", "vgg-msd"], ["embeddings"])
    m = nn_similarity_matrix(
        spaces(emb.windows(10), ["energy", "rms", "vgg-msd"], ["embeddings"]), 2, device="cpu"
    )
    assert m.shape == (3, 3) and ((m.to_numpy() >= 0) & (m.to_numpy() <= 1)).all()
    tid = emb.tracks.index[3]
    pl = ee.playlist.radio(emb, "energy", seed=tid, n=3)
    assert pl.index[0] == tid and len(pl) == 3
    # min_share=0: row 40 is one of the 31 s track's 31 segments, below the default quarter
    pl = ee.playlist.from_selection(emb, [0, 1, 40], model="energy", min_share=0)
    assert list(pl.index) == [emb.tracks.index[0], emb.tracks.index[3]]
    with pytest.warns(UserWarning, match="min_share"):
        pl = ee.playlist.from_selection(emb, [40], model="energy")
    assert len(pl) == 0
    # and listening: a 1 s segment of the model, a 10 s window of the view
    clip = ee.listen.segment(emb, 3, model="energy")
    assert clip.seconds == pytest.approx(1.0, abs=0.03) and len(clip.data) > 1000
    window = ee.listen.segment(emb.windows(10), 4)  # the 31 s track's second window
    assert window.seconds == pytest.approx(10.0, abs=0.05)


@pytest.mark.slow
def test_a_new_version_recomputes_only_that_model(registered, music, tmp_path):
    store = tmp_path / "store"
    _extract(music, store, ["energy", "rms"])
    before = _tree(store)
    registry.register_model(
        "rms", lambda x: {"embeddings": 2 * rms(x)["embeddings"]}, sample_rate=8000,
        segment_seconds=0.5, layers={"embeddings": 2}, version="2", replace=True,
    )  # fmt: skip
    emb = _extract(music, store, ["energy", "rms"])
    assert emb.stats.extracted == len(SECONDS)  # rms, on every track
    after = _tree(store)
    energy = {k: v for k, v in before.items() if k.startswith("parts/energy/")}
    assert energy and all(after.get(k) == v for k, v in energy.items())  # untouched
    assert not any(k.startswith("parts/rms/") for k in set(before) & set(after))
    old = {k: v for k, v in before.items() if k.startswith("parts/rms/")}
    assert old and not set(old) & set(after)  # the old version's rows are gone, not mixed in


def _misbehaving():
    def wrong_layer(x):
        return {"embedding": np.zeros((len(x), 2), np.float32)}

    def wrong_shape(x):
        return {"embeddings": np.zeros((len(x), 3), np.float32)}

    def nan_on_silence(x):
        with np.errstate(invalid="ignore"):
            return {"embeddings": np.stack([x.std(1) / x.std(1), x.mean(1)], axis=1)}

    def raises(x):
        raise RuntimeError("CUDA kernel image not found")

    def not_a_dict(x):
        return np.zeros((len(x), 2))

    return [
        (wrong_layer, "returned the layers \\['embedding'\\], not embeddings"),
        (wrong_shape, "returned layer 'embeddings' of shape \\(2, 3\\) for 2 segments"),
        (raises, "failed on a batch .* CUDA kernel image not found"),
        (not_a_dict, "returned ndarray; it must return a dict"),
    ], nan_on_silence


@pytest.mark.parametrize("case", range(4))
def test_a_model_that_returns_what_it_did_not_declare_changes_nothing(case, music, tmp_path):
    """Checked on noise before the store is touched: the error names the model."""
    cases, _ = _misbehaving()
    model, match = cases[case]
    store = tmp_path / "store"
    registry.register_model(
        "bad", model, sample_rate=8000, segment_seconds=0.5, layers={"embeddings": 2}, version="1"
    )
    try:
        fresh = tmp_path / "fresh"
        with pytest.raises(ModelError, match=f"model 'bad' {match}"):
            _extract(music, fresh, ["bad"])
        assert not fresh.exists()  # not even created
        _extract(music, store, ["mfcc-stats"])
        before = _tree(store)
        with pytest.raises(ModelError, match="model 'bad'"):
            _extract(music, store, ["mfcc-stats", "bad"])
        assert _tree(store) == before
    finally:
        registry.unregister("bad")


def test_nan_in_the_music_stops_the_run_naming_the_model(music, tmp_path):
    """NaN only on real audio (the check on noise passes): the run stops with an error naming
    the model; its shard is not committed, and what was committed before is kept."""
    _, nan_on_silence = _misbehaving()
    import soundfile as sf

    folder = tmp_path / "music"
    shutil.copytree(music, folder)
    sf.write(folder / "9 silence.wav", np.zeros(22050, np.float32), 22050, subtype="PCM_16")
    registry.register_model(
        "nanny", nan_on_silence, sample_rate=8000, segment_seconds=0.5,
        layers={"embeddings": 2}, version="1",
    )  # fmt: skip
    try:
        with pytest.raises(ModelError, match="model 'nanny' returned NaN or infinite values"):
            _extract(folder, tmp_path / "store", ["nanny"])
        assert ee.open_store(tmp_path / "store").tracks.empty  # nothing of that shard kept
    finally:
        registry.unregister("nanny")


# -- old stores, built-in baselines, VGGish --------------------------------------------------------


def test_a_store_written_before_clocks_were_recorded_opens_unchanged(tmp_path):
    """tests/data/store-0.1: written by embedexplore at commit ed3c344 (before this change) from
    the two WAV files beside it (tests/data/store-0.1/music). It opens and reads as it did, and
    extracting the same audio today gives the same arrays: bit for bit on the CPU that wrote them
    (an AMD EPYC), within float16's rounding of the float32 results on another (an Intel Xeon's
    oneDNN kernels sum in another order: 0.7% of the values move by 1 to 4 float16 steps)."""
    old = tmp_path / "old"
    shutil.copytree(DATA / "store-0.1", old)
    before = _tree(old / "store")
    emb = ee.open_store(old / "store")
    assert list(emb.models) == ["vgg-msd", "musicnn-mtt"]
    assert emb.clock("vgg-msd") == ORIGINAL
    assert list(emb.segments["start"]) == [0.0, 2.992, 0.0]
    assert list(emb.segments["end"]) == [2.992, 5.984, 2.992]
    assert emb.labels("musicnn-mtt")[0] == "guitar"
    assert _tree(old / "store") == before  # reading changes nothing
    new = ee.extract(
        old / "music", store=tmp_path / "new", models=["vgg-msd", "musicnn-mtt"], device="cpu",
        progress=False,
    )  # fmt: skip
    assert list(new.tracks.index) == list(emb.tracks.index)
    for m in emb.models:
        for layer in ("taggrams", "embeddings"):
            a, b = np.asarray(new.array(m, layer)), np.asarray(emb.array(m, layer))
            assert a.dtype == b.dtype == np.float16 and a.shape == b.shape
            # the float32 values that rounded to these differ by at most ~1e-6 relative; their
            # float16 roundings by a few steps of the value's size at most
            steps = np.abs(a.astype(np.float32) - b) / np.spacing(np.maximum(abs(a), abs(b)))
            assert steps.max() <= 8, (m, layer, steps.max())
            assert (a == b).mean() >= 0.95, (m, layer, (a == b).mean())


@pytest.mark.slow
def test_handcrafted_baselines_extract_and_compare_at_the_original_clock(music, tmp_path):
    from embedexplore.models.handcrafted import MFCCStats

    emb = _extract(music, tmp_path / "store", ["mfcc-stats", "chroma-stats", "vgg-msd"])
    assert emb.layers("mfcc-stats") == {"embeddings": 40}
    assert emb.layers("chroma-stats") == {"embeddings": 24}
    assert len(emb.segments) == len(emb.array("chroma-stats"))  # the same clock as VGG
    tid, path = emb.tracks.index[1], emb.tracks["path"].iloc[1]
    x = ee.audio.load(path)
    n = len(emb.track(tid))
    x = np.concatenate([x, np.zeros(ORIGINAL.segment, np.float32)])  # a last segment's tail
    segs = x[: n * ORIGINAL.segment].reshape(n, ORIGINAL.segment)
    with torch.inference_mode():
        want = MFCCStats(16000)(torch.from_numpy(segs))["embeddings"].numpy()
    np.testing.assert_allclose(emb.array("mfcc-stats")[emb.rows(tid)], want, rtol=1e-5, atol=1e-3)
    from embedexplore.similarity import nn_similarity_matrix, spaces

    m = nn_similarity_matrix(spaces(emb, layers=["embeddings"]), 3, device="cpu")
    names = ["mfcc-stats/embeddings", "chroma-stats/embeddings", "vgg-msd/embeddings"]
    assert list(m.index) == names
    # and they show: both panes at their shared clock, no note
    x = ee.Explorer(None, emb, left={"model": "mfcc-stats", "projection": "pca"},
                    right={"model": "chroma-stats", "projection": "pca"})  # fmt: skip
    assert x.n_points == len(emb.segments) and x.scale_note == ""
    for side in ("left", "right"):
        xy = decode_xy(getattr(x, f"{side}_xy"))
        assert len(xy) == x.n_points and np.isfinite(xy).all() and xy.std() > 0


@pytest.fixture
def vggish_weights(tmp_path):
    """Random VGGish weights written in Google's layout (.npz) and torchvggish's (.pth)."""
    from embedexplore.models.vggish_net import vggish
    from test_vggish import to_tensorflow, to_torchvggish

    torch.manual_seed(3)
    model = vggish()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.02)
    npz = tmp_path / "vggish.npz"
    np.savez(npz, **to_tensorflow(model))
    pth = tmp_path / "vggish.pth"
    torch.save(to_torchvggish(model), pth)
    yield npz, pth
    registry._MODELS.pop("vggish", None)
    registry._MODELS.clear()  # the built-in declarations again, with VGGish waiting for weights
    registry._builtins()


@pytest.mark.slow
def test_vggish_with_its_weights_extracts_at_its_own_clock(vggish_weights, music, tmp_path):
    npz, pth = vggish_weights
    with pytest.raises(ValueError, match="use_vggish"):
        _extract(music, tmp_path / "none", ["vggish"])
    ee.models.use_vggish(npz)
    a = _extract(music, tmp_path / "a", ["vggish", "vgg-msd"])
    seg = a.segments_of("vggish")
    k = seg["segment"].to_numpy()
    assert np.array_equal(seg["start"].to_numpy(), k * 15360 / 16000)
    assert np.array_equal(seg["end"].to_numpy(), (k * 15360 + 15600) / 16000)
    ee.models.use_vggish(pth)  # the same weights, converted the other way: the same version
    b = _extract(music, tmp_path / "b", ["vggish"])
    np.testing.assert_allclose(b.array("vggish"), a.array("vggish"), rtol=1e-5, atol=1e-6)
    w = a.windows(30)
    assert w.array("vggish").shape == (len(w.segments), 128)
    # shown beside VGG: both panes on windows of VGG's coarser 2.992 s clock, said so
    x = ee.Explorer(None, a, left={"model": "vgg-msd", "projection": "pca"},
                    right={"model": "vggish", "projection": "pca"})  # fmt: skip
    assert x.n_points == len(a.windows(2.992).segments)
    assert (
        "vggish: 0.975 s segments every 0.96 s" in x.scale_note
        and "2.992 s windows" in x.scale_note
    )
    xy = decode_xy(x.right_xy)
    assert len(xy) == x.n_points and np.isfinite(xy).all() and xy.std() > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert registry.get("vggish").version == registry.get("vggish").version


# -- one source of truth --------------------------------------------------------------------------

SRC = Path(ee.__file__).parent
#: The numbers of the segment clocks (the original models' 16 kHz, 187 frames, 2.992 s, 47,872
#: samples; VGGish's 0.96 s, 0.975 s, 15,360 and 15,600 samples): only clock.py holds them.
CLOCK_NUMBERS = {16000, 187, 2.992, 47872, 0.96, 0.975, 15360, 15600}
#: Where such a number is something else, and why.
NOT_A_CLOCK = {
    ("datasets.py", 16000): "the demo collection writes its FLAC files at 16 kHz: a file's rate",
}
#: Modules that may name one model: its own implementation naming its registry entry.
OWN_NAME = {
    ("models/vggish_embedder.py", "vggish"): "VGGishEmbedder.name",
    ("models/vggish_net.py", "vggish"): "use_vggish gives the registry's entry its weights",
}


def _code_constants(path: Path):
    """The constants of a module's code: numbers and strings, docstrings left out."""
    import ast

    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):  # the names a module exports are identifiers, not models
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id in ("__all__", "_LAZY") for t in node.targets
        ):
            docstrings.update(id(c) for c in ast.walk(node.value) if isinstance(c, ast.Constant))
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_list_of_model_names_and_no_clock_constant_outside_the_registry():
    """The registry (registry.py) is the one list of models and clock.py the one clock: no other
    module of the package names a built-in model or writes a clock's number in its code."""
    names = {n for n in registry.names() if registry.get(n).builtin}
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in ("registry.py", "clock.py"):
            continue
        for line, value in _code_constants(path):
            if isinstance(value, str) and value in names and (rel, value) not in OWN_NAME:
                found.append(f"{rel}:{line}: model name {value!r}")
            elif (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and value in CLOCK_NUMBERS
                and (rel, value) not in NOT_A_CLOCK
            ):
                found.append(f"{rel}:{line}: clock number {value!r}")
    assert not found, "\n".join(found)


def test_a_baseline_beside_a_tagger_cuts_the_same_segments(tmp_path):
    """A track whose last 2.992 s lacks less than one mel hop: the taggers read it (their
    centred frames), and so does every model of their clock (the clock's tail)."""
    import soundfile as sf

    folder = tmp_path / "music"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for n in (95_600, 47_700, 47_872 * 3 - 1):
        sf.write(folder / f"{n}.wav", (0.1 * rng.standard_normal(n)).astype(np.float32), 16000)
    emb = _extract(folder, tmp_path / "store", ["vgg-msd", "chroma-stats"])
    counts = dict(
        zip(emb.tracks["path"].map(lambda p: Path(p).stem), emb.tracks["n_segments"], strict=True)
    )
    assert counts == {"95600": 2, "47700": 1, "143615": 3}  # (1 + n // 256) // 187
    assert len(emb.array("chroma-stats")) == len(emb.segments) == 6


def test_windows_hold_every_segment_once_across_blocks(monkeypatch, registered, music, tmp_path):
    """Window means computed in blocks (here of 7 rows) equal those of one pass, and a window
    is never split between two blocks."""
    import embedexplore._grid as grid

    emb = _extract(music, tmp_path / "store", ["energy"])
    whole = {w: emb.windows(w).array("energy") for w in (2, 10, "track")}
    monkeypatch.setattr(grid, "BLOCK_ROWS", 7)
    for w, want in whole.items():
        np.testing.assert_allclose(emb.windows(w).array("energy"), want, rtol=1e-6)
    # a centre on a window's edge falls in the window it starts (1 s segments every 0.5 s:
    # centres at 0.5, 1.0, 1.5 ...; windows of 1.1 s hold the centre at 5.5 s in window 5)
    registry.register_model(
        "halves", lambda x: {"embeddings": x[:, :1]}, sample_rate=8000, segment_seconds=1.0,
        hop_seconds=0.5, layers={"embeddings": 1}, version="1",
    )  # fmt: skip
    try:
        e = _extract(music, tmp_path / "store2", ["halves"])
        view = e.windows(1.1)
        seg = e.segments_of("halves")
        keys = grid.window_keys(e._grid("halves"), 1.1, e.tracks["duration"].to_numpy())
        centre = (seg["start"] + seg["end"]).to_numpy() / 2
        assert (keys[np.isclose(centre, 5.5)] & 0xFFFFFFFF == 5).all()
        assert (view.segments["end"] > view.segments["start"]).all()  # short tracks too
    finally:
        registry.unregister("halves")


def test_every_declaration_is_checked_plugins_included(tmp_path):
    """register() checks what register_model checks: a plugin's ModelSpec cannot write a
    manifest that does not load."""
    from embedexplore.registry import ModelSpec

    good = {"name": "p", "layers": {"embeddings": 4}, "clock": Clock(8000, 4000, 4000),
            "version": "1", "model": rms}  # fmt: skip
    for bad, match in (
        ({"layers": {"embeddings": 4.0}}, "positive whole dimension"),
        ({"clock": "8000:4000:4000"}, "must be an embedexplore.clock.Clock"),
        ({"version": ""}, "version must be a non-empty string"),
        ({"name": "../p"}, "a model's name may hold"),
        ({"labels": ("a",)}, "1 labels name the columns"),
        ({"clock": Clock(10**9, 10**9, 10**9)}, "beyond what a track holds"),
    ):
        with pytest.raises(ValueError, match=match):
            registry.register(ModelSpec(**(good | bad)))
    assert registry.find("p") is None
    with pytest.raises(ValueError, match="segment_seconds must be a number"):
        registry.register_model("q", rms, sample_rate=8000, segment_seconds="1",
                                layers={"embeddings": 2}, version="1")  # fmt: skip
    spec = registry.register_model("q", rms, sample_rate=8000.0, segment_seconds=0.5,
                                   layers={"embeddings": np.int64(2)}, version="1")  # fmt: skip
    try:
        assert spec.clock == Clock(8000, 4000, 4000) and spec.layers == {"embeddings": 2}
    finally:
        registry.unregister("q")


@pytest.mark.slow
def test_registered_again_with_other_layers_under_the_same_version_is_recomputed(music, tmp_path):
    """A model registered again under its old version but with other layer sizes: its rows
    are computed again, never mixed with rows of another shape."""
    store = tmp_path / "store"
    registry.register_model("m", lambda x: {"embeddings": x[:, :4]}, sample_rate=8000,
                            segment_seconds=0.5, layers={"embeddings": 4}, version="1")  # fmt: skip
    try:
        _extract(music, store, ["m"])
        registry.register_model("m", lambda x: {"embeddings": x[:, :8]}, sample_rate=8000,
                                segment_seconds=0.5, layers={"embeddings": 8}, version="1",
                                replace=True)  # fmt: skip
        emb = _extract(music, store, ["m"])
        assert emb.stats.extracted == len(SECONDS) and emb.array("m").shape[1] == 8
        assert ee.open_store(store).array("m").shape[1] == 8
    finally:
        registry.unregister("m")


@pytest.mark.slow
def test_a_rebuilt_manifest_keeps_a_models_labels_and_clock(music, tmp_path):
    """The labels of a model not built in live in its parts too: verify --repair rebuilds a
    lost manifest with them, and the store opens with them where the model is not registered."""
    registry.register_model(
        "tagger2", lambda x: {"taggrams": np.stack([x.std(1), np.abs(x).max(1)], axis=1)},
        sample_rate=8000, segment_seconds=0.5, layers={"taggrams": 2}, labels=("soft", "loud"),
        version="1",
    )  # fmt: skip
    try:
        _extract(music, tmp_path / "store", ["tagger2"])
    finally:
        registry.unregister("tagger2")
    (tmp_path / "store" / "manifest.json").write_text("{ damaged")
    report = ee.verify(tmp_path / "store", repair=True)
    assert report.ok or not report.damaged_parts
    emb = ee.open_store(tmp_path / "store")
    assert emb.labels("tagger2") == ("soft", "loud") and emb.clock("tagger2").hop == 4000
    assert list(emb.taggram("tagger2").columns) == ["soft", "loud"]
