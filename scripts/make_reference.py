#!/usr/bin/env python
"""Regenerate the TensorFlow reference outputs of musicnn 0.1.0 in tests/data/reference/.

This script is NOT part of the package and does not run in the test suite: it needs the original
``musicnn==0.1.0`` wheel (installed with --no-deps) beside TensorFlow 2.x, tf-keras and librosa, an
environment that cannot coexist with ours. It is kept here so that anyone can regenerate or audit
the committed reference files that the PyTorch port is tested against.

Usage (from the repository root; ``benchmarks/original_venv.sh`` makes that environment)::

    bash benchmarks/original_venv.sh
    TF_USE_LEGACY_KERAS=1 .venv-original/bin/python scripts/make_reference.py
    TF_USE_LEGACY_KERAS=1 .venv-original/bin/python scripts/make_reference.py \
        --readme-clips PATH/TO/A/CHECKOUT/OR/MIRROR/OF/jordipons/musicnn

Default mode: for each clip in CLIPS, decode 25 s with librosa (16 kHz mono, soxr_hq), quantise to
16-bit PCM and write ``<name>.flac``; then, from the waveform read back from that FLAC, compute the
mel spectrogram, the log-mel patches and, for each of the four models, per-patch taggrams and
embeddings (ONE PATCH PER ``sess.run``), and write ``<name>.npz``.

``--readme-clips MIRROR``: run musicnn's own ``musicnn.tagger.top_tags`` (topN=10) on the two
example clips of github.com/jordipons/musicnn (copied from the bare git mirror MIRROR to /tmp,
never into this repository) for the four models and write ``readme_top_tags.json``.

Monkeypatch (both modes, in memory only): ``musicnn.extractor.batch_data`` computes
``np.log10(10000 * audio_rep + 1)`` on a float16 array. Under numpy < 2 (value-based casting) the
python int 10000 made that product float32; under numpy 2 (NEP 50) it stays float16 and overflows to
inf for mel power > 6.55, which turns taggrams into NaN/garbage. The patched copy casts the float16
values to float32 before the multiplication, reproducing the numpy-1 result exactly. Nothing else
in musicnn is changed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore")

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()

import musicnn  # noqa: E402
import musicnn.extractor  # noqa: E402
from musicnn import configuration as config  # noqa: E402
from musicnn import models  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "tests", "data", "reference")
MUSICNN_DIR = os.path.dirname(os.path.abspath(musicnn.__file__))

SR = 16000
N_FRAMES = 187
N_MELS = 96
DURATION = 25.0

# our model name -> musicnn model name
MODELS = {
    "musicnn-msd": "MSD_musicnn",
    "musicnn-mtt": "MTT_musicnn",
    "vgg-msd": "MSD_vgg",
    "vgg-mtt": "MTT_vgg",
}

CLIPS = [
    {
        "name": "wesnoth_battle_epic",
        "path": "/usr/share/games/wesnoth/1.16/data/core/music/battle-epic.ogg",
        "offset": 20.0,
        "package": "wesnoth-1.16-music",
        "style": "orchestral",
        "licence": "GPL-2+ (The Battle for Wesnoth project; /usr/share/doc/wesnoth-1.16-music/copyright)",
    },
    {
        "name": "muldjord_chaos_god",
        "path": "/usr/share/games/fretsonfire/data/songs/muldjord/chaos_god/song.ogg",
        "offset": 30.0,
        "package": "fretsonfire-songs-muldjord",
        "style": "death metal",
        "licence": "CC BY-SA 3.0 (Copyright (c) 2009 El Senator of Muldjord, www.muldjord.com; "
        "/usr/share/doc/fretsonfire-songs-muldjord/copyright)",
    },
    {
        "name": "colobot_prototype",
        "path": "/usr/share/games/colobot/music/Prototype.ogg",
        "offset": 60.0,
        "package": "colobot-common-sounds",
        "style": "electronic",
        "licence": "GPL-3+ (2001-2016 Daniel Roux, EPSITEC SA & TerranovaTeam; "
        "/usr/share/doc/colobot-common-sounds/copyright)",
    },
]

README_CLIPS = [
    "joram-moments_of_clarity-08-solipsism-59-88.mp3",
    "TRWJAZW128F42760DD_test.mp3",
]
README_NOTE = (
    "musicnn's README (github.com/jordipons/musicnn) states: "
    "top_tags('./audio/joram-moments_of_clarity-08-solipsism-59-88.mp3', model='MTT_musicnn', topN=10) "
    "-> ['techno', 'electronic', 'synth', 'fast', 'beat', 'drums', 'no vocals', 'no vocal', 'dance', 'ambient']; "
    "top_tags('./audio/TRWJAZW128F42760DD_test.mp3') (default model MTT_musicnn, topN=3) "
    "-> ['guitar', 'piano', 'fast']."
)
README_EXPECTED = {
    ("joram-moments_of_clarity-08-solipsism-59-88.mp3", "musicnn-mtt"): [
        "techno",
        "electronic",
        "synth",
        "fast",
        "beat",
        "drums",
        "no vocals",
        "no vocal",
        "dance",
        "ambient",
    ],
    ("TRWJAZW128F42760DD_test.mp3", "musicnn-mtt"): ["guitar", "piano", "fast"],
}
PATCH_NOTE = (
    "Run with musicnn 0.1.0's own musicnn.tagger.top_tags(file, model=M, topN=10) under numpy 2, with ONE "
    "in-memory monkeypatch: musicnn.extractor.batch_data replaced by a copy whose only change is "
    "`audio_rep = audio_rep.astype(np.float16).astype(np.float32)` before `np.log10(10000 * audio_rep + 1)` "
    "(numpy 2 keeps float16 * 10000 in float16 and overflows to inf; numpy < 2 promoted it to float32, "
    "which the patch reproduces). Unpatched, MTT_musicnn on the joram clip gives garbage "
    "(['quiet', 'loud', 'harpsichord', ...]). MP3s decoded by librosa 0.11 through soundfile/libsndfile "
    "(mpg123), not audioread/ffmpeg as in 2019."
)


# --------------------------------------------------------------------------------------------
# the monkeypatch
# --------------------------------------------------------------------------------------------


def _batch_data_numpy1(audio_file, n_frames, overlap):
    """musicnn.extractor.batch_data with the float16 product done in float32 (numpy-1 semantics)."""
    audio, sr = librosa.load(audio_file, sr=config.SR)
    audio_rep = librosa.feature.melspectrogram(
        y=audio, sr=sr, hop_length=config.FFT_HOP, n_fft=config.FFT_SIZE, n_mels=config.N_MELS
    ).T
    audio_rep = audio_rep.astype(np.float16)
    audio_rep = audio_rep.astype(np.float32)  # <- the only change
    audio_rep = np.log10(10000 * audio_rep + 1)

    first = True
    last_frame = audio_rep.shape[0] - n_frames + 1
    for time_stamp in range(0, last_frame, overlap):
        patch = np.expand_dims(audio_rep[time_stamp : time_stamp + n_frames, :], axis=0)
        if first:
            batch = patch
            first = False
        else:
            batch = np.concatenate((batch, patch), axis=0)
    return batch, audio_rep


musicnn.extractor.batch_data = _batch_data_numpy1


# --------------------------------------------------------------------------------------------
# audio and features
# --------------------------------------------------------------------------------------------


def make_clip(clip: dict) -> np.ndarray:
    """Decode, quantise to 16-bit, write the FLAC and return the waveform read back from it."""
    wave, sr = librosa.load(clip["path"], sr=SR, offset=clip["offset"], duration=DURATION)
    assert sr == SR and wave.ndim == 1, (sr, wave.shape)
    pcm = np.clip(np.round(wave.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)
    n_clipped = int(np.sum(np.abs(wave.astype(np.float64) * 32768.0) > 32767.5))
    flac = os.path.join(OUT_DIR, clip["name"] + ".flac")
    sf.write(flac, pcm, SR, format="FLAC", subtype="PCM_16")
    back, sr2 = sf.read(flac, dtype="float32")
    assert sr2 == SR and back.ndim == 1
    assert np.array_equal(back, pcm.astype(np.float32) / 32768.0)
    print(
        f"[{clip['name']}] {clip['path']} @ {clip['offset']} s: {back.size} samples, "
        f"peak {np.abs(back).max():.3f}, samples clipped by quantisation: {n_clipped}"
    )
    return back


def features(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mel = librosa.feature.melspectrogram(y=wave, sr=SR, hop_length=256, n_fft=512, n_mels=N_MELS)
    mel = np.ascontiguousarray(mel.T.astype(np.float32))  # [frames, 96]
    x = mel.astype(np.float16).astype(np.float32)
    logmel = np.log10(np.float32(10000) * x + np.float32(1)).astype(np.float32)
    n = logmel.shape[0] // N_FRAMES  # final partial patch dropped
    patches = np.ascontiguousarray(logmel[: n * N_FRAMES].reshape(n, N_FRAMES, N_MELS))
    return mel, patches


# --------------------------------------------------------------------------------------------
# TensorFlow
# --------------------------------------------------------------------------------------------


def build(model: str):
    """Build the graph and restore the checkpoint exactly as musicnn.extractor.extractor does."""
    labels = config.MTT_LABELS if "MTT" in model else config.MSD_LABELS
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        outs = models.define_model(x, is_training, model, len(labels))
        normalized_y = tf.nn.sigmoid(outs[0])
    g = tf.compat.v1.get_default_graph()
    fetch = {"taggrams": normalized_y}
    if "vgg" in model:
        fetch["embeddings"] = g.get_tensor_by_name("model/flatten/Reshape:0")  # flat_pool5
        pool5 = outs[5]
        assert fetch["embeddings"].op.inputs[0] is pool5, "flatten does not read pool5"
    else:
        emb = g.get_tensor_by_name("model/dense/BiasAdd:0")  # 1506 -> 200 dense, before ReLU
        relu = g.get_operation_by_name("model/dense/Relu")
        assert relu.inputs[0] is emb, "model/dense/Relu does not read model/dense/BiasAdd"
        pooled = g.get_tensor_by_name("model/flatten/Reshape:0")  # flat_pool before its BatchNorm
        assert pooled.op.inputs[0].op.name == "model/concat_2"  # concat([max_pool, mean_pool], 2)
        fetch["embeddings"] = emb
        fetch["penultimate"] = outs[-1]  # bn_dense, musicnn's 'penultimate' feature
        fetch["pooled"] = pooled
    sess = tf.compat.v1.Session()
    sess.run(tf.compat.v1.global_variables_initializer())
    saver = tf.compat.v1.train.Saver()
    saver.restore(sess, os.path.join(MUSICNN_DIR, model) + "/")
    names = {k: v.name for k, v in fetch.items()}
    return sess, x, is_training, fetch, labels, names


def run_model(model: str, patches: np.ndarray) -> tuple[dict, list, dict]:
    sess, x, is_training, fetch, labels, names = build(model)
    keys = list(fetch)
    per_patch = {k: [] for k in keys}
    for i in range(patches.shape[0]):  # ONE patch per sess.run
        out = sess.run(
            [fetch[k] for k in keys], feed_dict={x: patches[i : i + 1], is_training: False}
        )
        for k, v in zip(keys, out, strict=True):
            per_patch[k].append(np.asarray(v, dtype=np.float32).reshape(-1))
    res = {k: np.stack(v).astype(np.float32) for k, v in per_patch.items()}
    # cross-check: the whole batch in one call must give the same rows in the same order
    batch = sess.run([fetch[k] for k in keys], feed_dict={x: patches, is_training: False})
    diffs = {
        k: float(np.max(np.abs(res[k] - np.asarray(b).reshape(res[k].shape))))
        for k, b in zip(keys, batch, strict=True)
    }
    sess.close()
    return res, labels, {"tensors": names, "batch_vs_single_maxdiff": diffs}


def check_against_extractor(flac: str, model: str, res: dict) -> dict:
    """Compare with musicnn's own (patched) extractor on the committed FLAC."""
    taggram, _, feats = musicnn.extractor.extractor(flac, model=model, extract_features=True)
    taggram = np.asarray(taggram)
    n = min(len(taggram), len(res["taggrams"]))
    out = {"extractor_taggram_maxdiff": float(np.max(np.abs(taggram[:n] - res["taggrams"][:n])))}
    if "vgg" in model:
        emb = feats["pool5"].reshape(len(taggram), -1)
        out["extractor_pool5_maxdiff"] = float(np.max(np.abs(emb[:n] - res["embeddings"][:n])))
    else:
        pen = np.asarray(feats["penultimate"])
        out["extractor_penultimate_patch0_maxdiff"] = float(
            np.max(np.abs(pen[0] - res["penultimate"][0]))
        )
        if n > 1:
            out["extractor_penultimate_later_patches_maxdiff(bug)"] = float(
                np.max(np.abs(pen[1:n] - res["penultimate"][1:n]))
            )
    return out


