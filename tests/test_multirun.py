"""Real runs: the protocol end to end, the CLI multirun, and the reproducibility contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pruning_lab.config import SCHEMA
from pruning_lab.sim.protocol import run
from pruning_lab.store import BaselineCache, read_json

from .conftest import ROOT, TINY, tiny_job
from .helpers_cli import cli


def sweep(tmp: Path, name: str, *extra: str) -> dict[tuple[str, int], dict]:
    """Run a 2 x 2 multirun into its own store; return the job-dir JSONs by (treatment, seed)."""
    proc = cli("-m", "treatment=ketamine,neurosteroid", "seed=0,1", *TINY,
               f"paths.store={tmp / name / 'store'}", f"hydra.sweep.dir={tmp / name / 'sweep'}", *extra,
               cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {}
    for path in sorted((tmp / name / "sweep").glob("*/result.json")):
        r = read_json(path)  # raises Corrupt on a damaged file
        results[(r["treatment"], r["seed"])] = r
    return results


def test_protocol_end_to_end_on_a_tiny_job():
    result = run(tiny_job("treatment=neurosteroid", "longitudinal.cycles=2"))
    m = result["metrics"]
    assert result["schema"] == SCHEMA and result["treatment"] == "neurosteroid"
    assert m["healthy"]["sparsity"] == 0.0 and m["healthy"]["clean"] >= m["untreated"]["clean"]
    assert m["untreated"]["sparsity"] == pytest.approx(95.0, abs=0.2)
    assert m["treated"]["sparsity"] == m["untreated"]["sparsity"]  # the mask is unchanged
    assert m["off_drug"] is not None and set(m["off_drug"]["profile"]) == {"0", "0.5", "1", "1.5", "2.5"}
    assert m["relapse"]["combined_before"] == m["treated"]["combined"]  # same noise draws
    assert m["relapse"]["sparsity_before"] == m["treated"]["sparsity"] < m["relapse"]["sparsity_after"]
    course = m["longitudinal"]
    assert len(course["combined"]) == 3 and course["combined"][0] == m["treated"]["combined"]
    assert course["sparsity"][0] == m["treated"]["sparsity"] < course["sparsity"][1] < course["sparsity"][2]
    assert all(k.startswith(("baseline", "evaluate", "onset", "treatment/", "relapse", "longitudinal", "maintenance/"))
               for k in result["timings"])
    assert json.loads(json.dumps(result)) == result  # JSON-ready as it is


def test_a_job_pins_torch_to_one_thread():
    # whatever thread count the launcher left, so a job's numbers never depend on how it was launched
    torch.set_num_threads(2)
    run(tiny_job("treatment=ketamine", "longitudinal.cycles=0"))
    assert torch.get_num_threads() == 1


def test_ketamine_has_no_off_drug_and_regrows():
    m = run(tiny_job("treatment=ketamine", "longitudinal.cycles=0"))["metrics"]
    assert m["off_drug"] is None and m["longitudinal"] is None
    assert m["treated"]["sparsity"] == pytest.approx(47.5, abs=0.2)


def test_cached_and_freshly_trained_baselines_give_identical_metrics(tmp_path):
    job = tiny_job("treatment=ssri", "treatment.epochs=2")
    fresh = run(job)
    trained = run(job, BaselineCache(tmp_path).get_or_create)
    cached = run(job, BaselineCache(tmp_path).get_or_create)
    assert not fresh["baseline"]["cache_hit"] and not trained["baseline"]["cache_hit"]
    assert cached["baseline"]["cache_hit"]
    assert fresh["metrics"] == trained["metrics"] == cached["metrics"]
    # another seed's baseline is its own, never the one already stored
    other = run(tiny_job("treatment=ssri", "treatment.epochs=2", "seed=1"), BaselineCache(tmp_path).get_or_create)
    assert not other["baseline"]["cache_hit"] and other["baseline"]["key"] != cached["baseline"]["key"]


@pytest.mark.e2e
def test_multirun_writes_one_valid_json_per_job_and_workers_do_not_change_numbers(tmp_path):
    two = sweep(tmp_path, "two", "hydra.launcher.n_jobs=2")
    assert set(two) == {(t, s) for t in ("ketamine", "neurosteroid") for s in (0, 1)}
    for (treatment, seed), got in two.items():  # each as this process computes it alone
        alone = run(tiny_job(f"treatment={treatment}", f"seed={seed}"))
        assert got["metrics"] == alone["metrics"], (treatment, seed)
        assert got["config_hash"] == alone["config_hash"]
    # the store holds the same four results, and each seed's baseline was trained once
    assert len(list((tmp_path / "two" / "store" / "results").glob("*.json"))) == 4
    assert len(list((tmp_path / "two" / "store" / "baselines").glob("*.pt"))) == 2
    # seeds differ, treatments of one seed share their untreated state
    assert two[("ketamine", 0)]["metrics"]["untreated"] == two[("neurosteroid", 0)]["metrics"]["untreated"]
    assert two[("ketamine", 0)]["metrics"]["untreated"] != two[("ketamine", 1)]["metrics"]["untreated"]


@pytest.mark.parametrize("sweep_args", [
    ["treatment=ketamine,ssri", "seed=range(3)", "pathology.sparsity=0.9,0.95", "model.hidden=[8]"],
    ["experiment=paper2", "seed=range(2)", "hydra.sweep.subdir=${hydra.job.override_dirname}"],
    ["treatment=glob(*)", "seed=3,4", "model.hidden=[4]", "data.centres=[[0,0],[1,1]]", "model.classes=2",
     "data.seed=${seed}", "treatment.label=${oc.select:treatment.name,x}-s${seed}"],
])
def test_each_planned_job_is_exactly_the_config_hydra_composes_for_it(sweep_args):
    """Jobs derived from their combination's config equal Hydra's own composition of each job."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode
    from omegaconf import OmegaConf, open_dict

    from pruning_lab.config import Job
    from pruning_lab.launch.overrides import expand
    from pruning_lab.launch.plan import Planner

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration("config", overrides=sweep_args, run_mode=RunMode.MULTIRUN)
        planner = Planner(master, loader, "token")
        arguments = OmegaConf.to_container(master.hydra.overrides.task)
        jobs = [planner.plan(n, o) for n, o in enumerate(expand(arguments, master.hydra.sweeper.params, loader))]
        assert len(planner.combinations) < len(jobs)  # some jobs were derived, not composed
        for j in jobs:
            full = loader.load_sweep_config(master, list(j.overrides))
            with open_dict(full):
                full.hydra.job.num, full.hydra.job.id = j.num, f"{full.hydra.job.name}_{j.num}"
            assert j.job == Job.from_config(full), j.overrides
            assert j.hash == Job.from_config(full).hash
            assert str(j.dir) == f"{full.hydra.sweep.dir}/{full.hydra.sweep.subdir}"


