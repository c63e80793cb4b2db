"""Files players read that FFmpeg alone refuses or misreads: the second decoder (libsndfile),
WAV sample layouts, the guard against garbage samples, chains of Ogg streams, and real files.

Each file is read the ways the package reads it: probed (the scan), decoded whole (extraction's
worker), decoded from an offset (playback), and the samples must agree.
"""

from __future__ import annotations

import io
import struct
import wave

import av
import numpy as np
import pytest
import soundfile as sf
import soxr

import audiofiles as af
import oggfiles
from embedexplore import _decode, audio, clips, scan
from realmusic import real_music


def _vorbis(path, x: np.ndarray, rate: int):
    """Ogg Vorbis by libvorbis (through libsndfile): ``x`` is [channels, n] float32."""
    sf.write(path, x.T, rate, format="OGG", subtype="VORBIS")
    return path


def _scanned(folder):
    coll = scan(folder, cache=False, progress=False)
    return coll.tracks.set_index("path"), coll.errors


# -- what FFmpeg refuses -------------------------------------------------------------------------

#: Valid Vorbis streams (libvorbis reads each header's fields and framing bit, and ignores what
#: follows) that FFmpeg refuses to open.
REFUSED = {
    # FFmpeg: "Invalid data found when processing input"
    "identification header of 31 bytes": {"identification": b"\x00"},
    # FFmpeg reads the setup header backwards from its last byte: "Unknown error occurred"
    "setup header with a byte after its framing bit": {"setup": b"\x01"},
}


@pytest.mark.parametrize("headers", list(REFUSED.values()), ids=list(REFUSED))
def test_vorbis_that_ffmpeg_refuses_is_read_with_libsndfile_everywhere(tmp_path, headers):
    rate = 44_100
    plain = _vorbis(tmp_path / "plain.ogg", af.tone(3.0, rate), rate)
    path = tmp_path / "refused.ogg"
    path.write_bytes(oggfiles.with_headers(plain.read_bytes(), **headers))
    plain.unlink()
    with pytest.raises(av.FFmpegError):  # the refusal is FFmpeg's own
        av.open(str(path)).close()
    reference, _ = sf.read(path, dtype="float32", always_2d=True)  # libvorbis, as players play it

    info = audio.probe(path)
    assert (info.codec, info.container) == ("vorbis", "ogg")
    assert (info.sample_rate, info.channels) == (rate, 2)
    assert info.duration == pytest.approx(3.0, abs=1e-3) and info.issue is None

    # extraction's decoder: the mean of the channels, resampled as for every other file
    status, x = _decode.decode(str(path))
    assert status == "ok", x
    expected = soxr.resample(reference.mean(axis=1), rate, 16_000, quality="HQ")
    assert x.shape == expected.shape
    np.testing.assert_allclose(x, expected, atol=1e-5)
    # playback: a span from the middle is the same samples
    part = audio.load(path, start=1.0, duration=1.0)
    np.testing.assert_allclose(part[800:-800], x[16_000 + 800 : 32_000 - 800], atol=1e-4)
    with wave.open(io.BytesIO(clips.clip(path, start=1.0, duration=1.0))) as w:
        assert w.getnframes() == clips.LISTEN_RATE
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768
    spectrum = np.abs(np.fft.rfft(pcm))
    freqs = np.fft.rfftfreq(len(pcm), 1 / clips.LISTEN_RATE)
    assert sorted(freqs[np.argsort(spectrum)[-2:]]) == pytest.approx([440, 660], abs=2)

    # the scan indexes it as a track, not as "damaged, cut short or not audio"
    tracks, errors = _scanned(tmp_path)
    assert errors.empty, errors.to_dict("records")
    assert tracks.loc[str(path), "duration"] == pytest.approx(3.0, abs=1e-3)


def test_a_file_neither_decoder_reads_keeps_ffmpegs_reason(tmp_path):
    path = tmp_path / "notes.ogg"
    path.write_bytes(b"OggS" + b"this is a shopping list, not a song\n" * 50)
    with pytest.raises(audio.AudioError, match="not a readable audio file"):
        audio.probe(path)
    status, reason = _decode.decode(str(path))
    assert status == "error" and "not a readable audio file" in reason


# -- WAV sample layouts --------------------------------------------------------------------------

_KSDATAFORMAT_SUBTYPE_PCM = struct.pack("<IHH", 1, 0, 0x10) + bytes.fromhex("800000aa00389b71")


