"""The report of any sweep: a study or a reproduction, knobs by name, the verdict, fits, the best arm."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st
from scipy.special import expit

import pruning_lab
from pruning_lab.analysis import published as pub
from pruning_lab.analysis import stats, study
from pruning_lab.analysis.legacy import knob_map
from pruning_lab.analysis.load import load_results, read_results
from pruning_lab.analysis.sections import report

from .test_aggregate import ROOT, configs, ev, result, write  # noqa: F401  (configs: a fixture)

def damping(v):
    return lambda c: c["treatment"]["phases"][0].__setitem__("damping", v)


def test_the_published_protocol_is_composed_again_once_conf_changes(tmp_path, monkeypatch):
    """The paper's configs are kept between reports, but not past an edit of conf/."""
    import shutil

    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    monkeypatch.setattr(pub, "CONF", conf)
    first = pub.reference_configs(2, ("ssri",))
    first["ssri"]["longitudinal.cycles"] = -1  # the caller's copy: the kept answer is not changed
    assert pub.reference_configs(2, ("ssri",))["ssri"]["longitudinal.cycles"] == 8
    course = conf / "longitudinal" / "paper2.yaml"
    course.write_text(course.read_text().replace("cycles: 8", "cycles: 12"))
    assert pub.reference_configs(2, ("ssri",))["ssri"]["longitudinal.cycles"] == 12


# -- one name per knob ----------------------------------------------------------------------------


def test_a_result_s_knobs_name_its_columns_everywhere(configs, tmp_path):
    """Knobs recorded as typed replace the phase keys they feed: in load_results, tidy.csv, the
    report's tables and its protocol check."""
    for seed in range(2):
        for v in (0.6, 0.7):
            r = result(configs, seed, "neurosteroid", edit=damping(v), treated=ev(80.0 + 10 * v))
            write(tmp_path / "sweep" / f"n{v}_{seed}" / "result.json", r)
    frame = load_results(tmp_path / "sweep")
    assert "treatment.damping" in frame and not [c for c in frame.columns if "phases" in c]
    treated = frame[(frame.section == "treated") & (frame.metric == "combined")]
    assert treated.groupby("treatment.damping")["value"].mean().to_dict() == pytest.approx({0.6: 86.0, 0.7: 87.0})

    rep = report(frame, figures=False)
    rep.save(tmp_path / "out")
    assert "treatment.damping" in pd.read_csv(tmp_path / "out" / "tidy.csv").columns
    md = (tmp_path / "out" / "report.md").read_text()
    assert "phases" not in md
    assert "Neurosteroid-like (damping=0.6)" in rep.tables["efficacy"]["Treatment"].tolist()
    # the study departs from paper 2 in its damping only, on the runs at 0.6
    proto = rep_protocol(md)
    assert proto == [["neurosteroid", "treatment.damping", "0.6", "0.7", "2"]]


def rep_protocol(md: str) -> list[list[str]]:
    """The rows of the report's protocol-check table."""
    part = md.split("## Departures from the published protocol", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in part.splitlines() if line.startswith("|") and "config key" not in line
            and not line.startswith("|:")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in rows]


def test_a_knob_feeding_two_phases_of_other_names_keeps_each_its_own():
    """Schema 1's reader: the bridge's phase 1 epochs are bridge_epochs, its phase 3 epochs are
    epochs: the YAML says which, the keys' names alone would not."""
    m = knob_map("neurosteroid_bridge_ssri")
    assert m["treatment.phases.1.epochs"] == "treatment.bridge_epochs"
    assert m["treatment.phases.3.epochs"] == "treatment.epochs"
    assert m["treatment.maintenance.0.noise_end"] == "treatment.noise_end"
    # random_regrowth is ketamine's file with its own score: its knobs come through the defaults list
    assert knob_map("random_regrowth")["treatment.phases.0.batches"] == "treatment.score_batches"


