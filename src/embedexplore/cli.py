"""The ``embedexplore`` command: index a music folder, write the demo collection.

embedexplore scan ~/Music             # summary: tracks, duration, formats, errors
embedexplore demo                     # write (or find) the demo collection and scan it
embedexplore extract ~/Music --store ~/music-embeddings   # all four models, GPU if there is one
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from . import __version__


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
        default=["musicnn-msd", "musicnn-mtt", "vgg-msd", "vgg-mtt"],
        help="models to run (default: all four)",
    )  # fmt: skip
    p_ext.add_argument(
        "--layers", nargs="+", metavar="LAYER", default=["taggrams", "embeddings"],
        help="layers to keep, or 'all' (default: taggrams embeddings)",
    )  # fmt: skip
    p_ext.add_argument("--device", default="auto", help="auto (default), cuda, cuda:N or cpu")
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

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
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
    except (FileNotFoundError, FileExistsError, NotADirectoryError, ValueError, ImportError) as e:
        print(f"embedexplore: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("embedexplore: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:
        from .store import StoreError

        if not isinstance(e, StoreError):
            raise
        print(f"embedexplore: error: {e}", file=sys.stderr)
        return 1
    return 2


def _scan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-cache", action="store_true", help="read every file, ignore the cache")
    p.add_argument("--cache-dir", metavar="DIR", help="where the scan cache lives")
    p.add_argument("--workers", type=int, default=None, help="files read at once")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _scan(args, paths) -> int:
    from .collection import scan

    cache = False if args.no_cache else (args.cache_dir or True)
    collection = scan(paths, cache=cache, workers=args.workers, progress=not args.quiet)
    print(collection.summary())
    if getattr(args, "csv", None):
        collection.tracks.to_csv(args.csv, errors="surrogateescape")  # non-UTF-8 names
        print(f"tracks written to {args.csv}")
    return 0


def _extract(args) -> int:
    from .collection import scan
    from .extraction import extract

    cache = False if args.no_cache else (args.cache_dir or True)
    collection = scan(args.paths, cache=cache, workers=args.workers, progress=not args.quiet)
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
            retry_errors=args.retry_errors, cluster=cluster, shard_timeout=args.shard_timeout,
        )  # fmt: skip
    finally:
        if args.slurm is not None:
            cluster.close()  # cancels the jobs
    s = emb.stats
    print(
        f"{len(emb.segments)} segments of {len(emb.tracks)} tracks in {emb.path}; this run: "
        f"{s.extracted} extracted, {s.reused} already there, {s.failed} failed, "
        f"{s.audio_seconds / 3600:.2f} h of audio in {s.seconds:.1f} s on {s.device}"
    )
    if len(emb.errors):
        print(f"{len(emb.errors)} tracks could not be extracted:")
        for row in emb.errors.head(20).itertuples():
            print(f"  {row.path}: {row.reason}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
