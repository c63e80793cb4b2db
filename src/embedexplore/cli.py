"""The ``embedexplore`` command: index a music folder, write the demo collection.

embedexplore scan ~/Music             # summary: tracks, duration, formats, errors
embedexplore demo                     # write (or find) the demo collection and scan it
embedexplore extract ~/Music --store ~/music-embeddings   # all four models, GPU if there is one
embedexplore verify --store ~/music-embeddings [--repair] # every array against its checksum
embedexplore app ~/Music              # a page in the browser (Voila): scan, extract, explore
embedexplore notebooks ~/embedexplore-notebooks   # copy the example notebooks out, to open them

What the command prints passes through :func:`embedexplore._text.printable`: file names and tags
come from files, and a name holding terminal escape codes must not drive the terminal. Errors of
the operating system (a full or read-only disk, no permission) are one line, never a traceback.

Exit status, for scripts: 0 done; 1 an error, said in one line on stderr, including a scan or an
extraction that read no file of its folders (an empty folder too: there is nothing to explore) and
``--device cuda`` where torch sees no GPU (``--device auto``, the default, takes the CPU then),
and a store that ``verify`` found damaged and did not repair; 2 a command line that cannot be
parsed; 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Sequence

from . import __version__, registry
from ._text import printable


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="embedexplore",
        description="Explore a music collection through deep audio embeddings.",
    )
    parser.add_argument("--version", action="version", version=f"embedexplore {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p_scan = sub.add_parser("scan", help="index the audio files under folders and summarise them")
    p_scan.add_argument("paths", nargs="+", metavar="PATH", help="folders or files to scan")
    _scan_options(p_scan)
    p_scan.add_argument("--csv", metavar="FILE", help="also write the tracks table to a CSV file")
    p_scan.add_argument(
        "--errors", metavar="FILE",
        help="also write the files and folders that could not be read, and why, to a CSV file",
    )  # fmt: skip

    p_demo = sub.add_parser("demo", help="write the offline demo collection and scan it")
    p_demo.add_argument(
        "--path", metavar="DIR", help="folder to write it to (default: in the user cache)"
    )
    _scan_options(p_demo)

    p_ext = sub.add_parser(
        "extract", help="run the tagging models over every segment of folders, into a store"
    )
    p_ext.add_argument("paths", nargs="+", metavar="PATH", help="folders or files to extract")
    p_ext.add_argument("--store", required=True, metavar="DIR", help="the store's folder")
    p_ext.add_argument(
        "--models", nargs="+", metavar="MODEL",
        default=list(registry.default_models()),
        help="models to run, any of: " + ", ".join(registry.names())
        + f" (default: {' '.join(registry.default_models())})",
    )  # fmt: skip
    p_ext.add_argument(
        "--layers", nargs="+", metavar="LAYER", default=["taggrams", "embeddings"],
        help="layers to keep, or 'all' (default: taggrams embeddings)",
    )  # fmt: skip
    p_ext.add_argument(
        "--device", default="auto",
        help="auto (default: the GPU when torch sees one, else the CPU), cuda, cuda:N or cpu; "
        "cuda where torch sees no GPU is an error",
    )  # fmt: skip
    p_ext.add_argument(
        "--precision", default="auto", choices=["auto", "float32", "tf32", "bf16"],
        help="the networks' arithmetic (default auto: tf32 on CUDA, float32 on the CPU)",
    )  # fmt: skip
    p_ext.add_argument(
        "--dtype", default="float16", choices=["float16", "float32"],
        help="how the arrays are stored (default float16)",
    )  # fmt: skip
    p_ext.add_argument("--batch-size", type=int, default=None, help="patches per forward pass")
    p_ext.add_argument(
        "--decoders", type=int, default=None, help="decoding processes (default: automatic)"
    )
    p_ext.add_argument(
        "--retry-errors", action="store_true", help="try again the files that failed before"
    )
    p_ext.add_argument(
        "--prune", action="store_true",
        help="remove the rows of the store's tracks that these folders no longer hold (by "
        "default they are kept, e.g. while a drive is not mounted)",
    )  # fmt: skip
    where = p_ext.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="run on a Dask cluster through its scheduler, e.g. tcp://host:8786 (needs "
        "pip install 'embedexplore[distributed]'; the workers must see the music and the store "
        "at the same paths)",
    )  # fmt: skip
    where.add_argument(
        "--slurm", type=int, metavar="JOBS",
        help="run on JOBS SLURM jobs, each a Dask worker with one GPU (dask-jobqueue; the "
        "nodes must see the music, the store and this Python at the same paths)",
    )  # fmt: skip
    p_ext.add_argument(
        "--shard-timeout", type=float, metavar="SECONDS",
        help="with --scheduler or --slurm: give up when no shard finishes for this long "
        "(what was committed is kept; default: wait)",
    )  # fmt: skip
    slurm = p_ext.add_argument_group("SLURM jobs (with --slurm)")
    slurm.add_argument("--slurm-partition", metavar="NAME", help="partition (sbatch -p)")
    slurm.add_argument(
        "--slurm-gpus", type=int, default=1, metavar="N",
        help="GPUs per job (default 1; 0 for CPU nodes: one worker per core)",
    )  # fmt: skip
    slurm.add_argument(
        "--slurm-cores", type=int, default=8, metavar="N",
        help="CPUs per job, which decode for its GPU (default 8)",
    )  # fmt: skip
    slurm.add_argument(
        "--slurm-memory", default="32GB", metavar="SIZE", help="memory per job (default 32GB)"
    )
    slurm.add_argument(
        "--slurm-walltime", default="04:00:00", metavar="HH:MM:SS",
        help="time limit per job (default 04:00:00)",
    )  # fmt: skip
    slurm.add_argument("--slurm-account", metavar="NAME", help="account to charge (sbatch -A)")
    slurm.add_argument(
        "--slurm-option", action="append", default=[], metavar="OPTION",
        help="another #SBATCH option, e.g. --slurm-option=--constraint=a100 (repeatable)",
    )  # fmt: skip
    slurm.add_argument(
        "--slurm-interface", metavar="NAME",
        help="network interface the scheduler listens on, e.g. ib0 (default: Dask's choice)",
    )  # fmt: skip
    slurm.add_argument("--slurm-logs", metavar="DIR", help="folder for the jobs' output")
    _scan_options(p_ext)

    p_ver = sub.add_parser(
        "verify", help="check every array of a store against its checksum, and its records"
    )
    p_ver.add_argument("--store", required=True, metavar="DIR", help="the store's folder")
    p_ver.add_argument(
        "--repair", action="store_true",
        help="rebuild damaged records from the parts, remove damaged parts and compute their "
        "rows again from the music files",
    )  # fmt: skip
    p_ver.add_argument("--device", default="auto", help="where a repair runs the models")
    p_ver.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    p_app = sub.add_parser(
        "app", help="explore a folder in the browser, no code in sight (needs "
        "pip install 'embedexplore[app]': Voila)",
    )  # fmt: skip
    p_app.add_argument("folder", metavar="FOLDER", help="the music folder")
    p_app.add_argument("--store", metavar="DIR", help="the store's folder (default: in the cache)")
    p_app.add_argument(
        "--models", nargs="+", metavar="MODEL",
        help="models to extract (default: the store's, or for a new store those of extract)",
    )  # fmt: skip
    p_app.add_argument(
        "--playlists", metavar="DIR", help="where playlists are saved (default: this folder)"
    )
    p_app.add_argument(
        "--port", type=int, help="port on 127.0.0.1 (default: the first free from 8866)"
    )
    p_app.add_argument("--no-browser", action="store_true", help="print the address only")

    p_nb = sub.add_parser(
        "notebooks", help="copy the example notebooks of this version into a folder, to open them"
    )
    p_nb.add_argument(
        "folder", nargs="?", default="embedexplore-notebooks", metavar="DIR",
        help="where to copy them (default: ./embedexplore-notebooks); files already there are "
        "kept",
    )  # fmt: skip

    args = parser.parse_args(argv)
    _quiet_and_printable(args.verbose)
    try:
        if args.command == "scan":
            return _scan(args, args.paths)
        if args.command == "demo":
            from .datasets import demo

            folder = demo(args.path, progress=not args.quiet)
            print(f"demo collection: {folder}")
            return _scan(args, [folder])
        if args.command == "extract":
            return _extract(args)
        if args.command == "verify":
            return _verify(args)
        if args.command == "app":
            from .app import serve

            return serve(args.folder, store=args.store, models=args.models,
                         playlists=args.playlists, port=args.port,
                         open_browser=not args.no_browser, verbose=args.verbose)  # fmt: skip
        if args.command == "notebooks":
            return _notebooks(args.folder)
    except (ValueError, ImportError) as e:
        _error(str(e))
        return 1
    except KeyboardInterrupt:
        print("embedexplore: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # no space, read-only, no permission, a scheduler out of reach...
        _error(_os_error(e))
        return 1
    except Exception as e:
        from .store import StoreError

        if not isinstance(e, StoreError):
            raise
        _error(str(e))
        return 1
    return 2


def _notebooks(folder: str) -> int:
    from pathlib import Path

    here = Path(__file__).resolve().parent
    source = here / "notebooks"  # where the wheel puts them
    if not source.is_dir():  # an editable install: the checkout's own examples/
        source = here.parent.parent / "examples"
    files = sorted([*source.glob("*.ipynb"), *source.glob("solutions_*.py")])
    if not files:
        raise ValueError(f"no notebooks found in {source}: reinstall embedexplore")
    out = Path(folder).expanduser().absolute()
    out.mkdir(parents=True, exist_ok=True)
    for file in files:
        target = out / file.name
        try:
            # "x": never over a file that exists, nor through a link (dangling or not) to one
            with open(target, "xb") as out_file, open(file, "rb") as in_file:
                shutil.copyfileobj(in_file, out_file)
        except FileExistsError:  # the user's own edits are never overwritten
            _say(f"kept {target} (delete it to get this version's)")
        else:
            _say(f"wrote {target}")
    first = out / "01_explore_your_collection.ipynb"
    _say(f"open them with: jupyter lab {first}")
    return 0


def _say(text: str, file=None) -> None:
    """Print ``text`` with its file names made harmless for a terminal."""
    print(printable(text), file=file or sys.stdout)


def _error(text: str) -> None:
    _say(f"embedexplore: error: {text}", sys.stderr)


def _os_error(e: OSError) -> str:
    """One line for an error of the operating system: what, and which file."""
    what = e.strerror or str(e) or type(e).__name__
    if e.filename is not None:
        return f"{what}: {os.fsdecode(e.filename)}"
    return what


class _PrintableFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def _quiet_and_printable(verbose: bool) -> None:
    """Log lines and warnings as one plain line each, with file names made printable; output
    that the terminal's or pipe's encoding cannot hold (a Japanese file name printed into a
    cp1252 pipe on Windows) escaped as ``\\u65e5``, never an error (stderr does so already)."""
    if hasattr(sys.stdout, "reconfigure"):  # not a stream replaced by a caller
        sys.stdout.reconfigure(errors="backslashreplace")
    handler = logging.StreamHandler()
    handler.setFormatter(_PrintableFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])

    def show(message, category, filename, lineno, file=None, line=None):
        _say(f"embedexplore: warning: {message}", sys.stderr)

    warnings.showwarning = show


def _scan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-cache", action="store_true", help="read every file, ignore the cache")
    p.add_argument("--cache-dir", metavar="DIR", help="where the scan cache lives")
    p.add_argument("--workers", type=int, default=None, help="files read at once")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _scan(args, paths) -> int:
    from .collection import scan

    cache = False if args.no_cache else (args.cache_dir or True)
    collection = scan(paths, cache=cache, workers=args.workers, progress=not args.quiet)
    _say(collection.summary())
    if getattr(args, "csv", None):
        collection.tracks.to_csv(args.csv, errors="surrogateescape")  # non-UTF-8 names
        _say(f"tracks written to {args.csv}")
    if getattr(args, "errors", None):
        collection.errors.to_csv(args.errors, index=False, errors="surrogateescape")
        _say(f"errors written to {args.errors}")
    if not len(collection.tracks):  # a script must be able to tell
        _error(_nothing_read(collection, getattr(args, "errors", None)))
        return 1
    return 0


def _nothing_read(collection, errors_file=None) -> str:
    """Why a scan gave no track: no audio file at all, or none that could be read (how many,
    and where their errors are listed)."""
    where = ", ".join(str(r) for r in collection.roots)
    found = collection.stats.found if collection.stats is not None else 0
    n = len(collection.errors)
    if not n:
        return f"no audio file in {where} (nor in its sub-folders)"
    listed = "listed above" if n <= 20 else "the first 20 listed above"
    if errors_file:
        listed += f", all in {errors_file}"
    elif n > 20:
        listed += "; embedexplore scan --errors FILE writes them all"
    if found:
        what = f"{_count(found, 'audio file')} found, none could be read"
    else:  # only folders that cannot be listed, archives...
        what = "no audio file found"
    return f"no readable audio in {where}: {what} ({_count(n, 'error')}, {listed})"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _extract(args) -> int:
    from ._store_lacks import holds_tracks
    from .collection import scan
    from .extraction import extract

    if args.scheduler is None and args.slurm is None:  # on a cluster, the workers' GPUs count
        no_gpu = _no_cuda(args.device)
        if no_gpu:  # said before a scan that may take minutes
            _error(no_gpu)
            return 1
    cache = False if args.no_cache else (args.cache_dir or True)
    collection = scan(args.paths, cache=cache, workers=args.workers, progress=not args.quiet)
    if len(collection.errors):
        _say(f"{len(collection.errors)} files or folders could not be read by the scan:")
        for row in collection.errors.head(20).itertuples():
            _say(f"  {row.path}: {row.reason}")
        if len(collection.errors) > 20:
            _say(
                f"  ... and {len(collection.errors) - 20} more (embedexplore scan --errors FILE "
                "lists them all)"
            )
    nothing = not len(collection.tracks)
    if nothing and not holds_tracks(args.store):
        _error(_nothing_read(collection) + "; nothing extracted")
        return 1
    layers = "all" if args.layers == ["all"] else args.layers
    cluster = args.scheduler
    if (cluster or args.slurm is not None) and not args.verbose:
        try:  # Dask's scheduler logs every worker's coming and going (set on its import)
            import distributed  # noqa: F401

            logging.getLogger("distributed").setLevel(logging.WARNING)
        except ImportError:
            pass  # extract() says what to install
    if args.slurm is not None:
        from ._cluster import slurm_cluster

        cluster = slurm_cluster(
            args.slurm, partition=args.slurm_partition, gpus=args.slurm_gpus,
            cores=args.slurm_cores, memory=args.slurm_memory, walltime=args.slurm_walltime,
            account=args.slurm_account, options=args.slurm_option,
            interface=args.slurm_interface, log_directory=args.slurm_logs,
        )  # fmt: skip
    try:
        emb = extract(
            collection, store=args.store, models=args.models, layers=layers,
            device=args.device, precision=args.precision, dtype=args.dtype,
            batch_size=args.batch_size, workers=args.decoders, progress=not args.quiet,
            retry_errors=args.retry_errors, prune=args.prune, cluster=cluster,
            shard_timeout=args.shard_timeout,
        )  # fmt: skip
    finally:
        if args.slurm is not None:
            cluster.close()  # cancels the jobs
    s = emb.stats
    text = (
        f"{len(emb.segments)} segments of {len(emb.tracks)} tracks in {emb.path}; this run: "
        f"{s.extracted} extracted, {s.reused} already there, {s.failed} failed, "
        f"{s.audio_seconds / 3600:.2f} h of audio in {s.seconds:.1f} s on {s.device}"
    )
    if s.missing:
        text += f"; {s.missing} tracks not found kept (--prune removes them)"
    if s.pruned:
        text += f"; {s.pruned} tracks pruned"
    _say(text)
    if len(emb.errors):
        _say(f"{len(emb.errors)} tracks could not be extracted:")
        for row in emb.errors.head(20).itertuples():
            _say(f"  {row.path}: {row.reason}")
    if nothing:  # the store's tracks were kept (a drive not mounted?): still, nothing was read
        _error(_nothing_read(collection) + f"; the store's tracks are kept in {emb.path}")
        return 1
    if s.extracted + s.reused == 0:
        _error(
            f"none of the {len(collection.tracks)} tracks found could be extracted (listed "
            "above; --retry-errors tries again those that failed before)"
        )
        return 1
    return 0


def _no_cuda(device: str) -> str | None:
    """The error for a CUDA device asked for where torch sees none (None otherwise): an
    explicit device is never swapped for another, ``auto`` is there for that."""
    import torch

    try:
        asked = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        return None  # unknown: extract() says what it takes
    if asked.type != "cuda" or torch.cuda.is_available():
        return None
    build = f"torch {torch.__version__}, " + (
        f"built with CUDA {torch.version.cuda}: check the driver (nvidia-smi)"
        if torch.version.cuda
        else "a build without CUDA: install a CUDA build of torch"
    )
    return (
        f"--device {device} was asked for, but torch.cuda is not available here ({build}); "
        "use --device auto (the GPU when there is one, else the CPU) or --device cpu"
    )


def _verify(args) -> int:
    from .store_check import verify

    no_gpu = _no_cuda(args.device) if args.repair else None  # only a repair runs the models
    if no_gpu:
        _error(no_gpu)
        return 1
    report = verify(args.store, repair=args.repair, device=args.device, progress=not args.quiet)
    _say(str(report))
    return 0 if report.ok or report.repaired else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
