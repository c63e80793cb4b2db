"""What the Explorer's controls may hold (the menus), checked alike for code and the browser.

Each check returns the value normalised or raises :class:`traitlets.TraitError` saying what is
allowed: the widget's ``set_state`` turns that into a logged refusal and resets the page, and
code sees the error. Any other exception would escape into the notebook as a traceback, so every
wrong type is caught here too (a page can send any JSON: numbers, lists, objects, ``null``).
"""

from __future__ import annotations

from collections.abc import Mapping

import traitlets as t

from .widget import PANE_KEYS

VIEWS = ("segments", "trajectories", "averages")
COLOR_BY = ("artist", "album", "genre", "none")  # or "tag:NAME", a tag's activation
PROJECTIONS = ("pca", "std-pca", "tsne", "umap", "tags")
PROJECTION_NAMES = {"pca": "PCA", "std-pca": "STD-PCA", "tsne": "t-SNE", "umap": "UMAP",
                    "tags": "tags"}  # fmt: skip
FILTER_KEYS = ("artists", "albums", "genres", "tracks", "tags")


def pane_spec(embeddings, spec, side: str) -> dict:
    """``spec`` with every key of :data:`~embedexplore.widget.PANE_KEYS` filled in and checked.

    Parameters
    ----------
    embeddings : Embeddings
        Its models and layers are the choices.
    spec : object
        A dict of some of ``PANE_KEYS``, each text (or None: the default). ``model`` is a
        model's full name (``"musicnn-msd"``, ``"vggish"``); the older form, an architecture
        and a ``dataset`` key (``{"model": "musicnn", "dataset": "msd"}``), is understood too.
    side : str
        ``"left"`` or ``"right"`` (the default model differs; errors name it).

    Returns
    -------
    dict
        ``model`` (the full name), ``layer``, ``projection``, ``x_tag`` and ``y_tag`` (empty
        but for a model with tags).

    Raises
    ------
    traitlets.TraitError
        Not a dict, an unknown key, a value that is not text, or a model, layer, projection or
        tag the store does not have.
    """
    keys = (*PANE_KEYS, "dataset")
    if not isinstance(spec, dict):
        raise t.TraitError(f"{side} must be a dict of {', '.join(PANE_KEYS)}, got {spec!r}")
    unknown = set(spec) - set(keys)
    if unknown:
        shown = sorted(map(repr, unknown))
        raise t.TraitError(f"{side}: unknown keys {', '.join(shown)}; use {list(PANE_KEYS)}")
    not_text = [k for k in keys if spec.get(k) is not None and not isinstance(spec[k], str)]
    if not_text:
        raise t.TraitError(f"{side}: {', '.join(not_text)} must be text (or left out)")
    models = embeddings.models
    default = default_model(models, side)
    model, dataset = spec.get("model"), spec.get("dataset") or None
    if model in models:
        if dataset is not None and not model.endswith(f"-{dataset}"):
            raise t.TraitError(f"{side}: {model} is not a model of dataset {dataset!r}; name "
                               "the model alone, e.g. {'model': 'vgg-mtt'}")  # fmt: skip
    elif not model and dataset is None:
        model = default
    else:  # the older form: "musicnn" with dataset "msd" (or the default's, or the first)
        model = model or default.partition("-")[0]
        if dataset is None:
            same = [m.partition("-")[2] for m in models if m.partition("-")[0] == model]
            default_data = default.partition("-")[2]
            dataset = default_data if default_data in same else (same[0] if same else "")
        model = f"{model}-{dataset}" if dataset else model
    if model not in models:
        raise t.TraitError(f"{side}: no model {model!r} in the store; it holds {list(models)}")
    layers = embeddings.layers(model)
    layer = spec.get("layer") or ("embeddings" if "embeddings" in layers else next(iter(layers)))
    if layer not in layers:
        raise t.TraitError(f"{side}: {model} has no layer {layer!r}; it has {list(layers)}")
    projection = spec.get("projection") or "tsne"
    if projection not in PROJECTIONS:
        raise t.TraitError(f"{side}: projection must be one of {PROJECTIONS}, got {projection!r}")
    tags = list(embeddings.labels(model) or ())
    x_tag, y_tag = spec.get("x_tag") or "", spec.get("y_tag") or ""
    if projection == "tags":
        if "taggrams" not in layers or len(tags) < 2:
            raise t.TraitError(f"{side}: tag axes need the taggrams of {model} (two tags)")
        x_tag = x_tag or tags[0]
        y_tag = y_tag or tags[1]
    # checked whatever the projection: the tags are kept for when it switches to "tags", and
    # only a model's own tag names (not any text a page sends) go back to the page
    for tag in (x_tag, y_tag):
        if tag and tag not in tags:
            raise t.TraitError(f"{side}: {model} has no tag {tag!r}; tags: {tags}")
    return {"model": model, "layer": layer, "projection": projection,
            "x_tag": x_tag, "y_tag": y_tag}  # fmt: skip


