"""Decoding, resampling, streaming and the segment clock, on audio files the tests write."""

from __future__ import annotations

import logging
import tracemalloc

import av
import numpy as np
import pytest
import soxr

import audiofiles as af
from embedexplore import audio

ALL_KINDS = ["mp3", "ogg", "opus", "flac", "m4a", "alac.m4a", "wav", "aiff", "wma", "wv"]


def test_segment_clock_is_187_frames_of_256_samples_at_16k():
    assert audio.PATCH_SAMPLES == 47_872
    assert pytest.approx(2.992, abs=0) == audio.SEGMENT_SECONDS
    assert audio.segment_start(10) == pytest.approx(29.92, abs=1e-12)
    start, end = audio.segment_times(100_000)
    # exact multiples of 2.992 s even far along a very long track: no accumulated drift
    assert start[99_999] == 99_999 * 47_872 / 16_000
    assert end[-1] == 100_000 * 2.992
    np.testing.assert_array_equal(start[1:], end[:-1])
    assert audio.segment_times(0)[0].shape == (0,)
    with pytest.raises(ValueError):
        audio.segment_times(-1)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_format_decodes_to_mono_16k_with_the_right_pitch(tmp_path, kind):
    path = af.write(tmp_path / f"a.{kind}", seconds=3.0)
    x = audio.load(path)
    assert x.dtype == np.float32 and x.ndim == 1
    assert len(x) == pytest.approx(3.0 * 16_000, abs=0.05 * 16_000)
    # the tone was 440 Hz left and 660 Hz right: both survive the downmix at their pitch
    spectrum = np.abs(np.fft.rfft(x[4000:36000] * np.hanning(32000)))
    freqs = np.fft.rfftfreq(32000, 1 / 16_000)
    top = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert top == pytest.approx([440, 660], abs=2)


def test_load_equals_librosa_pipeline_mean_then_soxr_hq(tmp_path):
    """librosa.load(sr=16000): average the channels, then soxr at HQ. We must match it."""
    rate = 44_100
    x = af.tone(5.0, rate)
    path = af.write(tmp_path / "a.flac", x, rate=rate)
    ours = audio.load(path)
    with av.open(str(path)) as c:  # what the 16-bit FLAC holds, decoded in one go
        pcm = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    pcm = pcm.reshape(-1, 2).T.astype(np.float32) / 32768  # packed s16 -> [2, n]
    np.testing.assert_allclose(pcm, x, atol=1e-4)
    reference = soxr.resample(pcm.mean(axis=0), rate, 16_000, quality="HQ")
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, atol=1e-6)


def test_stream_chunks_concatenate_to_load(tmp_path):
    path = af.write(tmp_path / "a.mp3", seconds=7.3)
    chunks = list(audio.stream(path, chunk_seconds=1.0))
    assert all(len(c) == 16_000 for c in chunks[:-1])
    assert 0 < len(chunks[-1]) <= 16_000
    np.testing.assert_array_equal(np.concatenate(chunks), audio.load(path))


def test_start_and_duration_cut_the_exact_samples(tmp_path):
    path = af.write(tmp_path / "a.wav", seconds=12.0, rate=16_000)
    full = audio.load(path)
    part = audio.load(path, start=audio.segment_start(2), duration=audio.SEGMENT_SECONDS)
    assert len(part) == audio.PATCH_SAMPLES
    i = 2 * audio.PATCH_SAMPLES
    np.testing.assert_allclose(part, full[i : i + audio.PATCH_SAMPLES], atol=1e-6)
    tail = audio.load(path, start=10.0, duration=5.0)  # asks past the end: gets what there is
    assert len(tail) == 2 * 16_000


def test_start_on_a_resampled_compressed_file_matches_the_full_decode(tmp_path):
    path = af.write(tmp_path / "a.ogg", seconds=10.0)  # opus at 48 kHz
    full = audio.load(path)
    part = audio.load(path, start=4.0, duration=2.0)
    assert len(part) == 32_000
    # the resampler's start-up transient differs at the edges; the inside is the same signal
    np.testing.assert_allclose(part[800:-800], full[64_000 + 800 : 96_000 - 800], atol=1e-3)


