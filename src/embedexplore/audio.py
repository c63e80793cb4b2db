"""Audio for the models: mono float32 at 16 kHz, decoded in streamed chunks; the segment clock.

Decoding uses PyAV (FFmpeg bundled in the wheel: mp3, ogg vorbis, opus, flac, m4a/aac/alac, wav,
aiff, wma with no system package). What FFmpeg refuses (a valid Ogg Vorbis file whose headers it
finds "invalid") or misreads (24-bit samples in 32-bit WAVE_FORMAT_EXTENSIBLE words) is read with
libsndfile (the ``soundfile`` wheel) instead, and then everywhere: probing, extraction and
playback choose the decoder by the same test, so a file gives the same samples wherever it is
read. A chain of Ogg streams is read link by link, so links whose sample rate or channel count
change are read too (both FFmpeg and libsndfile stop at the first such change). Decoded samples
far above full scale (a decoder misreading a format) are an :class:`AudioError`, never data.

Resampling uses soxr at its "HQ" quality, the very resampler and setting that librosa's default
``res_type="soxr_hq"`` applies, which is what the original MusiCNN and VGG models were fed
(``benchmarks/resampling_quality.py`` measures it against a reference). Channels are averaged to
mono before resampling, as ``librosa.to_mono`` does.

The segment clock of the original models (``SAMPLE_RATE``, ``PATCH_SAMPLES``,
``SEGMENT_SECONDS``, :func:`segment_times`) is defined in :mod:`embedexplore.clock` and kept here
under its old names; every model's own clock is in :mod:`embedexplore.registry`.

The work is split by what it reads: ``_ffmpeg`` and ``_ffmpeg_probe`` (FFmpeg), ``_sndfile``
(libsndfile), ``_containers`` (container bytes: truncation, Ogg links, WAV layouts), ``_pcm`` (the
checks every decoder's samples pass).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator

import numpy as np
import soxr

from . import _containers, _ffmpeg, _ffmpeg_probe, _sndfile
from ._audio_types import AudioError, AudioInfo, Refused
from ._containers import Source
from .clock import MEL_HOP as HOP_LENGTH
from .clock import ORIGINAL, PATCH_FRAMES, PATCH_SAMPLES, SAMPLE_RATE, SEGMENT_SECONDS

__all__ = [
    "HOP_LENGTH",
    "PATCH_FRAMES",
    "PATCH_SAMPLES",
    "SAMPLE_RATE",
    "SEGMENT_SECONDS",
    "AudioError",
    "AudioInfo",
    "load",
    "probe",
    "segment_start",
    "segment_times",
    "stream",
]

# the classes live in _audio_types so that the decoders can raise them without importing this
# module; this is where users meet them, so reprs, tracebacks and pickles name it
AudioError.__module__ = AudioInfo.__module__ = __name__

logger = logging.getLogger(__name__)

#: Seconds decoded before a requested start, for the decoder and resampler to settle.
_PREROLL_S = 0.5


def segment_start(k):
    """Start time in seconds of segment ``k`` of a track.

    Parameters
    ----------
    k : int or numpy.ndarray
        Segment index, or an integer array of indices of any shape.

    Returns
    -------
    float or numpy.ndarray
        ``k * 187 * 256 / 16000`` (``k * 2.992``) seconds: a float for an int ``k``, else a
        ``float64`` array of the shape of ``k``.
    """
    return k * ORIGINAL.hop / ORIGINAL.sample_rate


def segment_times(n_segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end times in seconds of the first ``n_segments`` segments of a track.

    Parameters
    ----------
    n_segments : int
        Number of segments (>= 0).

    Returns
    -------
    start : numpy.ndarray
        ``float64`` array of shape ``(n_segments,)``: ``start[k] = k * 2.992`` seconds.
    end : numpy.ndarray
        ``float64`` array of shape ``(n_segments,)``: ``end[k] = (k + 1) * 2.992`` seconds.
        Both are computed from integer sample counts, so that no rounding error accumulates
        along a long track.

    Raises
    ------
    ValueError
        ``n_segments`` is negative.
    """
    return ORIGINAL.times(n_segments)


# -- choosing the decoder -------------------------------------------------------------------------


def _read_with(source: Source, ffmpeg: Callable, sndfile: Callable):
    """``ffmpeg(source)``, or ``sndfile(source)`` where FFmpeg refuses or misreads the file.

    The one place that chooses the decoder, for probing and decoding alike. When both refuse,
    FFmpeg's reason is the one reported (libsndfile reads fewer formats).
    """
    if source.whole:
        misread = _containers.wav_layout(source.path)
        if misread is not None:
            logger.info("%s: %s, which FFmpeg misreads: read by libsndfile", source.name, misread)
            return sndfile(source)
    try:
        return ffmpeg(source)
    except Refused as refusal:
        try:
            result = sndfile(source)
        except Refused:
            raise AudioError(str(refusal)) from None
        logger.info("%s: FFmpeg refuses it (%s); libsndfile reads it", source.name, refusal)
        return result