def test_a_treatment_yaml_written_after_a_first_read_is_read_again(tmp_path):
    (tmp_path / "treatment").mkdir()
    assert knob_map("mine", tmp_path) is None
    (tmp_path / "treatment" / "mine.yaml").write_text(
        "name: mine\nsteps: 3\nphases:\n  - {kind: train, epochs: \"${treatment.steps}\", lr: 0.1}\nmaintenance: []\n")
    assert knob_map("mine", tmp_path) == {"treatment.phases.0.epochs": "treatment.steps"}


# -- a study report or a reproduction ---------------------------------------------------------------


def custom_study(configs, folder, paper_protocol=False):
    """A study of its own: a smaller network, fewer baseline epochs, 2 cycles, a custom treatment
    beside ketamine at two doses (unless ``paper_protocol``: paper 2's preset, 3 seeds)."""
    def edit(e):
        def f(c):
            if not paper_protocol:
                c["model"]["hidden"] = [64, 64]
                c["baseline"]["epochs"] = 3
                c["longitudinal"]["cycles"] = 2
                c["treatment"]["phases"][1]["epochs"] = e
        return f
    for seed in range(3):
        course = [97.0, 95.0, 90.0] if not paper_protocol else [97.0 - c for c in range(9)]
        for e in ((5, 15) if not paper_protocol else (15,)):
            write(folder / f"k{e}_{seed}" / "result.json",
                  result(configs, seed, "ketamine", edit=edit(e), treated=ev(90.0 + e / 5 + seed), course=course))
        write(folder / f"h{seed}" / "result.json",
              result(configs, seed, "half_ketamine", edit=edit(15), treated=ev(80.0 + seed), course=course))
    return folder


def test_a_study_of_its_own_gets_a_study_report_naming_every_departure(configs, tmp_path):
    rep = report(read_results(custom_study(configs, tmp_path / "sweep")), figures=False)
    md = rep.markdown()
    assert rep.title == "Study report: Ketamine-like, Half_Ketamine regimen across treatment.epochs"
    assert "Reproduction verdict" not in md and "Published values beside ours" not in md
    assert "comparison" not in rep.frames and "not in this sweep" not in md
    proto = {(r[0], r[1]): r[2:] for r in rep_protocol(md)}
    assert proto == {
        ("half_ketamine", "treatment"): ["half_ketamine", "not in paper 2", "3"],
        ("every treatment", "baseline.epochs"): ["3", "20", "9"],
        ("every treatment", "longitudinal.cycles"): ["2", "8", "9"],
        ("every treatment", "model.hidden"): ["[64, 64]", "[512, 512, 256]", "9"],
        ("ketamine", "treatment.epochs"): ["5", "15", "3"],
    }


def test_asked_for_a_paper_a_study_is_compared_and_flagged(configs, tmp_path):
    rep = report(read_results(custom_study(configs, tmp_path / "sweep")), paper=2, figures=False)
    md = rep.markdown()
    assert rep.title == "Paper 2 reproduction report"
    assert "## Reproduction verdict" in md and "**These runs depart from the paper-2 protocol**" in md
    assert "| — (0)" not in md      # a published value this sweep lacks gets no row


def test_a_paper_protocol_sweep_is_a_reproduction_without_asking(configs, tmp_path):
    rep = report(read_results(custom_study(configs, tmp_path / "sweep", paper_protocol=True)), figures=False)
    assert rep.title == "Paper 2 reproduction report"
    # half_ketamine is named, and the paper's own arms are compared
    assert rep_protocol(rep.markdown().replace("## Protocol check against paper 2", "## Departures from the "
                                                                                    "published protocol")) == [
        ["half_ketamine", "treatment", "half_ketamine", "not in paper 2", "3"]]
    comp = rep.frames["comparison"]
    row = comp[(comp.table == "Table 1") & (comp.row == "Ketamine-like") & (comp.column == "Combined Stress (%)")]
    assert row["ours"].item() == pytest.approx(94.0) and row["ours_n"].item() == 3


