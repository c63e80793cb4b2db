"""What the container bytes say, read directly: file checks, WAV chunks, Ogg pages, MP3 frames.

The decoders see streams; some facts are only in the container, and no maintained library reports
them: a WAV or Ogg file cut short (FFmpeg sizes the stream from what is there), the links of a
chain of Ogg streams (FFmpeg and libsndfile both stop at the first link whose parameters change),
and WAV sample layouts that FFmpeg misreads. Each check reads a few KB, except the walk over the
pages of a chained Ogg file. :class:`Source` names what a decoder reads: a whole file, or the
byte range of one link of a chain.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np

from ._audio_types import AudioError

__all__ = [
    "Source",
    "check_file",
    "container_truncation",
    "mp3_cut_frame",
    "sources",
    "wav_layout",
]

#: Bytes read from the end of an Ogg file to find its last page (a page is at most 65,307 bytes).
_OGG_TAIL = 65536
#: Bytes of WAV sample data inspected for the layout of the samples in their words.
_WAV_PROBE_BYTES = 65536
#: The GUID tail shared by the standard KSDATAFORMAT_SUBTYPE_* GUIDs (after the 2-byte format tag
#: and 2 zero bytes): a subformat with it is the classic format tag of its first two bytes.
_KS_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_WAVE_FORMAT_PCM = 0x0001
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


def check_file(path: str | os.PathLike) -> None:
    """Raise :class:`AudioError` when the file is missing, unreadable or empty.

    The messages start with "file not found", "permission denied", "cannot access" or "empty
    file": the scan retries the first three (they can be fixed without changing the file).
    """
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


# -- what a decoder reads ------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A whole file (``end`` None), or the bytes ``[start, end)`` of it: one link of a chain."""

    path: str
    start: int = 0
    end: int | None = None
    link: int = 0
    links: int = 1

    @property
    def whole(self) -> bool:
        return self.end is None

    @property
    def size(self) -> int:
        return os.path.getsize(self.path) if self.end is None else self.end - self.start

    @property
    def name(self) -> str:
        """For log messages: the path, and which link."""
        if self.whole:
            return self.path
        return f"{self.path} (link {self.link + 1} of {self.links})"

    def open(self) -> str | _ByteRange:
        """What a decoder opens: the path itself, or a file object reading only the range."""
        return self.path if self.whole else _ByteRange(self.path, self.start, self.end)


class _ByteRange(io.RawIOBase):
    """A read-only file object over ``[start, end)`` of a file, as if that were the whole file.

    FFmpeg and libsndfile both read Python file objects; given one link of a chain this way, each
    decodes it as the single stream it is, whatever the links before and after it hold.
    """

    def __init__(self, path: str, start: int, end: int) -> None:
        super().__init__()
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 (closed by close())
        self._start = start
        self._length = end - start
        self._pos = 0
        self.name = path

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self._length - self._pos)
        if n <= 0:
            return 0
        self._file.seek(self._start + self._pos)
        got = self._file.readinto(memoryview(buffer)[:n]) or 0
        self._pos += got
        return got

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._file.close()
        super().close()


def sources(path: str | os.PathLike) -> list[Source]:
    """What to decode, in order: the links of a chained Ogg file, else the whole file."""
    path = os.fspath(path)
    if not _ogg_chained(path):
        return [Source(path)]
    ranges = _ogg_links(path)
    if len(ranges) == 1:  # multiplexed streams (Skeleton, Theora) ending on another serial
        return [Source(path)]
    return [Source(path, a, b, link=i, links=len(ranges)) for i, (a, b) in enumerate(ranges)]


# -- Ogg -----------------------------------------------------------------------------------------


