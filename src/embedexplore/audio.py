"""Audio for the models: mono float32 at 16 kHz, decoded in streamed chunks; the segment clock.

Decoding uses PyAV (FFmpeg bundled in the wheel: mp3, ogg vorbis, opus, flac, m4a/aac/alac, wav,
aiff, wma with no system package). Resampling uses soxr at its "HQ" quality, the very resampler and
setting that librosa's default ``res_type="soxr_hq"`` applies, which is what the original MusiCNN
and VGG models were fed (``benchmarks/resampling_quality.py`` measures it against a reference).
Channels are averaged to mono before resampling, as ``librosa.to_mono`` does.

The segment clock: the models read patches of 187 mel frames with a hop of 256 samples at 16 kHz,
so a segment lasts ``187 * 256 / 16000 = 2.992`` s, not 3 s, and segment ``k`` of a track starts at
exactly ``k * 2.992`` s.
"""

from __future__ import annotations

import logging
import math
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
import soxr

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

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
"""Sample rate the models take, in Hz."""
HOP_LENGTH = 256
"""Hop between mel frames, in samples at :data:`SAMPLE_RATE`."""
PATCH_FRAMES = 187
"""Mel frames in one model input patch (one segment)."""
PATCH_SAMPLES = PATCH_FRAMES * HOP_LENGTH
"""Samples at 16 kHz covered by one segment: 47,872."""
SEGMENT_SECONDS = PATCH_SAMPLES / SAMPLE_RATE
"""Length of one segment in seconds: 2.992."""

#: Decoded samples are gathered in FFmpeg's own FIFO and converted to numpy this many at a time:
#: converting frame by frame costs more than decoding (Python overhead per ~1,000-sample frame).
_FIFO_SAMPLES = 1 << 16
#: A file whose audio ends more than this before the end its header states is reported truncated.
_TRUNCATION_TOLERANCE_S = 0.5
#: How far before the stated end `probe` seeks to check that the end really decodes.
_END_CHECK_S = 1.0
#: Seconds decoded before a requested start, for the decoder and resampler to settle.
_PREROLL_S = 0.5
#: Packets decoded at the end of a file to check that it decodes and find its exact end.
_END_PACKETS = 12
#: Longest silence that stands in for one corrupt packet (real packets last < 0.2 s).
_MAX_GAP_S = 0.5
#: Corrupt packets skipped (replaced by silence) before decoding gives up on a file.
_MAX_BAD_PACKETS = 100


class AudioError(Exception):
    """A file that cannot be read as audio.

    The message says why and, where it can, what to do. Raised by :func:`probe`,
    :func:`stream` and :func:`load`.
    """


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`probe` learns about a file's first audio stream.

    Each parameter is kept as the (read-only) attribute of the same name.

    Parameters
    ----------
    duration : float
        Length in seconds, measured from the stream (the end of the last decodable frame), not
        read from a tag.
    sample_rate : int
        Sample rate of the stream in Hz, as decoded (before any resampling).
    channels : int
        Number of channels of the stream.
    codec : str
        FFmpeg's decoder name (``mp3float`` is reported as ``mp3``, ``mp2float`` as ``mp2``).
    container : str
        FFmpeg's demuxer name, e.g. ``"mp3"``, ``"ogg"``, ``"wav"``.
    bit_rate : int or None
        The container's overall bit rate in bit/s, or None when FFmpeg does not know it.
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
    return k * PATCH_SAMPLES / SAMPLE_RATE


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
    if n_segments < 0:
        raise ValueError(f"n_segments must be >= 0, got {n_segments}")
    k = np.arange(n_segments + 1, dtype=np.int64) * PATCH_SAMPLES
    edges = k / SAMPLE_RATE
    return edges[:-1], edges[1:]


def _open(path: str | os.PathLike) -> av.container.InputContainer:
    path = os.fspath(path)
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise AudioError("file not found (was it moved or deleted?)") from None
    except PermissionError:
        raise AudioError("permission denied: the file cannot be read by this user") from None
    except OSError as e:
        raise AudioError(f"cannot access the file: {e.strerror or e}") from None
    if size == 0:
        raise AudioError("empty file (0 bytes)")
    try:
        return av.open(path, mode="r", metadata_errors="replace")
    except PermissionError:
        raise AudioError("permission denied: the file cannot be read by this user") from None
    except av.FFmpegError as e:
        raise AudioError(
            f"not a readable audio file: damaged, cut short or not audio ({_ffmpeg_reason(e)})"
        ) from None
    except OSError as e:
        raise AudioError(f"cannot open the file: {e.strerror or e}") from None


