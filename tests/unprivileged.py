"""Scanning as an unprivileged user: root reads every file and folder, whatever its permissions."""

from __future__ import annotations

import json
import os
import traceback
from pathlib import Path

NOBODY = 65534


def scan_as_nobody(root: Path, **options) -> tuple[list[str], list[dict]]:
    """The tracks' paths and the error rows of ``scan(root, **options)`` run as user nobody.

    When the tests run as root, the scan runs in a forked child that drops to nobody (uid and
    gid 65534) after everything is imported (as nobody it could not read the virtual environment
    of a private checkout); the folders above ``root`` are opened to others (o+rx) so that nobody
    can reach it. Otherwise the scan runs here. The cache is off.
    """
    import embedexplore

    if os.geteuid() != 0:
        c = embedexplore.scan(root, cache=False, progress=False, **options)
        return list(c.tracks["path"]), c.errors.to_dict("records")
    import tqdm.auto  # noqa: F401 - imported lazily by scan; the child could not read it

    for p in [root, *root.parents]:
        if p == Path("/"):
            break
        p.chmod(p.stat().st_mode | 0o005)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, whatever happens, then leave without running pytest's exit
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            c = embedexplore.scan(root, cache=False, progress=False, **options)
            answer = {"paths": list(c.tracks["path"]), "errors": c.errors.to_dict("records")}
        except BaseException:  # noqa: BLE001 - handed to the parent, which fails the test
            answer = {"exception": traceback.format_exc()}
        finally:
            # ensure_ascii (the default): names that are not valid UTF-8 travel as \udcxx
            with os.fdopen(write_end, "w") as f:
                f.write(json.dumps(answer))
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        answer = json.loads(f.read())
    os.waitpid(pid, 0)
    if "exception" in answer:
        raise AssertionError("the scan as nobody failed:\n" + answer["exception"])
    return answer["paths"], answer["errors"]
