"""One shard of extraction: its tracks decoded, their patches through every model that lacks
them, in batches cut the same way on every run, and the rows written as one part per model
(committed on one machine; published for the driver on a cluster worker)."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .clock import SAMPLE_RATE
from .store import Store

logger = logging.getLogger(__name__)

#: Benchmarks set this to wait for the device after each phase, so that the phases' times in
#: ``ExtractStats.profile`` are the device's (it slows extraction a little).
SYNC_PHASES = False


def _stat(path: str) -> tuple[int, int]:
    """(size, mtime in ns) of a file, or (-1, -1) when it cannot be seen."""
    try:
        st = os.stat(path)
    except OSError:
        return -1, -1
    return st.st_size, st.st_mtime_ns


@dataclass
class _Pending:
    """One model's work in the current shard: its tracks, their patches not yet run, outputs."""

    tracks: list = field(default_factory=list)
    n_segments: list = field(default_factory=list)
    patches: list = field(default_factory=list)
    n_patches: int = 0
    outputs: dict = field(default_factory=dict)


@dataclass
class _Run:
    store: Store
    manifest: dict
    #: model -> what runs it (:func:`embedexplore.models.runner.build`)
    taggers: dict
    layers: dict[str, dict[str, int]]
    versions: dict[str, str]
    dtype: str
    batch_size: int
    have: dict[str, dict]
    device: torch.device
    profile: dict = field(default_factory=dict)
    #: a cluster worker's run: parts are written and published, and listed in ``published``
    #: for the driver, which alone commits them (see :func:`_adopt`)
    publish_only: bool = False
    published: list = field(default_factory=list)
    #: parts known sound in this run (written by this process, or verified): compaction does
    #: not read them twice
    checked: set = field(default_factory=set)

    def shard(self, tracks: list[dict], decoded, bar) -> tuple[float, int]:
        """Decode, run and commit one shard; returns (audio seconds, failed tracks).

        Each model runs on the shard's tracks that it lacks, and only those, in batches of
        ``batch_size`` patches (or segments) cut in track order from the start of the shard.
        The built-in taggers share the log-mel patches, computed once per track; every other
        model cuts the waveform of its own sample rate into its own segments.
        """
        needed = [m for m in self.taggers if any(t["id"] not in self.have[m] for t in tracks)]
        mel = [m for m in needed if self.taggers[m].spec.kind == "tagger"]
        frontend = self.taggers[mel[0]] if mel else None
        work = {m: _Pending(outputs={k: [] for k in self.layers[m]}) for m in needed}
        seconds = 0.0
        failed = 0
        for t in tracks:
            t0 = time.perf_counter()
            status, result = next(decoded)
            self._tick("waiting for decoders", t0)
            if status == "ok":
                waves = result if isinstance(result, dict) else {SAMPLE_RATE: result}
                t0 = time.perf_counter()
                try:
                    inputs = self._inputs(t, waves, needed, frontend)
                except (RuntimeError, MemoryError, ValueError) as e:  # out of memory, NaN audio
                    status, result = "error", f"cannot compute its spectrogram ({e})"
                    if self.device.type == "cuda":
                        torch.cuda.empty_cache()
                self._tick("frontend (log-mel)", t0)
            if status != "ok":
                failed += 1
                size, mtime_ns = _stat(t["path"])  # the file as it failed
                self.manifest["errors"][t["id"]] = {
                    "path": t["path"], "size": size, "mtime_ns": mtime_ns, "reason": result,
                }  # fmt: skip
                logger.warning("%s: %s", t["path"], result)
                if bar is not None:
                    bar.update(1)
                continue
            rate, wave = next(iter(waves.items()))
            seconds += wave.size / rate
            for m, patches in inputs.items():
                w = work[m]
                w.tracks.append(t)
                w.n_segments.append(len(patches))
                for a in range(0, len(patches), self.batch_size):
                    piece = patches[a : a + self.batch_size]
                    w.patches.append(piece)
                    w.n_patches += len(piece)
                    while w.n_patches >= self.batch_size:
                        self._run(m, w, self.batch_size)
            del inputs, waves, result
            if bar is not None:
                bar.update(1)
                bar.audio_seconds += wave.size / rate
                _postfix(bar)
        for m, w in work.items():
            if w.n_patches:
                self._run(m, w, w.n_patches)
        t0 = time.perf_counter()
        self._commit(work)
        self._tick("writing the store", t0, sync=False)
        return seconds, failed

    def _inputs(self, track: dict, waves: dict, needed: list, frontend) -> dict:
        """What each model that lacks ``track`` reads of it: the shared log-mel patches, or
        its own segments of the waveform at its rate."""
        patches = None
        inputs = {}
        for m in needed:
            if track["id"] in self.have[m]:
                continue
            runner = self.taggers[m]
            if runner.spec.kind == "tagger":
                if patches is None:
                    patches = frontend.patches(waves[SAMPLE_RATE], SAMPLE_RATE)
                inputs[m] = patches
            else:
                inputs[m] = runner.segments(waves[runner.clock.sample_rate])
        return inputs

    def _tick(self, phase: str, t0: float, sync: bool = True) -> None:
        if sync and SYNC_PHASES and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.profile[phase] = self.profile.get(phase, 0.0) + time.perf_counter() - t0

    def _run(self, m: str, w: _Pending, size: int) -> None:
        """Run model ``m`` on the first ``size`` pending patches."""
        t0 = time.perf_counter()
        if len(w.patches) == 1:
            batch = w.patches[0]
        elif isinstance(w.patches[0], torch.Tensor):
            batch = torch.cat(w.patches)
        else:
            batch = np.concatenate(w.patches)
        head, rest = batch[:size], batch[size:]
        try:
            out = self.taggers[m].forward(head)
        except torch.cuda.OutOfMemoryError:
            raise torch.cuda.OutOfMemoryError(
                f"a batch of {size} patches does not fit in the GPU's memory; pass a smaller "
                "batch_size (e.g. --batch-size 256); what was done so far is kept"
            ) from None
        for k in self.layers[m]:
            v = out[k]
            if isinstance(v, torch.Tensor):
                v = v.cpu().numpy()
            w.outputs[k].append(v.astype(self.dtype))
        w.patches = [rest] if len(rest) else []
        w.n_patches = len(rest)
        self._tick("models (and copies back)", t0)

    def _commit(self, work: dict[str, _Pending]) -> None:
        added = []
        for m, w in work.items():
            if not w.tracks:
                continue
            arrays = {
                k: np.concatenate(v) if v else np.zeros((0, self.layers[m][k]), self.dtype)
                for k, v in w.outputs.items()
            }
            pid = self.store.write_part(
                m, version=self.versions[m], dtype=self.dtype,
                tracks=[(t["id"], t["size"], t["mtime_ns"]) for t in w.tracks],
                n_segments=w.n_segments, arrays=arrays,
                paths=[t["path"] for t in w.tracks], durations=[t["duration"] for t in w.tracks],
                labels=None if self.taggers[m].spec.builtin else self.taggers[m].spec.labels,
            )  # fmt: skip
            added.append((m, pid, w))
        published = [
            (m, pid, [(t["id"], n) for t, n in zip(w.tracks, w.n_segments, strict=True)])
            for m, pid, w in added
        ]
        if self.publish_only:
            self.published += published
            return
        self.checked.update((m, pid) for m, pid, _ in published)
        _adopt(self.manifest, self.have, published)
        self.store.commit(self.manifest)


def _adopt(manifest: dict, have: dict, published: list) -> None:
    """Name published parts in ``manifest`` (not yet written to disk) and record their rows in
    ``have``.

    Parameters
    ----------
    manifest : dict
        The store's manifest, changed in place.
    have : dict
        ``{model: {track_id: (part_id, first_row, n_segments)}}``, changed in place.
    published : list of tuple
        ``(model, part_id, [(track_id, n_segments), ...])`` in row order, as a shard's run
        lists them.
    """
    for m, pid, rows in published:
        if pid not in manifest["models"][m]["parts"]:
            manifest["models"][m]["parts"].append(pid)
        off = 0
        for tid, n in rows:
            have[m][tid] = (pid, off, int(n))
            off += int(n)


def _postfix(bar) -> None:
    elapsed = time.perf_counter() - bar.started
    bar.set_postfix_str(
        f"{bar.audio_seconds / 3600:.2f} h audio, {bar.audio_seconds / max(elapsed, 1e-9):.0f}x "
        "realtime",
        refresh=False,
    )
