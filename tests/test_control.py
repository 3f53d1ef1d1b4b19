"""A control arm in every report: each arm against it, paired by seed, with its margin's verdict;
and without one, "best" only by at least the margin."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from pruning_lab.aggregate import main as aggregate
from pruning_lab.analysis.control import ControlError, min_signed_rank_p
from pruning_lab.analysis.load import read_results
from pruning_lab.analysis.margins import margin
from pruning_lab.analysis.sections import report

from .test_aggregate import configs, ev, result, write  # noqa: F401  (configs: a fixture)

# extreme-noise accuracy per seed: the control, an arm 10 pp above it, one within a fraction of a point
CONTROL = [80.0, 82.0, 79.0, 84.0, 81.0, 83.0, 78.0, 80.5, 82.5, 79.5]
BETTER = [v + 10 + 0.5 * (i % 3) for i, v in enumerate(CONTROL)]
SAME = [v + (0.1 if i % 2 else -0.05) for i, v in enumerate(CONTROL)]


def sweep(configs, tmp_path, n=10, control=None):  # noqa: F811
    """ketamine (the control), ssri (better at σ 2.5), neurosteroid (the same to 0.1 pp)."""
    for seed in range(n):
        for t, v in (("ketamine", CONTROL), ("ssri", BETTER), ("neurosteroid", SAME)):
            write(tmp_path / "sweep" / f"{t}_{seed}" / "result.json",
                  result(configs, seed, t, treated=ev(60.0, profile={s: (v[seed] if s == 2.5 else 90.0)
                                                                       for s in (0.0, 0.5, 1.0, 1.5, 2.5)})))
    if control:
        (tmp_path / "sweep" / "multirun.yaml").write_text(f"control: {control}\nhydra: {{}}\n")
    return read_results(tmp_path / "sweep")


def extreme(cells):
    return cells[cells["metric"] == "treated.profile"].set_index("arm")


def test_each_arm_is_compared_with_the_control_paired_by_seed(configs, tmp_path):  # noqa: F811
    rep = report(sweep(configs, tmp_path), control="ketamine", figures=False)
    cells = extreme(rep.frames["control"])
    d = np.subtract(BETTER, CONTROL)
    lo, hi = st.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=d.std(ddof=1) / math.sqrt(len(d)))
    r = cells.loc["ssri"]
    assert (r["n"], r["diff"]) == (10, pytest.approx(d.mean()))
    assert (r["diff_lo"], r["diff_hi"]) == (pytest.approx(lo), pytest.approx(hi))
    assert r["p_t"] == pytest.approx(st.ttest_rel(BETTER, CONTROL).pvalue)
    # accuracies far from the ceiling: a 5 pp margin, cleared by 10 pp
    assert r["margin"] == 5 and r["verdict"] == "better"
    # 0.05 pp apart on average: inside the margin, equivalent whatever the test says
    assert cells.loc["neurosteroid", "verdict"] == "equivalent"
    # Holm over every arm x headline measure: 2 arms x 3 measures (combined, extreme, relapse drop)
    cells = rep.frames["control"]
    assert len(cells) == 6 and cells["p_t_holm"].max() <= 1
    assert "Against the control: Ketamine-like" in rep.markdown() and "Which treatment is best" not in rep.markdown()


def test_the_preset_names_the_control_and_aggregate_takes_another(configs, tmp_path):  # noqa: F811
    results = sweep(configs, tmp_path, control="ketamine")
    assert results.control == "ketamine"
    assert "Against the control: Ketamine-like" in report(results, figures=False).markdown()
    assert aggregate([str(tmp_path / "sweep"), "--out", str(tmp_path / "out"), "--control", "ssri",
                      "--no-figures", "--quiet"]) == 0
    assert "Against the control: SSRI-like" in (tmp_path / "out" / "report.md").read_text()
    assert (tmp_path / "out" / "control.csv").is_file()


def test_a_control_not_in_the_results_is_refused_in_one_line(configs, tmp_path, capsys):  # noqa: F811
    results = sweep(configs, tmp_path, n=3)
    with pytest.raises(ControlError, match=r"^control arm 'placebo' is not in these results; arms: ketamine, "):
        report(results, control="placebo", figures=False)
    assert aggregate([str(tmp_path / "sweep"), "--out", str(tmp_path / "out"), "--control", "placebo"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pruning-lab: error: control arm 'placebo'")
    assert not (tmp_path / "out").exists()


def test_the_signed_rank_floor_is_said_at_five_seeds(configs, tmp_path):  # noqa: F811
    assert min_signed_rank_p(5) == 0.0625 and min_signed_rank_p(6) == 0.03125
    text = report(sweep(configs, tmp_path, n=5), control="ketamine", figures=False).markdown()
    assert "signed-rank test cannot reach p < 0.05" in text and "n ≤ 5 nonzero" in text and "0.0625" in text
    text = report(sweep(configs, tmp_path / "ten", n=10), control="ketamine", figures=False).markdown()
    assert "cannot reach p < 0.05" not in text


def test_margins_follow_the_published_rule():
    assert margin([97.3, 96.0], 98.1) == 2      # both within 3 pp of the ceiling
    assert margin([97.3, 94.0], 98.1) == 5      # one is not
    assert margin([26.0, 27.5], 98.1, 25.0) == 2  # both near chance
    assert margin([50.0], math.nan) == 5


def test_best_must_clear_the_margin(configs, tmp_path):  # noqa: F811
    """Without a control: 0.3 pp apart at the ceiling, on every seed, is equivalent, not best."""
    for seed in range(10):
        for t, v in (("ketamine", 97.5), ("ssri", 97.2)):
            write(tmp_path / f"{t}_{seed}.json", result(configs, seed, t, treated=ev(v + 0.01 * seed)))
    best = report(read_results(tmp_path), figures=False).tables["best_arm"]
    row = best[best["Measure"] == "Combined stress (%)"].iloc[0]
    assert row["Verdict"] == "equivalent to SSRI-like (±2 pp)", row.to_dict()
