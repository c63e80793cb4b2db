"""Speed of the ORIGINAL musicnn 0.1.0 (TensorFlow) on real music, all four models, on CPU.

    bash benchmarks/original_venv.sh
    TF_USE_LEGACY_KERAS=1 .venv-original/bin/python benchmarks/original_musicnn.py [FILES...]

Runs musicnn's own ``extractor`` (librosa decoding, one graph per call, batch size 1) for
MSD_musicnn, MTT_musicnn, MSD_vgg and MTT_vgg over the files (default: the first four tracks of
Debian's wesnoth-1.16-music) and prints multiples of realtime. One change, needed under numpy 2:
``batch_data`` casts the float16 mel to float32 before ``10000 * x`` (numpy 2 keeps float16 and
overflows to inf); it also stacks the patches at once instead of concatenating them one by one,
which can only make the original faster here. Compare with our pipeline on the same files in the
same session (the extraction benchmark).
"""

import glob
import sys
import time

import librosa
import musicnn.extractor as ex
import numpy as np
import soundfile


def _batch_data(audio_file, n_frames, overlap):
    audio, sr = librosa.load(audio_file, sr=16000)
    rep = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=256, n_fft=512, n_mels=96).T
    rep = np.log10(10000 * rep.astype(np.float16).astype(np.float32) + 1)
    last = rep.shape[0] - n_frames + 1
    return np.stack([rep[t : t + n_frames] for t in range(0, last, overlap)]), rep


def main() -> None:
    ex.batch_data = _batch_data
    files = (
        sys.argv[1:] or sorted(glob.glob("/usr/share/games/wesnoth/1.16/data/core/music/*.ogg"))[:4]
    )
    seconds = sum(soundfile.info(f).duration for f in files)
    start = time.perf_counter()
    for model in ["MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg"]:
        t = time.perf_counter()
        for f in files:
            ex.extractor(f, model=model, extract_features=True)
        print(f"{model}: {seconds / (time.perf_counter() - t):.1f}x realtime", flush=True)
    total = time.perf_counter() - start
    print(f"all four: {seconds:.0f} s of audio in {total:.1f} s = {seconds / total:.1f}x realtime")


if __name__ == "__main__":
    main()
