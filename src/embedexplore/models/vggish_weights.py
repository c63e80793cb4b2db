"""VGGish's weights: Google's checkpoint or torchvggish's state dict mapped onto :class:`VGGish`.

embedexplore does not ship the weights; where to get them and how to convert Google's V1
checkpoint is in :mod:`embedexplore.models.vggish_net`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import torch

from .vggish_embedder import VGGishEmbedder
from .vggish_network import _CONVS, _FCS, EMBEDDING_SIZE, VGGish

__all__ = [
    "load_vggish",
    "vggish_pca",
    "vggish_weights_from_tensorflow",
    "vggish_weights_from_torchvggish",
]

_WHERE = (
    "embedexplore does not ship VGGish's weights and cannot download them. Get either Google's "
    "vggish_model.ckpt (https://storage.googleapis.com/audioset/vggish_model.ckpt; convert it "
    "once to .npz with TensorFlow, see help(embedexplore.models.vggish_net)) and "
    "vggish_pca_params.npz (https://storage.googleapis.com/audioset/vggish_pca_params.npz), or "
    "torchvggish's vggish-10086976.pth and vggish_pca_params-970ea276.pth "
    "(https://github.com/harritaylor/torchvggish/releases/tag/v0.1)"
)


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
