"""A one-node SLURM cluster for the tests: Debian's ``munged``, ``slurmctld`` and ``slurmd``
started in a temporary folder on 127.0.0.1 from a generated ``slurm.conf`` (free ports, no
cgroups, no accounting), and stopped afterwards. The packages' own services are not used.

Used by tests/test_slurm.py; the packages come from scripts/install_slurm.sh.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scancel", "sinfo")


def _which(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for d in ("/usr/sbin", "/sbin") if (p := Path(d) / name).exists()), None
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 4096


def _conf(root: Path, node: str) -> str:
    d = root
    return "\n".join([
        "ClusterName=embedexplore-test",
        "SlurmctldHost=localhost(127.0.0.1)",
        "SlurmUser=root",
        "SlurmdUser=root",
        f"SlurmctldPort={_free_port()}",
        f"SlurmdPort={_free_port()}",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={d}/munge/munge.sock",
        f"StateSaveLocation={d}/state",
        f"SlurmdSpoolDir={d}/spool",
        f"SlurmctldPidFile={d}/slurmctld.pid",
        f"SlurmdPidFile={d}/slurmd.pid",
        f"SlurmctldLogFile={d}/log/slurmctld.log",
        f"SlurmdLogFile={d}/log/slurmd.log",
        # no cgroups (a container may not delegate them), no accounting database
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "SchedulerType=sched/builtin",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "ReturnToService=2",
        "MpiDefault=none",
        "SlurmctldTimeout=30",
        "SlurmdTimeout=30",
        f"NodeName={node} NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1} "
        f"RealMemory={int(_memory_mb() * 0.9)} State=UNKNOWN",
        f"PartitionName=test Nodes={node} Default=YES MaxTime=INFINITE State=UP",
        "",
    ])  # fmt: skip


def _tail(path: Path, n: int = 15) -> str:
    with suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    return "(no log)"


@contextmanager
def one_node_slurm(root: Path):
    """Start MUNGE and SLURM's controller and node daemon in ``root``; yield the environment's
    ``SLURM_CONF`` (set in ``os.environ`` meanwhile, as ``sbatch`` and dask-jobqueue read it).

    Skips the test, saying why, where SLURM cannot start here: packages missing, not root
    (``slurmd`` starts jobs as their users), or a daemon that does not come up.
    """
    missing = [b for b in DAEMONS + CLIENTS if _which(b) is None]
    if missing:
        pytest.skip(
            f"SLURM/MUNGE not installed ({', '.join(missing)} missing): "
            "bash scripts/install_slurm.sh (as root)"
        )
    if os.geteuid() != 0:
        pytest.skip("the one-node SLURM cluster needs root (slurmd starts jobs as their user)")
    for sub in ("munge", "state", "spool", "log", "jobs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "munge").chmod(0o700)
    key = root / "munge" / "munge.key"
    subprocess.run([_which("mungekey"), "--create", f"--keyfile={key}", "--force"], check=True)
    key.chmod(0o400)
    node = socket.gethostname().split(".")[0]
    conf = root / "slurm.conf"
    conf.write_text(_conf(root, node))
    saved = dict(os.environ)
    os.environ["SLURM_CONF"] = str(conf)
    procs: list[subprocess.Popen] = []
    logs = root / "log"
    try:
        sock = root / "munge" / "munge.sock"
        procs.append(subprocess.Popen(
            [_which("munged"), "--foreground", "--force", f"--socket={sock}", f"--key-file={key}",
             f"--pid-file={root}/munge/munged.pid", f"--log-file={logs}/munged.log",
             f"--seed-file={root}/munge/seed"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        ))  # fmt: skip
        _wait(lambda: sock.exists(), 20, "munged", logs / "munged.log", procs)
        for daemon in ("slurmctld", "slurmd"):
            procs.append(subprocess.Popen(
                [_which(daemon), "-D", "-f", str(conf)],
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,  # they log to log/
            ))  # fmt: skip

        def idle() -> bool:
            out = subprocess.run(
                ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20
            )
            return out.returncode == 0 and out.stdout.strip() == "idle"

        _wait(idle, 60, "slurmctld/slurmd", logs / "slurmctld.log", procs)
        yield str(conf)
    finally:
        with suppress(Exception):  # jobs first, while slurmd can still end them
            subprocess.run(["scancel", "--full", "-u", "root"], timeout=30)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                out = subprocess.run(["squeue", "-h"], capture_output=True, text=True, timeout=20)
                if out.returncode != 0 or not out.stdout.strip():
                    break
                time.sleep(1)
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=20)
        os.environ.clear()
        os.environ.update(saved)


def _wait(ready, seconds: float, what: str, log: Path, procs) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.5)
    pytest.skip(f"{what} did not start within {seconds:.0f} s here; its log ends:\n{_tail(log)}")
