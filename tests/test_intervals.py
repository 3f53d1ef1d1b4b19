"""Every interval the report prints, at the level it states: each against an independent
computation (scipy, or the duality of a test and its interval) at that level, so an interval
computed at 90% and labelled 95% fails here."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from pruning_lab.analysis import claims, stats, study, verdict
from pruning_lab.analysis import published as pub

RNG = np.random.default_rng(7)
A = RNG.normal(88.0, 5.0, 10)           # "ours", 10 seeds
B = RNG.normal(81.0, 9.0, 10)           # "the paper's", 10 seeds
PAIRED = A - 0.4 * (A - 88.0) - RNG.normal(3.0, 2.0, 10)   # a second arm of the same seeds


def test_the_paired_bootstrap_is_scipy_s_at_95_percent():
    d = A - PAIRED
    want = st.bootstrap((d,), np.mean, n_resamples=2000, confidence_level=0.95, method="percentile",
                        rng=np.random.default_rng(0)).confidence_interval
    assert stats.paired_bootstrap(d, np.mean) == pytest.approx((want.low, want.high), rel=1e-12)
    r = stats.compare_paired(A, PAIRED)
    assert (r["diff_lo"], r["diff_hi"]) == pytest.approx((want.low, want.high), rel=1e-12)


def test_hedges_g_s_bootstrap_interval_is_scipy_s_at_95_percent():
    want = st.bootstrap((A, B), lambda a, b, axis=-1: stats._hedges(a, b), n_resamples=2000,
                        confidence_level=0.95, method="percentile", rng=np.random.default_rng(0)).confidence_interval
    assert stats.bootstrap_ci(A, B) == pytest.approx((want.low, want.high), rel=1e-9)
    r = stats.compare_two(A, B)
    assert (r["g_lo"], r["g_hi"]) == pytest.approx((want.low, want.high), rel=1e-9)


def test_the_half_effect_dose_interval_is_scipy_s_bootstrap_of_the_seeds_at_95_percent():
    doses = [0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99]
    rng = np.random.default_rng(1)
    y = np.array([[95 - 65 / (1 + math.exp(-60 * (d - 0.9))) + rng.normal(0, 1.5) for d in doses]
                  for _ in range(8)])
    fit = study.fit_dose_response(np.tile(doses, 8), np.repeat(range(8), len(doses)), y.ravel(), resamples=200)
    assert fit["resamples"] == 200   # every refit converged, so scipy's own interval is defined

    def t50(seeds):
        p = study._fit(np.asarray(doses), y[seeds].mean(axis=0), np.full(len(doses), len(seeds)),
                       p0=[fit["low"], fit["high"], fit["t50"], fit["k"]])
        return p[2]
    want = st.bootstrap((np.arange(8),), t50, n_resamples=200, confidence_level=0.95, method="percentile",
                        vectorized=False, rng=np.random.default_rng(0)).confidence_interval
    assert (fit["x50_lo"], fit["x50_hi"]) == pytest.approx((want.low, want.high), rel=1e-9)


def _one(value, sd, n=10, **kw):
    return {"table": "T", "row": "r", "column": "c", "arm": "ssri", "section": "treated", "metric": "combined",
            "x": math.nan, "stat": "mean", "value": value, "sd": sd, "n": n, "note": "", "family": "primary",
            "of": "", "margin": 5.0, "unit": "pp", **kw}


def _ours(values, **kw):
    v = np.asarray(values, float)
    return {"arm": "ssri", "section": "treated", "metric": "combined", "x": math.nan, "n": len(v), "mean": v.mean(),
            "sd": v.std(ddof=1), "sd_sample": v.std(ddof=1), "min": v.min(), "max": v.max(), "n_true": 0, **kw}


def judged(published: list[dict], summary: list[dict]) -> pd.DataFrame:
    p = pd.DataFrame(published)
    return verdict.judge(pub.compare(p, pd.DataFrame(summary)), p)


def test_the_difference_s_95_percent_and_the_tost_s_90_percent_intervals_are_welch_s():
    """The paper prints B's mean and population SD; our 10 seeds are A."""
    r = judged([_one(B.mean(), B.std(ddof=0))], [_ours(A)]).iloc[0]
    welch = st.ttest_ind(A, B, equal_var=False)
    ci95, ci90 = welch.confidence_interval(0.95), welch.confidence_interval(0.90)
    assert (r["lo"], r["hi"]) == pytest.approx((ci95.low, ci95.high), rel=1e-9)
    assert (r["lo90"], r["hi90"]) == pytest.approx((ci90.low, ci90.high), rel=1e-9)
    # TOST: the larger p of two one-sided Welch tests against -5 and +5
    lower = st.ttest_ind(A + 5.0, B, equal_var=False, alternative="greater").pvalue
    upper = st.ttest_ind(A - 5.0, B, equal_var=False, alternative="less").pvalue
    assert r["p_tost"] == pytest.approx(max(lower, upper), rel=1e-9)
    assert r["equivalent"] == (-5 < ci90.low and ci90.high < 5)


