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

Segments (:class:`VGGishSegments`), for a pipeline that runs every model on fixed-length
segments: a track at 16 kHz cut into segments of ``SEGMENT_SAMPLES`` (15600) samples every
``SEGMENT_HOP_SAMPLES`` (15360), ``1 + (n - 15600) // 15360`` of them (a partial tail dropped, a
shorter non-empty track first repeated until it fills one), gives exactly the examples of
:meth:`VGGishEmbedder.embed`: as many, ``(1 + (n - 400) // 160) // 96``, and segment ``k`` is
example ``k``. :class:`VGGishSegments` runs the frontend and the network on a batch of segments,
and :func:`layers` names its outputs without running anything::

    segments = VGGishSegments(model.network)   # on the network's device
    out = segments(batch)   # [b, 15600] -> {"embeddings": [b, 128], "postprocessed": [b, 128]}

The code: :mod:`~embedexplore.models.vggish_frontend` (the constants and the input pipeline),
:mod:`~embedexplore.models.vggish_network` (the network and its postprocessor),
:mod:`~embedexplore.models.vggish_weights` (the converters and :func:`load_vggish`) and
:mod:`~embedexplore.models.vggish_embedder` (:class:`VGGishEmbedder`, :class:`VGGishSegments`);
everything public is importable from here.
"""

from __future__ import annotations

from pathlib import Path

from .vggish_embedder import (
    SEGMENT_HOP_SAMPLES,
    SEGMENT_SAMPLES,
    VGGishEmbedder,
    VGGishSegments,
    layers,
)
from .vggish_frontend import (
    EXAMPLE_FRAMES,
    EXAMPLE_HOP_SAMPLES,
    EXAMPLE_SAMPLES,
    FFT_LENGTH,
    HOP_LENGTH,
    LOG_OFFSET,
    MEL_MAX_HZ,
    MEL_MIN_HZ,
    N_MELS,
    SAMPLE_RATE,
    WINDOW_LENGTH,
    VGGishFrontend,
    vggish_mel_matrix,
)
from .vggish_network import (
    EMBEDDING_SIZE,
    QUANTISATIONS,
    QUANTIZE_MAX,
    QUANTIZE_MIN,
    VGGish,
    vggish,
)
from .vggish_weights import (
    load_vggish,
    vggish_pca,
    vggish_weights_from_tensorflow,
    vggish_weights_from_torchvggish,
)

__all__ = [
    "EMBEDDING_SIZE",
    "EXAMPLE_FRAMES",
    "EXAMPLE_HOP_SAMPLES",
    "EXAMPLE_SAMPLES",
    "FFT_LENGTH",
    "HOP_LENGTH",
    "LOG_OFFSET",
    "MEL_MAX_HZ",
    "MEL_MIN_HZ",
    "N_MELS",
    "QUANTISATIONS",
    "QUANTIZE_MAX",
    "QUANTIZE_MIN",
    "SAMPLE_RATE",
    "SEGMENT_HOP_SAMPLES",
    "SEGMENT_SAMPLES",
    "WINDOW_LENGTH",
    "VGGish",
    "VGGishEmbedder",
    "VGGishFrontend",
    "VGGishSegments",
    "layers",
    "load_vggish",
    "register_vggish",
    "vggish",
    "vggish_mel_matrix",
    "vggish_pca",
    "vggish_weights_from_tensorflow",
    "vggish_weights_from_torchvggish",
]


def vggish_segments(weights: str, pca: str | None = None) -> VGGishSegments:
    """VGGish on waveform segments, from weights on disk (what the registry builds).

    Parameters
    ----------
    weights : str
        Weights in a format :func:`load_vggish` reads.
    pca : str, optional
        The PCA parameters (adds the ``postprocessed`` layer).

    Returns
    -------
    VGGishSegments
        The network on the CPU, in eval mode (extraction moves it to its device).
    """
    return VGGishSegments(load_vggish(weights, pca).network)


def _digest(path: str) -> str:
    """A checksum of the weights at ``path`` (a file, or a checkpoint prefix's files)."""
    import hashlib

    p = Path(path).expanduser()
    files = [p] if p.is_file() else sorted(p.parent.glob(p.name + ".*"))
    if not files:
        raise FileNotFoundError(f"no VGGish weights at {path}")
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def register_vggish(weights, pca=None):
    """Give the registry's ``"vggish"`` its weights (see
    :func:`embedexplore.models.use_vggish`).

    Parameters
    ----------
    weights : str or os.PathLike
        Weights in a format :func:`load_vggish` reads.
    pca : str or os.PathLike, optional
        The PCA parameters: adds the ``postprocessed`` layer.

    Returns
    -------
    embedexplore.registry.ModelSpec
        The model as registered: its version is the checksum of the weights (and PCA
        parameters), so that other weights recompute it.
    """
    import dataclasses

    from .. import registry

    weights = str(Path(weights).expanduser().resolve())
    pca = str(Path(pca).expanduser().resolve()) if pca is not None else None
    vggish_segments(weights, pca)  # weights that do not load fail here, not in extraction
    version = _digest(weights) + (f"+pca {_digest(pca)}" if pca else "")
    layers = {"embeddings": EMBEDDING_SIZE}
    if pca is not None:
        layers["postprocessed"] = EMBEDDING_SIZE
    spec = dataclasses.replace(
        registry.get("vggish"), layers=layers, version=version, needs=None,
        params={"weights": weights, "pca": pca},
    )  # fmt: skip
    registry._replace_builtin(spec)
    return spec
