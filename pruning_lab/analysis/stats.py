"""Every statistic of the analysis: summaries, the Bayes ceiling, pairwise treatment comparisons,
and the tests of a published value (mean, SD and n, or a count of seeds) against ours.

The treatments of a seed share its pruned baseline and evaluation noise, so two treatments are
compared paired by seed (paired t-test, Wilcoxon signed-rank, Cohen's d_z); a pair whose seeds
differ falls back to the unpaired tests (Welch, Mann-Whitney U, Hedges' g).

Everything is a plain function of arrays or frames, so a reviewer can recompute any number.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats as st
from scipy.special import ndtr

ALPHA = 0.05  # the level of every test's verdict


def summary_frame(frame: pd.DataFrame, by: list[str], ddof: int = 1) -> pd.DataFrame:
    """n, mean, sd (``ddof``), sample sd, standard error, min, max and count of ones per group."""
    g = frame.groupby(by, dropna=False, sort=False)["value"]
    out = g.agg(n="count", mean="mean", min="min", max="max", n_true="sum").reset_index()
    sd_sample = g.std(ddof=1).to_numpy()
    out["sd_sample"] = sd_sample
    out["sd"] = sd_sample if ddof == 1 else g.std(ddof=ddof).to_numpy()
    out.loc[out["n"] == 1, "sd"] = np.nan if ddof == 1 else 0.0
    out["se"] = out["sd_sample"] / np.sqrt(out["n"])
    return out


# -- the Bayes-optimal ceiling ---------------------------------------------------------------


def quadrant_ceiling(half_distance: float, r: float) -> float:
    """Bayes accuracy (%) for four equiprobable isotropic Gaussians at (+-a, +-a) with per-axis SD r.

    The Bayes rule picks the quadrant; the axes are independent, so accuracy = Phi(a/r)^2,
    i.e. (1 - Phi(-a/r))^2. r = 0 means points on the centres: 100%.
    """
    if r <= 0:
        return 100.0
    return 100.0 * float(ndtr(half_distance / r)) ** 2


def quadrant_half_distance(centres) -> float | None:
    """``a`` if the centres are the four sign combinations of (a, a), else None."""
    pts = {(float(x), float(y)) for x, y in centres}
    if len(pts) != 4:
        return None
    a = abs(next(iter(pts))[0])
    return a if a > 0 and pts == {(sx * a, sy * a) for sx in (-1, 1) for sy in (-1, 1)} else None


def ceilings(config: dict) -> list[dict]:
    """The analytic ceiling of each test condition of one resolved config."""
    data, stress = config["data"], config["stress"]
    a = quadrant_half_distance(data["centres"])
    s, inp = float(data["spread"]), float(stress["input_sigma"])
    conditions = [
        ("clean", "clean test set (points on the centres)", 0.0, "r = 0"),
        ("standard", "standard test set", s, f"r = spread = {s:g}"),
        ("combined", "combined stress (input + internal noise)", math.hypot(s, inp),
         f"r = sqrt({s:g}^2 + {inp:g}^2) = {math.hypot(s, inp):.4f}; internal noise ignored (see note)"),
    ]
    out = []
    for metric, what, r, how in conditions:
        ceiling = quadrant_ceiling(a, r) if a is not None else math.nan
        out.append({"metric": metric, "condition": what, "r": r, "how": how, "ceiling": ceiling})
    for sigma in stress["profile"]:
        out.append({"metric": f"profile {float(sigma):g}", "condition": f"internal noise sigma = {float(sigma):g}",
                    "r": s, "how": "input-level bound only (r = spread); internal noise has no closed form",
                    "ceiling": quadrant_ceiling(a, s) if a is not None else math.nan})
    return out


def binomial_se(p_percent: float, n: int) -> float:
    """Sampling SE (percentage points) of an accuracy measured on ``n`` test points."""
    p = p_percent / 100.0
    return 100.0 * math.sqrt(max(p * (1 - p), 0.0) / n) if n > 0 else math.nan


# -- pairwise comparisons --------------------------------------------------------------------


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = len(q)
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * q[order])
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def _hedges(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hedges' g of a - b along the last axis (works on bootstrap stacks)."""
    na, nb = a.shape[-1], b.shape[-1]
    pooled = np.sqrt(((na - 1) * a.var(axis=-1, ddof=1) + (nb - 1) * b.var(axis=-1, ddof=1)) / (na + nb - 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (a.mean(axis=-1) - b.mean(axis=-1)) / pooled
    d = np.where(pooled > 0, d, np.nan)
    return d * (1 - 3 / (4 * (na + nb) - 9))


def hedges_g(a, b) -> float:
    """Bias-corrected standardized mean difference of a - b; NaN when neither group varies."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        return math.nan
    return float(_hedges(a, b))


def bootstrap_ci(a, b, resamples: int = 2000, level: float = 0.95, seed: int = 0, min_n: int = 4
                 ) -> tuple[float, float]:
    """Percentile bootstrap CI of Hedges' g, each group resampled on its own (fixed seed)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    # with two or three points a group has a handful of distinct resamples: no interval to speak of
    if len(a) < min_n or len(b) < min_n:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    g = _hedges(a[rng.integers(0, len(a), (resamples, len(a)))], b[rng.integers(0, len(b), (resamples, len(b)))])
    g = g[np.isfinite(g)]
    # resamples in which neither group varies have no g; with too few left there is no interval
    if len(g) < resamples / 2:
        return math.nan, math.nan
    lo, hi = np.percentile(g, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def compare_two(a, b) -> dict:
    """Welch t-test, Mann-Whitney U (both two-sided) and Hedges' g with its bootstrap CI."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    out = {"n_a": len(a), "n_b": len(b), "mean_a": a.mean() if len(a) else math.nan,
           "mean_b": b.mean() if len(b) else math.nan, "t": math.nan, "p_t": math.nan,
           "U": math.nan, "p_U": math.nan, "g": math.nan, "g_lo": math.nan, "g_hi": math.nan}
    if len(a) < 2 or len(b) < 2:
        return out
    if a.std() > 0 or b.std() > 0:
        with near_constant():
            t = st.ttest_ind(a, b, equal_var=False)
        out["t"], out["p_t"] = float(t.statistic), float(t.pvalue)
    u = st.mannwhitneyu(a, b, alternative="two-sided")
    out["U"], out["p_U"] = float(u.statistic), float(u.pvalue)
    out["g"] = hedges_g(a, b)
    out["g_lo"], out["g_hi"] = bootstrap_ci(a, b)
    return out


@contextlib.contextmanager
def near_constant():
    """Quiet scipy's warning for samples that differ only in their last bits: the test is still
    computed, and its p-value is what the report shows."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        yield


def _dz(d: np.ndarray, axis: int = -1) -> np.ndarray:
    """Cohen's d_z: mean over SD (ddof 1) of the paired differences; NaN where they do not vary."""
    sd = d.std(axis=axis, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, d.mean(axis=axis) / np.where(sd > 0, sd, 1.0), np.nan)


def paired_bootstrap(d, statistic, resamples: int = 2000, level: float = 0.95, seed: int = 0, min_n: int = 4
                     ) -> tuple[float, float]:
    """Percentile bootstrap CI (``scipy.stats.bootstrap``, fixed seed) of ``statistic`` of the
    per-seed differences ``d``; NaN with fewer than ``min_n`` seeds or when ``d`` does not vary."""
    d = np.asarray(d, float)
    if len(d) < min_n or np.ptp(d) == 0:
        return math.nan, math.nan
    with warnings.catch_warnings():
        # scipy's own interval is NaN when a resample has no d_z; the one below drops those
        warnings.simplefilter("ignore", st.DegenerateDataWarning)
        res = st.bootstrap((d,), statistic, n_resamples=resamples, confidence_level=level, method="percentile",
                           vectorized=True, axis=-1, rng=np.random.default_rng(seed))
    dist = np.asarray(res.bootstrap_distribution, float)
    # a resample of identical differences has no d_z; with too many such, there is no interval
    dist = dist[np.isfinite(dist)]
    if len(dist) < resamples / 2:
        return math.nan, math.nan
    lo, hi = np.percentile(dist, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def compare_paired(a, b) -> dict:
    """Paired t-test and Wilcoxon signed-rank test (both two-sided) of a - b, seed by seed; the
    mean paired difference and Cohen's d_z, each with its bootstrap CI."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = a - b
    out = {"n_a": len(a), "n_b": len(b), "mean_a": a.mean() if len(a) else math.nan,
           "mean_b": b.mean() if len(b) else math.nan, "diff": d.mean() if len(d) else math.nan,
           "diff_lo": math.nan, "diff_hi": math.nan, "t": math.nan, "p_t": math.nan, "W": math.nan,
           "p_W": math.nan, "dz": math.nan, "dz_lo": math.nan, "dz_hi": math.nan}
    if len(d) < 2:
        return out
    out["diff_lo"], out["diff_hi"] = paired_bootstrap(d, np.mean)
    if d.std() > 0:
        with near_constant():
            t = st.ttest_rel(a, b)
        out["t"], out["p_t"] = float(t.statistic), float(t.pvalue)
        out["dz"] = float(_dz(d))
        out["dz_lo"], out["dz_hi"] = paired_bootstrap(d, _dz)
    if (d != 0).any():
        w = st.wilcoxon(a, b, alternative="two-sided")
        out["W"], out["p_W"] = float(w.statistic), float(w.pvalue)
    return out


def pairable(a, b) -> bool:
    """Two groups of per-seed values can be paired: both indexed by the same seeds, once each."""
    return (isinstance(a, pd.Series) and isinstance(b, pd.Series) and a.index.is_unique and b.index.is_unique
            and set(a.index) == set(b.index) and len(a) >= 2)


def pairwise(values: dict[str, np.ndarray | pd.Series]) -> pd.DataFrame:
    """All pairs of groups, Holm-adjusted across the pairs (one family per call and test kind).

    Groups given as Series indexed by seed are compared paired when their seeds match
    (``design`` "paired"); otherwise, and for plain arrays, unpaired."""
    rows = []
    for x, y in combinations(values, 2):
        a, b = values[x], values[y]
        if pairable(a, b):
            rows.append({"a": x, "b": y, "design": "paired", **compare_paired(a, b.loc[a.index])})
        else:
            r = compare_two(np.asarray(a, float), np.asarray(b, float))
            rows.append({"a": x, "b": y, "design": "unpaired", **r, "diff": r["mean_a"] - r["mean_b"]})
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    for c in ("U", "p_U", "g", "g_lo", "g_hi", "W", "p_W", "dz", "dz_lo", "dz_hi", "diff_lo", "diff_hi"):
        if c not in df:
            df[c] = math.nan
    df["p_t_holm"] = holm(df["p_t"].to_numpy())
    # each pair has one rank test, signed-rank or U: one family across the pairs
    paired = (df["design"] == "paired").to_numpy()
    rank = holm(np.where(paired, df["p_W"], df["p_U"]))
    df["p_W_holm"] = np.where(paired, rank, np.nan)
    df["p_U_holm"] = np.where(paired, np.nan, rank)
    return df


# -- a published value against ours: tests from summary statistics ---------------------------


def sample_sd(sd: float, n: float) -> float:
    """The papers' population SD (ddof=0) as a sample SD (ddof=1)."""
    return sd * math.sqrt(n / (n - 1)) if n > 1 and not math.isnan(sd) else math.nan


def welch_df(s1: float, n1: int, s2: float, n2: int) -> float:
    """Welch-Satterthwaite degrees of freedom (NaN when neither side varies)."""
    v1, v2 = s1 ** 2 / n1, s2 ** 2 / n2
    if v1 + v2 == 0:
        return math.nan
    return (v1 + v2) ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1))


def welch_p(d: float, s1: float, n1: int, s2: float, n2: int, df: float | None = None) -> float:
    """Two-sided p of a difference ``d`` of two means with sample SDs and sizes: Welch's t-test, or,
    with ``df`` given (one side has a single value and borrows the other's SD), t with ``df``."""
    se = math.sqrt(s1 ** 2 / n1 + s2 ** 2 / n2)
    if se == 0:
        return 1.0 if d == 0 else 0.0
    if df is None:
        return float(st.ttest_ind_from_stats(d, s1, n1, 0.0, s2, n2, equal_var=False).pvalue)
    return float(2 * st.t.sf(abs(d) / se, df))


def chance_outside(se: float, df: float, tol: float) -> float:
    """P(|difference| > tol) when the two sides do not differ: the difference is SE times a t
    variate with ``df`` degrees of freedom (0 when neither side varies)."""
    if se == 0 or math.isnan(se) or math.isnan(tol):
        return 0.0 if se == 0 else math.nan
    return float(2 * st.t.sf(tol / se, df))


def count_se(ka: float, na: int, kb: float, nb: int) -> float:
    pa, pb = ka / na, kb / nb
    return math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)


def count_chance_outside(ka: int, na: int, kb: int, nb: int) -> float:
    """P(a 2-SE miss) for two seed counts drawn from one rate, the pooled one: every outcome enumerated."""
    p = (ka + kb) / (na + nb)
    a, b = np.arange(na + 1), np.arange(nb + 1)
    pa, pb = st.binom.pmf(a, na, p), st.binom.pmf(b, nb, p)
    total = 0.0
    for i in a:
        for j in b:
            if abs(i - j * na / nb) > 2 * count_se(i, na, j, nb) * na + 1e-9:
                total += pa[i] * pb[j]
    return float(total)


def fisher_p(k: int, n: int, kp: int, n_pub: int) -> float:
    """Two-sided p of Fisher's exact test of two counts of seeds, ``k`` of ``n`` and ``kp`` of ``n_pub``."""
    return float(st.fisher_exact([[k, n - k], [kp, n_pub - kp]]).pvalue)


def misses_by_chance(p_outside) -> tuple[float, int, int]:
    """Expected number of 2-SE misses with no true difference anywhere, and its 95% range, from the
    Poisson-binomial distribution of independent misses with probabilities ``p_outside``."""
    probs = [float(q) for q in p_outside if not math.isnan(q)]
    dist = np.array([1.0])
    for q in probs:
        dist = np.convolve(dist, [1 - q, q])
    cdf = np.cumsum(dist)
    lo = int(np.searchsorted(cdf, 0.025))
    hi = int(np.searchsorted(cdf, 0.975))
    return float(sum(probs)), lo, hi
