"""Global sensitivity: SALib's indices come out right through the project's sampling and analysis,
the seed is held common exactly where an effect is a difference, and a study runs as jobs."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from pruning_lab.studies.sensitivity.sweeper import analyze, problem, sample, values
from pruning_lab.studies.space import Knob

from .helpers_cli import assert_refused_before_any_job, cli

SPACE = [Knob(f"x{i}", -math.pi, math.pi) for i in (1, 2, 3)]


def ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def test_sobol_indices_of_the_ishigami_function_come_out_as_known():
    """First-order (0.314, 0.442, 0) and total (0.558, 0.442, 0.244) indices, analytically known."""
    prob = problem(SPACE)
    X, _ = sample("sobol", prob, 1024, 4, seed=3)
    Y = ishigami(np.array([values(SPACE, row) for row in X]))
    idx = analyze("sobol", prob, X, Y, 4, 0.95, 200, seed=3)
    assert idx["S1"] == pytest.approx([0.314, 0.442, 0.0], abs=0.04)
    assert idx["ST"] == pytest.approx([0.558, 0.442, 0.244], abs=0.04)
    assert all(c > 0 for c in idx["ST_conf"])


def test_morris_ranks_the_ishigami_knobs_by_their_elementary_effects():
    prob = problem(SPACE)
    X, _ = sample("morris", prob, 100, 4, seed=3)
    idx = analyze("morris", prob, X, ishigami(X), 4, 0.95, 200, seed=3)
    mu_star = idx["mu_star"]
    # x2 acts alone and strongly, x1 strongly and through x3, x3 only through x1 (so its sigma is large)
    assert mu_star[1] > mu_star[0] > mu_star[2] > 0 and idx["sigma"][2] > 0.5 * mu_star[2]


@pytest.mark.parametrize("method, per_group", [("morris", 4), ("sobol", 5)])
def test_the_seed_is_common_exactly_within_a_trajectory_or_base_sample(method, per_group):
    """Within a group, each row differs from the group's first in the knobs an effect compares:
    Morris steps one knob at a time; Sobol's AB_i is A with column i from B."""
    prob = problem(SPACE)
    X, groups = sample(method, prob, 8, 4, seed=1)
    assert list(groups) == [g for g in range(8) for _ in range(per_group)]
    for g in range(8):
        rows = X[groups == g]
        if method == "morris":
            assert all(np.sum(rows[i] != rows[i + 1]) == 1 for i in range(3))
        else:
            a, b = rows[0], rows[-1]
            for i in range(3):
                expected = a.copy()
                expected[i] = b[i]
                assert np.array_equal(rows[1 + i], expected)


def test_log_and_integer_knobs_are_sampled_on_their_own_scale():
    space = [Knob("lr", 1e-5, 1e-3, log=True), Knob("epochs", 1, 9, integer=True)]
    prob = problem(space)
    assert prob["bounds"] == [[-5.0, -3.0], [1, 9]]
    X, _ = sample("morris", prob, 4, 4, seed=0)
    vals = [values(space, row) for row in X]
    assert all(1e-5 <= lr <= 1e-3 for lr, _ in vals) and all(isinstance(e, int) and 1 <= e <= 9 for _, e in vals)
    assert {round(math.log10(lr), 6) for lr, _ in vals} <= {round(v, 6) for v in (-5.0, -5 + 2 / 3, -5 + 4 / 3, -3.0)}


SMALL = ["longitudinal=none", "baseline.epochs=2", "model.hidden=[32,32]", "data.train_size=500", "data.test_size=200",
         "data.clean_size=100", "onset.every=0"]


def study(tmp, *args: str) -> list[str]:
    return ["-m", "hydra/sweeper=sensitivity", *SMALL, f"paths.store={tmp / 'store'}", f"hydra.sweep.dir={tmp / 'study'}",
            "hydra.launcher.n_jobs=1", *args]


