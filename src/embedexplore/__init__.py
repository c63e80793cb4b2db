"""embedexplore: explore and rediscover a music collection through deep audio embeddings.

The flow of data: :func:`scan` a folder into a :class:`Collection` (a pandas DataFrame of tracks),
decode each track (:mod:`embedexplore.audio`), run the models of the registry
(:mod:`embedexplore.registry`: the tagging models, baselines, yours) over every segment of their
clock, project the segments (or windows of them) to 2-D and explore them in the notebook.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .collection import Collection, scan

__all__ = [
    "Collection",
    "Embeddings",
    "Explorer",
    "__version__",
    "audio",
    "datasets",
    "default_store",
    "estimate_extraction",
    "extract",
    "listen",
    "load_model",
    "models",
    "neighbors",
    "nn_similarity",
    "nn_similarity_matrix",
    "open_store",
    "playlist",
    "project",
    "prune",
    "register_model",
    "registry",
    "scan",
    "slurm_cluster",
    "verify",
]


def __getattr__(name: str):
    # what is not needed to scan (torch, above all) loads on first use
    import importlib

    if name in (
        "audio", "datasets", "tags", "models", "similarity", "projection", "playlist", "listen",
        "registry", "clock",
    ):  # fmt: skip
        return importlib.import_module(f".{name}", __name__)
    if name == "register_model":
        return importlib.import_module(".registry", __name__).register_model
    if name == "extract":
        return importlib.import_module(".extraction", __name__).extract
    if name == "estimate_extraction":
        return importlib.import_module(".estimate", __name__).estimate_extraction
    if name in ("Embeddings", "open_store"):
        return getattr(importlib.import_module(".embeddings", __name__), name)
    if name == "project":
        return importlib.import_module(".projection", __name__).project
    if name in ("neighbors", "nn_similarity", "nn_similarity_matrix"):
        return getattr(importlib.import_module(".similarity", __name__), name)
    if name == "default_store":
        return importlib.import_module("._dirs", __name__).default_store
    if name == "Explorer":
        return importlib.import_module(".explorer", __name__).Explorer
    if name in ("verify", "prune"):
        return getattr(importlib.import_module(".store_check", __name__), name)
    if name == "slurm_cluster":
        return importlib.import_module("._cluster", __name__).slurm_cluster
    if name == "load_model":
        return importlib.import_module(".models", __name__).load_model
    raise AttributeError(f"module 'embedexplore' has no attribute {name!r}")
