"""Short clips of a track for listening in the browser: exact spans, encoded as WAV bytes.

>>> wav = clips.clip("song.mp3", start=2.992, duration=2.992)   # doctest: +SKIP

The explorer plays segments from bytes the kernel sends, because a collection usually lives
outside the Jupyter server's root, where the browser cannot fetch files. WAV (16-bit PCM) is
written by hand with the standard library's ``wave`` module: it is the one format every browser
plays without a codec question, and a 2.992 s mono clip at 22.05 kHz is 132 kB, small enough for
the widget's messages. The samples come from :func:`embedexplore.audio.stream`, which seeks and
trims to the exact sample, so the clip is exactly the segment the models saw.
"""

from __future__ import annotations

import io
import os
import wave

import numpy as np

from . import audio

__all__ = ["LISTEN_RATE", "MAX_CLIP_SECONDS", "clip", "faded_span", "wav_bytes"]

LISTEN_RATE = 22_050
"""Sample rate of the clips (Hz): above the models' 16 kHz, so that cymbals still sound."""
MAX_CLIP_SECONDS = 30.0
"""The longest clip sent at once; "play on" asks for the next one when this one ends."""


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """Encode mono float samples in [-1, 1] as a 16-bit PCM WAV file.

    Parameters
    ----------
    samples : np.ndarray [shape=(n,)]
    sample_rate : int

    Returns
    -------
    bytes
    """
    pcm = np.clip(np.asarray(samples, np.float32), -1.0, 1.0)
    pcm = np.round(pcm * 32767.0).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return out.getvalue()


def clip(
    path: str | os.PathLike,
    *,
    start: float,
    duration: float,
    sample_rate: int = LISTEN_RATE,
    fade: float = 0.01,
) -> bytes:
    """The span ``[start, start + duration)`` of a track as WAV bytes (mono).

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    start, duration : float
        Seconds; ``duration`` is capped at :data:`MAX_CLIP_SECONDS`.
    sample_rate : int
        Rate of the clip in Hz.
    fade : float
        Seconds of fade-in and fade-out, so that the cut does not click.

    Returns
    -------
    bytes
        A WAV file; shorter than ``duration`` where the track ends first.

    Raises
    ------
    embedexplore.audio.AudioError
        The file cannot be decoded.
    """
    x = faded_span(path, start=start, duration=min(float(duration), MAX_CLIP_SECONDS),
                   sample_rate=sample_rate, fade=fade)  # fmt: skip
    return wav_bytes(x, sample_rate)


def faded_span(
    path: str | os.PathLike, *, start: float, duration: float, sample_rate: int, fade: float
) -> np.ndarray:
    """The span ``[start, start + duration)`` of a track, mono, with short fades at both ends.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    start, duration : float
        Seconds.
    sample_rate : int
        Rate of the result in Hz.
    fade : float
        Seconds of fade-in and fade-out, so that the cut does not click.

    Returns
    -------
    np.ndarray
        float32 of shape ``(n,)``, ``n <= duration * sample_rate`` (less where the track ends).

    Raises
    ------
    embedexplore.audio.AudioError
        The file cannot be decoded.
    """
    chunks = list(audio.stream(path, sample_rate=sample_rate, start=start, duration=duration))
    x = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    n = min(len(x) // 2, round(fade * sample_rate))
    if n:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        x = x.copy()
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x
