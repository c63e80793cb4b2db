"""Any registered model, ready to run: waveform segments in, checked layers out.

:func:`build` turns a :class:`~embedexplore.registry.ModelSpec` into what extraction runs: a
:class:`~embedexplore.models.tagger.Tagger` for the built-in taggers (they share one log-mel
frontend), a :class:`WaveformModel` for every other model. A waveform model reads a track as
segments of its own clock (:class:`embedexplore.clock.Clock`): segment ``k`` is samples
``[k * hop, k * hop + segment)``, a partial last segment is dropped, and a non-empty track shorter
than one segment is repeated until it fills one (as the original models do), so that every
non-empty track has at least one row.
"""

from __future__ import annotations

import importlib

import numpy as np
import torch

from ..registry import ModelSpec
from .arithmetic import tf32
from .waveform import resolve_device

__all__ = ["ModelError", "WaveformModel", "build", "resolve"]


class ModelError(ValueError):
    """A model returned what it did not declare: other layers, other shapes, NaN or infinite
    values. The message names the model."""


def resolve(factory: str):
    """The object a factory names.

    Parameters
    ----------
    factory : str
        ``"module:attribute"``, e.g. ``"embedexplore.models.musicnn_net:musicnn"``.

    Returns
    -------
    object
        That attribute of that module (imported).
    """
    module, _, attr = factory.partition(":")
    return getattr(importlib.import_module(module), attr)


def build(spec: ModelSpec, device: str | torch.device = "auto", precision: str = "auto"):
    """``spec``'s model on ``device``: a :class:`~embedexplore.models.tagger.Tagger` or a
    :class:`WaveformModel`.

    Parameters
    ----------
    spec : embedexplore.registry.ModelSpec
        A registered model.
    device : str or torch.device, default: "auto"
        ``"auto"``: CUDA when visible, else the CPU.
    precision : str, default: "auto"
        The built-in taggers' arithmetic (see :func:`embedexplore.load_model`); other models
        run in float32.

    Returns
    -------
    Tagger or WaveformModel
        Ready to run.

    Raises
    ------
    ValueError
        The model cannot be built yet (VGGish without its weights).
    """
    if spec.needs:
        raise ValueError(spec.needs)
    from .tagger import PRECISIONS

    if precision != "auto" and precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS} or 'auto', got {precision!r}")
    if spec.kind == "tagger":
        from .tagger import build_tagger

        return build_tagger(spec, device, precision)
    return WaveformModel(spec, device)


