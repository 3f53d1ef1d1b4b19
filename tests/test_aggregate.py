"""Aggregation: hand-made result JSONs with known numbers -> tables, comparisons, bad-file paths."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from scipy import stats as st

from pruning_lab.aggregate import main
from pruning_lab.analysis import published as pub
from pruning_lab.analysis.arms import Layout, arms
from pruning_lab.analysis.load import load_results, read_result
from pruning_lab.analysis.load import read_results
from pruning_lab.analysis.sections import build
from pruning_lab.analysis.stats import bootstrap_ci, hedges_g, holm, pairwise, quadrant_ceiling, summary_frame
from pruning_lab.analysis.tables import Lookup, efficacy, relapse_summary, stress_profile
from pruning_lab.config import SCHEMA, content_hash, resolve, validate
from pruning_lab.store import dump_json

ROOT = Path(__file__).resolve().parents[1]
SIGMAS = ("0", "0.5", "1", "1.5", "2.5")
KNOBS: dict[str, dict] = {}  # each treatment's knobs as the CLI records them (config.Config.knobs)


@pytest.fixture(scope="module")
def configs() -> dict[str, dict]:
    """The real paper-2 configs of the three published treatments."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        checked = {t: validate(*resolve(compose("config", overrides=["experiment=paper2", f"treatment={t}"])))
                   for t in ("ketamine", "ssri", "neurosteroid")}
    GlobalHydra.instance().clear()
    KNOBS.update({t: c.knobs for t, c in checked.items()})
    return {t: c.job.to_dict() for t, c in checked.items()}


def knob_record(base: str, config: dict) -> dict:
    """``base``'s knobs with the values ``config``'s phases hold (the first phase key each feeds)."""
    from pruning_lab.tree import leaves

    phase = dict(leaves({"treatment": config["treatment"]}))
    return {k: {"value": phase[r["phase_keys"][0]], "phase_keys": r["phase_keys"]} for k, r in KNOBS[base].items()}


def ev(v: float = 50.0, sparsity: float = 95.0, **kw) -> dict:
    d = {"sparsity": sparsity, "layer_sparsity": [sparsity] * 4, "clean": v, "standard": v, "combined": v,
         "profile": {s: v for s in SIGMAS}}
    d.update(kw)
    return d


def result(configs, seed: int, treatment: str = "ketamine", *, treated: dict | None = None,
           untreated: dict | None = None, off: dict | None = None, drop: float = 1.0,
           course: list[float] | None = None, threshold: float = 80.0, edit=None,
           onset: list[float] | None = None, every: int = 5, env: dict | None = None) -> dict:
    """A result as the store writes it; ``onset``: the combined-stress course during treatment (its
    response computed against ``threshold``), None for a result from before the course existed."""
    base = "ketamine" if treatment not in configs else treatment
    config = copy.deepcopy(configs[base])
    config["seed"] = config["data"]["seed"] = seed
    if treatment != base:
        config["treatment"]["name"] = treatment
        config["treatment"]["label"] = treatment.title() + " regimen"
    if edit:
        edit(config)
    lg = None
    if course is not None:
        relapsed = [c for c, a in enumerate(course) if a < threshold]
        lg = {"combined": course, "sparsity": [95.0 + c for c in range(len(course))],
              "relapse_cycle": relapsed[0] if relapsed else None, "final": course[-1],
              "total_drop": course[0] - course[-1]}
    tr = treated or ev(90.0)
    extra = {}
    if onset is not None:
        epochs = [i * every for i in range(len(onset))]
        hit = [e for e, v in zip(epochs, onset) if v >= threshold]
        extra["onset"] = {"epoch": epochs, "combined": onset, "standard": [min(100.0, v + 5) for v in onset],
                          "extreme": [v - 10 for v in onset]}
        extra["response"] = {"threshold": threshold, "epoch": hit[0] if hit else None}
    out = {
        "schema": SCHEMA, "config_hash": content_hash(config), "config": config, "seed": seed,
        "treatment": treatment, "label": config["treatment"]["label"], "arm": treatment,
        "knobs": knob_record(base, config),
        "metrics": {"healthy": ev(99.0, 0.0), "untreated": untreated or ev(30.0 + seed), "treated": tr,
                    "off_drug": off,
                    "relapse": {"drop": drop, "combined_before": tr["combined"], "combined_after": tr["combined"] - drop,
                                "sparsity_before": tr["sparsity"], "sparsity_after": 97.0, "target": 97.0},
                    "longitudinal": lg},
        "baseline": {"key": f"b{seed}-{config['pathology']['sparsity']}", "cache_hit": False},
        "timings": {"baseline": 1.0, "evaluate": 0.5}, "wall_seconds": 2.0,
        "versions": {"torch": "test", "pruning_lab": "0.1.0"},
    }
    out["metrics"].update(extra)
    if env is not None:
        out["environment"] = env
    return out


def write(path: Path, obj: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dump_json(obj))
    return path


def tables_of(sweep, ddof=1):
    frame = arms(sweep)
    summary = summary_frame(frame, [*sweep.axes, "arm", "section", "metric", "x"], ddof)
    labels = sweep.runs.groupby("treatment")["label"].first().to_dict()
    return Lookup(summary, Layout(sweep.global_axes, sweep.treatment_axes, labels)), summary


def cell(table, row: str, column: str) -> str:
    d = table.display
    return d.loc[d["Treatment"] == row, column].item()


# -- table builders on known numbers ---------------------------------------------------------


