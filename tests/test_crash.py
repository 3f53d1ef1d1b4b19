"""Crash safety, for real: sweeps in subprocesses, killed, interrupted, or with a job that raises.

The job a test stops is held just before it computes (tests/hold: its status says running, its
store lock is taken) until the test releases it or its process dies, so the test controls
exactly which work was done when the blow falls, however fast the machine.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pruning_lab.store import ResultStore

from .conftest import ROOT, TINY, tiny_job
from .helpers_cli import (TRIVIAL, alive, cli, held_sweep, leftovers, places, start, statuses, stop_group, summary,
                          valid_results, wait_for)

TWO = ["-m", "seed=0,1", *TINY]  # job #n is seed n
JOB = [tiny_job(f"seed={n}") for n in range(3)]
KEPT = "finished results are kept, run the same command to resume"


def caught_running(proc: subprocess.Popen, holds, sweep_dir: Path) -> int:
    """Wait until job #1 is held running and job #0 has finished; the pid of #1's worker."""
    pid = holds.wait("job-1", proc)
    wait_for(lambda: statuses(sweep_dir).get(0, {}).get("state") == "ran", what="job #0 done")
    assert statuses(sweep_dir)[1]["state"] == "running"
    return pid


def assert_only_first_job_stored(store: Path) -> None:
    assert set(valid_results(store)) == {JOB[0].hash}
    assert not leftovers(store)
    # the stopped job's baseline was never committed: neither its tensors nor its metadata exist
    assert len(list((store / "baselines").glob("*.pt"))) == len(list((store / "baselines").glob("*.json"))) == 1


@pytest.mark.e2e
def test_a_worker_killed_while_its_job_runs_costs_only_its_job_and_the_rerun_redoes_it_alone(tmp_path):
    """Job #1's worker is killed (as the OOM killer would); the job beside it still runs, in its worker."""
    three = ["-m", "seed=0,1,2", *TINY]
    holds, proc = held_sweep(tmp_path, three, "job-1", "job-2", log="first")
    try:
        pid = caught_running(proc, holds, tmp_path / "sweep")
        # job #2 took the other worker when #0 ended; it must not be restarted by #1's death
        beside = holds.wait("job-2", proc)
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: statuses(tmp_path / "sweep")[1]["state"] == "failed", what="job #1's death seen")
        assert statuses(tmp_path / "sweep")[2]["state"] == "running"
        holds.release("job-2")
        assert proc.wait(timeout=120) == 1
        assert statuses(tmp_path / "sweep")[2]["pid"] == beside  # ended by the worker that started it
        err = (tmp_path / "first.err").read_text()
        out = (tmp_path / "first.out").read_text()
        assert "Traceback" not in err and "Traceback" not in out
        assert err.splitlines() == ["pruning-lab: failed: #1 seed=1: its worker process was killed "
                                    "by SIGKILL (out of memory?)"]
        assert summary(out) == "3 jobs: ran 2, reused 0, failed 1"
        assert statuses(tmp_path / "sweep")[1]["state"] == "failed"
        wait_for(lambda: not alive(proc.pid), timeout=20, what="the workers to exit")
    finally:
        stop_group(proc)
    store = tmp_path / "store"
    assert set(valid_results(store)) == {JOB[0].hash, JOB[2].hash}
    assert not leftovers(store)
    kept = ResultStore(store).path(JOB[0].hash).read_bytes()

    again = cli(*three, *places(tmp_path), "hydra.launcher.n_jobs=2")
    assert again.returncode == 0, again.stderr[-3000:]
    assert summary(again.stdout) == "3 jobs: ran 1, reused 2"
    assert set(valid_results(store)) == {j.hash for j in JOB}
    assert ResultStore(store).path(JOB[0].hash).read_bytes() == kept  # not recomputed, not rewritten


def stop_mid_job(tmp_path: Path, send, code: int, workers: int = 1) -> tuple[str, str]:
    """Start a two-job sweep, ``send`` it a signal once job #0 has ended and #1 is held running;
    its stdout and stderr. With 2 workers, #0's worker is idle by then: it must end too."""
    holds, proc = held_sweep(tmp_path, TWO, "job-1", workers=workers)
    try:
        caught_running(proc, holds, tmp_path / "sweep")
        send(proc)
        assert proc.wait(timeout=60) == code
        wait_for(lambda: not alive(proc.pid), timeout=20, what="the workers to exit")
    finally:
        stop_group(proc)
    err = (tmp_path / "sweep.err").read_text()
    out = (tmp_path / "sweep.out").read_text()
    assert "Traceback" not in err and "Traceback" not in out
    return out, err