class WaveformModel:
    """A registered model reading waveform segments (see the module docstring).

    Parameters
    ----------
    spec : embedexplore.registry.ModelSpec
        The model (kind ``"waveform"``).
    device : str or torch.device, default: "auto"
        Where a ``torch.nn.Module`` runs (a plain function gets numpy arrays wherever it is).

    Attributes
    ----------
    name : str
        The model's name.
    spec : embedexplore.registry.ModelSpec
        Its declaration.
    clock : embedexplore.clock.Clock
        Its segments.
    layers : dict of str to int
        The layers it returns and their dimensions.
    labels : tuple of str or None
        Tag names of its ``taggrams`` layer.
    device : torch.device
        Where it runs.
    precision : str
        ``"float32"``.
    """

    precision = "float32"

    def __init__(self, spec: ModelSpec, device: str | torch.device = "auto") -> None:
        self.spec = spec
        self.name = spec.name
        self.clock = spec.clock
        self.layers = dict(spec.layers)
        self.labels = spec.labels
        self.device = resolve_device(device)
        model = spec.model if spec.model is not None else resolve(spec.factory)(**spec.params)
        self.module = isinstance(model, torch.nn.Module)
        if self.module:
            model = model.to(self.device).eval()
        self.model = model

    def __repr__(self) -> str:
        return (
            f"<WaveformModel {self.name} on {self.device}: layers {self.layers}, "
            f"{self.clock.describe()}>"
        )

    def segments(self, waveform: np.ndarray) -> np.ndarray:
        """The segments of a mono waveform at :attr:`clock`'s rate, ``[n, segment]``.

        A view of ``waveform`` (no copy) unless it is shorter than one segment.

        Parameters
        ----------
        waveform : numpy.ndarray
            float32 mono audio at the model's sample rate.

        Returns
        -------
        numpy.ndarray
            ``clock.count(len(waveform))`` rows of ``clock.segment`` samples.
        """
        x = np.asarray(waveform, np.float32)
        seg, hop, least = self.clock.segment, self.clock.hop, self.clock.segment - self.clock.tail
        if x.size == 0:
            return np.zeros((0, seg), np.float32)
        if x.size < least:
            x = np.tile(x, -(-least // x.size))[:least]  # repeat-pad, as the original models
        n = self.clock.count(x.size)
        if (n - 1) * hop + seg > x.size:  # the last segment lacks its tail: read as zeros
            x = np.concatenate([x, np.zeros((n - 1) * hop + seg - x.size, np.float32)])
        return np.lib.stride_tricks.as_strided(
            x, shape=(n, seg), strides=(hop * x.strides[0], x.strides[0]), writeable=False
        )

    def forward(self, segments) -> dict[str, np.ndarray]:
        """The model on a batch of segments, its output checked.

        Parameters
        ----------
        segments : numpy.ndarray or torch.Tensor
            ``[batch, segment]`` float32.

        Returns
        -------
        dict of str to numpy.ndarray
            Every declared layer, ``float32`` ``[batch, dim]``.

        Raises
        ------
        ModelError
            The model returned other layers or shapes than it declared, or values that are not
            finite.
        """
        if isinstance(segments, torch.Tensor):
            segments = segments.detach().cpu().numpy()
        # a copy: the segments are a read-only view of the waveform other models read too
        batch = np.array(segments, np.float32, order="C", copy=True)
        try:
            if self.module:
                with torch.inference_mode(), tf32(False, self.device):
                    out = self.model(torch.from_numpy(batch).to(self.device))
            else:
                out = self.model(batch)
        except torch.cuda.OutOfMemoryError:
            raise
        except Exception as e:
            raise ModelError(
                f"model {self.name!r} failed on a batch of {len(batch)} segments of "
                f"{batch.shape[1]} samples: {type(e).__name__}: {e}"
            ) from e
        return self.check(out, len(batch))

    def check(self, out, n: int) -> dict[str, np.ndarray]:
        """``out`` as float32 numpy arrays, if it is what the model declared for ``n`` rows.

        Parameters
        ----------
        out : dict
            What the model returned.
        n : int
            Rows it was given.

        Returns
        -------
        dict of str to numpy.ndarray
            Layer -> ``float32`` ``[n, dim]``.

        Raises
        ------
        ModelError
            Not a dict of the declared layers, a layer of another shape, or values that are
            not finite.
        """
        if not isinstance(out, dict):
            raise ModelError(
                f"model {self.name!r} returned {type(out).__name__}; it must return a dict "
                f"layer -> [batch, dim] with the layers {self.layers}"
            )
        missing = [k for k in self.layers if k not in out]
        if missing:
            raise ModelError(
                f"model {self.name!r} returned the layers {sorted(map(str, out))}, not "
                f"{', '.join(missing)}: it was registered with {self.layers}"
            )
        result = {}
        for k, dim in self.layers.items():
            v = out[k]
            if isinstance(v, torch.Tensor):
                v = v.detach().float().cpu().numpy()
            v = np.asarray(v)
            if v.shape != (n, dim):
                raise ModelError(
                    f"model {self.name!r} returned layer {k!r} of shape {tuple(v.shape)} for "
                    f"{n} segments; it was registered as [batch, {dim}]"
                )
            v = v.astype(np.float32, copy=False)
            if not np.isfinite(v).all():
                raise ModelError(
                    f"model {self.name!r} returned NaN or infinite values in layer {k!r}"
                )
            result[k] = v
        return result

    def probe(self) -> None:
        """Run the model once on two segments of quiet noise and check its output.

        Extraction calls it before it touches the store, so that a model that returns the
        wrong layers or shapes stops it at once.

        Raises
        ------
        ModelError
            What :meth:`check` raises.
        """
        rng = np.random.default_rng(0)
        noise = (0.1 * rng.standard_normal((2, self.clock.segment))).astype(np.float32)
        self.forward(noise)

    def embed(
        self, waveform, sample_rate: int | None = None, *, batch_size: int = 256
    ) -> dict[str, np.ndarray]:
        """Every layer for each segment of a mono waveform.

        Parameters
        ----------
        waveform : numpy.ndarray
            Mono audio, ``(n,)``.
        sample_rate : int, optional
            Its rate (default: the model's); resampled with soxr HQ otherwise.
        batch_size : int, default: 256
            Segments per call of the model.

        Returns
        -------
        dict of str to numpy.ndarray
            Layer -> ``float32`` ``[n_segments, dim]``.
        """
        x = np.asarray(waveform, np.float32)
        rate = self.clock.sample_rate
        if sample_rate is not None and sample_rate != rate:
            import soxr

            x = soxr.resample(x, sample_rate, rate, quality="HQ").astype(np.float32)
        segs = self.segments(x)
        if not len(segs):
            return {k: np.zeros((0, d), np.float32) for k, d in self.layers.items()}
        step = max(1, int(batch_size))
        parts = [self.forward(segs[i : i + step]) for i in range(0, len(segs), step)]
        return {k: np.concatenate([p[k] for p in parts]) for k in self.layers}