def test_mean_and_sample_sd_of_known_values(configs, tmp_path):
    for seed, v in enumerate([90.0, 92.0, 97.0]):
        write(tmp_path / f"k{seed}.json", result(configs, seed, treated=ev(v, 47.5)))
    look, summary = tables_of(read_results(tmp_path))
    rec = summary[(summary.arm == "ketamine") & (summary.section == "treated") & (summary.metric == "combined")]
    assert rec["n"].item() == 3
    assert rec["mean"].item() == pytest.approx(93.0)
    assert rec["sd"].item() == pytest.approx(math.sqrt(13.0))          # ddof = 1
    t = efficacy(look)
    assert cell(t, "Ketamine-like", "Combined stress (%)") == "93.0 ± 3.6"
    assert cell(t, "Ketamine-like", "n") == "3"


def test_population_sd_as_published(configs, tmp_path):
    for seed, v in enumerate([90.0, 92.0, 97.0]):
        write(tmp_path / f"k{seed}.json", result(configs, seed, treated=ev(v, 47.5)))
    look, summary = tables_of(read_results(tmp_path), ddof=0)
    assert cell(efficacy(look), "Ketamine-like", "Combined stress (%)") == "93.0 ± 2.9"   # sqrt(26/3)
    rec = summary[(summary.arm == "ketamine") & (summary.metric == "combined") & (summary.section == "treated")]
    assert rec["sd_sample"].item() == pytest.approx(math.sqrt(13.0))   # the SE still uses the sample SD


def test_untreated_row_counts_each_seed_once(configs, tmp_path):
    """Every treatment of a seed carries the same untreated metrics: n is seeds, not jobs."""
    for seed in (0, 1):
        for t in ("ketamine", "ssri", "neurosteroid"):
            write(tmp_path / f"{t}{seed}.json", result(configs, seed, t, untreated=ev(30.0 + 10 * seed)))
    look, _ = tables_of(read_results(tmp_path))
    t = efficacy(look)
    assert cell(t, "Untreated (pruned)", "n") == "2"
    assert cell(t, "Untreated (pruned)", "Combined stress (%)") == f"35.0 ± {math.sqrt(50):.1f}"


def test_single_seed_shows_the_value_itself(configs, tmp_path):
    write(tmp_path / "a.json", result(configs, 42, treated=ev(96.94, 47.5)))
    look, _ = tables_of(read_results(tmp_path))
    assert cell(efficacy(look), "Ketamine-like", "Combined stress (%)") == "96.9"
    assert cell(stress_profile(look), "Ketamine-like", "Extreme (σ=2.5) (%)") == "96.9"


def test_any_treatment_gets_its_row_and_a_swept_axis_its_column(configs, tmp_path):
    def sparsity(s):
        return lambda c: c["pathology"].__setitem__("sparsity", s)
    for s in (0.9, 0.95):
        for seed in (0, 1):
            write(tmp_path / f"k{s}{seed}.json", result(configs, seed, treated=ev(80 + 100 * s), edit=sparsity(s)))
            write(tmp_path / f"c{s}{seed}.json", result(configs, seed, "combo", treated=ev(50 + s), edit=sparsity(s)))
    sweep = read_results(tmp_path)
    assert sweep.axes == ["pathology.sparsity"]
    assert sweep.missing.empty
    look, _ = tables_of(sweep)
    d = efficacy(look).display
    assert list(d.columns[:3]) == ["pathology.sparsity", "Treatment", "n"]
    k = d[d["Treatment"] == "Ketamine-like"].set_index("pathology.sparsity")["Combined stress (%)"]
    assert k.to_dict() == {"0.9": "170.0 ± 0.0", "0.95": "175.0 ± 0.0"}
    assert (d["Treatment"] == "Combo regimen").sum() == 2


def test_a_treatment_knob_is_an_axis_of_that_treatment_only(configs, tmp_path):
    def damping(v):
        return lambda c: c["treatment"]["phases"][0].__setitem__("damping", v)
    for seed in (0, 1):
        write(tmp_path / f"k{seed}.json", result(configs, seed, "ketamine"))
        for v in (0.6, 0.7):
            write(tmp_path / f"n{v}{seed}.json", result(configs, seed, "neurosteroid", edit=damping(v)))
    sweep = read_results(tmp_path)
    assert sweep.axes == ["treatment.damping"]     # the knob's name, not the phase key it feeds
    assert sweep.missing.empty
    look, _ = tables_of(sweep)
    rows = efficacy(look).display["Treatment"].tolist()
    assert rows == ["Healthy (dense)", "Untreated (pruned)", "Ketamine-like",
                    "Neurosteroid-like (damping=0.6)", "Neurosteroid-like (damping=0.7)"]
    assert cell(efficacy(look), "Untreated (pruned)", "n") == "2"


def test_longitudinal_summary_counts_relapses(configs, tmp_path):
    courses = [[97.0, 96.0, 95.0], [79.0, 85.0, 90.0], [97.0, 90.0, 70.0], [97.0, 97.0, 97.0]]
    for seed, c in enumerate(courses):
        write(tmp_path / f"s{seed}.json", result(configs, seed, "ssri", course=c))
    look, summary = tables_of(read_results(tmp_path))
    d = relapse_summary(look, 80.0).display.set_index("Metric")["SSRI-like"]
    assert d["Seeds with relapse (<80%)"] == "2/4"
    assert d["Seeds without relapse (≥80%)"] == "2/4"
    assert d["Mean cycle at relapse (if relapsed)"] == "1.0 ± 1.4 (n=2)"          # cycles 0 and 2
    drops = np.array([2.0, -11.0, 27.0, 0.0])
    assert d["Total accuracy drop, cycle 0 to 2 (pp)"] == f"{drops.mean():.1f} ± {drops.std(ddof=1):.1f}"
    rec = summary[(summary.metric == "final")]
    assert rec["x"].item() == 2.0 and rec["mean"].item() == pytest.approx(88.0)


