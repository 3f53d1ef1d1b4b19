"""Helpers for the tests that drive the real CLI in a subprocess (crash, store, cluster, errors)."""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pruning_lab.launch.status import STATUS
from pruning_lab.store import Corrupt, ResultStore

from .conftest import ROOT, TINY


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pruning_lab.run", *args]


class Zygote:
    """tests/cli_zygote.py: the CLI forked from a process that has already loaded it."""

    def __init__(self) -> None:
        self.env = environment()
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("cli_zygote.py"))], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.files = tempfile.TemporaryDirectory(prefix="pruning-lab-cli-")
        atexit.register(self.close)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()
        self.files.cleanup()

    def run(self, args: tuple[str, ...], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
        out, err = Path(self.files.name, "out"), Path(self.files.name, "err")
        self.proc.stdin.write(json.dumps({"argv": list(args), "cwd": str(cwd), "stdout": str(out), "stderr": str(err)}) + "\n")
        self.proc.stdin.flush()
        pid = json.loads(self.proc.stdout.readline())["pid"]
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            os.killpg(pid, signal.SIGKILL)

        timer = threading.Timer(timeout, expire)
        timer.start()
        try:
            code = json.loads(self.proc.stdout.readline())["code"]
        finally:
            timer.cancel()
        if expired.is_set():
            raise subprocess.TimeoutExpired(command(*args), timeout)
        return subprocess.CompletedProcess(command(*args), code, out.read_text(), err.read_text())


_zygote: list[Zygote] = []


def environment() -> dict[str, str]:
    """The environment a CLI would inherit, but the name of the test that pytest sets in it."""
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


def cli(*args: str, cwd: Path = ROOT, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m pruning_lab.run *args`` in ``cwd``, its output captured. Forked from a zygote
    (the same code, its imports made once) unless the environment (``env``, else this process's)
    differs from the zygote's: what the package reads as it loads would then differ."""
    env = environment() if env is None else env
    if not _zygote or _zygote[0].proc.poll() is not None:
        _zygote[:] = [Zygote()]
    if _zygote[0].env != env:
        return subprocess.run(command(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    return _zygote[0].run(args, cwd, timeout)


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


def start(*args: str, cwd: Path = ROOT, log: Path, env: dict | None = None) -> subprocess.Popen:
    """The CLI in its own process group (so a test can signal the sweep and all its workers)."""
    return subprocess.Popen(command(*args), cwd=cwd, stdout=open(log.with_suffix(".out"), "w"),
                            stderr=open(log.with_suffix(".err"), "w"), start_new_session=True, env=env)


class Holds:
    """Points where the processes of a CLI started with ``env`` stop until released
    (tests/hold/sitecustomize.py): ``job-<num>`` (about to compute), ``stored-<num>`` (its result
    stored, not yet reported), ``worker``, ``summary``."""

    def __init__(self, root: Path, *points: str, base: dict | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        for point in points:
            (root / point).touch()
        base = environment() if base is None else base
        path = [str(Path(__file__).with_name("hold")), *filter(None, [base.get("PYTHONPATH")])]
        self.env = {**base, "PYTHONPATH": os.pathsep.join(path), "PRUNING_LAB_TEST_HOLD": str(root)}

    def held(self, point: str) -> list[int]:
        """The processes waiting at ``point`` (or that did)."""
        return [int(p.suffix[1:]) for p in self.root.glob(f"{point}.*")]

    def wait(self, point: str, proc: subprocess.Popen | None = None, timeout: float = 120) -> int:
        """Wait until a process is held at ``point`` (``proc`` still running); its pid."""

        def reached():
            assert proc is None or proc.poll() is None, f"the run ended before reaching {point}"
            return (self.held(point) or [None])[0]

        return wait_for(reached, timeout, f"a process held at {point}")

    def release(self, point: str) -> None:
        (self.root / point).unlink()


def held_sweep(tmp: Path, args: list[str], *points: str, workers: int = 2, log: str = "sweep"
               ) -> tuple[Holds, subprocess.Popen]:
    """The sweep ``args`` (outputs under ``tmp``) in its own process group, its processes held at ``points``."""
    holds = Holds(tmp / "holds", *points)
    proc = start(*args, *places(tmp), f"hydra.launcher.n_jobs={workers}", log=tmp / log, env=holds.env)
    return holds, proc


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
