"""The public API's docstrings follow numpydoc, checked by numpydoc's own validator.

Walks the public API: everything in ``embedexplore.__all__`` (lazy exports included; a module
there is walked like the modules below), and the public functions and classes of the modules
below with their public methods and properties. Each object is one test, which fails listing the
numpydoc checks its docstring breaks. Nothing is computed: importing the modules is all it costs.
"""

from __future__ import annotations

import importlib
import inspect
import types

import numpydoc.validate
import pytest

import embedexplore

#: The numpydoc checks enforced (see ``numpydoc.validate.ERROR_MSGS``).
CHECKS = {
    "GL06": "unknown section",
    "GL07": "sections in the wrong order",
    "GL08": "no docstring",
    "SS01": "no summary",
    "SS03": "summary does not end with a period",
    "PR01": "a parameter is not documented",
    "PR02": "a documented parameter does not exist",
    "PR03": "parameters documented in another order than the signature's",
    "PR04": "a parameter has no type",
    "PR10": "no space before the colon of a parameter",
    "RT01": "no Returns section where the function returns something",
    "RT03": "a return value has no description",
    "YD01": "no Yields section in a generator",
}

#: Modules whose public (non-underscore) functions and classes, with their public methods and
#: properties, are the API.
MODULES = (
    "audio",
    "collection",
    "datasets",
    "embeddings",
    "extraction",
    "store_check",
    "scan_folders",
    "playlist",
    "projection",
    "similarity",
    "explorer",
    "widget",
    "app",
    "tags",
    "models",
    "models.tagger",
    "models.runner",
    "models.handcrafted",
    "registry",
    "clock",
    "models.musicnn_net",
    "models.vgg_net",
    "models.vggish_net",
)
#: Classes documented by their class docstring only (their traits are listed there).
CLASS_ONLY = {"embedexplore.widget.ExplorerWidget"}
#: Methods not ours to document: torch's ``nn.Module`` hooks.
SKIP_METHODS = {"extra_repr"}


def _qualname(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _public(module: types.ModuleType) -> list:
    """The module's public functions and classes: its ``__all__``, else what it defines."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n for n, o in vars(module).items() if getattr(o, "__module__", None) == module.__name__
        ]
    objects = [getattr(module, n) for n in names if not n.startswith("_")]
    return [o for o in objects if inspect.isfunction(o) or inspect.isclass(o)]


def _members(cls) -> list[str]:
    """Qualified names of the public methods and properties a class defines itself."""
    out = []
    for name, attr in vars(cls).items():
        if name.startswith("_") or name in SKIP_METHODS:
            continue
        if isinstance(attr, staticmethod | classmethod):
            attr = attr.__func__
        if inspect.isfunction(attr) or isinstance(attr, property):
            out.append(f"{_qualname(cls)}.{name}")
    return out


def _api() -> dict[str, object]:
    """Qualified name -> object, for every object of the public API."""
    found: dict[str, object] = {}
    modules = [importlib.import_module(f"embedexplore.{m}") for m in MODULES]
    for name in embedexplore.__all__:
        if name.startswith("__"):  # __version__
            continue
        obj = getattr(embedexplore, name)  # lazy exports load here
        if isinstance(obj, types.ModuleType):
            found[obj.__name__] = obj  # the module's own docstring
            modules.append(obj)
        else:
            found[_qualname(obj)] = obj
    # every public function or class of the models package, wherever it is defined
    found.update({_qualname(o): o for m in modules for o in _public(m)})
    found[_qualname(embedexplore.models.vggish_net.VGGishEmbedder)] = (
        embedexplore.models.vggish_net.VGGishEmbedder  # what load_vggish returns
    )
    for qualname, obj in list(found.items()):
        if inspect.isclass(obj) and qualname not in CLASS_ONLY:
            for member in _members(obj):
                found[member] = obj
    return dict(sorted(found.items()))


API = _api()


def _returns_none(qualname: str) -> bool:
    """Whether the object's return annotation says it returns None."""
    obj = API[qualname]
    if inspect.isclass(obj):  # a method: look it up on its class
        obj = inspect.getattr_static(obj, qualname.rsplit(".", 1)[1])
        obj = getattr(obj, "__func__", obj)
    try:
        annotation = inspect.signature(obj).return_annotation
    except (TypeError, ValueError):
        return False
    return annotation in (None, "None")


def test_the_walk_finds_the_api():
    # a walk that finds nothing would pass every check: make sure it reaches the API
    for name in (
        "embedexplore.collection.scan",
        "embedexplore.collection.Collection.filter",
        "embedexplore.embeddings.Embeddings",
        "embedexplore.embeddings.Embeddings.array",
        "embedexplore.extraction.extract",
        "embedexplore.explorer.Explorer",
        "embedexplore.explorer.Explorer.selected_tracks",
        "embedexplore.models.load_model",
        "embedexplore.models.tagger.Tagger.embed",
        "embedexplore.registry.register_model",
        "embedexplore.embeddings.Embeddings.windows",
        "embedexplore.clock.Clock.times",
        "embedexplore.models.musicnn_net.MusiCNN.forward",
        "embedexplore.similarity.knn",
        "embedexplore.audio",
    ):
        assert name in API
    assert len(API) >= 90


# numpydoc lists a widget class's members, which ipywidgets answers with deprecation warnings
@pytest.mark.filterwarnings(r"ignore:Widget\.\w+ is deprecated:DeprecationWarning")
@pytest.mark.parametrize("qualname", list(API), ids=[n.removeprefix("embedexplore.") for n in API])
def test_numpydoc(qualname):
    errors = [
        (code, message)
        for code, message in numpydoc.validate.validate(qualname)["errors"]
        if code in CHECKS and not (code == "RT01" and _returns_none(qualname))
    ]
    if errors:
        pytest.fail(
            f"{qualname}: its docstring breaks numpydoc's rules:\n"
            + "\n".join(f"  {code} ({CHECKS[code]}): {message}" for code, message in errors),
            pytrace=False,
        )
