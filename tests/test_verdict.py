"""The reproduction verdict (equivalent / different / inconclusive, over the primary values), the
papers' claims tested on seeds, and the margins and claims files refused when they are wrong."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from pruning_lab.analysis import claims, committed, stats, verdict
from pruning_lab.analysis import published as pub
from pruning_lab.analysis.aggregate import main
from pruning_lab.analysis.arms import arms
from pruning_lab.analysis.stats import summary_frame
from pruning_lab.config import ConfigError

from .test_aggregate import ROOT, configs, ev, result, write  # noqa: F401  (configs: a fixture)
from .test_intervals import _one, _ours, judged

EXPERIMENTS = ROOT / "experiments"


def committed_verdict(paper: int, csv) -> pd.DataFrame:
    """A paper's verdict on committed per-seed values, as the report computes it."""
    frame = arms(committed.read(csv))
    summary = summary_frame(frame, ["arm", "section", "metric", "x"])
    p = verdict.published_with_margins(paper)
    return verdict.judge(pub.compare(p, summary, pub.load(2) if paper == 1 else None), p)


def test_paper_1_s_ketamine_at_sigma_0_5_is_equivalent():
    """99.9 against 99.8, judged against paper 2's between-seed SD: 0.1 pp, its 90% CI well inside ±2 pp."""
    j = committed_verdict(1, EXPERIMENTS / "paper1" / "expected.csv")
    r = j[(j.table == "Table 2") & (j.row == "Ketamine-like") & (j.column == "Moderate (σ=0.5)")].iloc[0]
    assert r["pub_value"] == 99.8 and round(r["ours"], 1) == 99.9
    assert r["verdict"] == "equivalent" and -2 < r["lo90"] < r["diff"] < r["hi90"] < 2
    assert r["basis"] == "one seed each: paper 2's between-seed SD" and r["df"] == 9
    assert verdict.counts(j) == {"equivalent": 12, "different": 0, "inconclusive": 21}


def test_paper_2_s_verdict_counts_only_primary_values():
    j = committed_verdict(2, EXPERIMENTS / "paper2" / "expected.csv")
    # the two ranges and a mean cycle from one seed have no test
    assert int(j["primary"].sum()) == 64 and j["family_size"].iloc[0] == 61
    assert verdict.counts(j) == {"equivalent": 35, "different": 0, "inconclusive": 29}
    assert j.loc[~j["primary"], "p_holm"].isna().all()
    # the SSRI-like combined stress: 88.4 against 81.3, inside neither margin nor difference
    r = j[(j.table == "Table 1") & (j.row == "SSRI-like") & (j.column == "Combined Stress (%)")].iloc[0]
    assert r["verdict"] == "inconclusive" and r["lo"] < 0 < r["hi"] and r["hi90"] > 5
    assert r["mde"] == pytest.approx(stats.detectable(r["se"], r["df"], 0.05 / 61))
    # a rerun with as many seeds a side would settle it; more of ours alone cannot (the paper's SE)
    assert math.isnan(r["seeds"]) and 10 < r["seeds_both"] < 100


def test_equivalent_different_and_inconclusive():
    rng = np.random.default_rng(2)
    base = rng.normal(0, 1, 10)
    published = [_one(80.0, 1.0, row="close"), _one(80.0, 1.0, row="far", arm="ketamine"),
                 _one(80.0, 12.0, row="noisy", arm="neurosteroid")]
    summary = [_ours(80.5 + base), _ours(95.0 + base, arm="ketamine"), _ours(86.0 + 12 * base, arm="neurosteroid")]
    j = judged(published, summary).set_index("row")
    assert j.loc["close", "verdict"] == "equivalent" and j.loc["close", "hi90"] < 5
    assert j.loc["far", "verdict"] == "different" and j.loc["far", "p_holm"] < 0.05
    assert j.loc["noisy", "verdict"] == "inconclusive" and not j.loc["noisy", "differs"]
    # the power figures of the inconclusive one: 80% power at its detectable difference and at its seeds
    r = j.loc["noisy"]
    level = 0.05 / 3
    assert stats.difference_power(r["mde"], r["se"], r["df"], level) == pytest.approx(0.8, abs=0.01)
    m = int(r["seeds_both"])
    se = lambda k: math.sqrt(r["s_ours"] ** 2 / k + r["s_pub"] ** 2 / k)  # noqa: E731
    power = [stats.tost_power(r["diff"], se(k), stats.welch_df(r["s_ours"], k, r["s_pub"], k), 5.0)
             if abs(r["diff"]) < 5 else stats.difference_power(r["diff"], se(k), stats.welch_df(
                 r["s_ours"], k, r["s_pub"], k), level) for k in (m - 1, m)]
    assert power[0] < 0.8 <= power[1]