# -- partial and damaged sweeps ---------------------------------------------------------------


def test_missing_cells_are_listed(configs, tmp_path):
    for seed in (0, 1, 2):
        write(tmp_path / f"k{seed}.json", result(configs, seed, "ketamine"))
        if seed != 1:
            write(tmp_path / f"s{seed}.json", result(configs, seed, "ssri"))
    sweep = read_results(tmp_path)
    assert sweep.missing.to_dict("records") == [{"treatment": "ssri", "seed": 1}]


def test_declared_but_absent_seeds_are_missing(configs, tmp_path):
    """A multirun's declared grid counts, even for seeds no job delivered; a job dir is known by
    its job.status, and one without a result says how its job ended."""
    from pruning_lab.launch.status import JobStatus

    done = tmp_path / "0_ketamine_s0"
    write(done / "result.json", result(configs, 0, "ketamine"))
    JobStatus(0, ["seed=0"], "ran").write(done)
    JobStatus(1, ["seed=1"], "failed", error="ValueError: boom").write(tmp_path / "1_ketamine_s1")
    JobStatus(2, ["seed=2"], "interrupted").write(tmp_path / "2_ketamine_s2")
    (tmp_path / "3_ketamine_s3").mkdir()             # no status: not a job dir of this sweep
    (tmp_path / "multirun.yaml").write_text(
        "hydra:\n  overrides:\n    task:\n    - treatment=ketamine\n    - seed=range(4)\n  sweeper:\n    params: null\n")
    sweep = read_results(tmp_path)
    assert sweep.missing.to_dict("records") == [{"treatment": "ketamine", "seed": s} for s in (1, 2, 3)]
    assert sweep.incomplete_dirs == [f"{tmp_path / '1_ketamine_s1'}: failed: ValueError: boom",
                                     f"{tmp_path / '2_ketamine_s2'}: interrupted"]
    JobStatus(3, ["seed=3"], "running").write(tmp_path / "3_ketamine_s3")
    assert read_results(tmp_path).incomplete_dirs[-1] == f"{tmp_path / '3_ketamine_s3'}: running, or killed while running"


