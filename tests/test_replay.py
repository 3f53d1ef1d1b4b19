"""rng=notebook: the published notebook's draws in its order, and what equality with its numbers needs.

The reduced protocol's reference values come from running the published code itself
(tests/replay_reduced.json says how); the draw facts are checked against torch's own
DataLoader and generator, the refusals against the config, the verdict against NumPy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from pruning_lab import numerics, verify
from pruning_lab.analysis import replay
from pruning_lab.config import NOTEBOOK_ARMS, ConfigError, job_hash
from pruning_lab.sim.notebook import NotebookDraws, Tally, int64
from pruning_lab.sim.protocol import baseline_config
from pruning_lab.sim.data import Split
from pruning_lab.tree import leaves

from .conftest import compose_job

REFERENCE = json.loads(Path(__file__).with_name("replay_reduced.json").read_text())["values"]
# the reduced protocol of replay_reduced.json, in our keys; the published code's arms as published
REDUCED = ["rng=notebook", "seed=0", "data.train_size=1920", "data.batch_size=64", "data.test_size=2400",
           "data.clean_size=1200", "model.hidden=[64,64,32]", "baseline.epochs=8", "pathology.sparsity=0.8",
           "longitudinal.cycles=2"]
OWN = {"ssri": ["treatment.lr=1e-4"]}  # its monoaminergic_lr: a value that draws nothing


# the reference's settings, under which torch's own products and kernels round alike on every
# x86-64 CPU with AVX2 (MKL's other branches round the products otherwise); numba at the
# portable target, whose compiled code is cached already
SETTINGS = {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "avx2", "NUMBA_CPU_NAME": "haswell",
            "NUMBA_CPU_FEATURES": ""}


def replayed(*overrides: str) -> dict:
    """protocol.run of ``overrides`` in a fresh process under SETTINGS, as a stored result reads back."""
    code = ("import json, sys; import pruning_lab; from tests.conftest import compose_job; "
            "from pruning_lab.sim.protocol import run; print(json.dumps(run(compose_job(*sys.argv[1:]))))")
    fresh = {k: v for k, v in os.environ.items() if k not in (*numerics.PINS, numerics.PINNED_ENV, numerics.MODE_ENV)}
    out = subprocess.run([sys.executable, "-c", code, *overrides], env={**fresh, **SETTINGS}, check=True,
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.e2e  # three jobs in processes of their own: about 35 s of CPU
@pytest.mark.parametrize("arm", sorted(REFERENCE))
def test_a_reduced_protocol_replays_the_published_code_value_for_value(arm):
    result = replayed(*REDUCED, f"treatment={arm}", *OWN.get(arm, []))
    assert result["environment"]["isa"]["mkl"] == "COMPATIBLE" and result["environment"]["isa"]["aten"] == "AVX2"
    ours = dict(leaves(result["metrics"]))
    assert {k: ours[k] for k in REFERENCE[arm]} == REFERENCE[arm]


# -- the draws ---------------------------------------------------------------------------------


def test_an_epoch_is_the_data_loaders_with_the_global_generator():
    """Two draws per epoch (the iterator's seed, the sampler's), the order from the second."""
    data = Split(torch.arange(1000.0).view(-1, 2), torch.arange(500))
    torch.manual_seed(7)
    loader = DataLoader(TensorDataset(data.x, data.y), batch_size=64, shuffle=True)
    theirs = [torch.cat([y for _, y in loader]) for _ in range(3)]
    draws = NotebookDraws(torch.Generator().manual_seed(7))
    ours = [draws.order(len(data)) for _ in range(3)]
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    assert torch.equal(draws.generator.get_state(), torch.default_generator.get_state())


def test_a_scoring_pass_is_the_data_loaders_batches_after_one_draw():
    data = Split(torch.randn(2400, 2), torch.arange(2400))
    torch.manual_seed(3)
    loader = DataLoader(TensorDataset(data.x, data.y), batch_size=1000)
    theirs = [(x, y, torch.randn_like(x)) for x, y in loader]
    draws = NotebookDraws(torch.Generator().manual_seed(3))
    ours = [(x, y, draws.normal(x.shape)) for x, y in draws.passes(data)]
    assert [len(y) for _, y, _ in ours] == [1000, 1000, 400]
    assert all(torch.equal(a, b) for o, t in zip(ours, theirs) for a, b in zip(o, t))
    assert torch.equal(draws.generator.get_state(), torch.default_generator.get_state())


@pytest.mark.parametrize("n", [1, 5, 15, 16, 17, 486, 2000, 65536, 65537, 1_000_003])
def test_a_skip_by_count_leaves_the_generator_where_the_draws_would(n):
    real, skipped = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    for g in (real, skipped):
        torch.randn(3, generator=g)  # leaves a spare normal in the generator, which must carry over
    torch.empty(10).uniform_(generator=real)
    int64(real)
    torch.randn(n, generator=real)
    torch.randn(1, generator=real)
    tally = Tally()
    tally.uniform(10)
    tally.int64()
    tally.normal(n)
    tally.normal(1)
    tally.skip(skipped)
    assert torch.equal(real.get_state(), skipped.get_state())
    assert torch.equal(torch.randn(100, generator=real), torch.randn(100, generator=skipped))


# -- the config --------------------------------------------------------------------------------


def test_the_published_arms_are_the_shipped_treatments():
    for name, arm in NOTEBOOK_ARMS.items():
        shipped = compose_job(f"treatment={name}").treatment
        assert (shipped.phases, shipped.maintenance) == (arm.phases, arm.maintenance)


def test_named_streams_leave_the_job_hash_and_baseline_key_as_they_were():
    named, notebook = compose_job(), compose_job("rng=notebook")
    config = named.to_dict()
    assert config["rng"] == "named"
    assert named.hash == job_hash({k: v for k, v in config.items() if k != "rng"})  # as before the key
    assert "rng" not in baseline_config(named) and baseline_config(notebook)["rng"] == "notebook"
    assert notebook.hash != compose_job("rng=notebook", "treatment.lr=1e-3").hash


@pytest.mark.parametrize("overrides, says", [
    (["numerics=portable"], "it needs numerics=native engine=dense"),
    (["engine=auto"], "it needs numerics=native engine=dense"),
    (["treatment=none"], "treatment must be one of its arms ketamine, ssri, neurosteroid, got 'none'"),
    (["treatment=random_regrowth"], "got 'random_regrowth'"),
    (["treatment=ssri", "treatment.epochs=50"], "treatment ssri must draw as its arm there"),
    (["treatment=ssri", "treatment.noise_end=0.1"], "treatment ssri must draw as its arm there"),
    (["treatment=ketamine", "treatment.fraction=0.4"], "treatment ketamine must draw as its arm there"),
    (["onset.every=5"], "it scores no time course: set onset.every=0"),
    (["pathology.scope=global"], "it prunes per layer"),
    (["model.hidden=[64,64]"], "its network has three hidden layers"),
    (["data.train_size=2560"], "its regrowth scores 30 batches of one epoch, which holds 20 here"),
])
def test_what_the_published_code_cannot_follow_is_refused_in_one_line(overrides, says):
    with pytest.raises(ConfigError) as e:
        compose_job("rng=notebook", *overrides)
    assert str(e.value).startswith("rng=notebook replays the published notebook: ") and says in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("overrides", [["treatment=ssri", "treatment.lr=2e-5", "treatment.noise_start=0.7"],
                                       ["treatment=neurosteroid", "treatment.damping=0.5", "treatment.activation=relu"],
                                       ["treatment=ketamine", "treatment.init_std=0.1", "longitudinal.cycles=3"]])
def test_values_that_draw_nothing_may_change(overrides):
    assert compose_job("rng=notebook", *overrides).rng == "notebook"


# -- the verdict -------------------------------------------------------------------------------


def _frame(rows):
    return pd.DataFrame(rows, columns=["arm", "section", "metric", "x", "seed", "value"])


def test_the_verdict_prints_as_numpy_printed_and_compares_as_text():
    values = [97.25, 97.3, 97.35, 97.2, 97.15, 97.4, 97.3, 97.25, 97.3, 97.2]
    frame = _frame([("ketamine", "treated", "combined", np.nan, s, v) for s, v in enumerate(values)])
    mean, sd = np.mean(values), np.std(values)
    pub = pd.DataFrame([{"table": "Table 1", "row": "Ketamine-like", "column": "Combined", "arm": "ketamine",
                         "section": "treated", "metric": "combined", "x": np.nan, "stat": "mean",
                         "value": round(mean, 1), "sd": round(sd + 0.1, 1)}])
    comp = replay.compare(frame, pub)
    assert comp[["stat", "published", "ours", "equal"]].values.tolist() == [
        ["mean", f"{mean:.1f}", f"{mean:.1f}", True], ["sd", f"{sd + 0.1:.1f}", f"{sd:.1f}", False]]
    assert replay.verdict(comp, 2) == "1 of 2 printed values equal paper 2's"


def test_a_course_is_reduced_along_the_seeds_axis_and_relapses_are_counted():
    rows = [("ssri", "longitudinal", "combined", float(c), s, 80.0 + s + 0.1 * c) for s in range(3) for c in range(2)]
    rows += [("ssri", "longitudinal", "relapsed", 1.0, s, float(s == 0)) for s in range(3)]
    rows += [("ssri", "longitudinal", "relapse_cycle", 1.0, 0, 0.0)]
    frame = _frame(rows)
    course = np.array([[80.0 + s + 0.1 * c for c in range(2)] for s in range(3)])

    def row(metric, x, stat):
        return {"arm": "ssri", "section": "longitudinal", "metric": metric, "x": x, "stat": stat}
    assert replay.statistic(frame, row("combined", 1.0, "mean")) == (f"{np.mean(course, axis=0)[1]:.1f}",
                                                                      f"{np.std(course, axis=0)[1]:.1f}")
    assert replay.statistic(frame, row("combined", 1.0, "max")) == ("82.1", None)
    assert replay.statistic(frame, row("relapsed", 1.0, "n_true")) == ("1", None)
    assert replay.statistic(frame, row("relapsed", 1.0, "n_false")) == ("2", None)
    assert replay.statistic(frame, row("relapse_cycle", 1.0, "mean"))[0] == "0.0"


@pytest.mark.e2e
def test_a_replay_sweep_is_refused_or_run_and_reported_with_its_verdict(tmp_path):
    from .helpers_cli import assert_refused_before_any_job, cli, places

    refused = cli("-m", "experiment=replay_paper2", "engine=sparse", *places(tmp_path / "out"), cwd=tmp_path)
    assert_refused_before_any_job(refused, "rng=notebook replays the published notebook: it needs numerics=native "
                                           "engine=dense", tmp_path)
    # the arms as published (100 SSRI-like epochs), on tiny data: 30 batches an epoch, as regrowth scores
    small = ["seed=0", "data.train_size=480", "data.batch_size=16", "data.test_size=300", "data.clean_size=100",
             "model.hidden=[8,8,8]", "baseline.epochs=1", "longitudinal.cycles=1", "hydra.launcher.n_jobs=2"]
    done = cli("-m", "experiment=replay_paper2", *small, *places(tmp_path / "out"), cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    out = tmp_path / "report"
    subprocess.run([sys.executable, "-m", "pruning_lab.aggregate", str(tmp_path / "out" / "sweep"), "--out", str(out),
                    "--paper", "2", "--no-figures", "--quiet"], check=True, capture_output=True)
    published = pd.read_csv(Path(__file__).resolve().parents[1] / "experiments" / "paper2" / "published.csv")
    printed = len(published) + int(published["sd"].notna().sum())
    report = (out / "report.md").read_text()
    assert f" of {printed} printed values equal paper 2's.**" in report
    assert report.index("## Replay verdict") < report.index("## Reproduction verdict")
    assert len(pd.read_csv(out / "replay.csv")) == printed
