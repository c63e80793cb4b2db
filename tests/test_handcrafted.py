"""The handcrafted baselines (MFCC and chroma statistics) against librosa, their definition.

Our modules run in float32 on a batch; librosa runs on each segment alone, in float64, and the
statistics over its frames are taken in NumPy.

Tolerances, set a little above what ``benchmarks/handcrafted_agreement.py`` measured on 447
segments of 5 real tracks (``benchmarks/results/handcrafted_agreement-2026-12-04-cpu.log``):

- MFCC statistics: ``atol=2e-4`` (measured at most 4.2e-5 on the means, 2.1e-5 on the stds) and
  ``rtol=1e-6``. The error is float32's: the STFT sums 2048 float32 products per bin, the dB of
  128 bands is summed by the DCT, and the values reach 1131 (silence: 128 bands at the -100 dB
  floor), where float32's own spacing is 1.2e-4, hence the relative term. The 80 dB floor adds no
  error of its own: it is a maximum, so it moves a band by no more than the error of that band or
  of the segment's loudest band.
- chroma statistics: ``atol=1e-6`` (measured at most 1.7e-7), a few float32 steps at 1.0, the
  largest value a frame divided by its maximum can take.

Both leave room for other CPUs' float32 summation orders, and both are far below what would
matter: librosa's default tuning estimation alone moves the chroma statistics by up to 0.2.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from embedexplore.audio import PATCH_SAMPLES, SAMPLE_RATE, load
from embedexplore.models.handcrafted import ChromaStats, MFCCStats, chroma_filter_bank
from realmusic import real_music

librosa = pytest.importorskip("librosa")

MFCC_TOL = {"rtol": 1e-6, "atol": 2e-4}
CHROMA_TOL = {"rtol": 0.0, "atol": 1e-6}


@pytest.fixture(scope="module")
def models():
    """The two baselines at 16 kHz, built once (their STFT kernels take a moment)."""
    return MFCCStats(SAMPLE_RATE), ChromaStats(SAMPLE_RATE)


def librosa_mfcc(segment: np.ndarray, sample_rate: int) -> np.ndarray:
    """librosa's MFCCs of one segment, ``[20, frames]``, from float64 samples."""
    return librosa.feature.mfcc(y=segment.astype(np.float64), sr=sample_rate)


def librosa_chroma(segment: np.ndarray, sample_rate: int) -> np.ndarray:
    """librosa's chroma of one segment, ``[12, frames]``, with the tuning fixed at A = 440 Hz."""
    return librosa.feature.chroma_stft(y=segment.astype(np.float64), sr=sample_rate, tuning=0.0)


def stats(features: np.ndarray) -> np.ndarray:
    """``[n, frames]`` -> ``[2n]``: the means over frames, then the population stds."""
    return np.concatenate([features.mean(axis=1), features.std(axis=1)])


def check_against_librosa(segments: np.ndarray, sample_rate: int, models=None):
    """Both baselines on the batch ``segments`` (float32) equal librosa's, segment by segment;
    returns our two embeddings."""
    mfcc_model, chroma_model = models or (MFCCStats(sample_rate), ChromaStats(sample_rate))
    x = torch.from_numpy(segments.astype(np.float32))
    ours_mfcc = mfcc_model(x)["embeddings"].numpy()
    ours_chroma = chroma_model(x)["embeddings"].numpy()
    assert ours_mfcc.shape == (len(segments), 40) and ours_mfcc.dtype == np.float32
    assert ours_chroma.shape == (len(segments), 24) and ours_chroma.dtype == np.float32
    for i, segment in enumerate(segments):
        np.testing.assert_allclose(
            ours_mfcc[i], stats(librosa_mfcc(segment, sample_rate)), **MFCC_TOL, err_msg=f"#{i}"
        )
        np.testing.assert_allclose(
            ours_chroma[i],
            stats(librosa_chroma(segment, sample_rate)),
            **CHROMA_TOL,
            err_msg=f"#{i}",
        )
    return ours_mfcc, ours_chroma