def probe(path: str | os.PathLike) -> AudioInfo:
    """Read a file's audio stream parameters and check that it decodes from start to end.

    Cheap: it decodes the first frames and the last seconds only. The duration is measured as the
    end of the last frame that decodes, so a header or tag that overstates the length does not
    count. A file whose audio stops before its container says (an interrupted download or copy)
    is still usable up to where it stops: it is returned with ``issue`` saying so.

    A file FFmpeg cannot read is read with libsndfile, as it will be decoded; a chain of Ogg
    streams is probed link by link, and its duration is that of all its links.

    Parameters
    ----------
    path : str or os.PathLike
        Any file FFmpeg or libsndfile reads (mp3, ogg, opus, flac, m4a, wav, aiff, wma, ...).

    Returns
    -------
    AudioInfo
        Duration (seconds), sample rate (Hz), channels, codec, container, bit rate and, for a
        damaged but usable file, the ``issue``.

    Raises
    ------
    AudioError
        The file is missing, empty, unreadable, not audio or undecodable, or decodes to samples
        far above full scale; the message says which.
    """
    _containers.check_file(path)
    links = _containers.sources(path)
    if len(links) == 1:
        return _probe_source(links[0])
    infos: list[AudioInfo] = []
    unread = None
    for link in links:
        try:
            infos.append(_probe_source(link))
        except AudioError as e:
            if not infos:
                raise
            unread = f"link {link.link + 1} of {link.links} cannot be read ({e})"
            break
    duration = sum(info.duration for info in infos)
    issue = _containers.container_truncation(links[0].path, "ogg")
    if issue is not None:
        issue = f"truncated: {issue}; indexed up to where it stops (copy the file again?)"
    elif unread is not None:
        issue = f"{unread}; indexed up to there ({duration:.1f} s)"
    else:
        issue = next(
            (f"link {i + 1} of {len(infos)}: {x.issue}" for i, x in enumerate(infos) if x.issue),
            None,
        )
    first = infos[0]
    size = os.path.getsize(links[0].path)
    return AudioInfo(
        duration=duration,
        sample_rate=first.sample_rate,
        channels=first.channels,
        codec=first.codec,
        container=first.container,
        bit_rate=round(size * 8 / duration) if duration > 0 else first.bit_rate,
        issue=issue,
    )


def _probe_source(source: Source) -> AudioInfo:
    return _read_with(source, _ffmpeg_probe.probe, _sndfile.probe)


