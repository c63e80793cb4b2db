"""Segment clocks: where each segment of a track starts and ends, for every model.

A model reads a track as fixed-length segments of its own sample rate: segment ``k`` holds
samples ``[k * hop, k * hop + segment)``. A :class:`Clock` says which: it is kept in integer
samples, so that times computed from it are exact along a track of any length (``k * hop /
sample_rate``, no rounding error that grows with ``k``).

The original models (MusiCNN and VGG of musicnn 0.1.0) read patches of 187 mel frames with a hop
of 256 samples at 16 kHz: a segment lasts ``187 * 256 / 16000 = 2.992`` s, not 3 s, and segment
``k`` starts at exactly ``k * 2.992`` s (:data:`ORIGINAL`). VGGish reads examples of 96 frames of
10 ms, each 0.975 s of audio, every 0.96 s (:data:`VGGISH`). This module is the one place these
numbers are written; the model registry (:mod:`embedexplore.registry`) gives each model its clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MEL_HOP",
    "ORIGINAL",
    "PATCH_FRAMES",
    "PATCH_SAMPLES",
    "SAMPLE_RATE",
    "SEGMENT_SECONDS",
    "VGGISH",
    "Clock",
]


@dataclass(frozen=True)
class Clock:
    """Where a model's segments lie in a track, in samples at the model's sample rate.

    Each parameter is kept as the (read-only) attribute of the same name.

    Parameters
    ----------
    sample_rate : int
        The model's sample rate in Hz.
    segment : int
        Samples in one segment.
    hop : int
        Samples from the start of one segment to the start of the next (``segment``: segments
        that neither overlap nor leave gaps).
    tail : int, default: 0
        Samples a track's last segment may lack (read as zeros). The original models' centred
        mel frames read their last patch from up to 256 samples past the audio (the frame's
        centre is the last sample that counts): their clock has a tail of 256, so that every
        model of that clock cuts the same segments.

    Raises
    ------
    ValueError
        A value that is not a positive whole number.
    """

    sample_rate: int
    segment: int
    hop: int
    tail: int = 0

    def __post_init__(self) -> None:
        for what in ("sample_rate", "segment", "hop", "tail"):
            v = getattr(self, what)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"a clock's {what} must be a positive whole number, got {v!r}")
            if v == 0 and what != "tail":
                raise ValueError(f"a clock's {what} must be a positive whole number, got {v!r}")
            object.__setattr__(self, what, int(v))
        if self.tail >= self.segment:
            raise ValueError(f"a clock's tail must be shorter than its segment, got {self.tail}")

    @classmethod
    def from_seconds(
        cls, sample_rate, segment_seconds, hop_seconds=None, *, what: str = "the model"
    ) -> Clock:
        """The clock of segments of ``segment_seconds`` every ``hop_seconds`` at ``sample_rate``.

        Parameters
        ----------
        sample_rate : int
            Hz; a positive whole number.
        segment_seconds : float
            Length of a segment in seconds: a whole number of samples at ``sample_rate``.
        hop_seconds : float, optional
            Seconds between segment starts (default: ``segment_seconds``).
        what : str, default: "the model"
            Named in error messages.

        Returns
        -------
        Clock
            The clock in samples.

        Raises
        ------
        ValueError
            A sample rate that is not a positive whole number, or a length that is not positive
            or not a whole number of samples.
        """
        rate = _whole(sample_rate)
        if rate is None or rate <= 0:
            raise ValueError(
                f"{what}: sample_rate must be a positive whole number of Hz, got {sample_rate!r}"
            )
        hop_seconds = segment_seconds if hop_seconds is None else hop_seconds
        samples = {}
        for name, seconds in (("segment_seconds", segment_seconds), ("hop_seconds", hop_seconds)):
            try:
                n = float(seconds) * rate
            except (TypeError, ValueError):
                n = math.nan
            if not math.isfinite(n) or n <= 0:
                raise ValueError(f"{what}: {name} must be a positive number, got {seconds!r}")
            if abs(n - round(n)) > max(1e-6, 1e-12 * n) or round(n) < 1:
                raise ValueError(
                    f"{what}: {name}={seconds!r} is {n:.6g} samples at {rate} Hz; it must be a "
                    "whole number of samples"
                )
            samples[name] = round(n)
        return cls(rate, samples["segment_seconds"], samples["hop_seconds"])

    @property
    def segment_seconds(self) -> float:
        """Length of one segment in seconds."""
        return self.segment / self.sample_rate

    @property
    def hop_seconds(self) -> float:
        """Seconds from one segment's start to the next."""
        return self.hop / self.sample_rate

    @property
    def key(self) -> str:
        """A short text naming the clock exactly, e.g. ``"22050:22050:22050"`` (with
        ``":tail"`` where there is one)."""
        key = f"{self.sample_rate}:{self.segment}:{self.hop}"
        return key + (f":{self.tail}" if self.tail else "")

    def describe(self) -> str:
        """The clock in words.

        Returns
        -------
        str
            E.g. ``"2.992 s segments at 16000 Hz"``.
        """
        text = f"{self.segment_seconds:.4g} s segments"
        if self.hop != self.segment:
            text += f" every {self.hop_seconds:.4g} s"
        return f"{text} at {self.sample_rate} Hz"

    def count(self, n_samples: int) -> int:
        """Segments in a waveform of ``n_samples`` samples at :attr:`sample_rate`.

        A partial last segment is dropped (one lacking at most :attr:`tail` samples is kept); a
        non-empty waveform shorter than that is repeated until it fills one, so that it has one
        segment; an empty one has none.

        Parameters
        ----------
        n_samples : int
            Length of the waveform (>= 0).

        Returns
        -------
        int
            ``1 + (n_samples - segment + tail) // hop`` for a waveform of at least one segment.
        """
        if n_samples <= 0:
            return 0
        return 1 + max(0, n_samples - self.segment + self.tail) // self.hop

    def times(self, n_segments: int) -> tuple[np.ndarray, np.ndarray]:
        """Start and end times in seconds of the first ``n_segments`` segments of a track.

        Parameters
        ----------
        n_segments : int
            Number of segments (>= 0).

        Returns
        -------
        start : numpy.ndarray
            ``float64`` array of shape ``(n_segments,)``: ``k * hop / sample_rate``.
        end : numpy.ndarray
            ``float64`` array of shape ``(n_segments,)``: ``(k * hop + segment) /
            sample_rate``. Both computed from integer sample counts: exact to the last bit of
            a float64 division along a track of any length.

        Raises
        ------
        ValueError
            ``n_segments`` is negative.
        """
        if n_segments < 0:
            raise ValueError(f"n_segments must be >= 0, got {n_segments}")
        first = np.arange(n_segments, dtype=np.int64) * self.hop
        return first / self.sample_rate, (first + self.segment) / self.sample_rate

    def to_json(self) -> dict[str, int]:
        """The clock as JSON.

        Returns
        -------
        dict of str to int
            ``{"sample_rate": ..., "segment": ..., "hop": ...}`` (and ``"tail"`` if any).
        """
        out = {"sample_rate": self.sample_rate, "segment": self.segment, "hop": self.hop}
        if self.tail:
            out["tail"] = self.tail
        return out

    @classmethod
    def from_json(cls, data: Any) -> Clock:
        """The clock :meth:`to_json` wrote.

        Parameters
        ----------
        data : dict
            ``{"sample_rate": ..., "segment": ..., "hop": ...}``.

        Returns
        -------
        Clock
            That clock.

        Raises
        ------
        ValueError
            ``data`` is not such a record.
        """
        keys = {"sample_rate", "segment", "hop"}
        if not isinstance(data, dict) or not keys <= set(data) <= keys | {"tail"}:
            raise ValueError("a clock is a record of sample_rate, segment, hop (and tail)")
        return cls(data["sample_rate"], data["segment"], data["hop"], data.get("tail", 0))