def test_hedges_g_s_interval_inverts_the_noncentral_t_at_95_percent():
    g, lo, hi = stats.hedges_g_ci(A.mean() - B.mean(), A.std(ddof=1), 10, B.std(ddof=1), 10)
    assert g == pytest.approx(stats.hedges_g(A, B), rel=1e-12)
    t = st.ttest_ind(A, B).statistic          # pooled t, 18 df
    j, scale = 1 - 3 / (4 * 18 - 1), math.sqrt(2 / 10)
    assert st.nct.cdf(t, 18, lo / j / scale) == pytest.approx(0.975, abs=1e-8)
    assert st.nct.cdf(t, 18, hi / j / scale) == pytest.approx(0.025, abs=1e-8)
    r = judged([_one(B.mean(), B.std(ddof=0))], [_ours(A)]).iloc[0]
    assert (r["g"], r["g_lo"], r["g_hi"]) == pytest.approx((g, lo, hi))


@pytest.mark.parametrize("level", [0.95, 0.90])
def test_a_risk_difference_combines_scipy_s_wilson_intervals_at_its_level(level):
    k1, n1, k2, n2 = 1, 10, 4, 10
    l1, u1 = st.binomtest(k1, n1).proportion_ci(level, method="wilson")
    l2, u2 = st.binomtest(k2, n2).proportion_ci(level, method="wilson")
    d = k1 / n1 - k2 / n2
    want = (d - math.hypot(k1 / n1 - l1, u2 - k2 / n2), d + math.hypot(u1 - k1 / n1, k2 / n2 - l2))
    assert stats.risk_difference(k1, n1, k2, n2, level)[1:] == pytest.approx(want, rel=1e-12)
    assert stats.wilson(k1, n1, level) == pytest.approx((l1, u1), rel=1e-12)


def test_the_paired_risk_difference_is_newcombe_s_method_10_at_95_percent():
    # 10 seeds: 2 relapse under both arms, 3 under the first only, 1 under the second only, 4 under neither
    x = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], bool)
    y = np.array([1, 1, 0, 0, 0, 1, 0, 0, 0, 0], bool)
    l1, u1 = st.binomtest(5, 10).proportion_ci(0.95, method="wilson")
    l2, u2 = st.binomtest(3, 10).proportion_ci(0.95, method="wilson")
    phi = (2 * 4 - 3 * 1 - 10 / 2) / math.sqrt(5 * 5 * 3 * 7)   # ad - bc = 5 > n/2: corrected to 0
    assert phi == 0
    d = 0.5 - 0.3
    want = (d - math.hypot(0.5 - l1, u2 - 0.3), d + math.hypot(u1 - 0.5, 0.3 - l2))
    assert stats.paired_risk_difference(x, y) == pytest.approx((d, *want), rel=1e-12)
    # a negative association is not corrected, and widens the interval
    y2 = ~x
    got = stats.paired_risk_difference(x, y2)
    assert got[2] - got[1] > stats.risk_difference(5, 10, 5, 10)[2] - stats.risk_difference(5, 10, 5, 10)[1]


def test_the_sd_ratio_s_interval_is_where_pitman_morgan_s_test_is_at_5_percent():
    """At either end the variance ratio c² leaves x + c y and x - c y correlated with p = 0.05 exactly."""
    x, y = A, PAIRED
    ratio, lo, hi = stats.sd_ratio(x, y)
    assert ratio == pytest.approx(x.std(ddof=1) / y.std(ddof=1))
    for c in (lo, hi):
        assert st.pearsonr(x + c * y, x - c * y).pvalue == pytest.approx(0.05, abs=1e-9)


def test_a_claim_s_paired_and_one_sample_intervals_are_scipy_s():
    frame = pd.DataFrame([{"arm": arm, "section": "treated", "metric": "combined", "x": math.nan, "seed": s, "value": v}
                          for arm, vals in (("ketamine", A), ("ssri", PAIRED)) for s, v in enumerate(vals)])
    line = {"left_arm": "ketamine", "left_metric": "treated.combined", "left_x": "", "right_arm": "ssri",
            "right_metric": "treated.combined", "right_x": "", "stat": "mean", "relation": "greater",
            "value": "", "margin": "5", "test": "paired_t"}
    r = claims.test_line(line, frame)
    rel = st.ttest_rel(A, PAIRED)
    assert (r["lo"], r["hi"]) == pytest.approx(tuple(rel.confidence_interval(0.95)), rel=1e-12)
    assert (r["lo90"], r["hi90"]) == pytest.approx(tuple(rel.confidence_interval(0.90)), rel=1e-12)
    one = claims.test_line({**line, "right_arm": "", "right_metric": "", "value": "85", "test": "one_sample_t",
                            "relation": "above", "margin": ""}, frame)
    ci = st.ttest_1samp(A, 85.0).confidence_interval(0.95)
    assert (one["lo"], one["hi"]) == pytest.approx((ci.low - 85, ci.high - 85), rel=1e-9)
