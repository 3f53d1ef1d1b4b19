"""The cluster path: hydra-submitit-launcher presets, run here with submitit's local executor,
and SLURM job states read without accounting (the real SLURM is in test_slurm.py)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from .conftest import CONF, ROOT, TINY
from .helpers_cli import alive, command, places, start, statuses, stop_group, summary, valid_results, wait_for

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


def fake_slurm(bin_dir: Path, accounting: str, squeue: str, squeue_rc: int = 0) -> None:
    """``scontrol``, ``squeue`` and ``sacct`` stand-ins; ``sacct`` leaves a trace if called."""
    bin_dir.mkdir()
    scripts = {"scontrol": f"echo 'AccountingStorageType   = {accounting}'",
               "squeue": f"printf '{squeue}'; [ {squeue_rc} = 0 ] || echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit {squeue_rc}",
               "sacct": f"touch {bin_dir / 'sacct-called'}; echo 'JobID|State|NodeList'; echo '7_2|COMPLETED|n1'"}
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)


@pytest.mark.parametrize("accounting, squeue, squeue_rc, ended", [
    # no accounting: squeue's states; a task it has forgotten has ended too
    ("accounting_storage/none", "7_0|COMPLETED|n1\\n7_1|CANCELLED|n1\\n7_2|RUNNING|n1\\n", 0, {"7_0", "7_1", "8_0"}),
    ("accounting_storage/none", "", 1, {"7_0", "7_1", "7_2", "8_0"}),  # none of them known any more
    # with accounting, sacct answers as before (here: only 7_2 is listed, completed)
    ("accounting_storage/slurmdbd", "", 0, {"7_2"}),
])
def test_without_accounting_job_states_come_from_squeue(tmp_path, monkeypatch, accounting, squeue, squeue_rc, ended):
    from pruning_lab import slurm_queue

    fake_slurm(tmp_path / "bin", accounting, squeue, squeue_rc)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    slurm_queue.accounting.cache_clear()
    try:
        watcher = slurm_queue.QueueWatcher(delay_s=60)
        for job in ("7_0", "7_1", "7_2", "8_0"):
            watcher.register_job(job)
        watcher.update()
        assert {job for job in ("7_0", "7_1", "7_2", "8_0") if watcher.is_done(job, mode="cache")} == ended
        assert (tmp_path / "bin" / "sacct-called").exists() == (accounting != "accounting_storage/none")
    finally:
        slurm_queue.accounting.cache_clear()


def test_a_busy_controller_ends_no_job(tmp_path, monkeypatch):
    from pruning_lab import slurm_queue

    fake_slurm(tmp_path / "bin", "accounting_storage/none", "", 0)
    (tmp_path / "bin" / "squeue").write_text("#!/bin/sh\necho 'Socket timed out on send/recv operation' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    slurm_queue.accounting.cache_clear()
    try:
        watcher = slurm_queue.QueueWatcher(delay_s=60)
        watcher.register_job("7_0")
        watcher.update()
        assert not watcher.is_done("7_0", mode="cache")
    finally:
        slurm_queue.accounting.cache_clear()


@pytest.mark.parametrize("name, watched", [("slurm", True), ("slurm_local", False)])
def test_a_slurm_sweep_watches_its_jobs_through_squeue(monkeypatch, name, watched):
    from submitit.slurm import slurm

    from pruning_lab.hydra_callbacks import WatchSlurmQueue
    from pruning_lab.slurm_queue import QueueWatcher

    monkeypatch.setattr(slurm.SlurmJob, "watcher", slurm.SlurmInfoWatcher(delay_s=600))
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        config = compose("config", overrides=[f"hydra/launcher={name}"], return_hydra_config=True)
    assert "WatchSlurmQueue" in str(config.hydra.callbacks)
    WatchSlurmQueue().on_multirun_start(config)
    assert isinstance(slurm.SlurmJob.watcher, QueueWatcher) == watched


def test_ctrl_c_under_submitit_local_stops_its_jobs_and_exits_130(tmp_path):
    args = ["-m", "baseline.epochs=1,300", *(a for a in TINY if not a.startswith("baseline.epochs")),
            *places(tmp_path), "hydra/launcher=slurm_local"]
    proc = start(*args, log=tmp_path / "sweep")
    try:
        wait_for(lambda: statuses(tmp_path / "sweep").get(0, {}).get("state") == "ran"
                 and statuses(tmp_path / "sweep").get(1, {}).get("state") == "running", what="job #1 running")
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