def top(taggrams: np.ndarray, labels: list, k: int) -> list:
    mean = taggrams.mean(axis=0)
    return [labels[i] for i in np.argsort(mean)[::-1][:k]]


# --------------------------------------------------------------------------------------------
# modes
# --------------------------------------------------------------------------------------------


def make_reference(check_extractor: bool = True) -> None:
    os.makedirs(OUT_DIR, exist_ok=True)
    tensor_names = {}
    for clip in CLIPS:
        wave = make_clip(clip)
        mel, logmel = features(wave)
        data = {
            "mel": mel,
            "logmel": logmel,
            "sample_rate": np.array(SR),
            "source": np.array(f"{clip['path']} offset={clip['offset']} duration={DURATION}"),
        }
        print(
            f"  mel {mel.shape}, logmel {logmel.shape}, logmel range [{logmel.min():.3f}, {logmel.max():.3f}]"
        )
        for ours, model in MODELS.items():
            res, labels, info = run_model(model, logmel)
            tensor_names[ours] = info["tensors"]
            for k, v in res.items():
                if not np.all(np.isfinite(v)):
                    raise RuntimeError(f"non-finite values in {clip['name']} {ours}.{k}")
                data[f"{ours}.{k}"] = v
            msg = f"  {ours:12s} top-5: {top(res['taggrams'], labels, 5)}"
            print(msg)
            print(f"      batch-vs-single max |diff|: {info['batch_vs_single_maxdiff']}")
            if check_extractor:
                flac = os.path.join(OUT_DIR, clip["name"] + ".flac")
                print(f"      vs musicnn extractor: {check_against_extractor(flac, model, res)}")
        np.savez_compressed(os.path.join(OUT_DIR, clip["name"] + ".npz"), **data)
    print("tensors used:", json.dumps(tensor_names, indent=1))
    total = sum(os.path.getsize(os.path.join(OUT_DIR, f)) for f in os.listdir(OUT_DIR))
    print(f"total size of {OUT_DIR}: {total / 1e6:.2f} MB")


