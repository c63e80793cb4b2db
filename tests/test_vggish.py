"""VGGish: its input pipeline against an independent NumPy mel_features, its network against a
NumPy emulation of the TensorFlow graph and a torchvggish-shaped module, and its weight loaders.

No trained VGGish weights are reachable from here (and embedexplore does not ship them): every
check runs on random weights, converted to the original's and torchvggish's layouts and back.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import numpy as np
import pytest
import soxr
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

from embedexplore.models import checkpoint
from embedexplore.models.vggish_net import (
    EXAMPLE_SAMPLES,
    SEGMENT_HOP_SAMPLES,
    SEGMENT_SAMPLES,
    VGGish,
    VGGishEmbedder,
    VGGishFrontend,
    VGGishSegments,
    layers,
    load_vggish,
    vggish,
    vggish_mel_matrix,
    vggish_pca,
    vggish_weights_from_tensorflow,
    vggish_weights_from_torchvggish,
)

SR = 16_000

# -- an independent NumPy mel_features / vggish_input (float64), from their documented formulas ---


def ref_frame(data: np.ndarray, window: int, hop: int) -> np.ndarray:
    """mel_features.frame: as many complete frames as fit, no padding."""
    n = 1 + (len(data) - window) // hop
    if n <= 0:
        return np.zeros((0, window, *data.shape[1:]), data.dtype)
    return np.stack([data[i * hop : i * hop + window] for i in range(n)])


def ref_periodic_hann(n: int) -> np.ndarray:
    return np.array([0.5 - 0.5 * np.cos(2 * np.pi * i / n) for i in range(n)])


def ref_hertz_to_mel(f):
    return 1127.0 * np.log(1.0 + np.asarray(f) / 700.0)


def ref_mel_matrix(n_mels=64, n_bins=257, sr=16000, lo=125.0, hi=7500.0) -> np.ndarray:
    """spectrogram_to_mel_matrix: triangles in mel, peak 1, DC row zeroed."""
    bins_mel = ref_hertz_to_mel(np.linspace(0.0, sr / 2, n_bins))
    edges = np.linspace(ref_hertz_to_mel(lo), ref_hertz_to_mel(hi), n_mels + 2)
    out = np.empty((n_bins, n_mels))
    for i in range(n_mels):
        left, centre, right = edges[i], edges[i + 1], edges[i + 2]
        for j in range(n_bins):
            up = (bins_mel[j] - left) / (centre - left)
            down = (right - bins_mel[j]) / (right - centre)
            out[j, i] = max(0.0, min(up, down))
    out[0, :] = 0.0
    return out


def ref_examples(x: np.ndarray) -> np.ndarray:
    """vggish_input.waveform_to_examples at 16 kHz: [n_examples, 96, 64]."""
    frames = ref_frame(x.astype(np.float64), 400, 160) * ref_periodic_hann(400)
    magnitude = np.abs(np.fft.rfft(frames, 512))  # fft_length = 2 ** ceil(log2(400))
    logmel = np.log(magnitude @ ref_mel_matrix() + 0.01)
    return ref_frame(logmel, 96, 96)


def test_signal(seconds: float, seed: int = 7) -> np.ndarray:
    """Sines at 220, 1000 (rising), 3150 and 6000 Hz, noise 40 dB down, a silent gap."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = (
        0.3 * np.sin(2 * np.pi * 220 * t)
        + 0.2 * np.sin(2 * np.pi * (1000 + 200 * t) * t)
        + 0.1 * np.sin(2 * np.pi * 3150 * t + 1.0)
        + 0.05 * np.sin(2 * np.pi * 6000 * t)
        + 0.01 * rng.standard_normal(t.size)
    )
    x[int(0.4 * SR) : int(0.6 * SR)] = 0.0  # log(0 + 0.01) floor
    return x.astype(np.float32)


test_signal.__test__ = False  # a helper, not a test


# -- a NumPy emulation of vggish_slim's graph (NHWC, HWIO kernels, float64) -----------------------


