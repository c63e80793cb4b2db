"""The ``embedexplore`` command: index a music folder, write the demo collection.

embedexplore scan ~/Music             # summary: tracks, duration, formats, errors
embedexplore demo                     # write (or find) the demo collection and scan it
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
    except (FileNotFoundError, FileExistsError, NotADirectoryError, ValueError) as e:
        print(f"embedexplore: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("embedexplore: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