def readme_clips(mirror: str) -> None:
    from musicnn.tagger import top_tags

    tmp = "/tmp/embedexplore_musicnn_readme_clips"
    os.makedirs(tmp, exist_ok=True)
    head = subprocess.run(
        ["git", "-C", mirror, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    result = {
        "_note": README_NOTE,
        # what the README shows (musicnn-mtt), in a form benchmarks/readme_clips.py reads
        "_readme": {clip: tags for (clip, _), tags in README_EXPECTED.items()},
        "_how": PATCH_NOTE + f" Clips from jordipons/musicnn commit {head}.",
    }
    for name in README_CLIPS:
        path = os.path.join(tmp, name)
        with open(path, "wb") as fh:
            fh.write(
                subprocess.run(
                    ["git", "-C", mirror, "show", f"HEAD:audio/{name}"],
                    check=True,
                    capture_output=True,
                ).stdout
            )
        result[name] = {}
        for ours, model in MODELS.items():
            tags = top_tags(path, model=model, topN=10, print_tags=False)
            result[name][ours] = [str(t) for t in tags]
            print(f"[{name}] {ours:12s} {tags}")
            expected = README_EXPECTED.get((name, ours))
            if expected is not None:
                ok = tags[: len(expected)] == expected
                print(f"      README says {expected}: {'MATCH' if ok else 'DIFFERENT'}")
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, "readme_top_tags.json"), "w") as fh:
        json.dump(result, fh, indent=2)
        fh.write("\n")
    shutil.rmtree(tmp, ignore_errors=True)


def versions() -> str:
    import scipy
    import soxr

    return (
        f"python {platform.python_version()}, tensorflow {tf.__version__}, numpy {np.__version__}, "
        f"librosa {librosa.__version__}, soundfile {sf.__version__} (libsndfile {sf.__libsndfile_version__}), "
        f"soxr {soxr.__version__}, scipy {scipy.__version__}, musicnn 0.1.0"
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--readme-clips", metavar="MIRROR", help="bare git mirror of github.com/jordipons/musicnn"
    )
    ap.add_argument(
        "--no-extractor-check",
        action="store_true",
        help="skip the comparison with musicnn.extractor",
    )
    args = ap.parse_args(argv)
    print(versions())
    if args.readme_clips:
        readme_clips(args.readme_clips)
    else:
        make_reference(check_extractor=not args.no_extractor_check)


if __name__ == "__main__":
    main()