def tf_conv_same(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    n, h, wd, c = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    patches = sliding_window_view(xp, (3, 3), axis=(1, 2))  # [n, h, w, c, 3, 3]
    cols = patches.reshape(n * h * wd, c * 9)
    kernel = w.transpose(2, 0, 1, 3).reshape(c * 9, -1)  # HWIO -> (c, kh, kw) x out
    return np.maximum(cols @ kernel + b, 0.0).reshape(n, h, wd, -1)


def tf_pool(x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def tf_forward(g: dict[str, np.ndarray], examples: np.ndarray) -> np.ndarray:
    """``define_vggish_slim`` on [batch, 96, 64]: the "embedding" tensor (fc2, no activation)."""

    def conv(x, scope):
        return tf_conv_same(x, g[f"vggish/{scope}/weights"], g[f"vggish/{scope}/biases"])

    x = examples.reshape(-1, 96, 64, 1)
    x = tf_pool(conv(x, "conv1"))
    x = tf_pool(conv(x, "conv2"))
    x = tf_pool(conv(conv(x, "conv3/conv3_1"), "conv3/conv3_2"))
    x = tf_pool(conv(conv(x, "conv4/conv4_1"), "conv4/conv4_2"))
    x = x.reshape(x.shape[0], -1)  # slim.flatten of NHWC
    for scope in ("fc1/fc1_1", "fc1/fc1_2"):
        x = np.maximum(x @ g[f"vggish/{scope}/weights"] + g[f"vggish/{scope}/biases"], 0.0)
    return x @ g["vggish/fc2/weights"] + g["vggish/fc2/biases"]


def to_tensorflow(model: VGGish) -> dict[str, np.ndarray]:
    """Our weights under vggish_model.ckpt's names and layouts (HWIO kernels, [in, out] dense)."""
    scopes = {
        "conv1": "conv1", "conv2": "conv2", "conv3_1": "conv3/conv3_1",
        "conv3_2": "conv3/conv3_2", "conv4_1": "conv4/conv4_1", "conv4_2": "conv4/conv4_2",
        "fc1_1": "fc1/fc1_1", "fc1_2": "fc1/fc1_2", "fc2": "fc2",
    }  # fmt: skip
    out = {}
    for ours, theirs in scopes.items():
        w = getattr(model, ours).weight.detach()
        w = w.permute(2, 3, 1, 0) if w.ndim == 4 else w.T  # OIHW -> HWIO; [out, in] -> [in, out]
        out[f"vggish/{theirs}/weights"] = w.contiguous().numpy()
        out[f"vggish/{theirs}/biases"] = getattr(model, ours).bias.detach().numpy().copy()
    return out


# -- torchvggish's module layout (harritaylor/torchvggish, vggish.py) -----------------------------


class TorchVGGishLike(nn.Module):
    """torchvggish's ``VGG``: ``features`` (make_layers), a transpose to NHWC, ``embeddings``
    ending in a ReLU."""

    def __init__(self) -> None:
        super().__init__()
        layers, c = [], 1
        for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M"]:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True), nn.Linear(4096, 4096), nn.ReLU(True),
            nn.Linear(4096, 128), nn.ReLU(True),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [N, 1, 96, 64]
        x = self.features(x)
        x = torch.transpose(x, 1, 3)
        x = torch.transpose(x, 1, 2)
        return self.embeddings(x.contiguous().view(x.size(0), -1))


def to_torchvggish(model: VGGish) -> dict[str, torch.Tensor]:
    names = {
        "conv1": "features.0", "conv2": "features.3", "conv3_1": "features.6",
        "conv3_2": "features.8", "conv4_1": "features.11", "conv4_2": "features.13",
        "fc1_1": "embeddings.0", "fc1_2": "embeddings.2", "fc2": "embeddings.4",
    }  # fmt: skip
    return {
        f"{theirs}.{p}": getattr(getattr(model, ours), p).detach().clone()
        for ours, theirs in names.items()
        for p in ("weight", "bias")
    }


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model() -> VGGish:
    """Random weights, rescaled from PyTorch's default init to He's variance so that the
    activations keep their scale through the 9 layers (outputs of order 1, not 1e-2)."""
    torch.manual_seed(0)
    m = vggish()
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(6**0.5 if p.ndim > 1 else 1.0)
    return m


@pytest.fixture(scope="module")
def tf_variables(model) -> dict[str, np.ndarray]:
    return to_tensorflow(model)


@pytest.fixture(scope="module")
def examples() -> torch.Tensor:
    return VGGishFrontend()(torch.from_numpy(test_signal(3.2)))  # 3 examples


@pytest.fixture(scope="module")
def reference(model, examples) -> np.ndarray:
    with torch.inference_mode():
        return model(examples)["embeddings"].numpy()


def random_pca(seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((128, 128)))
    return {"pca_eigen_vectors": q * 3.0, "pca_means": rng.standard_normal(128) * 0.1}


# -- the input pipeline ----------------------------------------------------------------------------


def test_mel_matrix_matches_mel_features():
    ours = vggish_mel_matrix()
    ref = ref_mel_matrix()
    assert ours.shape == (257, 64)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    assert (ours[0] == 0).all()  # the DC bin excluded, as HTK
    assert ours.max() <= 1.0 and (ours.max(axis=0) > 0.5).all()  # peak-1 triangles, no area norm


@pytest.mark.parametrize(
    ("seconds", "n_examples"), [(1.0, 1), (10.0, 10), (0.9, 0), (0.96, 0), (0.975, 1), (2.0, 2)]
)
def test_example_counts(seconds, n_examples):
    n = round(seconds * SR)
    out = VGGishFrontend()(torch.zeros(n))
    assert tuple(out.shape) == (n_examples, 96, 64)
    assert len(ref_examples(np.zeros(n))) == n_examples


def test_frontend_matches_numpy_mel_features():
    """float32 torch against float64 NumPy. Measured: max |error| 1.2e-5, median 3.6e-7, on
    log-mel values in [-4.6, 3.7] (the silent gap sits at log(0.01)); up to 3.4e-5 on louder
    versions of the signal. Tolerance: 1e-4."""
    x = test_signal(3.5)
    ref = ref_examples(x)
    ours = VGGishFrontend()(torch.from_numpy(x)).numpy()
    assert ours.shape == ref.shape == (3, 96, 64)
    err = np.abs(ours - ref)
    assert err.max() < 1e-4, err.max()
    assert np.median(err) < 1e-6
    # a batch of two waveforms: examples of each, waveform-major
    both = VGGishFrontend()(torch.from_numpy(np.stack([x, x[::-1].copy()]))).numpy()
    np.testing.assert_array_equal(both[:3], ours)
    np.testing.assert_allclose(both[3:], ref_examples(x[::-1].copy()), rtol=0, atol=1e-4)


def test_embedder_examples_short_input_and_resampling(model):
    m = VGGishEmbedder(model)
    x = test_signal(2.5)
    np.testing.assert_array_equal(m.examples(x).numpy(), VGGishFrontend()(torch.from_numpy(x)))
    short = x[:12_000]  # 0.75 s
    assert m.examples(short, pad_short=False).shape == (0, 96, 64)
    padded = m.examples(short)  # repeated until one example fits
    tiled = np.tile(short, 2)[:EXAMPLE_SAMPLES]
    assert padded.shape == (1, 96, 64)
    np.testing.assert_array_equal(padded.numpy(), VGGishFrontend()(torch.from_numpy(tiled)))
    assert m.examples(np.zeros(0, np.float32)).shape == (0, 96, 64)
    out = m.embed(np.zeros(0, np.float32))
    assert out["embeddings"].shape == (0, 128) and out["embeddings"].dtype == np.float32
    x44 = test_signal(1.2)[: int(1.2 * SR)]
    x44 = soxr.resample(x44, SR, 44_100, quality="HQ").astype(np.float32)
    expected = soxr.resample(x44, 44_100, SR, quality="HQ").astype(np.float32)
    np.testing.assert_array_equal(
        m.examples(x44, 44_100).numpy(), VGGishFrontend()(torch.from_numpy(expected)).numpy()
    )
    with pytest.raises(ValueError, match="mono"):
        m.examples(np.zeros((2, 16000), np.float32))
    for bad in (0, -1):  # not silently zero rows
        with pytest.raises(ValueError, match="batch_size"):
            m.embed(x, batch_size=bad)


# -- the network and its weights -------------------------------------------------------------------


def test_architecture_shapes(model, examples):
    out = model(examples)
    assert list(out) == ["embeddings"] and tuple(out["embeddings"].shape) == (3, 128)
    assert model.fc1_1.in_features == 6 * 4 * 512
    assert sum(p.numel() for p in model.parameters()) == 72_141_184
    assert (out["embeddings"] < 0).any()  # no ReLU after fc2, as the original


def test_tensorflow_layout_round_trip(tf_variables, examples, reference):
    variables = tf_variables
    assert variables["vggish/conv1/weights"].shape == (3, 3, 1, 64)
    assert variables["vggish/fc1/fc1_1/weights"].shape == (12288, 4096)
    # the exported variables run through an emulation of the TensorFlow graph give our outputs
    # (float32 both; measured max |difference| 3.3e-5 on outputs up to 15.6)
    emulated = tf_forward(variables, examples.numpy())
    np.testing.assert_allclose(reference, emulated, rtol=1e-4, atol=1e-4 * np.abs(emulated).max())
    # and the loader maps them back onto the same network
    with torch.device("meta"):
        back = VGGish()
    back.load_state_dict(vggish_weights_from_tensorflow(variables), strict=True, assign=True)
    with torch.inference_mode():
        np.testing.assert_array_equal(back(examples)["embeddings"].numpy(), reference)


def test_torchvggish_layout_round_trip(model, examples, reference):
    state = to_torchvggish(model)
    with torch.device("meta"):
        theirs = TorchVGGishLike()
    theirs.load_state_dict(state, strict=True, assign=True)  # their names and shapes
    with torch.inference_mode():
        their_out = theirs(examples.unsqueeze(1)).numpy()
    # their forward ends in a ReLU: ours is its input
    np.testing.assert_allclose(their_out, np.maximum(reference, 0), rtol=1e-5, atol=1e-6)
    with torch.device("meta"):
        back = VGGish()
    back.load_state_dict(vggish_weights_from_torchvggish(state), strict=True, assign=True)
    with torch.inference_mode():
        np.testing.assert_array_equal(back(examples)["embeddings"].numpy(), reference)


def test_loaders_name_leftover_and_missing_variables(model, tf_variables):
    variables = tf_variables
    extra = {**variables, "vggish/fc3/weights": np.zeros(1), "vggish/conv1/weights/Adam": 0}
    with pytest.raises(KeyError, match=r"not mapped onto VGGish \['vggish/fc3/weights'\]"):
        vggish_weights_from_tensorflow(extra)
    partial = {k: a for k, a in variables.items() if k != "vggish/conv2/biases"}
    with pytest.raises(KeyError, match=r"missing \['vggish/conv2/biases'\]"):
        vggish_weights_from_tensorflow(partial)
    state = to_torchvggish(model)
    with pytest.raises(KeyError, match=r"not mapped onto VGGish \['features.15.weight'\]"):
        vggish_weights_from_torchvggish({**state, "features.15.weight": torch.zeros(1)})
    del state["embeddings.4.bias"]
    with pytest.raises(KeyError, match=r"missing \['embeddings.4.bias'\]"):
        vggish_weights_from_torchvggish(state)
    with pytest.raises(KeyError, match="pca_means"):
        vggish_pca({"pca_eigen_vectors": np.eye(128)})
    with pytest.raises(KeyError, match="not mapped onto VGGish \\['extra'\\]"):
        vggish_pca({**random_pca(), "extra": 1})


def test_postprocessor_quantisation_by_hand():
    with torch.device("meta"):
        m = VGGish(postprocess=True)
    e = torch.eye(128, dtype=torch.float64)
    e[[0, 1]] = e[[1, 0]]  # output 0 reads input 1 and vice versa
    m.pca_eigen_vectors = e
    m.pca_means = torch.full((128,), 1.0, dtype=torch.float64)
    x = torch.ones(1, 128)
    x[0, :7] = torch.tensor([1.0, 3.5, -5.0, 1.0, 2.0, 0.0, 1.5])
    # PCA: (x - 1) with dims 0 and 1 swapped: [2.5, 0, -6, 0, 1, -1, 0.5, 0, ...]
    # clip to [-2, 2]: [2, 0, -2, 0, 1, -1, 0.5, 0 ...]; (v + 2) * 63.75:
    # [255, 127.5, 0, 127.5, 191.25, 63.75, 159.375, 127.5 ...]
    floor = m.postprocess_embeddings(x)[0, :8].tolist()
    assert floor == [255, 127, 0, 127, 191, 63, 159, 127]  # Google: astype(np.uint8) truncates
    m.quantisation = "round"
    assert m.postprocess_embeddings(x)[0, :8].tolist() == [255, 128, 0, 128, 191, 64, 159, 128]
    assert m.postprocess_embeddings(x).dtype == torch.float32


def test_load_vggish_npz_with_pca(tf_variables, examples, reference, tmp_path):
    np.savez(tmp_path / "vggish_model.npz", **tf_variables)  # names with "/" survive
    pca = random_pca()
    np.savez(tmp_path / "vggish_pca_params.npz", **pca)
    m = load_vggish(tmp_path / "vggish_model.npz", pca=tmp_path / "vggish_pca_params.npz")
    assert m.layers == {"embeddings": 128, "postprocessed": 128}
    out = m.forward(examples)
    np.testing.assert_array_equal(out["embeddings"].numpy(), reference)
    pca_applied = (reference.astype(np.float64) - pca["pca_means"]) @ pca["pca_eigen_vectors"].T
    expected = ((np.clip(pca_applied, -2, 2) + 2) * (255.0 / 4)).astype(np.uint8)
    np.testing.assert_array_equal(out["postprocessed"].numpy(), expected.astype(np.float32))
    embedded = m.embed(test_signal(3.2))
    np.testing.assert_array_equal(embedded["embeddings"], reference)


def test_load_vggish_torchvggish_pth(model, examples, reference, tmp_path):
    torch.save(to_torchvggish(model), tmp_path / "vggish-10086976.pth")
    torch.save(random_pca(), tmp_path / "vggish_pca_params-970ea276.pth")  # NumPy arrays inside
    m = load_vggish(
        tmp_path / "vggish-10086976.pth",
        pca=tmp_path / "vggish_pca_params-970ea276.pth",
        quantisation="round",
    )
    out = m.forward(examples)
    np.testing.assert_array_equal(out["embeddings"].numpy(), reference)
    assert out["postprocessed"].min() >= 0 and out["postprocessed"].max() <= 255
    assert m.network.quantisation == "round"


def test_load_vggish_formats_and_errors(tf_variables, reference, examples, tmp_path, monkeypatch):
    variables = tf_variables
    # a TensorFlow V2 checkpoint prefix is read with read_checkpoint
    (tmp_path / "model.ckpt.index").write_bytes(b"")
    monkeypatch.setattr(checkpoint, "read_checkpoint", lambda prefix: variables)
    m = load_vggish(tmp_path / "model.ckpt")
    np.testing.assert_array_equal(m.forward(examples)["embeddings"].numpy(), reference)
    # Google's V1 vggish_model.ckpt: told how to convert it
    (tmp_path / "vggish_model.ckpt").write_bytes(b"\0" * 64)
    with pytest.raises(ValueError, match=r"tf\.train\.load_checkpoint"):
        load_vggish(tmp_path / "vggish_model.ckpt")
    with pytest.raises(FileNotFoundError, match=r"does not ship.*storage\.googleapis\.com"):
        load_vggish(tmp_path / "nowhere.npz")
    with pytest.raises(ValueError, match="unrecognised VGGish weights"):
        load_vggish({"weights": np.zeros(1)})


def test_own_state_dict_round_trip(model, examples, reference, tmp_path):
    from safetensors.torch import save_file

    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, tmp_path / "v.safetensors"
    )
    m = load_vggish(tmp_path / "v.safetensors", pca=random_pca())
    np.testing.assert_array_equal(m.forward(examples)["embeddings"].numpy(), reference)
    assert m.network.pca_means.dtype == torch.float64


def test_forward_output_is_relu_free_and_relu_gives_torchvggish(model, examples, reference):
    # what a torchvggish user gets from the same weights
    with torch.inference_mode():
        torchvggish_like = F.relu(model(examples)["embeddings"]).numpy()
    assert (torchvggish_like >= 0).all() and (reference < 0).any()


def test_docs_say_how_to_add_weights():
    import embedexplore.models.vggish_net as module

    doc = module.__doc__
    for needle in ("vggish_model.ckpt", "vggish_pca_params.npz", "tf.train.load_checkpoint",
                   "vggish-10086976.pth", "does not ship"):  # fmt: skip
        assert needle in doc, needle
    assert Path(module.__file__).name == "vggish_net.py"


# -- segments: the pipeline's cut of a track, run by VGGishSegments -------------------------------


def cut_segments(x: np.ndarray, segment: int, hop: int) -> np.ndarray:
    """The pipeline's cut: segment ``k`` is ``x[k * hop : k * hop + segment]``, ``1 + (n - segment)
    // hop`` of them (a partial tail dropped); a non-empty ``x`` shorter than one segment is first
    repeated until it has ``segment`` samples."""
    if 0 < x.size < segment:
        x = np.tile(x, -(-segment // x.size))[:segment]
    if x.size < segment:
        return np.zeros((0, segment), x.dtype)
    return np.stack([x[k * hop : k * hop + segment] for k in range(1 + (x.size - segment) // hop)])


@pytest.fixture(scope="module")
def pca_network(model) -> VGGish:
    """``model``'s weights (shared, not copied) with PCA parameters scaled to its embeddings (std
    about 5), so that most postprocessed values fall inside [0, 255] rather than on the clip."""
    pca = random_pca()
    pca["pca_eigen_vectors"] = pca["pca_eigen_vectors"] / 15.0
    with torch.device("meta"):
        network = VGGish(postprocess=True)
    state = {**model.state_dict(), **vggish_pca(pca)}
    network.load_state_dict(state, strict=True, assign=True)
    return network.eval()


def test_segment_clock_is_the_examples_clock():
    clock = VGGishSegments.sample_rate, VGGishSegments.segment_samples, VGGishSegments.hop_samples
    assert clock == (SR, SEGMENT_SAMPLES, SEGMENT_HOP_SAMPLES) == (16_000, 15_600, 15_360)
    # every length from one segment to 3 minutes: as many segments as the embedder has examples
    n = np.arange(SEGMENT_SAMPLES, 180 * SR)
    np.testing.assert_array_equal(
        1 + (n - SEGMENT_SAMPLES) // SEGMENT_HOP_SAMPLES, (1 + (n - 400) // 160) // 96
    )


def test_segments_give_the_embedders_examples(model, pca_network):
    """The pipeline's cut run by VGGishSegments against VGGishEmbedder.embed on the whole signal,
    with PCA postprocessing (``pca_network``) and without (``model``: the same weights).

    Measured: bit-identical on the CPU (the same frames, the same float32 operations). Tolerance,
    for BLAS kernels that may differ with the batch shape: 1e-5 relative to the largest
    embedding (about 15); postprocessed values (whole numbers 0..255) at most 1 apart, in at most
    0.5 % of the entries (a PCA value within float32 noise of a quantisation step).
    """
    embedder = VGGishEmbedder(pca_network)
    with_pca, without = VGGishSegments(pca_network), VGGishSegments(model)
    assert layers(pca_network) == {"embeddings": 128, "postprocessed": 128}
    assert layers(model) == {"embeddings": 128}
    assert with_pca.layers == layers(with_pca) == layers(embedder) == embedder.layers
    assert without.layers == layers(without) == layers(VGGishEmbedder(model))
    for seconds in (6.3, 0.5):  # 6 segments and a partial tail (0.525 s); one, repeat-padded
        x = test_signal(seconds)
        cut = cut_segments(x, SEGMENT_SAMPLES, SEGMENT_HOP_SAMPLES)
        expected = embedder.embed(x)  # its "embeddings" are also those of model
        assert len(cut) == (1 + (max(x.size, SEGMENT_SAMPLES) - 400) // 160) // 96
        assert len(cut) == len(expected["embeddings"]) == (6 if seconds > 1 else 1)
        for segments in (without, with_pca):
            with torch.inference_mode():
                out = segments(torch.from_numpy(cut))
            assert list(out) == list(segments.layers)
            for name, dim in segments.layers.items():
                assert out[name].shape == (len(cut), dim) and out[name].dtype == torch.float32
            ours, theirs = out["embeddings"].numpy(), expected["embeddings"]
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * np.abs(theirs).max())
        ours, theirs = out["postprocessed"].numpy(), expected["postprocessed"]  # with_pca's
        assert np.abs(ours - theirs).max() <= 1 and (ours != theirs).mean() <= 0.005
        assert ((theirs > 0) & (theirs < 255)).mean() > 0.5  # not just the clip's ends


def test_segments_input_checks_and_float32(model):
    segments = VGGishSegments(model)
    for shape in ((SEGMENT_SAMPLES,), (2, SEGMENT_SAMPLES - 1), (1, 1, SEGMENT_SAMPLES)):
        with pytest.raises(ValueError, match="15600"):
            segments(torch.zeros(shape))
    with pytest.raises(TypeError, match="VGGish"):
        VGGishSegments(TorchVGGishLike())
    with pytest.raises(TypeError, match="VGGish"):
        layers(nn.Linear(1, 1))
    with torch.inference_mode():
        assert segments(torch.zeros(0, SEGMENT_SAMPLES))["embeddings"].shape == (0, 128)
    x = test_signal(1.0)[:SEGMENT_SAMPLES]
    embedder = VGGishEmbedder(model)
    expected = embedder.embed(x)["embeddings"]
    # float32 whatever the caller set up: a surrounding bf16 autocast is off, and the old
    # allow_tf32 switch (which the embedder used to read) is never read: it raises once the newer
    # fp32_precision API has made cuDNN's conv and RNN flags differ, as tf32(False, "cuda") does
    cudnn = torch.backends.cudnn
    saved = getattr(getattr(cudnn, "conv", None), "fp32_precision", None)  # torch >= 2.9
    try:
        if saved is not None:
            cudnn.conv.fp32_precision = "ieee"
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            out = segments(torch.from_numpy(x[None]).double())  # any float dtype, cast
            embedded = embedder.embed(x)["embeddings"]
    finally:
        if saved is not None:
            cudnn.conv.fp32_precision = saved
    np.testing.assert_array_equal(out["embeddings"].numpy(), expected)
    np.testing.assert_array_equal(embedded, expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_segments_on_cuda(pca_network):
    """On a GPU: float32 cuDNN against the CPU (1e-4 relative to the largest embedding, as the
    other models' GPU parity; postprocessed values at most one step apart, in at most 5 % of the
    entries: an embedding error e moves a PCA value by about 2.3 e, i.e. 150 e steps), and TF32
    switched on around the call changes nothing. Not yet run on a GPU."""
    from embedexplore.models.arithmetic import tf32

    with torch.device("meta"):
        network = VGGish(postprocess=True)  # a copy on the GPU: the fixture stays on the CPU
    state = {k: v.to("cuda") for k, v in pca_network.state_dict().items()}
    network.load_state_dict(state, strict=True, assign=True)
    segments = VGGishSegments(network)
    assert segments.frontend.mel_basis.device.type == "cuda"
    cut = torch.from_numpy(cut_segments(test_signal(5.0), SEGMENT_SAMPLES, SEGMENT_HOP_SAMPLES))
    with torch.inference_mode():
        expected = VGGishSegments(pca_network)(cut)
        out = segments(cut.to("cuda"))
        with tf32(True, "cuda"):
            out_tf32 = segments(cut)  # moved to the GPU by forward
    assert out["embeddings"].device.type == "cuda"
    ours, theirs = out["embeddings"].cpu().numpy(), expected["embeddings"].numpy()
    scale = np.abs(theirs).max()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4 * scale)
    # TF32 leaking in would move them by about 1e-3
    np.testing.assert_allclose(out_tf32["embeddings"].cpu(), ours, rtol=0, atol=1e-5 * scale)
    ours, theirs = out["postprocessed"].cpu().numpy(), expected["postprocessed"].numpy()
    assert np.abs(ours - theirs).max() <= 1 and (ours != theirs).mean() <= 0.05


def test_vggish_net_is_the_one_import_path():
    """The split modules import one another in one direction only (no cycle), and
    ``vggish_net`` (named by the README and by help()) re-exports every public name."""
    import embedexplore.models.vggish_net as facade

    order = ["vggish_frontend", "vggish_network", "vggish_embedder", "vggish_weights", "vggish_net"]
    for i, name in enumerate(order):
        module = importlib.import_module(f"embedexplore.models.{name}")
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        nodes = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        imported = {node.module for node in nodes if node.level == 1}
        assert not imported & set(order[i:]), f"{name} imports {imported & set(order[i:])}"
        for public in module.__all__:
            assert getattr(facade, public) is getattr(module, public), public
            assert public in facade.__all__, public