def filter_spec(value, name: str) -> dict:
    """A ``music`` or ``highlight`` value as ``{key: [text, ...]}``, empty lists dropped.

    Parameters
    ----------
    value : object
        A dict with keys among :data:`FILTER_KEYS`, each a text or a sequence of texts.
    name : str
        ``"music"`` or ``"highlight"`` (for the error message).

    Returns
    -------
    dict
        The same keys (those with entries), each a list of str.

    Raises
    ------
    traitlets.TraitError
        Not a dict, an unknown key, or an entry that is not text.
    """
    if not isinstance(value, dict) or set(value) - set(FILTER_KEYS):
        raise t.TraitError(f"{name} must be a dict with keys among {FILTER_KEYS}: {value!r}")
    out = {}
    for key, items in value.items():
        if items is None:
            items = []
        elif isinstance(items, str):
            items = [items]
        elif isinstance(items, Mapping | bytes | bytearray):  # list() would take keys or bytes
            items = None
        else:
            try:
                items = list(items)
            except TypeError:  # a number, say
                items = None
        if items is None or not all(isinstance(i, str) for i in items):
            raise t.TraitError(f"{name}[{key!r}] must be text or a list of text")
        if items:
            out[key] = items
    return out


def default_model(models, side: str) -> str:
    """The model a pane shows when its spec names none: MusiCNN left and VGG right (MSD).

    Parameters
    ----------
    models : sequence of str
        The store's models.
    side : str
        ``"left"`` or ``"right"``.

    Returns
    -------
    str
        One of ``models``.
    """
    from .registry import default_models, find

    # the registry's default models first: on the left the first of them in the store, on
    # the right the first of another architecture (MusiCNN beside VGG)
    prefer = [m for m in default_models() if m in models] + [
        m for m in models if m not in default_models()
    ]
    if side == "left" or len(prefer) == 1:
        return prefer[0]
    arch = find(prefer[0]).architecture if find(prefer[0]) else None
    other = [m for m in prefer[1:] if (find(m).architecture if find(m) else m) != arch]
    return (other or prefer[1:])[0]


def menus(embeddings, meta) -> dict:
    """The choices the page's menus offer (the ``options`` trait): every model of the store.

    Parameters
    ----------
    embeddings : Embeddings
        What the Explorer was given: its models, their layers and tags.
    meta : pandas.DataFrame
        The tracks' ``artist``, ``album`` and ``genres`` (see ``track_meta``).

    Returns
    -------
    dict
        ``models`` (``[name, title]`` pairs), ``layers`` and ``tags`` (by model), the
        projections, views, time scales (``[value, name]`` pairs), colourings, artists, albums
        and genres.
    """
    from ._explorer_scale import TIME_SCALES, model_menu

    return {
        "models": model_menu(embeddings),  # [name, title], in the store's order
        "layers": {m: list(embeddings.layers(m)) for m in embeddings.models},
        "projections": list(PROJECTIONS),
        "projection_names": PROJECTION_NAMES,
        "tags": {m: list(embeddings.labels(m)) for m in embeddings.models if embeddings.labels(m)},
        "views": list(VIEWS),
        "time_scales": [[k, v] for k, v in TIME_SCALES.items()],
        "color_by": list(COLOR_BY),
        "artists": sorted({a for a in meta["artist"].dropna()}, key=str.casefold),
        "albums": sorted({a for a in meta["album"].dropna()}, key=str.casefold),
        "genres": sorted({g for gs in meta["genres"] for g in gs}, key=str.casefold),
    }
