"""The cluster path: hydra-submitit-launcher presets, run here with submitit's local executor."""

from __future__ import annotations

import subprocess

from hydra import compose, initialize_config_dir

from .conftest import CONF, ROOT, TINY
from .helpers_cli import command, places, summary, valid_results

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
