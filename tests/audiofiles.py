"""Writing real audio files for the tests: PyAV encodes them, mutagen tags them."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

# extension -> (FFmpeg container, encoder, default sample rate)
FORMATS = {
    "mp3": ("mp3", "libmp3lame", 44100),
    "ogg": ("ogg", "libopus", 48000),  # Ogg Opus: the wheel has no Vorbis encoder worth using
    "opus": ("ogg", "libopus", 48000),
    "flac": ("flac", "flac", 44100),
    "m4a": ("ipod", "aac", 44100),
    "alac.m4a": ("ipod", "alac", 44100),
    "wav": ("wav", "pcm_s16le", 44100),
    "aiff": ("aiff", "pcm_s16be", 44100),
    "wma": ("asf", "wmav2", 44100),
    "wv": ("wv", "wavpack", 44100),
}


def tone(
    seconds: float, rate: int, *, freq: float = 440.0, channels: int = 2, amplitude: float = 0.5
) -> np.ndarray:
    """A sine ``[channels, n]`` float32; the right channel a fifth above the left."""
    t = np.arange(round(seconds * rate)) / rate
    rows = [
        amplitude * np.sin(2 * np.pi * freq * (1.5 if c % 2 else 1.0) * t) for c in range(channels)
    ]
    return np.asarray(rows, dtype=np.float32)


def write(
    path: str | os.PathLike,
    x: np.ndarray | None = None,
    *,
    seconds: float = 2.0,
    rate: int | None = None,
    kind: str | None = None,
) -> Path:
    """Encode ``x`` ([channels, n] float32, default a tone) to ``path`` in the format ``kind``
    (default: from the extension)."""
    path = Path(path)
    if kind is None:
        kind = "alac.m4a" if path.name.endswith(".alac.m4a") else path.suffix.lstrip(".").lower()
    container_format, codec, default_rate = FORMATS[kind]
    rate = rate or default_rate
    if x is None:
        x = tone(seconds, rate)
    layout = {1: "mono", 2: "stereo"}[x.shape[0]]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(os.fspath(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        if codec in ("libmp3lame", "aac", "libopus", "wmav2"):
            stream.codec_context.bit_rate = 128_000
        step = 4096
        for i in range(0, x.shape[1], step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(x[:, i : i + step]), format="fltp", layout=layout
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def decoded_seconds(path: str | os.PathLike) -> float:
    """Duration by decoding every frame with FFmpeg and counting samples."""
    with av.open(os.fspath(path)) as c:
        s = c.streams.audio[0]
        n = sum(f.samples for f in c.decode(s))
        return n / s.codec_context.sample_rate


def excerpt(src: str | os.PathLike, dst: str | os.PathLike, seconds: float) -> Path:
    """The first ``seconds`` of a real file, its packets copied as they are (no re-encoding):
    a short file of real music in its original codec."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(os.fspath(src)) as inp, av.open(os.fspath(dst), "w") as out:
        s_in = inp.streams.audio[0]
        s_out = out.add_stream_from_template(s_in)
        for packet in inp.demux(s_in):
            if packet.dts is None:
                continue
            if packet.pts is not None and packet.pts * packet.time_base >= seconds:
                break
            packet.stream = s_out
            out.mux(packet)
    return dst
