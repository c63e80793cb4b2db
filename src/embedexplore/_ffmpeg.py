"""Reading a file (or one link of a chain) with FFmpeg through PyAV: opening and decoding.

PyAV's wheel bundles FFmpeg: mp3, ogg vorbis, opus, flac, m4a/aac/alac, wav, aiff, wma with no
system package. Everything FFmpeg cannot read at all (it cannot open the file, finds no audio
stream or no decoder, decodes nothing at the start) raises :class:`Refused` before any sample is
produced, so that :mod:`embedexplore.audio` can try libsndfile instead. Probing is in
``_ffmpeg_probe``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np

from . import _pcm
from ._audio_types import AudioError, Refused
from ._containers import Source

__all__ = [
    "audio_stream",
    "codec_name",
    "decoded",
    "ffmpeg_reason",
    "first_frames",
    "frame_end",
    "opened",
    "packets",
    "stream_start",
    "to_mono",
]

logger = logging.getLogger(__name__)

#: Decoded samples are gathered in FFmpeg's own FIFO and converted to numpy this many at a time:
#: converting frame by frame costs more than decoding (Python overhead per ~1,000-sample frame).
_FIFO_SAMPLES = 1 << 16
#: Longest silence that stands in for one corrupt packet (real packets last < 0.2 s).
_MAX_GAP_S = 0.5
#: Corrupt packets skipped (replaced by silence) before decoding gives up on a file.
_MAX_BAD_PACKETS = 100
#: Packets read at the start of a file to find the first one that decodes.
_FIRST_PACKETS = 200


@contextlib.contextmanager
def opened(source: Source) -> Iterator[av.container.InputContainer]:
    """The file (or link) opened by FFmpeg; :class:`Refused` when FFmpeg cannot read it."""
    target = source.open()
    try:
        try:
            container = av.open(target, mode="r", metadata_errors="replace")
        except PermissionError:
            raise AudioError("permission denied: the file cannot be read by this user") from None
        except av.FFmpegError as e:
            raise Refused(
                f"not a readable audio file: damaged, cut short or not audio ({ffmpeg_reason(e)})"
            ) from None
        except OSError as e:
            raise AudioError(f"cannot open the file: {e.strerror or e}") from None
        with container:
            yield container
    finally:
        if not isinstance(target, str):  # PyAV leaves the file objects it is given open
            target.close()


def ffmpeg_reason(e: Exception) -> str:
    """FFmpeg's message for an error, without the trailing period."""
    msg = getattr(e, "strerror", None) or str(e)
    return str(msg).strip().rstrip(".") or type(e).__name__


def audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream:
    """The first audio stream; :class:`Refused` when there is none or FFmpeg has no decoder."""
    if not container.streams.audio:
        kinds = sorted({s.type for s in container.streams}) or ["no"]
        raise Refused(
            f"no audio stream: FFmpeg reads it as {container.format.name!r} with "
            f"{', '.join(kinds)} streams (is the extension wrong?)"
        )
    stream = container.streams.audio[0]
    if stream.codec_context is None:
        tag = getattr(stream, "codec_tag", "") or "unknown"
        raise Refused(f"unsupported audio codec (tag {tag!r}): FFmpeg has no decoder for it")
    return stream


def packets(container, stream, name: str, stopped: list | None = None) -> Iterator[av.Packet]:
    """The stream's packets; a demuxer error (a file cut short mid-packet) ends the iteration,
    and is appended to ``stopped`` when given."""
    demux = container.demux(stream)
    while True:
        try:
            packet = next(demux)
        except StopIteration:
            return
        except av.FFmpegError as e:
            logger.warning("%s: reading stopped early (%s)", name, ffmpeg_reason(e))
            if stopped is not None:
                stopped.append(ffmpeg_reason(e))
            return
        yield packet


def first_frames(stream, packet_iter: Iterator[av.Packet]) -> list[av.AudioFrame]:
    """The frames of the first packet that decodes (a few damaged packets are tolerated).

    The one test of whether FFmpeg reads a file, shared by probing and decoding so that both
    choose the same decoder for it.

    Raises
    ------
    Refused
        Nothing decodes in the first packets.
    """
    error = None
    for i, packet in enumerate(packet_iter):
        try:
            frames = stream.codec_context.decode(packet)
        except av.FFmpegError as e:
            error = e
            frames = []
        if frames:
            return frames
        if i > _FIRST_PACKETS:
            break
    if error is not None:
        raise Refused(f"cannot decode the audio ({ffmpeg_reason(error)})")
    raise Refused("no decodable audio at the start of the file")


