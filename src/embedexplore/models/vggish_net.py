"""VGGish (Hershey et al., 2017): Google's AudioSet embedding model, 128-d per 0.96 s example.

A PyTorch reimplementation of ``research/audioset/vggish`` in tensorflow/models (Apache 2.0):
``vggish_input.py`` and ``mel_features.py`` (the input pipeline), ``vggish_slim.py`` (the
network), ``vggish_params.py`` (the constants) and ``vggish_postprocess.py`` (PCA and 8-bit
quantisation), written from those sources so that the original trained weights load and give the
same outputs.

Input pipeline (:class:`VGGishFrontend`; audio first resampled to 16 kHz mono, soxr HQ here where
the original uses resampy):

- frames of 25 ms (400 samples) every 10 ms (160 samples), taken without centring or padding,
  so ``n_frames = 1 + (n - 400) // 160``; a periodic Hann window; the magnitude (not the power)
  of a 512-point real FFT (the window length rounded up to a power of two): 257 bins;
- 64 mel bands from 125 to 7500 Hz, HTK mel scale ``1127 ln(1 + f / 700)``, triangles of peak 1
  (no area normalisation) linear in mel, the DC bin's weights set to zero (``mel_features``'
  ``spectrogram_to_mel_matrix``); ``log(mel + 0.01)``;
- non-overlapping examples of 96 frames (0.96 s, hop 96 frames); a partial last example is
  dropped. Example ``k`` starts at ``k * 0.96`` s and reads 0.975 s of audio (95 hops plus one
  window), so a waveform yields ``(1 + (n - 400) // 160) // 96`` examples: 1 s -> 1, 10 s -> 10,
  less than 0.975 s (15600 samples) -> none. :meth:`VGGishEmbedder.embed` repeats a shorter
  non-empty waveform until it fills one example, as embedexplore does for its other models, so
  that every non-empty track gets one row (``pad_short=False``: none, as the original).

Network (:class:`VGGish`, ``vggish_slim.define_vggish_slim``), input ``[batch, 96, 64]`` read as
an image of 96 rows (time) x 64 columns (mel), one channel; every convolution 3x3, stride 1,
"same" padding, followed by a ReLU; every max-pool 2x2 stride 2:

conv1 64, pool -> 48 x 32; conv2 128, pool -> 24 x 16; conv3_1 256, conv3_2 256, pool -> 12 x 8;
conv4_1 512, conv4_2 512, pool -> 6 x 4 x 512; flattened in TensorFlow's NHWC order (12288);
fc1_1 4096, ReLU; fc1_2 4096, ReLU; fc2 128 ("embeddings"), with NO activation.

The final ReLU: the original's ``fc2`` has ``activation_fn=None`` ("the embedding layer does not
include a final non-linear activation, so the embedding value is pre-activation", its README);
early versions of ``vggish_slim.py`` and the common PyTorch port (harritaylor/torchvggish,
``nn.Linear(4096, 128), nn.ReLU(True)``) apply a ReLU after it. This module follows the
original: ``embeddings`` are pre-activation, and ``F.relu(out["embeddings"])`` gives torchvggish's
output from the same weights.

Postprocessing (``vggish_postprocess.Postprocessor``, only when PCA parameters are loaded):
``(x - pca_means) @ pca_eigen_vectors.T`` (PCA with whitening), clipped to [-2, 2], mapped to
[0, 255] by ``(x + 2) * 255 / 4`` and cast to 8 bits: the original truncates (``astype(uint8)``),
torchvggish rounds; ``quantisation=`` picks which; the values are returned as float32
("postprocessed"). This is the format of the embeddings released with AudioSet.

Weights: embedexplore does not ship VGGish's weights and cannot download them; no public copy is
reachable from where the package is built, so the tests check the architecture with random
weights converted both ways. A user supplies one of:

- Google's ``vggish_model.ckpt`` and optionally ``vggish_pca_params.npz``, listed in the
  tensorflow/models ``research/audioset/vggish`` README:
  https://storage.googleapis.com/audioset/vggish_model.ckpt and
  https://storage.googleapis.com/audioset/vggish_pca_params.npz. The checkpoint is a single
  file in TensorFlow's old V1 format, which :func:`embedexplore.models.checkpoint.read_checkpoint`
  (V2 bundles only) cannot read: convert it once, where TensorFlow is installed, to a ``.npz`` of
  its variables::

      import numpy as np, tensorflow as tf
      reader = tf.train.load_checkpoint("vggish_model.ckpt")
      names = reader.get_variable_to_shape_map()
      np.savez("vggish_model.npz", **{name: reader.get_tensor(name) for name in names})

  (a V2 checkpoint, ``<prefix>.index`` + ``<prefix>.data-00000-of-00001``, is read directly);
- torchvggish's release files ``vggish-10086976.pth`` and ``vggish_pca_params-970ea276.pth``
  (https://github.com/harritaylor/torchvggish/releases/tag/v0.1), converted by its author from
  Google's checkpoint;

and loads them with :func:`load_vggish`::

    model = load_vggish("vggish_model.npz", pca="vggish_pca_params.npz")
    out = model.embed(waveform, sample_rate=44100)   # {"embeddings": [n, 128], ...}
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .waveform import mono_16k, resolve_device

__all__ = [
    "EXAMPLE_FRAMES",
    "EXAMPLE_HOP_SAMPLES",
    "EXAMPLE_SAMPLES",
    "VGGish",
    "VGGishEmbedder",
    "VGGishFrontend",
    "load_vggish",
    "vggish",
    "vggish_mel_matrix",
    "vggish_pca",
    "vggish_weights_from_tensorflow",
    "vggish_weights_from_torchvggish",
]

# vggish_params.py
SAMPLE_RATE = 16_000
WINDOW_LENGTH = 400  # 25 ms
HOP_LENGTH = 160  # 10 ms
FFT_LENGTH = 512  # 2 ** ceil(log2(400))
N_MELS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96
"""Frames per example (0.96 s)."""
EXAMPLE_SAMPLES = (EXAMPLE_FRAMES - 1) * HOP_LENGTH + WINDOW_LENGTH
"""Samples one example reads (15600, 0.975 s): the shortest waveform that yields one example."""
EXAMPLE_HOP_SAMPLES = EXAMPLE_FRAMES * HOP_LENGTH
"""Samples between the starts of successive examples (15360, 0.96 s)."""
EMBEDDING_SIZE = 128
QUANTIZE_MIN, QUANTIZE_MAX = -2.0, 2.0
_FLAT = 6 * 4 * 512
_FRONTEND_EXAMPLES = 64  # examples per frontend call in VGGishEmbedder (about a minute of audio)

_WHERE = (
    "embedexplore does not ship VGGish's weights and cannot download them. Get either Google's "
    "vggish_model.ckpt (https://storage.googleapis.com/audioset/vggish_model.ckpt; convert it "
    "once to .npz with TensorFlow, see help(embedexplore.models.vggish_net)) and "
    "vggish_pca_params.npz (https://storage.googleapis.com/audioset/vggish_pca_params.npz), or "
    "torchvggish's vggish-10086976.pth and vggish_pca_params-970ea276.pth "
    "(https://github.com/harritaylor/torchvggish/releases/tag/v0.1)"
)


# -- input pipeline -------------------------------------------------------------------------------


def _periodic_hann(n: int) -> np.ndarray:
    """The periodic Hann window ``0.5 - 0.5 cos(2 pi i / n)``, ``i = 0 .. n-1`` (float64)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def _hz_to_mel(hz):
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def vggish_mel_matrix(
    n_mels: int = N_MELS,
    n_bins: int = FFT_LENGTH // 2 + 1,
    sample_rate: int = SAMPLE_RATE,
    fmin: float = MEL_MIN_HZ,
    fmax: float = MEL_MAX_HZ,
) -> np.ndarray:
    """The mel weights of ``mel_features.spectrogram_to_mel_matrix``.

    Parameters
    ----------
    n_mels : int, default: 64
        Mel bands.
    n_bins : int, default: 257
        Frequency bins of the magnitude spectrum (``n_fft // 2 + 1``).
    sample_rate : int, default: 16000
        Sample rate of the audio in Hz.
    fmin, fmax : float, default: 125.0, 7500.0
        Lowest and highest edge of the bands in Hz.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of shape ``(n_bins, n_mels)``: ``mel = magnitude @ matrix``. Bin ``j``
        is at ``j * (sr / 2) / (n_bins - 1)`` Hz; band ``i`` is the triangle over the HTK-mel
        edges ``e[i], e[i+1], e[i+2]`` (``n_mels + 2`` points evenly spaced in mel from ``fmin``
        to ``fmax``), linear in mel, peak 1; row 0 (DC) is zero.

    Raises
    ------
    ValueError
        Unless ``0 <= fmin < fmax <= sample_rate / 2``.
    """
    if not 0.0 <= fmin < fmax <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= {sample_rate / 2}, got {fmin}, {fmax}")
    bins = _hz_to_mel(np.linspace(0.0, sample_rate / 2, n_bins))[:, None]  # [n_bins, 1]
    edges = np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]  # [n_mels] each
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0] = 0.0  # the DC bin, as HTK
    return weights


