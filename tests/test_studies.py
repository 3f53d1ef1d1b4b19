"""The shipped studies (conf/experiment/severity.yaml, onset.yaml, paper2_extended.yaml): their grids, and
the 99% edge."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from omegaconf import OmegaConf

from pruning_lab.launch.overrides import expand
from pruning_lab.sim.protocol import run

from .conftest import CONF, TINY, compose_job


def grid(preset: str) -> tuple[str, list[dict[str, str]]]:
    """The preset's sweep directory and every job's overrides, expanded as Hydra's sweeper does."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"experiment={preset}"], return_hydra_config=True)
        params = OmegaConf.to_container(cfg.hydra.sweeper.params)
        jobs = [dict(o.split("=", 1) for o in job) for job in expand([], params)]
        return cfg.hydra.sweep.dir, jobs


def test_the_severity_study_is_nine_severities_by_three_treatments_by_ten_seeds():
    sweep_dir, jobs = grid("severity")
    assert sweep_dir == "outputs/severity/sweep"
    cells = {(j["treatment"], float(j["pathology.sparsity"]), int(j["seed"])) for j in jobs}
    sparsities = sorted({s for _, s, _ in cells})
    assert len(jobs) == len(cells) == 3 * 9 * 10
    assert sparsities == [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99]
    assert {t for t, _, _ in cells} == {"ketamine", "ssri", "neurosteroid"}
    assert {s for _, _, s in cells} == set(range(10))
    job = compose_job("experiment=severity", "treatment=ssri", "pathology.sparsity=0.99", "seed=4")
    assert (job.pathology.sparsity, job.seed, job.data.seed) == (0.99, 4, 4)
    assert job.longitudinal.cycles == 0 and job.onset.response == 80.0 and job.onset.every == 5


def test_the_onset_study_is_five_treatments_by_ten_seeds_scored_every_epoch():
    sweep_dir, jobs = grid("onset")
    assert sweep_dir == "outputs/onset/sweep"
    assert len(jobs) == 50 and {int(j["seed"]) for j in jobs} == set(range(10))
    assert {j["treatment"] for j in jobs} == {"ketamine", "ssri", "neurosteroid", "random_regrowth",
                                              "neurosteroid_bridge_ssri"}
    job = compose_job("experiment=onset", "treatment=neurosteroid_bridge_ssri", "seed=2")
    assert job.onset.every == 1 and job.onset.response == 80.0
    assert job.longitudinal.cycles == 8 and job.pathology.sparsity == 0.95  # paper 2's protocol


@pytest.mark.parametrize("preset, sweeper", [("paper2", "GridSweeper"), ("severity", "GridSweeper"),
                                             ("search_regrowth", "SearchSweeper"), ("morris", "SensitivitySweeper"),
                                             ("sobol", "SensitivitySweeper")])
def test_each_preset_chooses_its_sweeper_as_a_config_group_option(preset, sweeper):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"experiment={preset}"], return_hydra_config=True)
    assert cfg.hydra.sweeper._target_ == f"hydra_plugins.pruning_lab_launcher.plugins.{sweeper}"
    assert "study" not in cfg.hydra.sweeper  # the kind is the group option, not a key


def test_the_extended_study_is_paper_2_on_forty_seeds_whose_first_ten_are_paper_2s_jobs():
    sweep_dir, jobs = grid("paper2_extended")
    _, paper2 = grid("paper2")
    assert sweep_dir == "outputs/paper2_extended/sweep"
    assert len(jobs) == 120 and {int(j["seed"]) for j in jobs} == set(range(40))
    # the same treatments in the same order, seed varying fastest: paper 2's jobs, then 30 seeds more
    assert [j for j in jobs if int(j["seed"]) < 10] == paper2
    for j in paper2[::7]:  # a job's hash is its result's key in the store: paper 2's own results
        args = [f"treatment={j['treatment']}", f"seed={j['seed']}"]
        assert compose_job("experiment=paper2_extended", *args).hash == compose_job("experiment=paper2", *args).hash


@pytest.mark.parametrize("treatment", ["ketamine", "ssri", "neurosteroid"])
def test_every_treatment_runs_at_the_severest_pathology(treatment):
    job = compose_job(*TINY, "model.hidden=[64,64]", f"treatment={treatment}", "pathology.sparsity=0.99",
                      "longitudinal=none")
    m = run(job)["metrics"]
    relapse = m["relapse"]
    if treatment == "ketamine":  # regrown to about half the pathology: the relapse prunes
        assert m["treated"]["sparsity"] < 60 and relapse["sparsity_after"] > relapse["sparsity_before"]
    else:  # at the relapse cap already: the relapse prunes nothing, its drop is 0 by construction
        assert relapse["target"] == pytest.approx(99.0)
        assert relapse["sparsity_after"] == relapse["sparsity_before"] and relapse["drop"] == 0.0
    assert m["onset"]["combined"][-1] == m["treated"]["combined"]