def tones(rng, sample_rate: int, n_segments: int, seconds: float) -> np.ndarray:
    """Segments of a sine (a different pitch in each) plus a little white noise, float32."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    rows = [
        0.5 * np.sin(2 * np.pi * 440.0 * 2 ** (k / 12) * t) + 0.01 * rng.standard_normal(len(t))
        for k in range(n_segments)
    ]
    return np.stack(rows).astype(np.float32)


# -- the definitions -------------------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate", [16_000, 22_050, 44_100])
def test_chroma_filter_bank_equals_librosas(sample_rate):
    ours = chroma_filter_bank(sample_rate)
    theirs = librosa.filters.chroma(sr=sample_rate, n_fft=2048, dtype=np.float64)
    assert ours.shape == theirs.shape == (12, 1025)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)  # measured: 2.2e-14


def test_columns_are_the_mean_then_the_population_std(models, rng):
    """Columns 0-19 (0-11) are librosa's ``.mean(axis=1)``, 20-39 (12-23) its ``.std(axis=1)``,
    with ``ddof=0``: the sample std (``ddof=1``, 94 frames) would be 0.5% larger, far outside."""
    segments = tones(rng, SAMPLE_RATE, 2, PATCH_SAMPLES / SAMPLE_RATE)
    x = torch.from_numpy(segments)
    mfcc = models[0](x)["embeddings"].numpy()
    chroma = models[1](x)["embeddings"].numpy()
    for i, segment in enumerate(segments):
        m = librosa_mfcc(segment, SAMPLE_RATE)
        c = librosa_chroma(segment, SAMPLE_RATE)
        assert m.shape == (20, 94) and c.shape == (12, 94)
        np.testing.assert_allclose(mfcc[i, :20], m.mean(axis=1), **MFCC_TOL)
        np.testing.assert_allclose(mfcc[i, 20:], m.std(axis=1), **MFCC_TOL)
        np.testing.assert_allclose(chroma[i, :12], c.mean(axis=1), **CHROMA_TOL)
        np.testing.assert_allclose(chroma[i, 12:], c.std(axis=1), **CHROMA_TOL)
        assert not np.allclose(mfcc[i, 20:], m.std(axis=1, ddof=1), **MFCC_TOL)
        assert not np.allclose(chroma[i, 12:], c.std(axis=1, ddof=1), **CHROMA_TOL)


# -- real music: 16 kHz segments of 2.992 s, as the extraction gives them --------------------------


@pytest.mark.realmusic
@pytest.mark.parametrize(
    ("package", "track"),
    [
        ("wesnoth-1.16-music", "battle.ogg"),  # orchestral
        ("asc-music", "frontiers.mp3"),
        ("freedroidrpg-data", "TechBattle.ogg"),  # electronic
    ],
)
def test_real_music_equals_librosa(models, package, track):
    y = load(real_music(package) / track, sample_rate=SAMPLE_RATE, start=30.0, duration=12.0)
    n = len(y) // PATCH_SAMPLES
    assert n == 4
    check_against_librosa(y[: n * PATCH_SAMPLES].reshape(n, PATCH_SAMPLES), SAMPLE_RATE, models)


# -- another sample rate, edge cases ---------------------------------------------------------------


def test_another_sample_rate(rng):
    """At 22,050 Hz (2 s segments): librosa's values, and a tone's pitch class on top."""
    segments = tones(rng, 22_050, 3, 2.0)  # A4, A#4, B4
    _, chroma = check_against_librosa(segments, 22_050)
    # the chroma means: C is column 0, so A, A# and B are columns 9, 10 and 11
    assert list(chroma[:, :12].argmax(axis=1)) == [9, 10, 11]


def test_silence_gives_librosas_finite_values(models):
    """All zeros: the dB floor of every band (-100 dB, MFCC 0 = -100 * sqrt(128)) and no
    variation; chroma frames below the smallest normal number are left as zeros, not 0 / 0."""
    silence = np.zeros((2, PATCH_SAMPLES), np.float32)
    x = torch.from_numpy(silence)
    mfcc = models[0](x)["embeddings"].numpy()
    chroma = models[1](x)["embeddings"].numpy()
    assert np.isfinite(mfcc).all() and np.isfinite(chroma).all()
    assert mfcc[:, 0] == pytest.approx(-100 * np.sqrt(128))
    np.testing.assert_array_equal(chroma, 0.0)
    check_against_librosa(silence, SAMPLE_RATE, models)


def test_batch_of_one_and_rows_independent(models, rng):
    """A segment's embedding does not depend on its batch: not on its neighbours' loudness (the
    80 dB floor is per segment, as librosa's per call), nor on the batch size."""
    loud = tones(rng, SAMPLE_RATE, 1, PATCH_SAMPLES / SAMPLE_RATE)
    quiet = 1e-4 * tones(rng, SAMPLE_RATE, 1, PATCH_SAMPLES / SAMPLE_RATE)
    batch = torch.from_numpy(np.concatenate([loud, quiet]))
    for model, tolerance in zip(models, (MFCC_TOL, CHROMA_TOL), strict=True):
        together = model(batch)["embeddings"]
        alone = torch.cat([model(batch[:1])["embeddings"], model(batch[1:])["embeddings"]])
        # a floor shared by the batch would put the quiet segment's bands all at the loud one's
        # floor: tens of dB, not float32 rounding
        torch.testing.assert_close(together, alone, **tolerance)
    check_against_librosa(quiet, SAMPLE_RATE, models)


def test_input_dtypes_and_shapes(models, rng):
    """float64 (and float16) samples are converted to float32, exactly as ``x.float()``;
    integer samples, which are not on the scale of a waveform, and other shapes are refused."""
    x = torch.from_numpy(rng.uniform(-0.5, 0.5, (2, 20_000)))  # float64
    for model in models:
        expected = model(x.float())["embeddings"]
        torch.testing.assert_close(model(x)["embeddings"], expected, rtol=0, atol=0)
        assert model(x.half())["embeddings"].dtype == torch.float32
        with pytest.raises(TypeError, match="floating-point"):
            model((x * 32767).to(torch.int16))
        with pytest.raises(ValueError, match=r"\[batch, samples\]"):
            model(x[0].float())
        with pytest.raises(TypeError, match=r"torch\.Tensor"):
            model(x.numpy())
        assert model(x[:0].float())["embeddings"].shape == (0, expected.shape[1])


def test_sample_rate_checked():
    with pytest.raises(ValueError, match="positive"):
        MFCCStats(0)
    with pytest.raises(TypeError, match="int"):
        ChromaStats(16000.0)


# -- the device ------------------------------------------------------------------------------------


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


class _Devices(TorchFunctionMode):
    """Records the device of every tensor a torch function receives or returns."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self.seen.update(t.device.type for t in _tensors((args, kwargs, out)))
        return out


@pytest.mark.parametrize("model_class", [MFCCStats, ChromaStats])
def test_everything_follows_the_device(model_class):
    """Moved with ``.to()``, the module computes on that device alone: no tensor of the forward
    pass (buffer, constant, intermediate) is left on or made on the CPU. No GPU here, so PyTorch's
    "meta" device stands in for one (shapes and devices, no data)."""
    model = model_class(SAMPLE_RATE).to("meta")
    with _Devices() as devices:
        out = model(torch.zeros(3, PATCH_SAMPLES, device="meta"))["embeddings"]
    assert devices.seen == {"meta"}
    assert out.device.type == "meta" and out.dtype == torch.float32


@pytest.mark.parametrize("model_class", [MFCCStats, ChromaStats])
def test_no_weights_in_the_state_dict(models, model_class):
    """The filter banks are computed, not learned: an empty state dict, which loads strictly."""
    (model,) = (m for m in models if isinstance(m, model_class))
    assert model.state_dict() == {}
    assert list(model.parameters()) == []
    model.load_state_dict({}, strict=True)
    assert len(list(model.buffers())) > 0
