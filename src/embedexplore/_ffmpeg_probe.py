"""Probing a file (or one link of a chain) with FFmpeg: stream parameters, measured length, damage.

Cheap: the first frames and the last packets are decoded, the packets between are at most
demuxed. The length is where the last frame that decodes ends, not what a header or tag states.
"""

from __future__ import annotations

import logging
from collections import deque

import av

from . import _containers, _ffmpeg
from ._audio_types import AudioError, AudioInfo
from ._containers import Source

__all__ = ["probe"]

logger = logging.getLogger(__name__)

#: A file whose audio ends more than this before the end its header states is reported truncated.
_TRUNCATION_TOLERANCE_S = 0.5
#: How far before the stated end `probe` seeks to check that the end really decodes.
_END_CHECK_S = 1.0
#: Packets decoded at the end of a file to check that it decodes and find its exact end.
_END_PACKETS = 12
#: A packet stating a longer duration than this states garbage: no codec's packets last this long.
#: (FFmpeg's Ogg demuxer gives the last packet of some Vorbis files a "duration" of 2**32 - 26
#: samples, a negative end trim read as unsigned: 27 hours on a 0.2 s sound.)
_MAX_PACKET_S = 10.0

#: Lossy codecs and the bit rates (bit/s, all channels) their files plausibly average.
_LOSSY_RATES = {
    "mp3": (8e3, 640e3),
    "vorbis": (8e3, 1.0e6),
    "opus": (5e3, 1.0e6),
    "aac": (8e3, 1.6e6),
    "wmav2": (8e3, 640e3),
    "mp2": (8e3, 640e3),
}


def probe(source: Source) -> AudioInfo:
    """Stream parameters and measured length of ``source``, as FFmpeg decodes it.

    Raises
    ------
    Refused
        FFmpeg cannot read it at all (the caller may try libsndfile).
    AudioError
        It opens but cannot be used (its end cannot be found, its samples are garbage).
    """
    with _ffmpeg.opened(source) as container:
        stream = _ffmpeg.audio_stream(container)
        cc = stream.codec_context
        start = _ffmpeg.stream_start(stream)
        header_end = None
        if stream.duration is not None and stream.time_base is not None:
            header_end = start + float(stream.duration * stream.time_base)
        elif container.duration is not None and len(container.streams) == 1:
            # (with video or other streams beside, the container's length may be theirs)
            header_end = container.duration / av.time_base

        # 1. the first frames decode (a damaged packet or two at the start is tolerated), and
        # hold samples, not garbage (the decoding guard of _pcm, on a sample of the file)
        first = _ffmpeg.first_frames(stream, _ffmpeg.packets(container, stream, source.name))[0]
        _ffmpeg.to_mono(first)
        if first.pts is not None:
            # where the audio really starts: the stream's stated start can be off (files from
            # FFmpeg's experimental Vorbis encoder start at -11 s and state 1.3 s for 20 s)
            start = first.pts * float(first.time_base or stream.time_base)
        sample_rate = int(first.sample_rate or cc.sample_rate)
        channels = len(first.layout.channels) if first.layout is not None else cc.channels
        codec = _ffmpeg.codec_name(stream)
        container_name = container.format.name
        bit_rate = int(container.bit_rate) if container.bit_rate else None

        # 2. the end decodes, where the header says it is
        end = None
        tail_sizes: list[int] = []
        bad_end = 0
        last_head = b""
        if header_end is not None:
            end, tail_sizes, bad_end, last_head = _decoded_end(
                container, stream, source, seek_to=max(0.0, header_end - _END_CHECK_S)
            )
    if end is None or (header_end is not None and end < header_end - _TRUNCATION_TOLERANCE_S):
        # no header length, or the seek landed wrong: walk every packet (demux only, no decoding)
        end = _demuxed_end(source, first_end=_ffmpeg.frame_end(first, stream))
    if end is None:
        raise AudioError("cannot find where the audio ends")
    duration = max(0.0, end - start)
    stopped: list[str] = []
    if not _plausible(codec, duration, source.size):
        # timestamps that cannot be right for this codec: count the samples instead
        logger.info(
            "%s: implausible duration %.1f s from timestamps; decoding to measure",
            source.name,
            duration,
        )
        duration = _counted_seconds(source, stopped)
    issue = None
    if source.whole:  # (a chain's links are parts of a file: the file is checked as a whole)
        issue = _containers.container_truncation(source.path, container_name)
    if issue is None and codec == "mp3":
        issue = _containers.mp3_cut_frame(tail_sizes, last_head)
    if issue is None and header_end is not None and end < header_end - _TRUNCATION_TOLERANCE_S:
        issue = (
            f"the header says {header_end - start:.1f} s but the audio ends at {end - start:.1f} s"
        )
    if issue is not None:
        issue = f"truncated: {issue}; indexed up to where it stops (copy the file again?)"
    elif stopped:
        issue = (
            f"a stream that FFmpeg stops reading after {duration:.1f} s ({stopped[0]}); "
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


def _plausible(codec: str, duration: float, size: int) -> bool:
    if size < 16_384:
        return True  # too small to judge: headers dominate
    if duration <= 0:
        return False
    rate = size * 8 / duration
    low, high = _LOSSY_RATES.get(codec, (1e3, float("inf")))  # no codec averages < 500 bit/s
    return low / 2 <= rate <= high * 2


def _counted_seconds(source: Source, stopped: list | None = None) -> float:
    n = 0
    rate = None
    with _ffmpeg.opened(source) as container:
        stream = _ffmpeg.audio_stream(container)
        cc = stream.codec_context
        for packet in _ffmpeg.packets(container, stream, source.name, stopped):
            try:
                frames = cc.decode(packet)
            except av.FFmpegError:
                continue
            for frame in frames:
                n += frame.samples
                rate = frame.sample_rate
    return n / rate if rate else 0.0


def _packet_end(packet: av.Packet) -> float | None:
    """Time in seconds at the end of a packet; its start when its duration is absurd."""
    if packet.pts is None or packet.time_base is None:
        return None
    tb = float(packet.time_base)
    duration = packet.duration or 0
    if not 0 <= duration * tb <= _MAX_PACKET_S:
        duration = 0
    return (packet.pts + duration) * tb


def _decoded_end(container, stream, source: Source, *, seek_to: float):
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
    for packet in _ffmpeg.packets(container, stream, source.name):
        if not packet.size:
            continue
        sizes.append(packet.size)
        tail.append(packet)
        e = _packet_end(packet)
        if e is not None:
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
            e = _ffmpeg.frame_end(frame, stream)
            if e is not None:
                end = e if end is None else max(end, e)
    last_head = bytes(tail[-1])[:4] if tail else b""
    try:
        end_flush = [_ffmpeg.frame_end(f, stream) for f in cc.decode(None)]
        end = max(
            [e for e in end_flush if e is not None] + ([end] if end is not None else []),
            default=end,
        )
    except av.FFmpegError:
        pass
    return (end if end is not None else packet_end), sizes, bad, last_head


def _demuxed_end(source: Source, *, first_end: float | None) -> float | None:
    """End time of the last packet, found by reading every packet's timestamps (no decoding)."""
    end = first_end
    with _ffmpeg.opened(source) as container:
        stream = _ffmpeg.audio_stream(container)
        for packet in _ffmpeg.packets(container, stream, source.name):
            e = _packet_end(packet)
            if e is not None:
                end = e if end is None else max(end, e)
    return end
