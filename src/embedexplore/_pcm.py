"""Decoded samples of any decoder to the mono float32 the rest of the package reads, checked.

Every decoder's output passes through :func:`mono`, so that the same guards hold whichever decoder
read a file: non-finite samples become silence, and samples far above full scale (what a decoder
that misreads a format produces, e.g. FFmpeg reading 24-bit samples in 32-bit words as floats:
values near 1e31) stop decoding with an :class:`~embedexplore.audio.AudioError` instead of being
analysed as if they were music.
"""

from __future__ import annotations

import logging

import numpy as np

from ._audio_types import AudioError

__all__ = ["MAX_PEAK", "mono"]

logger = logging.getLogger(__name__)

#: The loudest sample accepted, in units of full scale (16 = +24 dBFS). Integer PCM cannot exceed
#: 1; float files may, a little (a mix that clips), but never by this much: beyond it the decoder
#: is reading the bytes as something they are not.
MAX_PEAK = 16.0


def mono(x: np.ndarray) -> np.ndarray:
    """Average the channels of decoded float samples, after checking them.

    Parameters
    ----------
    x : numpy.ndarray [shape=(channels, n)]
        Float samples scaled so that full scale is 1.0.

    Returns
    -------
    numpy.ndarray [shape=(n,)]
        float32: the mean of the channels (``librosa.to_mono``), non-finite samples as 0.

    Raises
    ------
    AudioError
        A sample's magnitude exceeds :data:`MAX_PEAK`.
    """
    x = np.asarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        # float PCM may hold NaN or inf (a damaged file, a mislabelled format): they would poison
        # the resampler's filter and every model output downstream
        logger.warning("non-finite samples replaced by silence")
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    if x.size:
        peak = float(np.max(np.abs(x)))
        if peak > MAX_PEAK:
            raise AudioError(
                f"decoded samples reach {peak:.3g} times full scale, which no recording holds: "
                "the decoder misreads this file, so it is left out rather than analysed as noise "
                "(convert it to FLAC with another program to include it)"
            )
    return np.ascontiguousarray(x[0]) if x.shape[0] == 1 else x.mean(axis=0, dtype=np.float32)
