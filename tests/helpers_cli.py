"""Helpers for the tests that drive the real CLI in a subprocess (crash, store, cluster, errors)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pruning_lab.launch.status import STATUS
from pruning_lab.store import Corrupt, ResultStore

from .conftest import ROOT, TINY


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pruning_lab.run", *args]


def cli(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout)


def assert_refused_before_any_job(done: subprocess.CompletedProcess, expected: str, cwd: Path) -> None:
    """Exit 2, one line on stderr holding ``expected``, nothing on stdout, nothing written in ``cwd``."""
    assert done.returncode == 2 and done.stdout == "", done.stderr[-2000:]
    assert done.stderr.count("\n") == 1 and expected in done.stderr, done.stderr
    assert list(cwd.iterdir()) == []


def places(tmp: Path) -> list[str]:
    """Overrides that send every output of a run or sweep under ``tmp``."""
    return [f"paths.store={tmp / 'store'}", f"hydra.sweep.dir={tmp / 'sweep'}", f"hydra.run.dir={tmp / 'run'}"]


def sweep(tmp: Path, *args: str, launcher: str = "hydra.launcher.n_jobs=2") -> subprocess.CompletedProcess:
    """A tiny multirun with all its outputs under ``tmp``."""
    return cli("-m", *args, *TINY, *places(tmp), launcher)


def start(*args: str, cwd: Path = ROOT, log: Path) -> subprocess.Popen:
    """The CLI in its own process group (so a test can signal the sweep and all its workers)."""
    return subprocess.Popen(command(*args), cwd=cwd, stdout=open(log.with_suffix(".out"), "w"),
                            stderr=open(log.with_suffix(".err"), "w"), start_new_session=True)


def summary(text: str) -> str:
    """The sweep's one-line summary ("2 jobs: ran 1, reused 1")."""
    lines = [ln for ln in text.splitlines() if ln.startswith("pruning-lab: ") and " jobs: " in ln]
    assert len(lines) == 1, text[-3000:]
    return lines[0].removeprefix("pruning-lab: ")


def statuses(sweep_dir: Path) -> dict[int, dict]:
    found = {}
    for path in sweep_dir.glob(f"*/{STATUS}"):
        try:
            st = json.loads(path.read_text())
        except ValueError:  # being replaced this very moment
            continue
        found[st["num"]] = {**st, "dir": path.parent}
    return found


def wait_for(predicate, timeout: float = 120, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pgid: int) -> list[str]:
    """Processes of group ``pgid`` that are still running (zombies do not count)."""
    out = subprocess.run(["ps", "-eo", "pgid=,stat=,args="], capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if ln.split()[0] == str(pgid) and not ln.split()[1].startswith("Z")]


def stop_group(proc: subprocess.Popen) -> None:
    """Kill whatever is left of a sweep started by ``start`` (after a failed assertion)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def valid_results(store: Path) -> dict[str, dict]:
    """Every result file of the store, each checked (checksum, schema, hash); raises if one is bad."""
    results = ResultStore(store)
    out = {}
    for path in sorted(results.root.glob("*.json")):
        r = results.check(path.stem)
        if r is None:
            raise Corrupt(f"{path} vanished")
        out[path.stem] = r
    return out


def leftovers(store: Path) -> list[Path]:
    """Temporary files of interrupted writes."""
    return sorted(p for p in store.rglob("*.tmp")) if store.exists() else []


# trivial jobs: a launch path test should spend its time launching, not training
TRIVIAL = ["treatment=none", "longitudinal=none", "baseline.epochs=0", "model.hidden=[8]", "data.train_size=100",
           "data.test_size=100", "data.clean_size=100"]