def test_report_takes_a_frame_a_path_or_a_filtered_frame(configs, tmp_path):
    sweep = custom_study(configs, tmp_path / "sweep")
    frame = load_results(sweep)
    by_path = report(sweep, figures=False)
    by_frame = report(frame, figures=False)
    assert by_frame.tables["efficacy"].equals(by_path.tables["efficacy"])
    only = report(frame[frame["treatment"] == "ketamine"], figures=False)
    assert set(only.frames["tidy"]["treatment"]) == {"ketamine"}
    assert only.title == "Study report: Ketamine-like across treatment.epochs"


def test_the_report_shows_inline_and_saves_md_html_tables_and_figures(configs, tmp_path):
    rep = pruning_lab.report(custom_study(configs, tmp_path / "sweep"))
    assert set(rep.figures) >= {"profile", "longitudinal", "dose_treatment.epochs"}
    from matplotlib.figure import Figure
    assert all(isinstance(f, Figure) for f in rep.figures.values())
    assert all(isinstance(t, pd.DataFrame) for t in rep.tables.values())
    html = rep._repr_html_()
    assert html.count("<img") == len(rep.figures) and 'id="table-efficacy"' in html
    assert html.count("data:image/png;base64,") == len(rep.figures)
    assert rep._repr_markdown_().count("](data:image/png;base64,") == len(rep.figures)
    path = rep.save(tmp_path / "out")
    assert path == tmp_path / "out" / "report.md"
    for name in rep.figures:
        assert (tmp_path / "out" / "figures" / f"{name}.png").stat().st_size > 0
        assert f"](figures/{name}.png)" in path.read_text()
    for name in rep.tables:
        assert (tmp_path / "out" / "tables" / f"{name}.csv").is_file()
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count("<img") == page.count('src="data:image/png;base64,') == len(rep.figures)


def test_the_page_renders_the_markdown_and_shows_raw_html_as_text():
    """A label or a file name with HTML in it is shown, not run; the report's own Markdown is rendered."""
    from pruning_lab.analysis.document import Report

    rep = Report("Study of <b>mine</b>")
    rep.heading("Data quality")
    rep.text("**2 file(s) skipped**: `bad<1>.json` <script>alert(1)</script>")
    rep.bullets(["first", ("second", ["_nested_ <i>x</i>"])])
    rep.frame(pd.DataFrame({"Differs": ["**yes**"], "p": ["<0.001"]}))
    page = rep.html()
    assert "<script>" not in page and "<b>mine" not in page and "<i>x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<title>Study of &lt;b&gt;mine&lt;/b&gt;</title>" in page
    assert "<p><strong>2 file(s) skipped</strong>: <code>bad&lt;1&gt;.json</code>" in page
    assert '<h2 id="data-quality">Data quality</h2>' in page
    assert "<li>second<ul><li><em>nested</em> &lt;i&gt;x&lt;/i&gt;</li></ul></li>" in page
    assert "<td><strong>yes</strong></td><td>&lt;0.001</td>" in page
    # report.md is the Markdown as written, one blank line after each block
    assert rep.markdown() == ("# Study of <b>mine</b>\n\n## Data quality\n\n**2 file(s) skipped**: `bad<1>.json` "
                              "<script>alert(1)</script>\n\n- first\n- second\n  - _nested_ <i>x</i>\n\n"
                              "| Differs   | p      |\n|:----------|:-------|\n| **yes**   | <0.001 |\n")


# -- the reproduction verdict -------------------------------------------------------------------------


def one(value, sd, n=10, **kw):
    return {"table": "T", "row": "r", "column": "c", "arm": "ssri", "section": "treated", "metric": "combined",
            "x": math.nan, "stat": "mean", "value": value, "sd": sd, "n": n, "note": "", **kw}


def ours(mean, sd, n=10, **kw):
    return {"arm": "ssri", "section": "treated", "metric": "combined", "x": math.nan, "n": n, "mean": mean,
            "sd": sd, "sd_sample": sd, "min": mean, "max": mean, "n_true": 0, **kw}