def _ffmpeg_reason(e: Exception) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return str(msg).strip().rstrip(".") or type(e).__name__


def _audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream:
    if not container.streams.audio:
        kinds = sorted({s.type for s in container.streams}) or ["no"]
        raise AudioError(
            f"no audio stream: FFmpeg reads it as {container.format.name!r} with "
            f"{', '.join(kinds)} streams (is the extension wrong?)"
        )
    stream = container.streams.audio[0]
    if stream.codec_context is None:
        tag = getattr(stream, "codec_tag", "") or "unknown"
        raise AudioError(f"unsupported audio codec (tag {tag!r}): FFmpeg has no decoder for it")
    return stream


def _packets(container, stream, path, stopped: list | None = None) -> Iterator[av.Packet]:
    """The stream's packets; a demuxer error (a file cut short mid-packet) ends the iteration,
    and is appended to ``stopped`` when given."""
    demux = container.demux(stream)
    while True:
        try:
            packet = next(demux)
        except StopIteration:
            return
        except av.FFmpegError as e:
            logger.warning("%s: reading stopped early (%s)", os.fspath(path), _ffmpeg_reason(e))
            if stopped is not None:
                stopped.append(_ffmpeg_reason(e))
            return
        yield packet


def _frame_end(frame: av.AudioFrame, stream) -> float | None:
    if frame.pts is None:
        return None
    tb = frame.time_base or stream.time_base
    return frame.pts * float(tb) + frame.samples / frame.sample_rate


def _stream_start(stream) -> float:
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _codec_name(stream) -> str:
    name = stream.codec_context.name
    return {"mp3float": "mp3", "mp2float": "mp2"}.get(name, name)


def probe(path: str | os.PathLike) -> AudioInfo:
    """Read a file's audio stream parameters and check that it decodes from start to end.

    Cheap: it decodes the first frames and the last seconds only. The duration is measured as the
    end of the last frame that decodes, so a header or tag that overstates the length does not
    count. A file whose audio stops before its container says (an interrupted download or copy)
    is still usable up to where it stops: it is returned with ``issue`` saying so.

    Parameters
    ----------
    path : str or os.PathLike
        Any file FFmpeg reads (mp3, ogg, opus, flac, m4a, wav, aiff, wma, ...).

    Returns
    -------
    AudioInfo
        Duration (seconds), sample rate (Hz), channels, codec, container, bit rate and, for a
        damaged but usable file, the ``issue``.

    Raises
    ------
    AudioError
        The file is missing, empty, unreadable, not audio or undecodable; the message says which.
    """
    with _open(path) as container:
        stream = _audio_stream(container)
        cc = stream.codec_context
        start = _stream_start(stream)
        header_end = None
        if stream.duration is not None and stream.time_base is not None:
            header_end = start + float(stream.duration * stream.time_base)
        elif container.duration is not None and len(container.streams) == 1:
            # (with video or other streams beside, the container's length may be theirs)
            header_end = container.duration / av.time_base

        # 1. the first frames decode (a damaged packet or two at the start is tolerated)
        first = None
        error = None
        for i, packet in enumerate(_packets(container, stream, path)):
            try:
                frames = cc.decode(packet)
            except av.FFmpegError as e:
                error = e
                frames = []
            if frames:
                first = frames[0]
                break
            if i > 200:
                break
        if first is None:
            if error is not None:
                raise AudioError(f"cannot decode the audio ({_ffmpeg_reason(error)})")
            raise AudioError("no decodable audio at the start of the file")
        if first.pts is not None:
            # where the audio really starts: the stream's stated start can be off (files from
            # FFmpeg's experimental Vorbis encoder start at -11 s and state 1.3 s for 20 s)
            start = first.pts * float(first.time_base or stream.time_base)
        sample_rate = int(first.sample_rate or cc.sample_rate)
        channels = len(first.layout.channels) if first.layout is not None else cc.channels
        codec = _codec_name(stream)
        container_name = container.format.name
        bit_rate = int(container.bit_rate) if container.bit_rate else None

        # 2. the end decodes, where the header says it is
        end = None
        tail_sizes: list[int] = []
        bad_end = 0
        last_head = b""
        if header_end is not None and header_end > _END_CHECK_S:
            end, tail_sizes, bad_end, last_head = _decoded_end(
                container, stream, path, seek_to=header_end - _END_CHECK_S
            )
    if end is None or (header_end is not None and end < header_end - _TRUNCATION_TOLERANCE_S):
        # no header length, or the seek landed wrong: walk every packet (demux only, no decoding)
        end = _demuxed_end(path, first_end=_frame_end(first, stream))
    if end is None:
        raise AudioError("cannot find where the audio ends")
    duration = max(0.0, end - start)
    chained = _ogg_chained(path, container_name)
    stopped: list[str] = []
    if not _plausible(codec, duration, os.path.getsize(path)) or chained:
        # timestamps that cannot be right for this codec, or chained Ogg streams whose
        # timestamps restart with each link: count the samples instead
        logger.info(
            "%s: implausible duration %.1f s from timestamps; decoding to measure",
            os.fspath(path),
            duration,
        )
        duration = _counted_seconds(path, stopped)
    issue = _container_truncation(path, container_name)
    if issue is None and codec == "mp3":
        issue = _mp3_cut_frame(tail_sizes, last_head)
    if issue is None and header_end is not None and end < header_end - _TRUNCATION_TOLERANCE_S:
        issue = (
            f"the header says {header_end - start:.1f} s but the audio ends at {end - start:.1f} s"
        )
    if issue is not None:
        issue = f"truncated: {issue}; indexed up to where it stops (copy the file again?)"
    elif stopped:
        kind = "a chain of Ogg streams" if chained else "a stream"
        issue = (
            f"{kind} that FFmpeg stops reading after {duration:.1f} s ({stopped[0]}); "
            "indexed up to there"
        )
    elif bad_end > 1:  # one undecodable last packet is usually trailing tags or padding
        issue = f"damaged near the end: {bad_end} of its last packets do not decode"
    return AudioInfo(
        duration=duration,
        sample_rate=sample_rate,
        channels=int(channels),
        codec=codec,
        container=container_name,
        bit_rate=bit_rate,
        issue=issue,
    )


