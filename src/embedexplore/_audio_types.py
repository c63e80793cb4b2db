"""What :mod:`embedexplore.audio` tells about a file: its stream parameters, or why it is unusable.

A module of its own so that the decoders (``_ffmpeg``, ``_sndfile``) and the container checks can
raise :class:`AudioError` without importing :mod:`embedexplore.audio`, which imports them. Both
classes are re-exported there, and that is where users find them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AudioError", "AudioInfo", "Refused"]


class AudioError(Exception):
    """A file that cannot be read as audio.

    The message says why and, where it can, what to do. Raised by
    :func:`~embedexplore.audio.probe`, :func:`~embedexplore.audio.stream` and
    :func:`~embedexplore.audio.load`.
    """


class Refused(AudioError):
    """One decoder cannot read the file at all (open, stream or first frames): another may.

    Raised before any sample is produced, so that the caller can hand the file to the other
    decoder without mixing the two decoders' samples in one track.
    """


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`~embedexplore.audio.probe` learns about a file's first audio stream.

    Each parameter is kept as the (read-only) attribute of the same name.

    Parameters
    ----------
    duration : float
        Length in seconds, measured from the stream (the end of the last decodable frame), not
        read from a tag. For a chain of Ogg streams, the length of all its links.
    sample_rate : int
        Sample rate of the stream in Hz, as decoded (before any resampling); of the first link
        for a chain of Ogg streams.
    channels : int
        Number of channels of the stream (of the first link for a chain of Ogg streams).
    codec : str
        FFmpeg's decoder name (``mp3float`` is reported as ``mp3``, ``mp2float`` as ``mp2``). For
        a file that only libsndfile reads (see :func:`~embedexplore.audio.probe`), the FFmpeg name
        of the same codec (``vorbis``, ``pcm_s32le``, ...).
    container : str
        FFmpeg's demuxer name, e.g. ``"mp3"``, ``"ogg"``, ``"wav"``.
    bit_rate : int or None
        The container's overall bit rate in bit/s, or None when it is not known.
    issue : str or None, default: None
        What is wrong with a file that is still usable (truncated, damaged near the end), else
        None.
    """

    duration: float
    sample_rate: int
    channels: int
    codec: str
    container: str
    bit_rate: int | None
    issue: str | None = None