def test_bad_files_are_reported_by_path_and_skipped(configs, tmp_path):
    good = write(tmp_path / "good.json", result(configs, 0))
    blob = dump_json(result(configs, 1))
    (tmp_path / "truncated.json").write_bytes(blob[: len(blob) // 2])
    edited = json.loads(dump_json(result(configs, 2)))
    edited["metrics"]["treated"]["combined"] = 100.0
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    (tmp_path / "foreign.json").write_text('{"hello": 1}')
    (tmp_path / "list.json").write_text("[1, 2]")
    old = result(configs, 3)
    old["schema"] = "pruning-lab/result/0"
    write(tmp_path / "old.json", old)
    malformed = result(configs, 4)
    del malformed["metrics"]["treated"]
    write(tmp_path / "malformed.json", malformed)
    write(tmp_path / "baselines" / "abc.json", {"key": "abc", "sha256": "0", "config": {}})  # cache record: no fault
    (tmp_path / "dangling.json").symlink_to(tmp_path / "gone.json")

    sweep = read_results(tmp_path)
    assert sweep.runs["path"].tolist() == [str(good)]
    why = {Path(p).name: w for p, w in sweep.problems}
    assert set(why) == {"truncated.json", "edited.json", "foreign.json", "list.json", "old.json", "malformed.json",
                         "dangling.json"}
    assert why["truncated.json"].startswith("not valid JSON")
    assert why["edited.json"].startswith("checksum mismatch")
    assert why["foreign.json"].startswith("foreign JSON")
    assert why["old.json"].startswith("unsupported schema version")
    assert "metrics.treated" in why["malformed.json"]
    assert why["dangling.json"] == f"dangling symlink (to {tmp_path / 'gone.json'})"

    out = tmp_path / "out"
    assert main([str(tmp_path), "--out", str(out), "--no-figures", "--quiet"]) == 0
    report = (out / "report.md").read_text()
    for name in why:
        assert f"{tmp_path / name}`" in report
    assert pd.read_csv(out / "bad_files.csv")["path"].map(lambda p: Path(p).name).tolist() == sorted(why)

    for name in why:                         # repaired: a rerun must not keep the old list
        (tmp_path / name).unlink()
    assert main([str(tmp_path), "--out", str(out), "--no-figures", "--quiet"]) == 0
    assert not (out / "bad_files.csv").exists()
    assert "No truncated, edited, foreign or malformed files" in (out / "report.md").read_text()


def test_same_result_in_job_dir_and_store_counts_once(configs, tmp_path):
    r = result(configs, 0)
    write(tmp_path / "sweep" / "0_ketamine_s0" / "result.json", r)
    write(tmp_path / "store" / "results" / f"{r['config_hash']}.json", r)
    sweep = read_results(tmp_path)
    assert len(sweep.runs) == 1 and sweep.duplicates == 1 and not sweep.conflicts


def test_read_result_accepts_what_the_store_writes(configs, tmp_path):
    obj, why = read_result(write(tmp_path / "r.json", result(configs, 0)))
    assert why is None and obj["seed"] == 0


def test_no_valid_result_still_writes_a_report(tmp_path):
    (tmp_path / "x.json").write_text("{")
    out = tmp_path / "out"
    assert main([str(tmp_path), "--out", str(out), "--quiet"]) == 1
    assert "No valid result" in (out / "report.md").read_text()


# -- published values ---------------------------------------------------------------------------


PAPER2_CELLS = {
    "Table 1": (["Untreated (pruned)", "Ketamine-like", "SSRI-like", "Neurosteroid-like"],
                ["Sparsity (%)", "Clean (%)", "Standard (%)", "Combined Stress (%)"]),
    "Table 2": (["Untreated (pruned)", "Ketamine-like", "SSRI-like", "Neurosteroid-like"],
                ["No Noise (%)", "Moderate (σ=0.5) (%)", "High (σ=1.0) (%)", "Severe (σ=1.5) (%)",
                 "Extreme (σ=2.5) (%)"]),
    "Table 3": ([str(c) for c in range(9)], ["Ketamine", "SSRI", "Neurosteroid"]),
    "Table 4": (["Total accuracy drop (cycle 0 to 8)", "Final accuracy (cycle 8)", "Seeds with relapse (<80%)",
                 "Seeds without relapse (≥80%)", "Mean cycle at relapse (if relapsed)"],
                ["Ketamine", "SSRI", "Neurosteroid"]),
}


def test_paper2_published_tables_are_complete():
    df = pub.load(2, ROOT / "experiments")
    for table, (rows, cols) in PAPER2_CELLS.items():
        got = set(zip(df.loc[df.table == table, "row"], df.loc[df.table == table, "column"]))
        want = {(r, c) for r in rows for c in cols}
        if table == "Table 4":
            want.discard(("Mean cycle at relapse (if relapsed)", "Ketamine"))   # "N/A" in the paper
        assert got == want, table
    assert (df.loc[df.table.str.startswith("Table"), "n"] == 10).sum() == len(df[df.table.isin(["Table 1", "Table 2",
                                                                                                 "Table 3"])]) + 12
    v = df.set_index(["table", "row", "column"])
    assert v.loc[("Table 3", "8", "Neurosteroid"), ["value", "sd"]].tolist() == [88.2, 14.0]
    assert v.loc[("Table 2", "Ketamine-like", "Extreme (σ=2.5) (%)"), "value"] == 81.7
    assert v.loc[("Table 4", "Seeds with relapse (<80%)", "SSRI"), "value"] == 4
    prose = df[~df.table.str.startswith("Table")]
    assert set(prose.table) == {"Results: Acute relapse vulnerability", "Results: Neurosteroid state-dependence",
                                "Results: Longitudinal trajectories"}
    assert sorted(prose.loc[prose.metric == "drop", "value"]) == [0.0, 6.9, 9.1]


def test_paper1_published_tables_are_complete():
    df = pub.load(1, ROOT / "experiments")
    t1 = df[df.table == "Table 1"]
    assert list(dict.fromkeys(t1.row)) == ["Untreated (pruned)", "Ketamine-like", "SSRI-like",
                                          "Neurosteroid-like (on)", "Neurosteroid-like (off)"]
    # six columns; dashes in the paper (not applicable) are absent: untreated drop, off clean/standard/drop
    assert len(t1) == 5 * 6 - 4
    t2 = df[df.table == "Table 2"]
    assert len(t2) == 4 * 5 and set(t2.x) == {0, 0.5, 1, 1.5, 2.5}
    assert (df.n == 1).all()
    assert t1.set_index(["row", "column"]).loc[("Ketamine-like", "Relapse Drop (%)"), "value"] == -0.2


@pytest.mark.parametrize("paper", [1, 2])
def test_published_keys_name_metrics_the_aggregation_produces(paper, configs, tmp_path):
    """Every published value finds its counterpart in a full-shape sweep (nothing 'not in this sweep')."""
    for seed in range(2):
        # seed 1 falls below 80% at cycle 6, so the relapse-cycle rows have something to match
        course = [97.0 - c * (1 + 3 * seed) for c in range(9)] if paper == 2 else None
        for t in ("ketamine", "ssri", "neurosteroid"):
            write(tmp_path / f"{t}{seed}.json", result(configs, seed, t, course=course,
                                                       off=ev(70.0) if t == "neurosteroid" else None))
    look, summary = tables_of(read_results(tmp_path))
    comp = pub.compare(pub.load(paper, ROOT / "experiments"), summary)
    assert (comp["basis"] != "not in this sweep").all(), comp.loc[comp.basis == "not in this sweep", ["table", "row"]]


def test_comparison_uses_two_standard_errors_of_the_difference():
    published = pd.DataFrame([{"table": "T", "row": "r", "column": "c", "arm": "ketamine", "section": "treated",
                               "metric": "combined", "x": math.nan, "stat": "mean", "value": 97.0, "sd": 0.3,
                               "n": 10, "note": ""}])
    ours = pd.DataFrame([{"arm": "ketamine", "section": "treated", "metric": "combined", "x": math.nan, "n": 10,
                          "mean": 97.5, "sd": 0.4, "sd_sample": 0.4, "min": 97.0, "max": 98.0, "n_true": 0}])
    row = pub.compare(published, ours).iloc[0]
    se = math.sqrt(0.4 ** 2 / 10 + (0.3 * math.sqrt(10 / 9)) ** 2 / 10)
    assert row["diff"] == pytest.approx(0.5)
    assert row["tol"] == pytest.approx(2 * se + 0.05)
    assert bool(row["within"]) is (0.5 <= 2 * se + 0.05)
    ours.loc[0, "mean"] = 98.0
    assert not pub.compare(published, ours).iloc[0]["within"]


# -- statistics ---------------------------------------------------------------------------------


def test_holm_adjustment():
    assert holm(np.array([0.01, 0.04, 0.03])).tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert holm(np.array([0.5, np.nan, 0.01])).tolist()[::2] == pytest.approx([0.5, 0.02])


def test_hedges_g_and_bootstrap_interval():
    assert hedges_g([1, 2, 3], [2, 3, 4]) == pytest.approx(-0.8)        # d = -1, J = 1 - 3/15
    rng = np.random.default_rng(1)
    a, b = rng.normal(1, 1, 10), rng.normal(0, 1, 10)
    lo, hi = bootstrap_ci(a, b)
    assert lo < hedges_g(a, b) < hi
    assert bootstrap_ci(a, b) == (lo, hi)                                # fixed seed: reproducible
    assert math.isnan(hedges_g([1, 1], [2, 2]))                          # no spread: undefined


def test_pairwise_matches_scipy():
    values = {"A": np.array([97.1, 97.4, 97.3, 97.0]), "B": np.array([80.0, 90.0, 70.0, 85.0]),
              "C": np.array([97.9, 97.7, 97.8, 97.6])}
    df = pairwise(values).set_index(["a", "b"])
    t = st.ttest_ind(values["A"], values["B"], equal_var=False)
    u = st.mannwhitneyu(values["A"], values["C"], alternative="two-sided")
    assert df.loc[("A", "B"), "p_t"] == pytest.approx(t.pvalue)
    assert df.loc[("A", "C"), "p_U"] == pytest.approx(u.pvalue)
    assert (df["p_t_holm"] >= df["p_t"]).all()


def test_paired_comparisons_match_scipy_seed_by_seed():
    a = pd.Series([97.1, 96.4, 97.3, 95.0, 96.8, 97.9], index=[0, 1, 2, 3, 4, 5])
    b = pd.Series([96.0, 96.5, 95.1, 94.0, 96.9, 96.2], index=[0, 1, 2, 3, 4, 5])
    c = pd.Series([90.0, 93.5, 92.0, 91.0, 95.5, 94.0], index=[0, 1, 2, 3, 4, 5])
    # B given in another seed order: the pairing is by seed, not by position
    df = pairwise({"A": a, "B": b.iloc[::-1], "C": c}).set_index(["a", "b"])
    assert (df["design"] == "paired").all()
    t = st.ttest_rel(a, b)
    w = st.wilcoxon(a, b)
    ab = df.loc[("A", "B")]
    assert ab["p_t"] == pytest.approx(t.pvalue) and ab["t"] == pytest.approx(t.statistic)
    assert ab["p_W"] == pytest.approx(w.pvalue) and ab["W"] == pytest.approx(w.statistic)
    d = (a - b).to_numpy()
    assert ab["diff"] == pytest.approx(d.mean())
    assert ab["dz"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert ab["diff_lo"] < d.mean() < ab["diff_hi"] and ab["dz_lo"] < ab["dz"] < ab["dz_hi"]
    # Holm over the three pairs by hand: sorted p times 3, 2, 1, kept monotone
    p = df["p_t"].to_numpy()
    order = np.argsort(p)
    want = np.maximum.accumulate(p[order] * np.array([3, 2, 1]))
    assert df["p_t_holm"].to_numpy()[order] == pytest.approx(np.minimum(want, 1))


def test_holm_by_hand():
    assert holm(np.array([0.04, 0.01, 0.02])).tolist() == pytest.approx([0.04, 0.03, 0.04])
    assert holm(np.array([0.3, 0.6])).tolist() == pytest.approx([0.6, 0.6])


def test_unmatched_seeds_fall_back_to_unpaired_tests():
    a = pd.Series([97.1, 96.4, 97.3, 95.0], index=[0, 1, 2, 3])
    b = pd.Series([96.0, 96.5, 95.1, 94.0], index=[0, 1, 2, 4])
    row = pairwise({"A": a, "B": b}).iloc[0]
    assert row["design"] == "unpaired"
    assert row["p_t"] == pytest.approx(st.ttest_ind(a, b, equal_var=False).pvalue)
    assert row["p_U"] == pytest.approx(st.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def test_bayes_ceilings_match_the_protocol():
    assert quadrant_ceiling(3, math.hypot(0.8, 1.0)) == pytest.approx(98.1, abs=0.05)
    assert quadrant_ceiling(3, 0.8) == pytest.approx(99.98, abs=0.005)
    assert quadrant_ceiling(3, 0.0) == 100.0


# -- the whole report ---------------------------------------------------------------------------


def test_report_end_to_end(configs, tmp_path):
    sweep_dir = tmp_path / "sweep"
    for seed in range(3):
        for t in ("ketamine", "ssri", "neurosteroid"):
            write(sweep_dir / f"{t}_s{seed}" / "result.json",
                  result(configs, seed, t, treated=ev(90.0 + seed), course=[97.0 - c for c in range(9)],
                         off=ev(60.0) if t == "neurosteroid" else None))
    out = tmp_path  # as `make reproduce`: the report's directory holds the sweep's
    assert main([str(sweep_dir), "--out", str(out), "--population-sd", "--quiet"]) == 0
    report = (out / "report.md").read_text()
    assert "population SD (ddof = 0" in report
    assert report.startswith("# Paper 2 reproduction report")
    assert "Every run follows the published paper-2 protocol" in report
    # the papers' claims first, then the verdict per value
    headings = [line for line in report.splitlines() if line.startswith("## ")]
    assert headings[:2] == ["## Do the papers' claims hold?", "## Reproduction verdict"]
    assert "**Of paper 2's 23 claims (43 statements), on 3 seeds:" in report
    assert "**Of paper 2's 64 primary published values:" in report
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert "| paired (3)" in report and "comparisons are unpaired" not in report
    for name in ("efficacy", "stress_profile", "cycle_combined", "relapse_summary", "state_dependence"):
        for ext in ("md", "csv", "tex"):
            assert (out / "tables" / f"{name}.{ext}").stat().st_size > 0
    for fig in ("profile", "longitudinal", "sparsity", "state_dependence"):
        assert (out / "figures" / f"{fig}.png").stat().st_size > 0
        assert (out / "figures" / f"{fig}.svg").stat().st_size > 0
    tidy = pd.read_csv(out / "tidy.csv")
    assert len(tidy) == len(tidy.drop_duplicates(["config_hash", "section", "metric", "x"]))
    comp = pd.read_csv(out / "comparison.csv")
    row = comp[(comp.table == "Table 1") & (comp.row == "Ketamine-like") & (comp.column == "Combined Stress (%)")]
    assert row["ours"].item() == pytest.approx(91.0) and row["diff"].item() == pytest.approx(91.0 - 97.3)
    assert "\\begin{tabular}" in (out / "tables" / "efficacy.tex").read_text()


def test_report_says_when_seeds_do_not_match(configs, tmp_path):
    for seed in (0, 1, 2):
        write(tmp_path / f"k{seed}.json", result(configs, seed, "ketamine", treated=ev(90.0 + seed)))
        write(tmp_path / f"s{seed}.json", result(configs, seed + (seed == 2), "ssri", treated=ev(80.0 - seed)))
    report = build(read_results(tmp_path), tmp_path / "out", figures=False).read_text()
    assert "comparisons are unpaired" in report and "| unpaired (3, 3)" in report


def test_paper1_mode_for_a_single_seed(configs, tmp_path):
    def paper1(c):
        c["longitudinal"]["cycles"] = 0
        c["data"]["seed"] = 0
    for t in ("ketamine", "ssri", "neurosteroid"):
        write(tmp_path / f"{t}.json", result(configs, 42, t, edit=paper1, treated=ev(96.9, 47.5)))
    sweep = read_results(tmp_path)
    path = build(sweep, tmp_path / "out", figures=False)
    report = path.read_text()
    assert report.startswith("# Paper 1 reproduction report")
    assert "(Table 1 of paper 1)" in report and "(Table 2 of paper 1)" in report
    assert "| Ketamine-like" in report and "96.9 ±" not in report


# -- the Python API -----------------------------------------------------------------------------


def test_load_results_gives_the_tidy_frame_with_numeric_axes(configs, tmp_path):
    def sparsity(s):
        return lambda c: c["pathology"].__setitem__("sparsity", s)
    for s in (0.9, 0.95):
        write(tmp_path / f"k{s}.json", result(configs, 0, treated=ev(80 + 10 * s), edit=sparsity(s)))
    (tmp_path / "bad.json").write_text("{")
    with pytest.warns(UserWarning, match="bad.json: not valid JSON"):
        df = load_results(tmp_path)
    assert {"config_hash", "seed", "treatment", "metric", "value", "pathology.sparsity"} <= set(df.columns)
    assert df["pathology.sparsity"].dtype.kind == "f"
    comb = df[(df.section == "treated") & (df.metric == "combined")].set_index("pathology.sparsity")["value"]
    assert comb.to_dict() == {0.9: pytest.approx(89.0), 0.95: pytest.approx(89.5)}


def test_load_results_of_an_empty_path_warns_and_keeps_the_columns(tmp_path):
    with pytest.warns(UserWarning, match="holds no valid result"):
        df = load_results(tmp_path)
    assert df.empty and {"seed", "treatment", "metric", "value", "config_hash"} <= set(df.columns)


def test_loading_results_imports_neither_torch_nor_hydra():
    code = ("import sys; from pruning_lab.analysis.load import load_results; "
            "print(sorted(m for m in ('torch', 'hydra', 'omegaconf') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


# -- onset and response -------------------------------------------------------------------------

# combined-stress courses by onset point (every 5 epochs): responds at 10, at 20, never
SSRI_ONSET = [[40.0, 60.0, 85.0, 86.0, 88.0, 90.0, 91.0], [40.0, 50.0, 70.0, 75.0, 81.0, 85.0, 88.0],
              [40.0, 45.0, 50.0, 55.0, 60.0, 65.0, 70.0]]


def onset_sweep(configs, folder: Path, old: int = 0) -> Path:
    for seed, course in enumerate(SSRI_ONSET):
        write(folder / f"s{seed}.json", result(configs, seed, "ssri", onset=course))
        write(folder / f"k{seed}.json", result(configs, seed, "ketamine", onset=[85.0 + seed, 90.0, 95.0]))
    for seed in range(3, 3 + old):   # results from before the onset course was recorded
        write(folder / f"old{seed}.json", result(configs, seed, "ssri"))
    return folder


def test_response_epochs_never_responders_and_kaplan_meier(configs, tmp_path):
    from pruning_lab.analysis import response
    from pruning_lab.analysis.arms import layout
    rs = read_results(onset_sweep(configs, tmp_path))
    onset = rs.tidy[(rs.tidy.section == "onset") & (rs.tidy.metric == "combined") & (rs.tidy.seed == 1)
                    & (rs.tidy.treatment == "ssri")]
    assert onset["x"].tolist() == [0, 5, 10, 15, 20, 25, 30] and onset["value"].tolist() == SSRI_ONSET[1]
    lay = layout(rs)
    summ = response.summary(response.per_seed(arms(rs), lay), lay).set_index("arm")
    s = summ.loc["ssri"]
    assert (s["n"], s["responded"], s["never"]) == (3, 2, 1)
    assert (s["median"], s["q1"], s["q3"]) == (15.0, 12.5, 17.5)
    # Kaplan-Meier: 3 at risk, events at 10 and 20, one censored at 30: S(10)=2/3, S(20)=1/3
    assert s["km_median"] == 20.0
    assert summ.loc["ketamine", "median"] == 0.0 and summ.loc["ketamine", "never"] == 0
    d = response.table(summ.reset_index(), lay).display.set_index("Treatment")
    assert d.loc["SSRI-like", "Responded"] == "2/3"
    assert d.loc["SSRI-like", "Median epochs to response (IQR)"] == "15 (12.5–17.5)"


def test_results_without_onset_still_aggregate_and_the_report_says_so(configs, tmp_path):
    onset_sweep(configs, tmp_path / "in", old=2)
    report = build(read_results(tmp_path / "in"), tmp_path / "out", figures=False).read_text()
    assert "**2 of 8 result(s) have no onset data**" in report
    resp = pd.read_csv(tmp_path / "out" / "response.csv").set_index("arm")
    assert resp.loc["ssri", "n"] == 3            # the old results have no response cell


def test_a_sweep_mixing_numerics_modes_is_flagged(configs, tmp_path):
    native = {"numerics": "native", "portable": False, "isa": {"aten": "AVX512", "numba": "znver4"},
              "cpu": {"model": "AMD EPYC 9R14", "vendor": "AuthenticAMD", "extensions": ["avx2", "avx512f"]}}
    write(tmp_path / "a.json", result(configs, 0, env={**native, "numerics": "portable", "portable": True}))
    write(tmp_path / "b.json", result(configs, 1, env=native))
    write(tmp_path / "c.json", result(configs, 2))
    report = build(read_results(tmp_path), tmp_path / "out", figures=False).read_text()
    assert "**This sweep mixes numerics modes**" in report
    assert "| unknown    | unknown    | unknown" in report
    assert "| native     | False      | AMD EPYC 9R14 (avx2 avx512f) | aten: AVX512, numba: znver4 |" in report


# -- figures: the series they should hold -------------------------------------------------------


def _lines(ax) -> dict:
    return {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}


def test_onset_figure_has_a_mean_line_per_treatment_seed_lines_and_the_threshold(configs, tmp_path):
    from pruning_lab.analysis.arms import layout
    from pruning_lab.analysis.figures import onset
    rs = read_results(onset_sweep(configs, tmp_path))
    top, bottom = onset(arms(rs), layout(rs), 1, 80.0).axes
    lines = _lines(top)
    assert set(lines) == {"Ketamine-like", "SSRI-like", "response threshold (80%)"}
    assert lines["SSRI-like"].get_ydata().tolist() == pytest.approx(np.mean(SSRI_ONSET, axis=0).tolist())
    assert list(lines["response threshold (80%)"].get_ydata()) == [80.0, 80.0]
    thin = [ln for ln in top.get_lines() if ln.get_linewidth() < 0.5]
    assert len(thin) == 6                                   # one per seed and treatment
    assert len(top.collections) == 2                        # a ± SD band per treatment
    ext = [ln for ln in bottom.get_lines() if ln.get_linewidth() > 1]
    assert ext[-1].get_ydata().tolist() == pytest.approx((np.mean(SSRI_ONSET, axis=0) - 10).tolist())


def test_response_figure_steps_to_the_share_responded(configs, tmp_path):
    from pruning_lab.analysis.arms import layout
    from pruning_lab.analysis.figures import response_curve
    rs = read_results(onset_sweep(configs, tmp_path))
    lines = _lines(response_curve(arms(rs), layout(rs)).axes[0])
    assert set(lines) == {"Ketamine-like (3/3)", "SSRI-like (2/3)"}
    ssri = lines["SSRI-like (2/3)"]
    assert ssri.get_ydata()[-1] == pytest.approx(200 / 3)
    assert lines["Ketamine-like (3/3)"].get_ydata()[-1] == pytest.approx(100.0)
    assert dict(zip(ssri.get_xdata()[1:], ssri.get_ydata()[1:]))[10.0] == pytest.approx(100 / 3)


# -- dose response ------------------------------------------------------------------------------


def dose_sweep(configs, folder: Path, epochs=(5, 10)) -> Path:
    """Sparsity x the treatments' training epochs (a phase-1 key for ketamine, phase 0 for SSRI)."""
    for s in (0.9, 0.95):
        for e in epochs:
            for seed in (0, 1):
                def edit(c, s=s, e=e):
                    c["pathology"]["sparsity"] = s
                    for ph in c["treatment"]["phases"]:
                        if ph["kind"] == "train":
                            ph["epochs"] = e
                for t, level in (("ketamine", 90.0), ("ssri", 60.0)):
                    v = level - 100 * (s - 0.9) + e + seed
                    write(folder / f"{t}{s}{e}{seed}.json", result(configs, seed, t, treated=ev(v), edit=edit,
                                                                   drop=2.0 + seed))
    return folder


def test_phase_keys_of_one_knob_are_one_dose_axis(configs, tmp_path):
    """Ketamine's phase 1 and the SSRI-like phase 0 take treatment.epochs: one column under that name."""
    from pruning_lab.analysis.dose import dose_axes
    rs = read_results(dose_sweep(configs, tmp_path))
    assert set(rs.axes) == {"pathology.sparsity", "treatment.epochs"}
    assert not [c for c in rs.tidy.columns if ".phases." in c]
    axes, notes = dose_axes(rs)
    assert {a.name: a.levels for a in axes} == {"pathology.sparsity": [0.9, 0.95], "treatment.epochs": [5.0, 10.0]}
    assert notes == []


def test_an_axis_with_a_single_value_gets_a_note_not_a_curve(configs, tmp_path):
    dose_sweep(configs, tmp_path / "sweep", epochs=(5,))
    (tmp_path / "sweep" / "multirun.yaml").write_text(
        "hydra:\n  overrides:\n    task: []\n  sweeper:\n    params:\n      treatment: ketamine,ssri\n"
        "      seed: range(2)\n      pathology.sparsity: 0.9,0.95\n      treatment.epochs: '5'\n")
    report = build(read_results(tmp_path / "sweep"), tmp_path / "out", figures=False).read_text()
    assert "- `treatment.epochs` was swept over a single value (5): no dose curve." in report
    assert "`pathology.sparsity` (2 values, 0.9–0.95)" in report


def test_dose_figure_has_a_line_per_treatment_at_the_mean_of_its_seeds(configs, tmp_path):
    from pruning_lab.analysis.arms import layout
    from pruning_lab.analysis.dose import dose_axes
    from pruning_lab.analysis.figures import dose_figures
    rs = read_results(dose_sweep(configs, tmp_path))
    axes, _ = dose_axes(rs)
    made = dose_figures(arms(rs), layout(rs), 1, axes)
    drawn = {name: fig for name, fig, _ in made}
    stems = sorted(drawn)
    assert stems == ["dose_pathology.sparsity_epochs=10", "dose_pathology.sparsity_epochs=5",
                     "dose_treatment.epochs_sparsity=0.9", "dose_treatment.epochs_sparsity=0.95",
                     "phase_pathology.sparsity_treatment.epochs"]
    combined, extreme, drop = drawn["dose_pathology.sparsity_epochs=10"].axes
    lines = _lines(combined)
    assert set(lines) == {"Untreated (pruned)", "Ketamine-like", "SSRI-like"}
    ket = lines["Ketamine-like"]
    assert list(ket.get_xdata()) == [0.9, 0.95]
    assert list(ket.get_ydata()) == pytest.approx([100.5, 95.5])    # 90 - 100 (s - 0.9) + 10 + mean seed 0.5
    assert len(combined.collections) == 6                          # a band and the seeds' dots per arm
    assert list(_lines(drop)) == [] and len(drop.get_lines()) == 2   # no untreated relapse drop
    assert drop.get_lines()[0].get_ydata() == pytest.approx([2.5, 2.5])
    # the epochs axis: the untreated network does not depend on it
    assert set(_lines(drawn["dose_treatment.epochs_sparsity=0.9"].axes[0])) == {"Ketamine-like", "SSRI-like"}
    phase = drawn["phase_pathology.sparsity_treatment.epochs"]
    panels = {ax.get_title(loc="left"): ax for ax in phase.axes if ax.get_images()}
    assert set(panels) == {"Ketamine-like", "SSRI-like"}     # the untreated network has no epochs
    grid = panels["SSRI-like"].get_images()[0].get_array()
    assert np.asarray(grid).ravel().tolist() == pytest.approx([65.5, 60.5, 70.5, 65.5])  # rows: epochs 5, 10


def test_profile_longitudinal_and_state_figures_hold_their_series(configs, tmp_path):
    from pruning_lab.analysis.arms import layout
    from pruning_lab.analysis.figures import longitudinal, profile, state_dependence
    courses = {0: [97.0, 85.0, 79.0], 1: [97.0, 90.0, 88.0], 2: [97.0, 96.0, 95.0]}
    for seed, course in courses.items():
        for t in ("ketamine", "ssri", "neurosteroid"):
            write(tmp_path / f"{t}{seed}.json", result(configs, seed, t, treated=ev(90.0 + seed), course=course,
                                                       off=ev(60.0) if t == "neurosteroid" else None))
    rs = read_results(tmp_path)
    frame, lay = arms(rs), layout(rs)

    ax = profile(frame, lay, 1).axes[0]
    lines = _lines(ax)
    assert set(lines) == {"Untreated (pruned)", "Ketamine-like", "SSRI-like", "Neurosteroid-like",
                          "Neurosteroid-like (off drug)"}
    assert list(lines["SSRI-like"].get_xdata()) == [0.0, 0.5, 1.0, 1.5, 2.5]
    assert list(lines["SSRI-like"].get_ydata()) == pytest.approx([91.0] * 5)
    assert list(lines["Neurosteroid-like (off drug)"].get_ydata()) == pytest.approx([60.0] * 5)
    assert list(lines["Untreated (pruned)"].get_ydata()) == pytest.approx([31.0] * 5)   # 30 + seed, mean

    panels = longitudinal(frame, lay, 1, 80.0).axes
    assert [a.get_title(loc="left") for a in panels] == [f"{n}: n = 3 seeds, 1 relapsed"
                                                         for n in ("Ketamine-like", "SSRI-like", "Neurosteroid-like")]
    for a in panels:
        ys = [list(ln.get_ydata()) for ln in a.get_lines()]
        assert [80.0, 80.0] in ys                                         # the relapse threshold
        assert pytest.approx(np.mean(list(courses.values()), axis=0).tolist()) in ys   # the mean course
        assert sum(ln.get_linewidth() == 0.5 for ln in a.get_lines()) == 3            # a line per seed

    ax = state_dependence(frame, lay, 1).axes[0]
    assert ax.get_title(loc="left") == "Neurosteroid-like (n = 3 seeds)"
    from matplotlib.container import BarContainer
    heights = [p.get_height() for c in ax.containers if isinstance(c, BarContainer) for p in c.patches]
    assert heights == pytest.approx([91.0] * 4 + [60.0] * 4)              # on drug, then off, 4 measures


def test_a_result_from_before_a_key_was_added_reads_as_its_old_value(configs, tmp_path):  # noqa: F811
    """A result stored before ``rng`` existed ran with the named streams (its hash is the one such a
    job still has): read beside results that record ``rng: named`` it is the same condition, no axis."""
    for seed in (0, 1):
        def older(config):
            config.pop("rng", None)
        write(tmp_path / f"old{seed}.json", result(configs, seed, edit=older))
        write(tmp_path / f"new{seed}.json", result(configs, seed + 2, edit=lambda c: c.update(rng="named")))
    rs = read_results(tmp_path)
    assert len(rs.runs) == 4 and "rng" not in rs.axes
    assert {f.get("rng") for f in rs.flat.values()} == {"named"}