@pytest.mark.e2e
def test_hydras_sweep_syntax_runs_through_the_cli(tmp_path):
    """glob() over a group's options, range() and choice() of values; each job as Hydra expands it."""
    from .helpers_cli import TRIVIAL, places, summary

    args = ["-m", *TRIVIAL, "treatment=glob([keta*,none],exclude=*_fast)", "seed=range(1,3)",
            "data.spread=choice(0.5,0.6)"]
    proc = cli(*args, *places(tmp_path), "hydra.launcher.n_jobs=1", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert summary(proc.stdout) == "8 jobs: ran 8, reused 0"
    ran = {(r["treatment"], r["seed"], r["config"]["data"]["spread"])
           for r in (json.loads(p.read_text()) for p in (tmp_path / "sweep").glob("*/result.json"))}
    assert ran == {(t, s, d) for t in ("ketamine", "none") for s in (1, 2) for d in (0.5, 0.6)}


@pytest.mark.e2e
def test_a_second_sweep_into_a_busy_sweep_dir_is_refused_and_the_first_reports_its_own_jobs(tmp_path):
    from .helpers_cli import TRIVIAL, Holds, places, start, stop_group, summary

    args = ["-m", *TRIVIAL, "seed=range(4)", *places(tmp_path), "hydra.launcher.n_jobs=1"]
    holds = Holds(tmp_path / "holds", "job-0")  # the first sweep runs until the second has been refused
    first = start(*args, log=tmp_path / "first", env=holds.env)
    try:
        holds.wait("job-0", first)
        second = cli(*args, cwd=ROOT)
        holds.release("job-0")
        assert first.wait(timeout=120) == 0
    finally:
        stop_group(first)
    assert second.returncode == 2 and second.stdout == ""
    assert second.stderr == (f"pruning-lab: error: another sweep is running in {tmp_path / 'sweep'}; wait for it "
                             f"to end or give this one its own hydra.sweep.dir\n")
    assert summary((tmp_path / "first.out").read_text()) == "4 jobs: ran 4, reused 0"
    again = cli(*args, cwd=ROOT)  # the directory is free again
    assert again.returncode == 0 and summary(again.stdout) == "4 jobs: ran 0, reused 4"


@pytest.mark.e2e
def test_jobs_run_the_config_validated_at_launch_not_conf_as_it_is_later(tmp_path):
    """conf/ is read once: a job that starts after conf/ changed still runs the launch-time config."""
    import shutil

    from .helpers_cli import TRIVIAL, Holds, places, start, stop_group, summary

    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    args = ["-m", *TRIVIAL, "seed=range(3)", *places(tmp_path), "hydra.launcher.n_jobs=1", f"--config-dir={conf}"]
    holds = Holds(tmp_path / "holds", "job-0")  # jobs #1 and #2 start after the edit
    proc = start(*args, log=tmp_path / "sweep", env=holds.env)
    try:
        holds.wait("job-0", proc)
        none = conf / "treatment" / "none.yaml"
        none.write_text(none.read_text().replace("name: none", "name: edited"))
        holds.release("job-0")
        assert proc.wait(timeout=120) == 0, (tmp_path / "sweep.err").read_text()[-3000:]
    finally:
        stop_group(proc)
    assert summary((tmp_path / "sweep.out").read_text()) == "3 jobs: ran 3, reused 0"
    names = {json.loads(p.read_text())["treatment"] for p in (tmp_path / "sweep").glob("*/result.json")}
    assert names == {"none"}