#: Lossy codecs and the bit rates (bit/s, all channels) their files plausibly average.
_LOSSY_RATES = {
    "mp3": (8e3, 640e3),
    "vorbis": (8e3, 1.0e6),
    "opus": (5e3, 1.0e6),
    "aac": (8e3, 1.6e6),
    "wmav2": (8e3, 640e3),
    "mp2": (8e3, 640e3),
}


def _plausible(codec: str, duration: float, size: int) -> bool:
    if size < 16_384:
        return True  # too small to judge: headers dominate
    if duration <= 0:
        return False
    rate = size * 8 / duration
    low, high = _LOSSY_RATES.get(codec, (1e3, float("inf")))  # no codec averages < 500 bit/s
    return low / 2 <= rate <= high * 2


def _counted_seconds(path, stopped: list | None = None) -> float:
    n = 0
    rate = None
    with _open(path) as container:
        stream = _audio_stream(container)
        cc = stream.codec_context
        for packet in _packets(container, stream, path, stopped):
            try:
                frames = cc.decode(packet)
            except av.FFmpegError:
                continue
            for frame in frames:
                n += frame.samples
                rate = frame.sample_rate
    return n / rate if rate else 0.0


def _container_truncation(path, container_format: str) -> str | None:
    """Signs of truncation that FFmpeg hides because it sizes the stream from what is there.

    For WAV, FFmpeg clamps the data chunk to the file size; for Ogg, it takes the length from the
    last page present. So the checks are done here on the container bytes (a few KB read): no
    maintained library reports either. Other formats (FLAC, MP3 with a Xing header, AIFF, MP4)
    state their length in a header, which ``probe`` compares with the decodable end.
    """
    try:
        if container_format == "wav":
            return _wav_truncation(path)
        if container_format == "ogg":
            return _ogg_truncation(path)
    except OSError:
        return None
    return None


def _wav_truncation(path) -> str | None:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None  # RF64, Wave64 and others: leave to FFmpeg
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            length = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                if length in (0, 0xFFFFFFFF):  # written by a stream that never knew its length
                    return None
                have = size - (pos + 8)
                if have < length:
                    return f"the data chunk holds {length} bytes but only {have} are in the file"
                return None
            pos += 8 + length + (length & 1)
    return None


def _ogg_chained(path, container_format: str) -> bool:
    """Whether an Ogg file is a chain of streams (its last page has another serial number)."""
    if container_format != "ogg":
        return False
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(27)
            f.seek(max(0, size - 65536))
            tail = f.read()
    except OSError:
        return False
    at = tail.rfind(b"OggS")
    while at >= 0 and at + 18 > len(tail):
        at = tail.rfind(b"OggS", 0, at)
    if len(head) < 18 or head[:4] != b"OggS" or at < 0:
        return False
    return head[14:18] != tail[at + 14 : at + 18]


