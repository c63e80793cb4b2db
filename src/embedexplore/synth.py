"""A small synthesiser for the demo collection: five contrasting styles, deterministic per seed.

Not a music library: just enough instruments (drums, a bass, a piano-like struck string, string
pads, a distorted plucked guitar, filtered-noise textures) for the demo tracks to sound and embed
differently, so that the explorer has something to show with no download. Written here because
no maintained package synthesises such styles offline in a few lines of numpy/scipy.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy import signal

__all__ = ["STYLES", "render"]


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)


def _env(n: int, sr: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / sr
    a = np.minimum(1.0, t / max(attack, 1e-4))
    return a * np.exp(-t / decay)


def _place(buf: np.ndarray, sound: np.ndarray, at: float, sr: int, pan: float = 0.0) -> None:
    """Mix mono ``sound`` into stereo ``buf`` at ``at`` seconds, panned (-1 left .. 1 right)."""
    i = int(at * sr)
    if i >= buf.shape[1]:
        return
    n = min(sound.size, buf.shape[1] - i)
    left, right = np.sqrt((1 - pan) / 2), np.sqrt((1 + pan) / 2)
    buf[0, i : i + n] += left * sound[:n]
    buf[1, i : i + n] += right * sound[:n]


@lru_cache(maxsize=64)
def _sos(kind: str, freq, sr: int, order: int = 4):
    return signal.butter(order, freq, btype=kind, fs=sr, output="sos")


# ---- instruments ---------------------------------------------------------------------------


def _kick(sr: int, rng) -> np.ndarray:
    n = int(0.35 * sr)
    t = np.arange(n) / sr
    f = 45 + 110 * np.exp(-t / 0.04)
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.12)


def _snare(sr: int, rng) -> np.ndarray:
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    noise = signal.sosfilt(
        _sos("bandpass", (1200, min(7000, 0.45 * sr)), sr, 2), rng.standard_normal(n)
    )
    return 0.7 * noise * np.exp(-t / 0.07) + 0.5 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.05)


def _hat(sr: int, rng, open_: bool = False) -> np.ndarray:
    n = int((0.25 if open_ else 0.06) * sr)
    t = np.arange(n) / sr
    noise = signal.sosfilt(_sos("highpass", min(6000, 0.4 * sr), sr), rng.standard_normal(n))
    return 0.35 * noise * np.exp(-t / (0.08 if open_ else 0.015))


def _saw(freq: float, n: int, sr: int, phase: float = 0.0) -> np.ndarray:
    return 2.0 * ((np.arange(n) * freq / sr + phase) % 1.0) - 1.0


def _bass(note: float, dur: float, sr: int) -> np.ndarray:
    n = int(dur * sr)
    x = _saw(_midi_hz(note), n, sr) * _env(n, sr, 0.005, dur * 0.6)
    return signal.sosfilt(_sos("lowpass", 600, sr, 2), x)


def _piano(note: float, dur: float, sr: int, rng) -> np.ndarray:
    n = int(dur * sr)
    t = np.arange(n) / sr
    f0 = _midi_hz(note)
    x = np.zeros(n)
    inharm = 0.0004
    for k in range(1, 10):
        fk = f0 * k * np.sqrt(1 + inharm * k * k)
        if fk > 0.45 * sr:
            break
        x += (
            (k**-1.3)
            * np.sin(2 * np.pi * fk * t + rng.uniform(0, 2 * np.pi))
            * np.exp(-t * (0.6 + 0.9 * k) * (f0 / 261.6) ** 0.3)
        )
    click = rng.standard_normal(min(n, int(0.004 * sr))) * 0.08
    x[: click.size] += click
    return x * np.minimum(1.0, t / 0.003)


def _pad(notes: list[float], dur: float, sr: int, rng) -> np.ndarray:
    n = int(dur * sr)
    t = np.arange(n) / sr
    x = np.zeros(n)
    vibrato = 1 + 0.003 * np.sin(2 * np.pi * 5.2 * t + rng.uniform(0, 6))
    for note in notes:
        for detune in (-0.07, 0.0, 0.08):
            f = _midi_hz(note + detune) * vibrato
            x += 2.0 * ((np.cumsum(f) / sr + rng.uniform()) % 1.0) - 1.0
    x = signal.sosfilt(_sos("lowpass", 2200, sr, 2), x / (3 * len(notes)))
    attack, release = min(1.5, dur / 3), min(1.5, dur / 3)
    env = np.minimum(1.0, np.minimum(t / attack, (dur - t) / release))
    return x * np.clip(env, 0, 1)


def _pluck(note: float, dur: float, sr: int, rng, damping: float = 0.996) -> np.ndarray:
    """Karplus-Strong plucked string, as one recursive filter over a noise burst."""
    n = int(dur * sr)
    period = max(2, round(sr / _midi_hz(note)))
    excite = np.zeros(n)
    excite[:period] = rng.uniform(-1, 1, period)
    a = np.zeros(period + 2)
    a[0] = 1.0
    a[period] = a[period + 1] = -damping / 2
    return signal.lfilter([1.0], a, excite)


def _guitar_chord(root: float, dur: float, sr: int, rng, muted: bool) -> np.ndarray:
    x = sum(_pluck(root + i, dur, sr, rng, 0.985 if muted else 0.997) for i in (0, 7, 12))
    x = np.tanh(6.0 * x)  # overdrive
    return signal.sosfilt(_sos("lowpass", 3500, sr, 2), x) * _env(
        x.size, sr, 0.002, 0.15 if muted else 1.2
    )


# ---- styles --------------------------------------------------------------------------------

_MINOR = [0, 2, 3, 5, 7, 8, 10]
_MAJOR = [0, 2, 4, 5, 7, 9, 11]


def _progression(rng, key: int, scale: list[int], bars: int) -> list[list[int]]:
    degrees = [0, 5, 3, 4] if rng.uniform() < 0.5 else [0, 3, 5, 4]
    chords = []
    for b in range(bars):
        d = degrees[b % 4]
        chords.append([key + scale[(d + i) % 7] + 12 * ((d + i) // 7) for i in (0, 2, 4)])
    return chords


def _beats(sr, dur, rng) -> np.ndarray:
    bpm = rng.uniform(118, 136)
    beat = 60 / bpm
    buf = np.zeros((2, int(dur * sr)))
    kick, snare = _kick(sr, rng), _snare(sr, rng)
    hats = {False: _hat(sr, rng), True: _hat(sr, rng, open_=True)}
    key = 36 + int(rng.integers(0, 7))
    bassline = [0, 0, 7, 5] if rng.uniform() < 0.5 else [0, 3, 5, 7]
    basses = {step: _bass(key + step, beat * 0.9, sr) for step in set(bassline)}
    for i in range(int(dur / beat)):
        t = i * beat
        _place(buf, kick, t, sr)
        if i % 2 == 1:
            _place(buf, snare, t, sr, 0.1)
        for j in (0, 0.5):
            _place(buf, hats[j == 0.5 and i % 4 == 3], t + j * beat, sr, 0.4)
        _place(buf, 0.6 * basses[bassline[(i // 4) % 4]], t + 0.5 * beat, sr)
    return buf


def _piano_piece(sr, dur, rng) -> np.ndarray:
    bpm = rng.uniform(66, 96)
    beat = 60 / bpm
    buf = np.zeros((2, int(dur * sr)))
    key = 57 + int(rng.integers(-5, 5))
    scale = _MAJOR if rng.uniform() < 0.6 else _MINOR
    bars = int(dur / (4 * beat)) + 1
    memo: dict = {}

    def struck(note, length):
        if (note, length) not in memo:  # each key is struck the same way all through the piece
            memo[note, length] = _piano(note, length, sr, rng)
        return memo[note, length]

    for b, chord in enumerate(_progression(rng, key, scale, bars)):
        t0 = b * 4 * beat
        _place(buf, 0.5 * struck(chord[0] - 12, 4 * beat), t0, sr, -0.3)
        for i in range(8):  # arpeggio in eighths
            note = chord[i % 3] + (12 if i >= 4 else 0)
            _place(buf, 0.35 * struck(note, 2 * beat), t0 + i * beat / 2, sr, 0.2)
    return buf


def _strings(sr, dur, rng) -> np.ndarray:
    buf = np.zeros((2, int(dur * sr)))
    key = 50 + int(rng.integers(-4, 4))
    scale = _MINOR if rng.uniform() < 0.6 else _MAJOR
    chord_s = rng.uniform(4.0, 7.0)
    for b, chord in enumerate(_progression(rng, key, scale, int(dur / chord_s) + 1)):
        t0 = b * chord_s
        _place(buf, _pad(chord, chord_s * 1.25, sr, rng), t0, sr, -0.25)
        _place(buf, 0.6 * _pad([chord[0] + 12], chord_s * 1.25, sr, rng), t0 + 0.3, sr, 0.35)
    return buf


def _guitar(sr, dur, rng) -> np.ndarray:
    bpm = rng.uniform(150, 190)
    beat = 60 / bpm
    buf = np.zeros((2, int(dur * sr)))
    kick, snare = _kick(sr, rng), _snare(sr, rng)
    root = 40 + int(rng.integers(0, 5))
    memo: dict = {}

    def chord(note, muted):
        # each distinct chord is plucked once per track and reused: same riff, far less work
        if (note, muted) not in memo:
            memo[note, muted] = 0.5 * _guitar_chord(note, beat / 2, sr, rng, muted=muted)
        return memo[note, muted]

    riff = [0, 0, 3, 0, 5, 0, 6, 5] if rng.uniform() < 0.5 else [0, 0, 7, 0, 5, 3, 0, 1]
    for i in range(int(dur / (beat / 2))):
        t = i * beat / 2
        step = riff[i % 8] + (5 if (i // 32) % 2 else 0)
        _place(buf, chord(root + step, i % 4 != 0), t, sr, -0.5)
        _place(buf, chord(root + step, i % 4 != 0), t + 0.012, sr, 0.5)
        _place(buf, 0.8 * kick, t, sr)
        if i % 4 == 2:
            _place(buf, snare, t, sr)
    return buf


def _ambient(sr, dur, rng) -> np.ndarray:
    n = int(dur * sr)
    t = np.arange(n) / sr
    buf = np.zeros((2, n))
    for _ in range(4):
        centre = rng.uniform(200, min(5000, 0.4 * sr))
        band = signal.sosfilt(
            _sos("bandpass", (centre / 1.3, centre * 1.3), sr, 2), rng.standard_normal(n)
        )
        lfo = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.02, 0.12) * t + rng.uniform(0, 6))
        _place(buf, 0.4 * band * lfo, 0.0, sr, rng.uniform(-0.7, 0.7))
    drone = _midi_hz(33 + int(rng.integers(0, 12)))
    _place(
        buf,
        0.25 * (np.sin(2 * np.pi * drone * t) + 0.6 * np.sin(2 * np.pi * drone * 1.503 * t)),
        0.0,
        sr,
    )
    return buf


#: Style name -> (renderer, artist, album, genres). One artist per style, as in a real library.
STYLES: dict[str, tuple[Callable, str, str, list[str]]] = {
    "beats": (_beats, "Kick Theory", "Four on the Floor", ["Electronic", "Techno"]),
    "piano": (_piano_piece, "Hammer & Felt", "Études for a Rainy Day", ["Classical", "Piano"]),
    "strings": (_strings, "Slow Strings Ensemble", "Long Shadows", ["Ambient", "Orchestral"]),
    "guitar": (_guitar, "Fuzz Cathedral", "Amplifier Worship", ["Metal"]),
    "noise": (_ambient, "Static Fields", "Weather Systems", ["Ambient", "Noise"]),
}


def render(style: str, *, seconds: float, sample_rate: int, seed: int) -> np.ndarray:
    """One track of ``style``: stereo float32 ``[2, n]``, peak-normalised to -1 dBFS, faded out."""
    renderer = STYLES[style][0]
    rng = np.random.default_rng(seed)
    x = renderer(sample_rate, seconds, rng)[:, : int(seconds * sample_rate)]
    fade = min(x.shape[1], int(1.5 * sample_rate))
    x[:, x.shape[1] - fade :] *= np.linspace(1.0, 0.0, fade)
    peak = float(np.abs(x).max()) or 1.0
    return (x * (10 ** (-1 / 20) / peak)).astype(np.float32)
