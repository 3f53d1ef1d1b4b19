"""A single-node SLURM cluster set up from nothing for the tests: munge, slurmctld and slurmd,
with their key, configuration, state, logs and sockets all under one directory.

The tests run only with ``PRUNING_LAB_TEST_SLURM=1`` (set by ``make test-slurm``); Debian's
packages are then installed if missing, as root. Whatever cannot be done is a reason to skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
PROGRAMS = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo"]
ENABLE = "PRUNING_LAB_TEST_SLURM"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path.name})"


def install() -> str | None:
    """Install the packages if a program is missing; a reason to skip if that cannot be done."""
    if os.environ.get(ENABLE) != "1":
        return f"the SLURM tests start daemons as root: run them with `make test-slurm` ({ENABLE}=1)"
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if not missing:
        return None
    if os.geteuid() != 0:
        return f"SLURM is not installed ({', '.join(missing)} missing) and installing it needs root"
    if shutil.which("apt-get") is None:
        return f"SLURM is not installed ({', '.join(missing)} missing) and there is no apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-q"],
                 ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]):
        done = subprocess.run(step, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:]
            return f"`{' '.join(step)}` failed: {' '.join(last)}"
    still = [p for p in PROGRAMS if shutil.which(p) is None]
    return f"{', '.join(still)} still missing after installing {' '.join(PACKAGES)}" if still else None


class Cluster:
    """One node, one ``debug`` partition with this host's cores and memory, no accounting."""

    def __init__(self, root: Path):
        self.root = root
        self.conf = root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.daemons: list[subprocess.Popen] = []

    def run(self, *command: str, check: bool = True, timeout: float = 60) -> str:
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")
        return done.stdout

    def start(self) -> str | None:
        """Start munge and both SLURM daemons; a reason to skip if the cluster does not come up."""
        if os.geteuid() != 0:
            return "the SLURM daemons of the test cluster run as root (SlurmUser=root)"
        munge = self.root / "munge"
        for d in ("munge", "state", "spool", "log"):
            (self.root / d).mkdir(mode=0o700)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.socket = munge / "munge.sock"
        self._daemon(["munged", "--foreground", "--force", f"--key-file={key}", f"--socket={self.socket}",
                      f"--pid-file={munge / 'munged.pid'}", f"--seed-file={munge / 'munged.seed'}",
                      f"--log-file={munge / 'munged.log'}"])
        if not self._wait(self.socket.exists, 20):
            return f"munged did not start: {_tail(munge / 'munged.log')}"
        node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True).stdout.splitlines()
        if not node or not node[0].startswith("NodeName="):
            return "`slurmd -C` cannot describe this host"
        self.conf.write_text(self._config(node[0]))
        self._daemon(["slurmctld", "-D", "-f", str(self.conf)])
        self._daemon(["slurmd", "-D", "-f", str(self.conf)])

        def idle() -> bool:
            out = subprocess.run(["sinfo", "--noheader", "--format=%T"], env=self.env, capture_output=True, text=True)
            return out.returncode == 0 and out.stdout.strip() == "idle"

        if not self._wait(idle, 60):
            return (f"the SLURM daemons did not start: slurmctld: {_tail(self.root / 'log' / 'slurmctld.log', 2)}; "
                    f"slurmd: {_tail(self.root / 'log' / 'slurmd.log', 2)}")
        return None

    def _config(self, node: str) -> str:
        fields = dict(f.split("=", 1) for f in node.split())
        name = fields["NodeName"]
        hardware = " ".join(f"{k}={fields[k]}" for k in
                            ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")
                            if k in fields)
        (self.root / "plugstack.conf").write_text("")
        return "\n".join([
            "ClusterName=pruninglab",
            # the loopback address given, so the host's name need not resolve
            f"SlurmctldHost={name}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            # a requeued job may start again cred_expire + 1 s after it stopped (120 s by default)
            f"AuthInfo=socket={self.socket},cred_expire=10",
            f"StateSaveLocation={self.root / 'state'}",
            f"SlurmdSpoolDir={self.root / 'spool'}",
            f"SlurmctldPidFile={self.root / 'slurmctld.pid'}",
            f"SlurmdPidFile={self.root / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.root / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={self.root / 'log' / 'slurmd.log'}",
            f"PlugStackConfig={self.root / 'plugstack.conf'}",
            # no cgroups needed: jobs are tracked by process tree, one core each
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SchedulerType=sched/builtin",
            "MpiDefault=none",
            "SwitchType=switch/none",
            # no accounting: sacct cannot answer, as on many small clusters
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
            # SIGTERM, then SIGKILL 2 s later (the grace period of scancel and of a time limit)
            "KillWait=2",
            # finished jobs stay known to squeue for the whole test session
            "MinJobAge=3600",
            "ReturnToService=2",
            "MailProg=/bin/true",
            f"NodeName={name} NodeAddr=127.0.0.1 {hardware} State=UNKNOWN",
            "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            "",
        ])

    def _daemon(self, command: list[str]) -> None:
        log = open(self.root / "log" / f"{command[0]}.out", "w")
        self.daemons.append(subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True))

    @staticmethod
    def _wait(predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.2)
        return False

    def version(self) -> str:
        return self.run("sinfo", "--version").strip()

    def jobs(self) -> dict[str, str]:
        """State of every job and array task the controller knows ("12_0" -> "COMPLETED")."""
        out = self.run("squeue", "--noheader", "--array", "--states=all", "--format=%i %T")
        return dict(line.split() for line in out.splitlines())

    def restarts(self, job: str) -> int:
        out = self.run("scontrol", "show", "job", job)
        return int(next(f for f in out.split() if f.startswith("Restarts=")).split("=")[1])

    def stop(self) -> None:
        """Cancel every job, then stop the daemons (the youngest first); always safe to call."""
        if self.daemons and self.conf.exists():
            subprocess.run(["scancel", "--full", "--user=root"], env=self.env, capture_output=True, timeout=60)
            self._wait(lambda: not any(s in ("RUNNING", "COMPLETING", "PENDING")
                                       for s in self._jobs_or_empty().values()), 30)
        for proc in reversed(self.daemons):
            proc.terminate()
        for proc in reversed(self.daemons):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.daemons = []

    def _jobs_or_empty(self) -> dict[str, str]:
        try:
            return self.jobs()
        except (RuntimeError, subprocess.SubprocessError):
            return {}