@pytest.mark.e2e
def test_ctrl_c_stops_the_sweep_and_its_workers_cleanly(tmp_path):
    # what Ctrl-C in a terminal does: SIGINT to the whole group
    out, err = stop_mid_job(tmp_path, lambda proc: os.killpg(proc.pid, signal.SIGINT), 130, workers=2)
    assert err.splitlines()[-1] == f"pruning-lab: interrupted; {KEPT}"
    assert summary(out) == "2 jobs: ran 1, reused 0, interrupted 1"
    assert_only_first_job_stored(tmp_path / "store")


@pytest.mark.e2e
def test_a_job_that_raises_costs_only_its_own_result(tmp_path):
    """One job of three cannot store its result (a directory is in the way of its file)."""
    blocked = tiny_job("treatment=ssri")
    path = ResultStore(tmp_path / "store").path(blocked.hash)
    (path / "in-the-way").mkdir(parents=True)
    args = ["-m", "treatment=ketamine,ssri,neurosteroid", *TINY, *places(tmp_path), "hydra.launcher.n_jobs=1"]
    first = cli(*args)
    assert first.returncode == 1
    assert "Traceback" not in first.stderr
    failed = [ln for ln in first.stderr.splitlines() if ln.startswith("pruning-lab: failed:")]
    assert len(failed) == 1 and failed[0].startswith("pruning-lab: failed: #1 treatment=ssri: IsADirectoryError:")
    assert summary(first.stdout).startswith("3 jobs: ran 2, reused 0, failed 1")
    # the other jobs' results are whole; the failed cell is missing, in the store and its job dir
    results = valid_results_except(tmp_path / "store", blocked.hash)
    assert sorted(r["treatment"] for r in results.values()) == ["ketamine", "neurosteroid"]
    st = statuses(tmp_path / "sweep")
    assert [st[n]["state"] for n in range(3)] == ["ran", "failed", "ran"]
    assert not (st[1]["dir"] / "result.json").exists() and "IsADirectoryError" in (st[1]["dir"] / "traceback.txt").read_text()
    assert (st[0]["dir"] / "result.json").exists()

    # once the obstacle is gone, the same sweep redoes the failed job and only it
    (path / "in-the-way").rmdir()
    path.rmdir()
    again = cli(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert summary(again.stdout) == "3 jobs: ran 1, reused 2"
    assert len(valid_results(tmp_path / "store")) == 3


def valid_results_except(store: Path, missing: str) -> dict[str, dict]:
    results = ResultStore(store)
    return {p.stem: results.check(p.stem) for p in results.root.glob("*.json") if p.stem != missing}


@pytest.mark.e2e
def test_sigterm_stops_the_sweep_like_ctrl_c_and_exits_143(tmp_path):
    """How SLURM and most schedulers stop a job: the launcher alone gets SIGTERM."""
    out, err = stop_mid_job(tmp_path, lambda proc: proc.send_signal(signal.SIGTERM), 143)
    assert err.splitlines()[-1] == f"pruning-lab: terminated; {KEPT}"
    assert summary(out) == "2 jobs: ran 1, reused 0, interrupted 1"
    status = json.loads((tmp_path / "sweep" / "sweep.status").read_text())
    assert status["summary"] == "2 jobs: ran 1, reused 0, interrupted 1" and status["finished"] is False
    assert_only_first_job_stored(tmp_path / "store")


@pytest.mark.e2e
def test_a_closed_terminal_stops_the_sweep_like_sigterm_and_leaves_no_job_running(tmp_path):
    """SIGHUP: the summary, sweep.status and exit 129; the stopped job's own status says so."""
    out, err = stop_mid_job(tmp_path, lambda proc: proc.send_signal(signal.SIGHUP), 129)
    assert err.splitlines()[-1] == f"pruning-lab: hung up; {KEPT}"
    assert summary(out) == "2 jobs: ran 1, reused 0, interrupted 1"
    assert json.loads((tmp_path / "sweep" / "sweep.status").read_text())["finished"] is False
    assert [statuses(tmp_path / "sweep")[n]["state"] for n in (0, 1)] == ["ran", "interrupted"]
    assert_only_first_job_stored(tmp_path / "store")


def semaphores(pid: int) -> list[str]:
    """The named semaphores loky made for process ``pid`` that are still there."""
    return sorted(p.name for p in Path("/dev/shm").glob(f"sem.loky-{pid}-*"))


@pytest.mark.e2e
def test_a_launcher_killed_outright_leaves_no_worker_no_semaphore_and_no_warning(tmp_path):
    """kill -9 of the launcher alone: its workers end on their own, loky's resource tracker unlinks
    the launcher's semaphores without a word, and the next run says nothing of them either."""
    holds, proc = held_sweep(tmp_path, TWO, "job-1")
    try:
        caught_running(proc, holds, tmp_path / "sweep")
        proc.kill()
        proc.wait(timeout=10)
        # the resource trackers are of the group too: once it is empty, they have said all they will
        wait_for(lambda: not alive(proc.pid), timeout=20, what="the orphaned workers and trackers to exit")
    finally:
        stop_group(proc)
    assert JOB[1].hash not in valid_results(tmp_path / "store")
    assert (tmp_path / "sweep.err").read_text() == ""
    assert semaphores(proc.pid) == []

    again = cli(*TWO, *places(tmp_path), "hydra.launcher.n_jobs=2")
    assert (again.returncode, again.stderr) == (0, ""), again.stderr[-3000:]
    assert summary(again.stdout) == "2 jobs: ran 1, reused 1"


def interrupt_at(tmp_path: Path, delay: float) -> None:
    log = tmp_path / f"at-{delay:.2f}"
    proc = start("-m", "seed=0,1", *TRIVIAL, *places(tmp_path), "hydra.launcher.n_jobs=1", log=log)
    try:
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=60)
        wait_for(lambda: not alive(proc.pid), timeout=20, what="the workers to exit")
    finally:
        stop_group(proc)
    err, out = log.with_suffix(".err").read_text(), log.with_suffix(".out").read_text()
    assert "Traceback" not in err + out, (delay, err[-3000:])
    if code == 0:  # done before the blow fell (an earlier moment's sweep may have stored some jobs)
        assert any(summary(out).startswith(f"2 jobs: ran {n}, reused {2 - n}") for n in range(3)), out
    else:
        assert code == 130, (delay, err[-3000:])
        assert err.splitlines()[-1] == ending("interrupted", out), (delay, err[-3000:])


