"""The models' structure, weights and API; parity with the originals is in test_parity.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import embedexplore
from embedexplore import registry
from embedexplore.clock import PATCH_FRAMES
from embedexplore.models import available, load_model, musicnn, vgg
from embedexplore.models.checkpoint import TF_BATCHNORM, CheckpointError, read_checkpoint
from embedexplore.models.musicnn_net import musicnn_weights_from_tensorflow
from embedexplore.models.vgg_net import vgg_weights_from_tensorflow

DATA = Path(__file__).parent / "data"
NAMES = ["musicnn-msd", "musicnn-mtt", "vgg-msd", "vgg-mtt"]


@pytest.fixture(scope="module")
def models():
    return {name: load_model(name, device="cpu") for name in NAMES}


def test_architectures_have_the_original_shapes():
    m = musicnn()
    out = m(torch.zeros(2, PATCH_FRAMES, 96))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "pooled": (2, 1506), "embeddings": (2, 200), "penultimate": (2, 200),
        "taggrams": (2, 50),
    }  # fmt: skip
    assert (
        sum(p.numel() for p in m.parameters())
        + sum(b.numel() for n, b in m.named_buffers() if not n.endswith("num_batches_tracked"))
        == 792_079
    )  # the number of trained values in musicnn's MTT/MSD checkpoints
    v = vgg()
    out = v(torch.zeros(2, PATCH_FRAMES, 96))
    assert tuple(out["embeddings"].shape) == (2, 256) and tuple(out["taggrams"].shape) == (2, 50)
    for module in (m, v):
        for bn in (
            x for x in module.modules() if isinstance(x, torch.nn.modules.batchnorm._BatchNorm)
        ):
            assert bn.eps == 1e-3  # TensorFlow's default; 1e-5 changes taggrams by up to 0.36


def test_available_lists_the_registered_models():
    table = available()
    assert list(table.index[:4]) == NAMES
    assert {"mfcc-stats", "chroma-stats", "vggish"} <= set(table.index)
    assert {"MSD", "MTT", "AudioSet"} <= set(table["dataset"])
    assert (table.loc[NAMES, "tags"] == 50).all()
    assert table.loc["vgg-mtt", "layers"] == "embeddings (256), taggrams (50)"
    assert table.loc[NAMES, "licence"].str.startswith("ISC").all()
    assert (table.loc[NAMES, "segment_seconds"] == 2.992).all()
    assert table.loc["vggish", "hop_seconds"] == 0.96
    with pytest.raises(ValueError, match="use_vggish"):
        load_model("vggish")


@pytest.mark.parametrize("name", NAMES)
def test_registry_layers_are_the_networks(name):
    """The registry declares the layers without building anything: they are the networks'."""
    spec = registry.get(name)
    from embedexplore.models.runner import resolve

    assert dict(spec.layers) == resolve(spec.factory)(**spec.params).dims