def test_the_p_value_is_welch_s_t_test_with_the_published_population_sd():
    rng = np.random.default_rng(3)
    a, b = rng.normal(88, 5, 10), rng.normal(81, 9, 10)
    # the paper printed b's mean and its population SD (ddof = 0)
    row = pub.compare(pd.DataFrame([one(b.mean(), b.std(ddof=0))]),
                      pd.DataFrame([ours(a.mean(), a.std(ddof=1))])).iloc[0]
    # less the 0.05 of the paper's rounding, read in its favour
    want = st.ttest_ind(a - 0.05, b, equal_var=False).pvalue
    assert row["p"] == pytest.approx(want, rel=1e-9)
    assert row["test"] == "Welch's t"


def test_holm_over_every_value_and_the_count_that_differ():
    published = pd.DataFrame([one(80.0, 5.0, row="a"), one(80.0, 5.0, row="b", arm="ketamine"),
                              one(80.0, 5.0, row="c", arm="neurosteroid")])
    summary = pd.DataFrame([ours(88.0, 5.0), ours(81.0, 5.0, arm="ketamine"), ours(85.4, 5.0, arm="neurosteroid")])
    comp = pub.compare(published, summary)
    assert comp["p_holm"].tolist() == pytest.approx(stats.holm(comp["p"].to_numpy()).tolist())
    assert comp["differs"].tolist() == [True, False, False]
    # 85.4 vs 80: p < 0.05 alone, not after Holm over three
    assert comp.loc[2, "p"] < 0.05 < comp.loc[2, "p_holm"]


def test_seed_counts_are_tested_with_fisher_s_exact_test():
    published = pd.DataFrame([one(4, math.nan, stat="n_true", section="longitudinal", metric="relapsed", x=8.0)])
    summary = pd.DataFrame([ours(0.1, 0.3, section="longitudinal", metric="relapsed", x=8.0, n_true=1)])
    row = pub.compare(published, summary).iloc[0]
    assert row["ours"] == 1 and row["test"] == "Fisher's exact"
    assert row["p"] == pytest.approx(st.fisher_exact([[1, 9], [4, 6]]).pvalue)
    assert bool(row["within"]) and not row["differs"]


def test_the_chance_of_a_2_se_miss():
    row = pub.compare(pd.DataFrame([one(80.0, 6.0)]), pd.DataFrame([ours(80.0, 4.0)])).iloc[0]
    s_pub = 6.0 * math.sqrt(10 / 9)
    se = math.sqrt(4.0 ** 2 / 10 + s_pub ** 2 / 10)
    df = (4.0 ** 2 / 10 + s_pub ** 2 / 10) ** 2 / ((4.0 ** 2 / 10) ** 2 / 9 + (s_pub ** 2 / 10) ** 2 / 9)
    assert row["p_outside"] == pytest.approx(2 * st.t.sf((2 * se + 0.05) / se, df))
    assert 0.045 < row["p_outside"] < 0.07        # about 5%: a t with ~17 df beyond 2 SE
    # two counts of seeds at one rate, every outcome enumerated; checked against a simulation
    p = stats.count_chance_outside(2, 10, 3, 10)
    rng = np.random.default_rng(0)
    ka, kb = rng.binomial(10, 0.25, 200_000), rng.binomial(10, 0.25, 200_000)
    se_k = np.sqrt(ka / 10 * (1 - ka / 10) / 10 + kb / 10 * (1 - kb / 10) / 10)
    assert p == pytest.approx(np.mean(np.abs(ka - kb) > 2 * se_k * 10 + 1e-9), abs=0.003)
    assert stats.count_chance_outside(0, 10, 0, 10) == 0.0


def test_the_expected_number_of_misses_and_its_range():
    expected, lo, hi = stats.misses_by_chance([0.05] * 83)
    assert expected == pytest.approx(4.15)
    assert (lo, hi) == (st.binom.ppf(0.025, 83, 0.05), st.binom.ppf(0.975, 83, 0.05))
    assert stats.misses_by_chance([0.5, 0.5, math.nan]) == (1.0, 0, 2)


