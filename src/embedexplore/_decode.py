"""What extraction's decoding processes run: a file -> its mono waveform(s), or why not.

Kept free of torch, so that each decoding process starts fast and small.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading

from . import audio


def decode(path: str, rates: tuple[int, ...] | None = None) -> tuple[str, object]:
    """``("ok", waveform)`` (float32, 16 kHz mono) or ``("error", reason)``.

    With ``rates``: ``("ok", {rate: waveform})``, the file decoded once for each sample rate
    (each straight from the file, as :func:`embedexplore.audio.load` gives it). Every failure a
    file can cause becomes a reason, so one bad file never stops a run.
    """
    try:
        if rates is not None:
            return "ok", {int(r): audio.load(path, sample_rate=int(r)) for r in rates}
        return "ok", audio.load(path)
    except FileNotFoundError:
        return "error", "the file is gone (moved or deleted since the scan); scan again"
    except audio.AudioError as e:
        return "error", str(e)
    except OSError as e:
        return "error", f"cannot read the file: {e.strerror or e}"
    except MemoryError:
        return "error", "not enough memory to decode this file"
    except Exception as e:  # noqa: BLE001 (a decoder bug on one file must not stop the run)
        return "error", f"decoding failed ({type(e).__name__}: {e})"


def ping() -> bool:
    """Answers once a worker process has started."""
    return True


def worker_init() -> None:
    # decoding processes leave the cores' threads to the models: one thread each
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # a worker outlives a parent that was killed (SIGKILL, OOM killer, Task Manager): the task
    # queue's pipe stays open in its siblings, so it would wait forever. Exit once the parent is
    # gone, told by multiprocessing's sentinel of the parent, which Windows has too (there
    # os.getppid() keeps the dead parent's id)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(
            target=_exit_with, args=(parent.sentinel,), daemon=True, name="parent"
        ).start()


def _exit_with(sentinel) -> None:
    multiprocessing.connection.wait([sentinel])  # ready once the parent has exited
    os._exit(0)