def stream(
    path: str | os.PathLike,
    *,
    sample_rate: int = SAMPLE_RATE,
    start: float = 0.0,
    duration: float | None = None,
    chunk_seconds: float = 30.0,
) -> Iterator[np.ndarray]:
    """Yield a track's audio as mono float32 chunks at ``sample_rate``, decoding as it goes.

    Memory stays bounded by the chunk size, so a 2-hour mix streams in the memory of one chunk.
    Concatenating the chunks gives the same samples as :func:`load`.

    Parameters
    ----------
    path : str or os.PathLike
        Any file FFmpeg or libsndfile reads (mp3, ogg, opus, flac, m4a, wav, aiff, wma, ...).
    sample_rate : int, default: 16000
        Output rate in Hz (16000 for the models).
    start : float, default: 0.0
        Offset in seconds to start from (seeks, then trims to the exact sample).
    duration : float, optional
        Seconds to return; ``None`` reads to the end.
    chunk_seconds : float, default: 30.0
        Length of each yielded chunk in seconds (the last one may be shorter).

    Yields
    ------
    numpy.ndarray
        ``float32`` array of shape ``(n,)``, ``n = round(chunk_seconds * sample_rate)`` (the last
        chunk may be shorter): consecutive chunks of the mono signal at ``sample_rate`` Hz,
        channels averaged.

    Raises
    ------
    AudioError
        The file cannot be opened or decoded (corrupt packets are skipped and replaced by silence,
        with a warning, up to a limit), or decodes to samples far above full scale.
    ValueError
        ``sample_rate`` is not positive, or ``start`` or ``duration`` is negative or not finite.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if not math.isfinite(start) or start < 0:
        raise ValueError(f"start must be a finite number of seconds >= 0, got {start}")
    if duration is not None and (not math.isfinite(duration) or duration < 0):
        raise ValueError(f"duration must be a finite number of seconds >= 0 or None: {duration}")
    chunk = max(1, round(chunk_seconds * sample_rate))
    wanted = None if duration is None else round(duration * sample_rate)
    # decode from a little before `start`, so that the decoder (Opus and AAC need pre-roll after a
    # seek) and the resampler have settled by `start`; then drop the samples before it
    from_ = max(0.0, start - _PREROLL_S)
    skip = round((start - from_) * sample_rate)
    pending: list[np.ndarray] = []
    n_pending = 0
    emitted = 0
    for block in _resampled(path, sample_rate=sample_rate, start=from_):
        if skip:
            dropped = min(skip, block.size)
            block, skip = block[dropped:], skip - dropped
        if wanted is not None:
            block = block[: max(0, wanted - emitted - n_pending)]
        if block.size:
            pending.append(block)
            n_pending += block.size
        while n_pending >= chunk:
            out = np.concatenate(pending) if len(pending) > 1 else pending[0]
            yield out[:chunk]
            emitted += chunk
            rest = out[chunk:]
            pending = [rest] if rest.size else []
            n_pending = rest.size
        if wanted is not None and emitted + n_pending >= wanted:
            break
    if n_pending:
        yield np.concatenate(pending) if len(pending) > 1 else pending[0]


def _resampled(path, *, sample_rate: int, start: float) -> Iterator[np.ndarray]:
    """Mono float32 blocks at ``sample_rate`` (sizes as they come), from ``start`` seconds on."""
    resampler = None
    resampler_rate = None
    for rate, block in _decoded(path, start=start):
        if rate != resampler_rate:
            if resampler is not None:
                yield resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            resampler_rate = rate
            resampler = (
                None
                if rate == sample_rate
                else soxr.ResampleStream(rate, sample_rate, 1, dtype="float32", quality="HQ")
            )
        yield block if resampler is None else resampler.resample_chunk(block, last=False)
    if resampler is not None:
        yield resampler.resample_chunk(np.zeros(0, np.float32), last=True)


def _decoded(path, *, start: float) -> Iterator[tuple[int, np.ndarray]]:
    """(input rate, mono float32 block) pairs straight from the decoder, from ``start`` on; link
    after link for a chain of Ogg streams."""
    _containers.check_file(path)
    links = _containers.sources(path)
    if len(links) == 1:
        yield from _decoded_source(links[0], start=start)
        return
    at = 0.0  # where the link starts in the whole, in seconds
    for link in links:
        # each link is measured as the probe measures it, so that a time means the same in the
        # scan and in the audio, and decoding stops at the link where the probe stopped
        try:
            length = _probe_source(link).duration
        except AudioError as e:
            if link.link == 0:
                raise
            logger.warning("%s: cannot be read (%s); the track ends before it", link.name, e)
            return
        if at + length > start:
            yield from _decoded_source(link, start=max(0.0, start - at))
        at += length


def _decoded_source(source: Source, *, start: float) -> Iterator[tuple[int, np.ndarray]]:
    def ffmpeg(src):
        blocks = _ffmpeg.decoded(src, start=start)
        first = next(blocks, None)  # FFmpeg refuses a file, if at all, before its first block
        return blocks if first is None else _chain(first, blocks)

    def sndfile(src):
        blocks = _sndfile.decoded(src, start=start)
        first = next(blocks, None)
        return blocks if first is None else _chain(first, blocks)

    yield from _read_with(source, ffmpeg, sndfile)


def _chain(first, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def load(
    path: str | os.PathLike,
    *,
    sample_rate: int = SAMPLE_RATE,
    start: float = 0.0,
    duration: float | None = None,
) -> np.ndarray:
    """A track (or the part from ``start`` lasting ``duration`` s) as one mono float32 array.

    For long files prefer :func:`stream`, which keeps memory bounded.

    Parameters
    ----------
    path : str or os.PathLike
        Any file FFmpeg or libsndfile reads (mp3, ogg, opus, flac, m4a, wav, aiff, wma, ...).
    sample_rate : int, default: 16000
        Output rate in Hz (16000 for the models).
    start : float, default: 0.0
        Offset in seconds to start from.
    duration : float, optional
        Seconds to return; ``None`` reads to the end.

    Returns
    -------
    numpy.ndarray
        ``float32`` array of shape ``(n,)``: the mono signal at ``sample_rate`` Hz (channels
        averaged), the concatenation of what :func:`stream` yields; empty (shape ``(0,)``) when
        there is no audio in the range.

    Raises
    ------
    AudioError
        The file cannot be opened or decoded, or decodes to samples far above full scale.
    ValueError
        ``sample_rate`` is not positive, or ``start`` or ``duration`` is negative or not finite.
    """
    chunks = list(
        stream(path, sample_rate=sample_rate, start=start, duration=duration, chunk_seconds=600.0)
    )
    if not chunks:
        return np.zeros(0, np.float32)
    return np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
