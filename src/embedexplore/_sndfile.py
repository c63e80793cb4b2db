"""Reading a file (or one link of a chain) with libsndfile, for what FFmpeg refuses or misreads.

libsndfile (bundled in the ``soundfile`` wheel) decodes with the reference libraries: libvorbis,
libopus, libFLAC, mpg123. They accept valid streams that FFmpeg's own decoders refuse (a Vorbis
identification header longer than its 30 bytes: "Invalid data found when processing input"), and
libsndfile reads WAVE_FORMAT_EXTENSIBLE words as the format defines them where FFmpeg does not
(see ``_containers.wav_layout``). It is the second decoder: :mod:`embedexplore.audio` asks it only
about files FFmpeg cannot read, and then reads them with it everywhere (probe, extraction,
playback), so that a file gives the same samples wherever it is read.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import numpy as np
import soundfile as sf

from . import _containers, _pcm
from ._audio_types import AudioError, AudioInfo, Refused
from ._containers import Source

__all__ = ["decoded", "probe"]

logger = logging.getLogger(__name__)

#: Frames read at a time: a few seconds, as FFmpeg's side converts 65,536 samples at a time.
_BLOCK_FRAMES = 1 << 16
#: Seconds before the stated end read back to check that the end really decodes.
_END_CHECK_S = 1.0

#: libsndfile's major formats under FFmpeg's demuxer names (``AudioInfo.container``).
_CONTAINERS = {"WAVEX": "wav", "MP3": "mp3", "SVX": "iff", "IRCAM": "ircam"}
#: libsndfile's subtypes under FFmpeg's decoder names (``AudioInfo.codec``); integer PCM takes
#: the container's byte order.
_CODECS = {
    "PCM_S8": "pcm_s8",
    "PCM_U8": "pcm_u8",
    "FLOAT": "pcm_f32{e}",
    "DOUBLE": "pcm_f64{e}",
    "PCM_16": "pcm_s16{e}",
    "PCM_24": "pcm_s24{e}",
    "PCM_32": "pcm_s32{e}",
    "ULAW": "pcm_mulaw",
    "ALAW": "pcm_alaw",
    "IMA_ADPCM": "adpcm_ima_wav",
    "MS_ADPCM": "adpcm_ms",
    "GSM610": "gsm_ms",
    "VORBIS": "vorbis",
    "OPUS": "opus",
    "MPEG_LAYER_I": "mp1",
    "MPEG_LAYER_II": "mp2",
    "MPEG_LAYER_III": "mp3",
}
_BIG_ENDIAN = {"AIFF", "AU"}
#: Containers whose codec is the container's own, whatever sample depth libsndfile reports.
_OWN_CODEC = {"FLAC": "flac"}


@contextlib.contextmanager
def _opened(source: Source) -> Iterator[sf.SoundFile]:
    target = source.open()
    try:
        try:
            f = sf.SoundFile(target)
        except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as e:
            raise Refused(f"libsndfile cannot read it either ({e})") from None
        with f:
            if f.samplerate <= 0 or f.channels <= 0:
                raise Refused("libsndfile finds no audio in it")
            yield f
    finally:
        if not isinstance(target, str):  # soundfile leaves the file objects it is given open
            target.close()


def _read(f: sf.SoundFile, frames: int) -> np.ndarray:
    """Up to ``frames`` frames as mono float32, checked by ``_pcm.mono``."""
    try:
        x = f.read(frames, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError) as e:
        raise AudioError(f"libsndfile cannot decode the audio ({e})") from None
    return _pcm.mono(x.T)


def _names(f: sf.SoundFile) -> tuple[str, str]:
    container = _CONTAINERS.get(f.format, f.format.lower())
    codec = _OWN_CODEC.get(f.format)
    if codec is None:
        endian = "be" if f.format in _BIG_ENDIAN else "le"
        codec = _CODECS.get(f.subtype, f.subtype.lower()).format(e=endian)
    if f.subtype.startswith("ALAC"):
        codec = "alac"
    return codec, container


def probe(source: Source) -> AudioInfo:
    """Stream parameters and length of ``source`` as libsndfile reads it.

    Like the FFmpeg probe, it decodes the first and last samples (proving both decode and hold
    samples, not garbage) and measures the length to where the decodable audio ends.

    Raises
    ------
    Refused
        libsndfile cannot read it.
    AudioError
        It opens but its audio does not decode, or decodes to garbage.
    """
    with _opened(source) as f:
        rate, channels = f.samplerate, f.channels
        stated = max(0, f.frames)
        if _read(f, min(_BLOCK_FRAMES, stated) or _BLOCK_FRAMES).size == 0:
            raise AudioError("no decodable audio at the start of the file")
        end = stated
        if f.seekable():
            at = max(0, stated - round(_END_CHECK_S * rate))
            f.seek(at)
            end = at + _read(f, stated - at).size
        codec, container = _names(f)
    issue = None
    if source.whole:
        issue = _containers.container_truncation(source.path, container)
    if issue is None and end < stated - round(0.5 * rate):
        issue = f"the header says {stated / rate:.1f} s but the audio ends at {end / rate:.1f} s"
    if issue is not None:
        issue = f"truncated: {issue}; indexed up to where it stops (copy the file again?)"
    size = source.size
    logger.info("%s: read by libsndfile (%s in %s)", source.name, codec, container)
    return AudioInfo(
        duration=end / rate,
        sample_rate=int(rate),
        channels=int(channels),
        codec=codec,
        container=container,
        bit_rate=round(size * 8 * rate / end) if end else None,
        issue=issue,
    )


def decoded(source: Source, *, start: float) -> Iterator[tuple[int, np.ndarray]]:
    """(input rate, mono float32 block) pairs from ``start`` seconds on.

    Raises
    ------
    Refused
        libsndfile cannot read it; raised before the first block.
    AudioError
        The audio does not decode, or decodes to garbage.
    """
    with _opened(source) as f:
        rate = f.samplerate
        if start > 0:
            # to the exact frame: no pre-roll to trim, unlike after an FFmpeg seek
            try:
                f.seek(min(round(start * rate), max(0, f.frames)))
            except (sf.SoundFileError, RuntimeError) as e:
                raise AudioError(f"cannot seek to {start:.3f} s ({e})") from None
        while True:
            block = _read(f, _BLOCK_FRAMES)
            if not block.size:
                return
            yield rate, block