def _ogg_truncation(path) -> str | None:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(max(0, size - 65536))
        tail = f.read()
    at = tail.rfind(b"OggS")
    while at >= 0 and at + 6 > len(tail):
        at = tail.rfind(b"OggS", 0, at)
    if at < 0:
        return None
    if not tail[at + 5] & 0x04:  # header_type bit 2: end of stream
        return "the last Ogg page is not marked end-of-stream"
    if at + 27 <= len(tail):
        n_segments = tail[at + 26]
        table = tail[at + 27 : at + 27 + n_segments]
        if len(table) < n_segments or at + 27 + n_segments + sum(table) > len(tail):
            return "the last Ogg page is cut short"
    return None


def _mp3_cut_frame(sizes: list[int], last_head: bytes) -> str | None:
    """A constant-bit-rate MP3 whose last frame is shorter than all others was cut mid-frame.

    Such files (no Xing/Info header) state no length: FFmpeg estimates it from the file size, so
    the length check cannot see the cut, but the frame sizes can. The short packet must begin
    with an MPEG frame sync: trailing tags or padding are not frames.
    """
    if len(sizes) < 12 or len(last_head) < 2:
        return None
    if not (last_head[0] == 0xFF and last_head[1] & 0xE0 == 0xE0):
        return None
    body, last = sizes[:-1], sizes[-1]
    if max(body) - min(body) <= 1 and last < min(body) - 1:
        return f"the last MP3 frame has {last} of {min(body)} bytes"
    return None


def _decoded_end(container, stream, path, *, seek_to: float):
    """End time of the last frame that decodes after seeking to ``seek_to`` seconds; the sizes of
    the packets read on the way, how many of the last ones failed to decode, and the first bytes
    of the last packet.

    The packets after the seek are only demuxed (cheap); the last few are decoded, which proves
    the end decodes and gives the exact end of the last frame (decoder delay and gapless trimming
    included) at a fraction of the cost of decoding everything after the seek.
    """
    cc = stream.codec_context
    sizes: list[int] = []
    try:
        container.seek(int(seek_to / stream.time_base), stream=stream, backward=True)
    except av.FFmpegError:
        return None, sizes, 0, b""
    tail: deque[av.Packet] = deque(maxlen=_END_PACKETS)
    packet_end = None
    tb = float(stream.time_base)
    for packet in _packets(container, stream, path):
        if not packet.size:
            continue
        sizes.append(packet.size)
        tail.append(packet)
        if packet.pts is not None:
            e = (packet.pts + (packet.duration or 0)) * tb
            packet_end = e if packet_end is None else max(packet_end, e)
    cc.flush_buffers()
    end = None
    bad = 0
    for i, packet in enumerate(tail):
        try:
            frames = cc.decode(packet)
        except av.FFmpegError as e:
            # the first packets lack their predecessors (overlap, bit reservoir): forgiven
            if i >= 2:
                bad += 1
                logger.debug("corrupt packet near the end: %s", e)
            continue
        for frame in frames:
            e = _frame_end(frame, stream)
            if e is not None:
                end = e if end is None else max(end, e)
    last_head = bytes(tail[-1])[:4] if tail else b""
    try:
        end_flush = [_frame_end(f, stream) for f in cc.decode(None)]
        end = max(
            [e for e in end_flush if e is not None] + ([end] if end is not None else []),
            default=end,
        )
    except av.FFmpegError:
        pass
    return (end if end is not None else packet_end), sizes, bad, last_head


def _demuxed_end(path, *, first_end: float | None) -> float | None:
    """End time of the last packet, found by reading every packet's timestamps (no decoding)."""
    end = first_end
    with _open(path) as container:
        stream = _audio_stream(container)
        for packet in _packets(container, stream, path):
            if packet.pts is None or packet.time_base is None:
                continue
            e = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            end = e if end is None else max(end, e)
    return end


class _MonoConverter:
    """Turns FFmpeg frames of any sample format and layout into mono float32 at the input rate.

    Frames go into PyAV's AudioFifo (C) and come out in large blocks, so that the numpy work and
    the Python overhead happen once per 65,536 samples rather than once per small frame.
    """

    def __init__(self) -> None:
        self._fifo: av.AudioFifo | None = None
        self._key = None

    def push(self, frame: av.AudioFrame) -> Iterator[np.ndarray]:
        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        if key != self._key:
            yield from self.flush()
            self._fifo = av.AudioFifo()
            self._key = key
        frame.pts = None  # the FIFO checks timestamps for continuity; we count samples instead
        self._fifo.write(frame)
        while self._fifo.samples >= _FIFO_SAMPLES:
            yield _to_mono(self._fifo.read(_FIFO_SAMPLES))

    def flush(self) -> Iterator[np.ndarray]:
        if self._fifo is not None and self._fifo.samples:
            yield _to_mono(self._fifo.read())

    @property
    def sample_rate(self) -> int | None:
        return None if self._key is None else self._key[2]