def test_the_verdict_counts_the_primary_values_by_arm(tmp_path):
    """Paper 2's published values as ours, the SSRI-like arm's accuracies 30 pp higher: only they differ."""
    from pruning_lab.analysis import verdict

    published = verdict.published_with_margins(2, ROOT / "experiments")
    means = published[published["stat"] == "mean"].copy()
    summary = pd.DataFrame({"arm": means["arm"], "section": means["section"], "metric": means["metric"],
                            "x": means["x"], "n": 10, "mean": means["value"], "min": 0.0, "max": 0.0, "n_true": 0,
                            "sd_sample": [s * math.sqrt(10 / 9) if not math.isnan(s) else 1.0 for s in means["sd"]]})
    summary["sd"] = summary["sd_sample"]
    shifted = summary["arm"].eq("ssri") & summary["metric"].isin(["combined", "profile", "final"])
    summary.loc[shifted, "mean"] += 30
    from pruning_lab.analysis.arms import Layout
    from pruning_lab.analysis.document import Report

    judged = verdict.judge(pub.compare(published, summary), published)
    rep = Report("t")
    verdict.section(rep, judged, 2, None, Layout(labels={"ketamine": "Ketamine-like", "ssri": "SSRI-like"}))
    md = rep.markdown()
    c = verdict.counts(judged)
    missing = 64 - sum(c.values())   # the ranges and counts of seeds: not in this summary of means
    assert (f"**Of paper 2's 64 primary published values: {c['equivalent']} equivalent, {c['different']} different, "
            f"{c['inconclusive']} inconclusive, {missing} not in this sweep.**") in md
    by_arm = [b.frame for b in rep.blocks if b.kind == "frame"][0].set_index("Arm")
    primary_shifted = int((shifted.to_numpy() & judged.loc[means.index, "primary"].to_numpy()).sum())
    assert by_arm.loc["SSRI-like", "Different"] == str(primary_shifted) == str(c["different"])
    assert by_arm.loc["Ketamine-like", "Different"] == "0" and by_arm.loc["Untreated (pruned)", "Different"] == "0"
    # the published values as ours, with their own SDs: within any margin
    assert by_arm.loc["Ketamine-like", "Inconclusive"] == "0"


# -- dose-response fits ---------------------------------------------------------------------------


def logistic_sweep(doses, seeds=8, low=95.0, high=30.0, x50=0.9, k=60.0, noise=1.5, seed=1):
    rng = np.random.default_rng(seed)
    rows = [(d, s, low + (high - low) * expit(k * (d - x50)) + rng.normal(0, noise))
            for s in range(seeds) for d in doses]
    return map(list, zip(*rows))


def test_a_4_parameter_logistic_recovers_its_half_effect_dose():
    doses = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99]
    d, s, y = logistic_sweep(doses)
    fit = study.fit_dose_response(d, s, y, resamples=300)
    assert fit["ok"] and not fit["log"]
    assert fit["x50"] == pytest.approx(0.9, abs=0.01)
    assert fit["low"] == pytest.approx(95.0, abs=1.5) and fit["high"] == pytest.approx(30.0, abs=1.5)
    assert fit["x50_lo"] < 0.9 < fit["x50_hi"] and fit["x50_hi"] - fit["x50_lo"] < 0.03
    assert fit["resamples"] == 300


def test_doses_over_decades_are_fitted_on_a_log_scale():
    doses = [1, 2, 5, 10, 20, 50, 100]
    d, s, y = logistic_sweep(np.log10(doses), low=30.0, high=95.0, x50=np.log10(20), k=6.0)
    fit = study.fit_dose_response(np.repeat([doses], 8, axis=0).ravel(), s, y, resamples=200)
    assert fit["log"] and fit["x50"] == pytest.approx(20, rel=0.1)


def test_no_fit_below_4_doses_and_no_half_effect_dose_without_an_effect():
    d, s, y = logistic_sweep([0.5, 0.7, 0.9])
    assert study.fit_dose_response(d, s, y)["note"] == "fewer than 4 doses"
    d, s, y = logistic_sweep([0.5, 0.6, 0.7, 0.8, 0.9], low=90.0, high=90.0)
    flat = study.fit_dose_response(d, s, y, resamples=50)
    assert math.isnan(flat["x50"]) and flat["note"].startswith("no effect")