def test_a_value_outside_the_primary_family_is_shown_but_not_counted():
    published = [_one(80.0, 1.0, row="a"), _one(80.0, 1.0, row="b", family="repeated", of="T|a|c")]
    j = judged(published, [_ours(np.linspace(79, 81, 10))]).set_index("row")
    assert j.loc["a", "family_size"] == 1 and math.isnan(j.loc["b", "p_holm"])
    assert verdict.counts(j.reset_index()) == {"equivalent": 1, "different": 0, "inconclusive": 0}
    assert "not counted" in verdict.verdict_text(j.reset_index().iloc[1].to_dict())


def test_counts_of_seeds_are_a_risk_difference_against_their_margin():
    count = dict(stat="n_true", section="longitudinal", metric="relapsed", x=8.0, margin=0.2, unit="risk difference")
    j = judged([_one(4, math.nan, **count)], [_ours([1] + [0] * 9, section="longitudinal", metric="relapsed", x=8.0,
                                                    n_true=1)]).iloc[0]
    d, lo, hi = stats.risk_difference(1, 10, 4, 10)
    assert (j["diff_share"], j["lo"], j["hi"]) == pytest.approx((d, lo, hi))
    assert j["verdict"] == "inconclusive"
    # 0 of 40 against 0 of 40: equivalent within 0.2; against a published 0 of 10 it cannot be
    many = judged([_one(0, math.nan, n=40, **count)], [_ours([0] * 40, section="longitudinal", metric="relapsed",
                                                             x=8.0, n_true=0)]).iloc[0]
    few = judged([_one(0, math.nan, **count)], [_ours([0] * 40, section="longitudinal", metric="relapsed", x=8.0,
                                                       n_true=0)]).iloc[0]
    assert many["verdict"] == "equivalent" and few["verdict"] == "inconclusive"


# -- claims ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paper2_frame():
    return arms(committed.read(EXPERIMENTS / "paper2" / "expected.csv"))


def test_paper_2_s_claims_on_its_10_seeds(paper2_frame):
    e = claims.evaluate(claims.load(EXPERIMENTS / "paper2" / "claims.csv"), paper2_frame).set_index("id")
    # regrowth's extreme-noise advantage, paired by seed
    assert e.loc["p2-02a", "effect"] == pytest.approx(37.3, abs=0.05) and e.loc["p2-02a", "verdict"] == "holds"
    # zero ketamine-like relapses: 0 of 10 cannot show a share under 0.2 (Wilson's 90% bound is 0.21)
    assert e.loc["p2-04a", "verdict"] == "not shown at this n" and e.loc["p2-04a", "hi90"] > 0.2
    # the drug alone does not restore healthy accuracy at epoch 0
    assert e.loc["p2-22a", "verdict"] == "fails" and e.loc["p2-22a", "claim_verdict"] == "fails"
    assert claims.counts(e.reset_index()) == {"holds": 14, "fails": 5, "not shown at this n": 4, "not run": 0}


def test_a_claim_on_an_arm_not_run_reads_not_run(paper2_frame):
    lines = claims.load(EXPERIMENTS / "paper2" / "claims.csv")
    e = claims.evaluate(lines, paper2_frame[paper2_frame["arm"] != "ssri"]).set_index("id")
    assert e.loc["p2-02a", "verdict"] == "not run" and e.loc["p2-02a", "why"] == "ssri not run"
    assert e.loc["p2-02b", "verdict"] == "holds" and e.loc["p2-02a", "claim_verdict"] == "not run"
    no_course = claims.evaluate(lines, paper2_frame[paper2_frame["section"] != "longitudinal"]).set_index("id")
    assert no_course.loc["p2-12a", "verdict"] == "not run"
    assert claims.effect_text(no_course.loc["p2-12a"].to_dict()).startswith("not run (no longitudinal.combined")


@pytest.mark.parametrize("relation, effect, ci95, ci90, margin, want", [
    ("greater", 10, (6, 14), (7, 13), 5, "holds"),
    ("greater", 4, (1, 7), (2, 6), 5, "not shown at this n"),     # above 0, short of the margin
    ("greater", 1, (-1, 3), (-0.5, 2.5), 5, "fails"),              # the whole CI below the margin
    ("less", -10, (-14, -6), (-13, -7), 5, "holds"),
    ("equivalent", 0.5, (-1.5, 2.5), (-1, 2), 3, "holds"),
    ("equivalent", 4.5, (3.2, 5.9), (3.4, 5.6), 5, "fails"),       # 0 excluded, 90% CI past the margin
    ("equivalent", 1, (-4, 6), (-3, 5), 3, "not shown at this n"),
    ("above", 2, (1, 3), (1.2, 2.8), math.nan, "holds"),
    ("above", -2, (-3, -1), (-2.8, -1.2), math.nan, "fails"),
    ("below", 0, (-1, 1), (-0.8, 0.8), math.nan, "not shown at this n"),
])
def test_a_claim_line_s_verdict(relation, effect, ci95, ci90, margin, want):
    r = {"effect": effect, "lo": ci95[0], "hi": ci95[1], "lo90": ci90[0], "hi90": ci90[1]}
    assert claims.verdict(relation, r, margin) == want