def _to_mono(frame: av.AudioFrame) -> np.ndarray:
    x = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        x = x.reshape(-1, channels).T
    if x.dtype.kind == "i":
        scale = float(2 ** (8 * x.dtype.itemsize - 1))
        x = x.astype(np.float32) / np.float32(scale)
    elif x.dtype.kind == "u":  # u8: unsigned, centred at 128
        x = (x.astype(np.float32) - 128.0) / 128.0
    else:
        x = x.astype(np.float32, copy=False)
    y = np.ascontiguousarray(x[0]) if channels == 1 else x.mean(axis=0, dtype=np.float32)
    if not np.isfinite(y).all():
        # float PCM may hold NaN or inf (a damaged file, a mislabelled format): they would poison
        # the resampler's filter and every model output downstream
        logger.warning("non-finite samples replaced by silence")
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    return y


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
        Any file FFmpeg reads (mp3, ogg, opus, flac, m4a, wav, aiff, wma, ...).
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
        with a warning, up to a limit).
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
    """(input rate, mono float32 block) pairs straight from the decoder, from ``start`` on."""
    with _open(path) as container:
        stream_ = _audio_stream(container)
        cc = stream_.codec_context
        skip_until = None  # in seconds; frames before this are trimmed after a seek
        if start > 0:
            try:
                container.seek(int(start / stream_.time_base), stream=stream_, backward=True)
            except av.FFmpegError as e:
                raise AudioError(f"cannot seek to {start:.3f} s ({_ffmpeg_reason(e)})") from None
            skip_until = start + _stream_start(stream_)
        converter = _MonoConverter()
        bad = 0
        for packet in _packets(container, stream_, path):
            try:
                frames = cc.decode(packet)
            except av.FFmpegError as e:
                if packet.size == 0:
                    continue
                bad += 1
                if bad > _MAX_BAD_PACKETS:
                    raise AudioError(
                        f"too many corrupt packets ({bad}); last error: {_ffmpeg_reason(e)}"
                    ) from None
                logger.warning("%s: skipping a corrupt packet (%s)", os.fspath(path), e)
                gap = _packet_samples(packet, converter.sample_rate)
                if gap:
                    # the silence goes after the audio still waiting in the converter
                    for block in converter.flush():
                        yield converter.sample_rate, block
                    yield converter.sample_rate, np.zeros(gap, np.float32)
                continue
            for frame in frames:
                if skip_until is not None:
                    frame = _trim_before(frame, skip_until, stream_)
                    if frame is None:
                        continue
                    skip_until = None
                for block in converter.push(frame):
                    yield converter.sample_rate, block
        for block in converter.flush():
            yield converter.sample_rate, block
        if bad:
            logger.warning("%s: %d corrupt packets were replaced by silence", os.fspath(path), bad)


def _packet_samples(packet: av.Packet, rate: int | None) -> int:
    """Samples a lost packet stood for, capped: a damaged packet may state any duration."""
    if not rate or not packet.duration or packet.time_base is None:
        return 0
    seconds = min(float(packet.duration * packet.time_base), _MAX_GAP_S)
    return max(0, round(seconds * rate))


def _trim_before(frame: av.AudioFrame, t: float, stream_) -> av.AudioFrame | None:
    """The part of ``frame`` at or after time ``t`` (seconds), or None if it ends before ``t``."""
    if frame.pts is None:
        return frame
    tb = frame.time_base or stream_.time_base
    t0 = Fraction(frame.pts) * Fraction(tb)
    skip = round((Fraction(t).limit_denominator(10**9) - t0) * frame.sample_rate)
    if skip <= 0:
        return frame
    if skip >= frame.samples:
        return None
    # rebuild the frame's tail through numpy: PyAV frames cannot be sliced in place
    x = frame.to_ndarray()
    if frame.format.is_planar:
        x = x[:, skip:]
    else:
        x = x[:, skip * len(frame.layout.channels) :]
    tail = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(x), format=frame.format.name, layout=frame.layout.name
    )
    tail.sample_rate = frame.sample_rate
    return tail


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
        Any file FFmpeg reads (mp3, ogg, opus, flac, m4a, wav, aiff, wma, ...).
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
        The file cannot be opened or decoded.
    ValueError
        ``sample_rate`` is not positive, or ``start`` or ``duration`` is negative or not finite.
    """
    chunks = list(
        stream(path, sample_rate=sample_rate, start=start, duration=duration, chunk_seconds=600.0)
    )
    if not chunks:
        return np.zeros(0, np.float32)
    return np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