def _wav_extensible(path, samples: np.ndarray, *, rate: int, bits: int, valid: int, high=True):
    """A WAVE_FORMAT_EXTENSIBLE file of integer PCM, written field by field.

    ``samples`` ([n, channels] integers of ``valid`` bits) go in the high bits of ``bits``-bit
    words (the format's layout) or, with ``high=False``, in the low bits.
    """
    channels = samples.shape[1]
    words = samples.astype(np.int64) << (bits - valid) if high else samples.astype(np.int64)
    data = words.astype("<i4").view(np.uint8).reshape(-1, 4)[:, : bits // 8].tobytes()
    block = channels * bits // 8
    mask = {1: 0x4, 2: 0x3}[channels]
    fmt = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * block, block, bits)
    fmt += struct.pack("<HHI", 22, valid, mask) + _KSDATAFORMAT_SUBTYPE_PCM
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


@pytest.mark.parametrize(("bits", "valid"), [(32, 24), (32, 20), (32, 16), (24, 20)])
def test_extensible_wav_with_padded_words_decodes_to_the_samples_written(
    tmp_path, rng, bits, valid
):
    rate = 16_000  # the models' rate: no resampling between the words and the comparison
    samples = rng.integers(-(2 ** (valid - 1)), 2 ** (valid - 1), size=(rate * 2, 2))
    path = _wav_extensible(tmp_path / "a.wav", samples, rate=rate, bits=bits, valid=valid)
    expected = (samples / 2 ** (valid - 1)).astype(np.float32).mean(axis=1, dtype=np.float32)

    info = audio.probe(path)
    assert (info.sample_rate, info.channels, info.issue) == (rate, 2, None)
    assert info.duration == pytest.approx(2.0, abs=1e-6)
    x = audio.load(path)
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-7)
    status, y = _decode.decode(str(path))
    assert status == "ok"
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(audio.load(path, start=0.5, duration=1.0), x[8000:24_000])


def test_samples_in_the_low_bits_of_their_words_are_an_error_with_a_reason(tmp_path):
    t = np.arange(16_000) / 16_000
    samples = np.round(0.5 * np.sin(2 * np.pi * 440 * t) * (2**23 - 1)).astype(np.int64)
    path = _wav_extensible(tmp_path / "a.wav", samples[:, None], rate=16_000, bits=32, valid=24,
                           high=False)  # fmt: skip
    with pytest.raises(audio.AudioError, match="low bits of their 32-bit words"):
        audio.probe(path)
    with pytest.raises(audio.AudioError, match="low bits"):
        audio.load(path)
    status, reason = _decode.decode(str(path))
    assert status == "error" and "low bits" in reason