def test_an_sd_ratio_is_judged_on_the_log_scale():
    r = {"effect": 3.0, "lo": 1.5, "hi": 6.0, "lo90": 1.7, "hi90": 5.0}
    assert claims.verdict("greater", r, 2.0, ratio=True) == "holds"
    assert claims.verdict("less", {"effect": 1 / 3, "lo": 1 / 6, "hi": 1 / 1.5, "lo90": 0.2, "hi90": 0.6}, 2.0,
                          ratio=True) == "holds"
    assert claims.verdict("greater", {**r, "effect": 1.5, "lo": 1.1, "hi": 1.9}, 2.0, ratio=True) == "fails"


# -- bad margins and claims files -----------------------------------------------------------------


def edited(tmp_path, paper: int, name: str, line: int, old: str, new: str):
    """A copy of experiments/ with one line of ``paper<N>/<name>`` edited; that file's path."""
    root = tmp_path / "experiments"
    for p in (1, 2):
        shutil.copytree(EXPERIMENTS / f"paper{p}", root / f"paper{p}")
    path = root / f"paper{paper}" / name
    text = path.read_text().splitlines(keepends=True)
    assert old in text[line - 1], text[line - 1]
    text[line - 1] = text[line - 1].replace(old, new, 1)
    path.write_text("".join(text))
    return root, path


BAD_MARGINS = [  # (line, old, new, what the message says)
    (7, "ketamine,treated,clean", "ketamin,treated,clean", "unknown arm 'ketamin'"),
    (7, "ketamine,treated,clean", "ketamine,treated,clear", "unknown metric 'treated.clear'"),
    (7, "Table 1,Ketamine-like,Clean (%)", "Table 1,Ketamine-like,Clear (%)", "unknown table row"),
    (7, ",100.0,2,pp,", ",100.0,0,pp,", "the margin must be > 0"),
    (7, ",100.0,2,pp,", ",100.0,-2,pp,", "the margin must be > 0"),
]


@pytest.mark.parametrize("line, old, new, what", BAD_MARGINS)
def test_a_bad_margin_is_refused_naming_its_file_and_line(tmp_path, line, old, new, what):
    root, path = edited(tmp_path, 2, "margins.csv", line, old, new)
    with pytest.raises(ConfigError, match=f"^{path}:{line}: .*{what}"):
        verdict.published_with_margins(2, root)


BAD_CLAIMS = [
    (8, "ketamine,treated.profile,2.5", "ketamine_x,treated.profile,2.5", "unknown arm 'ketamine_x'"),
    (8, "ssri,treated.profile,2.5", "ssri,treated.resilience,2.5", "unknown metric 'treated.resilience'"),
    (8, "ssri,treated.profile,2.5", "ketamine,treated.profile,2.5", "both sides are ketamine treated.profile"),
    (8, ",5,pp,paired_t", ",0,pp,paired_t", "the margin must be > 0"),
    (8, "greater", "bigger", "unknown relation 'bigger'"),
]


@pytest.mark.parametrize("line, old, new, what", BAD_CLAIMS)
def test_a_bad_claim_is_refused_naming_its_file_and_line(tmp_path, line, old, new, what):
    root, path = edited(tmp_path, 2, "claims.csv", line, old, new)
    with pytest.raises(ConfigError, match=f"^{path}:{line}: .*{what}"):
        claims.load_paper(2, root)


def test_the_aggregate_command_prints_one_line_exits_2_and_writes_nothing(configs, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    for t in ("ketamine", "ssri", "neurosteroid"):
        write(sweep / f"{t}0" / "result.json", result(configs, 0, t, treated=ev(90.0)))
    root, path = edited(tmp_path, 1, "margins.csv", 8, ",100.0,2,pp,", ",100.0,0,pp,")
    out = tmp_path / "out"
    assert main([str(sweep), "--out", str(out), "--published", str(root), "--no-figures"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"pruning-lab: error: {path}:8: the margin must be > 0, got 0"]
    assert not out.exists() and not list(sweep.rglob("report.md"))
