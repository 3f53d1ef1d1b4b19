"""The regimen search: it finds a known optimum through real jobs, pairs its seeds, keeps its
held-out seeds apart, writes regimens that run, resumes a killed search losing and repeating no
trial, and refuses bad input in one line before any job runs."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

import pruning_lab

from .conftest import ROOT
from .helpers_cli import Holds, alive, assert_refused_before_any_job, cli, command, start, stop_group, wait_for

# a tiny network: a ketamine-like job in about half a second once its worker is up
SMALL = ["treatment=ketamine", "longitudinal=none", "baseline.epochs=2", "model.hidden=[32,32]", "data.train_size=500",
         "data.test_size=200", "data.clean_size=100", "treatment.epochs=1", "onset.every=0"]


def search(tmp, *args: str) -> list[str]:
    return ["-m", "hydra/sweeper=search", *SMALL, f"paths.store={tmp / 'store'}", f"hydra.sweep.dir={tmp / 'study'}",
            "hydra.launcher.n_jobs=1", *args]


def ledger(study) -> dict[int, dict]:
    rows = {}
    for line in (study / "trials.jsonl").read_text().splitlines():
        t = json.loads(line)
        rows[t["trial"]] = t
    return rows


@pytest.mark.e2e
def test_a_search_finds_the_known_optimum_and_its_regimen_runs_as_found(tmp_path):
    """Less regrowth leaves more synapses pruned: treated.sparsity is highest at the smallest
    fraction the space allows (0.1), about 95% x (1 - 0.1)."""
    done = cli(*search(tmp_path, "treatment.fraction=interval(0.1,0.9)", "hydra.sweeper.search.objectives={treated.sparsity: maximize}",
                       "hydra.sweeper.search.trials=16", "hydra.sweeper.search.seeds=[0]", "hydra.sweeper.search.heldout.seeds=[7,8]",
                       "hydra.sweeper.search.heldout.best=1"), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    study = tmp_path / "study"
    rec = json.loads((study / "search.json").read_text())
    (best,) = rec["chosen"]
    fraction, sparsity = best["params"]["treatment.fraction"], best["values"][0]
    assert fraction < 0.2 and abs(sparsity - 95 * (1 - fraction)) < 0.3, best
    trials = ledger(study)
    assert len(trials) == 16 and all(t["seeds"] == [0] for t in trials.values())  # paired: the same seed each
    # the seeds of every job, read back from its result: the search's seed, then the held-out ones only
    seeds = {json.loads(p.read_text())["seed"] for p in (study / "trials").glob("*/result.json")}
    held = {json.loads(p.read_text())["seed"] for p in (study / "heldout").glob("*/result.json")}
    assert seeds == {0} and held == {7, 8}
    # the written regimen is the trial's, in the search's setting: the command its file suggests,
    # on the trial's seed, gives the trial's value (the network, the baseline, no course: as searched)
    command = Path(best["treatment"]).read_text().splitlines()[1].lstrip("# ")
    assert command.startswith("python -m pruning_lab.run -m ") and "longitudinal=none" in command, command
    overrides = [a for a in shlex.split(command)[4:] if not a.startswith("seed=")]
    rerun = pruning_lab.simulate([*overrides, "seed=0"])
    assert rerun["metrics"]["treated"]["sparsity"] == best["values"][0]
    assert rerun["config"]["model"]["hidden"] == [32, 32] and rerun["config"]["baseline"]["epochs"] == 2
    # the report names the front's trials, has its HTML twin, and Optuna's study its objectives' names
    from pruning_lab.aggregate import main as aggregate

    assert aggregate([str(study)]) == 0
    report = (study / "report.md").read_text()
    assert f"chosen for the held-out seeds: trial {best['trial']}" in report and (study / "report.html").is_file()
    import optuna

    assert optuna.load_study(study_name="search", storage=f"sqlite:///{study / 'study.db'}").metric_names == \
        ["treated.sparsity"]


@pytest.mark.e2e
def test_a_killed_search_resumes_without_losing_or_repeating_a_trial(tmp_path):
    args = search(tmp_path, "treatment.fraction=interval(0.1,0.9)", "hydra.sweeper.search.objectives={treated.combined: maximize}",
                  "hydra.sweeper.search.trials=6", "hydra.sweeper.search.seeds=[0,1]", "hydra.sweeper.search.batch=2")
    study = tmp_path / "study"
    # the second batch's jobs (trials 2 and 3, two seeds each) never end: the kill finds the search
    # with two trials told and two asked
    holds = Holds(tmp_path / "holds", *(f"job-{n}" for n in range(4, 8)))
    proc = start(*args, log=tmp_path / "first", env=holds.env)
    try:
        holds.wait("job-4", proc, timeout=300)
        assert sorted(ledger(study)) == [0, 1]
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its workers, as a lost node
        proc.wait()
        wait_for(lambda: not alive(proc.pid), timeout=20, what="the workers to go")
    finally:
        stop_group(proc)
        # the resource trackers died with the group: the launcher's semaphores are the test's to unlink
        for semaphore in Path("/dev/shm").glob(f"sem.loky-{proc.pid}-*"):
            semaphore.unlink()
    before = ledger(study)
    again = cli(*args, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    with sqlite3.connect(study / "study.db") as db:
        states = db.execute("select number, state from trials order by number").fetchall()
    assert states == [(n, "COMPLETE") for n in range(6)]  # six trials, each told once
    after = ledger(study)
    assert sorted(after) == list(range(6))
    for n, t in before.items():  # what was told before the kill stands
        assert after[n]["params"] == t["params"] and after[n]["values"] == t["values"]


@pytest.mark.parametrize("args, expected", [
    (["treatment.fractoin=interval(0.1,0.9)", "hydra.sweeper.search.objectives={treated.combined: maximize}"],
     "treatment.fractoin is not a config key; did you mean treatment.fraction?"),
    (["treatment.fraction=interval(0.1,0.9)", "hydra.sweeper.search.objectives={treated.combnied: maximize}"],
     "objective 'treated.combnied' is not a metric of these jobs"),
    (["treatment.fraction=interval(0.9,0.1)", "hydra.sweeper.search.objectives={treated.combined: maximize}"],
     "interval() bounds must rise, got 0.9 then 0.1"),
    (["treatment.fraction=interval(0.5,1.5)", "hydra.sweeper.search.objectives={treated.combined: maximize}"],
     "treatment.fraction must be less than or equal to 1, got 1.5"),
    (["treatment.fraction=interval(0.1,0.9)", "hydra.sweeper.search.objectives={treated.combined: up}"],
     "hydra.sweeper.search.objectives.treated.combined must be 'maximize' or 'minimize', got 'up'"),
    (["treatment.fraction=interval(0.1,0.9)"], "hydra.sweeper.search.objectives must be a mapping, got None"),
    (["treatment.fraction=interval(0.1,0.9)", "hydra.sweeper.search.objectives={treated.combined: maximize}",
      "hydra.sweeper.search.trials=0"], "hydra.sweeper.search.trials must be greater than or equal to 1, got 0"),
    (["treatment.fraction=interval(0.1,0.9)", "hydra.sweeper.search.objectives={treated.combined: maximize}",
      "hydra.sweeper.search.sampler=grid"], "hydra.sweeper.search.sampler must be 'tpe', 'nsga2' or 'random', got 'grid'"),
    (["treatment.fraction=interval(0.1,0.9)", "hydra.sweeper.search.objectives={treated.combined: maximize}",
      "hydra.sweeper.search.heldout.seeds=[1,5]"], "held-out seeds must be seeds the search never sees; shared: [1]"),
    (["hydra.sweeper.search.objectives={treated.combined: maximize}"], "a search needs a space"),
])
def test_bad_search_input_is_refused_in_one_line_before_any_job(tmp_path, args, expected):
    done = cli(*search(tmp_path, *args), cwd=tmp_path, timeout=120)
    assert_refused_before_any_job(done, expected, tmp_path)


@pytest.mark.e2e
def test_a_search_whose_every_trial_fails_ends_with_a_summary(tmp_path):
    """A ketamine-like network is never modulated: it has no off-drug score to steer by."""
    done = cli(*search(tmp_path, "treatment.fraction=interval(0.1,0.9)", "hydra.sweeper.search.objectives={off_drug.combined: maximize}",
                       "hydra.sweeper.search.trials=2", "hydra.sweeper.search.seeds=[0]"), timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout
    assert "search: no trial completed (2 asked, 2 failed)" in done.stdout
