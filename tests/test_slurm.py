"""The cluster path on a real SLURM: a single-node cluster set up from nothing (``make test-slurm``).

Skipped with the reason where SLURM cannot be installed or started. The cluster keeps no
accounting, so these also check that the launcher follows its jobs without ``sacct``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pruning_lab.store import Store

from .conftest import compose_job
from .helpers_cli import ROOT, Holds, command, places, statuses, summary, valid_results, wait_for
from .helpers_slurm import Cluster, install

pytestmark = pytest.mark.slurm

# tiny jobs: a few seconds each on one core
SMALL = ["model.hidden=[32,32,16]", "baseline.epochs=3", "longitudinal.cycles=2",
         "data.train_size=1000", "data.test_size=400", "data.clean_size=200"]
SLURM = ["hydra/launcher=slurm", "hydra.launcher.partition=debug", "hydra.launcher.mem_gb=1"]
TREATMENTS = "treatment=ketamine,ssri,neurosteroid"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = install()
    if reason:
        pytest.skip(reason)
    cluster = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        reason = cluster.start()
        if reason:
            pytest.skip(reason)
        yield cluster
    finally:
        cluster.stop()


def sweep_command(tmp: Path, *args: str) -> list[str]:
    return command("-m", *SMALL, *args, *places(tmp), *SLURM)


def launch(cluster: Cluster, tmp: Path, *args: str, timeout: float = 600, env: dict | None = None
           ) -> subprocess.CompletedProcess:
    return subprocess.run(sweep_command(tmp, *args), cwd=ROOT, env=env or cluster.env, capture_output=True, text=True,
                          timeout=timeout)


def array_tasks(sweep_dir: Path) -> dict[int, str]:
    """SLURM id of each job of the sweep's latest submission: "12_1" for job #1 of array 12, or
    "13" for a lone job (submitit submits a single job as a plain job)."""
    names = [p.name for p in (sweep_dir / ".submitit").iterdir() if p.name.replace("_", "").isdigit()]
    latest = max(int(n.split("_")[0]) for n in names)
    ours = [n for n in names if n.split("_")[0] == str(latest)]
    if ours == [str(latest)]:
        return {0: ours[0]}
    return {int(n.split("_")[1]): n for n in ours if "_" in n}


def no_sacct_noise(done: subprocess.CompletedProcess) -> None:
    text = done.stdout + done.stderr
    assert "sacct" not in text and "accounting storage is disabled" not in text, text[-3000:]


def test_a_sweep_runs_as_an_array_and_a_rerun_reuses_it(cluster, tmp_path):
    first = launch(cluster, tmp_path, TREATMENTS, "seed=1")
    assert first.returncode == 0, first.stderr[-3000:]
    assert summary(first.stdout) == "3 jobs: ran 3, reused 0"
    no_sacct_noise(first)
    tasks = array_tasks(tmp_path / "sweep")
    assert sorted(tasks) == [0, 1, 2]  # one array task per job, each run by SLURM to the end
    # (a task ends a moment after it hands its result back)
    wait_for(lambda: {cluster.jobs()[t] for t in tasks.values()} == {"COMPLETED"}, 60, "the tasks to complete")
    stored = valid_results(tmp_path / "store")
    assert len(stored) == 3

    # a job run by SLURM stores the very numbers it stores when run here
    job = compose_job("treatment=ketamine", "seed=1", *SMALL)
    here, reused = Store(tmp_path / "here").result_of(job)
    assert not reused and stored[job.hash]["metrics"] == here["metrics"]

    again = launch(cluster, tmp_path, TREATMENTS, "seed=1")
    assert again.returncode == 0, again.stderr[-3000:]
    assert summary(again.stdout) == "3 jobs: ran 0, reused 3"
    no_sacct_noise(again)
    assert valid_results(tmp_path / "store") == stored


def test_a_task_cancelled_past_the_grace_period_is_the_only_one_redone(cluster, tmp_path):
    sweep_dir = tmp_path / "sweep"
    holds = Holds(tmp_path / "holds", "job-1", base=cluster.env)  # job #1 never ends on its own
    proc = subprocess.Popen(sweep_command(tmp_path, TREATMENTS, "seed=2"), cwd=ROOT, env=holds.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        holds.wait("job-1", proc, timeout=300)
        assert statuses(sweep_dir)[1]["state"] == "running"
        victim = array_tasks(sweep_dir)[1]
        # the job ignores SLURM's SIGTERM (submitit logs and bypasses it): SIGKILL ends it KillWait later
        cluster.run("scancel", victim)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert cluster.jobs()[victim] == "CANCELLED"
    logs = sweep_dir / ".submitit" / victim
    assert "Bypassing signal SIGTERM" in (logs / f"{victim}_0_log.err").read_text()
    assert not (logs / f"{victim}_0_result.pkl").exists()  # SIGKILLed: it never handed a result back
    assert proc.returncode == 1, err[-3000:]
    assert summary(out) == "3 jobs: ran 2, reused 0, failed 1", out[-3000:]
    assert "failed: #1 treatment=ssri: ended without a result (state CANCELLED)" in err
    stored = valid_results(tmp_path / "store")
    cancelled = compose_job("treatment=ssri", "seed=2", *SMALL).hash
    assert len(stored) == 2 and cancelled not in stored

    again = launch(cluster, tmp_path, TREATMENTS, "seed=2")
    assert again.returncode == 0, again.stderr[-3000:]
    assert summary(again.stdout) == "3 jobs: ran 1, reused 2"
    after = valid_results(tmp_path / "store")
    assert set(after) == set(stored) | {cancelled}
    assert all(after[h] == stored[h] for h in stored)


def test_a_task_past_its_time_limit_is_requeued_once(cluster, tmp_path):
    # SLURM signals a task signal_delay_s before its limit, up to 30 s earlier still (here 15 to
    # 45 s after it starts, once it has set up submitit's handler); submitit requeues it
    # max_num_timeout (1) times. The job never ends on its own: it is held, each time it runs.
    holds = Holds(tmp_path / "holds", "job-0", base=cluster.env)
    done = launch(cluster, tmp_path, "hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=15", "seed=3",
                  env=holds.env)
    assert holds.held("job-0")  # it was held, not slow
    assert done.returncode == 1, done.stderr[-3000:]
    assert summary(done.stdout) == "1 jobs: ran 0, reused 0, failed 1"
    assert "timed-out too many times" in done.stderr
    task = array_tasks(tmp_path / "sweep")[0]
    assert cluster.restarts(task) == 1
    logs = tmp_path / "sweep" / ".submitit" / task
    err, out = ((logs / f"{task}_0_log.{kind}").read_text() for kind in ("err", "out"))
    # submitit's stderr handler shows each warning once: one signal per run, two runs
    assert err.count("Caught signal SIGUSR2") == 2 and "Requeued job" in out
    assert valid_results(tmp_path / "store") == {}
