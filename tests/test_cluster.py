"""The cluster path: the SLURM presets, run here with submitit's local executor, and SLURM job
states read without accounting (the real SLURM is in test_slurm.py)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from .conftest import CONF, ROOT, TINY
from .helpers_cli import (Holds, alive, command, places, start, statuses, stop_group, summary, valid_results,
                          wait_for)

# submitit's local executor runs the cluster launcher's whole path (about 30 s of CPU): kept out of
# make test, in make test-slurm (beside the real SLURM) and make test-all
CLUSTER_PATH = pytest.mark.slow

SWEEP = ["-m", "treatment=ketamine,neurosteroid", *TINY]


def launcher(name: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=[f"hydra/launcher={name}"], return_hydra_config=True).hydra.launcher


def test_the_slurm_preset_asks_for_one_core_and_a_few_minutes_per_job():
    slurm = launcher("slurm")
    assert slurm._target_.endswith("SlurmLauncher")
    assert slurm.cpus_per_task == 1 and slurm.tasks_per_node == 1 and slurm.nodes == 1
    assert 10 <= slurm.timeout_min <= 120 and 1 <= slurm.mem_gb <= 4
    local = launcher("slurm_local")
    assert local._target_.endswith("LocalLauncher") and local.cpus_per_task == 1
    assert "n_jobs" not in slurm and "n_jobs" not in local  # joblib's settings do not leak into them


@CLUSTER_PATH
def test_submitit_local_stores_what_joblib_stores_and_resumes_like_it(tmp_path):
    # both sweeps at once, each into its own store
    procs = {name: subprocess.Popen(command(*SWEEP, *places(tmp_path / name), extra), cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, extra in (("joblib", "hydra.launcher.n_jobs=2"), ("submitit", "hydra/launcher=slurm_local"))}
    for name, p in procs.items():
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, f"{name}: {err[-3000:]}"
        assert summary(out) == "2 jobs: ran 2, reused 0", name
    joblib = valid_results(tmp_path / "joblib" / "store")
    submitit = valid_results(tmp_path / "submitit" / "store")
    assert set(joblib) == set(submitit) and len(joblib) == 2
    for h in joblib:
        assert submitit[h]["metrics"] == joblib[h]["metrics"] and submitit[h]["config"] == joblib[h]["config"]
    assert (tmp_path / "submitit" / "sweep" / ".submitit").is_dir()  # it really went through submitit

    # resume: a lost result is recomputed, the other reused, and the numbers do not move
    lost = sorted(submitit)[0]
    (tmp_path / "submitit" / "store" / "results" / f"{lost}.json").unlink()
    again = subprocess.run(command(*SWEEP, *places(tmp_path / "submitit"), "hydra/launcher=slurm_local"),
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert summary(again.stdout) == "2 jobs: ran 1, reused 1"
    assert valid_results(tmp_path / "submitit" / "store")[lost]["metrics"] == joblib[lost]["metrics"]


def fake_squeue(bin_dir: Path, out: str, rc: int = 0, err: str = "") -> None:
    """An ``squeue`` stand-in that prints ``out`` (and ``err``) and exits ``rc``; and an ``sacct``
    that leaves a trace if called."""
    bin_dir.mkdir(exist_ok=True)
    scripts = {"squeue": f"printf '{out}'; printf '{err}' >&2; exit {rc}",
               "sacct": f"touch {bin_dir / 'sacct-called'}; exit 1"}
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)


@pytest.mark.parametrize("out, rc, err, states", [
    # squeue knows each task until MinJobAge after its end; one it has forgotten has ended too
    ("7_0|COMPLETED\\n7_1|CANCELLED\\n7_2|RUNNING\\n", 0, "", {"7_0": "COMPLETED", "7_1": "CANCELLED",
                                                               "7_2": "RUNNING", "8": "GONE"}),
    # none of them known any more: squeue refuses the whole call
    ("", 1, "slurm_load_jobs error: Invalid job id specified", {"7_0": "GONE", "7_1": "GONE", "7_2": "GONE",
                                                                "8": "GONE"}),
    # a busy or unreachable controller: no answer, so no job is taken for ended
    ("", 1, "Socket timed out on send/recv operation", None),
])
def test_job_states_come_from_squeue_without_accounting(tmp_path, monkeypatch, out, rc, err, states):
    from pruning_lab.launch.cluster import queue_states

    fake_squeue(tmp_path / "bin", out, rc, err)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert queue_states(["7_0", "7_1", "7_2", "8"]) == states
    assert not (tmp_path / "bin" / "sacct-called").exists()


def test_a_task_that_ends_without_a_status_fails_once_squeue_has_seen_it_ended_twice(tmp_path):
    """Its own status, written when it ends, is what a job's end is read from; a task that ends
    without one (scancel, out of memory) is failed, after a second look at the queue."""
    from types import SimpleNamespace

    from pruning_lab.config import Job
    from pruning_lab.launch.cluster import SlurmLauncher
    from pruning_lab.launch.plan import PlannedJob
    from pruning_lab.launch.status import JobStatus

    job = Job.from_config({**compose_config(), "seed": 0})
    planned = PlannedJob(0, ("seed=0",), job, job.hash, tmp_path / "0", tmp_path / "store", False, "sweep-a")
    task, launcher, seen = SimpleNamespace(job_id="7_0"), SlurmLauncher(), set()
    assert launcher._ended(task, planned, {"7_0": "RUNNING"}, seen) is None
    assert launcher._ended(task, planned, None, seen) is None  # squeue did not answer
    assert launcher._ended(task, planned, {"7_0": "OUT_OF_MEMORY"}, seen) is None  # once: the status may be on its way
    failed = launcher._ended(task, planned, {"7_0": "OUT_OF_MEMORY"}, seen)
    assert (failed.state, failed.error) == ("failed", "ended without a result (state OUT_OF_MEMORY)")
    planned.status("ran").write(planned.dir)  # its own status wins, whatever the queue says
    assert launcher._ended(task, planned, {"7_0": "GONE"}, set()).state == "ran"
    JobStatus(0, ["seed=0"], "ran", sweep="sweep-b").write(planned.dir)  # another sweep's status
    assert launcher._ended(task, planned, {"7_0": "RUNNING"}, set()) is None


def compose_config() -> dict:
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return OmegaConf.to_container(compose("config", overrides=["treatment=none"]), resolve=True)


@CLUSTER_PATH
def test_ctrl_c_under_submitit_local_stops_its_jobs_and_exits_130(tmp_path):
    args = ["-m", "seed=0,1", *TINY, *places(tmp_path), "hydra/launcher=slurm_local"]
    holds = Holds(tmp_path / "holds", "job-1")  # job #1 runs until it is stopped
    proc = start(*args, log=tmp_path / "sweep", env=holds.env)
    try:
        holds.wait("job-1", proc)
        wait_for(lambda: statuses(tmp_path / "sweep").get(0, {}).get("state") == "ran", what="job #0 done")
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        wait_for(lambda: not alive(proc.pid), timeout=20, what="the submitit jobs to exit")
    finally:
        stop_group(proc)
    err, out = (tmp_path / "sweep.err").read_text(), (tmp_path / "sweep.out").read_text()
    assert "Traceback" not in err + out
    assert err.splitlines()[-1] == "pruning-lab: interrupted; finished results are kept, run the same command to resume"
    assert summary(out) == "2 jobs: ran 1, reused 0, interrupted 1"
    assert len(valid_results(tmp_path / "store")) == 1


@CLUSTER_PATH
def test_a_job_stored_but_unreported_when_the_cluster_sweep_stops_counts_as_reused(tmp_path):
    """As on the local launcher: its result is in the store, so the stopped sweep keeps it and a rerun reuses it."""
    args = ["-m", "seed=0,1", *TINY, *places(tmp_path), "hydra/launcher=slurm_local"]
    holds = Holds(tmp_path / "holds", "stored-0", "job-1")  # #0 stored, not yet reported; #1 running
    proc = start(*args, log=tmp_path / "sweep", env=holds.env)
    try:
        holds.wait("job-1", proc)
        holds.wait("stored-0", proc)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        wait_for(lambda: not alive(proc.pid), timeout=20, what="the submitit jobs to exit")
    finally:
        stop_group(proc)
    out = (tmp_path / "sweep.out").read_text()
    assert summary(out) == "2 jobs: ran 0, reused 1, interrupted 1"
    assert statuses(tmp_path / "sweep")[0]["state"] == "reused"
    assert len(valid_results(tmp_path / "store")) == 1