def test_channels_are_averaged_like_librosa_to_mono(tmp_path):
    t = af.tone(2.0, 16_000, channels=1)[0]
    stereo = np.stack([t, -t])  # antiphase: the mean is silence
    path = af.write(tmp_path / "a.wav", stereo, rate=16_000)
    assert np.abs(audio.load(path)).max() < 1e-4


def test_integer_pcm_is_scaled_to_plus_minus_one(tmp_path):
    x = af.tone(1.0, 16_000, channels=1, amplitude=0.5)
    path = af.write(tmp_path / "a.wav", x, rate=16_000)
    y = audio.load(path)
    assert np.abs(y).max() == pytest.approx(0.5, abs=1e-3)


def test_streaming_memory_stays_bounded_on_a_long_file(tmp_path):
    """Ten minutes of audio stream through in the memory of a few chunks, not the whole."""
    x = af.tone(600.0, 16_000, channels=1, amplitude=0.3)
    path = af.write(tmp_path / "long.flac", x, rate=16_000)
    del x
    whole = 600 * 16_000 * 4
    tracemalloc.start()
    total = 0
    for chunk in audio.stream(path, chunk_seconds=5.0):
        total += len(chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert total == 600 * 16_000
    assert peak < whole / 10, f"peak {peak / 1e6:.1f} MB while the whole signal is {whole / 1e6} MB"


def test_probe_reads_stream_parameters(tmp_path):
    path = af.write(tmp_path / "a.flac", seconds=4.0, rate=22_050)
    info = audio.probe(path)
    assert info.codec == "flac" and info.container == "flac"
    assert info.sample_rate == 22_050 and info.channels == 2
    assert info.duration == pytest.approx(4.0, abs=1e-3)
    assert info.issue is None


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_probe_duration_matches_ffmpegs_decoded_length(tmp_path, kind):
    path = af.write(tmp_path / f"a.{kind}", seconds=12.5)
    assert audio.probe(path).duration == pytest.approx(af.decoded_seconds(path), abs=0.1)


@pytest.mark.parametrize("kind", ["mp3", "ogg", "flac", "wav", "aiff", "wv"])
def test_truncated_file_is_flagged_and_measured_to_where_it_stops(tmp_path, kind):
    path = af.write(tmp_path / f"a.{kind}", seconds=20.0)
    data = path.read_bytes()
    cut = tmp_path / f"cut.{kind}"
    cut.write_bytes(data[: len(data) // 2])
    info = audio.probe(cut)
    assert info.issue is not None and info.issue.startswith("truncated")
    assert info.duration == pytest.approx(10.0, abs=1.0)
    assert len(audio.load(cut)) == pytest.approx(info.duration * 16_000, rel=0.05)


def test_truncated_mp4_cannot_be_read_and_says_so(tmp_path):
    path = af.write(tmp_path / "a.m4a", seconds=10.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the index (moov atom) is at the end: gone
    with pytest.raises(audio.AudioError, match="damaged, cut short or not audio"):
        audio.probe(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"this is a shopping list, not a song\n" * 50, "not a readable audio file"),
        (bytes(range(256)) * 64, "not a readable audio file|no audio stream|no decodable audio"),
    ],
)
def test_not_audio_gives_a_clear_error(tmp_path, content, message):
    path = tmp_path / "song.mp3"
    path.write_bytes(content)
    with pytest.raises(audio.AudioError, match=message):
        audio.probe(path)
    with pytest.raises(audio.AudioError, match=message):
        audio.load(path)


def test_an_image_with_an_audio_extension_has_no_audio_stream(tmp_path):
    path = tmp_path / "cover.flac"
    with av.open(str(path), "w", format="image2pipe") as c:
        s = c.add_stream("png", rate=1)
        s.width = s.height = 16
        s.pix_fmt = "rgb24"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    with pytest.raises(audio.AudioError, match=r"no audio stream|not a readable audio file"):
        audio.probe(path)


def test_wrong_timestamps_are_caught_by_a_plausibility_check(tmp_path):
    """FFmpeg's experimental Vorbis encoder writes granule positions that state ~1/16 of the
    real length; such files exist in the wild. The duration must come out right anyway."""
    x = af.tone(20.0, 22_050)
    path = tmp_path / "native.ogg"
    with av.open(str(path), "w", format="ogg") as c:
        s = c.add_stream("vorbis", rate=22_050, layout="stereo")
        s.codec_context.options = {"strict": "experimental"}
        for i in range(0, x.shape[1], 4096):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(x[:, i : i + 4096]), format="fltp", layout="stereo"
            )
            frame.sample_rate = 22_050
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    with av.open(str(path)) as c:
        stated = float(c.streams.audio[0].duration * c.streams.audio[0].time_base)
    assert stated < 10  # the file really lies about its length
    assert audio.probe(path).duration == pytest.approx(af.decoded_seconds(path), abs=0.1)


def test_missing_file_error(tmp_path):
    with pytest.raises(audio.AudioError, match="not found"):
        audio.probe(tmp_path / "gone.mp3")


def test_corrupt_packets_in_the_middle_are_skipped_not_fatal(tmp_path, rng, caplog):
    path = af.write(tmp_path / "a.mp3", seconds=20.0)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="embedexplore.audio"):
        x = audio.load(path)
    # the timeline is kept: the damaged stretch becomes silence or noise, not a shorter track
    assert len(x) == pytest.approx(20.0 * 16_000, rel=0.02)
    assert np.isfinite(x).all()