def _float_wav(path, x: np.ndarray, rate: int = 16_000):
    with av.open(str(path), "w", format="wav") as c:
        s = c.add_stream("pcm_f32le", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(x, format="fltp", layout="mono")
        frame.sample_rate = rate
        for p in [*s.encode(frame), *s.encode(None)]:
            c.mux(p)
    return path


def test_samples_far_above_full_scale_are_an_error_never_data(tmp_path):
    """Whatever decoder misreads a file, its garbage does not reach the models."""
    path = _float_wav(tmp_path / "garbage.wav", af.tone(2.0, 16_000, channels=1, amplitude=1e4))
    with pytest.raises(audio.AudioError, match="times full scale"):
        audio.probe(path)
    with pytest.raises(audio.AudioError, match="times full scale"):
        audio.load(path)
    status, reason = _decode.decode(str(path))
    assert status == "error" and "times full scale" in reason
    _, errors = _scanned(tmp_path)
    assert errors["reason"].str.contains("times full scale").all() and len(errors) == 1
    # a float file that merely clips (a hot mix) is music
    hot = _float_wav(tmp_path / "hot.wav", af.tone(2.0, 16_000, channels=1, amplitude=1.5))
    assert np.abs(audio.load(hot)).max() == pytest.approx(1.5, abs=1e-3)


# -- chains of Ogg streams -----------------------------------------------------------------------


def _link(path, codec: str, rate: int, channels: int, seconds: float, freq: float):
    x = af.tone(seconds, rate, freq=freq, channels=channels)
    return _vorbis(path, x, rate) if codec == "vorbis" else af.write(path, x, rate=rate)


#: (codec, sample rate, channels) of the first and the second link.
CHAINS = {
    "stereo then mono": (("opus", 48_000, 2), ("opus", 48_000, 1)),
    "44.1 kHz then 22.05 kHz": (("vorbis", 44_100, 2), ("vorbis", 22_050, 2)),
    "vorbis then opus": (("vorbis", 44_100, 2), ("opus", 48_000, 1)),
}


@pytest.mark.parametrize("links", list(CHAINS.values()), ids=list(CHAINS))
def test_every_link_of_a_chained_ogg_is_indexed_and_decoded(tmp_path, links):
    (tmp_path / "parts").mkdir()
    a = _link(tmp_path / "parts" / "a.ogg", *links[0], seconds=4.0, freq=440.0)
    b = _link(tmp_path / "parts" / "b.ogg", *links[1], seconds=3.0, freq=1000.0)
    chain = tmp_path / "chain.ogg"
    chain.write_bytes(a.read_bytes() + b.read_bytes())  # Ogg streams chain by concatenation

    info = audio.probe(chain)
    assert info.duration == pytest.approx(7.0, abs=0.02) and info.issue is None
    assert (info.sample_rate, info.channels) == links[0][1:]
    x = audio.load(chain)
    xa, xb = audio.load(a), audio.load(b)
    assert len(x) == len(xa) + len(xb) == pytest.approx(7.0 * 16_000, abs=160)
    # each link's samples, in order (the resampler's edges aside)
    np.testing.assert_allclose(x[800 : len(xa) - 800], xa[800:-800], atol=1e-4)
    np.testing.assert_allclose(x[len(xa) + 800 : -800], xb[800:-800], atol=1e-4)
    # playback seeks into the second link and gets the same samples
    part = audio.load(chain, start=5.0, duration=1.0)
    np.testing.assert_allclose(part[800:-800], x[80_000 + 800 : 96_000 - 800], atol=1e-4)
    status, y = _decode.decode(str(chain))
    assert status == "ok"
    np.testing.assert_array_equal(y, x)

    tracks, errors = _scanned(tmp_path)
    assert errors.empty, errors.to_dict("records")
    assert tracks.loc[str(chain), "duration"] == pytest.approx(7.0, abs=0.02)


def test_a_link_no_decoder_reads_ends_the_track_and_is_reported(tmp_path):
    good = _vorbis(tmp_path / "good.ogg", af.tone(4.0, 44_100), 44_100)
    # a second link whose stream no decoder knows: a beginning-of-stream page and one more
    unknown = oggfiles.page(0x1234, 0, 0, 0x02, [b"\x01nothing known" + bytes(20)])
    unknown += oggfiles.page(0x1234, 1, 4096, 0x04, [bytes(300)])
    chain = tmp_path / "chain.ogg"
    chain.write_bytes(good.read_bytes() + unknown)
    good.unlink()

    info = audio.probe(chain)
    assert info.duration == pytest.approx(4.0, abs=0.01)
    assert info.issue.startswith("link 2 of 2 cannot be read")
    status, x = _decode.decode(str(chain))
    assert status == "ok" and len(x) == pytest.approx(4.0 * 16_000, abs=16)
    assert len(audio.load(chain, start=3.5)) == pytest.approx(0.5 * 16_000, abs=16)
    tracks, errors = _scanned(tmp_path)
    assert tracks.loc[str(chain), "duration"] == pytest.approx(4.0, abs=0.01)
    (row,) = errors.to_dict("records")
    assert row == {"path": str(chain), "reason": info.issue, "indexed": True}


# -- real files ----------------------------------------------------------------------------------


def test_real_vorbis_sound_effects_last_what_they_decode_to():
    """FFmpeg's Ogg demuxer gives the last packet of these files (freedroidrpg's sound effects,
    0.1-0.4 s each) a duration of 2**32 - 26 samples: they were indexed as 27-hour tracks."""
    effects = real_music("freedroidrpg-data").parent / "effects"
    files = sorted(effects.rglob("*.ogg"))
    if not files:
        pytest.skip(f"no sound effects under {effects} (a newer freedroidrpg-data layout?)")
    for path in files:
        info = audio.probe(path)
        stated = sf.info(path)
        assert info.duration == pytest.approx(stated.frames / stated.samplerate, abs=0.05), path
    longest = max(files, key=lambda p: p.stat().st_size)
    assert len(audio.load(longest)) / 16_000 == pytest.approx(audio.probe(longest).duration,
                                                               abs=0.01)  # fmt: skip