def test_the_resampled_seeds_keep_their_whole_curve():
    """Seeds that differ by a constant: resampling seeds (not points) leaves the half-effect dose alone."""
    doses = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99]
    d, s, y = logistic_sweep(doses, seeds=6, noise=0.0)
    y = [v + 3.0 * seed for v, seed in zip(y, s)]         # a seed effect, nothing else
    fit = study.fit_dose_response(d, s, y, resamples=200)
    assert fit["x50_hi"] - fit["x50_lo"] < 1e-3


def test_a_study_report_fits_every_arm_of_an_axis_with_4_values(configs, tmp_path):
    for seed in range(4):
        for sp in (0.5, 0.7, 0.9, 0.95, 0.99):
            def edit(c, sp=sp):
                c["pathology"]["sparsity"] = sp
            v = 30 + 65 * expit(-60 * (sp - 0.9)) + seed * 0.3
            write(tmp_path / f"k{sp}_{seed}.json", result(configs, seed, "ketamine", edit=edit, treated=ev(v),
                                                          untreated=ev(25.0 + seed)))
    rep = report(read_results(tmp_path), figures=True)
    fits = rep.tables["dose_fits"].set_index(["Treatment", "Measure"])
    half = fits.loc[("Ketamine-like", "Combined stress (%)"), "Half-effect dose [95% CI]"]
    assert half.startswith("0.9")
    assert fits.loc[("Untreated (pruned)", "Combined stress (%)"), "Note"].startswith("no effect")
    axis = rep.tables["axis_pathology.sparsity"]
    assert axis[(axis["pathology.sparsity"] == "0.95") & (axis["Treatment"] == "Ketamine-like")]["n"].item() == "4"
    # the fitted curve is drawn over the means
    fitted = [ln for ln in rep.figures["dose_pathology.sparsity"].axes[0].get_lines() if ln.get_linewidth() == 0.7]
    ket = [ln for ln in fitted if ln.get_color() == "#0072B2"]
    assert len(ket) == 1 and ket[0].get_ydata()[0] == pytest.approx(95.0, abs=1.0)
    assert ket[0].get_ydata()[-1] == pytest.approx(30 + 65 * expit(-60 * 0.09) + 0.45, abs=1.0)


# -- which arm is best ------------------------------------------------------------------------------


def test_the_best_arm_against_the_runner_up_paired_by_seed(configs, tmp_path):
    ket = [97.0, 96.0, 98.0, 97.5]
    neu = [96.5, 95.0, 97.6, 96.0]
    for seed in range(4):
        write(tmp_path / f"k{seed}.json", result(configs, seed, "ketamine", treated=ev(ket[seed]), drop=0.1 * seed))
        write(tmp_path / f"n{seed}.json", result(configs, seed, "neurosteroid", treated=ev(neu[seed]), drop=5.0))
        write(tmp_path / f"s{seed}.json", result(configs, seed, "ssri", treated=ev(80.0 + seed), drop=9.0))
    t = report(read_results(tmp_path), figures=False)._tables["best_arm"].cells.set_index("measure")
    comb = t.loc["Combined stress (%)"]
    assert (comb["best"], comb["runner_up"]) == ("Ketamine-like", "Neurosteroid-like")
    d = np.array(ket) - np.array(neu)
    assert comb["diff"] == pytest.approx(d.mean()) and comb["wins"] == 4
    assert comb["p"] == pytest.approx(st.ttest_rel(ket, neu).pvalue)
    drop = t.loc["Acute relapse drop (pp)"]            # lower is better
    assert (drop["best"], drop["runner_up"]) == ("Ketamine-like", "Neurosteroid-like")
    assert t["p_holm"].tolist() == pytest.approx(stats.holm(t["p"].to_numpy()).tolist())
