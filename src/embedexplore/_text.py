"""The one text dtype for anything that came from the file system: file names are data.

A Linux file name is bytes. Python decodes a name that is not valid UTF-8 with lone surrogates
(PEP 383, ``surrogateescape``) so that ``os.fsencode`` gives the very bytes back. pandas 3 infers
its ``str`` dtype for text, and where pyarrow is installed that dtype is backed by pyarrow, which
refuses lone surrogates: a single such name (an old Latin-1 or CP1252 copy) would abort a whole
scan, or the opening of a store, depending only on whether pyarrow happens to be installed.

So a column or index that can hold such text (paths, file names, error reasons quoting a path,
and, for one dtype throughout, track ids and tags) is built with :data:`TEXT`, never left to
inference: pandas' string dtype with NaN for missing values (the semantics of pandas 3's default
``str``, also on pandas 2.3) kept in Python objects, with or without pyarrow. Mind that pandas
infers again whenever it builds text from Python objects: ``pd.Series(list_or_object_array)``,
``pd.Index(values)``, ``Series.map(...)`` returning text and ``astype(str)`` all do. Build with
the helpers here, or convert with ``.astype(TEXT)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TEXT", "printable", "records_frame", "text_array", "text_index"]

TEXT = pd.StringDtype(storage="python", na_value=np.nan)
"""Text that round-trips any file name: ``str`` values, NaN where missing, in Python objects."""


def text_array(values: Iterable[Any]) -> pd.api.extensions.ExtensionArray:
    """Text values as an array of :data:`TEXT` (None becomes NaN), without inference.

    Parameters
    ----------
    values : iterable of str or None
        The values, e.g. paths.

    Returns
    -------
    pandas.api.extensions.ExtensionArray
        An array of dtype :data:`TEXT`.
    """
    return pd.array(list(values), dtype=TEXT)


def text_index(values: Iterable[Any], *, name: str | None = None) -> pd.Index:
    """Text values as a :class:`pandas.Index` of :data:`TEXT`, without inference.

    Parameters
    ----------
    values : iterable of str
        The labels, e.g. track ids.
    name : str, optional
        The index's name, e.g. ``"track_id"``.

    Returns
    -------
    pandas.Index
        An index of dtype :data:`TEXT`.
    """
    return pd.Index(text_array(values), name=name)


def records_frame(
    records: Sequence[Mapping[str, Any]], columns: Sequence[str], dtypes: Mapping[str, Any]
) -> pd.DataFrame:
    """A DataFrame of ``records`` (dicts) with the given column dtypes, none of them inferred.

    Parameters
    ----------
    records : sequence of dict
        One dict per row; keys missing from a dict are missing values.
    columns : sequence of str
        The columns, in order (also for zero records).
    dtypes : dict
        Column name -> dtype, e.g. ``{"path": TEXT, "indexed": "bool"}``; columns not named
        stay ``object``.

    Returns
    -------
    pandas.DataFrame
        ``len(records)`` rows, ``columns`` in order, each of its dtype.
    """
    # built as object columns first: pandas would otherwise infer its default string dtype
    # (pyarrow) from the values and fail on the first file name that is not valid UTF-8
    frame = pd.DataFrame(list(records), columns=list(columns), dtype=object)
    return frame.astype(dict(dtypes))


def printable(text: str) -> str:
    """``text`` made safe to print: the bytes of a non-UTF-8 file name and control characters
    shown as escapes.

    What a terminal, a log or a notebook can print whatever its encoding allows for text: the
    escapes name the bytes of the file, where U+FFFD would hide them. Control characters other
    than newline and tab (escape sequences that would move the cursor, recolour or retitle the
    terminal, a carriage return that would overwrite the line, the C1 controls) are shown as
    ``\x1b`` and the like.

    Parameters
    ----------
    text : str
        Text that may hold lone surrogates (``os.fsdecode`` of a non-UTF-8 name) or control
        characters (a file name or a tag).

    Returns
    -------
    str
        Valid Unicode with no control character but newline and tab: ``text`` itself when it
        has none of these.
    """
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no file name decodes to: escape it
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    else:
        text = raw.decode("utf-8", "backslashreplace")
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


#: C0 controls but tab and newline, DEL, C1 controls
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