def ending(what: str, out: str) -> str:
    """The CLI's last line for a sweep stopped by a signal, given what its summary (if any) says."""
    counts = re.search(r" jobs: ran (\d+), reused (\d+)", out)  # none: stopped before the sweep began
    some = counts is not None and int(counts[1]) + int(counts[2]) > 0
    return f"pruning-lab: {what}; {KEPT}" if some else f"pruning-lab: {what} before any result; nothing to keep"


@pytest.mark.e2e
def test_ctrl_c_at_a_few_moments_of_a_sweeps_start_exits_130_without_a_traceback(tmp_path):
    for delay in random.Random(0).sample([0.3, 0.8, 1.5, 2.5, 4.0], 4):
        interrupt_at(tmp_path, delay)


@pytest.mark.e2e
def test_every_worker_starts_with_the_stop_signals_held_back_then_ignores_them_the_first_included():
    """The first worker's start also starts multiprocessing's resource tracker, which unblocks
    the signals after its own start: that worker would start interruptible (a traceback)."""
    script = ("import signal\n"
              "from pruning_lab.launch.local import submit, worker\n"
              "def seen():\n"
              "    stop = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}\n"
              "    held = signal.pthread_sigmask(signal.SIG_BLOCK, []) & stop\n"
              "    return sorted(map(int, held)), all(signal.getsignal(s) == signal.SIG_IGN for s in stop)\n"
              "workers = [worker(), worker()]\n"
              "print([submit(w, seen).result(timeout=60) for w in workers])\n"
              "for w in workers: w.shutdown(kill_workers=True)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    stop = sorted(int(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
    assert done.stdout.strip() == str([(stop, True)] * 2), done.stderr[-3000:]


def test_a_signal_inside_a_held_block_is_raised_when_the_block_ends_not_halfway():
    """Another thread takes the signal (the main thread holds it back); Python runs the handler in
    the main thread all the same. Raised halfway through a worker's spawn, it would leave the
    worker to print a traceback as it finds its start-up data missing."""
    script = ("import os, signal, threading\n"
              "from pruning_lab.launch import signals\n"
              "signals.install(armed=True)\n"
              "go = threading.Event()\n"
              "def kill():\n"
              "    go.wait()\n"
              "    os.kill(os.getpid(), signal.SIGTERM)\n"
              "killer = threading.Thread(target=kill)  # started before the block: it does not hold the signals\n"
              "killer.start()\n"
              "steps = []\n"
              "try:\n"
              "    with signals.held():\n"
              "        go.set()\n"
              "        killer.join()\n"
              "        for _ in range(100000):  # bytecodes, between which the handler would run\n"
              "            pass\n"
              "        steps.append('block done')\n"
              "    steps.append('after the block')\n"
              "except signals.Interrupted:\n"
              "    print(steps, signals.received())\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout == f"['block done'] {int(signal.SIGTERM)}\n", done.stderr[-3000:]


def test_a_ctrl_c_while_python_winds_down_after_the_sweep_changes_nothing():
    """Python's teardown gives a signal whose handler is Python's back its default action: a
    Ctrl-C then, with the summary printed, would end the process by SIGINT (status -2)."""
    script = ("import os, signal\n"
              "from pruning_lab.launch import cli\n"
              "cli.app = lambda: None  # a sweep that ends at once\n"
              "class CtrlC:  # dropped with this script's globals, in Python's teardown\n"
              "    def __del__(self, kill=os.kill, pid=os.getpid(), sig=signal.SIGINT):\n"
              "        kill(pid, sig)\n"
              "late = CtrlC()\n"
              "cli.main()\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")


def test_a_ctrl_c_that_lands_in_code_run_by_exec_still_exits_130(tmp_path):
    """Python run with -m ends itself by SIGINT at exit once a KeyboardInterrupt has passed through
    exec()'d code, caught or not; dataclasses make their methods so while a sweep starts."""
    (tmp_path / "ctrl_c_in_exec.py").write_text(
        "from pruning_lab.launch import cli\n"
        "cli.app = lambda: exec('import os, signal\\nos.kill(os.getpid(), signal.SIGINT)\\nfor _ in range(3): pass')\n"
        "cli.main()\n")
    done = subprocess.run([sys.executable, "-m", "ctrl_c_in_exec"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 130, done.stderr[-3000:]
    assert done.stderr.splitlines()[-1] == "pruning-lab: interrupted before any result; nothing to keep"


def test_a_ctrl_c_that_a_library_swallows_while_the_sweep_is_planned_still_stops_it(tmp_path):
    """Hydra turns an interrupt that lands while it composes a job into another error, and
    swallows that; the sweep must stop all the same before it launches anything."""
    script = ("import os, signal, sys, time\n"
              "from pruning_lab.launch import cli, plan\n"
              "real = plan.Planner.plan\n"
              "def plan_swallowing(self, num, overrides):\n"
              "    if num == 0:\n"
              "        try:\n"
              "            try:\n"
              "                os.kill(os.getpid(), signal.SIGINT)\n"
              "                time.sleep(5)\n"
              "            except KeyboardInterrupt as e:\n"
              "                raise ValueError('half-built config') from e\n"
              "        except Exception:\n"
              "            pass\n"
              "    return real(self, num, overrides)\n"
              "plan.Planner.plan = plan_swallowing\n"
              f"sys.argv = ['run', '-m', 'seed=0,1', *{TRIVIAL!r}, *{places(tmp_path)!r}]\n"
              "cli.main()\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (130, ""), done.stderr[-3000:]
    assert done.stderr.splitlines()[-1] == "pruning-lab: interrupted before any result; nothing to keep"
    assert not (tmp_path / "sweep").exists() and not (tmp_path / "store").exists()  # nothing launched


@pytest.mark.slow
def test_ctrl_c_at_any_moment_of_a_sweeps_start_exits_130_without_a_traceback(tmp_path):
    rng = random.Random()
    for _ in range(20):
        interrupt_at(tmp_path, rng.uniform(0.05, 6.0))


def test_corrupt_store_files_count_as_recomputed_only_when_their_job_ran():
    from pruning_lab.launch.status import JobStatus, summarize

    rows = [JobStatus(0, ["seed=0"], "ran", repaired=["a.json: checksum mismatch"]),
            JobStatus(1, ["seed=1"], "failed", error="OSError: disk full", repaired=["b.json: not valid JSON"]),
            JobStatus(2, ["seed=2"], "reused")]
    line, problems = summarize(rows)
    assert line == "3 jobs: ran 1, reused 1, failed 1; found 1 corrupt store file(s) and recomputed them"
    assert problems == ["failed: #1 seed=1: OSError: disk full"]


def test_an_interrupted_sweep_names_its_interrupted_jobs_and_counts_the_rest(tmp_path):
    from pruning_lab.launch.plan import PlannedJob
    from pruning_lab.launch.status import JobStatus, summarize
    from pruning_lab.launch.grid import rows

    jobs = [PlannedJob(i, (f"seed={i}",), JOB[0], JOB[0].hash, tmp_path / str(i), tmp_path, False, "s") for i in range(5)]
    states = {0: JobStatus(0, ["seed=0"], "ran"), 1: JobStatus(1, ["seed=1"], "running"),
              2: JobStatus(2, ["seed=2"], "failed", error="E")}
    table = rows(jobs, states, finished=False)
    line, problems = summarize(table)
    assert line == "5 jobs: ran 1, reused 0, failed 1, interrupted 1, not started 2"
    # a large sweep cut short must not print a line per job it never started
    assert problems == ["interrupted: #1 seed=1", "failed: #2 seed=2: E"]
    assert [r.state for r in table] == ["ran", "interrupted", "failed", "not started", "not started"]