def test_bad_arguments_raise_value_errors(tmp_path):
    path = af.write(tmp_path / "a.wav", seconds=1.0)
    for kwargs in ({"sample_rate": 0}, {"start": -1.0}, {"duration": -2.0}):
        with pytest.raises(ValueError):
            audio.load(path, **kwargs)


def _corrupt_packet_at(src, dst, seconds):
    """Copy ``src`` to ``dst`` with the packet at ``seconds`` overwritten; return its start (s)."""
    with av.open(str(src)) as c:
        s = c.streams.audio[0]
        packets = [(p.pts * float(p.time_base), p.pos, p.size) for p in c.demux(s) if p.size]
    at, pos, size = next(p for p in packets if p[0] >= seconds)
    data = bytearray(src.read_bytes())
    data[pos : pos + size] = b"\xff" * size
    dst.write_bytes(bytes(data))
    return at


def test_silence_for_a_corrupt_packet_lands_where_the_packet_was(tmp_path):
    src = af.write(tmp_path / "a.m4a", seconds=10.0)
    at = _corrupt_packet_at(src, tmp_path / "bad.m4a", 5.0)
    good, bad = audio.load(src), audio.load(tmp_path / "bad.m4a")
    assert len(bad) == pytest.approx(len(good), abs=1600)
    before = int((at - 0.1) * 16_000)
    # everything before the damage is untouched: the silence did not jump ahead of buffered audio
    np.testing.assert_allclose(bad[:before], good[:before], atol=1e-5)


def test_a_packet_stating_a_huge_duration_cannot_blow_up_memory(tmp_path):
    src = af.write(tmp_path / "a.m4a", seconds=6.0)
    dst = tmp_path / "huge.m4a"
    shift = 44_100 * 3600 * 2  # the damaged packet claims two hours
    with av.open(str(src)) as c, av.open(str(dst), "w") as out:
        s = c.streams.audio[0]
        o = out.add_stream_from_template(s)
        for i, p in enumerate(x for x in c.demux(s) if x.size):
            if i > 100:
                p.pts += shift
                p.dts += shift
            if i == 100:
                junk = av.Packet(b"\xff" * p.size)
                junk.pts, junk.dts, junk.time_base, junk.duration = (
                    p.pts,
                    p.dts,
                    p.time_base,
                    p.duration,
                )
                p = junk
            p.stream = o
            out.mux(p)
    x = audio.load(dst)
    assert len(x) < 8 * 16_000  # at most a short gap, not two hours of zeros