@pytest.mark.e2e
def test_a_screening_runs_as_jobs_with_the_seed_of_each_trajectory(tmp_path):
    done = cli(*study(tmp_path, "pathology.sparsity=interval(0.85,0.97)", "stress.internal_sigma=interval(0.3,0.7)",
                      "hydra.sweeper.sensitivity.treatments={ketamine: {treatment.fraction: 'interval(0.2,0.8)'}}",
                      "hydra.sweeper.sensitivity.samples=3", "hydra.sweeper.sensitivity.first_seed=20"), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "12 jobs (ketamine: 12 = 3 x 4)" in done.stdout
    rec = json.loads((tmp_path / "study" / "sensitivity.json").read_text())
    entry = rec["treatments"]["ketamine"]
    assert entry["seeds"] == [20] * 4 + [21] * 4 + [22] * 4 and entry["failed"] == 0
    by_hash = {json.loads(p.read_text())["config_hash"]: json.loads(p.read_text())
               for p in (tmp_path / "study" / "samples").glob("*/result.json")}
    for h, seed, x in zip(entry["jobs"], entry["seeds"], entry["X"]):
        r = by_hash[h]
        assert r["seed"] == seed and r["config"]["pathology"]["sparsity"] == pytest.approx(x[0])
    assert set(entry["outcomes"]) == {"treated.combined", "treated.profile.2.5", "relapse.drop"}
    assert len(entry["outcomes"]["relapse.drop"]["indices"]["mu_star"]) == 3
    agg = subprocess.run([sys.executable, "-m", "pruning_lab.aggregate", str(tmp_path / "study")],
                         capture_output=True, text=True)
    assert agg.returncode == 0 and (tmp_path / "study" / "figures" / "indices.png").exists() \
        and (tmp_path / "study" / "report.html").exists()


@pytest.mark.parametrize("args, expected", [
    (["pathology.sparsity=interval(0.85,0.97)", "hydra.sweeper.sensitivity.treatments={ssri: {}}"],
     "a sensitivity analysis needs at least 2 knobs; ssri has 1"),
    (["pathology.sparsity=interval(0.85,0.97)", "stress.internal_sigma=interval(0.3,0.7)",
      "hydra.sweeper.sensitivity.treatments={ssri: {}}", "hydra.sweeper.sensitivity.method=sobol", "hydra.sweeper.sensitivity.samples=6"],
     "must be a power of 2"),
    (["pathology.sparsity=interval(0.85,0.97)", "stress.internal_sigma=interval(0.3,0.7)"],
     "hydra.sweeper.sensitivity.treatments must be a mapping, got None"),
])
def test_bad_sensitivity_input_is_refused_in_one_line_before_any_job(tmp_path, args, expected):
    done = cli(*study(tmp_path, *args), cwd=tmp_path, timeout=120)
    assert_refused_before_any_job(done, expected, tmp_path)


def test_the_runtime_estimate_counts_each_timed_treatment_and_names_the_untimed(monkeypatch):
    """70 ketamine jobs of 12 s and 70 SSRI jobs of 30 s on 2 workers: (840 + 2100) / 2 s = 24.5 min;
    a cluster runs each treatment's 70 at once, so the slowest job's time, 30 s."""
    from types import SimpleNamespace

    from pruning_lab.studies.sensitivity import sweeper as sensitivity

    seconds = {"ketamine": 12.0, "ssri": 30.0, "neurosteroid": None}
    monkeypatch.setattr(sensitivity, "_stored_seconds", lambda job: seconds[job])
    sweeper = SimpleNamespace(launcher=SimpleNamespace(workers=lambda: 2))
    plan = {t: {"jobs": [t] * 70} for t in ("ketamine", "ssri")}
    text = sensitivity.SensitivitySweeper._estimate(sweeper, plan)
    assert text.startswith("about 24 min here (2 workers; a job of ketamine 12 s, ssri 30 s)"), text
    assert "about 30 s on a SLURM cluster" in text
    text = sensitivity.SensitivitySweeper._estimate(sweeper, {**plan, "neurosteroid": {"jobs": ["neurosteroid"] * 70}})
    assert text.startswith("ketamine, ssri's jobs: about 24 min here") and text.endswith(
        "no stored job like those of neurosteroid to time them by (run one first, e.g. python -m pruning_lab.run "
        "with these settings)"), text