def _whole(x) -> int | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)) and math.isfinite(x) and float(x).is_integer():
        return int(x)
    return None


SAMPLE_RATE = 16_000
"""The original models' sample rate in Hz (musicnn 0.1.0)."""
MEL_HOP = 256
"""Hop between the original models' mel frames, in samples at :data:`SAMPLE_RATE`."""
PATCH_FRAMES = 187
"""Mel frames in one patch of the original models (one segment)."""
PATCH_SAMPLES = PATCH_FRAMES * MEL_HOP
"""Samples at 16 kHz covered by one segment of the original models: 47,872."""
ORIGINAL = Clock(SAMPLE_RATE, PATCH_SAMPLES, PATCH_SAMPLES, MEL_HOP)
"""The clock of MusiCNN and VGG (and of the handcrafted baselines): 2.992 s segments, no
overlap, at 16 kHz; the last may lack up to one mel hop (256 samples), as the original's
centred frames read it: a track of ``m`` samples has ``(1 + m // 256) // 187`` segments."""
SEGMENT_SECONDS = ORIGINAL.segment_seconds
"""Length of one segment of the original models in seconds: 2.992."""

#: VGGish (tensorflow/models research/audioset/vggish, vggish_params.py): frames of 25 ms (400
#: samples at 16 kHz) every 10 ms (160), examples of 96 frames every 96 frames.
VGGISH_FRAME, VGGISH_FRAME_HOP, VGGISH_EXAMPLE_FRAMES = 400, 160, 96
VGGISH = Clock(
    SAMPLE_RATE,
    (VGGISH_EXAMPLE_FRAMES - 1) * VGGISH_FRAME_HOP + VGGISH_FRAME,
    VGGISH_EXAMPLE_FRAMES * VGGISH_FRAME_HOP,
)
"""VGGish's clock: examples of 0.975 s (15,600 samples) every 0.96 s (15,360) at 16 kHz."""