def _ogg_chained(path: str) -> bool:
    """Whether an Ogg file is a chain of streams (its last page has another serial number).

    Cheap (two small reads), so that every Ogg file of a scan can be asked; a chain whose last
    link reuses the first link's serial number (which the Ogg specification forbids) is missed.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(27)
            if len(head) < 18 or head[:4] != b"OggS":
                return False
            f.seek(max(0, os.fstat(f.fileno()).st_size - _OGG_TAIL))
            tail = f.read()
    except OSError:
        return False
    at = tail.rfind(b"OggS")
    while at >= 0 and at + 18 > len(tail):
        at = tail.rfind(b"OggS", 0, at)
    if at < 0:
        return False
    return head[14:18] != tail[at + 14 : at + 18]


def _ogg_links(path: str) -> list[tuple[int, int]]:
    """Byte ranges of the links of a chained Ogg file.

    A link starts with its beginning-of-stream pages (several when streams are multiplexed, e.g.
    Vorbis with a Skeleton); a beginning-of-stream page after other pages starts the next link.
    Only the 27-byte page headers and segment tables are read. Damaged bytes between pages are
    skipped to the next page; what follows a damage too large to resync stays in the last link.
    """
    size = os.path.getsize(path)
    starts = [0]
    with open(path, "rb") as f:
        pos = 0
        previous_bos = True
        while pos + 27 <= size:
            f.seek(pos)
            head = f.read(27)
            if head[:4] != b"OggS":
                pos = _next_page(f, pos + 1)
                if pos < 0:
                    break
                continue
            table = f.read(head[26])
            if len(table) < head[26]:
                break
            bos = bool(head[5] & 0x02)
            if bos and not previous_bos:
                starts.append(pos)
            previous_bos = bos
            pos += 27 + len(table) + sum(table)
    return list(zip(starts, [*starts[1:], size], strict=True))


def _next_page(f, pos: int) -> int:
    """Offset of the next "OggS" capture pattern at or after ``pos``, or -1."""
    while True:
        f.seek(pos)
        block = f.read(_OGG_TAIL)
        if len(block) < 4:
            return -1
        at = block.find(b"OggS")
        if at >= 0:
            return pos + at
        pos += len(block) - 3


def _ogg_truncation(path) -> str | None:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(max(0, size - _OGG_TAIL))
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


# -- WAV -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _WavFormat:
    tag: int  # the format tag, or an extensible file's subformat tag
    extensible: bool
    channels: int
    bits: int  # bits per sample word (wBitsPerSample)
    valid_bits: int  # bits of each word that hold the sample (wValidBitsPerSample)
    data_pos: int
    data_length: int


def _wav_chunks(f, size: int):
    """(id, offset of the chunk's data, stated length) of each chunk of a RIFF/WAVE file."""
    f.seek(0)
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return  # RF64, Wave64 and others: left to the decoders
    pos = 12
    while pos + 8 <= size:
        f.seek(pos)
        chunk = f.read(8)
        if len(chunk) < 8:
            return
        length = int.from_bytes(chunk[4:8], "little")
        yield chunk[:4], pos + 8, length
        pos += 8 + length + (length & 1)


def _wav_format(path) -> _WavFormat | None:
    size = os.path.getsize(path)
    fmt = None
    with open(path, "rb") as f:
        for chunk_id, pos, length in _wav_chunks(f, size):
            if chunk_id == b"fmt ":
                f.seek(pos)
                fmt = f.read(min(length, 40))
            elif chunk_id == b"data":
                break
        else:
            return None
    if fmt is None or len(fmt) < 16:
        return None
    tag = int.from_bytes(fmt[0:2], "little")
    channels = int.from_bytes(fmt[2:4], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    valid = bits
    extensible = tag == _WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 40
    if extensible:
        valid = int.from_bytes(fmt[18:20], "little") or bits
        guid = fmt[24:40]
        tag = int.from_bytes(guid[:2], "little") if guid[2:] == _KS_GUID_TAIL else -1
    return _WavFormat(tag, extensible, channels, bits, valid, pos, length)


def wav_layout(path: str | os.PathLike) -> str | None:
    """Why FFmpeg would misread a WAV file's samples (then libsndfile reads it), else None.

    FFmpeg (8.0) picks its PCM decoder from ``wValidBitsPerSample`` of a WAVE_FORMAT_EXTENSIBLE
    header instead of the word size: 24 valid bits in 32-bit words decode as 24-bit floats (values
    near 1e31), 20 in 32 and 16 in 32 as words of the wrong size. libsndfile reads the words whole,
    as the format defines them: the valid bits are the high bits and the rest is zero padding.

    Raises
    ------
    AudioError
        The samples sit in the low bits of their words (the padding is on the wrong side), which
        neither decoder reads right.
    """
    try:
        fmt = _wav_format(path)
    except OSError:
        return None
    if (
        fmt is None
        or not fmt.extensible
        or fmt.tag != _WAVE_FORMAT_PCM
        or fmt.valid_bits >= fmt.bits
        or fmt.bits not in (16, 24, 32)
    ):
        return None
    _check_padding(path, fmt)
    return f"{fmt.valid_bits}-bit samples in {fmt.bits}-bit words (WAVE_FORMAT_EXTENSIBLE)"


def _check_padding(path, fmt: _WavFormat) -> None:
    width = fmt.bits // 8
    with open(path, "rb") as f:
        f.seek(fmt.data_pos)
        raw = f.read(min(fmt.data_length, _WAV_PROBE_BYTES) // width * width)
    if not raw:
        return
    # little-endian words of 2-4 bytes as signed int64, without a dtype for 3-byte words
    octets = np.frombuffer(raw, np.uint8).reshape(-1, width).astype(np.int64)
    words = sum(octets[:, i] << (8 * i) for i in range(width))
    words = np.where(words >= 1 << (fmt.bits - 1), words - (1 << fmt.bits), words)
    pad = fmt.bits - fmt.valid_bits
    if not (words & ((1 << pad) - 1)).any():
        return  # zero padding in the low bits: the standard layout
    high = words >> (fmt.valid_bits - 1)
    if np.isin(high, (0, -1)).all():  # the top bits only repeat the sign: right-justified
        raise AudioError(
            f"its {fmt.valid_bits}-bit samples sit in the low bits of their {fmt.bits}-bit words, "
            "where the WAV format puts them in the high bits: decoders read them as noise or "
            f"{6 * pad} dB too quiet; export the file again from the program that made it"
        )


def _wav_truncation(path) -> str | None:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        for chunk_id, pos, length in _wav_chunks(f, size):
            if chunk_id == b"data":
                if length in (0, 0xFFFFFFFF):  # written by a stream that never knew its length
                    return None
                have = size - pos
                if have < length:
                    return f"the data chunk holds {length} bytes but only {have} are in the file"
                return None
    return None


# -- truncation ----------------------------------------------------------------------------------


def container_truncation(path: str | os.PathLike, container_format: str) -> str | None:
    """Signs of truncation that FFmpeg hides because it sizes the stream from what is there.

    For WAV, FFmpeg clamps the data chunk to the file size; for Ogg, it takes the length from the
    last page present. So the checks are done here on the container bytes (a few KB read): no
    maintained library reports either. Other formats (FLAC, MP3 with a Xing header, AIFF, MP4)
    state their length in a header, which the probe compares with the decodable end.
    """
    try:
        if container_format == "wav":
            return _wav_truncation(path)
        if container_format == "ogg":
            return _ogg_truncation(path)
    except OSError:
        return None
    return None


def mp3_cut_frame(sizes: list[int], last_head: bytes) -> str | None:
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