def frame_end(frame: av.AudioFrame, stream) -> float | None:
    """Time in seconds at the end of a frame, or None without a timestamp."""
    if frame.pts is None:
        return None
    tb = frame.time_base or stream.time_base
    return frame.pts * float(tb) + frame.samples / frame.sample_rate


def stream_start(stream) -> float:
    """The stream's stated start time in seconds (0 when it states none)."""
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def codec_name(stream) -> str:
    """FFmpeg's decoder name, ``mp3float`` reported as ``mp3`` and ``mp2float`` as ``mp2``."""
    name = stream.codec_context.name
    return {"mp3float": "mp3", "mp2float": "mp2"}.get(name, name)


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
            yield to_mono(self._fifo.read(_FIFO_SAMPLES))

    def flush(self) -> Iterator[np.ndarray]:
        if self._fifo is not None and self._fifo.samples:
            yield to_mono(self._fifo.read())

    @property
    def sample_rate(self) -> int | None:
        return None if self._key is None else self._key[2]


def to_mono(frame: av.AudioFrame) -> np.ndarray:
    """A frame of any sample format as mono float32 in [-1, 1] (checked by ``_pcm.mono``)."""
    x = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        x = x.reshape(-1, channels).T
    if x.dtype.kind == "i":
        scale = float(2 ** (8 * x.dtype.itemsize - 1))
        x = x.astype(np.float32) / np.float32(scale)
    elif x.dtype.kind == "u":  # u8: unsigned, centred at 128
        x = (x.astype(np.float32) - 128.0) / 128.0
    return _pcm.mono(x)


def decoded(source: Source, *, start: float) -> Iterator[tuple[int, np.ndarray]]:
    """(input rate, mono float32 block) pairs straight from the decoder, from ``start`` on.

    Raises
    ------
    Refused
        FFmpeg cannot read the file at all; raised before the first block.
    AudioError
        Decoding failed further on.
    """
    with opened(source) as container:
        stream_ = audio_stream(container)
        cc = stream_.codec_context
        packet_iter = packets(container, stream_, source.name)
        frames = first_frames(stream_, packet_iter)  # also when seeking: the same test as probe
        skip_until = None  # in seconds; frames before this are trimmed after a seek
        if start > 0:
            try:
                container.seek(int(start / stream_.time_base), stream=stream_, backward=True)
            except av.FFmpegError as e:
                raise AudioError(f"cannot seek to {start:.3f} s ({ffmpeg_reason(e)})") from None
            cc.flush_buffers()
            packet_iter = packets(container, stream_, source.name)
            frames = []
            skip_until = start + stream_start(stream_)
        converter = _MonoConverter()
        bad = 0
        while True:
            for frame in frames:
                if skip_until is not None:
                    frame = _trim_before(frame, skip_until, stream_)
                    if frame is None:
                        continue
                    skip_until = None
                for block in converter.push(frame):
                    yield converter.sample_rate, block
            packet = next(packet_iter, None)
            if packet is None:
                break
            try:
                frames = cc.decode(packet)
            except av.FFmpegError as e:
                frames = []
                if packet.size == 0:
                    continue
                bad += 1
                if bad > _MAX_BAD_PACKETS:
                    raise AudioError(
                        f"too many corrupt packets ({bad}); last error: {ffmpeg_reason(e)}"
                    ) from None
                logger.warning("%s: skipping a corrupt packet (%s)", source.name, e)
                gap = _packet_samples(packet, converter.sample_rate)
                if gap:
                    # the silence goes after the audio still waiting in the converter
                    for block in converter.flush():
                        yield converter.sample_rate, block
                    yield converter.sample_rate, np.zeros(gap, np.float32)
        for block in converter.flush():
            yield converter.sample_rate, block
        if bad:
            logger.warning("%s: %d corrupt packets were replaced by silence", source.name, bad)


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
