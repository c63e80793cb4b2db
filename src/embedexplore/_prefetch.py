"""Decoding ahead of the models: files decoded in worker processes, yielded in collection order,
a bounded amount ahead (used by extraction on one machine and by each cluster worker)."""

from __future__ import annotations

import collections
import concurrent.futures as cf
import multiprocessing
import warnings

from . import _decode


class Decoder:
    """Decodes files in worker processes, yielding results in order, a bounded amount ahead.

    At most ``2 * workers`` files and two hours of audio (460 MB of 16 kHz float32; but at least
    one file, however long) are decoded ahead of the models. A worker that
    dies (a decoder crash on a hostile file) is replaced; the files it may have held are tried
    again one at a time, and a file that kills a worker on its own is reported as an error.
    """

    #: Seconds of audio decoded ahead of the models at most (but always at least one file).
    AHEAD_SECONDS = 7200.0

    def __init__(self, workers: int, fn=_decode.decode) -> None:
        self.workers = workers
        self.fn = fn
        self.ahead = max(2, 2 * workers)
        self.pool: cf.Executor | None = None
        self.threads = False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _new_pool(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        if self.threads:
            self.pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="decode")
            return
        self.pool = cf.ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_decode.worker_init,
        )
        try:
            self.pool.submit(_decode.ping).result(timeout=120)
        except (cf.process.BrokenProcessPool, cf.TimeoutError, OSError) as e:
            # typically a script that starts extraction at import time: each new process
            # imports the script again. Threads decode too (more slowly: the GIL).
            warnings.warn(
                f"decoding processes could not start ({type(e).__name__}); decoding in threads "
                'instead. In a script, call extract() under `if __name__ == "__main__":` so '
                "that worker processes can start.",
                RuntimeWarning,
                stacklevel=2,
            )
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.threads = True
            self.pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="decode")

    def map(self, paths: list[str], seconds: list[float] | None = None):
        """Yield ``fn(path)`` for each path, in order (``seconds``: each file's duration)."""
        if self.workers == 0:
            for p in paths:
                yield self.fn(p)
            return
        seconds = seconds if seconds is not None else [0.0] * len(paths)
        if self.pool is None:  # a pool is kept between calls (a cluster worker's shards)
            self._new_pool()
        queue: collections.deque = collections.deque()  # (index, future), in order
        suspects: collections.deque = collections.deque()  # in flight when a worker died
        try:
            yield from self._ordered(paths, seconds, queue, suspects)
        finally:  # the caller stopped early: what is queued is not decoded
            for _, future in queue:
                future.cancel()

    def _ordered(self, paths, seconds, queue, suspects):
        nxt = 0
        while nxt < len(paths) or queue or suspects:
            if suspects:
                # one at a time, so that a crash names the file that causes it
                i = suspects.popleft()
                try:
                    result = self.pool.submit(self.fn, paths[i]).result()
                except cf.process.BrokenProcessPool:
                    self._new_pool()
                    result = "error", "the decoder crashed on this file (FFmpeg died reading it)"
                yield result
                continue
            try:
                while (
                    nxt < len(paths)
                    and len(queue) < self.ahead
                    and (
                        not queue
                        or sum(seconds[j] for j, _ in queue) + seconds[nxt] <= self.AHEAD_SECONDS
                    )
                ):
                    queue.append((nxt, self.pool.submit(self.fn, paths[nxt])))
                    nxt += 1
                result = queue[0][1].result()
            except cf.process.BrokenProcessPool:
                # a worker died: the files it may have held are all those in flight
                suspects.extend(j for j, _ in queue)
                queue.clear()
                self._new_pool()
                continue
            queue.popleft()
            yield result