def test_unsupported_codec_is_an_audio_error(tmp_path):
    path = af.write(tmp_path / "a.wav", seconds=0.5, rate=16_000)
    data = bytearray(path.read_bytes())
    fmt = data.find(b"fmt ")
    data[fmt + 8 : fmt + 10] = (0x008F).to_bytes(2, "little")  # a format tag FFmpeg cannot decode
    path.write_bytes(bytes(data))
    with pytest.raises(audio.AudioError, match=r"unsupported audio codec|not a readable"):
        audio.probe(path)
    with pytest.raises(audio.AudioError):
        audio.load(path)


def test_chained_ogg_streams_are_measured_whole(tmp_path):
    a = af.write(tmp_path / "a.ogg", seconds=4.0)
    b = af.write(tmp_path / "b.ogg", seconds=3.0)
    chain = tmp_path / "chain.ogg"
    chain.write_bytes(a.read_bytes() + b.read_bytes())  # Ogg streams chain by concatenation
    info = audio.probe(chain)
    assert info.duration == pytest.approx(7.0, abs=0.05) and info.issue is None
    assert len(audio.load(chain)) == pytest.approx(7.0 * 16_000, abs=800)


def test_video_longer_than_the_audio_is_not_truncation(tmp_path):
    path = tmp_path / "clip.webm"
    with av.open(str(path), "w") as out:
        video = out.add_stream("libvpx", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("libopus", rate=48_000, layout="stereo")
        x = af.tone(3.0, 48_000)
        for i in range(0, x.shape[1], 960):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(x[:, i : i + 960]), format="fltp", layout="stereo"
            )
            frame.sample_rate, frame.pts = 48_000, i
            for p in sound.encode(frame):
                out.mux(p)
        for p in sound.encode(None):
            out.mux(p)
        for i in range(25 * 6):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = i
            for p in video.encode(frame):
                out.mux(p)
        for p in video.encode(None):
            out.mux(p)
    info = audio.probe(path)
    assert info.duration == pytest.approx(3.0, abs=0.05) and info.issue is None


def test_trailing_padding_after_a_cbr_mp3_is_not_truncation(tmp_path):
    src = af.write(tmp_path / "a.mp3", seconds=8.0)
    plain = tmp_path / "plain.mp3"
    with av.open(str(src)) as c, av.open(str(plain), "w", options={"write_xing": "0"}) as out:
        s = c.streams.audio[0]
        o = out.add_stream_from_template(s)
        for p in c.demux(s):
            if p.size:
                p.stream = o
                out.mux(p)
    padded = tmp_path / "padded.mp3"
    padded.write_bytes(plain.read_bytes() + b"\x00" * 300)
    assert audio.probe(plain).issue is None
    assert audio.probe(padded).issue is None
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(plain.read_bytes()[:-150])  # cut inside the last frame
    assert audio.probe(cut).issue.startswith("truncated")


def test_non_finite_float_samples_become_silence(tmp_path):
    x = af.tone(1.0, 16_000, channels=1)
    x[0, 8000] = np.nan
    path = tmp_path / "f.wav"
    with av.open(str(path), "w", format="wav") as c:
        s = c.add_stream("pcm_f32le", rate=16_000, layout="mono")
        frame = av.AudioFrame.from_ndarray(x, format="fltp", layout="mono")
        frame.sample_rate = 16_000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    y = audio.load(path)
    assert np.isfinite(y).all() and len(y) == 16_000


@pytest.mark.parametrize("kwargs", [{"start": float("nan")}, {"duration": float("inf")}])
def test_non_finite_times_are_rejected(tmp_path, kwargs):
    path = af.write(tmp_path / "a.wav", seconds=1.0)
    with pytest.raises(ValueError, match="finite"):
        audio.load(path, **kwargs)