def test_load_model_from_shipped_weights_only(models, monkeypatch):
    import socket

    def no_network(*a, **k):
        raise AssertionError("a model load tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    m = load_model("musicnn-mtt", device="cpu")
    assert m.labels[:4] == ("guitar", "classical", "slow", "techno")
    assert models["musicnn-msd"].labels[0] == "rock" and len(models["vgg-msd"].labels) == 50
    assert m.layers == {"pooled": 1506, "embeddings": 200, "penultimate": 200, "taggrams": 50}
    assert embedexplore.load_model is load_model
    with pytest.raises(ValueError, match="unknown model 'musicnn'; registered: musicnn-msd"):
        load_model("musicnn")


def test_patch_count_and_edges(models, rng):
    m = models["vgg-mtt"]
    hop, patch = 256, PATCH_FRAMES
    # frames = 1 + n // 256; patches = frames // 187; the partial tail is dropped
    for seconds, expected in ((2.992, 1), (5.9, 1), (5.984, 2), (30.0, 10), (60.0, 20)):
        n = int(seconds * 16_000)
        assert len(m.patches(rng.standard_normal(n).astype(np.float32) * 0.1)) == expected, seconds
    assert (1 + int(5.984 * 16_000) // hop) // patch == 2
    # shorter than one patch: repeated to fill one, so every non-empty track has a segment
    short = m.embed(np.sin(np.arange(8000) * 0.1).astype(np.float32))
    assert short["taggrams"].shape == (1, 50)
    empty = m.embed(np.zeros(0, np.float32))
    assert empty["taggrams"].shape == (0, 50) and empty["embeddings"].shape == (0, 256)


def test_patches_are_cut_from_one_centred_spectrogram(models, rng):
    """Patch k equals frames 187k..187k+186 of the centred mel spectrogram of the whole signal,
    however the frontend is chunked internally."""
    from embedexplore.models.frontend import MelFrontend

    x = (rng.standard_normal(16_000 * 200) * 0.1).astype(np.float32)  # > 64 patches: 2 chunks
    patches = models["musicnn-mtt"].patches(x)
    whole = MelFrontend()(torch.from_numpy(x).unsqueeze(0))[0]
    n = len(patches)
    assert n == (1 + len(x) // 256) // PATCH_FRAMES == 66
    torch.testing.assert_close(
        patches.reshape(-1, 96), whole[: n * PATCH_FRAMES], rtol=1e-5, atol=1e-5
    )


def test_embed_resamples_and_checks_its_input(models):
    m = models["musicnn-msd"]
    t = np.arange(44_100 * 6) / 44_100
    x44 = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    import soxr

    x16 = soxr.resample(x44, 44_100, 16_000, quality="HQ")
    a, b = m.embed(x44, sample_rate=44_100), m.embed(torch.from_numpy(x16))
    np.testing.assert_allclose(a["taggrams"], b["taggrams"], atol=1e-6)
    with pytest.raises(ValueError, match="mono waveform"):
        m.embed(np.zeros((2, 16_000), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        m.embed(np.full(16_000, np.nan, np.float32))


def _as_tensorflow_vgg(state: dict) -> dict[str, np.ndarray]:
    """Our VGG state dict in the names and layouts of musicnn's checkpoint (the inverse map)."""
    out = {}

    def bn(prefix, name):
        for ours, theirs in TF_BATCHNORM:
            out[f"{name}/{theirs}"] = state[f"{prefix}.{ours}"].numpy()

    bn("input_bn", "batch_normalization")
    for i in range(5):
        out[f"{i + 1}CNN/kernel"] = state[f"convs.{i}.weight"].numpy().transpose(2, 3, 1, 0)
        out[f"{i + 1}CNN/bias"] = state[f"convs.{i}.bias"].numpy()
        bn(f"bns.{i}", f"batch_normalization_{i + 1}")
    out["dense/kernel"] = state["classifier.weight"].numpy().T
    out["dense/bias"] = state["classifier.bias"].numpy()
    return out


def test_weight_mapping_round_trips_and_raises_on_leftovers(models):
    state = {
        k: v
        for k, v in models["vgg-mtt"].network.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    tf_vars = _as_tensorflow_vgg(state)
    # optimizer slots and Adam's beta powers are skipped, as in the real checkpoints
    tf_vars["1CNN/kernel/Adam"] = np.zeros((3, 3, 1, 128), np.float32)
    tf_vars["beta1_power"] = np.float32(0.9)
    mapped = vgg_weights_from_tensorflow(tf_vars)
    assert set(mapped) == set(state)
    for k in state:
        torch.testing.assert_close(mapped[k], state[k], rtol=0, atol=0)
    with pytest.raises(KeyError, match="6CNN/kernel"):
        vgg_weights_from_tensorflow(dict(tf_vars, **{"6CNN/kernel": np.zeros(1, np.float32)}))
    with pytest.raises(KeyError, match="dense/bias"):
        vgg_weights_from_tensorflow({k: v for k, v in tf_vars.items() if k != "dense/bias"})
    with pytest.raises(KeyError):
        musicnn_weights_from_tensorflow(tf_vars)  # a VGG checkpoint is not a MusiCNN one


def test_checkpoint_reader_on_a_real_tensorflow_checkpoint():
    """tests/data/tiny_checkpoint was written by TensorFlow's Saver (make_tiny_checkpoint.py)."""
    v = read_checkpoint(f"{DATA / 'tiny_checkpoint'}/")
    assert sorted(v) == [
        "batch_normalization/moving_variance",
        "conv2d/bias",
        "conv2d/kernel",
        "conv2d/kernel/Adam",
        "step",
    ]
    np.testing.assert_array_equal(
        v["conv2d/kernel"], np.arange(24, dtype=np.float32).reshape(2, 3, 1, 4)
    )
    np.testing.assert_array_equal(v["conv2d/bias"], [0.5, -1.5, 2.25, 3.0])
    assert v["step"].dtype == np.int64 and v["step"] == 7
    assert v["batch_normalization/moving_variance"].dtype == np.float32


def test_checkpoint_reader_rejects_other_files(tmp_path):
    (tmp_path / "x.index").write_bytes(b"not a table" * 10)
    (tmp_path / "x.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(CheckpointError, match="not a TensorFlow checkpoint"):
        read_checkpoint(tmp_path / "x")
    data = (DATA / "tiny_checkpoint" / ".index").read_bytes()
    (tmp_path / "y.index").write_bytes(data[:20] + data[-48:])  # blocks cut away
    (tmp_path / "y.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(CheckpointError):
        read_checkpoint(tmp_path / "y")


@pytest.mark.parametrize("name", NAMES)
def test_shipped_weights_are_the_converted_checkpoints(name):
    """The safetensors files carry their provenance and every trained value."""
    from safetensors import safe_open

    path = Path(embedexplore.models.__file__).parent / "weights" / registry.get(name).weights
    with safe_open(path, "pt") as f:
        meta = f.metadata()
        assert meta["source"].startswith("musicnn==0.1.0") and meta["licence"].startswith("ISC")
        n = sum(f.get_tensor(k).numel() for k in f.keys())  # noqa: SIM118
    assert n == (792_079 if name.startswith("musicnn") else 607_030)


def test_precisions(models, rng):
    x = (rng.standard_normal(16_000 * 9) * 0.1).astype(np.float32)
    exact = models["vgg-mtt"].embed(x)["taggrams"]
    # TF32 exists on NVIDIA GPUs only: elsewhere it is plain float32
    tf32 = load_model("vgg-mtt", device="cpu", precision="tf32").embed(x)["taggrams"]
    np.testing.assert_array_equal(tf32, exact)
    # bfloat16 keeps 8 bits of mantissa: measured on the reference clips (CPU), taggrams move by
    # up to 1.3e-2 -- too far for the 2e-3 a default precision may cost, so it is opt-in
    bf16 = load_model("vgg-mtt", device="cpu", precision="bf16")
    out = bf16.embed(x)["taggrams"]
    assert out.dtype == np.float32 and 0 < np.abs(out - exact).max() < 5e-2
    assert "bf16" in repr(bf16)
    with pytest.raises(ValueError, match="precision must be one of"):
        load_model("vgg-mtt", device="cpu", precision="fp8")


@pytest.mark.parametrize("kind", ["amax", "pool"])
def test_fused_conv_relu_bn_max_equals_the_plain_order(rng, kind):
    from embedexplore.models.fused import conv_relu_bn_max

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    bn = torch.nn.BatchNorm2d(8, eps=1e-3).eval()
    with torch.no_grad():  # trained-like statistics, with scales of both signs
        bn.weight.copy_(torch.tensor([1.5, -0.7, 0.2, -2.0, 0.0, 3.0, -0.1, 0.9]))
        bn.bias.normal_()
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.1, 2.0)
    x = torch.randn(4, 3, 20, 12)
    reduce = (lambda t: t.amax(dim=3)) if kind == "amax" else torch.nn.MaxPool2d(2, 2)
    with torch.no_grad():
        plain = reduce(bn(torch.relu(conv(x))))
        fused = conv_relu_bn_max(x, conv, bn, reduce)
    torch.testing.assert_close(fused, plain, rtol=1e-6, atol=1e-6)


def test_tf32_context_restores_the_global_settings_even_on_errors():
    from embedexplore.models.arithmetic import tf32

    matmul, conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv
    saved = (matmul.fp32_precision, conv.fp32_precision)
    try:
        matmul.fp32_precision = conv.fp32_precision = "tf32"  # a user who wants TF32 elsewhere
        with pytest.raises(RuntimeError), tf32(False, "cuda"):
            assert (matmul.fp32_precision, conv.fp32_precision) == ("ieee", "ieee")
            raise RuntimeError("boom")
        assert (matmul.fp32_precision, conv.fp32_precision) == ("tf32", "tf32")
        with tf32(False, "cpu"):  # nothing to do off CUDA
            assert (matmul.fp32_precision, conv.fp32_precision) == ("tf32", "tf32")
    finally:
        matmul.fp32_precision, conv.fp32_precision = saved
    torch.get_float32_matmul_precision()  # still readable: no mix of old and new switches


def test_integer_and_bfloat16_waveforms(models, rng):
    m = models["vgg-msd"]
    x = (rng.standard_normal(16_000 * 4) * 0.2).clip(-1, 1)
    pcm = np.round(x * 32767).astype(np.int16)
    as_float = m.embed(pcm.astype(np.float32) / 32768)["taggrams"]
    np.testing.assert_allclose(m.embed(pcm)["taggrams"], as_float, atol=1e-6)
    np.testing.assert_allclose(m.embed(torch.from_numpy(pcm))["taggrams"], as_float, atol=1e-6)
    assert m.embed(torch.from_numpy(x).bfloat16())["taggrams"].shape == (1, 50)
    assert m.embed(np.ones(1, np.float32), sample_rate=44_100)["taggrams"].shape == (1, 50)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="batch_size"):
            m.embed(x, batch_size=bad)


def test_checkpoint_reader_reports_a_short_data_file(tmp_path):
    import shutil

    src = DATA / "tiny_checkpoint"
    shutil.copy(src / ".index", tmp_path / ".index")
    data = (src / ".data-00000-of-00001").read_bytes()
    (tmp_path / ".data-00000-of-00001").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="outside the data file"):
        read_checkpoint(f"{tmp_path}/")