class VGGishFrontend(nn.Module):
    """Waveforms ``[batch, samples]`` at 16 kHz -> VGGish's log-mel examples ``[n, 96, 64]``.

    The arithmetic is float32 (the original: float64 NumPy); see the module docstring for the
    steps. The window and the mel matrix are buffers, so the module runs on any device.
    """

    def __init__(self) -> None:
        super().__init__()
        window = torch.from_numpy(_periodic_hann(WINDOW_LENGTH)).float()
        self.register_buffer("window", window, persistent=False)
        mel = torch.from_numpy(vggish_mel_matrix()).float()
        self.register_buffer("mel_basis", mel, persistent=False)  # [257, 64]

    def extra_repr(self) -> str:
        return (
            f"sr={SAMPLE_RATE}, window={WINDOW_LENGTH}, hop={HOP_LENGTH}, n_fft={FFT_LENGTH}, "
            f"n_mels={N_MELS} ({MEL_MIN_HZ:g}-{MEL_MAX_HZ:g} Hz), examples of {EXAMPLE_FRAMES}"
        )

    def magnitude(self, waveform: torch.Tensor) -> torch.Tensor:
        """The STFT magnitude of 25 ms frames every 10 ms (periodic Hann, 512-point FFT).

        Parameters
        ----------
        waveform : torch.Tensor
            Audio at 16 kHz of shape ``(batch, samples)`` or ``(samples,)``.

        Returns
        -------
        torch.Tensor
            ``float32`` tensor of shape ``(batch, frames, 257)`` (``batch`` 1 for a 1-D
            waveform), ``frames = 1 + (samples - 400) // 160``, zero when ``samples < 400``.
        """
        x = waveform.float()
        if x.ndim == 1:
            x = x.unsqueeze(0)
        if x.shape[-1] < WINDOW_LENGTH:
            return x.new_zeros((x.shape[0], 0, FFT_LENGTH // 2 + 1))
        frames = x.unfold(-1, WINDOW_LENGTH, HOP_LENGTH) * self.window  # [B, T, 400]
        return torch.fft.rfft(frames, n=FFT_LENGTH).abs()

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """The log-mel spectrogram ``log(mel + 0.01)``.

        Parameters
        ----------
        waveform : torch.Tensor
            Audio at 16 kHz of shape ``(batch, samples)`` or ``(samples,)``.

        Returns
        -------
        torch.Tensor
            ``float32`` tensor of shape ``(batch, frames, 64)``, frames as :meth:`magnitude`.
        """
        return torch.log(self.magnitude(waveform) @ self.mel_basis + LOG_OFFSET)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """The log-mel examples of each waveform.

        Parameters
        ----------
        waveform : torch.Tensor
            Audio at 16 kHz of shape ``(batch, samples)`` or ``(samples,)``.

        Returns
        -------
        torch.Tensor
            ``float32`` tensor of shape ``(batch * n_examples, 96, 64)``, with
            ``n_examples = frames // 96`` per waveform; rows ``b * n_examples ..`` are waveform
            ``b``'s examples in time order. Empty when a waveform is shorter than 15600 samples.
        """
        logmel = self.log_mel(waveform)
        batch, frames, _ = logmel.shape
        n = frames // EXAMPLE_FRAMES
        return logmel[:, : n * EXAMPLE_FRAMES].reshape(batch * n, EXAMPLE_FRAMES, N_MELS)


# -- network --------------------------------------------------------------------------------------

_CONVS = (
    ("conv1", 1, 64), ("conv2", 64, 128), ("conv3_1", 128, 256), ("conv3_2", 256, 256),
    ("conv4_1", 256, 512), ("conv4_2", 512, 512),
)  # fmt: skip
_FCS = (("fc1_1", _FLAT, 4096), ("fc1_2", 4096, 4096), ("fc2", 4096, EMBEDDING_SIZE))
QUANTISATIONS = ("floor", "round")


class VGGish(nn.Module):
    """The VGGish network. Input ``[batch, 96, 64]`` log-mel examples; output a dict of layers.

    Parameters
    ----------
    postprocess : bool, default: False
        Hold the PCA parameters (buffers ``pca_means`` [128] and ``pca_eigen_vectors``
        [128, 128], float64, zeros until set by ``load_state_dict``) and add the "postprocessed"
        layer.
    quantisation : {"floor", "round"}, default: "floor"
        How the postprocessor maps to 8 bits: ``"floor"`` as Google's ``vggish_postprocess``
        (``astype(np.uint8)`` truncates), ``"round"`` as torchvggish.

    Attributes
    ----------
    dims : dict of str to int
        ``{"embeddings": 128}``, plus ``"postprocessed": 128`` with ``postprocess=True``.

    Raises
    ------
    ValueError
        An unknown ``quantisation``.

    Notes
    -----
    No ReLU after ``fc2``, as in the original (see the module docstring). Module names follow
    the original's variable scopes: ``conv1 .. conv4_2``, ``fc1_1``, ``fc1_2``, ``fc2``.
    """

    LAYERS = ("embeddings", "postprocessed")

    def __init__(self, *, postprocess: bool = False, quantisation: str = "floor") -> None:
        super().__init__()
        if quantisation not in QUANTISATIONS:
            raise ValueError(f"quantisation must be one of {QUANTISATIONS}, got {quantisation!r}")
        self.quantisation = quantisation
        self.postprocess = postprocess
        for name, c_in, c_out in _CONVS:
            self.add_module(name, nn.Conv2d(c_in, c_out, 3, padding=1))
        for name, n_in, n_out in _FCS:
            self.add_module(name, nn.Linear(n_in, n_out))
        if postprocess:
            self.register_buffer("pca_means", torch.zeros(EMBEDDING_SIZE, dtype=torch.float64))
            # zeros until loaded (torch.eye on the meta device would import its decompositions)
            self.register_buffer(
                "pca_eigen_vectors",
                torch.zeros(EMBEDDING_SIZE, EMBEDDING_SIZE, dtype=torch.float64),
            )
        self.dims = {"embeddings": EMBEDDING_SIZE}
        if postprocess:
            self.dims["postprocessed"] = EMBEDDING_SIZE

    def extra_repr(self) -> str:
        return f"postprocess={self.postprocess}, quantisation={self.quantisation!r}"

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every layer for a batch of log-mel examples.

        Parameters
        ----------
        x : torch.Tensor
            ``float32`` tensor of shape ``(batch, 96, 64)``: 96 frames (0.96 s) of 64 mel bands.

        Returns
        -------
        dict of str to torch.Tensor
            ``"embeddings"``: shape ``(batch, 128)``, pre-activation (no ReLU); with PCA
            parameters (``postprocess=True``) also ``"postprocessed"``: ``float32`` of shape
            ``(batch, 128)`` holding integers 0..255.
        """
        h = x.unsqueeze(1)  # [B, 1, 96, 64]: NCHW of the original's NHWC [B, 96, 64, 1]
        h = F.max_pool2d(F.relu(self.conv1(h)), 2, 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2, 2)
        h = F.max_pool2d(F.relu(self.conv3_2(F.relu(self.conv3_1(h)))), 2, 2)
        h = F.max_pool2d(F.relu(self.conv4_2(F.relu(self.conv4_1(h)))), 2, 2)  # [B, 512, 6, 4]
        h = h.permute(0, 2, 3, 1).flatten(1)  # NHWC order, as TensorFlow flattens: 12288
        h = F.relu(self.fc1_2(F.relu(self.fc1_1(h))))
        embeddings = self.fc2(h)
        out = {"embeddings": embeddings}
        if self.postprocess:
            out["postprocessed"] = self.postprocess_embeddings(embeddings)
        return out

    def postprocess_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        """PCA (with whitening), clipping to [-2, 2] and 8-bit quantisation.

        Computed in float64, as the original.

        Parameters
        ----------
        embeddings : torch.Tensor
            Tensor of shape ``(batch, 128)``: the ``"embeddings"`` layer.

        Returns
        -------
        torch.Tensor
            ``float32`` tensor of shape ``(batch, 128)`` holding integers 0..255, quantised as
            :attr:`quantisation` says.

        Raises
        ------
        RuntimeError
            This VGGish holds no PCA parameters (``postprocess=False``).
        """
        if not self.postprocess:
            raise RuntimeError("this VGGish holds no PCA parameters (postprocess=False)")
        x = embeddings.double()
        pca = (x - self.pca_means) @ self.pca_eigen_vectors.T
        scaled = (pca.clamp(QUANTIZE_MIN, QUANTIZE_MAX) - QUANTIZE_MIN) * (
            255.0 / (QUANTIZE_MAX - QUANTIZE_MIN)
        )
        q = torch.floor(scaled) if self.quantisation == "floor" else torch.round(scaled)
        return q.float()


def vggish(**params) -> VGGish:
    """A VGGish with random weights (``VGGish(**params)``), in eval mode.

    Parameters
    ----------
    **params
        Keyword arguments of :class:`VGGish`.

    Returns
    -------
    VGGish
        The network, in eval mode, on the CPU.
    """
    return VGGish(**params).eval()


# -- weights --------------------------------------------------------------------------------------


def _numpy(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def _check(kind: str, missing: list[str], left: list[str]) -> None:
    problems = []
    if missing:
        problems.append(f"missing {sorted(missing)}")
    if left:
        problems.append(f"not mapped onto VGGish {sorted(left)}")
    if problems:
        raise KeyError(f"{kind}: " + "; ".join(problems))


def _float32(out: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """float32 C-contiguous copies (torch's copy: parallel, twice NumPy's speed on a transpose)."""
    return {
        k: torch.from_numpy(np.asarray(a, dtype=np.float32)).clone(
            memory_format=torch.contiguous_format
        )
        for k, a in out.items()
    }


def vggish_pca(params) -> dict[str, torch.Tensor]:
    """Map VGGish's PCA parameters onto :class:`VGGish`'s buffers.

    Those of ``vggish_pca_params.npz`` (Google) or ``vggish_pca_params-970ea276.pth``
    (torchvggish).

    Parameters
    ----------
    params : mapping
        ``pca_eigen_vectors`` [128, 128] (rows are the output dimensions) and ``pca_means``
        [128] or [128, 1], NumPy arrays or tensors; nothing else.

    Returns
    -------
    dict of str to torch.Tensor
        ``pca_eigen_vectors``: ``float64`` tensor of shape ``(128, 128)``; ``pca_means``:
        ``float64`` tensor of shape ``(128,)``.

    Raises
    ------
    KeyError
        An entry is missing or left over (the message names it).
    ValueError
        An entry has the wrong shape.
    """
    expected = ("pca_eigen_vectors", "pca_means")
    _check(
        "PCA parameters",
        [k for k in expected if k not in params],
        [k for k in params if k not in expected],
    )
    vectors = _numpy(params["pca_eigen_vectors"]).astype(np.float64)
    means = _numpy(params["pca_means"]).astype(np.float64)
    if vectors.shape != (EMBEDDING_SIZE, EMBEDDING_SIZE) or means.size != EMBEDDING_SIZE:
        raise ValueError(
            f"PCA parameters of shapes {vectors.shape} and {means.shape}; expected "
            f"({EMBEDDING_SIZE}, {EMBEDDING_SIZE}) and ({EMBEDDING_SIZE},)"
        )
    return {
        "pca_eigen_vectors": torch.from_numpy(np.ascontiguousarray(vectors)),
        "pca_means": torch.from_numpy(np.ascontiguousarray(means.reshape(-1))),
    }


def vggish_weights_from_tensorflow(
    variables: dict[str, np.ndarray], pca=None
) -> dict[str, torch.Tensor]:
    """Map the variables of Google's ``vggish_model.ckpt`` onto :class:`VGGish`'s state dict.

    Parameters
    ----------
    variables : dict of str to np.ndarray
        ``vggish/conv1/weights`` [3, 3, 1, 64] (HWIO), ``vggish/conv1/biases``, ``vggish/conv2``,
        ``vggish/conv3/conv3_1``, ``vggish/conv3/conv3_2``, ``vggish/conv4/conv4_1``,
        ``vggish/conv4/conv4_2``, ``vggish/fc1/fc1_1/weights`` [12288, 4096] (inputs in NHWC
        order), ``vggish/fc1/fc1_2``, ``vggish/fc2``: e.g. ``np.load("vggish_model.npz")`` or
        :func:`~embedexplore.models.checkpoint.read_checkpoint`. Optimizer slots (``*/Adam*``,
        ``beta*_power``) and ``global_step`` are skipped.
    pca : mapping, optional
        The PCA parameters (see :func:`vggish_pca`), for a state dict of
        ``VGGish(postprocess=True)``.

    Returns
    -------
    dict of str to torch.Tensor
        A state dict for :class:`VGGish`: kernels HWIO -> OIHW, dense ``W`` -> ``W.T``;
        ``float32`` (the PCA parameters, when given, ``float64``).

    Raises
    ------
    KeyError
        A variable is missing or left unmapped, or (from :func:`vggish_pca`) a PCA entry.
    ValueError
        PCA parameters of the wrong shape.
    """
    v = {
        k: a
        for k, a in variables.items()
        if "/Adam" not in k and "_power" not in k and k != "global_step"
    }
    used: set[str] = set()
    missing: list[str] = []
    out: dict[str, np.ndarray] = {}

    def take(key):
        if key not in v:
            missing.append(key)
            return None
        used.add(key)
        return _numpy(v[key])

    scopes = {
        "conv1": "vggish/conv1", "conv2": "vggish/conv2",
        "conv3_1": "vggish/conv3/conv3_1", "conv3_2": "vggish/conv3/conv3_2",
        "conv4_1": "vggish/conv4/conv4_1", "conv4_2": "vggish/conv4/conv4_2",
        "fc1_1": "vggish/fc1/fc1_1", "fc1_2": "vggish/fc1/fc1_2", "fc2": "vggish/fc2",
    }  # fmt: skip
    for ours, theirs in scopes.items():
        w, b = take(f"{theirs}/weights"), take(f"{theirs}/biases")
        if w is not None:
            out[f"{ours}.weight"] = w.transpose(3, 2, 0, 1) if w.ndim == 4 else w.T
        if b is not None:
            out[f"{ours}.bias"] = b
    _check("TensorFlow VGGish variables", missing, sorted(set(v) - used))
    state = _float32(out)
    if pca is not None:
        state.update(vggish_pca(pca))
    return state


_TORCHVGGISH_CONVS = {
    "conv1": "features.0", "conv2": "features.3", "conv3_1": "features.6",
    "conv3_2": "features.8", "conv4_1": "features.11", "conv4_2": "features.13",
}  # fmt: skip
_TORCHVGGISH_FCS = {"fc1_1": "embeddings.0", "fc1_2": "embeddings.2", "fc2": "embeddings.4"}


def vggish_weights_from_torchvggish(state_dict, pca=None) -> dict[str, torch.Tensor]:
    """Map torchvggish's state dict (``vggish-10086976.pth``) onto :class:`VGGish`'s.

    Parameters
    ----------
    state_dict : mapping of str to tensor or array
        ``features.{0,3,6,8,11,13}.{weight,bias}`` (the six convolutions, already OIHW) and
        ``embeddings.{0,2,4}.{weight,bias}`` (the three dense layers, ``[out, in]``). A state
        dict of a whole torchvggish ``VGGish`` may also hold its postprocessor's
        ``pproc.pca_matrix`` and ``pproc.pca_means``: they become the PCA parameters.
    pca : mapping, optional
        The PCA parameters (``vggish_pca_params-970ea276.pth``; see :func:`vggish_pca`).

    Returns
    -------
    dict of str to torch.Tensor
        A state dict for :class:`VGGish`: ``float32`` weights (``float64`` PCA parameters).
        The mapping is one to one: torchvggish transposes the last feature map
        ``[N, C, H, W]`` to ``[N, H, W, C]`` before flattening, the NHWC order of the original
        and of :class:`VGGish`, so ``embeddings.0.weight`` is used as it is.

    Raises
    ------
    KeyError
        An entry is missing or left unmapped (the message names it).
    ValueError
        PCA parameters given twice or of the wrong shape.
    """
    v = dict(state_dict)
    used: set[str] = set()
    missing: list[str] = []
    out: dict[str, np.ndarray] = {}
    for ours, theirs in {**_TORCHVGGISH_CONVS, **_TORCHVGGISH_FCS}.items():
        for p in ("weight", "bias"):
            key = f"{theirs}.{p}"
            if key in v:
                out[f"{ours}.{p}"] = _numpy(v[key])
                used.add(key)
            else:
                missing.append(key)
    inline = {}
    for theirs, ours in (
        ("pproc.pca_matrix", "pca_eigen_vectors"),
        ("pproc.pca_means", "pca_means"),
    ):
        if theirs in v:
            inline[ours] = v[theirs]
            used.add(theirs)
    _check("torchvggish state dict", missing, sorted(set(v) - used))
    state = _float32(out)
    if inline and pca is not None:
        raise ValueError("PCA parameters given twice: in the state dict (pproc.*) and as pca=")
    if inline:
        if len(inline) != 2:
            raise KeyError(f"torchvggish state dict: only {sorted(inline)} of the PCA parameters")
        state.update(vggish_pca(inline))
    elif pca is not None:
        state.update(vggish_pca(pca))
    return state


# -- loading --------------------------------------------------------------------------------------


def _torch_load(path: Path) -> dict:
    """A ``.pth`` with ``weights_only=True``, NumPy arrays allowed (torchvggish's PCA file holds
    them)."""
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy(._core).multiarray._reconstruct
    allowed = [
        reconstruct,
        (reconstruct, "numpy.core.multiarray._reconstruct"),  # pickled under NumPy 1
        (reconstruct, "numpy._core.multiarray._reconstruct"),
        np.ndarray,
        np.dtype,
    ]
    allowed += [type(np.dtype(t)) for t in (np.float16, np.float32, np.float64, np.int64)]
    safe = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
    with safe(allowed) if safe is not None else contextlib.nullcontext():
        obj = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(obj, dict):
        raise ValueError(
            f"{path}: expected a state dict (a dict of tensors), got {type(obj).__name__}"
        )
    return obj


def _read(path: str | os.PathLike, what: str) -> dict:
    """The arrays of ``path``: .npz, .safetensors, .pth/.pt, or a TensorFlow V2 checkpoint
    prefix."""
    p = Path(path)
    suffix = p.suffix.lower()
    if p.is_file() and suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    if p.is_file() and suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(p)
    if p.is_file() and suffix in (".pth", ".pt", ".bin"):
        return _torch_load(p)
    if Path(f"{path}.index").is_file():
        from .checkpoint import read_checkpoint

        return read_checkpoint(path)
    if p.is_file():
        raise ValueError(
            f"{p}: not a file embedexplore reads as {what}. Expected a .npz of the TensorFlow "
            "variables, a .pth/.pt or .safetensors state dict, or a TensorFlow V2 checkpoint "
            "prefix (<prefix>.index + <prefix>.data-00000-of-00001). Google's vggish_model.ckpt "
            "is an old V1 checkpoint: convert it once with TensorFlow, "
            "reader = tf.train.load_checkpoint(path); np.savez('vggish_model.npz', "
            "**{n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()})"
        )
    raise FileNotFoundError(f"{what} not found: {p}. {_WHERE}")


def _state_dict(variables: dict, pca) -> dict[str, torch.Tensor]:
    keys = list(variables)
    if any(k.startswith("vggish/") for k in keys):
        return vggish_weights_from_tensorflow(variables, pca)
    if any(k.startswith(("features.", "embeddings.")) for k in keys):
        return vggish_weights_from_torchvggish(variables, pca)
    if "conv1.weight" in variables:  # our own naming (VGGish.state_dict())
        own = {k: a for k, a in variables.items() if not k.startswith("pca_")}
        expected = [f"{n}.{p}" for n, *_ in _CONVS + _FCS for p in ("weight", "bias")]
        _check(
            "VGGish state dict",
            [k for k in expected if k not in own],
            [k for k in own if k not in expected],
        )
        state = _float32({k: _numpy(a) for k, a in own.items()})
        inline = {k: a for k, a in variables.items() if k.startswith("pca_")}
        if inline and pca is not None:
            raise ValueError("PCA parameters given twice: in the weights and as pca=")
        if inline or pca is not None:
            state.update(vggish_pca(inline or pca))
        return state
    raise ValueError(
        f"unrecognised VGGish weights (first keys: {keys[:4]}); expected the variables of "
        "Google's vggish_model.ckpt (vggish/conv1/weights, ...), torchvggish's state dict "
        "(features.0.weight, ...) or VGGish.state_dict() (conv1.weight, ...)"
    )


def load_vggish(
    weights: str | os.PathLike | dict,
    pca: str | os.PathLike | dict | None = None,
    device: str | torch.device = "cpu",
    *,
    quantisation: str = "floor",
) -> VGGishEmbedder:
    """VGGish with user-supplied weights, ready to embed audio.

    Parameters
    ----------
    weights : path or dict
        One of: a ``.npz`` of the variables of Google's ``vggish_model.ckpt`` (converted once with
        TensorFlow: see ``help(embedexplore.models.vggish_net)``); a V2 checkpoint prefix with those
        variables; torchvggish's ``vggish-10086976.pth``; a ``.pth``/``.safetensors`` of
        :class:`VGGish`'s own state dict; or any of these already loaded as a dict. The format is
        recognised from the names inside.
    pca : path or dict, optional
        The PCA parameters: Google's ``vggish_pca_params.npz`` or torchvggish's
        ``vggish_pca_params-970ea276.pth``; adds the "postprocessed" layer.
    device : str or torch.device, default: "cpu"
        ``"auto"`` picks CUDA when a GPU is visible, else the CPU.
    quantisation : {"floor", "round"}, default: "floor"
        The postprocessor's 8-bit cast: Google's (``"floor"``) or torchvggish's (``"round"``).

    Returns
    -------
    VGGishEmbedder
        The network in eval mode on ``device``, with its input pipeline: its
        :meth:`~VGGishEmbedder.embed` gives ``float32`` arrays of shape ``(n_examples, 128)``
        per 0.96 s example.

    Raises
    ------
    FileNotFoundError
        A file is missing; the message says where the weights are published (embedexplore does
        not ship them).
    KeyError
        The weights or PCA parameters miss a variable or hold one VGGish has no place for.
    ValueError
        A file of a format it does not read (e.g. Google's V1 ``.ckpt``, the message says how
        to convert it), weights of no known naming, PCA parameters given twice, or an unknown
        ``quantisation``.
    """
    variables = weights if isinstance(weights, dict) else _read(weights, "VGGish weights")
    pca_params = pca if pca is None or isinstance(pca, dict) else _read(pca, "VGGish PCA file")
    state = _state_dict(variables, pca_params)
    with torch.device("meta"):  # no random initialisation of 72 M parameters
        network = VGGish(postprocess="pca_means" in state, quantisation=quantisation)
    network.load_state_dict(state, strict=True, assign=True)
    source = "dict" if isinstance(weights, dict) else os.fspath(weights)
    return VGGishEmbedder(network, device=device, source=source)


class VGGishEmbedder:
    """VGGish with its input pipeline, ready to embed audio (see :func:`load_vggish`).

    Parameters
    ----------
    network : VGGish
        The network with its weights loaded; moved to ``device`` and put in eval mode.
    device : str or torch.device, default: "cpu"
        ``"auto"`` picks CUDA when a GPU is visible, else the CPU.
    source : str, default: ""
        Where the weights came from (shown by ``repr``).

    Attributes
    ----------
    name : str
        ``"vggish"``.
    layers : dict of str to int
        ``{"embeddings": 128}``, plus ``"postprocessed": 128`` with PCA parameters.
    device : torch.device
        Where the network and the frontend run.
    network : VGGish
        Log-mel examples ``[batch, 96, 64]`` -> dict of layers, in eval mode.
    frontend : VGGishFrontend
        Waveform -> log-mel examples, on the same device.
    source : str
        Where the weights came from.

    Notes
    -----
    Short input: a waveform shorter than one example (15600 samples, 0.975 s, at 16 kHz) yields
    no example in the original. By default (``pad_short=True``) a non-empty one is repeated until
    it fills one example, as embedexplore does for its other models, so every non-empty track
    gets one row; ``pad_short=False`` keeps the original's behaviour (zero rows). An empty
    waveform always yields zero rows.
    """

    name = "vggish"

    def __init__(
        self, network: VGGish, *, device: str | torch.device = "cpu", source: str = ""
    ) -> None:
        self.device = resolve_device(device)
        self.network = network.to(self.device).eval()
        self.frontend = VGGishFrontend().to(self.device)
        self.layers = dict(network.dims)
        self.source = source

    def __repr__(self) -> str:
        return f"<VGGishEmbedder on {self.device}: layers {self.layers}, weights {self.source}>"

    @torch.inference_mode()
    def examples(
        self,
        waveform: np.ndarray | torch.Tensor,
        sample_rate: int = SAMPLE_RATE,
        *,
        pad_short: bool = True,
    ) -> torch.Tensor:
        """The log-mel examples of a mono waveform, on :attr:`device`.

        Example ``k`` starts at ``k * 0.96`` s; see the class notes for short input.

        Parameters
        ----------
        waveform : numpy.ndarray or torch.Tensor
            Mono audio of shape ``(n,)``, as for :meth:`embed`.
        sample_rate : int, default: 16000
            Its sample rate in Hz.
        pad_short : bool, default: True
            Repeat a waveform shorter than one example until it fills one.

        Returns
        -------
        torch.Tensor
            ``float32`` tensor of shape ``(n_examples, 96, 64)``: 96 frames of 64 log-mel bands
            each, ``n_examples = (1 + (m - 400) // 160) // 96`` for ``m >= 400`` samples at
            16 kHz (after padding), else 0.

        Raises
        ------
        ValueError
            A waveform that is not 1-D, not real or not finite, or a sample rate that is not
            positive.
        """
        x = mono_16k(waveform, sample_rate)
        if pad_short and 0 < x.size < EXAMPLE_SAMPLES:
            x = np.tile(x, -(-EXAMPLE_SAMPLES // x.size))[:EXAMPLE_SAMPLES]
        n_frames = 1 + (x.size - WINDOW_LENGTH) // HOP_LENGTH if x.size >= WINDOW_LENGTH else 0
        n = n_frames // EXAMPLE_FRAMES
        out = torch.empty((n, EXAMPLE_FRAMES, N_MELS), device=self.device)
        for p0 in range(0, n, _FRONTEND_EXAMPLES):  # bounds the STFT's memory
            p1 = min(n, p0 + _FRONTEND_EXAMPLES)
            a, b = p0 * EXAMPLE_HOP_SAMPLES, (p1 - 1) * EXAMPLE_HOP_SAMPLES + EXAMPLE_SAMPLES
            out[p0:p1] = self.frontend(torch.from_numpy(x[a:b]).to(self.device))
        return out

    @torch.inference_mode()
    def forward(self, examples: torch.Tensor) -> dict[str, torch.Tensor]:
        """The network on log-mel examples, in float32 (TF32 convolutions off, as the original).

        Parameters
        ----------
        examples : torch.Tensor
            ``float32`` tensor of shape ``(batch, 96, 64)`` (as :meth:`examples` returns them),
            moved to :attr:`device`.

        Returns
        -------
        dict of str to torch.Tensor
            One entry per layer in :attr:`layers`, each a ``float32`` tensor of shape
            ``(batch, 128)`` on :attr:`device`.
        """
        cudnn = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = False  # float32 convolutions, as the original
        try:
            out = self.network(examples.to(self.device))
        finally:
            torch.backends.cudnn.allow_tf32 = cudnn
        return {k: v.float() for k, v in out.items()}

    @torch.inference_mode()
    def embed(
        self,
        waveform: np.ndarray | torch.Tensor,
        sample_rate: int = SAMPLE_RATE,
        *,
        batch_size: int = 64,
        pad_short: bool = True,
    ) -> dict[str, np.ndarray]:
        """Every layer for each 0.96 s example of a mono waveform.

        Parameters
        ----------
        waveform : numpy.ndarray or torch.Tensor
            Mono audio of shape ``(n,)``, float in [-1, 1] (the original reads 16-bit WAV /
            32768; integer PCM is scaled so), any sample rate (resampled to 16 kHz with soxr HQ
            if needed).
        sample_rate : int, default: 16000
            Its sample rate in Hz.
        batch_size : int, default: 64
            Examples per forward pass.
        pad_short : bool, default: True
            Repeat a waveform shorter than one example until it fills one (see the class notes).

        Returns
        -------
        dict of str to numpy.ndarray
            One entry per layer in :attr:`layers`, each a ``float32`` array of shape
            ``(n_examples, 128)``; row ``k`` is the example starting at ``k * 0.96`` s.

        Raises
        ------
        ValueError
            A waveform that is not 1-D, not real or not finite, a sample rate that is not
            positive, or ``batch_size < 1``.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        examples = self.examples(waveform, sample_rate, pad_short=pad_short)
        outputs: dict[str, list[np.ndarray]] = {k: [] for k in self.layers}
        for i in range(0, len(examples), batch_size):
            batch = self.forward(examples[i : i + batch_size])
            for k in outputs:
                outputs[k].append(batch[k].cpu().numpy())
        return {
            k: np.concatenate(v) if v else np.zeros((0, self.layers[k]), np.float32)
            for k, v in outputs.items()
        }
